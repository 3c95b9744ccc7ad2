#!/usr/bin/env python3
"""Check what each use-case example (terraform/examples/*/) plans against what its README says.

Reads `terraform show -json` of each example's plan (against moto, before anything of the
example is applied) and checks the parts that tell the use cases apart: which Lambda
functions, whether Application Auto Scaling, the Spot handler's rules and hook, and the
backlog scaler's schedule are planned.

Usage: check_examples.py NAME=PLAN_JSON...
"""
import json
import sys

# Per example: resource type -> how many instances its plan creates.
EXPECTED = {
    "default": {
        "aws_lambda_function": 2,
        "aws_scheduler_schedule": 1,
        "aws_autoscaling_lifecycle_hook": 1,
        "aws_cloudwatch_event_rule": 3,
        # The backlog scaler's backstop (modules/backlog_scaler/backstop.tf): one step policy.
        "aws_appautoscaling_policy": 1,
    },
    "alarms": {
        "aws_lambda_function": 1,
        "aws_scheduler_schedule": 0,
        "aws_autoscaling_lifecycle_hook": 1,
        "aws_cloudwatch_event_rule": 3,
        "aws_appautoscaling_policy": 3,
    },
    "without-spot-handler": {
        "aws_lambda_function": 1,
        "aws_scheduler_schedule": 1,
        "aws_autoscaling_lifecycle_hook": 0,
        "aws_cloudwatch_event_rule": 0,
        "aws_appautoscaling_policy": 1,
    },
}


def main() -> int:
    failures = 0
    seen = set()
    for arg in sys.argv[1:]:
        name, path = arg.split("=", 1)
        seen.add(name)
        plan = json.load(open(path))
        created = [c for c in plan.get("resource_changes", []) if c["mode"] == "managed" and "create" in c["change"]["actions"]]
        others = [c["address"] for c in plan.get("resource_changes", []) if c["change"]["actions"] not in (["create"], ["no-op"], ["read"])]
        counts = {}
        for c in created:
            counts[c["type"]] = counts.get(c["type"], 0) + 1
        want = EXPECTED.get(name)
        if want is None:
            print(f"    FAIL examples/{name}: no expectation in check_examples.py (add what its README says it creates)")
            failures += 1
            continue
        got = {t: counts.get(t, 0) for t in want}
        ok = got == want and not others
        failures += not ok
        print(f"    {'ok  ' if ok else 'FAIL'} examples/{name}: {len(created)} resources to create; {got}" + (f" (want {want})" if got != want else "") + (f"; not a create: {others}" if others else ""))
    missing = sorted(set(EXPECTED) - seen)
    if missing:
        print(f"    FAIL examples not planned: {missing}")
        failures += 1
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
