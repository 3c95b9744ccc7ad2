#!/usr/bin/env bash
# Creates .venv with the pinned test tools (moto, checkov). Idempotent: reinstalls only
# when tools/moto/requirements.txt changed since the last run.
set -euo pipefail
cd "$(dirname "$0")/.."
req=tools/moto/requirements.txt
stamp=.venv/.requirements.sha256
want=$(sha256sum "$req" | cut -d' ' -f1)
if [ -x .venv/bin/python ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
python3 -m venv .venv
.venv/bin/pip install --quiet --disable-pip-version-check --upgrade pip
.venv/bin/pip install --quiet --disable-pip-version-check -r "$req"
echo "$want" > "$stamp"
