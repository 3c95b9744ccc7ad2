# Alarms: the plan's service CPU alarm, plus the ones that say jobs are in trouble:
# something reached a dead-letter queue, the oldest job waits too long, the Spot
# handler hit an error it will not retry, or the backlog scaler fails or stopped running
# (with it down nothing scales: no other part of the stack sets the task count).

resource "aws_sns_topic" "alarms" {
  # checkov:skip=CKV_AWS_26:Encrypted only with a customer key (kms_key_arn): CloudWatch cannot publish to a topic under the AWS-managed alias/aws/sns key, whose key policy cannot grant it kms:GenerateDataKey*/Decrypt. Alarm notifications carry alarm names and states only.
  count = var.topic_arn == null && var.create_topic ? 1 : 0
  name  = "${var.name}-alarms"
  # The key's policy must allow cloudwatch.amazonaws.com kms:Decrypt and
  # kms:GenerateDataKey* (docs/operations.md, "Alarm topic encryption").
  kms_master_key_id = var.kms_key_arn
}

# Someone to tell: an email subscription (SNS mails a confirmation link first and
# delivers nothing until it is followed).
resource "aws_sns_topic_subscription" "email" {
  count     = var.alarm_email != null && (var.topic_arn != null || var.create_topic) ? 1 : 0
  topic_arn = local.topic_arn
  protocol  = "email"
  endpoint  = var.alarm_email
}

locals {
  topic_arn = var.topic_arn != null ? var.topic_arn : (var.create_topic ? aws_sns_topic.alarms[0].arn : null)
  actions   = local.topic_arn == null ? [] : [local.topic_arn]
  dlqs      = toset(concat([var.dlq_name], var.extra_dlq_names))
}

resource "aws_cloudwatch_metric_alarm" "service_high_cpu" {
  alarm_name          = "${var.name}-service-high-cpu"
  alarm_description   = "Worker service CPU above ${var.cpu_threshold_percent} % for 2 minutes."
  comparison_operator = "GreaterThanThreshold"
  evaluation_periods  = 2
  metric_name         = "CPUUtilization"
  namespace           = "AWS/ECS"
  period              = 60
  statistic           = "Average"
  threshold           = var.cpu_threshold_percent
  # No tasks (scaled to zero) publishes no CPU data; that is not a problem.
  treat_missing_data = "notBreaching"
  alarm_actions      = local.actions
  ok_actions         = local.actions

  dimensions = {
    ClusterName = var.cluster_name
    ServiceName = var.service_name
  }
}

resource "aws_cloudwatch_metric_alarm" "dlq_not_empty" {
  for_each            = local.dlqs
  alarm_name          = "${each.key}-not-empty"
  alarm_description   = "Messages reached ${each.key}; each carries its failure reason as message attributes (see docs/operations.md)."
  comparison_operator = "GreaterThanThreshold"
  evaluation_periods  = 1
  metric_name         = "ApproximateNumberOfMessagesVisible"
  namespace           = "AWS/SQS"
  period              = 300
  statistic           = "Maximum"
  threshold           = 0
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.actions
  ok_actions          = local.actions
  dimensions          = { QueueName = each.key }
}

resource "aws_cloudwatch_metric_alarm" "oldest_job_age" {
  alarm_name          = "${var.name}-oldest-job-age"
  alarm_description   = "The oldest job has waited more than ${var.oldest_message_threshold_seconds} s: the fleet is not keeping up (max_tasks, Spot capacity) or not starting."
  comparison_operator = "GreaterThanThreshold"
  evaluation_periods  = 3
  metric_name         = "ApproximateAgeOfOldestMessage"
  namespace           = "AWS/SQS"
  period              = 60
  statistic           = "Maximum"
  threshold           = var.oldest_message_threshold_seconds
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.actions
  ok_actions          = local.actions
  dimensions          = { QueueName = var.jobs_queue_name }
}

# The handler's permanent errors (access denied, unknown cluster...): those events are
# dropped, not retried, so a configuration or permission problem shows only here.
# crates/spot-handler emits HandlerErrors with the single dimension Transient.
resource "aws_cloudwatch_metric_alarm" "spot_handler_permanent_errors" {
  count               = var.spot_handler_enabled ? 1 : 0
  alarm_name          = "${var.name}-spot-handler-permanent-errors"
  alarm_description   = "The Spot handler failed an event with an error it does not retry (permissions, configuration); see its log group for 'event failed' lines with retried=false."
  comparison_operator = "GreaterThanThreshold"
  evaluation_periods  = 1
  metric_name         = "HandlerErrors"
  namespace           = var.metrics_namespace
  period              = 300
  statistic           = "Sum"
  threshold           = 0
  # No errors publishes no data points.
  treat_missing_data = "notBreaching"
  alarm_actions      = local.actions
  ok_actions         = local.actions
  dimensions         = { Transient = "false" }
}

# The backlog scaler returns an error when every poll of an invocation failed (a poll
# that fails alone is skipped and retried by the next). Three failed minutes in a row
# mean it cannot see or act: permissions, a deleted resource, AWS trouble.
resource "aws_cloudwatch_metric_alarm" "backlog_scaler_errors" {
  count               = var.backlog_scaler_function_name == null ? 0 : 1
  alarm_name          = "${var.name}-backlog-scaler-errors"
  alarm_description   = "The backlog scaler failed every poll for 3 minutes in a row: the fleet is not being scaled. See its log group (/aws/lambda/${coalesce(var.backlog_scaler_function_name, "none")})."
  comparison_operator = "GreaterThanOrEqualToThreshold"
  evaluation_periods  = 3
  datapoints_to_alarm = 3
  metric_name         = "Errors"
  namespace           = "AWS/Lambda"
  period              = 60
  statistic           = "Sum"
  threshold           = 1
  # No invocation publishes no Errors: the not-running alarm covers that.
  treat_missing_data = "notBreaching"
  alarm_actions      = local.actions
  ok_actions         = local.actions
  dimensions         = { FunctionName = coalesce(var.backlog_scaler_function_name, "none") }
}

# Runs that never start raise no Errors: a disabled schedule, a schedule role that may not
# invoke, reserved concurrency 0 (paused), a throttled account. The schedule starts one
# invocation a minute; three minutes without any is never normal.
resource "aws_cloudwatch_metric_alarm" "backlog_scaler_not_running" {
  count               = var.backlog_scaler_function_name == null ? 0 : 1
  alarm_name          = "${var.name}-backlog-scaler-not-running"
  alarm_description   = "The backlog scaler has not run for 3 minutes: the fleet is not being scaled (schedule disabled or unable to invoke, reserved concurrency 0, throttling)."
  comparison_operator = "LessThanThreshold"
  evaluation_periods  = 3
  datapoints_to_alarm = 3
  metric_name         = "Invocations"
  namespace           = "AWS/Lambda"
  period              = 60
  statistic           = "Sum"
  threshold           = 1
  # Lambda publishes nothing for a function that does not run.
  treat_missing_data = "breaching"
  alarm_actions      = local.actions
  ok_actions         = local.actions
  dimensions         = { FunctionName = coalesce(var.backlog_scaler_function_name, "none") }
}
