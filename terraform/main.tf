# facerec-fleet: SQS jobs -> ECS service of Rust workers on Spot EC2, one task per
# instance, scaled 0..N on queue backlog. See docs/design.md for every deviation from
# the original plan (docs/plan.md) and why.

# --- Image: pinned by digest --------------------------------------------------------
# The plan deployed ":latest". ECS resolves a tag to a digest when it starts a
# deployment and keeps that digest, so a later push to :latest changes nothing until an
# unrelated deployment, and tasks of one service can then run different images. Resolving
# the tag here makes each push a new task definition revision on the next apply.
data "aws_ecr_repository" "worker" {
  count = var.worker_image == null ? 1 : 0
  name  = var.ecr_repository_name
}

data "aws_ecr_image" "worker" {
  count           = var.worker_image == null ? 1 : 0
  repository_name = data.aws_ecr_repository.worker[0].name
  image_tag       = var.image_tag
}

locals {
  worker_image = coalesce(
    var.worker_image,
    try("${data.aws_ecr_repository.worker[0].repository_url}@${data.aws_ecr_image.worker[0].image_digest}", null),
  )

  # The ECR repository the execution role pulls from: ours, or the one an explicit
  # worker_image names (ACCOUNT.dkr.ecr.REGION.amazonaws.com[.cn]/REPO@sha256:..., possibly
  # another account's). null for an image outside ECR: no ECR permissions at all.
  worker_image_ecr = var.worker_image == null ? null : try(regex("^([0-9]{12})\\.dkr\\.ecr(?:-fips)?\\.([a-z0-9-]+)\\.amazonaws\\.com(\\.cn)?/([^@:]+)@", var.worker_image), null)
  worker_ecr_repository_arn = var.worker_image == null ? data.aws_ecr_repository.worker[0].arn : (
    local.worker_image_ecr == null ? null : format("arn:%s:ecr:%s:%s:repository/%s",
      local.worker_image_ecr[2] != null ? "aws-cn" : (startswith(local.worker_image_ecr[1], "us-gov-") ? "aws-us-gov" : "aws"),
    local.worker_image_ecr[1], local.worker_image_ecr[0], local.worker_image_ecr[3])
  )

  # Instance types and task memory (docs/design.md, "Task size"): measured by default,
  # the plan's with sizing = "plan".
  sizing_defaults = {
    measured = { instance_types = ["c5.large", "c6i.large", "m5.large"], task_memory = 3072 }
    plan     = { instance_types = ["c5.2xlarge", "m5.2xlarge"], task_memory = 13312 }
  }
  instance_types = var.instance_types != null ? var.instance_types : local.sizing_defaults[var.sizing].instance_types
  task_memory    = var.task_memory != null ? var.task_memory : local.sizing_defaults[var.sizing].task_memory

  worker_log_group_name = "/ecs/${local.name}"
  # One CloudWatch namespace for the fleet's own EMF metrics: the worker's and both
  # Lambdas' (their metric names and dimensions differ). The code's default is the same
  # (crates/aws-support/src/lib.rs, METRICS_NAMESPACE).
  metrics_namespace           = "facerec-fleet"
  spot_handler_function_name  = "${local.name}-spot-handler"
  spot_events_queue_name      = "${local.name}-spot-events"
  lifecycle_events_queue_name = "${local.name}-lifecycle-events"

  backlog_scaler_function_name        = "${local.name}-backlog-scaler"
  backlog_scaler_schedule_name        = "${local.name}-backlog-scaler"
  backlog_scaler_state_parameter_name = "/${local.name}/backlog-scaler/state"
}

# vpc_id is the network the plan assumes exists: every subnet and security group given
# must be in it (a security group of another VPC fails only at instance launch, as an
# ASG scaling activity error nobody watches).
data "aws_subnet" "private" {
  for_each = toset(var.private_subnet_ids)
  id       = each.value

  lifecycle {
    postcondition {
      condition     = self.vpc_id == var.vpc_id
      error_message = "Subnet ${each.value} is in ${self.vpc_id}, not in vpc_id ${var.vpc_id}."
    }
  }
}

data "aws_security_group" "workers" {
  for_each = toset(var.security_group_ids)
  id       = each.value

  lifecycle {
    postcondition {
      condition     = self.vpc_id == var.vpc_id
      error_message = "Security group ${each.value} is in ${self.vpc_id}, not in vpc_id ${var.vpc_id}."
    }
  }
}

module "sqs" {
  source = "./modules/sqs"

  name                       = local.name
  visibility_timeout_seconds = local.visibility_timeout_seconds
  message_retention_seconds  = var.message_retention_seconds
  result_retention_seconds   = var.result_queue_retention_seconds
  # The worker dead-letters a job itself after max_receive_count deliveries, with the
  # reason as message attributes; SQS's redrive is the backstop one delivery later (for
  # a worker that dies on the job every time), so it never pre-empts the reasoned move.
  max_receive_count       = local.scaling.max_receive_count + 1
  kms_key_arn             = var.sqs_kms_key_arn
  producer_principal_arns = var.producer_principal_arns
  create_result_queue     = var.create_result_queue
}

module "iam" {
  source = "./modules/iam"

  name                        = local.name
  cluster_name                = local.cluster_name
  service_name                = local.service_name
  asg_name                    = local.asg_name
  jobs_queue_arn              = module.sqs.jobs_queue_arn
  dlq_arn                     = module.sqs.dlq_arn
  results_queue_arn           = module.sqs.results_queue_arn
  sqs_kms_key_arn             = var.sqs_kms_key_arn
  input_s3_prefixes           = var.input_s3_prefixes
  result_s3_prefix            = var.result_s3_prefix
  ecr_repository_arn          = local.worker_ecr_repository_arn
  worker_log_group_name       = local.worker_log_group_name
  enable_spot_handler         = var.enable_spot_handler
  spot_handler_function_name  = local.spot_handler_function_name
  spot_events_queue_name      = local.spot_events_queue_name
  lifecycle_events_queue_name = local.lifecycle_events_queue_name

  enable_backlog_scaler               = local.backlog_scaler
  backlog_scaler_function_name        = local.backlog_scaler_function_name
  backlog_scaler_state_parameter_name = local.backlog_scaler_state_parameter_name
}

module "asg" {
  source = "./modules/asg"

  name                     = local.name
  asg_name                 = local.asg_name
  cluster_name             = local.cluster_name
  subnet_ids               = var.private_subnet_ids
  security_group_ids       = var.security_group_ids
  instance_profile_arn     = module.iam.instance_profile_arn
  instance_types           = local.instance_types
  spot_allocation_strategy = var.spot_allocation_strategy
  capacity_rebalance       = var.capacity_rebalance
  # Room for a deployment at full scale: 100/200 starts max_tasks new tasks, each on a
  # new instance, before the old ones stop. Normal scaling never gets there: the
  # service's max_tasks bounds the tasks, and the capacity provider launches instances
  # only for tasks that need one.
  max_size                       = 2 * local.scaling.max_tasks
  ami_ssm_parameter_name         = var.ami_ssm_parameter_name
  root_volume_size_gb            = var.root_volume_size_gb
  ebs_kms_key_arn                = var.ebs_kms_key_arn
  container_stop_timeout_seconds = local.scaling.stop_timeout_seconds
  container_imds_access          = var.container_imds_access
  # The backlog scaler terminates the instances it drained; AZRebalance would undo it.
  suspend_az_rebalance = local.backlog_scaler
}

module "ecs" {
  source = "./modules/ecs"

  name                      = local.name
  cluster_name              = local.cluster_name
  service_name              = local.service_name
  asg_arn                   = module.asg.asg_arn
  managed_scaling           = !local.backlog_scaler
  capacity_target_percent   = local.scaling.capacity_target_percent
  minimum_scaling_step_size = local.scaling.minimum_scaling_step_size
  maximum_scaling_step_size = local.scaling.maximum_scaling_step_size
  instance_warmup_seconds   = local.scaling.instance_warmup_seconds
  task_execution_role_arn   = module.iam.task_execution_role_arn
  task_role_arn             = module.iam.task_role_arn
  image                     = local.worker_image
  task_cpu                  = var.task_cpu
  task_memory               = local.task_memory
  shared_memory_size        = var.shared_memory_size
  stop_timeout_seconds      = local.scaling.stop_timeout_seconds
  log_group_name            = local.worker_log_group_name
  log_retention_days        = var.log_retention_days
  logs_kms_key_arn          = var.logs_kms_key_arn
  environment               = local.worker_environment
}

locals {
  # The worker's configuration: every name is a setting of crates/worker (docs/jobs.md),
  # which a test there checks against this block.
  worker_environment = merge(
    {
      FACE_RECOGNITION_MEMORY_THRESHOLD = tostring(var.memory_threshold)
      RAY_memory_per_process            = tostring(var.memory_per_job_bytes)
      SQS_BATCH_SIZE                    = tostring(local.scaling.batch_size)
      QUEUE_URL                         = module.sqs.jobs_queue_url
      DLQ_URL                           = module.sqs.dlq_url
      FACEREC_VISIBILITY_TIMEOUT        = tostring(local.visibility_timeout_seconds)
      FACEREC_MAX_RECEIVE_COUNT         = tostring(local.scaling.max_receive_count)
      # The worker finishes or releases everything FACEREC_STOP_MARGIN seconds before
      # ECS's SIGKILL at stopTimeout.
      FACEREC_STOP_TIMEOUT = tostring(local.scaling.stop_timeout_seconds)
      FACEREC_STOP_MARGIN  = "10"
      FACEREC_MODELS       = "/opt/facerec/models"
      # Poll IMDS for the Spot notice every second (a loopback request), not the default
      # 5 s: unstarted jobs go back to the queue that much sooner.
      FACEREC_SPOT_POLL_INTERVAL = "1"
      # The namespace of its EMF metrics, which the dashboard and alarms name.
      FACEREC_METRICS_NAMESPACE = local.metrics_namespace
    },
    var.create_result_queue ? { RESULT_QUEUE_URL = module.sqs.results_queue_url } : {},
    var.result_s3_prefix == null ? {} : { RESULT_PREFIX = var.result_s3_prefix },
  )
}

# Alarms mode: Application Auto Scaling owns the service's desired count, ECS managed
# scaling the group's capacity.
module "scaling" {
  source = "./modules/scaling"
  count  = local.backlog_scaler ? 0 : 1

  name                         = local.name
  cluster_name                 = module.ecs.cluster_name
  service_name                 = module.ecs.service_name
  queue_name                   = module.sqs.jobs_queue_name
  min_tasks                    = local.scaling.min_tasks
  max_tasks                    = local.scaling.max_tasks
  jobs_per_task_within_latency = local.jobs_per_task_within_latency
  job_seconds                  = local.scaling.job_seconds
  acceptable_latency_seconds   = local.scaling.acceptable_latency_seconds
  target_utilization           = local.scaling.target_utilization
  scale_out_cooldown_seconds   = local.scaling.scale_out_cooldown_seconds
  scale_in_cooldown_seconds    = local.scaling.scale_in_cooldown_seconds
  scale_to_zero_idle_minutes   = local.scaling.scale_to_zero_idle_minutes
  metric_period_seconds        = local.scaling.metric_period_seconds
}

# Backlog scaler mode (the default): one Lambda owns both counts.
module "backlog_scaler" {
  source = "./modules/backlog_scaler"
  count  = local.backlog_scaler ? 1 : 0

  function_name        = local.backlog_scaler_function_name
  schedule_name        = local.backlog_scaler_schedule_name
  state_parameter_name = local.backlog_scaler_state_parameter_name
  policy_json          = module.iam.backlog_scaler_policy_json
  schedule_role_arn    = module.iam.backlog_scaler_schedule_role_arn
  package_path         = var.backlog_scaler_package_path
  architecture         = var.backlog_scaler_architecture
  reserved_concurrency = var.backlog_scaler_reserved_concurrency
  log_retention_days   = var.log_retention_days
  logs_kms_key_arn     = var.logs_kms_key_arn
  metrics_namespace    = local.metrics_namespace

  queue_url    = module.sqs.jobs_queue_url
  queue_name   = module.sqs.jobs_queue_name
  cluster_name = module.ecs.cluster_name
  service_name = module.ecs.service_name
  asg_name     = module.asg.asg_name

  jobs_per_task_within_latency = local.jobs_per_task_within_latency

  job_seconds                = local.scaling.job_seconds
  acceptable_latency_seconds = local.scaling.acceptable_latency_seconds
  cold_start_seconds         = local.scaling.cold_start_seconds
  target_utilization         = local.scaling.target_utilization
  min_tasks                  = local.scaling.min_tasks
  max_tasks                  = local.scaling.max_tasks
  poll_seconds               = local.scaling.scaler_poll_seconds
  load_window_seconds        = local.scaling.scaler_load_window_seconds
  scale_down_window_seconds  = local.scaling.scaler_scale_down_window_seconds
  activity_window_seconds    = local.scaling.scaler_activity_window_seconds
}

module "spot_handler" {
  source = "./modules/spot_handler"
  count  = var.enable_spot_handler ? 1 : 0

  name                           = local.name
  function_name                  = local.spot_handler_function_name
  events_queue_name              = local.spot_events_queue_name
  lifecycle_queue_name           = local.lifecycle_events_queue_name
  policy_json                    = module.iam.spot_handler_policy_json
  package_path                   = var.spot_handler_package_path
  architecture                   = var.spot_handler_architecture
  cluster_name                   = module.ecs.cluster_name
  asg_name                       = module.asg.asg_name
  capacity_rebalance             = var.capacity_rebalance
  lifecycle_hook_timeout_seconds = var.lifecycle_hook_timeout_seconds
  reserved_concurrency           = var.spot_handler_reserved_concurrency
  log_retention_days             = var.log_retention_days
  logs_kms_key_arn               = var.logs_kms_key_arn
  sqs_kms_key_arn                = var.sqs_kms_key_arn
  metrics_namespace              = local.metrics_namespace
}

# Existing deployments: the two Lambda functions, their log groups and their roles (which
# were modules/iam's) are now modules/lambda's, called by each as module "function".
# Same names, same settings, same policies: moved, not replaced.
moved {
  from = module.spot_handler[0].aws_lambda_function.this
  to   = module.spot_handler[0].module.function.aws_lambda_function.this
}

moved {
  from = module.spot_handler[0].aws_cloudwatch_log_group.this
  to   = module.spot_handler[0].module.function.aws_cloudwatch_log_group.this
}

moved {
  from = module.backlog_scaler[0].aws_lambda_function.this
  to   = module.backlog_scaler[0].module.function.aws_lambda_function.this
}

moved {
  from = module.backlog_scaler[0].aws_cloudwatch_log_group.this
  to   = module.backlog_scaler[0].module.function.aws_cloudwatch_log_group.this
}

moved {
  from = module.iam.aws_iam_role.spot_handler[0]
  to   = module.spot_handler[0].module.function.aws_iam_role.this
}

moved {
  from = module.iam.aws_iam_role_policy.spot_handler[0]
  to   = module.spot_handler[0].module.function.aws_iam_role_policy.this
}

moved {
  from = module.iam.aws_iam_role.backlog_scaler[0]
  to   = module.backlog_scaler[0].module.function.aws_iam_role.this
}

moved {
  from = module.iam.aws_iam_role_policy.backlog_scaler[0]
  to   = module.backlog_scaler[0].module.function.aws_iam_role_policy.this
}

module "monitoring" {
  source = "./modules/monitoring"

  name                             = local.name
  cluster_name                     = module.ecs.cluster_name
  service_name                     = module.ecs.service_name
  jobs_queue_name                  = module.sqs.jobs_queue_name
  dlq_name                         = module.sqs.dlq_name
  extra_dlq_names                  = var.enable_spot_handler ? [module.spot_handler[0].events_dlq_name] : []
  cpu_threshold_percent            = var.cpu_alarm_threshold_percent
  oldest_message_threshold_seconds = coalesce(var.oldest_message_alarm_seconds, 2 * local.scaling.acceptable_latency_seconds)
  create_topic                     = var.create_alarm_topic
  alarm_email                      = var.alarm_email
  topic_arn                        = var.alarm_topic_arn
  kms_key_arn                      = var.alarm_topic_kms_key_arn
  spot_handler_enabled             = var.enable_spot_handler
  backlog_scaler_function_name     = local.backlog_scaler ? module.backlog_scaler[0].function_name : null
  create_dashboard                 = var.create_dashboard
  region                           = var.aws_region
  asg_name                         = module.asg.asg_name
  metrics_namespace                = local.metrics_namespace
  worker_log_group_name            = local.worker_log_group_name
  instance_hour_price              = local.scaling_defaults.spot_price_per_hour
}

# Cross-variable rules that no single validation block can express (they need
# terraform/scaling.json). They fail the plan before anything is created.
resource "terraform_data" "preconditions" {
  input = local.worker_image

  lifecycle {
    precondition {
      condition     = local.scaling.stop_timeout_seconds <= 110
      error_message = "stop_timeout_seconds (scaling.json or variable) must be at most 110 s to fit the 2-minute Spot notice."
    }
    precondition {
      condition     = local.scaling.min_tasks <= local.scaling.max_tasks
      error_message = "min_tasks must not exceed max_tasks."
    }
    precondition {
      condition     = local.scaling.minimum_scaling_step_size <= local.scaling.maximum_scaling_step_size
      error_message = "minimum_scaling_step_size must not exceed maximum_scaling_step_size (scaling.json or variables)."
    }
    # The scaler runs once a minute and polls through it (modules/backlog_scaler).
    precondition {
      condition     = local.scaling.scaler_poll_seconds >= 1 && local.scaling.scaler_poll_seconds <= 60 && floor(local.scaling.scaler_poll_seconds) == local.scaling.scaler_poll_seconds
      error_message = "scaler_poll_seconds (scaling.json) must be a whole number of seconds between 1 and 60."
    }
    precondition {
      condition     = local.scaling.cold_start_seconds >= 0 && alltrue([for k in ["scaler_load_window_seconds", "scaler_scale_down_window_seconds", "scaler_activity_window_seconds"] : local.scaling[k] > 0])
      error_message = "cold_start_seconds must be 0 or more and the scaler's windows (scaler_*_window_seconds, scaling.json) positive."
    }
  }
}

# Result retention (docs/operations.md, "Data protection"). Results name people; they are
# kept only as long as consumers need to collect them.
locals {
  result_bucket = var.result_s3_prefix == null ? null : regex("^s3://([^/]+)", var.result_s3_prefix)[0]
  result_key_prefix = var.result_s3_prefix == null ? null : (
    length(regexall("^s3://[^/]+/(.*)$", var.result_s3_prefix)) > 0 ? regex("^s3://[^/]+/(.*)$", var.result_s3_prefix)[0] : ""
  )
  result_lifecycle_rule = var.result_s3_prefix == null ? null : {
    ID         = "${local.name}-results-expire"
    Status     = "Enabled"
    Filter     = { Prefix = local.result_key_prefix }
    Expiration = { Days = var.result_expiration_days }
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "results" {
  count  = var.manage_result_lifecycle && var.result_s3_prefix != null ? 1 : 0
  bucket = local.result_bucket

  rule {
    id     = local.result_lifecycle_rule.ID
    status = "Enabled"
    filter {
      prefix = local.result_key_prefix
    }
    expiration {
      days = var.result_expiration_days
    }
  }

  # Multipart uploads never completed hold parts (result bytes) too; the bucket is
  # dedicated to results when the stack owns its lifecycle.
  rule {
    id     = "${local.name}-abort-incomplete-uploads"
    status = "Enabled"
    filter {}
    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }
}
