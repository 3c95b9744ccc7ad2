mock_provider "aws" {
  source = "./tests/mocks"
}

# modules/sqs: jobs queue, DLQ, results queue and their policies.

variables {
  name                       = "facerec-worker"
  visibility_timeout_seconds = 60
  message_retention_seconds  = 345600
  max_receive_count          = 5
  producer_principal_arns    = ["arn:aws:iam::123456789012:role/producer"]
}

run "queues" {
  command = apply
  module {
    source = "./modules/sqs"
  }

  assert {
    condition     = jsondecode(aws_sqs_queue.jobs.redrive_policy).maxReceiveCount == 5
    error_message = "maxReceiveCount must come from scaling.json."
  }
  assert {
    condition     = aws_sqs_queue.dlq.message_retention_seconds == 1209600
    error_message = "The DLQ must keep messages 14 days."
  }
  assert {
    condition     = aws_sqs_queue.jobs.sqs_managed_sse_enabled && aws_sqs_queue.dlq.sqs_managed_sse_enabled
    error_message = "Queues must be encrypted (SSE-SQS by default)."
  }
  assert {
    condition     = jsondecode(aws_sqs_queue_redrive_allow_policy.dlq.redrive_allow_policy).redrivePermission == "byQueue"
    error_message = "Only the jobs queue may redrive into the DLQ."
  }
  assert {
    condition     = anytrue([for s in data.aws_iam_policy_document.jobs.statement : s.effect == "Deny" && anytrue([for c in s.condition : c.variable == "aws:SecureTransport" && contains(c.values, "false")])])
    error_message = "The jobs queue policy must deny non-TLS access."
  }
  assert {
    condition     = anytrue([for s in data.aws_iam_policy_document.jobs.statement : s.effect == "Allow" && contains(s.actions, "sqs:SendMessage") && anytrue([for p in s.principals : contains(p.identifiers, "arn:aws:iam::123456789012:role/producer")])])
    error_message = "The named producers must be allowed to send."
  }
  # "Only named producers": the Allow alone restricts no one in this account.
  assert {
    condition = one([for s in data.aws_iam_policy_document.jobs.statement : {
      actions    = s.actions
      principals = s.principals
      conditions = [for c in s.condition : "${c.test} ${c.variable} ${join(",", c.values)}"]
      } if s.sid == "DenySendingToAnyoneElse"]) == {
      actions    = toset(["sqs:SendMessage"])
      principals = toset([{ type = "*", identifiers = toset(["*"]) }])
      conditions = ["ArnNotLike aws:PrincipalArn arn:aws:iam::123456789012:role/producer"]
    }
    error_message = "Everyone but the named producers must be denied sqs:SendMessage, and nothing else (workers and administrators keep their other actions)."
  }
}

run "account_roots_stand_for_their_account" {
  command = apply
  module {
    source = "./modules/sqs"
  }
  variables {
    producer_principal_arns = ["arn:aws:iam::123456789012:role/ingest-*", "arn:aws:iam::210987654321:root"]
  }

  assert {
    condition = toset(one([for s in data.aws_iam_policy_document.jobs.statement : [for c in s.condition : "${c.test} ${c.variable} ${join(",", c.values)}"] if s.sid == "DenySendingToAnyoneElse"])) == toset([
      "ArnNotLike aws:PrincipalArn arn:aws:iam::123456789012:role/ingest-*",
      "StringNotEquals aws:PrincipalAccount 210987654321",
    ])
    error_message = "A role pattern matches by ARN, an account root by account; the Deny applies only when neither matches."
  }
}

run "no_producers_named_no_deny" {
  command = apply
  module {
    source = "./modules/sqs"
  }
  variables {
    producer_principal_arns = []
  }

  assert {
    condition     = [for s in data.aws_iam_policy_document.jobs.statement : s.sid] == ["DenyInsecureTransport"]
    error_message = "With no producers named, IAM policies alone decide who sends (only TLS is enforced)."
  }
}

run "customer_managed_key" {
  command = apply
  module {
    source = "./modules/sqs"
  }
  variables {
    kms_key_arn = "arn:aws:kms:us-east-1:123456789012:key/00000000-0000-0000-0000-000000000000"
  }
  assert {
    condition     = aws_sqs_queue.jobs.kms_master_key_id == var.kms_key_arn && aws_sqs_queue.dlq.kms_master_key_id == var.kms_key_arn
    error_message = "A customer-managed key must encrypt the queues."
  }
}
