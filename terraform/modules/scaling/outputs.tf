output "scalable_target_resource_id" {
  description = "Application Auto Scaling resource ID of the service."
  value       = aws_appautoscaling_target.service.resource_id
}

output "tasks_needed_policy_arn" {
  description = "ARN of the tasks-needed target tracking policy."
  value       = aws_appautoscaling_policy.tasks_needed.arn
}

output "wake_policy_arn" {
  description = "ARN of the wake-from-zero step policy."
  value       = aws_appautoscaling_policy.wake.arn
}

output "sleep_policy_arn" {
  description = "ARN of the sleep-to-zero step policy."
  value       = aws_appautoscaling_policy.sleep.arn
}

output "wake_alarm_arn" {
  description = "ARN of the wake alarm."
  value       = aws_cloudwatch_metric_alarm.wake.arn
}

output "sleep_alarm_arn" {
  description = "ARN of the sleep alarm."
  value       = aws_cloudwatch_metric_alarm.sleep.arn
}
