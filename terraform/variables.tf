# ---------------------------------------------------------------------------
# Provider and naming
# ---------------------------------------------------------------------------
variable "aws_region" {
  description = "AWS region to deploy into."
  type        = string
  default     = "us-east-1"

  validation {
    condition     = can(regex("^[a-z]{2}(-[a-z]+)+-[0-9]$", var.aws_region))
    error_message = "aws_region must look like an AWS region name, e.g. us-east-1."
  }
}

variable "aws_profile" {
  description = "Named profile from the shared AWS config to use; null uses the default credential chain."
  type        = string
  default     = null
}

variable "name" {
  description = "Name prefix for every resource (cluster, service, queues, roles...)."
  type        = string
  default     = "facerec-worker"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,30}[a-z0-9]$", var.name))
    error_message = "name must be 3-32 characters of lower-case letters, digits and hyphens, starting with a letter."
  }

  # The capacity provider is NAME-capacity-provider, and ECS reserves these prefixes.
  validation {
    condition     = !can(regex("^(aws|ecs|fargate)", var.name))
    error_message = "name must not start with aws, ecs or fargate (ECS rejects capacity provider names with those prefixes)."
  }
}

variable "tags" {
  description = "Extra tags for every resource, merged over the project's default tags."
  type        = map(string)
  default     = {}
}

# ---------------------------------------------------------------------------
# Network (existing VPC, as the plan assumes)
# ---------------------------------------------------------------------------
variable "vpc_id" {
  description = "ID of the existing VPC the workers run in; every subnet and security group given must belong to it (checked at plan time)."
  type        = string

  validation {
    condition     = can(regex("^vpc-[0-9a-f]+$", var.vpc_id))
    error_message = "vpc_id must be a VPC ID (vpc-...)."
  }
}

variable "private_subnet_ids" {
  description = "Private subnets for the worker instances, ideally one per availability zone (Spot capacity is per AZ)."
  type        = list(string)

  validation {
    condition     = length(var.private_subnet_ids) > 0 && alltrue([for s in var.private_subnet_ids : can(regex("^subnet-[0-9a-f]+$", s))])
    error_message = "private_subnet_ids must hold at least one subnet ID (subnet-...)."
  }
}

variable "security_group_ids" {
  description = "Security groups for the worker instances. Workers need only outbound HTTPS (SQS, S3, ECR, ECS, CloudWatch)."
  type        = list(string)

  validation {
    condition     = length(var.security_group_ids) > 0 && alltrue([for s in var.security_group_ids : can(regex("^sg-[0-9a-f]+$", s))])
    error_message = "security_group_ids must hold at least one security group ID (sg-...)."
  }
}

# ---------------------------------------------------------------------------
# Instances
# ---------------------------------------------------------------------------
variable "sizing" {
  description = "Default instance types and task memory: \"measured\" (c5.large, c6i.large, m5.large: 2-vCPU instances whose task gets both vCPUs, 3072 MiB from the measured peak RSS; docs/design.md, \"Task size\") or \"plan\" (the plan's c5.2xlarge / m5.2xlarge with a 2-vCPU, 13312 MiB task, 6 of 8 vCPUs paid and idle). instance_types and task_memory override either."
  type        = string
  default     = "measured"

  validation {
    condition     = contains(["measured", "plan"], var.sizing)
    error_message = "sizing must be \"measured\" or \"plan\"."
  }
}

variable "instance_types" {
  description = "Spot instance types, in priority order; null: those of `sizing`. Types of the same vCPU count widen the Spot pools; the task gets task_cpu of them."
  type        = list(string)
  default     = null

  validation {
    condition     = var.instance_types == null || length(coalesce(var.instance_types, ["x"])) > 0
    error_message = "instance_types must name at least one instance type."
  }
}

variable "spot_allocation_strategy" {
  description = "How the ASG picks Spot pools. price-capacity-optimized (AWS's recommendation) picks the pools least likely to be interrupted, then the cheapest among them."
  type        = string
  default     = "price-capacity-optimized"

  validation {
    condition     = contains(["price-capacity-optimized", "capacity-optimized", "capacity-optimized-prioritized", "lowest-price"], var.spot_allocation_strategy)
    error_message = "spot_allocation_strategy must be price-capacity-optimized, capacity-optimized, capacity-optimized-prioritized or lowest-price."
  }
}

variable "capacity_rebalance" {
  description = "Let the ASG launch a replacement when EC2 signals an elevated interruption risk (rebalance recommendation), before the 2-minute notice."
  type        = bool
  default     = true
}

variable "container_imds_access" {
  description = "Let the worker container reach IMDSv2 (launch template hop limit 2), so it sees the 2-minute Spot notice itself and stops receiving at once. false: hop limit 1, IMDS for the host alone; the container can no longer read the instance role's credentials, and the worker learns of an interruption only from the drain's SIGTERM (docs/design.md, \"IMDS and the worker container\")."
  type        = bool
  default     = true

  validation {
    condition     = var.container_imds_access != null
    error_message = "container_imds_access must be true or false."
  }
}

variable "ami_ssm_parameter_name" {
  description = "SSM public parameter holding the ECS-optimized AMI ID."
  type        = string
  default     = "/aws/service/ecs/optimized-ami/amazon-linux-2023/recommended/image_id"
}

variable "root_volume_size_gb" {
  description = "Size of each instance's encrypted gp3 root volume, in GiB (image layers and models)."
  type        = number
  default     = 30

  validation {
    condition     = var.root_volume_size_gb >= 30 && var.root_volume_size_gb <= 1024
    error_message = "root_volume_size_gb must be between 30 (the ECS AMI's minimum) and 1024."
  }
}

variable "ebs_kms_key_arn" {
  description = "Customer-managed KMS key for the root volumes; null uses the account's default EBS key. Its key policy must let the Auto Scaling service-linked role (AWSServiceRoleForAutoScaling) use it (kms:Encrypt, kms:Decrypt, kms:ReEncrypt*, kms:GenerateDataKey*, kms:DescribeKey, and kms:CreateGrant with kms:GrantIsForAWSResource), or every launch fails with Client.InternalError; the statements are in docs/operations.md, \"Customer key for the root volumes\"."
  type        = string
  default     = null

  validation {
    condition     = var.ebs_kms_key_arn == null || can(regex(local.kms_key_arn_pattern, coalesce(var.ebs_kms_key_arn, "x")))
    error_message = "ebs_kms_key_arn must be a KMS key ARN (arn:aws:kms:REGION:ACCOUNT:key/ID), not an alias or key ID: IAM policies grant use of a key by its key ARN."
  }
}

# ---------------------------------------------------------------------------
# Worker task
# ---------------------------------------------------------------------------
variable "ecr_repository_name" {
  description = "Existing ECR repository holding the facerec-worker image."
  type        = string
  default     = "facerec-worker"
}

variable "image_tag" {
  description = "Tag to deploy. It is resolved to its digest at plan time, so pushing a new image under the same tag becomes a new task definition revision on the next apply."
  type        = string
  default     = "latest"
}

variable "worker_image" {
  description = "Full image reference pinned by digest (repo@sha256:...). Overrides ecr_repository_name/image_tag, for images outside ECR."
  type        = string
  default     = null

  validation {
    condition     = var.worker_image == null || can(regex("@sha256:[0-9a-f]{64}$", var.worker_image))
    error_message = "worker_image must be pinned by digest (...@sha256:<64 hex>); a mutable tag would be pinned by ECS anyway at deployment time."
  }
}

variable "task_cpu" {
  description = "CPU units for the task (1024 = 1 vCPU). 2048: both vCPUs of the default 2-vCPU instances (the plan's value; on its 8-vCPU c5.2xlarge it left 6 idle). On EC2 it is a hard limit, and the worker runs as many jobs at once as it allows (docs/design.md, \"Task size\")."
  type        = number
  default     = 2048

  validation {
    condition     = var.task_cpu >= 256 && var.task_cpu <= 8192
    error_message = "task_cpu must be between 256 and 8192."
  }
}

variable "task_memory" {
  description = "Hard memory limit of the task in MiB; null: that of `sizing` (3072 on the 4 GiB c5.large, from the measured 240 MiB peak RSS of 2 jobs with room for large photos; the plan's 13312 on a c5.2xlarge)."
  type        = number
  default     = null

  validation {
    condition     = var.task_memory == null || (coalesce(var.task_memory, 512) >= 512 && coalesce(var.task_memory, 512) <= 15000)
    error_message = "task_memory must be between 512 and 15000 MiB."
  }
}

variable "shared_memory_size" {
  description = "/dev/shm size for the container in MiB. It counts against the task's memory (nothing in the worker writes to it; the plan sized it for Ray)."
  type        = number
  default     = 1024

  validation {
    condition     = var.shared_memory_size >= 1 && var.shared_memory_size < coalesce(var.task_memory, 3072)
    error_message = "shared_memory_size must be at least 1 MiB and less than task_memory (/dev/shm is part of the container's memory)."
  }
}

variable "memory_threshold" {
  description = "FACE_RECOGNITION_MEMORY_THRESHOLD: fraction of the container's memory limit above which the worker stops receiving jobs."
  type        = number
  default     = 0.8

  validation {
    condition     = var.memory_threshold > 0 && var.memory_threshold < 1
    error_message = "memory_threshold must be a fraction between 0 and 1."
  }
}

variable "memory_per_job_bytes" {
  description = "RAY_memory_per_process: memory budget of one job in bytes; the worker sizes its parallelism from it."
  type        = number
  default     = 1073741824

  validation {
    condition     = var.memory_per_job_bytes >= 67108864
    error_message = "memory_per_job_bytes must be at least 64 MiB."
  }
}

variable "stop_timeout_seconds" {
  description = "Seconds ECS waits after SIGTERM before SIGKILL. At most 110 so a graceful stop fits inside the 2-minute Spot notice. null: terraform/scaling.json."
  type        = number
  default     = null

  validation {
    condition     = coalesce(var.stop_timeout_seconds, 60) >= 10 && coalesce(var.stop_timeout_seconds, 60) <= 110
    error_message = "stop_timeout_seconds must be between 10 and 110 (the Spot notice is 120 s)."
  }
}

variable "log_retention_days" {
  description = "Retention of the worker, Spot handler and backlog scaler log groups."
  type        = number
  default     = 30

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a value CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, 60, 90, ...)."
  }
}

variable "logs_kms_key_arn" {
  description = "KMS key for the CloudWatch log groups; null uses CloudWatch's own encryption. Its key policy must let logs.REGION.amazonaws.com use it."
  type        = string
  default     = null

  validation {
    condition     = var.logs_kms_key_arn == null || can(regex(local.kms_key_arn_pattern, coalesce(var.logs_kms_key_arn, "x")))
    error_message = "logs_kms_key_arn must be a KMS key ARN (arn:aws:kms:REGION:ACCOUNT:key/ID), not an alias or key ID: IAM policies grant use of a key by its key ARN."
  }
}

# ---------------------------------------------------------------------------
# Queues and data
# ---------------------------------------------------------------------------
variable "message_retention_seconds" {
  description = "How long an unprocessed job stays on the jobs queue."
  type        = number
  default     = 345600

  validation {
    condition     = var.message_retention_seconds >= 60 && var.message_retention_seconds <= 1209600
    error_message = "message_retention_seconds must be between 60 and 1209600 (14 days)."
  }
}

variable "visibility_timeout_seconds" {
  description = "Jobs queue visibility timeout. null: derived from job_seconds and the batch size (see locals.tf)."
  type        = number
  default     = null

  validation {
    condition     = coalesce(var.visibility_timeout_seconds, 60) >= 30 && coalesce(var.visibility_timeout_seconds, 60) <= 43200
    error_message = "visibility_timeout_seconds must be between 30 and 43200."
  }
}

variable "max_receive_count" {
  description = "Deliveries of one job before it moves to the dead-letter queue. null: terraform/scaling.json."
  type        = number
  default     = null

  validation {
    condition     = coalesce(var.max_receive_count, 5) >= 1 && coalesce(var.max_receive_count, 5) <= 1000
    error_message = "max_receive_count must be between 1 and 1000."
  }
}

variable "sqs_kms_key_arn" {
  description = "Customer-managed KMS key for the queues; null uses SQS-managed encryption (SSE-SQS). The roles here get what they need on it; its key policy must also let events.amazonaws.com use it (Spot handler queues), and producers need kms:GenerateDataKey and kms:Decrypt on it (docs/operations.md)."
  type        = string
  default     = null

  validation {
    condition     = var.sqs_kms_key_arn == null || can(regex(local.kms_key_arn_pattern, coalesce(var.sqs_kms_key_arn, "x")))
    error_message = "sqs_kms_key_arn must be a KMS key ARN (arn:aws:kms:REGION:ACCOUNT:key/ID), not an alias or key ID: IAM policies grant use of a key by its key ARN."
  }
}

variable "producer_principal_arns" {
  description = "IAM principals allowed to send jobs: role or user ARNs (wildcards allowed, e.g. role/ingest-*) or account roots (arn:aws:iam::ACCOUNT:root, the whole account). When set, the queue policy denies sqs:SendMessage to everyone else, whatever their IAM policies say; empty: IAM policies alone decide."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for p in var.producer_principal_arns : can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:", p))])
    error_message = "producer_principal_arns must be IAM ARNs."
  }
}

variable "create_result_queue" {
  description = "Create a result queue the workers publish results to (RESULT_QUEUE_URL)."
  type        = bool
  default     = true
}

variable "input_s3_prefixes" {
  description = "s3://bucket/prefix/ locations the workers may read images and galleries from."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for p in var.input_s3_prefixes : can(regex("^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/.*)?$", p))])
    error_message = "input_s3_prefixes must be s3://bucket/prefix URIs."
  }
}

variable "result_s3_prefix" {
  description = "s3://bucket/prefix/ the workers write results to (RESULT_PREFIX); null: results go to the result queue only."
  type        = string
  default     = null

  validation {
    condition     = var.result_s3_prefix == null || can(regex("^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/.*)?$", coalesce(var.result_s3_prefix, "s3://x")))
    error_message = "result_s3_prefix must be an s3://bucket/prefix URI."
  }
}

# ---------------------------------------------------------------------------
# Scaling mode: who sets the task count and the instance count
# ---------------------------------------------------------------------------
variable "scaling_mode" {
  description = "backlog_scaler (default): a Lambda polls the jobs queue every scaler_poll_seconds (terraform/scaling.json) and sets the service's desired count and the Auto Scaling group's capacity itself; ECS managed scaling is off. alarms: Application Auto Scaling policies on CloudWatch alarms (target tracking, wake from zero, sleep to zero) over ECS capacity-provider managed scaling. docs/design.md, \"Scaling modes\", says why the default changed."
  type        = string
  default     = "backlog_scaler"

  validation {
    condition     = contains(["backlog_scaler", "alarms"], var.scaling_mode)
    error_message = "scaling_mode must be \"backlog_scaler\" or \"alarms\"."
  }
}

variable "backlog_scaler_package_path" {
  description = "Path to the backlog scaler's bootstrap zip for the provided.al2023 runtime (crate facerec-backlog-scaler, binary bootstrap). Required when scaling_mode is backlog_scaler."
  type        = string
  default     = null

  validation {
    condition     = var.scaling_mode != "backlog_scaler" || var.backlog_scaler_package_path != null
    error_message = "backlog_scaler_package_path is required when scaling_mode is \"backlog_scaler\" (the zip of crate facerec-backlog-scaler's bootstrap)."
  }
}

variable "backlog_scaler_architecture" {
  description = "Architecture the backlog scaler zip was built for."
  type        = string
  default     = "x86_64"

  validation {
    condition     = contains(["x86_64", "arm64"], var.backlog_scaler_architecture)
    error_message = "backlog_scaler_architecture must be x86_64 or arm64."
  }
}

variable "backlog_scaler_reserved_concurrency" {
  description = "Concurrency reserved for the backlog scaler: null (default) reserves none, so the stack applies on an account whose concurrency quota leaves nothing to reserve (Lambda keeps at least 100 unreserved, all of a new account's 10). 1: never two invocations at once, where the quota allows it. 0 pauses scaling (every invocation is throttled; the counts stay where they are). Without a reservation two invocations overlap only when one is delivered more than ~10 s late; what that costs is in docs/design.md (\"One at a time\")."
  type        = number
  default     = null

  validation {
    condition     = var.backlog_scaler_reserved_concurrency == null || contains([0, 1], coalesce(var.backlog_scaler_reserved_concurrency, 1))
    error_message = "backlog_scaler_reserved_concurrency must be 1, 0 (paused) or null: more than one concurrent scaler would act twice on the same counts."
  }
}

# ---------------------------------------------------------------------------
# Scaling (null: the value in terraform/scaling.json)
# ---------------------------------------------------------------------------
variable "acceptable_latency_seconds" {
  description = "How long a job may wait in the queue under sustained load; sets how fast the backlog must drain."
  type        = number
  default     = null

  validation {
    condition     = coalesce(var.acceptable_latency_seconds, 300) >= 10
    error_message = "acceptable_latency_seconds must be at least 10."
  }
}

variable "job_seconds" {
  description = "Average seconds one task needs per job (its throughput is 1/job_seconds jobs per second)."
  type        = number
  default     = null

  validation {
    condition     = coalesce(var.job_seconds, 1) > 0
    error_message = "job_seconds must be positive."
  }
}

variable "target_utilization" {
  description = "Tasks needed per desired task that target tracking holds; 1.0 runs exactly as many tasks as arrivals and backlog need, below 1 keeps headroom."
  type        = number
  default     = null

  validation {
    condition     = coalesce(var.target_utilization, 1) > 0 && coalesce(var.target_utilization, 1) <= 2
    error_message = "target_utilization must be in (0, 2]."
  }
}

variable "sqs_batch_size" {
  description = "SQS_BATCH_SIZE: jobs a worker receives and holds at once (1-10)."
  type        = number
  default     = null

  validation {
    condition     = coalesce(var.sqs_batch_size, 3) >= 1 && coalesce(var.sqs_batch_size, 3) <= 10
    error_message = "sqs_batch_size must be between 1 and 10 (the SQS ReceiveMessage limit)."
  }
}

variable "min_tasks" {
  description = "Fewest worker tasks (0 lets the fleet sleep when the queue is empty)."
  type        = number
  default     = null

  validation {
    condition     = coalesce(var.min_tasks, 0) >= 0
    error_message = "min_tasks must be 0 or more."
  }
}

variable "max_tasks" {
  description = "Most worker tasks, and so most instances (one task per instance)."
  type        = number
  default     = null

  validation {
    condition     = coalesce(var.max_tasks, 5) >= 1 && coalesce(var.max_tasks, 5) <= 1000
    error_message = "max_tasks must be between 1 and 1000."
  }
}

variable "scale_out_cooldown_seconds" {
  description = "Cooldown after a scale-out before another scale-out."
  type        = number
  default     = null

  validation {
    condition     = coalesce(var.scale_out_cooldown_seconds, 0) >= 0 && coalesce(var.scale_out_cooldown_seconds, 0) <= 86400
    error_message = "scale_out_cooldown_seconds must be between 0 and 86400 seconds."
  }
}

variable "scale_in_cooldown_seconds" {
  description = "Cooldown after a scale-in before another scale-in."
  type        = number
  default     = null

  validation {
    condition     = coalesce(var.scale_in_cooldown_seconds, 0) >= 0 && coalesce(var.scale_in_cooldown_seconds, 0) <= 86400
    error_message = "scale_in_cooldown_seconds must be between 0 and 86400 seconds."
  }
}

variable "scale_to_zero_idle_minutes" {
  description = "Minutes the queue must be empty, with nothing in flight, before the service goes to zero tasks."
  type        = number
  default     = null

  validation {
    condition     = coalesce(var.scale_to_zero_idle_minutes, 15) >= 1 && coalesce(var.scale_to_zero_idle_minutes, 15) <= 1440
    error_message = "scale_to_zero_idle_minutes must be between 1 and 1440."
  }
}

variable "instance_warmup_seconds" {
  description = "Capacity provider instance warm-up: seconds before a new instance counts toward CapacityProviderReservation."
  type        = number
  default     = null

  validation {
    condition     = coalesce(var.instance_warmup_seconds, 0) >= 0 && coalesce(var.instance_warmup_seconds, 0) <= 10000
    error_message = "instance_warmup_seconds must be between 0 and 10000 (the capacity provider's range)."
  }
}

variable "capacity_target_percent" {
  description = "Capacity provider target for CapacityProviderReservation (100: no idle instances)."
  type        = number
  default     = null

  validation {
    condition     = coalesce(var.capacity_target_percent, 100) >= 1 && coalesce(var.capacity_target_percent, 100) <= 100
    error_message = "capacity_target_percent must be between 1 and 100."
  }
}

variable "minimum_scaling_step_size" {
  description = "Fewest instances the capacity provider adds or removes at once (at most maximum_scaling_step_size)."
  type        = number
  default     = null

  validation {
    condition     = coalesce(var.minimum_scaling_step_size, 1) >= 1 && coalesce(var.minimum_scaling_step_size, 1) <= 10000 && floor(coalesce(var.minimum_scaling_step_size, 1)) == coalesce(var.minimum_scaling_step_size, 1)
    error_message = "minimum_scaling_step_size must be a whole number between 1 and 10000 (the capacity provider's range)."
  }
}

variable "maximum_scaling_step_size" {
  description = "Most instances the capacity provider adds or removes at once."
  type        = number
  default     = null

  validation {
    condition     = coalesce(var.maximum_scaling_step_size, 1) >= 1 && coalesce(var.maximum_scaling_step_size, 1) <= 10000 && floor(coalesce(var.maximum_scaling_step_size, 1)) == coalesce(var.maximum_scaling_step_size, 1)
    error_message = "maximum_scaling_step_size must be a whole number between 1 and 10000 (the capacity provider's range)."
  }
}

# ---------------------------------------------------------------------------
# Spot interruption handler
# ---------------------------------------------------------------------------
variable "enable_spot_handler" {
  description = "Deploy the Spot interruption handler (Lambda + EventBridge + SQS)."
  type        = bool
  default     = true
}

variable "spot_handler_package_path" {
  description = "Path to the handler's bootstrap zip for the provided.al2023 runtime (scripts/build-spot-handler.sh builds it). Required when enable_spot_handler is true."
  type        = string
  default     = null

  validation {
    condition     = !var.enable_spot_handler || var.spot_handler_package_path != null
    error_message = "spot_handler_package_path is required when enable_spot_handler is true (build it with scripts/build-spot-handler.sh)."
  }
}

variable "spot_handler_architecture" {
  description = "Architecture the handler zip was built for."
  type        = string
  default     = "x86_64"

  validation {
    condition     = contains(["x86_64", "arm64"], var.spot_handler_architecture)
    error_message = "spot_handler_architecture must be x86_64 or arm64."
  }
}

variable "spot_handler_reserved_concurrency" {
  description = "Concurrency reserved for the Spot handler, so an interruption storm is not starved by the account's other functions: 2 for the Spot notice queue, the rest for termination lifecycle actions. null (default): none reserved, so the stack applies on an account whose concurrency quota leaves nothing to reserve (Lambda keeps at least 100 unreserved, all of a new account's 10); the two event source mappings' maximum concurrency (2 + 3) still bounds the handler to 5."
  type        = number
  default     = null

  validation {
    condition     = var.spot_handler_reserved_concurrency == null || (coalesce(var.spot_handler_reserved_concurrency, 4) >= 4 && coalesce(var.spot_handler_reserved_concurrency, 4) <= 1000)
    error_message = "spot_handler_reserved_concurrency must be null or between 4 and 1000 (each of the handler's two event source mappings needs at least 2)."
  }
}

variable "lifecycle_hook_timeout_seconds" {
  description = "Heartbeat timeout of the termination lifecycle hook: how long a terminating instance waits in Terminating:Wait without a heartbeat from the handler before the ASG proceeds anyway."
  type        = number
  default     = 300

  validation {
    condition     = var.lifecycle_hook_timeout_seconds >= 30 && var.lifecycle_hook_timeout_seconds <= 7200
    error_message = "lifecycle_hook_timeout_seconds must be between 30 and 7200."
  }
}

# ---------------------------------------------------------------------------
# Monitoring
# ---------------------------------------------------------------------------
variable "create_alarm_topic" {
  description = "Create an SNS topic for the alarms (default), so a failing scaler or a dead letter reaches someone once the topic has a subscriber (alarm_email, or your own). Ignored when alarm_topic_arn is set; false leaves the alarms without actions."
  type        = bool
  default     = true
}

variable "alarm_email" {
  description = "Email address subscribed to the alarm topic (the topic create_alarm_topic creates, or alarm_topic_arn). SNS sends a confirmation mail first; nothing is delivered until it is confirmed. null: no subscription."
  type        = string
  default     = null

  validation {
    condition     = var.alarm_email == null || can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", coalesce(var.alarm_email, "x@y.z")))
    error_message = "alarm_email must be an email address."
  }
}

variable "alarm_topic_arn" {
  description = "Existing SNS topic for alarm notifications. If it is encrypted, its key must let cloudwatch.amazonaws.com use it."
  type        = string
  default     = null

  validation {
    condition     = var.alarm_topic_arn == null || can(regex("^arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]{1,256}$", coalesce(var.alarm_topic_arn, "x")))
    error_message = "alarm_topic_arn must be an SNS topic ARN (arn:aws:sns:REGION:ACCOUNT:NAME)."
  }
}

variable "alarm_topic_kms_key_arn" {
  description = "Customer-managed KMS key for the topic create_alarm_topic creates; null: unencrypted. CloudWatch cannot publish to a topic under the AWS-managed alias/aws/sns key; this key's policy must allow cloudwatch.amazonaws.com kms:Decrypt and kms:GenerateDataKey* (docs/operations.md)."
  type        = string
  default     = null

  validation {
    condition     = var.alarm_topic_kms_key_arn == null || can(regex(local.kms_key_arn_pattern, coalesce(var.alarm_topic_kms_key_arn, "x")))
    error_message = "alarm_topic_kms_key_arn must be a KMS key ARN (arn:aws:kms:REGION:ACCOUNT:key/ID), not an alias or key ID: IAM policies grant use of a key by its key ARN."
  }
}

variable "cpu_alarm_threshold_percent" {
  description = "The plan's service CPU alarm threshold."
  type        = number
  default     = 80

  validation {
    condition     = var.cpu_alarm_threshold_percent > 0 && var.cpu_alarm_threshold_percent <= 100
    error_message = "cpu_alarm_threshold_percent must be in (0, 100]."
  }
}

variable "oldest_message_alarm_seconds" {
  description = "Alarm when the oldest job has waited this long. null: twice acceptable_latency_seconds."
  type        = number
  default     = null

  validation {
    condition     = coalesce(var.oldest_message_alarm_seconds, 60) >= 60 && coalesce(var.oldest_message_alarm_seconds, 60) <= 1209600
    error_message = "oldest_message_alarm_seconds must be between 60 and 1209600 (SQS's longest retention)."
  }
}

variable "create_dashboard" {
  description = "Create the fleet's CloudWatch dashboard (queue, workers, instances, scaler, Spot, failures, cost proxy; docs/operations.md, \"Dashboard\"). One dashboard is $3 a month beyond the account's 3 free ones."
  type        = bool
  default     = true
}

variable "result_queue_retention_seconds" {
  description = "How long the results queue keeps an uncollected result (faces, names: biometric data) before SQS deletes it. Default 4 days (SQS's own default), at most 14 days."
  type        = number
  default     = 345600

  validation {
    condition     = var.result_queue_retention_seconds >= 60 && var.result_queue_retention_seconds <= 1209600
    error_message = "result_queue_retention_seconds must be between 60 and 1209600 (14 days)."
  }
}

variable "result_expiration_days" {
  description = "Days after which result documents under result_s3_prefix expire (S3 lifecycle). Applied only with manage_result_lifecycle = true; otherwise output result_lifecycle_rule is the rule to add to the bucket's own lifecycle configuration."
  type        = number
  default     = 30

  validation {
    condition     = var.result_expiration_days >= 1 && floor(var.result_expiration_days) == var.result_expiration_days
    error_message = "result_expiration_days must be a whole number of days, at least 1."
  }
}

variable "manage_result_lifecycle" {
  description = "Own the result bucket's lifecycle configuration: one rule expiring result_s3_prefix after result_expiration_days. A bucket has ONE lifecycle configuration, so this replaces any other rules on it: set it only for a bucket dedicated to results (docs/operations.md, \"Data protection\")."
  type        = bool
  default     = false
}
