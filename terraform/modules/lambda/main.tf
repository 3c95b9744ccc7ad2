# One Rust Lambda (runtime provided.al2023, a bootstrap zip), its log group, and its
# execution role beside it: what the Spot handler and the backlog scaler have in common.
# Their event sources (queues, a schedule) stay with them; the permissions their code
# needs come in as policy_json (modules/iam writes both, least privilege, from names).

data "aws_caller_identity" "current" {}

data "aws_iam_policy_document" "assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
    # Confused-deputy guard: only functions of this account may assume the role.
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }
  }
}

# NAME-role: the names the two roles had in modules/iam before they moved here.
resource "aws_iam_role" "this" {
  name               = "${var.function_name}-role"
  assume_role_policy = data.aws_iam_policy_document.assume.json
}

resource "aws_iam_role_policy" "this" {
  name   = var.policy_name
  role   = aws_iam_role.this.id
  policy = var.policy_json
}

resource "aws_cloudwatch_log_group" "this" {
  name              = "/aws/lambda/${var.function_name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.logs_kms_key_arn
}

resource "aws_lambda_function" "this" {
  # checkov:skip=CKV_AWS_117:The functions call only AWS APIs; a VPC would add NAT cost and a failure point, nothing to protect.
  # checkov:skip=CKV_AWS_116:The Spot handler's event sources are SQS queues with a redrive policy (its events DLQ); the scaler's failed run is superseded by the next one a minute later. A function DLQ applies to async invokes only, and would replay stale counts.
  # checkov:skip=CKV_AWS_173:The environment holds only names, numbers and flags, no secrets; Lambda encrypts it at rest with an AWS key.
  # checkov:skip=CKV_AWS_272:Code signing needs a signer profile the project cannot create for users; the zip's hash is pinned by source_code_hash.
  # checkov:skip=CKV_AWS_50:Active tracing is the caller's choice (var.tracing): on for the Spot handler; the scaler's one identical trace a minute shows nothing its logs and EMF metrics do not, and its role gets no X-Ray permission.
  function_name    = var.function_name
  description      = var.description
  role             = aws_iam_role.this.arn
  runtime          = "provided.al2023"
  handler          = "bootstrap"
  architectures    = [var.architecture]
  filename         = var.package_path
  source_code_hash = filebase64sha256(var.package_path)
  memory_size      = var.memory_size
  timeout          = var.timeout_seconds
  # -1: unreserved (the provider's "no setting").
  reserved_concurrent_executions = coalesce(var.reserved_concurrency, -1)

  # Lambda's own trace segments (cold start, duration, throttles); the role must then
  # allow xray:PutTraceSegments and xray:PutTelemetryRecords (policy_json).
  dynamic "tracing_config" {
    for_each = var.tracing ? [1] : []
    content {
      mode = "Active"
    }
  }

  # Text: the functions write their own JSON log lines and EMF metric lines to stdout,
  # and EMF lines must reach CloudWatch Logs unwrapped.
  logging_config {
    log_format = "Text"
    log_group  = aws_cloudwatch_log_group.this.name
  }

  environment {
    variables = var.environment_variables
  }

  timeouts {
    create = "10m"
    update = "10m"
    delete = "10m"
  }

  # The function's first invocation (and, for the Spot handler, the creation of its
  # event source mappings, which Lambda checks against the role) needs the permissions.
  depends_on = [aws_iam_role_policy.this]
}
