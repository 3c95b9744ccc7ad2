variable "name" {
  description = "Name prefix for the roles."
  type        = string
}

variable "cluster_name" {
  description = "ECS cluster the task role may protect its own tasks in."
  type        = string
}

variable "asg_name" {
  description = "Auto Scaling group whose lifecycle actions the Spot handler completes and whose capacity the backlog scaler sets."
  type        = string
}

variable "service_name" {
  description = "Worker service whose desired count the backlog scaler sets."
  type        = string
}

variable "jobs_queue_arn" {
  description = "Jobs queue the workers consume."
  type        = string
}

variable "dlq_arn" {
  description = "Dead-letter queue the workers move malformed jobs to."
  type        = string
}

variable "results_queue_arn" {
  description = "Results queue the workers publish to, or null."
  type        = string
  default     = null
}

variable "sqs_kms_key_arn" {
  description = "KMS key encrypting the queues, or null for SSE-SQS."
  type        = string
  default     = null
}

variable "input_s3_prefixes" {
  description = "s3://bucket/prefix locations the workers may read."
  type        = list(string)
  default     = []
}

variable "result_s3_prefix" {
  description = "s3://bucket/prefix the workers may write results to, or null."
  type        = string
  default     = null
}

variable "ecr_repository_arn" {
  description = "ECR repository the execution role may pull the worker image from (this account's or another's; another account's repository policy must also allow the pull). null: the image is not in ECR, and the role gets no ECR access."
  type        = string
  default     = null
}

variable "worker_log_group_name" {
  description = "Log group the worker containers write to (created by the ecs module; named here to avoid a dependency cycle)."
  type        = string
}

variable "enable_spot_handler" {
  description = "Write the Spot handler's role policy (output spot_handler_policy_json)."
  type        = bool
  default     = true
}

variable "spot_handler_function_name" {
  description = "Name of the Spot handler Lambda (its log group is /aws/lambda/NAME)."
  type        = string
  default     = null
}

variable "spot_events_queue_name" {
  description = "Name of the queue the Spot handler consumes EC2's Spot warnings and rebalance recommendations from."
  type        = string
  default     = null
}

variable "lifecycle_events_queue_name" {
  description = "Name of the queue the Spot handler consumes termination lifecycle actions from."
  type        = string
  default     = null
}

variable "enable_backlog_scaler" {
  description = "Write the backlog scaler's role policy (output backlog_scaler_policy_json) and create its schedule's role."
  type        = bool
  default     = true
}

variable "backlog_scaler_function_name" {
  description = "Name of the backlog scaler Lambda (its log group is /aws/lambda/NAME)."
  type        = string
  default     = null
}

variable "backlog_scaler_state_parameter_name" {
  description = "Name of the SSM parameter holding the backlog scaler's state."
  type        = string
  default     = null
}
