output "alarm_topic_arn" {
  description = "SNS topic receiving the alarms, or null."
  value       = local.topic_arn
}

output "alarm_arns" {
  description = "ARNs of the alarms, by name."
  value = merge(
    {
      service_high_cpu = aws_cloudwatch_metric_alarm.service_high_cpu.arn
      oldest_job_age   = aws_cloudwatch_metric_alarm.oldest_job_age.arn
    },
    { for k, a in aws_cloudwatch_metric_alarm.dlq_not_empty : "dlq_not_empty:${k}" => a.arn },
    { for a in aws_cloudwatch_metric_alarm.spot_handler_permanent_errors : "spot_handler_permanent_errors" => a.arn },
    { for a in aws_cloudwatch_metric_alarm.backlog_scaler_errors : "backlog_scaler_errors" => a.arn },
    { for a in aws_cloudwatch_metric_alarm.backlog_scaler_not_running : "backlog_scaler_not_running" => a.arn },
  )
}

output "alarm_actions" {
  description = "Each alarm's alarm actions, by alarm name (empty without a topic)."
  value = merge(
    {
      service_high_cpu = aws_cloudwatch_metric_alarm.service_high_cpu.alarm_actions
      oldest_job_age   = aws_cloudwatch_metric_alarm.oldest_job_age.alarm_actions
    },
    { for k, a in aws_cloudwatch_metric_alarm.dlq_not_empty : "dlq_not_empty:${k}" => a.alarm_actions },
    { for a in aws_cloudwatch_metric_alarm.spot_handler_permanent_errors : "spot_handler_permanent_errors" => a.alarm_actions },
    { for a in aws_cloudwatch_metric_alarm.backlog_scaler_errors : "backlog_scaler_errors" => a.alarm_actions },
    { for a in aws_cloudwatch_metric_alarm.backlog_scaler_not_running : "backlog_scaler_not_running" => a.alarm_actions },
  )
}

output "email_subscription_arn" {
  description = "The alarm_email subscription, or null."
  value       = one(aws_sns_topic_subscription.email[*].arn)
}

output "dashboard_name" {
  description = "The fleet's CloudWatch dashboard, or null."
  value       = one(aws_cloudwatch_dashboard.fleet[*].dashboard_name)
}

output "dashboard_url" {
  description = "Console URL of the fleet's dashboard, or null."
  value       = var.create_dashboard ? "https://${var.region}.console.aws.amazon.com/cloudwatch/home?region=${var.region}#dashboards/dashboard/${local.dashboard_name}" : null
}

output "dashboard_body" {
  description = "The dashboard's JSON body, or null."
  value       = one(aws_cloudwatch_dashboard.fleet[*].dashboard_body)
}
