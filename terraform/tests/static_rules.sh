#!/usr/bin/env bash
# Runs tests/static_rules.py on the real configuration (must pass) and on the plan as
# written (must fail with each of the plan's defects), so the checker itself is tested.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
py=${FACEREC_PYTHON:-$here/../../.venv/bin/python}
"$py" "$here/static_rules.py" "$here/.."
set +e
out=$("$py" "$here/static_rules.py" "$here/fixtures/plan-as-written")
rc=$?
set -e
expected=(
  "requests Spot (AWS rejects this)"
  "must ignore_changes desired_capacity"
  "must ignore_changes desired_count"
  "valid only with a load balancer"
  "'SQSQueueMessagesVisiblePerTask' does not exist"
)
[ $rc -ne 0 ] || { echo "static rules accepted the plan as written" >&2; exit 1; }
for e in "${expected[@]}"; do
  grep -qF "$e" <<<"$out" || { echo "static rules missed: $e" >&2; echo "$out" >&2; exit 1; }
done
echo "static rules: the plan as written is rejected for all ${#expected[@]} defects"
