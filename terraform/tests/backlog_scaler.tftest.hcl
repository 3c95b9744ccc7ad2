mock_provider "aws" {
  source = "./tests/mocks"
}

# modules/backlog_scaler: the Lambda, its schedule, its state parameter, its log group.

variables {
  function_name              = "facerec-worker-backlog-scaler"
  schedule_name              = "facerec-worker-backlog-scaler"
  state_parameter_name       = "/facerec-worker/backlog-scaler/state"
  policy_json                = "{\"Version\":\"2012-10-17\",\"Statement\":[]}"
  schedule_role_arn          = "arn:aws:iam::123456789012:role/backlog-scaler-schedule"
  package_path               = "tests/fixtures/backlog-scaler.zip"
  architecture               = "x86_64"
  log_retention_days         = 30
  queue_url                  = "https://sqs.us-east-1.amazonaws.com/123456789012/facerec-worker-jobs"
  cluster_name               = "facerec-worker-cluster"
  service_name               = "facerec-worker-service"
  asg_name                   = "facerec-worker-asg"
  job_seconds                = 6
  acceptable_latency_seconds = 300
  cold_start_seconds         = 165
  target_utilization         = 1
  min_tasks                  = 0
  max_tasks                  = 5
  poll_seconds               = 10
  load_window_seconds        = 60
  scale_down_window_seconds  = 60
  activity_window_seconds    = 900
  queue_name                 = "facerec-worker-jobs"

  jobs_per_task_within_latency = 50
}

run "function_environment_is_what_the_crate_reads" {
  command = apply
  module {
    source = "./modules/backlog_scaler"
  }

  assert {
    condition = module.function.function.environment[0].variables == tomap({
      QUEUE_URL                  = "https://sqs.us-east-1.amazonaws.com/123456789012/facerec-worker-jobs"
      CLUSTER_NAME               = "facerec-worker-cluster"
      SERVICE_NAME               = "facerec-worker-service"
      AUTOSCALING_GROUP_NAME     = "facerec-worker-asg"
      STATE_PARAMETER            = "/facerec-worker/backlog-scaler/state"
      POLL_SECONDS               = "10"
      RUN_SECONDS                = "50"
      JOB_SECONDS                = "6"
      ACCEPTABLE_LATENCY_SECONDS = "300"
      COLD_START_SECONDS         = "165"
      TARGET_UTILIZATION         = "1"
      MIN_TASKS                  = "0"
      MAX_TASKS                  = "5"
      LOAD_WINDOW_SECONDS        = "60"
      SCALE_DOWN_WINDOW_SECONDS  = "60"
      ACTIVITY_WINDOW_SECONDS    = "900"
      METRICS_NAMESPACE          = "facerec-fleet"
    })
    error_message = "The function must get exactly the configuration crates/backlog-scaler reads (polls at 0, 10 ... 50 s of each minute)."
  }
  assert {
    condition     = module.function.function.environment[0].variables.STATE_PARAMETER == aws_ssm_parameter.state.name
    error_message = "The function must be pointed at its own state parameter."
  }
  assert {
    condition = (
      module.function.function.runtime == "provided.al2023" && module.function.function.handler == "bootstrap" &&
      module.function.function.architectures == tolist(["x86_64"]) && module.function.function.memory_size == 128 &&
      module.function.function.timeout == 60 && module.function.function.role == module.function.role_arn
    )
    error_message = "provided.al2023, bootstrap, x86_64, 128 MB, 60 s (one schedule period), its own role."
  }
  assert {
    condition     = module.function.function.logging_config[0].log_format == "Text" && module.function.function.logging_config[0].log_group == module.function.log_group.name
    error_message = "Text logs (EMF lines must reach CloudWatch unwrapped) to its own log group."
  }
  assert {
    condition     = module.function.log_group.name == "/aws/lambda/facerec-worker-backlog-scaler" && module.function.log_group.retention_in_days == 30
    error_message = "The log group is Lambda's default name for the function (the role's Logs statement is built from it), with a retention."
  }
  assert {
    condition     = module.function.function.reserved_concurrent_executions == -1
    error_message = "Default: nothing reserved (-1, the provider's unreserved), so the function applies on an account with no concurrency to spare."
  }
  assert {
    condition     = module.function.function.timeouts.create == "10m" && module.function.function.timeouts.update == "10m"
    error_message = "The function has timeouts, as every resource whose provider supports them."
  }
  # Its role is beside it (modules/lambda); moved here from tests/iam.tftest.hcl.
  assert {
    condition     = [for c in module.function.assume_role_policy[0].condition : "${c.test} ${c.variable} ${join(",", c.values)}"] == ["StringEquals aws:SourceAccount 123456789012"]
    error_message = "Only functions of this account may assume the scaler role (confused deputy)."
  }
  assert {
    condition     = module.function.role_name == "facerec-worker-backlog-scaler-role" && module.function.function.role == module.function.role_arn
    error_message = "The function runs with its own role, named as before the role moved beside it."
  }
}

run "scheduled_every_minute_on_the_minute_without_retries" {
  command = apply
  module {
    source = "./modules/backlog_scaler"
  }

  assert {
    condition     = aws_scheduler_schedule.this.schedule_expression == "rate(1 minute)" && aws_scheduler_schedule.this.state == "ENABLED" && aws_scheduler_schedule.this.name == "facerec-worker-backlog-scaler"
    error_message = "One invocation a minute (the smallest rate EventBridge Scheduler has)."
  }
  assert {
    condition     = aws_scheduler_schedule.this.flexible_time_window[0].mode == "OFF"
    error_message = "No flexible time window: the polls are the scaler's clock."
  }
  assert {
    condition     = aws_scheduler_schedule.this.target[0].arn == module.function.function.arn && aws_scheduler_schedule.this.target[0].role_arn == var.schedule_role_arn
    error_message = "The schedule invokes the function, with its own role."
  }
  assert {
    condition     = aws_scheduler_schedule.this.target[0].retry_policy[0].maximum_retry_attempts == 0 && aws_scheduler_schedule.this.target[0].retry_policy[0].maximum_event_age_in_seconds == 60
    error_message = "A missed tick is not retried: the next one a minute later has fresh counts."
  }
  assert {
    condition     = aws_lambda_function_event_invoke_config.this.function_name == module.function.function.function_name && aws_lambda_function_event_invoke_config.this.maximum_retry_attempts == 0 && aws_lambda_function_event_invoke_config.this.maximum_event_age_in_seconds == 60
    error_message = "Lambda's asynchronous retries are off and events older than a minute are dropped (a stale run would act on old counts after the next one)."
  }
}

run "state_parameter_starts_empty_and_belongs_to_the_function" {
  command = apply
  module {
    source = "./modules/backlog_scaler"
  }

  assert {
    condition     = aws_ssm_parameter.state.name == "/facerec-worker/backlog-scaler/state" && aws_ssm_parameter.state.type == "String" && aws_ssm_parameter.state.tier == "Standard" && aws_ssm_parameter.state.value == "{}"
    error_message = "A Standard String parameter, created as {} (the scaler starts fresh)."
  }
  assert {
    condition     = output.state_parameter_name == aws_ssm_parameter.state.name && output.schedule_name == aws_scheduler_schedule.this.name && output.function_arn == module.function.function.arn
    error_message = "The outputs name the module's resources."
  }
}

run "one_poll_a_minute" {
  command = apply
  module {
    source = "./modules/backlog_scaler"
  }
  variables {
    poll_seconds = 60
  }

  assert {
    condition     = module.function.function.environment[0].variables.POLL_SECONDS == "60" && module.function.function.environment[0].variables.RUN_SECONDS == "0"
    error_message = "A 60 s poll is one poll per invocation (RUN_SECONDS = 60 - POLL_SECONDS)."
  }
}

run "paused" {
  command = apply
  module {
    source = "./modules/backlog_scaler"
  }
  variables {
    reserved_concurrency = 0
  }

  assert {
    condition     = module.function.function.reserved_concurrent_executions == 0
    error_message = "0 reserves no concurrency at all: every invocation is throttled, the scaler is paused."
  }
}

run "one_scaler_at_a_time_where_the_quota_allows" {
  command = apply
  module {
    source = "./modules/backlog_scaler"
  }
  variables {
    reserved_concurrency = 1
  }

  assert {
    condition     = module.function.function.reserved_concurrent_executions == 1
    error_message = "1 reserves one execution: never two scalers at once."
  }
}

run "two_scalers_at_once_are_refused" {
  command = plan
  module {
    source = "./modules/backlog_scaler"
  }
  variables {
    reserved_concurrency = 2
  }
  expect_failures = [var.reserved_concurrency]
}

run "poll_of_zero_seconds_is_refused" {
  command = plan
  module {
    source = "./modules/backlog_scaler"
  }
  variables {
    poll_seconds = 0
  }
  expect_failures = [var.poll_seconds]
}

run "poll_longer_than_a_minute_is_refused" {
  command = plan
  module {
    source = "./modules/backlog_scaler"
  }
  variables {
    poll_seconds = 90
  }
  expect_failures = [var.poll_seconds]
}

# The backstop (backstop.tf): acts only while the scaler is silent, and only adds.
run "backstop_acts_only_while_the_scaler_is_silent" {
  command = apply
  module {
    source = "./modules/backlog_scaler"
  }

  assert {
    condition = alltrue([
      for a in [aws_cloudwatch_metric_alarm.backstop_tasks[0], aws_cloudwatch_metric_alarm.backstop_instances[0]] :
      [for q in a.metric_query : [q.metric[0].namespace, q.metric[0].metric_name, q.metric[0].stat, q.metric[0].dimensions] if q.id == "heartbeat"] ==
      [["facerec-fleet", "DesiredTasks", "SampleCount", tomap({ ServiceName = "facerec-worker-service" })]]
    ])
    error_message = "Both alarms must read the scaler's heartbeat: the SampleCount of its DesiredTasks metric, one sample per poll."
  }
  assert {
    condition     = one([for q in aws_cloudwatch_metric_alarm.backstop_tasks[0].metric_query : q.expression if q.id == "backstop" && q.return_data == true]) == "IF(FILL(heartbeat, 0) == 0, FILL(visible, 0), 0)"
    error_message = "The tasks alarm must be 0 whenever the scaler polled in the minute."
  }
  assert {
    condition     = one([for q in aws_cloudwatch_metric_alarm.backstop_instances[0].metric_query : q.expression if q.id == "lacking" && q.return_data == true]) == "IF(FILL(heartbeat, 0) == 0, FILL(desired, 0) - FILL(group, 0), 0)"
    error_message = "The instances alarm must be 0 whenever the scaler polled in the minute."
  }
  assert {
    condition = (
      aws_cloudwatch_metric_alarm.backstop_tasks[0].evaluation_periods == 3 && aws_cloudwatch_metric_alarm.backstop_tasks[0].datapoints_to_alarm == 3 &&
      aws_cloudwatch_metric_alarm.backstop_tasks[0].threshold == 0 && aws_cloudwatch_metric_alarm.backstop_tasks[0].comparison_operator == "GreaterThanThreshold"
    )
    error_message = "Tasks: three silent minutes with jobs visible (crates/fleet-sim/src/backstop.rs SILENT_MINUTES), so one missed tick never triggers it."
  }
  assert {
    condition     = aws_cloudwatch_metric_alarm.backstop_tasks[0].alarm_actions == toset([aws_appautoscaling_policy.backstop_tasks[0].arn]) && aws_cloudwatch_metric_alarm.backstop_instances[0].alarm_actions == toset([aws_autoscaling_policy.backstop_instances[0].arn])
    error_message = "Each alarm invokes its own step policy, and nothing on OK (there is nothing to undo)."
  }
}

run "backstop_only_adds" {
  command = apply
  module {
    source = "./modules/backlog_scaler"
  }

  assert {
    condition = (
      aws_appautoscaling_policy.backstop_tasks[0].step_scaling_policy_configuration[0].adjustment_type == "ChangeInCapacity" &&
      aws_autoscaling_policy.backstop_instances[0].adjustment_type == "ChangeInCapacity" &&
      alltrue([for s in aws_appautoscaling_policy.backstop_tasks[0].step_scaling_policy_configuration[0].step_adjustment : s.scaling_adjustment > 0]) &&
      alltrue([for s in aws_autoscaling_policy.backstop_instances[0].step_adjustment : s.scaling_adjustment > 0])
    )
    error_message = "Scale-out only: ChangeInCapacity with positive steps, so the backstop can never remove what the scaler wants."
  }
  assert {
    condition = (
      toset([for s in aws_appautoscaling_policy.backstop_tasks[0].step_scaling_policy_configuration[0].step_adjustment : "${s.metric_interval_lower_bound}-${s.metric_interval_upper_bound == null ? "inf" : s.metric_interval_upper_bound}:${s.scaling_adjustment}"]) ==
      toset(["0-50:1", "50-100:2", "100-150:3", "150-200:4", "200-inf:5"])
    )
    error_message = "Tasks: +1 per T = 50 visible jobs, the last step open-ended at max_tasks."
  }
  assert {
    condition     = toset([for s in aws_autoscaling_policy.backstop_instances[0].step_adjustment : "${s.metric_interval_lower_bound}-${s.metric_interval_upper_bound == null ? "inf" : s.metric_interval_upper_bound}:${s.scaling_adjustment}"]) == toset(["0-1:1", "1-2:2", "2-3:3", "3-4:4", "4-inf:5"])
    error_message = "Instances: +k when the group lacks k instances (threshold 0.5)."
  }
  assert {
    condition     = aws_appautoscaling_policy.backstop_tasks[0].step_scaling_policy_configuration[0].cooldown == 525 && aws_autoscaling_policy.backstop_instances[0].estimated_instance_warmup == 525
    error_message = "A cold start (165 s) plus two datapoints and their CloudWatch delay (2 x 180 s): a step's effect shows before the next."
  }
  assert {
    condition     = aws_appautoscaling_target.backstop[0].min_capacity == 0 && aws_appautoscaling_target.backstop[0].max_capacity == 5 && aws_appautoscaling_target.backstop[0].resource_id == "service/facerec-worker-cluster/facerec-worker-service"
    error_message = "The service's scalable target has the scaler's bounds."
  }
}

run "backstop_can_be_left_out" {
  command = plan
  module {
    source = "./modules/backlog_scaler"
  }
  variables {
    backstop_enabled = false
  }

  assert {
    condition     = length(aws_appautoscaling_target.backstop) == 0 && length(aws_cloudwatch_metric_alarm.backstop_tasks) == 0 && length(aws_autoscaling_policy.backstop_instances) == 0 && length(output.backstop_alarm_names) == 0
    error_message = "backstop_enabled = false creates none of it."
  }
}
