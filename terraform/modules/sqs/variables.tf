variable "name" {
  description = "Name prefix: queues are NAME-jobs, NAME-jobs-dlq and NAME-results."
  type        = string
}

variable "visibility_timeout_seconds" {
  description = "Jobs queue visibility timeout."
  type        = number
}

variable "message_retention_seconds" {
  description = "Jobs and results queue retention."
  type        = number
}

variable "max_receive_count" {
  description = "Deliveries before a job moves to the dead-letter queue."
  type        = number
}

variable "kms_key_arn" {
  description = "Customer-managed KMS key; null: SSE-SQS."
  type        = string
  default     = null
}

variable "producer_principal_arns" {
  description = "Principals allowed to send jobs."
  type        = list(string)
  default     = []
}

variable "create_result_queue" {
  description = "Create the results queue."
  type        = bool
  default     = true
}

variable "result_retention_seconds" {
  description = "Results queue retention: results (faces, boxes, names) not collected by then are deleted by SQS."
  type        = number
  default     = 345600
}
