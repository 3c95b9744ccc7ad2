#!/usr/bin/env bash
# Creates .venv with the pinned test tools (moto, checkov), every dependency pinned by
# tools/moto/constraints.txt. Idempotent: reinstalls only when the requirements, the
# constraints or the Python version changed since the last run.
set -euo pipefail
cd "$(dirname "$0")/.."
req=tools/moto/requirements.txt
constraints=tools/moto/constraints.txt
stamp=.venv/.requirements.sha256
python_version=$(python3 -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
want=$( (cat "$req" "$constraints"; echo "python $python_version") | sha256sum | cut -d' ' -f1)
if [ -x .venv/bin/python ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
# The constraints were resolved for one Python version (their first line); some pins
# (numpy, for one) have no build for older ones.
frozen_for=$(sed -n '1s/^# python: *//p' "$constraints")
pins=(-c "$constraints")
if [ "$python_version" != "$frozen_for" ]; then
  echo "bootstrap-venv: python3 is $python_version, $constraints was frozen on $frozen_for:" \
    "installing the top-level pins of $req only (dependencies may differ from CI's)" >&2
  pins=()
fi
python3 -m venv .venv
.venv/bin/pip install --quiet --disable-pip-version-check --upgrade 'pip==26.3'
.venv/bin/pip install --quiet --disable-pip-version-check -r "$req" "${pins[@]}"
echo "$want" > "$stamp"
