mock_provider "aws" {
  source = "./tests/mocks"
}

# modules/ecs: cluster, capacity provider, task definition, service.

variables {
  name                      = "facerec-worker"
  cluster_name              = "facerec-worker-cluster"
  service_name              = "facerec-worker-service"
  asg_arn                   = "arn:aws:autoscaling:us-east-1:123456789012:autoScalingGroup:0:autoScalingGroupName/facerec-worker-asg"
  capacity_target_percent   = 100
  minimum_scaling_step_size = 1
  maximum_scaling_step_size = 5
  instance_warmup_seconds   = 300
  task_execution_role_arn   = "arn:aws:iam::123456789012:role/exec"
  task_role_arn             = "arn:aws:iam::123456789012:role/task"
  image                     = "123456789012.dkr.ecr.us-east-1.amazonaws.com/facerec-worker@sha256:0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0"
  task_cpu                  = 2048
  task_memory               = 13312
  shared_memory_size        = 2048
  stop_timeout_seconds      = 110
  log_group_name            = "/ecs/facerec-worker"
  log_retention_days        = 30
  environment = {
    FACE_RECOGNITION_MEMORY_THRESHOLD = "0.8"
    RAY_memory_per_process            = "1073741824"
    SQS_BATCH_SIZE                    = "3"
    QUEUE_URL                         = "https://sqs.us-east-1.amazonaws.com/123456789012/facerec-worker-jobs"
    DLQ_URL                           = "https://sqs.us-east-1.amazonaws.com/123456789012/facerec-worker-jobs-dlq"
  }
}

run "capacity_provider_drains_and_protects" {
  command = apply
  module {
    source = "./modules/ecs"
  }

  assert {
    condition     = aws_ecs_capacity_provider.this.auto_scaling_group_provider[0].managed_draining == "ENABLED"
    error_message = "managed_draining must be ENABLED."
  }
  assert {
    condition     = aws_ecs_capacity_provider.this.auto_scaling_group_provider[0].managed_termination_protection == "ENABLED"
    error_message = "managed_termination_protection must be ENABLED."
  }
  assert {
    condition = (
      aws_ecs_capacity_provider.this.auto_scaling_group_provider[0].managed_scaling[0].status == "ENABLED" &&
      aws_ecs_capacity_provider.this.auto_scaling_group_provider[0].managed_scaling[0].target_capacity == 100 &&
      aws_ecs_capacity_provider.this.auto_scaling_group_provider[0].managed_scaling[0].minimum_scaling_step_size == 1 &&
      aws_ecs_capacity_provider.this.auto_scaling_group_provider[0].managed_scaling[0].maximum_scaling_step_size == 5 &&
      aws_ecs_capacity_provider.this.auto_scaling_group_provider[0].managed_scaling[0].instance_warmup_period == 300
    )
    error_message = "Managed scaling must use the plan's values (100 %, steps 1..5, warm-up 300 s)."
  }
}

# Backlog scaler mode: the scaler sets the group's capacity, so ECS must not (and managed
# termination protection, which requires managed scaling, is off with it).
run "capacity_provider_without_managed_scaling" {
  command = apply
  module {
    source = "./modules/ecs"
  }
  variables {
    managed_scaling = false
  }

  assert {
    condition = (
      aws_ecs_capacity_provider.this.auto_scaling_group_provider[0].managed_scaling[0].status == "DISABLED" &&
      aws_ecs_capacity_provider.this.auto_scaling_group_provider[0].managed_termination_protection == "DISABLED" &&
      aws_ecs_capacity_provider.this.auto_scaling_group_provider[0].managed_draining == "ENABLED"
    )
    error_message = "Without managed scaling: managed termination protection DISABLED (AWS requires managed scaling for it), managed draining still ENABLED."
  }
  assert {
    condition     = output.capacity_provider_management == { managed_scaling = "DISABLED", managed_termination_protection = "DISABLED", managed_draining = "ENABLED" }
    error_message = "The module reports what ECS manages."
  }
  assert {
    condition     = length(aws_ecs_service.worker.capacity_provider_strategy) == 1 && one(aws_ecs_service.worker.placement_constraints).type == "distinctInstance"
    error_message = "The service is the same in both modes: capacity provider strategy, one task per instance."
  }
}

# tests/mocks gives aws_ecs_service a launch_type default of "": unset, it reads "";
# set in the configuration, it reads as set. tests/static_rules.py checks the HCL too.
run "service_uses_the_capacity_provider_never_a_launch_type" {
  command = apply
  module {
    source = "./modules/ecs"
  }

  assert {
    condition     = aws_ecs_service.worker.launch_type == ""
    error_message = "The service must not set a launch type: it would override the capacity provider strategy, and the ASG would never scale for it."
  }
  assert {
    condition     = length(aws_ecs_service.worker.capacity_provider_strategy) == 1 && one(aws_ecs_service.worker.capacity_provider_strategy).capacity_provider == aws_ecs_capacity_provider.this.name
    error_message = "The service must use the capacity provider strategy."
  }
  assert {
    condition     = one(aws_ecs_service.worker.placement_constraints).type == "distinctInstance"
    error_message = "One task per instance (distinctInstance)."
  }
  # design.md: new tasks start on new instances before old ones stop (the ASG's
  # max_size = 2 x max_tasks leaves room for that at full scale; tests/fleet.tftest.hcl).
  assert {
    condition     = aws_ecs_service.worker.deployment_minimum_healthy_percent == 100 && aws_ecs_service.worker.deployment_maximum_percent == 200
    error_message = "Deployments must be 100/200: no drop in processing while they run."
  }
  assert {
    condition     = one(aws_ecs_service.worker.deployment_circuit_breaker).enable && one(aws_ecs_service.worker.deployment_circuit_breaker).rollback
    error_message = "A deployment that cannot start healthy tasks must roll back."
  }
  # ECS applies the grace period to container health checks (no load balancer needed).
  assert {
    condition     = aws_ecs_service.worker.health_check_grace_period_seconds >= jsondecode(aws_ecs_task_definition.worker.container_definitions)[0].healthCheck.startPeriod
    error_message = "The service's health check grace period must cover at least the container health check's start period."
  }
  assert {
    condition     = aws_ecs_service.worker.health_check_grace_period_seconds == 120
    error_message = "Grace period = start period 30 s + 3 failed checks x 30 s."
  }
}

run "task_definition" {
  command = apply
  module {
    source = "./modules/ecs"
  }

  assert {
    condition     = aws_ecs_task_definition.worker.network_mode == "bridge" && aws_ecs_task_definition.worker.cpu == "2048" && aws_ecs_task_definition.worker.memory == "13312" && contains(aws_ecs_task_definition.worker.requires_compatibilities, "EC2")
    error_message = "The task definition must match the plan (EC2, bridge, 2048 CPU, 13312 MiB)."
  }
  assert {
    condition     = jsondecode(aws_ecs_task_definition.worker.container_definitions)[0].stopTimeout <= 110
    error_message = "stopTimeout must fit the 2-minute Spot notice."
  }
  assert {
    condition     = jsondecode(aws_ecs_task_definition.worker.container_definitions)[0].linuxParameters.sharedMemorySize == 2048
    error_message = "shm must be 2048 MiB."
  }
  assert {
    condition     = length(jsondecode(aws_ecs_task_definition.worker.container_definitions)[0].healthCheck.command) > 0
    error_message = "The container needs a health check."
  }
  assert {
    condition = alltrue([for name in ["FACE_RECOGNITION_MEMORY_THRESHOLD", "SQS_BATCH_SIZE", "RAY_memory_per_process", "QUEUE_URL", "DLQ_URL"] :
    contains([for e in jsondecode(aws_ecs_task_definition.worker.container_definitions)[0].environment : e.name], name)])
    error_message = "The plan's environment and the queue URLs must be set."
  }
  assert {
    condition     = { for e in jsondecode(aws_ecs_task_definition.worker.container_definitions)[0].environment : e.name => e.value }["SQS_BATCH_SIZE"] == "3"
    error_message = "SQS_BATCH_SIZE must be 3."
  }
  assert {
    condition     = aws_cloudwatch_log_group.worker.retention_in_days == 30
    error_message = "The worker log group must have a retention."
  }
  assert {
    condition     = jsondecode(aws_ecs_task_definition.worker.container_definitions)[0].readonlyRootFilesystem && jsondecode(aws_ecs_task_definition.worker.container_definitions)[0].linuxParameters.tmpfs[0].containerPath == "/tmp"
    error_message = "Read-only root filesystem with a tmpfs at /tmp (the worker's only writable path)."
  }
}
