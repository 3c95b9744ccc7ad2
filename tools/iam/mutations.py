#!/usr/bin/env python3
"""Mutation tests of the IAM proof: each mutation puts a known defect into the rendered
policies, and the proof must fail with a line naming the role, the action and the
resource (or the grant). The first is the defect that reached main once: ListTasks
granted on container instances, where IAM authorises the scaler's call against "*".

Usage: mutations.py CALL_LOG_DIR RENDERED_POLICIES_JSON   (exit 1 when a mutant survives)
"""
import copy
import io
import json
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import prove  # noqa: E402


def statements(rendered, role):
    for doc in rendered["roles"][role]["policies"]:
        st = doc["Statement"]
        yield from ([st] if isinstance(st, dict) else st)


def actions_of(st):
    a = st.get("Action", [])
    return [a] if isinstance(a, str) else a


def old_list_tasks_resource(r):
    d = prove.deployment(r)
    for st in statements(r, "backlog_scaler"):
        if "ecs:ListTasks" in actions_of(st):
            st["Resource"] = d.arn("ecs", f"container-instance/{d.cluster_name}/*")
    return r


def task_role_without_delete(r):
    for st in statements(r, "task"):
        st["Action"] = [a for a in actions_of(st) if a != "sqs:DeleteMessage"] or ["sqs:ReceiveMessage"]
    return r


def task_role_with_unused_grant(r):
    r["roles"]["task"]["policies"].append({"Version": "2012-10-17", "Statement": [
        {"Sid": "Unused", "Effect": "Allow", "Action": "sqs:PurgeQueue", "Resource": r["resources"]["jobs_queue_arn"]}]})
    return r


def scaler_update_service_on_star(r):
    for st in statements(r, "backlog_scaler"):
        if "ecs:UpdateService" in actions_of(st):
            st["Resource"] = "*"
    return r


def scaler_cluster_condition_of_another_cluster(r):
    for st in statements(r, "backlog_scaler"):
        if "ecs:ListTasks" in actions_of(st):
            for cond in st.get("Condition", {}).values():
                if "ecs:cluster" in cond:
                    cond["ecs:cluster"] = re.sub(r"cluster/.*", "cluster/other", r["resources"]["cluster_arn"])
    return r


def producer_without_queue_age(r):
    """A producer policy from before `facerec status` read the oldest job's age."""
    for doc in r["roles"]["producer"]["policies"]:
        st = doc["Statement"]
        doc["Statement"] = [s for s in ([st] if isinstance(st, dict) else st)
                            if "cloudwatch:GetMetricData" not in actions_of(s)]
    return r


MUTATIONS = [
    (old_list_tasks_resource, r"role backlog_scaler: ecs:ListTasks on \* is ImplicitDeny"),
    (task_role_without_delete, r"role task: sqs:DeleteMessage on arn:aws:sqs:\S+ is ImplicitDeny"),
    (task_role_with_unused_grant, r"role task: statement Unused grants sqs:purgequeue, which no recorded call"),
    (scaler_update_service_on_star, r"role backlog_scaler: statement \S+ grants ecs:updateservice on \*"),
    (scaler_cluster_condition_of_another_cluster, r"role backlog_scaler: ecs:ListTasks on \* is ImplicitDeny"),
    (producer_without_queue_age, r"role producer: cloudwatch:GetMetricData on \* is ImplicitDeny"),
]


def main() -> int:
    calls_dir, rendered_path = sys.argv[1:3]
    with open(rendered_path) as f:
        rendered = json.load(f)
    survivors = 0
    for mutate, expected in MUTATIONS:
        failures = prove.prove(calls_dir, mutate(copy.deepcopy(rendered)), out=io.StringIO())
        hit = [f for f in failures if re.search(expected, f)]
        if hit:
            print(f"    killed {mutate.__name__}: {hit[0]}")
        else:
            survivors += 1
            print(f"IAM proof mutation {mutate.__name__} survived: no line matches /{expected}/; got {failures[:5]}")
    return 1 if survivors else 0


if __name__ == "__main__":
    sys.exit(main())
