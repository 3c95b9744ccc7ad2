# Issue 15, "Operate it and know what it costs", on the root module: the dashboard is
# deployed and wired to this stack's resources, the default sizing is the measured one
# (the plan's one variable away), and results are kept only as long as configured.

mock_provider "aws" {
  source = "./tests/mocks"
}

variables {
  vpc_id                      = "vpc-0123456789abcdef0"
  private_subnet_ids          = ["subnet-0123456789abcdef0", "subnet-0123456789abcdef1"]
  security_group_ids          = ["sg-0123456789abcdef0"]
  spot_handler_package_path   = "tests/fixtures/spot-handler.zip"
  backlog_scaler_package_path = "tests/fixtures/backlog-scaler.zip"
}

run "dashboard_of_this_stack" {
  command = apply

  assert {
    condition     = output.dashboard_url == "https://us-east-1.console.aws.amazon.com/cloudwatch/home?region=us-east-1#dashboards/dashboard/facerec-worker-fleet"
    error_message = "The dashboard is created by default and its URL is an output."
  }
  assert {
    condition = alltrue([for s in [
      "\"AutoScalingGroupName\",\"facerec-worker-asg\"", "\"QueueName\",\"facerec-worker-jobs\"",
      "\"facerec-fleet\",\"DesiredTasks\",\"ServiceName\",\"facerec-worker-service\"",
      "\"facerec-fleet\",\"HandlerErrors\",\"Transient\"", "SOURCE '/ecs/facerec-worker'",
      "\"facerec-fleet\",\"JobDuration\",\"Service\",\"facerec-worker\"",
    ] : strcontains(module.monitoring.dashboard_body, s)])
    error_message = "The dashboard names this stack's group, queue, service, log group, and the fleet's namespace for the worker and both Lambdas."
  }
  # The worker publishes its EMF metrics under the namespace the dashboard and alarms name.
  assert {
    condition     = output.worker_environment.FACEREC_METRICS_NAMESPACE == "facerec-fleet"
    error_message = "The worker's metrics namespace is set explicitly."
  }
  # The dashboard's instance widgets need the group's metrics.
  assert {
    condition     = toset(module.asg.enabled_metrics) == toset(["GroupDesiredCapacity", "GroupInServiceInstances", "GroupPendingInstances", "GroupTerminatingInstances", "GroupTotalInstances"])
    error_message = "Group metrics must be enabled, or AWS publishes none."
  }
}

run "no_dashboard" {
  command = apply
  variables {
    create_dashboard = false
  }
  assert {
    condition     = output.dashboard_url == null
    error_message = "create_dashboard = false: no dashboard."
  }
}

run "measured_sizing_by_default" {
  command = apply

  assert {
    condition     = module.asg.instance_types == ["c5.large", "c6i.large", "m5.large"]
    error_message = "Default instances: 2-vCPU types (docs/design.md, \"Task size\")."
  }
  assert {
    condition     = module.ecs.task_cpu == "2048" && module.ecs.task_memory == "3072"
    error_message = "Default task: both vCPUs of the instance, 3072 MiB."
  }
}

run "plan_sizing_is_one_variable_away" {
  command = apply
  variables {
    sizing = "plan"
  }
  assert {
    condition     = module.asg.instance_types == ["c5.2xlarge", "m5.2xlarge"] && module.ecs.task_cpu == "2048" && module.ecs.task_memory == "13312"
    error_message = "sizing = \"plan\" restores the plan's c5.2xlarge / m5.2xlarge and 2048 / 13312 task."
  }
}

run "results_retention_defaults" {
  command = apply
  variables {
    result_s3_prefix = "s3://facerec-results/v1/"
  }
  assert {
    condition     = module.sqs.results_queue_retention_seconds == 345600
    error_message = "An uncollected result is deleted after 4 days by default."
  }
  # The bucket is not the stack's: its lifecycle is left alone unless asked, and the rule
  # to add is an output.
  assert {
    condition     = length(aws_s3_bucket_lifecycle_configuration.results) == 0
    error_message = "The result bucket's lifecycle is not taken over by default."
  }
  assert {
    condition     = jsondecode(output.result_lifecycle_rule) == { ID = "facerec-worker-results-expire", Status = "Enabled", Filter = { Prefix = "v1/" }, Expiration = { Days = 30 } }
    error_message = "The rule expires the result prefix after 30 days."
  }
}

run "results_lifecycle_when_the_stack_owns_the_bucket" {
  command = apply
  variables {
    result_s3_prefix               = "s3://facerec-results/v1/"
    manage_result_lifecycle        = true
    result_expiration_days         = 7
    result_queue_retention_seconds = 86400
  }
  assert {
    condition = (
      aws_s3_bucket_lifecycle_configuration.results[0].bucket == "facerec-results" &&
      aws_s3_bucket_lifecycle_configuration.results[0].rule[0].filter[0].prefix == "v1/" &&
      aws_s3_bucket_lifecycle_configuration.results[0].rule[0].expiration[0].days == 7 &&
      aws_s3_bucket_lifecycle_configuration.results[0].rule[0].status == "Enabled"
    )
    error_message = "Results under the prefix expire after result_expiration_days."
  }
  assert {
    condition     = module.sqs.results_queue_retention_seconds == 86400
    error_message = "The results queue keeps results result_queue_retention_seconds."
  }
}

run "retention_is_validated" {
  command = plan
  variables {
    result_queue_retention_seconds = 1209601
    result_expiration_days         = 0
  }
  expect_failures = [var.result_queue_retention_seconds, var.result_expiration_days]
}
