# Backlog autoscaling of the worker service: target tracking on tasks needed, a wake
# step policy for 0 -> N, and a sleep step policy for N -> 0.
#
# Deviation from the plan: SQSQueueMessagesVisiblePerTask is not a predefined metric of
# Application Auto Scaling (ECS has ECSServiceAverageCPUUtilization,
# ECSServiceAverageMemoryUtilization and ALBRequestCountPerTarget only), so the plan's
# policy is rejected. We compute the same quantity with metric math. And since
# target tracking multiplies the current capacity by metric/target, it can never move a
# service off zero tasks: the wake policy does that.

locals {
  resource_id = "service/${var.cluster_name}/${var.service_name}"

  # Coefficients of the tasks-needed expression, rounded so the expression is stable text.
  arrival_coefficient = format("%.6f", var.job_seconds / 60)
  backlog_coefficient = format("%.6f", var.job_seconds / var.acceptable_latency_seconds)

  # Wake steps: visible messages in [i*T, (i+1)*T) start i+1 tasks, capped at max_tasks,
  # so a spike from zero is not served one task per cooldown.
  wake_steps = [
    for i in range(min(var.max_tasks, 10)) : {
      lower      = i * var.jobs_per_task_within_latency
      upper      = i == min(var.max_tasks, 10) - 1 ? null : (i + 1) * var.jobs_per_task_within_latency
      adjustment = i + 1
    }
  ]
}

resource "aws_appautoscaling_target" "service" {
  service_namespace  = "ecs"
  scalable_dimension = "ecs:service:DesiredCount"
  resource_id        = local.resource_id
  min_capacity       = var.min_tasks
  max_capacity       = var.max_tasks
}

# --- 1. Target tracking: tasks needed per desired task ------------------------------
# A task clears one job every job_seconds. To keep up with arrivals it takes
# sent/60 * job_seconds tasks; to clear the visible backlog within acceptable_latency it
# takes visible * job_seconds / acceptable_latency more. Dividing by the desired count
# gives a utilisation that target tracking can hold at target_utilization: unlike queue
# length per task, it falls in proportion as tasks are added, which is what target
# tracking's arithmetic (new = current * metric / target) assumes. The fleet simulator
# (docs/scaling.md) shows why visible-per-running-task stalls at zero desired tasks.
resource "aws_appautoscaling_policy" "tasks_needed" {
  name               = "${var.name}-tasks-needed"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.service.service_namespace
  scalable_dimension = aws_appautoscaling_target.service.scalable_dimension
  resource_id        = aws_appautoscaling_target.service.resource_id

  target_tracking_scaling_policy_configuration {
    target_value       = var.target_utilization
    scale_out_cooldown = var.scale_out_cooldown_seconds
    scale_in_cooldown  = var.scale_in_cooldown_seconds

    customized_metric_specification {
      metrics {
        id          = "sent"
        return_data = false
        metric_stat {
          stat = "Sum"
          metric {
            namespace   = "AWS/SQS"
            metric_name = "NumberOfMessagesSent"
            dimensions {
              name  = "QueueName"
              value = var.queue_name
            }
          }
        }
      }

      metrics {
        id          = "visible"
        return_data = false
        metric_stat {
          stat = "Average"
          metric {
            namespace   = "AWS/SQS"
            metric_name = "ApproximateNumberOfMessagesVisible"
            dimensions {
              name  = "QueueName"
              value = var.queue_name
            }
          }
        }
      }

      metrics {
        id          = "desired"
        return_data = false
        metric_stat {
          stat = "Average"
          metric {
            namespace   = "ECS/ContainerInsights"
            metric_name = "DesiredTaskCount"
            dimensions {
              name  = "ClusterName"
              value = var.cluster_name
            }
            dimensions {
              name  = "ServiceName"
              value = var.service_name
            }
          }
        }
      }

      metrics {
        id          = "needed"
        label       = "Tasks needed for arrivals and backlog"
        return_data = false
        expression  = "FILL(sent, 0) * ${local.arrival_coefficient} + FILL(visible, 0) * ${local.backlog_coefficient}"
      }

      metrics {
        id          = "needed_per_task"
        label       = "Tasks needed per desired task"
        return_data = true
        expression  = "IF(FILL(desired, 0) > 0, needed / FILL(desired, 0), needed)"
      }
    }
  }
}

# --- 2. Wake: 0 -> N when jobs are visible and no task runs -------------------------
resource "aws_appautoscaling_policy" "wake" {
  name               = "${var.name}-wake-from-zero"
  policy_type        = "StepScaling"
  service_namespace  = aws_appautoscaling_target.service.service_namespace
  scalable_dimension = aws_appautoscaling_target.service.scalable_dimension
  resource_id        = aws_appautoscaling_target.service.resource_id

  step_scaling_policy_configuration {
    adjustment_type         = "ChangeInCapacity"
    cooldown                = var.scale_out_cooldown_seconds
    metric_aggregation_type = "Maximum"

    dynamic "step_adjustment" {
      for_each = local.wake_steps
      content {
        metric_interval_lower_bound = step_adjustment.value.lower
        metric_interval_upper_bound = step_adjustment.value.upper
        scaling_adjustment          = step_adjustment.value.adjustment
      }
    }
  }
}

resource "aws_cloudwatch_metric_alarm" "wake" {
  alarm_name          = "${var.name}-wake-from-zero"
  alarm_description   = "Jobs are visible and the service wants no task: start tasks (target tracking cannot act from zero)."
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  evaluation_periods  = 1
  datapoints_to_alarm = 1
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_appautoscaling_policy.wake.arn]

  metric_query {
    id = "visible"
    metric {
      namespace   = "AWS/SQS"
      metric_name = "ApproximateNumberOfMessagesVisible"
      period      = var.metric_period_seconds
      stat        = "Maximum"
      dimensions  = { QueueName = var.queue_name }
    }
  }

  # DesiredTaskCount, not RunningTaskCount: a task takes minutes to start running, and
  # an alarm on running tasks would keep adding tasks until max_tasks meanwhile.
  metric_query {
    id = "desired"
    metric {
      namespace   = "ECS/ContainerInsights"
      metric_name = "DesiredTaskCount"
      period      = var.metric_period_seconds
      stat        = "Maximum"
      dimensions  = { ClusterName = var.cluster_name, ServiceName = var.service_name }
    }
  }

  metric_query {
    id          = "visible_while_idle"
    label       = "Visible jobs while no task runs"
    expression  = "IF(FILL(desired, 0) == 0, visible, 0)"
    return_data = true
  }
}

# --- 3. Sleep: N -> 0 when nothing is visible and nothing is in flight --------------
resource "aws_appautoscaling_policy" "sleep" {
  name               = "${var.name}-sleep-to-zero"
  policy_type        = "StepScaling"
  service_namespace  = aws_appautoscaling_target.service.service_namespace
  scalable_dimension = aws_appautoscaling_target.service.scalable_dimension
  resource_id        = aws_appautoscaling_target.service.resource_id

  step_scaling_policy_configuration {
    adjustment_type         = "ExactCapacity"
    cooldown                = var.scale_in_cooldown_seconds
    metric_aggregation_type = "Maximum"

    step_adjustment {
      metric_interval_upper_bound = 0
      scaling_adjustment          = var.min_tasks
    }
  }
}

resource "aws_cloudwatch_metric_alarm" "sleep" {
  alarm_name          = "${var.name}-sleep-to-zero"
  alarm_description   = "No job visible or in flight for ${var.scale_to_zero_idle_minutes} minutes: scale the service to min_tasks. In-flight jobs count, so no busy task is removed."
  comparison_operator = "LessThanOrEqualToThreshold"
  threshold           = 0
  evaluation_periods  = var.scale_to_zero_idle_minutes
  datapoints_to_alarm = var.scale_to_zero_idle_minutes
  # SQS stops publishing metrics for a queue inactive for 6 hours: no data means idle.
  treat_missing_data = "breaching"
  alarm_actions      = [aws_appautoscaling_policy.sleep.arn]

  metric_query {
    id = "visible"
    metric {
      namespace   = "AWS/SQS"
      metric_name = "ApproximateNumberOfMessagesVisible"
      period      = var.metric_period_seconds
      stat        = "Maximum"
      dimensions  = { QueueName = var.queue_name }
    }
  }

  metric_query {
    id = "in_flight"
    metric {
      namespace   = "AWS/SQS"
      metric_name = "ApproximateNumberOfMessagesNotVisible"
      period      = var.metric_period_seconds
      stat        = "Maximum"
      dimensions  = { QueueName = var.queue_name }
    }
  }

  metric_query {
    id          = "outstanding"
    label       = "Jobs visible or in flight"
    expression  = "visible + in_flight"
    return_data = true
  }
}
