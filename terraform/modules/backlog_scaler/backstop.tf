# The backstop: scales the fleet OUT while the scaler is silent (stopped, throttled,
# failing every poll, a bad deploy, reserved concurrency 0), and never acts while it runs.
# KEDA's ScaledObject `fallback` is the model: a safe replica count when the scaler
# cannot read its metric (https://keda.sh/docs/2.x/reference/scaledobject-spec/#fallback).
# The simulator models exactly this (crates/fleet-sim/src/backstop.rs; docs/scaling.md,
# "When the scaler stops: the backstop").
#
# - Heartbeat: the SampleCount of the scaler's own DesiredTasks EMF metric, one sample
#   per successful poll. No sample for a minute = the scaler did not act in it.
# - Tasks: while jobs are visible and no heartbeat for 3 minutes in a row, a step policy
#   adds tasks to the service (the wake policy's steps: +1 per T visible jobs, capped).
# - Instances: while the scaler is silent and the group's desired capacity is below the
#   service's desired count, a step policy adds the instances it lacks (one task per
#   instance). The group follows the service.
#
# Never fights the scaler: both expressions are 0 while the heartbeat has samples, and
# both policies are ChangeInCapacity with positive steps only: they add, never remove.
# The scaler, back, removes what it does not need. What the backstop cannot do is scale
# in: every instance is protected from scale-in, and a group whose instances are all
# protected terminates none on a scale-in
# (https://docs.aws.amazon.com/autoscaling/ec2/userguide/ec2-auto-scaling-instance-protection.html),
# so a frozen fleet keeps its instances until the scaler returns (the not-running and
# errors alarms of modules/monitoring page after 3 minutes).
#
# Auto Scaling alarm actions are invoked again every minute the alarm stays in ALARM
# (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/alarm-actions.html):
# a backlog that persists adds a step per cooldown, up to max_tasks.

locals {
  backstop_resource_id = "service/${var.cluster_name}/${var.service_name}"
  # Silent minutes before the tasks policy acts: as the not-running alarm, so one missed
  # schedule tick or a slow cold start never triggers it.
  backstop_silent_minutes = 3
  # A step's effect must show in the tasks alarm's data before the next step: the
  # instances alarm's minute and the ~120 s until CloudWatch has it (docs/scaling.md,
  # "CloudWatch delay"), a cold start, then the tasks alarm's minute and delay. Shorter,
  # and stale datapoints add a task per cooldown to a single job.
  backstop_cooldown_seconds = var.cold_start_seconds + 360
  backstop_steps = [
    for i in range(min(var.max_tasks, 10)) : {
      lower      = i * var.jobs_per_task_within_latency
      upper      = i == min(var.max_tasks, 10) - 1 ? null : (i + 1) * var.jobs_per_task_within_latency
      adjustment = i + 1
    }
  ]
  # The group's steps: +k instances when it lacks k (threshold 0.5, so k is in
  # [k - 0.5, k + 0.5) above it); the last step is open-ended.
  backstop_group_steps = [
    for i in range(var.max_tasks) : {
      lower      = i
      upper      = i == var.max_tasks - 1 ? null : i + 1
      adjustment = i + 1
    }
  ]
  heartbeat_metric = {
    namespace   = var.metrics_namespace
    metric_name = "DesiredTasks"
    dimensions  = { ServiceName = var.service_name }
  }
}

# The service's desired count as an Application Auto Scaling target, for the backstop's
# step policy alone. A scalable target changes no capacity by itself; the scaler keeps
# the desired count within [min_tasks, max_tasks], the same bounds.
resource "aws_appautoscaling_target" "backstop" {
  count              = var.backstop_enabled ? 1 : 0
  service_namespace  = "ecs"
  scalable_dimension = "ecs:service:DesiredCount"
  resource_id        = local.backstop_resource_id
  min_capacity       = var.min_tasks
  max_capacity       = var.max_tasks
}

resource "aws_appautoscaling_policy" "backstop_tasks" {
  count              = var.backstop_enabled ? 1 : 0
  name               = "${var.function_name}-backstop-tasks"
  policy_type        = "StepScaling"
  service_namespace  = aws_appautoscaling_target.backstop[0].service_namespace
  scalable_dimension = aws_appautoscaling_target.backstop[0].scalable_dimension
  resource_id        = aws_appautoscaling_target.backstop[0].resource_id

  step_scaling_policy_configuration {
    adjustment_type         = "ChangeInCapacity"
    cooldown                = local.backstop_cooldown_seconds
    metric_aggregation_type = "Maximum"

    dynamic "step_adjustment" {
      for_each = local.backstop_steps
      content {
        metric_interval_lower_bound = step_adjustment.value.lower
        metric_interval_upper_bound = step_adjustment.value.upper
        scaling_adjustment          = step_adjustment.value.adjustment
      }
    }
  }
}

resource "aws_autoscaling_policy" "backstop_instances" {
  count                  = var.backstop_enabled ? 1 : 0
  name                   = "${var.function_name}-backstop-instances"
  autoscaling_group_name = var.asg_name
  policy_type            = "StepScaling"
  adjustment_type        = "ChangeInCapacity"
  # Instances launched by the previous step count toward the next one until the alarm
  # can have seen them.
  estimated_instance_warmup = local.backstop_cooldown_seconds
  metric_aggregation_type   = "Maximum"

  dynamic "step_adjustment" {
    for_each = local.backstop_group_steps
    content {
      metric_interval_lower_bound = step_adjustment.value.lower
      metric_interval_upper_bound = step_adjustment.value.upper
      scaling_adjustment          = step_adjustment.value.adjustment
    }
  }
}

resource "aws_cloudwatch_metric_alarm" "backstop_tasks" {
  count               = var.backstop_enabled ? 1 : 0
  alarm_name          = "${var.function_name}-backstop-tasks"
  alarm_description   = "Backstop: jobs are waiting and the backlog scaler has not polled for ${local.backstop_silent_minutes} minutes; adds tasks to ${var.service_name} (never removes any)."
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  evaluation_periods  = local.backstop_silent_minutes
  datapoints_to_alarm = local.backstop_silent_minutes
  # The expression always has data (FILL); missing would only mean CloudWatch itself is out.
  treat_missing_data = "notBreaching"
  alarm_actions      = [aws_appautoscaling_policy.backstop_tasks[0].arn]

  metric_query {
    id = "heartbeat"
    metric {
      namespace   = local.heartbeat_metric.namespace
      metric_name = local.heartbeat_metric.metric_name
      dimensions  = local.heartbeat_metric.dimensions
      period      = 60
      stat        = "SampleCount"
    }
  }

  metric_query {
    id = "visible"
    metric {
      namespace   = "AWS/SQS"
      metric_name = "ApproximateNumberOfMessagesVisible"
      dimensions  = { QueueName = var.queue_name }
      period      = 60
      stat        = "Maximum"
    }
  }

  metric_query {
    id          = "backstop"
    label       = "Jobs visible while the scaler is silent"
    expression  = "IF(FILL(heartbeat, 0) == 0, FILL(visible, 0), 0)"
    return_data = true
  }
}

resource "aws_cloudwatch_metric_alarm" "backstop_instances" {
  count               = var.backstop_enabled ? 1 : 0
  alarm_name          = "${var.function_name}-backstop-instances"
  alarm_description   = "Backstop: the backlog scaler is silent and ${var.asg_name} has fewer instances than ${var.service_name} wants tasks; adds the instances it lacks (never removes any)."
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0.5
  # One datapoint: a live scaler never leaves the group below the service.
  evaluation_periods  = 1
  datapoints_to_alarm = 1
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_autoscaling_policy.backstop_instances[0].arn]

  metric_query {
    id = "heartbeat"
    metric {
      namespace   = local.heartbeat_metric.namespace
      metric_name = local.heartbeat_metric.metric_name
      dimensions  = local.heartbeat_metric.dimensions
      period      = 60
      stat        = "SampleCount"
    }
  }

  metric_query {
    id = "desired"
    metric {
      namespace   = "ECS/ContainerInsights"
      metric_name = "DesiredTaskCount"
      dimensions  = { ClusterName = var.cluster_name, ServiceName = var.service_name }
      period      = 60
      stat        = "Maximum"
    }
  }

  metric_query {
    id = "group"
    metric {
      namespace   = "AWS/AutoScaling"
      metric_name = "GroupDesiredCapacity"
      dimensions  = { AutoScalingGroupName = var.asg_name }
      period      = 60
      stat        = "Minimum"
    }
  }

  metric_query {
    id          = "lacking"
    label       = "Instances the group lacks while the scaler is silent"
    expression  = "IF(FILL(heartbeat, 0) == 0, FILL(desired, 0) - FILL(group, 0), 0)"
    return_data = true
  }
}
