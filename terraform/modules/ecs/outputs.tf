output "cluster_name" {
  description = "Name of the ECS cluster."
  value       = aws_ecs_cluster.this.name
}

output "cluster_arn" {
  description = "ARN of the ECS cluster."
  value       = aws_ecs_cluster.this.arn
}

output "service_name" {
  description = "Name of the worker service."
  value       = aws_ecs_service.worker.name
}

output "service_id" {
  description = "ID (ARN) of the worker service."
  value       = aws_ecs_service.worker.id
}

output "capacity_provider_name" {
  description = "Name of the capacity provider."
  value       = aws_ecs_capacity_provider.this.name
}

output "task_definition_arn" {
  description = "ARN (with revision) of the worker task definition."
  value       = aws_ecs_task_definition.worker.arn
}

output "task_definition_family" {
  description = "Family of the worker task definition."
  value       = aws_ecs_task_definition.worker.family
}

output "log_group_name" {
  description = "Log group of the worker containers."
  value       = aws_cloudwatch_log_group.worker.name
}

output "log_group_arn" {
  description = "ARN of the worker log group."
  value       = aws_cloudwatch_log_group.worker.arn
}

output "capacity_provider_management" {
  description = "What ECS manages for the capacity provider's group: managed scaling, managed termination protection, managed draining (ENABLED/DISABLED each)."
  value = {
    managed_scaling                = one(aws_ecs_capacity_provider.this.auto_scaling_group_provider[0].managed_scaling).status
    managed_termination_protection = aws_ecs_capacity_provider.this.auto_scaling_group_provider[0].managed_termination_protection
    managed_draining               = aws_ecs_capacity_provider.this.auto_scaling_group_provider[0].managed_draining
  }
}

output "task_cpu" {
  description = "The task definition's CPU units."
  value       = aws_ecs_task_definition.worker.cpu
}

output "task_memory" {
  description = "The task definition's hard memory limit (MiB)."
  value       = aws_ecs_task_definition.worker.memory
}
