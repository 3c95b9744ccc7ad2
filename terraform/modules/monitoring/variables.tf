variable "name" {
  description = "Name prefix for alarms and the topic."
  type        = string
}

variable "cluster_name" {
  description = "ECS cluster of the service."
  type        = string
}

variable "service_name" {
  description = "Worker service."
  type        = string
}

variable "jobs_queue_name" {
  description = "Jobs queue."
  type        = string
}

variable "dlq_name" {
  description = "Jobs dead-letter queue."
  type        = string
}

variable "extra_dlq_names" {
  description = "Other dead-letter queues to watch (e.g. the Spot events DLQ)."
  type        = list(string)
  default     = []
}

variable "cpu_threshold_percent" {
  description = "Service CPU alarm threshold."
  type        = number
}

variable "oldest_message_threshold_seconds" {
  description = "Alarm when the oldest job is older than this."
  type        = number
}

variable "create_topic" {
  description = "Create an SNS topic for the alarms."
  type        = bool
}

variable "alarm_email" {
  description = "Email address to subscribe to the alarm topic, or null."
  type        = string
  default     = null
}

variable "kms_key_arn" {
  description = "Customer-managed KMS key encrypting the created topic, or null for none. Its key policy must let cloudwatch.amazonaws.com use it; the AWS-managed alias/aws/sns key cannot."
  type        = string
  default     = null
}

variable "spot_handler_enabled" {
  description = "Whether the Spot handler is deployed: its alarm and its widgets."
  type        = bool
  default     = false
}

variable "backlog_scaler_function_name" {
  description = "The backlog scaler Lambda; null: no scaler (alarms mode), no alarm on it."
  type        = string
  default     = null
}

variable "topic_arn" {
  description = "Existing SNS topic for the alarms, or null."
  type        = string
  default     = null
}

variable "create_dashboard" {
  description = "Create the fleet's CloudWatch dashboard (docs/operations.md, \"Dashboard\")."
  type        = bool
  default     = true
}

variable "region" {
  description = "AWS Region of the stack (the dashboard's widgets and URL name it)."
  type        = string
}

variable "asg_name" {
  description = "The fleet's Auto Scaling group (its group metrics must be enabled)."
  type        = string
}

variable "metrics_namespace" {
  description = "CloudWatch namespace of the fleet's own EMF metrics: the worker's (FACEREC_METRICS_NAMESPACE) and both Lambdas' (METRICS_NAMESPACE)."
  type        = string
  default     = "facerec-fleet"
  validation {
    # PutMetricData (CloudWatch API Reference): 1-255 characters; a namespace beginning
    # with AWS/ is reserved for AWS's services.
    condition     = length(var.metrics_namespace) >= 1 && length(var.metrics_namespace) <= 255 && !startswith(var.metrics_namespace, "AWS/")
    error_message = "metrics_namespace must be 1-255 characters and not begin with AWS/ (reserved for AWS's services)."
  }
}

variable "worker_service_dimension" {
  description = "Value of the Service dimension on the worker's metrics (crates/worker-runtime/src/emf.rs, SERVICE)."
  type        = string
  default     = "facerec-worker"
}

variable "worker_log_group_name" {
  description = "The worker's log group (its EMF lines carry each failure's ErrorCode)."
  type        = string
}

variable "instance_hour_price" {
  description = "Price of one instance-hour for the dashboard's cost proxy (scaling.json spot_price_per_hour)."
  type        = number
  default     = 0
}
