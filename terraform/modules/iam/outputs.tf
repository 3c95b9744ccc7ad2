output "task_execution_role_arn" {
  description = "ARN of the ECS task execution role."
  value       = aws_iam_role.task_execution.arn
}

output "task_role_arn" {
  description = "ARN of the worker task role."
  value       = aws_iam_role.task.arn
}

output "task_role_name" {
  description = "Name of the worker task role (attach extra policies to it)."
  value       = aws_iam_role.task.name
}

output "instance_role_arn" {
  description = "ARN of the ECS instance role."
  value       = aws_iam_role.instance.arn
}

output "instance_profile_name" {
  description = "Name of the ECS instance profile."
  value       = aws_iam_instance_profile.instance.name
}

output "instance_profile_arn" {
  description = "ARN of the ECS instance profile. Available only once the agent's policy is attached, so no instance launches without it."
  value       = aws_iam_instance_profile.instance.arn
  depends_on  = [aws_iam_role_policy.instance]
}

output "spot_handler_policy_json" {
  description = "Inline policy of the Spot handler's role (created beside the function, modules/lambda), or null."
  value       = var.enable_spot_handler ? data.aws_iam_policy_document.spot_handler[0].json : null
}

output "backlog_scaler_policy_json" {
  description = "Inline policy of the backlog scaler's role (created beside the function, modules/lambda), or null."
  value       = var.enable_backlog_scaler ? data.aws_iam_policy_document.backlog_scaler[0].json : null
}

output "backlog_scaler_schedule_role_arn" {
  description = "ARN of the role EventBridge Scheduler invokes the backlog scaler with, or null. Available only once its policy is attached."
  value       = var.enable_backlog_scaler ? aws_iam_role.backlog_scaler_schedule[0].arn : null
  depends_on  = [aws_iam_role_policy.backlog_scaler_schedule]
}

output "producer_policy_json" {
  description = "Identity policy for the job producers (producer_principal_arns): exactly what facerec submit, facerec results and facerec load call, on this deployment's queues, prefixes and key."
  value       = data.aws_iam_policy_document.producer.json
}
