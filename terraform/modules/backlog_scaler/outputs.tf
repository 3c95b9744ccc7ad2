output "function_name" {
  description = "Name of the backlog scaler function."
  value       = module.function.function_name
}

output "function_arn" {
  description = "ARN of the backlog scaler function."
  value       = module.function.function_arn
}

output "log_group_name" {
  description = "Log group of the function."
  value       = module.function.log_group_name
}

output "state_parameter_name" {
  description = "SSM parameter holding the scaler's state."
  value       = aws_ssm_parameter.state.name
}

output "schedule_name" {
  description = "EventBridge Scheduler schedule invoking the function."
  value       = aws_scheduler_schedule.this.name
}

output "metrics_namespace" {
  description = "CloudWatch namespace of the function's EMF metrics."
  value       = var.metrics_namespace
}

output "environment" {
  description = "Environment of the function (what crates/backlog-scaler is configured with)."
  value       = module.function.function.environment[0].variables
}

output "reserved_concurrency" {
  description = "Concurrency reserved for the function, or null (unreserved)."
  value       = var.reserved_concurrency
}

output "role_arn" {
  description = "ARN of the backlog scaler's execution role."
  value       = module.function.role_arn
}

output "backstop_alarm_names" {
  description = "The backstop's alarms (tasks, instances); empty without the backstop."
  value = var.backstop_enabled ? {
    tasks     = aws_cloudwatch_metric_alarm.backstop_tasks[0].alarm_name
    instances = aws_cloudwatch_metric_alarm.backstop_instances[0].alarm_name
  } : {}
}

output "backstop_policy_arns" {
  description = "The backstop's step policies (tasks: Application Auto Scaling on the service; instances: EC2 Auto Scaling on the group); empty without the backstop."
  value = var.backstop_enabled ? {
    tasks     = aws_appautoscaling_policy.backstop_tasks[0].arn
    instances = aws_autoscaling_policy.backstop_instances[0].arn
  } : {}
}
