#!/usr/bin/env python3
"""Check the applied stack's wiring in moto, through the APIs, after `terraform apply`.

What `terraform test` can only assert on the configuration, checked here on what the
API holds: events put on the default bus land in the queue their rule targets (only
our lifecycle hook's actions reach the handler, not ECS's managed-draining hook), the
function's LIFECYCLE_HOOK_NAME is the group's hook, the mappings' concurrency fits the
reserved concurrency, failed events reach the DLQ before they expire, every rule
target dead-letters, the ASG has room for a deployment at full scale, launched
instances and volumes get the default tags, and the jobs queue denies sending to
anyone but the named producers. In the backlog scaler mode (the default): the scaler's
environment names the applied queue, service, group and state parameter, its
schedule, retries and concurrency are as designed, its roles grant what the design
lists (ListTasks on "*" with ecs:cluster), the group's AZRebalance is suspended, ECS
managed scaling is off, the only Application Auto Scaling policy on the service and the
only policy on the group are the backstop's, scale-out only, each invoked by its alarm
on the scaler's heartbeat, and its two alarms watch the function. In every mode: the alarm topic exists and every alarm
notifies it, and the task and instance roles are inline, exactly their actions, with no
managed policy attached.

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
    # Default: nothing reserved (a new account's quota leaves nothing to reserve); the
    # mappings' maximum concurrency bounds the handler. With a reservation, they fit in it.
    check(len(mappings) == 2 and min(shares) >= 2 and (sum(shares) <= reserved if reserved is not None else shares == [2, 3]),
          f"two mappings, maximum concurrency {shares}, within the reserved concurrency {reserved} (None: unreserved, 2 + 3)")

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

    # --- Alarms tell someone: the topic exists and every alarm notifies it ------------------
    sns = boto3.client("sns", **kw)
    cloudwatch = boto3.client("cloudwatch", **kw)
    topic = out["alarm_topic_arn"]
    topic_ok = False
    if topic:
        try:
            sns.get_topic_attributes(TopicArn=topic)
            topic_ok = True
        except sns.exceptions.NotFoundException:
            pass
    check(topic_ok, f"the alarm topic exists by default ({topic})")
    names = [a.split(":alarm:")[-1] for a in out["alarm_arns"].values()]
    alarms = cloudwatch.describe_alarms(AlarmNames=names)["MetricAlarms"]
    wrong = {a["AlarmName"]: a["AlarmActions"] for a in alarms if a["AlarmActions"] != [topic]}
    check(len(alarms) == len(names) and not wrong, f"all {len(names)} alarms notify the topic on alarm (wrong: {wrong})")

    # --- The roles as IAM holds them: inline, scoped, no managed policy ---------------------
    check_roles(endpoint, out, check)

    if out["scaling_mode"] == "backlog_scaler":
        check_backlog_scaler(endpoint, out, check)

    if failures:
        print(f"wiring: {len(failures)} check(s) failed", file=sys.stderr)
        return 1
    return 0


# What crates/backlog-scaler calls (the shared design), resource by resource.
BACKLOG_SCALER_ACTIONS = {
    "sqs:GetQueueAttributes", "ecs:DescribeServices", "ecs:UpdateService", "ecs:ListTasks",
    "ecs:GetTaskProtection", "ecs:UpdateTaskProtection", "ecs:ListContainerInstances",
    "ecs:DescribeContainerInstances",
    "ecs:UpdateContainerInstancesState", "autoscaling:DescribeAutoScalingGroups",
    "autoscaling:SetDesiredCapacity", "autoscaling:TerminateInstanceInAutoScalingGroup",
    "ssm:GetParameter", "ssm:PutParameter", "logs:CreateLogStream", "logs:PutLogEvents",
}


def inline_policy(iam, role_arn: str) -> tuple[dict, list[dict]]:
    """The role's trust policy and the statements of its one inline policy."""
    name = role_arn.rsplit("/", 1)[-1]
    role = iam.get_role(RoleName=name)["Role"]
    trust = role["AssumeRolePolicyDocument"]
    trust = json.loads(trust) if isinstance(trust, str) else trust
    (policy_name,) = iam.list_role_policies(RoleName=name)["PolicyNames"]
    doc = iam.get_role_policy(RoleName=name, PolicyName=policy_name)["PolicyDocument"]
    doc = json.loads(doc) if isinstance(doc, str) else doc
    return trust, doc["Statement"]


def as_list(v) -> list:
    return v if isinstance(v, list) else [v]


TASK_ACTIONS = {
    "sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility", "sqs:SendMessage",
    "ecs:UpdateTaskProtection", "s3:GetObject", "s3:PutObject", "s3:ListBucket",
}
INSTANCE_ACTIONS = {
    "ecs:RegisterContainerInstance", "ecs:SubmitTaskStateChange", "ecs:SubmitContainerStateChange",
    "ecs:SubmitAttachmentStateChanges", "ecs:DiscoverPollEndpoint", "ecs:Poll", "ecs:StartTelemetrySession",
    "ecs:UpdateContainerInstancesState", "ecr:GetAuthorizationToken", "ecr:BatchCheckLayerAvailability",
    "ecr:GetDownloadUrlForLayer", "ecr:BatchGetImage", "logs:CreateLogStream", "logs:PutLogEvents",
}


def check_roles(endpoint: str, out: dict, check) -> None:
    iam = boto3.client("iam", endpoint_url=endpoint, region_name=out["aws_region"])
    cluster = out["cluster_arn"]
    for what, arn, want in (("task", out["task_role_arn"], TASK_ACTIONS), ("instance", out["instance_role_arn"], INSTANCE_ACTIONS)):
        name = arn.rsplit("/", 1)[-1]
        managed = [p["PolicyArn"] for p in iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]]
        _, statements = inline_policy(iam, arn)
        actions = {a for s in statements for a in as_list(s["Action"])}
        check(not managed and actions == want,
              f"{what} role: no managed policy ({managed}), exactly its inline actions (extra {sorted(actions - want)}, missing {sorted(want - actions)})")
    _, statements = inline_policy(iam, out["instance_role_arn"])
    by_action = {a: s for s in statements for a in as_list(s["Action"])}
    on_cluster = all(as_list(by_action[a]["Resource"]) == [cluster] for a in ("ecs:RegisterContainerInstance", "ecs:SubmitTaskStateChange"))
    conditioned = all(by_action[a].get("Condition", {}).get("ArnEquals", {}).get("ecs:cluster") in (cluster, [cluster])
                      for a in ("ecs:Poll", "ecs:StartTelemetrySession", "ecs:UpdateContainerInstancesState"))
    check(on_cluster and conditioned, "instance role: registration and state changes on the applied cluster, agent channels and Spot draining conditioned on it")


def check_backlog_scaler(endpoint: str, out: dict, check) -> None:
    kw = dict(endpoint_url=endpoint, region_name=out["aws_region"])
    lam = boto3.client("lambda", **kw)
    scheduler = boto3.client("scheduler", **kw)
    ssm = boto3.client("ssm", **kw)
    ecs = boto3.client("ecs", **kw)
    aas = boto3.client("application-autoscaling", **kw)
    iam = boto3.client("iam", **kw)
    cloudwatch = boto3.client("cloudwatch", **kw)
    fn_name = out["backlog_scaler_function_name"]

    # --- The function: configured for what was applied ---------------------------------
    fn = lam.get_function_configuration(FunctionName=fn_name)
    env = fn["Environment"]["Variables"]
    scaling = out["scaling"]
    want = {
        "QUEUE_URL": out["jobs_queue_url"], "CLUSTER_NAME": out["cluster_name"],
        "SERVICE_NAME": out["service_name"], "AUTOSCALING_GROUP_NAME": out["asg_name"],
        "STATE_PARAMETER": out["backlog_scaler_state_parameter_name"],
        "POLL_SECONDS": str(scaling["scaler_poll_seconds"]),
        "RUN_SECONDS": str(60 - scaling["scaler_poll_seconds"]),
        "JOB_SECONDS": str(scaling["job_seconds"]),
        "ACCEPTABLE_LATENCY_SECONDS": str(scaling["acceptable_latency_seconds"]),
        "COLD_START_SECONDS": str(scaling["cold_start_seconds"]),
        "TARGET_UTILIZATION": f"{scaling['target_utilization']:g}",
        "MIN_TASKS": str(scaling["min_tasks"]), "MAX_TASKS": str(scaling["max_tasks"]),
        "LOAD_WINDOW_SECONDS": str(scaling["scaler_load_window_seconds"]),
        "SCALE_DOWN_WINDOW_SECONDS": str(scaling["scaler_scale_down_window_seconds"]),
        "ACTIVITY_WINDOW_SECONDS": str(scaling["scaler_activity_window_seconds"]),
        "METRICS_NAMESPACE": "facerec-fleet",
    }
    diff = {k: (env.get(k), want.get(k)) for k in set(env) | set(want) if env.get(k) != want.get(k)}
    check(not diff, f"the scaler's environment is the applied queue, service, group, parameter and scaling.json (got, wanted: {diff})")
    check(fn["Runtime"] == "provided.al2023" and fn["Timeout"] == 60 and fn["MemorySize"] == 128 and fn["Role"] == out["backlog_scaler_role_arn"],
          f"the scaler runs provided.al2023, 60 s, 128 MB, with its own role (got {fn['Runtime']}, {fn['Timeout']} s, {fn['MemorySize']} MB)")
    reserved = lam.get_function_concurrency(FunctionName=fn_name).get("ReservedConcurrentExecutions")
    check(reserved is None, f"by default the scaler reserves no concurrency, so it applies on a new account (reserved concurrency {reserved})")
    invoke = lam.get_function_event_invoke_config(FunctionName=fn_name)
    check(invoke.get("MaximumRetryAttempts") == 0 and invoke.get("MaximumEventAgeInSeconds") == 60,
          f"no asynchronous retries, events older than a minute dropped (got {invoke.get('MaximumRetryAttempts')}, {invoke.get('MaximumEventAgeInSeconds')} s)")

    # --- Its state parameter starts empty --------------------------------------------------
    param = ssm.get_parameter(Name=env["STATE_PARAMETER"])["Parameter"]
    check(param["Type"] == "String" and param["Value"] == "{}", f"the state parameter exists, a String holding {{}} (got {param['Type']} {param['Value']!r})")

    # --- Its schedule: every minute on the minute, invoking it with the schedule role ----
    sched = scheduler.get_schedule(Name=out["backlog_scaler_schedule_name"])
    target = sched["Target"]
    check(sched["ScheduleExpression"] == "rate(1 minute)" and sched["FlexibleTimeWindow"]["Mode"] == "OFF" and sched.get("State") == "ENABLED",
          f"the schedule is rate(1 minute), no flexible window, enabled (got {sched['ScheduleExpression']}, {sched['FlexibleTimeWindow']}, {sched.get('State')})")
    check(target["Arn"] == fn["FunctionArn"] and target.get("RetryPolicy") == {"MaximumRetryAttempts": 0, "MaximumEventAgeInSeconds": 60},
          f"the schedule invokes the scaler, without retries (got {target['Arn']}, {target.get('RetryPolicy')})")
    trust, statements = inline_policy(iam, target["RoleArn"])
    principals = [s["Principal"].get("Service") for s in trust["Statement"]]
    check(principals == ["scheduler.amazonaws.com"]
          and [(a, r) for s in statements for a in as_list(s["Action"]) for r in as_list(s["Resource"])] == [("lambda:InvokeFunction", fn["FunctionArn"])],
          f"the schedule role: assumed by EventBridge Scheduler, may invoke the scaler only ({principals}, {statements})")

    # --- The scaler's role: exactly the design's calls ---------------------------------------
    trust, statements = inline_policy(iam, out["backlog_scaler_role_arn"])
    actions = {a for s in statements for a in as_list(s["Action"])}
    check([s["Principal"].get("Service") for s in trust["Statement"]] == ["lambda.amazonaws.com"] and actions == BACKLOG_SCALER_ACTIONS,
          f"the scaler role: assumed by Lambda, allows exactly the scaler's calls (extra {sorted(actions - BACKLOG_SCALER_ACTIONS)}, missing {sorted(BACKLOG_SCALER_ACTIONS - actions)})")
    by_action = {a: as_list(s["Resource"]) for s in statements for a in as_list(s["Action"])}
    service_arn = ecs.describe_services(cluster=out["cluster_name"], services=[out["service_name"]])["services"][0]["serviceArn"]
    list_tasks = next(s for s in statements if "ecs:ListTasks" in as_list(s["Action"]))
    check(as_list(list_tasks["Resource"]) == ["*"] and list_tasks.get("Condition", {}).get("ArnEquals", {}).get("ecs:cluster") in (out["cluster_arn"], [out["cluster_arn"]]),
          f"ListTasks (no container instance named) on '*', conditioned on the applied cluster ({list_tasks})")
    check(by_action["ecs:UpdateService"] == [service_arn] and by_action["sqs:GetQueueAttributes"] == [out["jobs_queue_arn"]]
          and by_action["autoscaling:SetDesiredCapacity"] == [out["asg_arn"].split(":autoScalingGroup:")[0] + ":autoScalingGroup:*:autoScalingGroupName/" + out["asg_name"]],
          f"the scaler may set the applied service's count ({by_action['ecs:UpdateService']} vs {service_arn}), read the applied queue, size the applied group")

    # --- The scaler terminates specific instances: AZRebalance must not undo it -------------
    autoscaling = boto3.client("autoscaling", **kw)
    group = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[out["asg_name"]])["AutoScalingGroups"][0]
    suspended = sorted(p["ProcessName"] for p in group.get("SuspendedProcesses", []))
    check(suspended == ["AZRebalance"], f"the group's AZRebalance process is suspended, nothing else (got {suspended})")

    # --- Nobody else scales: no managed scaling; only the backstop's scale-out policies ------
    cp = ecs.describe_capacity_providers(capacityProviders=[out["capacity_provider_name"]])["capacityProviders"][0]["autoScalingGroupProvider"]
    check(cp["managedScaling"]["status"] == "DISABLED" and cp["managedTerminationProtection"] == "DISABLED" and cp["managedDraining"] == "ENABLED",
          f"capacity provider: managed scaling and termination protection DISABLED, managed draining ENABLED (got {cp['managedScaling']['status']}, {cp['managedTerminationProtection']}, {cp.get('managedDraining')})")
    resource_id = f"service/{out['cluster_name']}/{out['service_name']}"
    targets = [t for t in aas.describe_scalable_targets(ServiceNamespace="ecs")["ScalableTargets"] if t["ResourceId"] == resource_id]
    check(len(targets) == 1 and (targets[0]["MinCapacity"], targets[0]["MaxCapacity"]) == (scaling["min_tasks"], scaling["max_tasks"]),
          f"the service's one scalable target (the backstop's) has the scaler's bounds ({targets})")
    service_policies = aas.describe_scaling_policies(ServiceNamespace="ecs", ResourceId=resource_id)["ScalingPolicies"]
    group_policies = autoscaling.describe_policies(AutoScalingGroupName=out["asg_name"])["ScalingPolicies"]

    def scale_out_only(steps: list, adjustment_type: str) -> bool:
        return adjustment_type == "ChangeInCapacity" and bool(steps) and all(s["ScalingAdjustment"] > 0 for s in steps)

    svc = service_policies[0] if len(service_policies) == 1 else {}
    svc_conf = svc.get("StepScalingPolicyConfiguration", {})
    check(svc.get("PolicyType") == "StepScaling" and scale_out_only(svc_conf.get("StepAdjustments", []), svc_conf.get("AdjustmentType", "")),
          f"the service's only scaling policy is the backstop's, step scaling that only adds ({service_policies})")
    grp = group_policies[0] if len(group_policies) == 1 else {}
    check(grp.get("PolicyType") == "StepScaling" and scale_out_only(grp.get("StepAdjustments", []), grp.get("AdjustmentType", "")),
          f"the group's only scaling policy is the backstop's, step scaling that only adds ({group_policies})")
    backstop = {a["AlarmName"]: a for a in cloudwatch.describe_alarms(AlarmNamePrefix=f"{fn_name}-backstop-")["MetricAlarms"]}
    actions = sorted(x for a in backstop.values() for x in a["AlarmActions"])
    heartbeat_ok = all(
        any(q.get("Id") == "heartbeat" and q["MetricStat"]["Metric"]["MetricName"] == "DesiredTasks" and q["MetricStat"]["Stat"] == "SampleCount"
            for q in a.get("Metrics", []))
        for a in backstop.values())
    check(len(backstop) == 2 and heartbeat_ok and actions == sorted([svc.get("PolicyARN"), grp.get("PolicyARN")]),
          f"the backstop's two alarms read the scaler's heartbeat and each invokes one of the two policies ({sorted(backstop)}: {actions})")

    # --- Its alarms watch it -------------------------------------------------------------------
    alarms = {a["AlarmName"]: a for a in cloudwatch.describe_alarms(AlarmNames=[n.split(":alarm:")[-1] for k, n in out["alarm_arns"].items() if k.startswith("backlog_scaler_")])["MetricAlarms"]}
    check(len(alarms) == 2 and all(a["Namespace"] == "AWS/Lambda" and a["Dimensions"] == [{"Name": "FunctionName", "Value": fn_name}] for a in alarms.values())
          and sorted(a["MetricName"] for a in alarms.values()) == ["Errors", "Invocations"],
          f"the scaler's Errors and Invocations alarms watch the function ({sorted(alarms)})")


if __name__ == "__main__":
    sys.exit(main())
