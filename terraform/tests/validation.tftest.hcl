# Invalid inputs are rejected before anything is planned.

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

run "negative_cooldown" {
  command = plan
  variables {
    scale_in_cooldown_seconds = -1
  }
  expect_failures = [var.scale_in_cooldown_seconds]
}

run "cooldown_over_a_day" {
  command = plan
  variables {
    scale_out_cooldown_seconds = 86401
  }
  expect_failures = [var.scale_out_cooldown_seconds]
}

run "instance_warmup_beyond_the_capacity_provider_range" {
  command = plan
  variables {
    instance_warmup_seconds = 10001
  }
  expect_failures = [var.instance_warmup_seconds]
}

run "scaling_step_of_zero" {
  command = plan
  variables {
    minimum_scaling_step_size = 0
  }
  expect_failures = [var.minimum_scaling_step_size]
}

run "fractional_scaling_step" {
  command = plan
  variables {
    maximum_scaling_step_size = 2.5
  }
  expect_failures = [var.maximum_scaling_step_size]
}

run "minimum_step_above_maximum_step" {
  command = plan
  variables {
    minimum_scaling_step_size = 6
    maximum_scaling_step_size = 3
  }
  expect_failures = [terraform_data.preconditions]
}

run "cpu_threshold_above_100" {
  command = plan
  variables {
    cpu_alarm_threshold_percent = 150
  }
  expect_failures = [var.cpu_alarm_threshold_percent]
}

run "oldest_message_threshold_below_a_minute" {
  command = plan
  variables {
    oldest_message_alarm_seconds = 30
  }
  expect_failures = [var.oldest_message_alarm_seconds]
}

run "kms_alias_instead_of_key_arn" {
  command = plan
  variables {
    sqs_kms_key_arn = "alias/facerec"
  }
  expect_failures = [var.sqs_kms_key_arn]
}

run "kms_alias_arn_for_logs" {
  command = plan
  variables {
    logs_kms_key_arn = "arn:aws:kms:us-east-1:123456789012:alias/facerec"
  }
  expect_failures = [var.logs_kms_key_arn]
}

run "kms_key_arns_accepted" {
  command = plan
  variables {
    sqs_kms_key_arn         = "arn:aws:kms:us-east-1:123456789012:key/mrk-1234abcd12ab34cd56ef1234567890ab"
    ebs_kms_key_arn         = "arn:aws:kms:us-east-1:123456789012:key/00000000-0000-0000-0000-000000000000"
    logs_kms_key_arn        = "arn:aws:kms:us-east-1:123456789012:key/00000000-0000-0000-0000-000000000000"
    alarm_topic_kms_key_arn = "arn:aws:kms:us-east-1:123456789012:key/00000000-0000-0000-0000-000000000000"
    alarm_topic_arn         = "arn:aws:sns:us-east-1:123456789012:ops-alarms"
  }
  assert {
    condition     = module.monitoring.alarm_topic_arn == "arn:aws:sns:us-east-1:123456789012:ops-alarms"
    error_message = "Valid key and topic ARNs (multi-region keys included) must be accepted."
  }
}

run "topic_name_instead_of_arn" {
  command = plan
  variables {
    alarm_topic_arn = "ops-alarms"
  }
  expect_failures = [var.alarm_topic_arn]
}

run "reserved_concurrency_too_small" {
  command = plan
  variables {
    spot_handler_reserved_concurrency = 2
  }
  expect_failures = [var.spot_handler_reserved_concurrency]
}

run "subnet_of_another_vpc" {
  command = plan
  override_data {
    target = data.aws_subnet.private
    values = {
      vpc_id = "vpc-0fedcba9876543210"
    }
  }
  expect_failures = [data.aws_subnet.private]
}

run "security_group_of_another_vpc" {
  command = plan
  override_data {
    target = data.aws_security_group.workers
    values = {
      vpc_id = "vpc-0fedcba9876543210"
    }
  }
  expect_failures = [data.aws_security_group.workers]
}

run "unknown_scaling_mode" {
  command = plan
  variables {
    scaling_mode = "target_tracking"
  }
  expect_failures = [var.scaling_mode]
}

run "backlog_scaler_without_package" {
  command = plan
  variables {
    backlog_scaler_package_path = null
  }
  expect_failures = [var.backlog_scaler_package_path]
}

run "alarms_mode_needs_no_scaler_package" {
  command = plan
  variables {
    scaling_mode                = "alarms"
    backlog_scaler_package_path = null
  }
  assert {
    condition     = length(module.backlog_scaler) == 0
    error_message = "alarms mode must deploy no scaler, and need no package for it."
  }
}

run "two_concurrent_scalers" {
  command = plan
  variables {
    backlog_scaler_reserved_concurrency = 2
  }
  expect_failures = [var.backlog_scaler_reserved_concurrency]
}

run "unknown_scaler_architecture" {
  command = plan
  variables {
    backlog_scaler_architecture = "aarch64"
  }
  expect_failures = [var.backlog_scaler_architecture]
}

run "alarm_email_not_an_address" {
  command = plan
  variables {
    alarm_email = "oncall"
  }
  expect_failures = [var.alarm_email]
}

run "container_imds_access_null" {
  command = plan
  variables {
    container_imds_access = null
  }
  expect_failures = [var.container_imds_access]
}
