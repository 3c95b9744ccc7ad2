variable "function_name" {
  description = "Name of the Lambda function (its log group is /aws/lambda/NAME)."
  type        = string
}

variable "schedule_name" {
  description = "Name of the EventBridge Scheduler schedule that invokes the function every minute."
  type        = string
}

variable "state_parameter_name" {
  description = "Name of the SSM parameter holding the scaler's state between invocations."
  type        = string
}

variable "policy_json" {
  description = "Inline policy of the execution role: modules/iam's backlog_scaler_policy_json (the scaler's calls, its state parameter, its log group)."
  type        = string
}

variable "schedule_role_arn" {
  description = "Role EventBridge Scheduler invokes the function with (modules/iam)."
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

variable "reserved_concurrency" {
  description = "Concurrency reserved for the function: null (default, none reserved: applies on any account), 1 (never two at once) or 0 (paused)."
  type        = number
  default     = null

  validation {
    condition     = var.reserved_concurrency == null || contains([0, 1], coalesce(var.reserved_concurrency, 1))
    error_message = "reserved_concurrency must be 1, 0 or null."
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

# --- What the function scales -----------------------------------------------------------
variable "queue_url" {
  description = "URL of the jobs queue whose depth drives scaling."
  type        = string
}

variable "cluster_name" {
  description = "ECS cluster of the worker service."
  type        = string
}

variable "service_name" {
  description = "Worker service whose desired count the function sets."
  type        = string
}

variable "asg_name" {
  description = "Auto Scaling group of the worker instances, whose capacity the function sets."
  type        = string
}

# --- The policy's parameters (terraform/scaling.json) ------------------------------------
variable "job_seconds" {
  description = "Average seconds one task needs per job."
  type        = number
}

variable "acceptable_latency_seconds" {
  description = "How long a job may wait under sustained load."
  type        = number
}

variable "cold_start_seconds" {
  description = "Seconds from asking for an instance to its task taking jobs (boot + task start)."
  type        = number
}

variable "target_utilization" {
  description = "Tasks needed per task the policy aims for."
  type        = number
}

variable "min_tasks" {
  description = "Fewest tasks."
  type        = number
}

variable "max_tasks" {
  description = "Most tasks."
  type        = number
}

variable "poll_seconds" {
  description = "Seconds between two polls of the queue within an invocation (1-60)."
  type        = number

  validation {
    condition     = var.poll_seconds >= 1 && var.poll_seconds <= 60 && floor(var.poll_seconds) == var.poll_seconds
    error_message = "poll_seconds must be a whole number of seconds between 1 and 60 (one invocation a minute)."
  }
}

variable "load_window_seconds" {
  description = "Window the policy averages the load over."
  type        = number
}

variable "scale_down_window_seconds" {
  description = "How long the policy must want fewer tasks before it removes any."
  type        = number
}

variable "activity_window_seconds" {
  description = "How long the policy keeps a task after the last job was seen."
  type        = number
}

variable "metrics_namespace" {
  description = "CloudWatch namespace of the function's EMF metrics (the fleet's one namespace, shared with the worker and the Spot handler)."
  type        = string
  default     = "facerec-fleet"
  validation {
    # PutMetricData (CloudWatch API Reference): 1-255 characters; a namespace beginning
    # with AWS/ is reserved for AWS's services.
    condition     = length(var.metrics_namespace) >= 1 && length(var.metrics_namespace) <= 255 && !startswith(var.metrics_namespace, "AWS/")
    error_message = "metrics_namespace must be 1-255 characters and not begin with AWS/ (reserved for AWS's services)."
  }
}

# --- The backstop (backstop.tf) -----------------------------------------------------------
variable "backstop_enabled" {
  description = "Create the backstop: alarms and scale-out-only step policies that add tasks and instances while the scaler is silent and jobs wait."
  type        = bool
  default     = true
}

variable "queue_name" {
  description = "Name of the jobs queue (the backstop's alarm reads its AWS/SQS metrics)."
  type        = string
}

variable "jobs_per_task_within_latency" {
  description = "T = max(1, floor(acceptable_latency_seconds / job_seconds)): the backstop adds one task per T visible jobs, as the alarms mode's wake policy."
  type        = number
}
