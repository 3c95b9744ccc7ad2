mock_provider "aws" {
  source = "./tests/mocks"
}

# modules/spot_handler: EventBridge -> SQS -> Lambda, termination hook.

variables {
  name                           = "facerec-worker"
  function_name                  = "facerec-worker-spot-handler"
  events_queue_name              = "facerec-worker-spot-events"
  role_arn                       = "arn:aws:iam::123456789012:role/spot-handler"
  package_path                   = "tests/fixtures/spot-handler.zip"
  architecture                   = "x86_64"
  cluster_name                   = "facerec-worker-cluster"
  asg_name                       = "facerec-worker-asg"
  capacity_rebalance             = true
  lifecycle_hook_timeout_seconds = 300
  log_retention_days             = 30
}

run "spot_handler_is_wired" {
  command = apply
  module {
    source = "./modules/spot_handler"
  }

  assert {
    condition     = aws_lambda_function.this.runtime == "provided.al2023"
    error_message = "The handler runs on provided.al2023."
  }
  assert {
    condition     = toset(keys(aws_cloudwatch_event_rule.this)) == toset(["spot-interruption", "rebalance-recommendation", "asg-terminate"])
    error_message = "Rules for interruption warnings, rebalance recommendations and ASG terminations."
  }
  assert {
    condition     = jsondecode(aws_cloudwatch_event_rule.this["spot-interruption"].event_pattern)["detail-type"] == ["EC2 Spot Instance Interruption Warning"]
    error_message = "The interruption rule must match the warning's detail-type."
  }
  assert {
    condition     = aws_autoscaling_lifecycle_hook.drain.lifecycle_transition == "autoscaling:EC2_INSTANCE_TERMINATING" && aws_autoscaling_lifecycle_hook.drain.default_result == "CONTINUE"
    error_message = "The termination hook must hold terminating instances and continue on timeout."
  }
  assert {
    condition     = contains(aws_lambda_event_source_mapping.events.function_response_types, "ReportBatchItemFailures")
    error_message = "The handler reports per-event failures."
  }
  assert {
    condition     = alltrue([for k in ["CLUSTER_NAME", "AUTOSCALING_GROUP_NAME", "CAPACITY_REBALANCE", "LIFECYCLE_MAX_WAIT_SECONDS"] : contains(keys(aws_lambda_function.this.environment[0].variables), k)])
    error_message = "The function must get the configuration crates/spot-handler reads."
  }
  assert {
    condition     = aws_lambda_function.this.timeout > tonumber(aws_lambda_function.this.environment[0].variables.LIFECYCLE_MAX_WAIT_SECONDS) && aws_sqs_queue.events.visibility_timeout_seconds >= 6 * aws_lambda_function.this.timeout
    error_message = "The function must outlive its longest lifecycle wait, and the queue's visibility its timeout."
  }
}
