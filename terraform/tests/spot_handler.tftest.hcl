mock_provider "aws" {
  source = "./tests/mocks"
}

# modules/spot_handler: EventBridge -> SQS -> Lambda, termination hook.

variables {
  name                           = "facerec-worker"
  function_name                  = "facerec-worker-spot-handler"
  events_queue_name              = "facerec-worker-spot-events"
  lifecycle_queue_name           = "facerec-worker-lifecycle-events"
  policy_json                    = "{\"Version\":\"2012-10-17\",\"Statement\":[]}"
  package_path                   = "tests/fixtures/spot-handler.zip"
  architecture                   = "x86_64"
  cluster_name                   = "facerec-worker-cluster"
  asg_name                       = "facerec-worker-asg"
  capacity_rebalance             = true
  lifecycle_hook_timeout_seconds = 300
  log_retention_days             = 30
}

# The shared mock gives every queue the same ARN; distinct ones show which rule feeds
# which queue.
override_resource {
  target = aws_sqs_queue.events
  values = {
    arn = "arn:aws:sqs:us-east-1:123456789012:facerec-worker-spot-events"
    id  = "https://sqs.us-east-1.amazonaws.com/123456789012/facerec-worker-spot-events"
  }
}

override_resource {
  target = aws_sqs_queue.lifecycle_events
  values = {
    arn = "arn:aws:sqs:us-east-1:123456789012:facerec-worker-lifecycle-events"
    id  = "https://sqs.us-east-1.amazonaws.com/123456789012/facerec-worker-lifecycle-events"
  }
}

override_resource {
  target = aws_sqs_queue.events_dlq
  values = {
    arn = "arn:aws:sqs:us-east-1:123456789012:facerec-worker-spot-events-dlq"
    id  = "https://sqs.us-east-1.amazonaws.com/123456789012/facerec-worker-spot-events-dlq"
  }
}

run "rules_match_the_three_events_and_only_our_hook" {
  command = apply
  module {
    source = "./modules/spot_handler"
  }

  assert {
    condition     = toset(keys(aws_cloudwatch_event_rule.this)) == toset(["spot-interruption", "rebalance-recommendation", "asg-terminate"])
    error_message = "Rules for interruption warnings, rebalance recommendations and ASG terminations."
  }
  assert {
    condition     = jsondecode(aws_cloudwatch_event_rule.this["spot-interruption"].event_pattern) == { source = ["aws.ec2"], "detail-type" = ["EC2 Spot Instance Interruption Warning"] }
    error_message = "The interruption rule must match EC2's warning, any instance (the handler skips foreign ones)."
  }
  assert {
    condition     = jsondecode(aws_cloudwatch_event_rule.this["rebalance-recommendation"].event_pattern) == { source = ["aws.ec2"], "detail-type" = ["EC2 Instance Rebalance Recommendation"] }
    error_message = "The rebalance rule must match EC2's rebalance recommendation."
  }
  # managed_draining adds ECS's own hook to the group: only ours may reach the handler.
  assert {
    condition = jsondecode(aws_cloudwatch_event_rule.this["asg-terminate"].event_pattern) == {
      source        = ["aws.autoscaling"]
      "detail-type" = ["EC2 Instance-terminate Lifecycle Action"]
      detail = {
        AutoScalingGroupName = ["facerec-worker-asg"]
        LifecycleHookName    = [aws_autoscaling_lifecycle_hook.drain.name]
      }
    }
    error_message = "The termination rule must match our group's actions of our hook only."
  }
  assert {
    condition     = aws_autoscaling_lifecycle_hook.drain.name == "facerec-worker-drain-on-terminate" && aws_autoscaling_lifecycle_hook.drain.lifecycle_transition == "autoscaling:EC2_INSTANCE_TERMINATING" && aws_autoscaling_lifecycle_hook.drain.default_result == "CONTINUE"
    error_message = "The termination hook must hold terminating instances and continue on timeout."
  }
  assert {
    condition = {
      for k, t in aws_cloudwatch_event_target.this : k => t.arn
      } == {
      spot-interruption        = aws_sqs_queue.events.arn
      rebalance-recommendation = aws_sqs_queue.events.arn
      asg-terminate            = aws_sqs_queue.lifecycle_events.arn
    }
    error_message = "EC2's notices go to the events queue, lifecycle actions to their own queue."
  }
  assert {
    condition     = alltrue([for t in aws_cloudwatch_event_target.this : one(t.dead_letter_config).arn == aws_sqs_queue.events_dlq.arn])
    error_message = "Every target must dead-letter undeliverable events to the events DLQ."
  }
}

run "function_environment_is_what_the_crate_reads" {
  command = apply
  module {
    source = "./modules/spot_handler"
  }

  assert {
    condition     = module.function.function.runtime == "provided.al2023" && module.function.function.handler == "bootstrap"
    error_message = "The handler runs on provided.al2023."
  }
  assert {
    condition = module.function.function.environment[0].variables == tomap({
      CLUSTER_NAME                = "facerec-worker-cluster"
      AUTOSCALING_GROUP_NAME      = "facerec-worker-asg"
      LIFECYCLE_HOOK_NAME         = "facerec-worker-drain-on-terminate"
      CAPACITY_REBALANCE          = "true"
      LIFECYCLE_MAX_WAIT_SECONDS  = "600"
      LIFECYCLE_POLL_SECONDS      = "5"
      LIFECYCLE_HEARTBEAT_SECONDS = "100"
      METRICS_NAMESPACE           = "facerec-fleet"
    })
    error_message = "The function must get exactly the configuration crates/spot-handler/src/config.rs reads (hook name = our hook, heartbeat a third of the hook timeout)."
  }
  assert {
    condition     = module.function.function.environment[0].variables.LIFECYCLE_HOOK_NAME == aws_autoscaling_lifecycle_hook.drain.name
    error_message = "The handler must know the name of the hook it completes."
  }
  assert {
    condition     = module.function.function.tracing_config[0].mode == "Active" && module.function.function.logging_config[0].log_format == "Text"
    error_message = "Active tracing; Text logs so EMF lines reach CloudWatch unwrapped."
  }
  assert {
    condition     = module.function.function.timeouts.create == "10m" && module.function.function.timeouts.update == "10m"
    error_message = "The function has timeouts, as every resource whose provider supports them."
  }
  # Its role is beside it (modules/lambda); moved here from tests/iam.tftest.hcl.
  assert {
    condition     = [for c in module.function.assume_role_policy[0].condition : "${c.test} ${c.variable} ${join(",", c.values)}"] == ["StringEquals aws:SourceAccount 123456789012"]
    error_message = "Only functions of this account may assume the handler role (confused deputy)."
  }
  assert {
    condition     = module.function.role_name == "facerec-worker-spot-handler-role" && module.function.function.role == module.function.role_arn
    error_message = "The function runs with its own role, named as before the role moved beside it."
  }
}

# A failed event must come back (visibility) and reach the DLQ before it expires
# (retention): an earlier version kept messages 1 h with a 66 min visibility.
run "retries_reach_the_dlq_before_messages_expire" {
  command = apply
  module {
    source = "./modules/spot_handler"
  }

  assert {
    condition     = module.function.function.timeout > tonumber(module.function.function.environment[0].variables.LIFECYCLE_MAX_WAIT_SECONDS) && module.function.function.timeout <= 900
    error_message = "The function must outlive its longest lifecycle wait, within Lambda's 900 s."
  }
  assert {
    condition = alltrue([for q in [aws_sqs_queue.events, aws_sqs_queue.lifecycle_events] :
      q.visibility_timeout_seconds >= module.function.function.timeout &&
      q.message_retention_seconds > jsondecode(q.redrive_policy).maxReceiveCount * q.visibility_timeout_seconds &&
      jsondecode(q.redrive_policy).deadLetterTargetArn == aws_sqs_queue.events_dlq.arn
    ])
    error_message = "Each event queue: visibility >= function timeout (Lambda refuses the mapping otherwise), retention > maxReceiveCount x visibility, redrive to the events DLQ."
  }
  assert {
    condition     = aws_sqs_queue.events.visibility_timeout_seconds == 720 && aws_sqs_queue.events.message_retention_seconds == 4320
    error_message = "With the default 600 s wait: timeout 660 s, visibility 720 s, retention 6 x 720 s (docs/spot.md)."
  }
  assert {
    condition     = toset(jsondecode(aws_sqs_queue_redrive_allow_policy.events_dlq.redrive_allow_policy).sourceQueueArns) == toset([aws_sqs_queue.events.arn, aws_sqs_queue.lifecycle_events.arn])
    error_message = "Only the two event queues may redrive into the events DLQ."
  }
}

run "each_queue_has_its_own_share_of_the_reserved_concurrency" {
  command = apply
  module {
    source = "./modules/spot_handler"
  }
  variables {
    reserved_concurrency = 5
  }

  assert {
    condition     = aws_lambda_event_source_mapping.events.event_source_arn == aws_sqs_queue.events.arn && aws_lambda_event_source_mapping.lifecycle_events.event_source_arn == aws_sqs_queue.lifecycle_events.arn
    error_message = "One mapping per event queue."
  }
  assert {
    condition     = alltrue([for m in [aws_lambda_event_source_mapping.events, aws_lambda_event_source_mapping.lifecycle_events] : contains(m.function_response_types, "ReportBatchItemFailures") && m.maximum_batching_window_in_seconds == 0])
    error_message = "Both mappings report per-event failures and do not wait to batch."
  }
  assert {
    condition     = aws_lambda_event_source_mapping.events.scaling_config[0].maximum_concurrency == 2 && aws_lambda_event_source_mapping.lifecycle_events.scaling_config[0].maximum_concurrency == 3
    error_message = "A reservation of 5 splits 2 for Spot notices, 3 for lifecycle actions."
  }
  assert {
    condition     = aws_lambda_event_source_mapping.events.scaling_config[0].maximum_concurrency + aws_lambda_event_source_mapping.lifecycle_events.scaling_config[0].maximum_concurrency <= module.function.function.reserved_concurrent_executions
    error_message = "The mappings' maximum concurrencies must fit in the reserved concurrency, or Lambda throttles them."
  }
}

run "reserved_concurrency_can_grow_or_be_dropped" {
  command = apply
  module {
    source = "./modules/spot_handler"
  }
  variables {
    reserved_concurrency = 12
  }

  assert {
    condition     = module.function.function.reserved_concurrent_executions == 12 && aws_lambda_event_source_mapping.events.scaling_config[0].maximum_concurrency == 2 && aws_lambda_event_source_mapping.lifecycle_events.scaling_config[0].maximum_concurrency == 10
    error_message = "Spot notices keep 2; lifecycle actions get the rest."
  }
}

run "no_reserved_concurrency_by_default" {
  command = apply
  module {
    source = "./modules/spot_handler"
  }

  assert {
    condition     = module.function.function.reserved_concurrent_executions == -1 && aws_lambda_event_source_mapping.events.scaling_config[0].maximum_concurrency == 2 && aws_lambda_event_source_mapping.lifecycle_events.scaling_config[0].maximum_concurrency == 3
    error_message = "Default: nothing reserved (-1; a new account has nothing to reserve), and the mappings' maximum concurrency (2 + 3) bounds the handler."
  }
}

run "reserved_concurrency_too_small_for_two_mappings" {
  command = plan
  module {
    source = "./modules/spot_handler"
  }
  variables {
    reserved_concurrency = 3
  }
  expect_failures = [var.reserved_concurrency]
}

# CloudWatch reserves namespaces beginning with AWS/ for AWS's services.
run "metrics_namespace_of_aws_is_refused" {
  command = plan
  module {
    source = "./modules/spot_handler"
  }
  variables {
    metrics_namespace = "AWS/SpotHandler"
  }
  expect_failures = [var.metrics_namespace]
}

run "only_eventbridge_rules_may_send" {
  command = apply
  module {
    source = "./modules/spot_handler"
  }

  # Per queue: the number of rules allowed to send (SourceArn values).
  assert {
    condition = {
      for k, d in data.aws_iam_policy_document.queue : k => length(one([for s in d.statement : one(s.condition).values if s.sid == "EventBridgeRulesOnly"]))
    } == { events = 2, lifecycle = 1, dlq = 3 }
    error_message = "The events queue takes the two EC2 rules, the lifecycle queue the ASG rule, the DLQ all three (as their dead-letter target)."
  }
  assert {
    condition = alltrue([for d in data.aws_iam_policy_document.queue :
      anytrue([for s in d.statement : s.effect == "Deny" && one(s.condition).variable == "aws:SecureTransport"]) &&
      one([for s in d.statement : s.principals if s.sid == "EventBridgeRulesOnly"]) == toset([{ type = "Service", identifiers = toset(["events.amazonaws.com"]) }])
    ])
    error_message = "Only events.amazonaws.com may send, and only over TLS."
  }
  assert {
    condition     = toset(keys(aws_sqs_queue_policy.this)) == toset(["events", "lifecycle", "dlq"])
    error_message = "Every queue of the handler has a policy."
  }
}

run "customer_managed_key" {
  command = apply
  module {
    source = "./modules/spot_handler"
  }
  variables {
    sqs_kms_key_arn = "arn:aws:kms:us-east-1:123456789012:key/00000000-0000-0000-0000-000000000000"
  }

  assert {
    condition     = alltrue([for q in [aws_sqs_queue.events, aws_sqs_queue.lifecycle_events, aws_sqs_queue.events_dlq] : q.kms_master_key_id == var.sqs_kms_key_arn])
    error_message = "The key must encrypt all three queues."
  }
}
