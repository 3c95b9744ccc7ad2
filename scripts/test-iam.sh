#!/usr/bin/env bash
# The IAM proof (tools/iam/prove.py), the last part of `make test`: the policy evaluator's
# own tests, the proof over what the Rust suite recorded in moto (FACEREC_AWS_CALL_LOG)
# and the policies the moto apply rendered, then the proof's mutation tests.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
calls=${FACEREC_AWS_CALL_LOG:-$repo/.tmp/aws-calls}
policies=$repo/.tmp/iam/rendered-policies.json
py=${FACEREC_PYTHON:-$repo/.venv/bin/python}
[ -x "$py" ] || py=python3

echo "=== IAM: policy evaluator tests"
(cd "$repo" && "$py" -m unittest discover -s tools/iam -p 'test_*.py' 2>&1 | tail -3)

for f in "$calls" "$policies"; do
  [ -e "$f" ] || { echo "IAM proof: $f is missing: run make test-rust (records the calls) and make test-terraform (renders the policies) first" >&2; exit 1; }
done
echo "=== IAM: every recorded call allowed, every grant needed ($(cat "$calls"/*.jsonl | wc -l) requests recorded)"
"$py" "$repo/tools/iam/prove.py" "$calls" "$policies"
echo "=== IAM: mutations of the rendered policies must fail the proof"
"$py" "$repo/tools/iam/mutations.py" "$calls" "$policies"
