variable "function_name" {
  description = "Name of the Lambda function (its log group is /aws/lambda/NAME, its execution role NAME-role)."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,59}$", var.function_name))
    error_message = "function_name must be 1 to 59 letters, digits, hyphens or underscores: Lambda's rule, and short enough that the role NAME-role fits IAM's 64."
  }
}

variable "description" {
  description = "Description of the function."
  type        = string
}

variable "package_path" {
  description = "Path to the zip holding the function's bootstrap executable."
  type        = string
}

variable "architecture" {
  description = "Instruction set the bootstrap is built for: x86_64 or arm64."
  type        = string

  validation {
    condition     = contains(["x86_64", "arm64"], var.architecture)
    error_message = "architecture must be x86_64 or arm64."
  }
}

variable "timeout_seconds" {
  description = "Function timeout in seconds (Lambda's maximum: 900)."
  type        = number

  validation {
    condition     = var.timeout_seconds >= 1 && var.timeout_seconds <= 900 && floor(var.timeout_seconds) == var.timeout_seconds
    error_message = "timeout_seconds must be a whole number of seconds between 1 and 900."
  }
}

variable "memory_size" {
  description = "Memory of the function in MB (the Rust functions need little)."
  type        = number
  default     = 128

  validation {
    condition     = var.memory_size >= 128 && var.memory_size <= 10240 && floor(var.memory_size) == var.memory_size
    error_message = "memory_size must be a whole number of MB between 128 and 10240."
  }
}

variable "reserved_concurrency" {
  description = "Concurrency reserved for the function, or null (unreserved). The caller's own validation says which values make sense for it."
  type        = number
  default     = null

  validation {
    condition     = var.reserved_concurrency == null || (coalesce(var.reserved_concurrency, 0) >= 0 && floor(coalesce(var.reserved_concurrency, 0)) == coalesce(var.reserved_concurrency, 0))
    error_message = "reserved_concurrency must be null or a whole number, 0 or more."
  }
}

variable "tracing" {
  description = "Active X-Ray tracing. policy_json must then allow xray:PutTraceSegments and xray:PutTelemetryRecords."
  type        = bool
  default     = false
}

variable "environment_variables" {
  description = "Environment of the function: exactly what its crate reads."
  type        = map(string)
}

variable "policy_name" {
  description = "Name of the role's inline policy."
  type        = string
}

variable "policy_json" {
  description = "The role's inline policy (JSON): exactly the calls the function makes, its log group's log streams, and whatever its event sources need."
  type        = string
}

variable "log_retention_days" {
  description = "Retention of the function's log group, in days."
  type        = number
}

variable "logs_kms_key_arn" {
  description = "KMS key for the log group, or null."
  type        = string
  default     = null
}
