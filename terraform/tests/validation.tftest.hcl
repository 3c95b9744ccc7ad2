# Invalid inputs of the service (image, queue, names, tasks) are rejected before anything
# is planned (scaling, alarms, encryption, network: validation_scaling.tftest.hcl).

mock_provider "aws" {
  source = "./tests/mocks"
}

variables {
  vpc_id                      = "vpc-0123456789abcdef0"
  private_subnet_ids          = ["subnet-0123456789abcdef0"]
  security_group_ids          = ["sg-0123456789abcdef0"]
  spot_handler_package_path   = "tests/fixtures/spot-handler.zip"
  backlog_scaler_package_path = "tests/fixtures/backlog-scaler.zip"
}

run "stop_timeout_longer_than_spot_notice" {
  command = plan
  variables {
    stop_timeout_seconds = 120
  }
  expect_failures = [var.stop_timeout_seconds]
}

run "mutable_image_reference" {
  command = plan
  variables {
    worker_image = "registry.example.com/facerec-worker:latest"
  }
  expect_failures = [var.worker_image]
}

run "batch_size_above_sqs_limit" {
  command = plan
  variables {
    sqs_batch_size = 11
  }
  expect_failures = [var.sqs_batch_size]
}

run "no_subnets" {
  command = plan
  variables {
    private_subnet_ids = []
  }
  expect_failures = [var.private_subnet_ids]
}

run "bad_name" {
  command = plan
  variables {
    name = "Facerec_Worker"
  }
  expect_failures = [var.name]
}

run "spot_handler_without_package" {
  command = plan
  variables {
    spot_handler_package_path = null
  }
  expect_failures = [var.spot_handler_package_path]
}

run "unknown_allocation_strategy" {
  command = plan
  variables {
    spot_allocation_strategy = "cheapest"
  }
  expect_failures = [var.spot_allocation_strategy]
}

run "bad_log_retention" {
  command = plan
  variables {
    log_retention_days = 10
  }
  expect_failures = [var.log_retention_days]
}

run "bad_s3_prefix" {
  command = plan
  variables {
    input_s3_prefixes = ["facerec-inputs/images"]
  }
  expect_failures = [var.input_s3_prefixes]
}

run "min_tasks_above_max_tasks" {
  command = plan
  variables {
    min_tasks = 6
    max_tasks = 2
  }
  expect_failures = [terraform_data.preconditions]
}

run "spot_handler_can_be_disabled" {
  command = plan
  variables {
    enable_spot_handler       = false
    spot_handler_package_path = null
  }
  assert {
    condition     = length(module.spot_handler) == 0
    error_message = "enable_spot_handler = false must deploy no handler."
  }
}

run "name_with_a_prefix_ecs_reserves" {
  command = plan
  variables {
    name = "ecs-workers"
  }
  expect_failures = [var.name]
}

run "shared_memory_as_large_as_the_task" {
  command = plan
  variables {
    task_memory        = 4096
    shared_memory_size = 4096
  }
  expect_failures = [var.shared_memory_size]
}

