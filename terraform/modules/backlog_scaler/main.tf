# The backlog scaler (scaling_mode = "backlog_scaler"): a Lambda that EventBridge
# Scheduler invokes once a minute. Each invocation polls the jobs queue, the service and
# the worker instances every poll_seconds for the minute (at 0, P, 2P ... <= 60 - P s), sets
# the service's desired count and raises the Auto Scaling group's desired capacity, and
# terminates empty instances beyond what the service needs (crates/backlog-scaler). Its
# policy's state (recent samples) lives in an SSM parameter between invocations.
#
# Why a schedule and not CloudWatch alarms: alarms see one-minute datapoints about two
# minutes late; polling SQS directly sees the queue as it is every poll_seconds
# (docs/design.md, "Scaling modes"; docs/scaling.md, "Candidates").

locals {
  # EventBridge Scheduler's smallest rate is one minute; the function polls through it.
  schedule_period_seconds = 60
  # Polls at 0, P, ..., 60 - P: the next invocation's first poll comes P seconds after
  # the last one, so the spacing stays P across invocations.
  run_seconds = local.schedule_period_seconds - var.poll_seconds
  # A minute's polls plus the last poll's calls. An invocation still running at the next
  # tick makes that tick's invocation wait (reserved concurrency 1), not run beside it.
  function_timeout_seconds = local.schedule_period_seconds
}

# The policy's state between invocations. Terraform creates it empty ("{}": the scaler
# starts fresh) and never writes it again: the function owns the value. Standard tier:
# no charge, values up to 4 KB.
resource "aws_ssm_parameter" "state" {
  # checkov:skip=CKV2_AWS_34:Not a secret: recent queue depths and task counts of this service. A SecureString would add a KMS call to every poll for nothing to protect.
  name        = var.state_parameter_name
  description = "State of ${var.function_name} (samples of recent polls), written by the function at the end of each invocation."
  type        = "String"
  tier        = "Standard"
  value       = "{}"

  lifecycle {
    ignore_changes = [value]
  }
}

# The function, its log group and its role (modules/lambda, shared with the Spot
# handler). The role's permissions are modules/iam's backlog_scaler policy (policy_json).
module "function" {
  source = "../lambda"

  function_name   = var.function_name
  description     = "Sets the worker service's task count and the worker group's instance count from the jobs queue's backlog."
  policy_name     = "backlog-scaler"
  policy_json     = var.policy_json
  package_path    = var.package_path
  architecture    = var.architecture
  timeout_seconds = local.function_timeout_seconds
  # 1: one scaler at a time, so two invocations never act on the same counts or
  # overwrite each other's state. 0 pauses it. null: unreserved.
  reserved_concurrency = var.reserved_concurrency
  # No active tracing: one identical trace a minute shows nothing its logs and EMF
  # metrics do not; the role gets no X-Ray permission (least privilege).
  tracing            = false
  log_retention_days = var.log_retention_days
  logs_kms_key_arn   = var.logs_kms_key_arn

  # crates/backlog-scaler reads exactly these (docs/operations.md, "Backlog scaler").
  environment_variables = {
    QUEUE_URL                  = var.queue_url
    CLUSTER_NAME               = var.cluster_name
    SERVICE_NAME               = var.service_name
    AUTOSCALING_GROUP_NAME     = var.asg_name
    STATE_PARAMETER            = aws_ssm_parameter.state.name
    POLL_SECONDS               = tostring(var.poll_seconds)
    RUN_SECONDS                = tostring(local.run_seconds)
    JOB_SECONDS                = tostring(var.job_seconds)
    ACCEPTABLE_LATENCY_SECONDS = tostring(var.acceptable_latency_seconds)
    COLD_START_SECONDS         = tostring(var.cold_start_seconds)
    TARGET_UTILIZATION         = tostring(var.target_utilization)
    MIN_TASKS                  = tostring(var.min_tasks)
    MAX_TASKS                  = tostring(var.max_tasks)
    LOAD_WINDOW_SECONDS        = tostring(var.load_window_seconds)
    SCALE_DOWN_WINDOW_SECONDS  = tostring(var.scale_down_window_seconds)
    ACTIVITY_WINDOW_SECONDS    = tostring(var.activity_window_seconds)
    METRICS_NAMESPACE          = var.metrics_namespace
  }
}

# The schedule invokes the function asynchronously. Lambda's defaults for that would
# retry a failed run twice and keep a throttled one (an invocation still running at the
# next tick) for up to 6 hours: either way a run would act on counts a minute old or
# more, after the next tick has acted on fresh ones. No retries, and events older than a
# minute (the shortest age Lambda allows) are dropped.
resource "aws_lambda_function_event_invoke_config" "this" {
  function_name                = module.function.function_name
  maximum_retry_attempts       = 0
  maximum_event_age_in_seconds = local.schedule_period_seconds
}

resource "aws_scheduler_schedule" "this" {
  # checkov:skip=CKV_AWS_297:The schedule's target input is empty: there is nothing for a customer key to protect.
  name                = var.schedule_name
  description         = "Invokes ${var.function_name} every minute."
  schedule_expression = "rate(1 minute)"
  state               = "ENABLED"

  # On the minute, not spread over a window: the function's polls are the clock.
  flexible_time_window {
    mode = "OFF"
  }

  target {
    arn      = module.function.function_arn
    role_arn = var.schedule_role_arn

    # A missed tick is not made up: the next one comes a minute later with fresh counts.
    retry_policy {
      maximum_retry_attempts       = 0
      maximum_event_age_in_seconds = local.schedule_period_seconds
    }
  }
}
