# Invalid inputs of scaling, alarms, encryption, the network and the Lambdas are rejected
# before anything is planned (the service's own inputs: validation.tftest.hcl; two files so
# that scripts/test-terraform.sh can run them side by side).

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
