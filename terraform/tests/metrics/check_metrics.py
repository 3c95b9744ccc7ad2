#!/usr/bin/env python3
"""Every metric the dashboard and the alarms name is one that something emits.

A CloudWatch widget or alarm naming a metric nobody publishes (a typo, a renamed EMF
metric, a dimension the writer does not set, group metrics never enabled) shows nothing
and alarms on nothing, silently. This check reads the applied stack (`terraform show
-json` after the moto apply) and holds every metric of the dashboard body and of every
aws_cloudwatch_metric_alarm (plain or metric_query) to:

- our own metrics, read from the code: the `EMITTED` lists of
  crates/worker-runtime/src/emf.rs (the worker), crates/backlog-scaler/src/metrics.rs
  and crates/spot-handler/src/metrics.rs (the two Lambdas). The crates' tests hold each
  list to what the writer really emits (a test renders every outcome, or refuses any
  unlisted record and finds every listed name in the handler). The namespace must be the
  one the applied stack configures for that component (worker task definition
  FACEREC_METRICS_NAMESPACE, each function's METRICS_NAMESPACE; the stack gives all three
  the same one, so the metric's name says whose it is), the dimension names one of the
  metric's dimension sets, and each dimension value one the code sets (the worker's
  `SERVICE`, the scaler's service name, the Spot handler's EventType / Reason / Transient
  labels, read from its source);
- AWS's metrics, from the table AWS_METRICS below (each row cites the AWS page that
  lists the metric and its dimensions), with dimension values that are resources of this
  stack: its queues, cluster and service, Auto Scaling group (whose group metrics must be
  enabled: AWS publishes none otherwise), functions; Container Insights metrics need the
  cluster's containerInsights setting on.

Log widgets must query the worker's log group, on fields its EMF lines carry.

Usage: check_metrics.py REPO SHOW_JSON            exit 1 and one line per violation
       check_metrics.py REPO SHOW_JSON --mutations each mutation of MUTATIONS must fail
"""
import copy
import json
import re
import sys
from pathlib import Path

# AWS's own metrics the stack may name: namespace -> metric -> allowed dimension sets.
# Read 2026-12-06 from:
#  AWS/SQS: https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-available-cloudwatch-metrics.html
#    (the only dimension is QueueName)
#  AWS/ECS: https://docs.aws.amazon.com/AmazonECS/latest/developerguide/available-metrics.html
#    (service utilization by ClusterName, ServiceName)
#  ECS/ContainerInsights: https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/Container-Insights-metrics-ECS.html
#    (task counts by ClusterName, ServiceName; only with Container Insights on)
#  AWS/AutoScaling: https://docs.aws.amazon.com/autoscaling/ec2/userguide/ec2-auto-scaling-metrics.html
#    and EnableMetricsCollection (EC2 Auto Scaling API Reference): group metrics by
#    AutoScalingGroupName, published only once enabled on the group
#  AWS/Lambda: https://docs.aws.amazon.com/lambda/latest/dg/monitoring-metrics-types.html
#    (by FunctionName)
AWS_METRICS = {
    "AWS/SQS": {
        m: [["QueueName"]]
        for m in (
            "ApproximateNumberOfMessagesVisible",
            "ApproximateNumberOfMessagesNotVisible",
            "ApproximateNumberOfMessagesDelayed",
            "ApproximateAgeOfOldestMessage",
            "NumberOfMessagesSent",
            "NumberOfMessagesReceived",
            "NumberOfMessagesDeleted",
            "NumberOfEmptyReceives",
            "SentMessageSize",
        )
    },
    "AWS/ECS": {
        m: [["ClusterName", "ServiceName"], ["ClusterName"]]
        for m in ("CPUUtilization", "MemoryUtilization", "CPUReservation", "MemoryReservation")
    },
    "ECS/ContainerInsights": {
        m: [["ClusterName", "ServiceName"]]
        for m in ("DesiredTaskCount", "RunningTaskCount", "PendingTaskCount")
    },
    "AWS/AutoScaling": {
        m: [["AutoScalingGroupName"]]
        for m in (
            "GroupMinSize",
            "GroupMaxSize",
            "GroupDesiredCapacity",
            "GroupInServiceInstances",
            "GroupPendingInstances",
            "GroupStandbyInstances",
            "GroupTerminatingInstances",
            "GroupTotalInstances",
        )
    },
    "AWS/Lambda": {
        m: [["FunctionName"]]
        for m in ("Invocations", "Errors", "Throttles", "Duration", "ConcurrentExecutions")
    },
}

EMITTED_RE = re.compile(
    r'EmittedMetric\s*\{\s*name:\s*"(\w+)",\s*unit:\s*"(\w+)",\s*dimensions:\s*&\[(.*?)\],?\s*\}',
    re.S,
)


def emitted(path):
    """{name: [dimension sets]} from a crate's `EMITTED` list."""
    text = Path(path).read_text()
    block = text[text.index("pub const EMITTED") :]
    block = block[: block.index("];") + 2]
    out = {}
    for name, _unit, dims in EMITTED_RE.findall(block):
        out[name] = [re.findall(r'"(\w+)"', s) for s in re.findall(r"&\[([^\]]*)\]", dims)]
    if not out:
        sys.exit(f"{path}: no EMITTED list found")
    return out


def string_const(path, name):
    m = re.search(rf'pub const {name}: &str = "([^"]+)";', Path(path).read_text())
    if not m:
        sys.exit(f"{path}: no `pub const {name}: &str`")
    return m.group(1)


def fn_labels(path, fn):
    """The string literals a `fn NAME(&self) -> &'static str { match ... }` returns."""
    text = Path(path).read_text()
    body = text[text.index(f"fn {fn}(&self) -> &'static str") :]
    body = body[: body.index("\n    }\n")]
    return set(re.findall(r'=> "([^"]+)"', body))


def resources(module):
    for r in module.get("resources", []):
        yield r
    for child in module.get("child_modules", []):
        yield from resources(child)


class Stack:
    """What the applied stack holds, from `terraform show -json`."""

    def __init__(self, show):
        self.rs = list(resources(show["values"]["root_module"]))

    def of(self, rtype):
        return [r for r in self.rs if r["type"] == rtype]

    def values(self, rtype, attr):
        return {r["values"][attr] for r in self.of(rtype)}


def components(repo, stack):
    """namespace -> [(component, {metric: dimension sets}, {dimension: allowed values or None})]."""
    crates = Path(repo) / "crates"
    out = {}
    task_envs = []
    for td in stack.of("aws_ecs_task_definition"):
        for c in json.loads(td["values"]["container_definitions"]):
            task_envs.append({e["name"]: e["value"] for e in c.get("environment", [])})
    worker_ns = {e["FACEREC_METRICS_NAMESPACE"] for e in task_envs if "FACEREC_METRICS_NAMESPACE" in e}
    for ns in worker_ns:
        out.setdefault(ns, []).append((
            "worker",
            emitted(crates / "worker-runtime/src/emf.rs"),
            {"Service": {string_const(crates / "worker-runtime/src/emf.rs", "SERVICE")}},
        ))
    for f in stack.of("aws_lambda_function"):
        env = ((f["values"].get("environment") or [{}])[0] or {}).get("variables") or {}
        ns = env.get("METRICS_NAMESPACE")
        if ns is None:
            continue
        if "POLL_SECONDS" in env:
            out.setdefault(ns, []).append((
                "backlog scaler",
                emitted(crates / "backlog-scaler/src/metrics.rs"),
                {"ServiceName": {env["SERVICE_NAME"]}},
            ))
        elif "LIFECYCLE_HOOK_NAME" in env:
            out.setdefault(ns, []).append((
                "spot handler",
                emitted(crates / "spot-handler/src/metrics.rs"),
                {
                    "EventType": fn_labels(crates / "spot-handler/src/event.rs", "kind"),
                    "Reason": fn_labels(crates / "spot-handler/src/handler.rs", "label")
                    - {"drained", "already-draining", "recorded", "lifecycle-done", "duplicate", "skipped", "failed"},
                    "Transient": {"true", "false"},
                    "AvailabilityZone": None,
                },
            ))
    return out


def aws_dimension_values(stack):
    insights = any(
        s["name"] == "containerInsights" and s["value"] in ("enabled", "enhanced")
        for c in stack.of("aws_ecs_cluster")
        for s in c["values"].get("setting", [])
    )
    enabled_group_metrics = set()
    for g in stack.of("aws_autoscaling_group"):
        enabled_group_metrics |= set(g["values"].get("enabled_metrics") or [])
    return {
        "QueueName": stack.values("aws_sqs_queue", "name"),
        "ClusterName": stack.values("aws_ecs_cluster", "name"),
        "ServiceName": stack.values("aws_ecs_service", "name"),
        "AutoScalingGroupName": stack.values("aws_autoscaling_group", "name"),
        "FunctionName": stack.values("aws_lambda_function", "function_name"),
    }, insights, enabled_group_metrics


def check_metric(where, ns, name, dims, ours, aws_values, insights, group_metrics):
    """Violations (strings) of one metric reference."""
    errs = []
    names = sorted(dims)
    if ns in ours:
        emitters = [c for c in ours[ns] if name in c[1]]
        if not emitters:
            lists = "; ".join(f"the {c}'s: {sorted(m)}" for c, m, _ in ours[ns])
            return [f"{where}: {ns} {name}: nothing of ours emits such a metric (EMITTED lists in {ns}: {lists})"]
        component, metrics, allowed = emitters[0]
        if names not in [sorted(s) for s in metrics[name]]:
            errs.append(f"{where}: {ns} {name} by {names}: the {component} emits it only by {metrics[name]}")
        for d, v in dims.items():
            ok = allowed.get(d, None)
            if ok is not None and v not in ok:
                errs.append(f"{where}: {ns} {name}: {d}={v!r} is never set by the {component} (it sets {sorted(ok)})")
        return errs
    if ns in AWS_METRICS:
        if name not in AWS_METRICS[ns]:
            return [f"{where}: {ns} {name}: not a metric of {ns} this stack may name (check_metrics.AWS_METRICS)"]
        if names not in [sorted(s) for s in AWS_METRICS[ns][name]]:
            errs.append(f"{where}: {ns} {name} by {names}: AWS publishes it by {AWS_METRICS[ns][name]}")
        for d, v in dims.items():
            if d in aws_values and v not in aws_values[d]:
                errs.append(f"{where}: {ns} {name}: {d}={v!r} is no resource of this stack ({sorted(aws_values[d])})")
        if ns == "ECS/ContainerInsights" and not insights:
            errs.append(f"{where}: {ns} {name}: Container Insights is off on the cluster: nothing publishes it")
        if ns == "AWS/AutoScaling" and name not in group_metrics:
            errs.append(f"{where}: {ns} {name}: not in the group's enabled_metrics: Auto Scaling publishes it only when enabled")
        return errs
    return [f"{where}: namespace {ns!r} is neither ours ({sorted(ours)}) nor an AWS namespace this stack may name"]


def dashboard_refs(body):
    """(where, namespace, name, {dim: value}) of every metric of a dashboard body, and its log widgets."""
    refs, logs = [], []
    for i, w in enumerate(body.get("widgets", [])):
        title = w.get("properties", {}).get("title", f"widget {i}")
        if w["type"] == "log":
            logs.append((f"dashboard widget {title!r}", w["properties"]["query"]))
            continue
        if w["type"] != "metric":
            continue
        for m in w["properties"].get("metrics", []):
            parts = [p for p in m if not isinstance(p, dict)]
            if not parts:  # an expression
                continue
            if "..." in parts or "." in parts:
                refs.append((f"dashboard widget {title!r}", "?", "shorthand", {}))
                continue
            ns, name, rest = parts[0], parts[1], parts[2:]
            refs.append((f"dashboard widget {title!r}", ns, name, dict(zip(rest[::2], rest[1::2]))))
    return refs, logs


def alarm_refs(stack):
    refs = []
    for a in stack.of("aws_cloudwatch_metric_alarm"):
        v = a["values"]
        where = f"alarm {v['alarm_name']}"
        if v.get("metric_name"):
            refs.append((where, v["namespace"], v["metric_name"], v.get("dimensions") or {}))
        for q in v.get("metric_query") or []:
            for m in q.get("metric") or []:
                refs.append((where, m["namespace"], m["metric_name"], m.get("dimensions") or {}))
    return refs


def check(repo, show):
    stack = Stack(show)
    ours = components(repo, stack)
    aws_values, insights, group_metrics = aws_dimension_values(stack)
    errs = []
    dashboards = stack.of("aws_cloudwatch_dashboard")
    refs = alarm_refs(stack)
    logs = []
    for d in dashboards:
        r, l = dashboard_refs(json.loads(d["values"]["dashboard_body"]))
        refs += r
        logs += l
    for where, ns, name, dims in refs:
        if ns == "?":
            errs.append(f"{where}: uses the '...' shorthand, which this check cannot follow: write the metric out")
            continue
        errs += check_metric(where, ns, name, dims, ours, aws_values, insights, group_metrics)
    worker = next((c for cs in ours.values() for c in cs if c[0] == "worker"), None)
    worker_fields = set(worker[1]) | {"ErrorCode"} if worker else set()
    log_groups = stack.values("aws_cloudwatch_log_group", "name")
    for where, query in logs:
        for g in re.findall(r"SOURCE '([^']+)'", query):
            if g not in log_groups or not g.startswith("/ecs/"):
                errs.append(f"{where}: queries log group {g!r}, not the worker's ({sorted(log_groups)})")
        for field in set(re.findall(r"\b([A-Z][A-Za-z]+)\b", query)) - {"SOURCE"}:
            if field not in worker_fields:
                errs.append(f"{where}: field {field} is not on the worker's EMF lines ({sorted(worker_fields)})")
    return errs, len(refs) + len(logs), len(dashboards)


def _dashboard(show):
    for r in resources(show["values"]["root_module"]):
        if r["type"] == "aws_cloudwatch_dashboard":
            return r


def _edit_body(show, fn):
    r = _dashboard(show)
    body = json.loads(r["values"]["dashboard_body"])
    fn(body)
    r["values"]["dashboard_body"] = json.dumps(body)


def _first_metric(body, ns_prefix, names=None):
    """The first metric of the dashboard in that namespace (and, given, with one of those names)."""
    for w in body["widgets"]:
        for m in w["properties"].get("metrics", []):
            if m and isinstance(m[0], str) and m[0].startswith(ns_prefix) and (names is None or m[1] in names):
                return m


# The fleet's own namespace (terraform/main.tf, local.metrics_namespace), and a metric of
# each of its three parts, to find their widgets by.
NS = "facerec-fleet"
WORKER = ("JobsSucceeded", "JobDuration", "QueueWait")
SPOT_HANDLER = ("Interruptions",)
SCALER = ("Visible", "DesiredTasks")


def _alarm(show, name_suffix):
    for r in resources(show["values"]["root_module"]):
        if r["type"] == "aws_cloudwatch_metric_alarm" and r["values"]["alarm_name"].endswith(name_suffix):
            return r["values"]


# Each mutation breaks one thing a real edit could break; the check must fail on each,
# naming it (the expected substring).
MUTATIONS = {
    "worker metric no code emits": (
        lambda s: _edit_body(s, lambda b: _first_metric(b, NS, WORKER).__setitem__(1, "JobsExploded")),
        f"{NS} JobsExploded: nothing of ours emits such a metric",
    ),
    "worker metric under a dimension it is not emitted by": (
        lambda s: _edit_body(s, lambda b: _first_metric(b, NS, WORKER).__setitem__(2, "ServiceName")),
        "the worker emits it only by",
    ),
    "worker metric in another namespace": (
        lambda s: _edit_body(s, lambda b: _first_metric(b, NS, WORKER).__setitem__(0, "Facerec")),
        "namespace 'Facerec'",
    ),
    "Spot handler EventType the handler never sets": (
        lambda s: _edit_body(
            s, lambda b: _first_metric(b, NS, SPOT_HANDLER).__setitem__(3, "spot-warning")
        ),
        "EventType='spot-warning' is never set",
    ),
    "scaler metric no code emits": (
        lambda s: _edit_body(s, lambda b: _first_metric(b, NS, SCALER).__setitem__(1, "Wanted")),
        "Wanted: nothing of ours emits such a metric",
    ),
    "group metric that is not enabled": (
        lambda s: _edit_body(s, lambda b: _first_metric(b, "AWS/AutoScaling").__setitem__(1, "GroupStandbyInstances")),
        "not in the group's enabled_metrics",
    ),
    "queue that is not the stack's": (
        lambda s: _edit_body(s, lambda b: _first_metric(b, "AWS/SQS").__setitem__(3, "someone-elses-queue")),
        "is no resource of this stack",
    ),
    "log widget on fields the worker does not log": (
        lambda s: _edit_body(
            s,
            lambda b: next(w for w in b["widgets"] if w["type"] == "log")["properties"].__setitem__(
                "query", "SOURCE '/ecs/x' | stats count(*) by FailureReason"
            ),
        ),
        "field FailureReason is not on the worker's EMF lines",
    ),
    "alarm on a handler metric no code emits": (
        lambda s: _alarm(s, "-spot-handler-permanent-errors").__setitem__("metric_name", "PermanentErrors"),
        "PermanentErrors: nothing of ours emits such a metric",
    ),
}


def main():
    repo, show_path = sys.argv[1], sys.argv[2]
    show = json.loads(Path(show_path).read_text())
    if "--mutations" in sys.argv[3:]:
        base, _, _ = check(repo, show)
        if base:
            sys.exit("the unmutated stack must pass first:\n" + "\n".join(base))
        for label, (mutate, expected) in MUTATIONS.items():
            s = copy.deepcopy(show)
            mutate(s)
            errs, _, _ = check(repo, s)
            if not any(expected in e for e in errs):
                sys.exit(f"mutation '{label}' was not caught (expected '{expected}'); got: {errs}")
        print(f"    metrics check: all {len(MUTATIONS)} mutations caught")
        return
    errs, n, dashboards = check(repo, show)
    if dashboards == 0:
        errs.append("no aws_cloudwatch_dashboard in the applied stack (create_dashboard defaults to true)")
    for e in errs:
        print(e)
    if errs:
        sys.exit(1)
    print(f"    metrics check: {n} metric references of {dashboards} dashboard(s) and the alarms are all emitted")


if __name__ == "__main__":
    main()
