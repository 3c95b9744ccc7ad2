# The fleet's dashboard (docs/operations.md, "Dashboard", has a picture of it): queue,
# workers, instances, the scaler's decisions, Spot events, failures and a cost proxy.
#
# Every metric named here is one the code emits (the worker's EMF, the two Lambdas' EMF:
# the EMITTED lists in crates/*/src) or one AWS publishes for a resource of this stack,
# with the same namespace, name and dimensions. terraform/tests/metrics/check_metrics.py
# checks that on the applied stack (moto) and fails on a widget that could never show
# data; its mutations show that it does. Widgets of parts that are not deployed (the
# backlog scaler in alarms mode, the Spot handler when disabled) are left out.

locals {
  region = var.region

  # [namespace, name, dimension, value, ..., {options}]: the dashboard's metric form.
  sqs = "AWS/SQS"
  ns  = var.metrics_namespace # ours: the worker, the scaler and the Spot handler alike
  ci  = "ECS/ContainerInsights"
  asg = "AWS/AutoScaling"
  fn  = "AWS/Lambda"

  scaler = var.backlog_scaler_function_name != null
  spot   = var.spot_handler_enabled

  # A widget is its title, what it shows, and what differs from the defaults of its kind
  # (type, "metric" unless it says). Its place follows from its row (dashboard_rows): six
  # high at the row's y, the row's width shared equally.
  widget_defaults = {
    metric = { region = local.region, view = "timeSeries", stacked = false, period = 60 }
    log    = { region = local.region, view = "table" }
  }

  queue_widgets = [
    {
      title = "Backlog: jobs visible and in flight", stat = "Maximum"
      metrics = [
        [local.sqs, "ApproximateNumberOfMessagesVisible", "QueueName", var.jobs_queue_name, { label = "visible" }],
        [local.sqs, "ApproximateNumberOfMessagesNotVisible", "QueueName", var.jobs_queue_name, { label = "in flight" }],
      ]
    },
    {
      title = "Age of the oldest job (s)", stat = "Maximum"
      metrics = [
        [local.sqs, "ApproximateAgeOfOldestMessage", "QueueName", var.jobs_queue_name, { label = "oldest job" }],
      ]
      annotations = { horizontal = [{ label = "alarm", value = var.oldest_message_threshold_seconds }] }
    },
    {
      title   = "Dead-letter queues: messages", stat = "Maximum"
      metrics = [for q in sort(tolist(local.dlqs)) : [local.sqs, "ApproximateNumberOfMessagesVisible", "QueueName", q, { label = q }]]
    },
  ]

  job_widgets = [
    {
      title = "Throughput: jobs per minute", stacked = true, stat = "Sum"
      metrics = [
        [local.ns, "JobsSucceeded", "Service", var.worker_service_dimension, { label = "succeeded" }],
        [local.ns, "JobsFailed", "Service", var.worker_service_dimension, { label = "failed" }],
        [local.ns, "JobsAlreadyStored", "Service", var.worker_service_dimension, { label = "redelivered, already stored" }],
      ]
    },
    {
      title = "Job duration (ms): p50, p95, max"
      metrics = [
        [local.ns, "JobDuration", "Service", var.worker_service_dimension, { stat = "p50", label = "p50" }],
        [local.ns, "JobDuration", "Service", var.worker_service_dimension, { stat = "p95", label = "p95" }],
        [local.ns, "JobDuration", "Service", var.worker_service_dimension, { stat = "Maximum", label = "max" }],
      ]
    },
    {
      title = "Queue wait (ms): p50, p95, max"
      metrics = [
        [local.ns, "QueueWait", "Service", var.worker_service_dimension, { stat = "p50", label = "p50" }],
        [local.ns, "QueueWait", "Service", var.worker_service_dimension, { stat = "p95", label = "p95" }],
        [local.ns, "QueueWait", "Service", var.worker_service_dimension, { stat = "Maximum", label = "max" }],
      ]
    },
  ]

  fleet_widgets = [
    {
      title = "Tasks: desired, running, busy", stat = "Maximum"
      metrics = concat(
        [
          [local.ci, "DesiredTaskCount", "ClusterName", var.cluster_name, "ServiceName", var.service_name, { label = "desired" }],
          [local.ci, "RunningTaskCount", "ClusterName", var.cluster_name, "ServiceName", var.service_name, { label = "running" }],
        ],
        local.scaler ? [[local.ns, "BusyTasks", "ServiceName", var.service_name, { label = "busy (scale-in protected)" }]] : [],
      )
    },
    {
      title = "Instances: desired, in service, pending, draining", stat = "Maximum"
      metrics = [
        [local.asg, "GroupDesiredCapacity", "AutoScalingGroupName", var.asg_name, { label = "desired" }],
        [local.asg, "GroupInServiceInstances", "AutoScalingGroupName", var.asg_name, { label = "in service" }],
        [local.asg, "GroupPendingInstances", "AutoScalingGroupName", var.asg_name, { label = "pending (booting)" }],
        [local.asg, "GroupTerminatingInstances", "AutoScalingGroupName", var.asg_name, { label = "draining (terminating, hook held)" }],
      ]
    },
    {
      title = "Cost proxy: instance-hours per hour, $ per hour", period = 3600
      metrics = [
        [local.asg, "GroupTotalInstances", "AutoScalingGroupName", var.asg_name, { id = "ih", stat = "Average", label = "instance-hours" }],
        [{ id = "usd", expression = "ih * ${var.instance_hour_price}", label = "$ at ${var.instance_hour_price}/instance-hour (scaling.json spot_price_per_hour)" }],
      ]
    },
  ]

  service_widgets = [
    {
      title = "Service CPU and memory (%)", stat = "Average"
      metrics = [
        ["AWS/ECS", "CPUUtilization", "ClusterName", var.cluster_name, "ServiceName", var.service_name, { label = "CPU" }],
        ["AWS/ECS", "MemoryUtilization", "ClusterName", var.cluster_name, "ServiceName", var.service_name, { label = "memory" }],
      ]
      annotations = { horizontal = [{ label = "CPU alarm", value = var.cpu_threshold_percent }] }
    },
    {
      title = "Failures by reason (worker EMF lines, last period)", type = "log"
      query = "SOURCE '${var.worker_log_group_name}' | filter JobsFailed > 0 | stats count(*) as failures by ErrorCode | sort failures desc"
    },
    {
      title = "Faces found per minute", stat = "Sum"
      metrics = [
        [local.ns, "FacesFound", "Service", var.worker_service_dimension, { label = "faces" }],
      ]
    },
  ]

  scaler_widgets = [
    {
      title = "Backlog scaler: what it saw and decided (per poll)", stat = "Maximum"
      metrics = [
        [local.ns, "Visible", "ServiceName", var.service_name, { label = "visible (its poll)" }],
        [local.ns, "InFlight", "ServiceName", var.service_name, { label = "in flight (its poll)" }],
        [local.ns, "WantTasks", "ServiceName", var.service_name, { label = "tasks wanted" }],
        [local.ns, "DesiredTasks", "ServiceName", var.service_name, { label = "desired count set" }],
        [local.ns, "InstancesTerminated", "ServiceName", var.service_name, { stat = "Sum", label = "instances terminated" }],
      ]
    },
    {
      title = "Backlog scaler: invocations, errors, failed polls", stat = "Sum"
      metrics = [
        [local.fn, "Invocations", "FunctionName", var.backlog_scaler_function_name, { label = "invocations" }],
        [local.fn, "Errors", "FunctionName", var.backlog_scaler_function_name, { label = "errors (every poll failed)" }],
        [local.fn, "Throttles", "FunctionName", var.backlog_scaler_function_name, { label = "throttles" }],
        [local.ns, "PollErrors", "ServiceName", var.service_name, { label = "polls skipped" }],
      ]
    },
  ]

  spot_widgets = [
    {
      title = "Spot: interruptions and rebalance recommendations", stacked = true, period = 300, stat = "Sum"
      metrics = [
        [local.ns, "Interruptions", "EventType", "spot-interruption", { label = "interruption notices" }],
        [local.ns, "Interruptions", "EventType", "rebalance-recommendation", { label = "rebalance recommendations" }],
        [local.ns, "Interruptions", "EventType", "terminate-lifecycle", { label = "terminations (lifecycle hook)" }],
      ]
    },
    {
      title = "Spot: drain and task-stop latency (ms)", period = 300, stat = "Maximum"
      metrics = [
        [local.ns, "DrainLatency", "EventType", "spot-interruption", { label = "drain latency" }],
        [local.ns, "TaskStopLatency", "EventType", "terminate-lifecycle", { label = "task stop latency" }],
      ]
    },
    {
      title = "Spot handler: errors and skipped events", period = 300, stat = "Sum"
      metrics = [
        [local.ns, "HandlerErrors", "Transient", "false", { label = "permanent errors (alarm)" }],
        [local.ns, "HandlerErrors", "Transient", "true", { label = "transient errors (retried)" }],
        [local.ns, "EventsSkipped", "Reason", "not-in-cluster", { label = "skipped: not in the cluster" }],
        [local.ns, "EventsSkipped", "Reason", "malformed", { label = "skipped: malformed" }],
      ]
    },
  ]

  # Fixed rows: the row of a part that is not deployed is left out, the others keep their place.
  dashboard_rows = [
    { y = 0, widgets = local.queue_widgets, shown = true },
    { y = 6, widgets = local.job_widgets, shown = true },
    { y = 12, widgets = local.fleet_widgets, shown = true },
    { y = 18, widgets = local.service_widgets, shown = true },
    { y = 24, widgets = local.scaler_widgets, shown = local.scaler },
    { y = 30, widgets = local.spot_widgets, shown = local.spot },
  ]
  dashboard_widgets = flatten([for row in local.dashboard_rows : [for i, w in row.widgets : {
    type       = try(w.type, "metric")
    x          = i * 24 / length(row.widgets), y = row.y, width = 24 / length(row.widgets), height = 6
    properties = { for k, v in merge(local.widget_defaults[try(w.type, "metric")], w) : k => v if k != "type" }
  }] if row.shown])
  dashboard_name = "${var.name}-fleet"
}

resource "aws_cloudwatch_dashboard" "fleet" {
  count          = var.create_dashboard ? 1 : 0
  dashboard_name = local.dashboard_name
  dashboard_body = jsonencode({ widgets = local.dashboard_widgets })
}
