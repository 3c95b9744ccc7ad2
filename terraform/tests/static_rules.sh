#!/usr/bin/env bash
# Runs tests/static_rules.py on the real configuration (must pass), on the plan as
# written (must fail with each of the plan's defects) and on a fixture of mistakes the
# configuration could make (must fail with each), so the checker itself is tested.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
py=${FACEREC_PYTHON:-$here/../../.venv/bin/python}
"$py" "$here/static_rules.py" "$here/.."

# must_reject FIXTURE EXPECTED...: the checker fails on FIXTURE, naming every EXPECTED.
must_reject() {
  local fixture=$1 out rc e
  shift
  set +e
  out=$("$py" "$here/static_rules.py" "$here/fixtures/$fixture")
  rc=$?
  set -e
  [ $rc -ne 0 ] || { echo "static rules accepted fixtures/$fixture" >&2; exit 1; }
  for e in "$@"; do
    grep -qF "$e" <<<"$out" || { echo "static rules missed in fixtures/$fixture: $e" >&2; echo "$out" >&2; exit 1; }
  done
  echo "static rules: fixtures/$fixture is rejected for all $# defects"
}

must_reject plan-as-written \
  "requests Spot (AWS rejects this)" \
  "must ignore_changes desired_capacity" \
  "must ignore_changes desired_count" \
  "'SQSQueueMessagesVisiblePerTask' does not exist"

must_reject mistakes \
  "aws_ecs_service.with_launch_type: a launch type overrides the capacity provider strategy" \
  "aws_ecs_service.without_strategy: needs a capacity provider strategy" \
  "statement MisspelledAction: IAM action 'sqs:SendMessages' does not exist" \
  "statement KeyThatDoesNotApply: condition key 'ecs:task-definition' does not apply to ecs:UpdateTaskProtection" \
  "statement InDynamicBlock: IAM action 'autoscaling:CompleteLifecycleActions' does not exist"
