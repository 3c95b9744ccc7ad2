variable "name" {
  description = "Name prefix (container name, task family)."
  type        = string
}

variable "cluster_name" {
  description = "Name of the ECS cluster."
  type        = string
}

variable "service_name" {
  description = "Name of the ECS service."
  type        = string
}

variable "asg_arn" {
  description = "Auto Scaling group the capacity provider manages."
  type        = string
}

variable "managed_scaling" {
  description = "ECS managed scaling (and with it managed termination protection) of the capacity provider: true in the alarms scaling mode, false when the backlog scaler sets the group's capacity."
  type        = bool
  default     = true
}

variable "capacity_target_percent" {
  description = "Managed scaling target capacity."
  type        = number
}

variable "minimum_scaling_step_size" {
  description = "Managed scaling minimum step."
  type        = number
}

variable "maximum_scaling_step_size" {
  description = "Managed scaling maximum step."
  type        = number
}

variable "instance_warmup_seconds" {
  description = "Managed scaling instance warm-up period."
  type        = number
}

variable "task_execution_role_arn" {
  description = "Task execution role."
  type        = string
}

variable "task_role_arn" {
  description = "Task role."
  type        = string
}

variable "image" {
  description = "Worker image, pinned by digest."
  type        = string
}

variable "task_cpu" {
  description = "Task CPU units."
  type        = number
}

variable "task_memory" {
  description = "Task memory in MiB."
  type        = number
}

variable "shared_memory_size" {
  description = "/dev/shm size in MiB."
  type        = number
}

variable "stop_timeout_seconds" {
  description = "Seconds between SIGTERM and SIGKILL."
  type        = number
}

variable "environment" {
  description = "Environment variables of the worker container."
  type        = map(string)
}

variable "log_group_name" {
  description = "Log group for the worker containers (created here)."
  type        = string
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
