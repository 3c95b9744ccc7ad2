# Jobs queue, its dead-letter queue and an optional results queue.
#
# SSE: SQS-managed keys by default (no key policy to get wrong, no KMS request cost);
# a customer-managed key when one is given.
locals {
  # Producers named by account root stand for their whole account.
  producer_accounts = [for p in var.producer_principal_arns : regex("^arn:[^:]+:iam::([0-9]{12}):root$", p)[0] if can(regex("^arn:[^:]+:iam::[0-9]{12}:root$", p))]
  producer_arns     = [for p in var.producer_principal_arns : p if !can(regex("^arn:[^:]+:iam::[0-9]{12}:root$", p))]

  sse_sqs = var.kms_key_arn == null
  # Data keys are reused for 5 minutes to keep KMS calls (and cost) down; only used with KMS.
  kms_data_key_reuse_seconds = 300
}

resource "aws_sqs_queue" "dlq" {
  name                              = "${var.name}-jobs-dlq"
  message_retention_seconds         = 1209600 # 14 days, SQS's maximum: time to inspect and redrive
  sqs_managed_sse_enabled           = local.sse_sqs ? true : null
  kms_master_key_id                 = var.kms_key_arn
  kms_data_key_reuse_period_seconds = local.sse_sqs ? null : local.kms_data_key_reuse_seconds
  tags                              = { Name = "${var.name}-jobs-dlq" }
}

resource "aws_sqs_queue" "jobs" {
  name                              = "${var.name}-jobs"
  visibility_timeout_seconds        = var.visibility_timeout_seconds
  message_retention_seconds         = var.message_retention_seconds
  receive_wait_time_seconds         = 20 # long polling by default, even for consumers that forget it
  sqs_managed_sse_enabled           = local.sse_sqs ? true : null
  kms_master_key_id                 = var.kms_key_arn
  kms_data_key_reuse_period_seconds = local.sse_sqs ? null : local.kms_data_key_reuse_seconds

  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.dlq.arn
    maxReceiveCount     = var.max_receive_count
  })

  tags = { Name = "${var.name}-jobs" }
}

# Only the jobs queue may use the DLQ, so a misconfigured queue elsewhere cannot fill it.
resource "aws_sqs_queue_redrive_allow_policy" "dlq" {
  queue_url = aws_sqs_queue.dlq.id
  redrive_allow_policy = jsonencode({
    redrivePermission = "byQueue"
    sourceQueueArns   = [aws_sqs_queue.jobs.arn]
  })
}

resource "aws_sqs_queue" "results" {
  count                             = var.create_result_queue ? 1 : 0
  name                              = "${var.name}-results"
  message_retention_seconds         = var.result_retention_seconds
  receive_wait_time_seconds         = 20
  sqs_managed_sse_enabled           = local.sse_sqs ? true : null
  kms_master_key_id                 = var.kms_key_arn
  kms_data_key_reuse_period_seconds = local.sse_sqs ? null : local.kms_data_key_reuse_seconds
  tags                              = { Name = "${var.name}-results" }
}

data "aws_iam_policy_document" "jobs" {
  # Every request must use TLS.
  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["sqs:*"]
    resources = [aws_sqs_queue.jobs.arn]
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

  # Only the named producers may send jobs. The Allow lets them send from other
  # accounts; the Deny makes the list exclusive, overriding any identity policy in this
  # account. It denies only SendMessage (and so SendMessageBatch): the workers never send
  # to this queue, and administrators keep every other action, the policy included.
  # Redriving the DLQ back here sends with the caller's identity, so the operator who
  # redrives must be listed too (docs/operations.md).
  dynamic "statement" {
    for_each = length(var.producer_principal_arns) > 0 ? [1] : []
    content {
      sid       = "AllowNamedProducers"
      effect    = "Allow"
      actions   = ["sqs:SendMessage", "sqs:GetQueueAttributes", "sqs:GetQueueUrl"]
      resources = [aws_sqs_queue.jobs.arn]
      principals {
        type        = "AWS"
        identifiers = var.producer_principal_arns
      }
    }
  }
  dynamic "statement" {
    for_each = length(var.producer_principal_arns) > 0 ? [1] : []
    content {
      sid       = "DenySendingToAnyoneElse"
      effect    = "Deny"
      actions   = ["sqs:SendMessage"]
      resources = [aws_sqs_queue.jobs.arn]
      principals {
        type        = "*"
        identifiers = ["*"]
      }
      # aws:PrincipalArn is the role's ARN for a role session, so role ARNs (and
      # patterns such as role/ingest-*) match every session of the role.
      dynamic "condition" {
        for_each = length(local.producer_arns) > 0 ? [1] : []
        content {
          test     = "ArnNotLike"
          variable = "aws:PrincipalArn"
          values   = local.producer_arns
        }
      }
      # An account root (arn:aws:iam::ACCOUNT:root) names every principal of that
      # account; conditions are ANDed, so the Deny spares those too.
      dynamic "condition" {
        for_each = length(local.producer_accounts) > 0 ? [1] : []
        content {
          test     = "StringNotEquals"
          variable = "aws:PrincipalAccount"
          values   = local.producer_accounts
        }
      }
    }
  }
}

resource "aws_sqs_queue_policy" "jobs" {
  queue_url = aws_sqs_queue.jobs.id
  policy    = data.aws_iam_policy_document.jobs.json
}

data "aws_iam_policy_document" "tls_only" {
  for_each = { for k, q in merge({ dlq = aws_sqs_queue.dlq }, var.create_result_queue ? { results = aws_sqs_queue.results[0] } : {}) : k => q.arn }
  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["sqs:*"]
    resources = [each.value]
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

resource "aws_sqs_queue_policy" "dlq" {
  queue_url = aws_sqs_queue.dlq.id
  policy    = data.aws_iam_policy_document.tls_only["dlq"].json
}

resource "aws_sqs_queue_policy" "results" {
  count     = var.create_result_queue ? 1 : 0
  queue_url = aws_sqs_queue.results[0].id
  policy    = data.aws_iam_policy_document.tls_only["results"].json
}
