variable "name" {
  description = "Name prefix for the launch template and instances."
  type        = string
}

variable "asg_name" {
  description = "Name of the Auto Scaling group."
  type        = string
}

variable "cluster_name" {
  description = "ECS cluster the instances join."
  type        = string
}

variable "subnet_ids" {
  description = "Private subnets to launch into."
  type        = list(string)
}

variable "security_group_ids" {
  description = "Security groups of the instances."
  type        = list(string)
}

variable "instance_profile_arn" {
  description = "Instance profile with the ECS agent's permissions."
  type        = string
}

variable "instance_types" {
  description = "Spot instance types in priority order."
  type        = list(string)
}

variable "spot_allocation_strategy" {
  description = "Spot allocation strategy of the mixed instances policy."
  type        = string
}

variable "capacity_rebalance" {
  description = "Replace instances proactively on rebalance recommendations."
  type        = bool
}

variable "max_size" {
  description = "Most instances. One worker task per instance, and a deployment at full scale starts its new tasks on new instances before the old ones stop: 2 x max_tasks (the capacity provider only launches what placed tasks need)."
  type        = number
}

variable "ami_ssm_parameter_name" {
  description = "SSM parameter with the ECS-optimized AMI ID."
  type        = string
}

variable "root_volume_size_gb" {
  description = "Root volume size in GiB."
  type        = number
}

variable "ebs_kms_key_arn" {
  description = "KMS key for the root volume, or null for the account default."
  type        = string
  default     = null
}

variable "container_stop_timeout_seconds" {
  description = "ECS agent's default container stop timeout (the task definition's stopTimeout wins where set)."
  type        = number
}

variable "container_imds_access" {
  description = "IMDSv2 hop limit 2 (true), so bridge-mode containers reach IMDS (the worker's Spot notice), or 1 (false): IMDS for the host alone."
  type        = bool
  default     = true
}

variable "suspend_az_rebalance" {
  description = "Suspend the group's AZRebalance process (backlog scaler mode: the scaler terminates specific instances)."
  type        = bool
  default     = false
}

variable "group_metrics" {
  description = "Auto Scaling group metrics to publish to CloudWatch (AWS/AutoScaling); the dashboard reads these."
  type        = list(string)
  default     = ["GroupDesiredCapacity", "GroupInServiceInstances", "GroupPendingInstances", "GroupTerminatingInstances", "GroupTotalInstances"]
}
