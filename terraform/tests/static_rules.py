#!/usr/bin/env python3
"""AWS rules that neither terraform-provider-aws, `terraform test` nor moto enforce.

Each rule below is one that real AWS enforces only at apply time (or silently ignores),
that the plan broke, and that a mocked provider cannot observe: lifecycle blocks are
invisible to `terraform test`, and an unset optional-computed attribute reads as a
random value under mocks. So these are checked on the HCL itself.

Usage: static_rules.py [TERRAFORM_DIR]   (exit 1 and one line per violation)
"""
import glob
import os
import sys

import hcl2  # python-hcl2, installed with checkov in .venv

# Application Auto Scaling's predefined metric types for ECS services (the API reference
# lists these three; SQSQueueMessagesVisiblePerTask, the plan's, does not exist).
ECS_PREDEFINED_METRICS = {
    "ECSServiceAverageCPUUtilization",
    "ECSServiceAverageMemoryUtilization",
    "ALBRequestCountPerTarget",
}


def resources(root):
    for path in sorted(glob.glob(os.path.join(root, "**", "*.tf"), recursive=True)):
        if "/tests/fixtures/" in path and "/tests/fixtures/" not in root + "/":
            continue
        if "/.terraform/" in path:
            continue
        with open(path) as f:
            doc = hcl2.load(f)
        for block in doc.get("resource", []):
            for rtype, named in block.items():
                for name, body in named.items():
                    yield path, rtype, name, body


def walk(value):
    """Every dict nested anywhere in value."""
    if isinstance(value, dict):
        yield value
        for v in value.values():
            yield from walk(v)
    elif isinstance(value, list):
        for v in value:
            yield from walk(v)


def ignored(body):
    names = set()
    for lc in body.get("lifecycle", []):
        for item in lc.get("ignore_changes", []):
            for v in item if isinstance(item, list) else [item]:
                names.add(str(v).strip("${}"))
    return names


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..")
    problems = []
    res = list(resources(root))
    spot_templates = {
        name for path, rtype, name, body in res
        if rtype == "aws_launch_template" and body.get("instance_market_options")
    }
    for path, rtype, name, body in res:
        where = f"{os.path.relpath(path, root)}: {rtype}.{name}"
        if rtype == "aws_autoscaling_group":
            if body.get("mixed_instances_policy"):
                text = repr(body["mixed_instances_policy"])
                for lt in spot_templates:
                    if f"aws_launch_template.{lt}." in text:
                        problems.append(f"{where}: mixed instances policy uses launch template {lt}, which requests Spot (AWS rejects this)")
            if "desired_capacity" not in ignored(body):
                problems.append(f"{where}: must ignore_changes desired_capacity (the capacity provider owns it)")
        if rtype == "aws_ecs_service":
            if body.get("capacity_provider_strategy") and body.get("launch_type"):
                problems.append(f"{where}: a launch type overrides the capacity provider strategy")
            if not body.get("capacity_provider_strategy"):
                problems.append(f"{where}: needs a capacity provider strategy so the ASG scales for it")
            if "desired_count" not in ignored(body):
                problems.append(f"{where}: must ignore_changes desired_count (Application Auto Scaling owns it)")
            if body.get("health_check_grace_period_seconds") is not None and not body.get("load_balancer"):
                problems.append(f"{where}: health_check_grace_period_seconds is valid only with a load balancer")
        if rtype == "aws_appautoscaling_policy":
            for d in walk(body):
                metric = d.get("predefined_metric_type")
                for m in metric if isinstance(metric, list) else [metric]:
                    if m is not None and m not in ECS_PREDEFINED_METRICS:
                        problems.append(f"{where}: predefined metric type {m!r} does not exist for ECS services")
    for p in problems:
        print(p)
    print(f"static rules: {len(res)} resources checked, {len(problems)} violations")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
