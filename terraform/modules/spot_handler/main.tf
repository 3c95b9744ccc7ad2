# Spot interruption handler: EventBridge -> SQS -> Lambda.
#
# Why a queue between EventBridge and the function (as aws-node-termination-handler's
# queue-processor mode does): events survive a throttled or failing function (SQS retries
# after its visibility timeout, then a DLQ), a batch can report per-event failures, and
# duplicates are absorbed by the handler's idempotence. EventBridge's direct Lambda target
# retries for at most 24 h with no per-event view.
#
# Two queues, one function: EC2's notices (Spot interruption warning, rebalance
# recommendation) and the ASG's termination lifecycle actions each have their own queue
# and event source mapping with its own maximum concurrency. A lifecycle action holds an
# invocation for minutes (it waits for the instance's tasks to stop); with one queue, a
# scale-in or a Spot wave could occupy every invocation and hold back the 2-minute
# warnings behind it.

locals {
  hook_name = "${var.name}-drain-on-terminate"

  # One invocation may wait up to lifecycle_max_wait for an instance's tasks to stop
  # (crates/spot-handler caps it at 840 s); the function timeout leaves a minute more to
  # complete the hook.
  lifecycle_max_wait_seconds = min(840, var.lifecycle_max_wait_seconds)
  function_timeout_seconds   = min(900, local.lifecycle_max_wait_seconds + 60)

  # Lambda refuses a mapping whose queue's visibility timeout is below the function
  # timeout; a minute more covers the time between receive and invoke. AWS recommends 6x
  # the timeout so that Lambda can retry a throttled invocation before the messages
  # reappear; each mapping's maximum_concurrency fits inside the reserved concurrency, so
  # the mappings do not get throttled, and 6x (66 min) would only delay retries.
  events_visibility_timeout_seconds = local.function_timeout_seconds + 60
  max_receive_count                 = 5
  # A message must outlive all its deliveries, or it expires before reaching the DLQ:
  # one visibility timeout per delivery, plus one for the receive that moves it.
  events_retention_seconds = max(3600, (local.max_receive_count + 1) * local.events_visibility_timeout_seconds)

  # Maximum concurrency per mapping (Lambda's minimum is 2). Warnings need little: each
  # is a few API calls, and a batch's records run concurrently. The rest of the reserved
  # concurrency goes to lifecycle actions, which each hold an invocation while they wait.
  spot_notice_concurrency = 2
  lifecycle_concurrency   = var.reserved_concurrency == null ? 3 : min(1000, var.reserved_concurrency - local.spot_notice_concurrency)

  sse_sqs = var.sqs_kms_key_arn == null
}

resource "aws_sqs_queue" "events_dlq" {
  name                              = "${var.events_queue_name}-dlq"
  message_retention_seconds         = 1209600 # 14 days, SQS's maximum: time to read why
  sqs_managed_sse_enabled           = local.sse_sqs ? true : null
  kms_master_key_id                 = var.sqs_kms_key_arn
  kms_data_key_reuse_period_seconds = local.sse_sqs ? null : 300
  tags                              = { Name = "${var.events_queue_name}-dlq" }
}

resource "aws_sqs_queue" "events" {
  name                              = var.events_queue_name
  visibility_timeout_seconds        = local.events_visibility_timeout_seconds
  message_retention_seconds         = local.events_retention_seconds
  sqs_managed_sse_enabled           = local.sse_sqs ? true : null
  kms_master_key_id                 = var.sqs_kms_key_arn
  kms_data_key_reuse_period_seconds = local.sse_sqs ? null : 300
  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.events_dlq.arn
    maxReceiveCount     = local.max_receive_count
  })
  tags = { Name = var.events_queue_name }
}

resource "aws_sqs_queue" "lifecycle_events" {
  name                              = var.lifecycle_queue_name
  visibility_timeout_seconds        = local.events_visibility_timeout_seconds
  message_retention_seconds         = local.events_retention_seconds
  sqs_managed_sse_enabled           = local.sse_sqs ? true : null
  kms_master_key_id                 = var.sqs_kms_key_arn
  kms_data_key_reuse_period_seconds = local.sse_sqs ? null : 300
  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.events_dlq.arn
    maxReceiveCount     = local.max_receive_count
  })
  tags = { Name = var.lifecycle_queue_name }
}

resource "aws_sqs_queue_redrive_allow_policy" "events_dlq" {
  queue_url = aws_sqs_queue.events_dlq.id
  redrive_allow_policy = jsonencode({
    redrivePermission = "byQueue"
    sourceQueueArns   = [aws_sqs_queue.events.arn, aws_sqs_queue.lifecycle_events.arn]
  })
}

# --- EventBridge rules ---------------------------------------------------------------
locals {
  rules = {
    spot-interruption = {
      description = "EC2 Spot Instance Interruption Warning (2-minute notice)"
      queue       = "events"
      pattern = {
        source        = ["aws.ec2"]
        "detail-type" = ["EC2 Spot Instance Interruption Warning"]
      }
    }
    rebalance-recommendation = {
      description = "EC2 Instance Rebalance Recommendation (elevated interruption risk)"
      queue       = "events"
      pattern = {
        source        = ["aws.ec2"]
        "detail-type" = ["EC2 Instance Rebalance Recommendation"]
      }
    }
    asg-terminate = {
      description = "Our ASG is terminating an instance (scale-in, rebalancing, Spot reclaim): our hook only"
      queue       = "lifecycle"
      pattern = {
        source        = ["aws.autoscaling"]
        "detail-type" = ["EC2 Instance-terminate Lifecycle Action"]
        # managed_draining makes ECS add its own hook (ecs-managed-draining-termination-hook)
        # to the same group. Completing that one with CONTINUE would cut ECS's drain short,
        # so only our hook's actions reach the handler (which checks the name again).
        detail = {
          AutoScalingGroupName = [var.asg_name]
          LifecycleHookName    = [local.hook_name]
        }
      }
    }
  }
  queue_arns = {
    events    = aws_sqs_queue.events.arn
    lifecycle = aws_sqs_queue.lifecycle_events.arn
  }
}

resource "aws_cloudwatch_event_rule" "this" {
  for_each      = local.rules
  name          = "${var.name}-${each.key}"
  description   = each.value.description
  event_pattern = jsonencode(each.value.pattern)
}

resource "aws_cloudwatch_event_target" "this" {
  for_each  = local.rules
  rule      = aws_cloudwatch_event_rule.this[each.key].name
  target_id = "${each.value.queue}-queue"
  arn       = local.queue_arns[each.value.queue]

  # An event EventBridge cannot deliver (queue policy, KMS key policy) lands here with
  # the error as message attributes, instead of vanishing after 24 h of retries.
  dead_letter_config {
    arn = aws_sqs_queue.events_dlq.arn
  }
}

# Who may send to each queue: only EventBridge, only for the rules that target it (the
# DLQ: for all of them, as their dead-letter target). Plus TLS only, for everyone.
locals {
  queue_senders = {
    events    = { queue = aws_sqs_queue.events, rules = [for k, r in local.rules : k if r.queue == "events"] }
    lifecycle = { queue = aws_sqs_queue.lifecycle_events, rules = [for k, r in local.rules : k if r.queue == "lifecycle"] }
    dlq       = { queue = aws_sqs_queue.events_dlq, rules = keys(local.rules) }
  }
}

data "aws_iam_policy_document" "queue" {
  for_each = local.queue_senders

  statement {
    sid       = "EventBridgeRulesOnly"
    actions   = ["sqs:SendMessage"]
    resources = [each.value.queue.arn]
    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }
    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [for k in each.value.rules : aws_cloudwatch_event_rule.this[k].arn]
    }
  }
  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["sqs:*"]
    resources = [each.value.queue.arn]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_sqs_queue_policy" "this" {
  for_each  = local.queue_senders
  queue_url = each.value.queue.id
  policy    = data.aws_iam_policy_document.queue[each.key].json
}

moved {
  from = aws_sqs_queue_policy.events
  to   = aws_sqs_queue_policy.this["events"]
}

# --- Termination lifecycle hook --------------------------------------------------------
# Holds a terminating instance in Terminating:Wait until the handler has drained it and
# completed the action (or the timeout passes, then CONTINUE).
resource "aws_autoscaling_lifecycle_hook" "drain" {
  name                   = local.hook_name
  autoscaling_group_name = var.asg_name
  lifecycle_transition   = "autoscaling:EC2_INSTANCE_TERMINATING"
  heartbeat_timeout      = var.lifecycle_hook_timeout_seconds
  default_result         = "CONTINUE"
}

# --- Function ----------------------------------------------------------------------------
# The function, its log group and its role (modules/lambda, shared with the backlog
# scaler). The role's permissions are modules/iam's spot_handler policy (policy_json).
module "function" {
  source = "../lambda"

  function_name   = var.function_name
  description     = "Drains ECS container instances on Spot interruption, rebalance and ASG termination."
  policy_name     = "spot-handler"
  policy_json     = var.policy_json
  package_path    = var.package_path
  architecture    = var.architecture
  timeout_seconds = local.function_timeout_seconds
  # A storm of interruptions must not starve the account's other functions, nor be
  # starved by them.
  reserved_concurrency = var.reserved_concurrency
  # Lambda's own trace segments (cold start, duration, throttles); the role may write
  # them (modules/iam).
  tracing            = true
  log_retention_days = var.log_retention_days
  logs_kms_key_arn   = var.logs_kms_key_arn

  # crates/spot-handler/src/config.rs reads exactly these.
  environment_variables = {
    CLUSTER_NAME           = var.cluster_name
    AUTOSCALING_GROUP_NAME = var.asg_name
    # The handler completes only this hook's actions (ECS's managed-draining hook on
    # the same group is ECS's to complete).
    LIFECYCLE_HOOK_NAME         = local.hook_name
    CAPACITY_REBALANCE          = tostring(var.capacity_rebalance)
    LIFECYCLE_MAX_WAIT_SECONDS  = tostring(local.lifecycle_max_wait_seconds)
    LIFECYCLE_POLL_SECONDS      = "5"
    LIFECYCLE_HEARTBEAT_SECONDS = tostring(max(10, floor(var.lifecycle_hook_timeout_seconds / 3)))
    METRICS_NAMESPACE           = var.metrics_namespace
  }
}

resource "aws_lambda_event_source_mapping" "events" {
  event_source_arn                   = aws_sqs_queue.events.arn
  function_name                      = module.function.function_arn
  batch_size                         = 10
  maximum_batching_window_in_seconds = 0 # an interruption notice gives 120 s: do not wait to batch
  function_response_types            = ["ReportBatchItemFailures"]

  scaling_config {
    maximum_concurrency = local.spot_notice_concurrency
  }
}

resource "aws_lambda_event_source_mapping" "lifecycle_events" {
  event_source_arn                   = aws_sqs_queue.lifecycle_events.arn
  function_name                      = module.function.function_arn
  batch_size                         = 10
  maximum_batching_window_in_seconds = 0
  function_response_types            = ["ReportBatchItemFailures"]

  scaling_config {
    maximum_concurrency = local.lifecycle_concurrency
  }
}
