locals {
  # terraform/scaling.json is the single source of truth for scaling behaviour: the
  # fleet simulator (crates/fleet-sim) reads the same file. A variable left null takes
  # the file's value, so the simulator and the deployment can never silently disagree.
  scaling_defaults = jsondecode(file("${path.module}/scaling.json"))

  scaling = {
    acceptable_latency_seconds = coalesce(var.acceptable_latency_seconds, local.scaling_defaults.acceptable_latency_seconds)
    job_seconds                = coalesce(var.job_seconds, local.scaling_defaults.job_seconds)
    target_utilization         = coalesce(var.target_utilization, local.scaling_defaults.target_utilization)
    batch_size                 = coalesce(var.sqs_batch_size, local.scaling_defaults.batch_size)
    min_tasks                  = coalesce(var.min_tasks, local.scaling_defaults.min_tasks)
    max_tasks                  = coalesce(var.max_tasks, local.scaling_defaults.max_tasks)
    scale_out_cooldown_seconds = coalesce(var.scale_out_cooldown_seconds, local.scaling_defaults.scale_out_cooldown_seconds)
    scale_in_cooldown_seconds  = coalesce(var.scale_in_cooldown_seconds, local.scaling_defaults.scale_in_cooldown_seconds)
    scale_to_zero_idle_minutes = coalesce(var.scale_to_zero_idle_minutes, local.scaling_defaults.scale_to_zero_idle_minutes)
    metric_period_seconds      = local.scaling_defaults.metric_period_seconds
    instance_warmup_seconds    = coalesce(var.instance_warmup_seconds, local.scaling_defaults.instance_warmup_seconds)
    capacity_target_percent    = coalesce(var.capacity_target_percent, local.scaling_defaults.capacity_target_percent)
    minimum_scaling_step_size  = coalesce(var.minimum_scaling_step_size, local.scaling_defaults.minimum_scaling_step_size)
    maximum_scaling_step_size  = coalesce(var.maximum_scaling_step_size, local.scaling_defaults.maximum_scaling_step_size)
    max_receive_count          = coalesce(var.max_receive_count, local.scaling_defaults.max_receive_count)
    stop_timeout_seconds       = coalesce(var.stop_timeout_seconds, local.scaling_defaults.stop_timeout_seconds)

    # The backlog scaler's policy (scaling_mode = "backlog_scaler"; crates/backlog-policy).
    # File only, no variables: the simulator must judge exactly these values.
    cold_start_seconds               = local.scaling_defaults.cold_start_seconds
    scaler_poll_seconds              = local.scaling_defaults.scaler_poll_seconds
    scaler_load_window_seconds       = local.scaling_defaults.scaler_load_window_seconds
    scaler_scale_down_window_seconds = local.scaling_defaults.scaler_scale_down_window_seconds
    scaler_activity_window_seconds   = local.scaling_defaults.scaler_activity_window_seconds
  }

  # Jobs one task clears within acceptable_latency_seconds (it finishes one job every
  # job_seconds on average): the wake policy's step size.
  jobs_per_task_within_latency = max(1, floor(local.scaling.acceptable_latency_seconds / local.scaling.job_seconds))

  # Visibility timeout: long enough that a healthy worker's heartbeat (which extends it
  # every third of the timeout) never races redelivery, short enough that a message held
  # by a dead worker returns quickly. 3 x a full batch, at least 60 s.
  visibility_timeout_seconds = coalesce(
    var.visibility_timeout_seconds,
    max(60, ceil(3 * local.scaling.job_seconds * local.scaling.batch_size)),
  )

  # Who sets the service's desired count and the group's capacity (docs/design.md,
  # "Scaling modes"): the backlog scaler Lambda, or Application Auto Scaling alarms over
  # ECS managed scaling.
  backlog_scaler = var.scaling_mode == "backlog_scaler"

  # A KMS key ARN, the form every *_kms_key_arn variable's validation requires (IAM
  # policies grant use of a key by its key ARN, not by an alias or a key ID).
  kms_key_arn_pattern = "^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[A-Za-z0-9-]+$"

  name         = var.name
  cluster_name = "${var.name}-cluster"
  service_name = "${var.name}-service"
  asg_name     = "${var.name}-asg"

  tags = merge(
    {
      Project   = "facerec-fleet"
      Component = var.name
      ManagedBy = "terraform"
    },
    var.tags,
  )
}
