variable "name" {
  description = "Name prefix for policies and alarms."
  type        = string
}

variable "cluster_name" {
  description = "ECS cluster of the service."
  type        = string
}

variable "service_name" {
  description = "ECS service to scale."
  type        = string
}

variable "queue_name" {
  description = "Jobs queue whose backlog drives scaling."
  type        = string
}

variable "min_tasks" {
  description = "Fewest tasks."
  type        = number
}

variable "max_tasks" {
  description = "Most tasks."
  type        = number
}

variable "jobs_per_task_within_latency" {
  description = "Jobs one task clears within acceptable_latency_seconds (acceptable latency / job seconds): the step size of the wake policy."
  type        = number
}

variable "job_seconds" {
  description = "Average seconds one task needs per job."
  type        = number
}

variable "acceptable_latency_seconds" {
  description = "How long a job may wait under sustained load."
  type        = number
}

variable "target_utilization" {
  description = "Tasks needed per desired task that target tracking holds (1.0: exactly enough)."
  type        = number
}

variable "scale_out_cooldown_seconds" {
  description = "Cooldown after scale-out."
  type        = number
}

variable "scale_in_cooldown_seconds" {
  description = "Cooldown after scale-in."
  type        = number
}

variable "scale_to_zero_idle_minutes" {
  description = "Idle minutes (nothing visible, nothing in flight) before scaling to zero."
  type        = number
}

variable "metric_period_seconds" {
  description = "Period of the wake and sleep alarms."
  type        = number
  default     = 60
}
