variable "name" {
  description = "Name prefix."
  type        = string
}

variable "function_name" {
  description = "Name of the Lambda function."
  type        = string
}

variable "events_queue_name" {
  description = "Name of the queue that buffers EventBridge events for the function."
  type        = string
}

variable "role_arn" {
  description = "Execution role of the function (modules/iam)."
  type        = string
}

variable "package_path" {
  description = "Path to the bootstrap zip."
  type        = string
}

variable "architecture" {
  description = "x86_64 or arm64."
  type        = string
}

variable "cluster_name" {
  description = "ECS cluster whose container instances the handler drains."
  type        = string
}

variable "asg_name" {
  description = "Auto Scaling group whose terminations the handler drains."
  type        = string
}

variable "capacity_rebalance" {
  description = "Whether rebalance recommendations drain (true) or are only recorded (false)."
  type        = bool
}

variable "lifecycle_hook_timeout_seconds" {
  description = "Heartbeat timeout of the termination lifecycle hook."
  type        = number
}

variable "lifecycle_max_wait_seconds" {
  description = "Longest one invocation waits for a terminating instance's tasks to stop before completing the lifecycle action (at most 840)."
  type        = number
  default     = 600
}

variable "log_retention_days" {
  description = "Log retention in days."
  type        = number
}

variable "logs_kms_key_arn" {
  description = "KMS key for the log group, or null."
  type        = string
  default     = null
}

variable "sqs_kms_key_arn" {
  description = "KMS key for the event queues, or null for SSE-SQS."
  type        = string
  default     = null
}
