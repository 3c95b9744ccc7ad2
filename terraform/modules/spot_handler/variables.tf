variable "name" {
  description = "Name prefix."
  type        = string
}

variable "function_name" {
  description = "Name of the Lambda function."
  type        = string
}

variable "events_queue_name" {
  description = "Name of the queue that buffers EC2's Spot interruption warnings and rebalance recommendations for the function; its DLQ is NAME-dlq."
  type        = string
}

variable "lifecycle_queue_name" {
  description = "Name of the queue that buffers the ASG's termination lifecycle actions for the function."
  type        = string
}

variable "policy_json" {
  description = "Inline policy of the execution role: modules/iam's spot_handler_policy_json (the handler's calls, its queues, its log group, X-Ray)."
  type        = string
}

variable "package_path" {
  description = "Path to the bootstrap zip."
  type        = string
}

variable "architecture" {
  description = "Instruction set of the bootstrap: x86_64 or arm64 (modules/lambda validates it)."
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

  validation {
    condition     = var.lifecycle_max_wait_seconds >= 0 && var.lifecycle_max_wait_seconds <= 840
    error_message = "lifecycle_max_wait_seconds must be between 0 and 840 (Lambda stops a function at 900 s)."
  }
}

variable "reserved_concurrency" {
  description = "Concurrency reserved for the function: 2 for the Spot notice mapping, the rest for the lifecycle mapping. null (default): none reserved (a new account's quota leaves nothing to reserve); the mappings then take 2 and 3, which bounds the function to 5."
  type        = number
  default     = null

  validation {
    condition     = var.reserved_concurrency == null || (coalesce(var.reserved_concurrency, 4) >= 4 && coalesce(var.reserved_concurrency, 4) <= 1000)
    error_message = "reserved_concurrency must be null or between 4 and 1000 (each of the two event source mappings needs at least 2)."
  }
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
  description = "KMS key for the event queues, or null for SSE-SQS. Its key policy must let events.amazonaws.com use it (docs/operations.md)."
  type        = string
  default     = null
}

variable "metrics_namespace" {
  description = "CloudWatch namespace of the handler's EMF metrics (the fleet's one namespace, shared with the worker and the backlog scaler)."
  type        = string
  default     = "facerec-fleet"
  validation {
    # PutMetricData (CloudWatch API Reference): 1-255 characters; a namespace beginning
    # with AWS/ is reserved for AWS's services.
    condition     = length(var.metrics_namespace) >= 1 && length(var.metrics_namespace) <= 255 && !startswith(var.metrics_namespace, "AWS/")
    error_message = "metrics_namespace must be 1-255 characters and not begin with AWS/ (reserved for AWS's services)."
  }
}
