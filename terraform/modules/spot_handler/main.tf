# Spot interruption handler: EventBridge -> SQS -> Lambda.
#
# Why a queue between EventBridge and the function (as aws-node-termination-handler's
# queue-processor mode does): events survive a throttled or failing function (SQS retries
# with its own visibility timeout and keeps them up to 4 days, then a DLQ), a batch can
# report per-event failures, and duplicates are absorbed by the handler's idempotence.
# EventBridge's direct Lambda target retries for at most 24 h with no per-event view.

locals {
  hook_name = "${var.name}-drain-on-terminate"
  # One invocation may wait up to lifecycle_max_wait for an instance's tasks to stop
  # (crates/spot-handler caps it at 840 s); the function timeout leaves a minute more, and
  # SQS's visibility must exceed the function timeout (AWS recommends 6x).
  lifecycle_max_wait_seconds = min(840, var.lifecycle_max_wait_seconds)
  function_timeout_seconds   = min(900, local.lifecycle_max_wait_seconds + 60)
}

resource "aws_sqs_queue" "events_dlq" {
  name                              = "${var.events_queue_name}-dlq"
  message_retention_seconds         = 1209600
  sqs_managed_sse_enabled           = var.sqs_kms_key_arn == null ? true : null
  kms_master_key_id                 = var.sqs_kms_key_arn
  kms_data_key_reuse_period_seconds = var.sqs_kms_key_arn == null ? null : 300
  tags                              = { Name = "${var.events_queue_name}-dlq" }
}

resource "aws_sqs_queue" "events" {
  name                              = var.events_queue_name
  visibility_timeout_seconds        = 6 * local.function_timeout_seconds
  message_retention_seconds         = 3600 # an interruption event is worthless after an hour
  sqs_managed_sse_enabled           = var.sqs_kms_key_arn == null ? true : null
  kms_master_key_id                 = var.sqs_kms_key_arn
  kms_data_key_reuse_period_seconds = var.sqs_kms_key_arn == null ? null : 300
  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.events_dlq.arn
    maxReceiveCount     = 5
  })
  tags = { Name = var.events_queue_name }
}

resource "aws_sqs_queue_redrive_allow_policy" "events_dlq" {
  queue_url = aws_sqs_queue.events_dlq.id
  redrive_allow_policy = jsonencode({
    redrivePermission = "byQueue"
    sourceQueueArns   = [aws_sqs_queue.events.arn]
  })
}

# --- EventBridge rules ---------------------------------------------------------------
locals {
  rules = {
    spot-interruption = {
      description = "EC2 Spot Instance Interruption Warning (2-minute notice)"
      pattern = {
        source        = ["aws.ec2"]
        "detail-type" = ["EC2 Spot Instance Interruption Warning"]
      }
    }
    rebalance-recommendation = {
      description = "EC2 Instance Rebalance Recommendation (elevated interruption risk)"
      pattern = {
        source        = ["aws.ec2"]
        "detail-type" = ["EC2 Instance Rebalance Recommendation"]
      }
    }
    asg-terminate = {
      description = "Our ASG is terminating an instance (scale-in, rebalancing)"
      pattern = {
        source        = ["aws.autoscaling"]
        "detail-type" = ["EC2 Instance-terminate Lifecycle Action"]
        detail        = { AutoScalingGroupName = [var.asg_name] }
      }
    }
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
  target_id = "spot-events-queue"
  arn       = aws_sqs_queue.events.arn
}

data "aws_iam_policy_document" "events_queue" {
  statement {
    sid       = "EventBridgeRulesOnly"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.events.arn]
    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }
    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [for r in aws_cloudwatch_event_rule.this : r.arn]
    }
  }
  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["sqs:*"]
    resources = [aws_sqs_queue.events.arn]
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

resource "aws_sqs_queue_policy" "events" {
  queue_url = aws_sqs_queue.events.id
  policy    = data.aws_iam_policy_document.events_queue.json
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
resource "aws_cloudwatch_log_group" "this" {
  name              = "/aws/lambda/${var.function_name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.logs_kms_key_arn
}

resource "aws_lambda_function" "this" {
  # checkov:skip=CKV_AWS_117:The handler calls only AWS APIs; a VPC would add NAT cost and a failure point, nothing to protect.
  # checkov:skip=CKV_AWS_116:Its event source is SQS, whose redrive policy (events DLQ) is the dead-letter path; a function DLQ applies to async invokes only.
  # checkov:skip=CKV_AWS_173:The environment holds only names and flags, no secrets; Lambda encrypts it at rest with an AWS key.
  # checkov:skip=CKV_AWS_272:Code signing needs a signer profile the project cannot create for users; the zip's hash is pinned by source_code_hash.
  function_name    = var.function_name
  description      = "Drains ECS container instances on Spot interruption, rebalance and ASG termination."
  role             = var.role_arn
  runtime          = "provided.al2023"
  handler          = "bootstrap"
  architectures    = [var.architecture]
  filename         = var.package_path
  source_code_hash = filebase64sha256(var.package_path)
  memory_size      = 128
  timeout          = local.function_timeout_seconds
  # A storm of interruptions must not starve the account's other functions, nor be
  # starved by them.
  reserved_concurrent_executions = 5

  tracing_config {
    mode = "Active"
  }

  # Text: the handler writes its own JSON log lines and EMF metric lines to stdout, and
  # EMF lines must reach CloudWatch Logs unwrapped.
  logging_config {
    log_format = "Text"
    log_group  = aws_cloudwatch_log_group.this.name
  }

  # crates/spot-handler/src/config.rs reads exactly these.
  environment {
    variables = {
      CLUSTER_NAME                = var.cluster_name
      AUTOSCALING_GROUP_NAME      = var.asg_name
      CAPACITY_REBALANCE          = tostring(var.capacity_rebalance)
      LIFECYCLE_MAX_WAIT_SECONDS  = tostring(local.lifecycle_max_wait_seconds)
      LIFECYCLE_POLL_SECONDS      = "5"
      LIFECYCLE_HEARTBEAT_SECONDS = tostring(max(10, floor(var.lifecycle_hook_timeout_seconds / 3)))
      METRICS_NAMESPACE           = "facerec-fleet/SpotHandler"
    }
  }
}

resource "aws_lambda_event_source_mapping" "events" {
  event_source_arn                   = aws_sqs_queue.events.arn
  function_name                      = aws_lambda_function.this.arn
  batch_size                         = 10
  maximum_batching_window_in_seconds = 0 # an interruption notice gives 120 s: do not wait to batch
  function_response_types            = ["ReportBatchItemFailures"]
}
