# Everything a caller, an operator or the `facerec` CLI needs.

output "aws_region" {
  description = "Region of the deployment."
  value       = var.aws_region
}

output "cluster_name" {
  description = "ECS cluster name."
  value       = module.ecs.cluster_name
}

output "cluster_arn" {
  description = "ECS cluster ARN."
  value       = module.ecs.cluster_arn
}

output "service_name" {
  description = "Worker service name."
  value       = module.ecs.service_name
}

output "capacity_provider_name" {
  description = "Capacity provider of the worker service."
  value       = module.ecs.capacity_provider_name
}

output "capacity_provider_management" {
  description = "What ECS manages for the worker group: managed scaling and managed termination protection (ENABLED in alarms mode, DISABLED with the backlog scaler), managed draining (always ENABLED)."
  value       = module.ecs.capacity_provider_management
}

output "task_definition_arn" {
  description = "Worker task definition ARN, with revision."
  value       = module.ecs.task_definition_arn
}

output "worker_image" {
  description = "Image the workers run, pinned by digest."
  value       = local.worker_image
}

output "worker_environment" {
  description = "Environment of the worker container (what the worker is configured with)."
  value       = local.worker_environment
}

output "worker_log_group_name" {
  description = "CloudWatch log group of the workers."
  value       = module.ecs.log_group_name
}

output "jobs_queue_url" {
  description = "Send jobs here (facerec submit --queue-url)."
  value       = module.sqs.jobs_queue_url
}

output "jobs_queue_arn" {
  description = "ARN of the jobs queue (grant producers sqs:SendMessage on it)."
  value       = module.sqs.jobs_queue_arn
}

output "dlq_url" {
  description = "Dead-letter queue of failed jobs."
  value       = module.sqs.dlq_url
}

output "dlq_arn" {
  description = "ARN of the dead-letter queue."
  value       = module.sqs.dlq_arn
}

output "results_queue_url" {
  description = "Results queue (facerec results --queue-url), or null."
  value       = module.sqs.results_queue_url
}

output "results_queue_arn" {
  description = "ARN of the results queue, or null."
  value       = module.sqs.results_queue_arn
}

output "visibility_timeout_seconds" {
  description = "Visibility timeout of the jobs queue."
  value       = local.visibility_timeout_seconds
}

output "asg_name" {
  description = "Auto Scaling group of the Spot instances."
  value       = module.asg.asg_name
}

output "asg_arn" {
  description = "ARN of the Auto Scaling group."
  value       = module.asg.asg_arn
}

output "launch_template_id" {
  description = "Launch template of the Spot instances."
  value       = module.asg.launch_template_id
}

output "ami_id" {
  description = "ECS-optimized AMI in use."
  value       = module.asg.ami_id
}

output "task_role_arn" {
  description = "Worker task role (attach extra permissions here)."
  value       = module.iam.task_role_arn
}

output "task_execution_role_arn" {
  description = "Task execution role."
  value       = module.iam.task_execution_role_arn
}

output "instance_role_arn" {
  description = "ECS instance role."
  value       = module.iam.instance_role_arn
}

output "instance_profile_name" {
  description = "ECS instance profile."
  value       = module.iam.instance_profile_name
}

output "spot_handler_role_arn" {
  description = "Spot handler Lambda role, or null."
  value       = var.enable_spot_handler ? module.spot_handler[0].role_arn : null
}

output "spot_handler_function_name" {
  description = "Spot handler Lambda, or null."
  value       = var.enable_spot_handler ? module.spot_handler[0].function_name : null
}

output "spot_handler_function_arn" {
  description = "ARN of the Spot handler Lambda, or null."
  value       = var.enable_spot_handler ? module.spot_handler[0].function_arn : null
}

output "spot_events_queue_url" {
  description = "Queue buffering Spot interruption warnings and rebalance recommendations for the handler, or null."
  value       = var.enable_spot_handler ? module.spot_handler[0].events_queue_url : null
}

output "lifecycle_events_queue_url" {
  description = "Queue buffering termination lifecycle actions for the handler, or null."
  value       = var.enable_spot_handler ? module.spot_handler[0].lifecycle_events_queue_url : null
}

output "spot_events_dlq_url" {
  description = "Dead-letter queue of events the handler failed on or EventBridge could not deliver, or null."
  value       = var.enable_spot_handler ? module.spot_handler[0].events_dlq_url : null
}

output "spot_event_rule_arns" {
  description = "EventBridge rules feeding the handler, by purpose."
  value       = var.enable_spot_handler ? module.spot_handler[0].event_rule_arns : {}
}

output "lifecycle_hook_name" {
  description = "ASG termination lifecycle hook completed by the handler, or null."
  value       = var.enable_spot_handler ? module.spot_handler[0].lifecycle_hook_name : null
}

output "scaling" {
  description = "Effective scaling parameters (terraform/scaling.json merged with variables) and the derived jobs per task within the latency; the fleet simulator reads the same values."
  value       = merge(local.scaling, { jobs_per_task_within_latency = local.jobs_per_task_within_latency, visibility_timeout_seconds = local.visibility_timeout_seconds })
}

output "scaling_mode" {
  description = "Who scales the fleet: backlog_scaler (a Lambda) or alarms (Application Auto Scaling over ECS managed scaling)."
  value       = var.scaling_mode
}

output "scaling_policy_arns" {
  description = "Application Auto Scaling policies (alarms mode): tasks-needed target tracking, wake from zero, sleep to zero; null with the backlog scaler."
  value = local.backlog_scaler ? null : {
    tasks_needed = module.scaling[0].tasks_needed_policy_arn
    wake         = module.scaling[0].wake_policy_arn
    sleep        = module.scaling[0].sleep_policy_arn
  }
}

output "backlog_scaler_function_name" {
  description = "Backlog scaler Lambda, or null (alarms mode)."
  value       = local.backlog_scaler ? module.backlog_scaler[0].function_name : null
}

output "backlog_scaler_function_arn" {
  description = "ARN of the backlog scaler Lambda, or null."
  value       = local.backlog_scaler ? module.backlog_scaler[0].function_arn : null
}

output "backlog_scaler_log_group_name" {
  description = "Log group of the backlog scaler, or null."
  value       = local.backlog_scaler ? module.backlog_scaler[0].log_group_name : null
}

output "backlog_scaler_state_parameter_name" {
  description = "SSM parameter holding the backlog scaler's state, or null. Delete its value (put \"{}\") to make the scaler start fresh."
  value       = local.backlog_scaler ? module.backlog_scaler[0].state_parameter_name : null
}

output "backlog_scaler_schedule_name" {
  description = "EventBridge Scheduler schedule invoking the backlog scaler every minute, or null."
  value       = local.backlog_scaler ? module.backlog_scaler[0].schedule_name : null
}

output "backlog_scaler_environment" {
  description = "Environment of the backlog scaler Lambda (what it is configured with), or null."
  value       = local.backlog_scaler ? module.backlog_scaler[0].environment : null
}

output "backlog_scaler_role_arn" {
  description = "Backlog scaler Lambda role, or null."
  value       = local.backlog_scaler ? module.backlog_scaler[0].role_arn : null
}

output "alarm_arns" {
  description = "CloudWatch alarms, by name."
  value = merge(
    module.monitoring.alarm_arns,
    { for s in module.scaling : "wake_from_zero" => s.wake_alarm_arn },
    { for s in module.scaling : "sleep_to_zero" => s.sleep_alarm_arn },
  )
}

output "alarm_topic_arn" {
  description = "SNS topic of the alarms, or null."
  value       = module.monitoring.alarm_topic_arn
}

output "producer_policy_json" {
  description = "IAM policy (JSON) for the job producers: exactly what facerec submit, facerec results and facerec load call on this deployment (jobs and results queues, the first input prefix, the result prefix, the queue key). Attach it to each principal of producer_principal_arns (docs/operations.md, \"Producers\")."
  value       = module.iam.producer_policy_json
}

output "dashboard_url" {
  description = "Console URL of the fleet's CloudWatch dashboard (null with create_dashboard = false)."
  value       = module.monitoring.dashboard_url
}

output "result_lifecycle_rule" {
  description = "The S3 lifecycle rule that expires results after result_expiration_days, in the API's JSON form, for a bucket whose lifecycle you manage yourself (null without result_s3_prefix)."
  value       = local.result_lifecycle_rule == null ? null : jsonencode(local.result_lifecycle_rule)
}
