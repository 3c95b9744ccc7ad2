# Issue 15, "Operate it and know what it costs", on the root module: the dashboard is
# deployed and wired to this stack's resources, and the default sizing is the measured
# one (the plan's one variable away).

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
      "\"facerec-fleet/BacklogScaler\"", "\"facerec-fleet/SpotHandler\"", "SOURCE '/ecs/facerec-worker'",
      "\"FaceRec\",\"JobDuration\",\"Service\",\"facerec-worker\"",
    ] : strcontains(module.monitoring.dashboard_body, s)])
    error_message = "The dashboard names this stack's group, queue, namespaces and log group."
  }
  # The worker publishes its EMF metrics under the namespace the dashboard and alarms name.
  assert {
    condition     = output.worker_environment.FACEREC_METRICS_NAMESPACE == "FaceRec"
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
