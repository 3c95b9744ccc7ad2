#!/usr/bin/env python3
"""Check the applied stack's wiring in moto, through the APIs, after `terraform apply`.

What `terraform test` can only assert on the configuration, checked here on what the
API holds: events put on the default bus land in the queue their rule targets (only
our lifecycle hook's actions reach the handler, not ECS's managed-draining hook), the
function's LIFECYCLE_HOOK_NAME is the group's hook, the mappings' concurrency fits the
reserved concurrency, failed events reach the DLQ before they expire, every rule
target dead-letters, the ASG has room for a deployment at full scale, launched
instances and volumes get the default tags, and the jobs queue denies sending to
anyone but the named producers.

Usage: check_wiring.py ENDPOINT_URL OUTPUTS_JSON TFVARS_JSON
  OUTPUTS_JSON: `terraform output -json`; TFVARS_JSON: the tfvars the stack was applied with.
Exits 1 with one line per failed check.
"""
import json
import sys
import time

import boto3

# Another hook on the same group: the one ECS's managed draining installs.
ECS_MANAGED_DRAINING_HOOK = "ecs-managed-draining-termination-hook"


def main() -> int:
    endpoint, outputs_path, tfvars_path = sys.argv[1:4]
    out = {k: v["value"] for k, v in json.load(open(outputs_path)).items()}
    tfvars = json.load(open(tfvars_path))
    kw = dict(endpoint_url=endpoint, region_name=out["aws_region"])
    events = boto3.client("events", **kw)
    sqs = boto3.client("sqs", **kw)
    lam = boto3.client("lambda", **kw)
    asg = boto3.client("autoscaling", **kw)
    ec2 = boto3.client("ec2", **kw)
    failures = []

    def check(ok: bool, what: str) -> None:
        print(f"    {'ok  ' if ok else 'FAIL'} {what}")
        if not ok:
            failures.append(what)

    group = out["asg_name"]
    hook = out["lifecycle_hook_name"]
    queues = {
        "spot": out["spot_events_queue_url"],
        "lifecycle": out["lifecycle_events_queue_url"],
        "dlq": out["spot_events_dlq_url"],
    }

    # --- Lifecycle hook <-> function environment --------------------------------------
    hooks = [h["LifecycleHookName"] for h in asg.describe_lifecycle_hooks(AutoScalingGroupName=group)["LifecycleHooks"]]
    fn = lam.get_function_configuration(FunctionName=out["spot_handler_function_name"])
    env = fn["Environment"]["Variables"]
    check(hooks == [hook] and env.get("LIFECYCLE_HOOK_NAME") == hook,
          f"the group's hook {hooks} is the one the handler completes (LIFECYCLE_HOOK_NAME={env.get('LIFECYCLE_HOOK_NAME')})")

    # --- Event routing: put events, count where they land ------------------------------
    def lifecycle(group_name: str, hook_name: str, kind: str = "terminate") -> dict:
        return {
            "Source": "aws.autoscaling",
            "DetailType": f"EC2 Instance-{kind} Lifecycle Action",
            "Detail": json.dumps({
                "LifecycleActionToken": "87654321-4321-4321-4321-210987654321",
                "AutoScalingGroupName": group_name,
                "LifecycleHookName": hook_name,
                "EC2InstanceId": "i-1234567890abcdef0",
                "LifecycleTransition": "autoscaling:EC2_INSTANCE_" + ("TERMINATING" if kind == "terminate" else "LAUNCHING"),
            }),
        }

    entries = [
        lifecycle(group, hook),                       # ours -> lifecycle queue
        lifecycle(group, ECS_MANAGED_DRAINING_HOOK),  # ECS's hook on our group -> nowhere
        lifecycle("some-other-asg", hook),            # another group -> nowhere
        lifecycle(group, hook, kind="launch"),        # a launch action -> nowhere
        {"Source": "aws.ec2", "DetailType": "EC2 Spot Instance Interruption Warning",
         "Detail": json.dumps({"instance-id": "i-1234567890abcdef0", "instance-action": "terminate"})},
        {"Source": "aws.ec2", "DetailType": "EC2 Instance Rebalance Recommendation",
         "Detail": json.dumps({"instance-id": "i-1234567890abcdef0"})},
        {"Source": "aws.ec2", "DetailType": "EC2 Instance State-change Notification",
         "Detail": json.dumps({"instance-id": "i-1234567890abcdef0", "state": "stopping"})},
    ]
    put = events.put_events(Entries=entries)
    check(put["FailedEntryCount"] == 0, "EventBridge accepted the sample events")
    time.sleep(1)

    def depth(url: str) -> int:
        a = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
        return int(a["ApproximateNumberOfMessages"]) + int(a["ApproximateNumberOfMessagesNotVisible"])

    landed = {k: depth(u) for k, u in queues.items()}
    check(landed == {"spot": 2, "lifecycle": 1, "dlq": 0},
          f"warning + rebalance -> spot queue, our hook's terminate action alone -> lifecycle queue, nothing else anywhere (got {landed})")
    got = sqs.receive_message(QueueUrl=queues["lifecycle"], MaxNumberOfMessages=10, VisibilityTimeout=0).get("Messages", [])
    details = [json.loads(m["Body"]).get("detail", {}) for m in got]
    check([d.get("LifecycleHookName") for d in details] == [hook] and [d.get("AutoScalingGroupName") for d in details] == [group],
          "the lifecycle queue holds our hook's action of our group, not ECS's")
    # Leave the queues empty (PurgeQueue allows one call a minute per queue).
    for url in queues.values():
        while batch := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=30).get("Messages", []):
            for m in batch:
                sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])

    # --- Rule targets dead-letter ---------------------------------------------------------
    for purpose, rule_arn in out["spot_event_rule_arns"].items():
        rule = rule_arn.split("/")[-1]
        targets = events.list_targets_by_rule(Rule=rule)["Targets"]
        check(len(targets) == 1 and targets[0].get("DeadLetterConfig", {}).get("Arn", "").endswith(":" + queues["dlq"].rsplit("/", 1)[-1]),
              f"rule {purpose}: one target, dead-lettering to the events DLQ")

    # --- Timing: retries reach the DLQ before expiry; mappings fit the reservation -------
    for name in ("spot", "lifecycle"):
        a = sqs.get_queue_attributes(QueueUrl=queues[name], AttributeNames=["All"])["Attributes"]
        vis, ret = int(a["VisibilityTimeout"]), int(a["MessageRetentionPeriod"])
        receives = json.loads(a["RedrivePolicy"])["maxReceiveCount"]
        check(vis >= fn["Timeout"] and ret > receives * vis,
              f"{name} queue: visibility {vis} s >= function timeout {fn['Timeout']} s, retention {ret} s > {receives} x {vis} s")
    reserved = lam.get_function_concurrency(FunctionName=out["spot_handler_function_name"]).get("ReservedConcurrentExecutions")
    mappings = lam.list_event_source_mappings(FunctionName=out["spot_handler_function_arn"])["EventSourceMappings"]
    shares = sorted(m.get("ScalingConfig", {}).get("MaximumConcurrency", 0) for m in mappings)
    check(len(mappings) == 2 and min(shares) >= 2 and reserved is not None and sum(shares) <= reserved,
          f"two mappings, maximum concurrency {shares}, sum within the reserved concurrency {reserved}")

    # --- ASG size and the tags its instances launch with ------------------------------------
    g = asg.describe_auto_scaling_groups(AutoScalingGroupNames=[group])["AutoScalingGroups"][0]
    check(g["MaxSize"] == 2 * out["scaling"]["max_tasks"],
          f"ASG MaxSize {g['MaxSize']} = 2 x max_tasks {out['scaling']['max_tasks']}")
    lt = ec2.describe_launch_template_versions(LaunchTemplateId=out["launch_template_id"], Versions=["$Latest"])["LaunchTemplateVersions"][0]
    specs = {s["ResourceType"]: {t["Key"]: t["Value"] for t in s["Tags"]} for s in lt["LaunchTemplateData"].get("TagSpecifications", [])}
    check(all(specs.get(r, {}).get("Project") == "facerec-fleet" and specs.get(r, {}).get("ManagedBy") == "terraform" for r in ("instance", "volume")),
          f"instances and volumes launch with the default tags ({specs})")

    # --- Jobs queue: only named producers may send -----------------------------------------
    policy = json.loads(sqs.get_queue_attributes(QueueUrl=out["jobs_queue_url"], AttributeNames=["Policy"])["Attributes"]["Policy"])
    deny = [s for s in policy["Statement"] if s.get("Sid") == "DenySendingToAnyoneElse"]
    check(len(deny) == 1 and deny[0]["Effect"] == "Deny" and deny[0]["Action"] in ("sqs:SendMessage", ["sqs:SendMessage"])
          and deny[0]["Condition"]["ArnNotLike"]["aws:PrincipalArn"] in (tfvars["producer_principal_arns"][0], tfvars["producer_principal_arns"]),
          "the jobs queue denies sqs:SendMessage to everyone but the named producers")

    if failures:
        print(f"wiring: {len(failures)} check(s) failed", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
