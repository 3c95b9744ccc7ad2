mock_provider "aws" {
  source = "./tests/mocks"
}

# modules/monitoring: the plan's CPU alarm, DLQ-not-empty, oldest-job age, the Spot
# handler's permanent errors, the backlog scaler's errors and silence, and the optional
# SNS topic.

variables {
  name                             = "facerec-worker"
  cluster_name                     = "facerec-worker-cluster"
  service_name                     = "facerec-worker-service"
  jobs_queue_name                  = "facerec-worker-jobs"
  dlq_name                         = "facerec-worker-jobs-dlq"
  extra_dlq_names                  = ["facerec-worker-spot-events-dlq"]
  cpu_threshold_percent            = 80
  oldest_message_threshold_seconds = 600
  create_topic                     = false
  spot_handler_enabled             = true
  region                           = "eu-west-1"
  asg_name                         = "facerec-worker-asg"
  worker_log_group_name            = "/ecs/facerec-worker"
}

run "alarms_watch_the_right_metrics" {
  command = apply
  module {
    source = "./modules/monitoring"
  }

  # The plan's alarm, as written there.
  assert {
    condition = (
      aws_cloudwatch_metric_alarm.service_high_cpu.namespace == "AWS/ECS" &&
      aws_cloudwatch_metric_alarm.service_high_cpu.metric_name == "CPUUtilization" &&
      aws_cloudwatch_metric_alarm.service_high_cpu.threshold == 80 &&
      aws_cloudwatch_metric_alarm.service_high_cpu.comparison_operator == "GreaterThanThreshold" &&
      aws_cloudwatch_metric_alarm.service_high_cpu.evaluation_periods == 2 &&
      aws_cloudwatch_metric_alarm.service_high_cpu.period == 60 &&
      aws_cloudwatch_metric_alarm.service_high_cpu.dimensions == tomap({ ClusterName = "facerec-worker-cluster", ServiceName = "facerec-worker-service" })
    )
    error_message = "The CPU alarm must be the plan's: service CPUUtilization > 80 % for 2 x 60 s."
  }
  assert {
    condition     = aws_cloudwatch_metric_alarm.service_high_cpu.treat_missing_data == "notBreaching"
    error_message = "A service scaled to zero publishes no CPU: not an alarm."
  }
  # One alarm per DLQ: any visible message is a job (or event) that failed for good.
  assert {
    condition     = toset(keys(aws_cloudwatch_metric_alarm.dlq_not_empty)) == toset(["facerec-worker-jobs-dlq", "facerec-worker-spot-events-dlq"])
    error_message = "Both dead-letter queues must be watched."
  }
  assert {
    condition = alltrue([for q, a in aws_cloudwatch_metric_alarm.dlq_not_empty :
      a.namespace == "AWS/SQS" && a.metric_name == "ApproximateNumberOfMessagesVisible" && a.threshold == 0 &&
      a.comparison_operator == "GreaterThanThreshold" && a.dimensions == tomap({ QueueName = q }) && a.alarm_name == "${q}-not-empty"
    ])
    error_message = "DLQ alarms: more than 0 visible messages on that queue."
  }
  assert {
    condition = (
      aws_cloudwatch_metric_alarm.oldest_job_age.metric_name == "ApproximateAgeOfOldestMessage" &&
      aws_cloudwatch_metric_alarm.oldest_job_age.threshold == 600 &&
      aws_cloudwatch_metric_alarm.oldest_job_age.dimensions == tomap({ QueueName = "facerec-worker-jobs" })
    )
    error_message = "The age alarm watches the jobs queue's oldest message against the threshold."
  }
  # crates/spot-handler/src/handler.rs: HandlerErrors, dimension Transient only.
  assert {
    condition = (
      aws_cloudwatch_metric_alarm.spot_handler_permanent_errors[0].namespace == "facerec-fleet" &&
      aws_cloudwatch_metric_alarm.spot_handler_permanent_errors[0].metric_name == "HandlerErrors" &&
      aws_cloudwatch_metric_alarm.spot_handler_permanent_errors[0].dimensions == tomap({ Transient = "false" }) &&
      aws_cloudwatch_metric_alarm.spot_handler_permanent_errors[0].statistic == "Sum" &&
      aws_cloudwatch_metric_alarm.spot_handler_permanent_errors[0].threshold == 0 &&
      aws_cloudwatch_metric_alarm.spot_handler_permanent_errors[0].treat_missing_data == "notBreaching"
    )
    error_message = "The handler's permanent errors (HandlerErrors, Transient=false) must alarm on the first one."
  }
  # No topic asked for: alarms without actions, no topic.
  assert {
    condition     = length(aws_sns_topic.alarms) == 0 && output.alarm_topic_arn == null && length(aws_cloudwatch_metric_alarm.oldest_job_age.alarm_actions) == 0
    error_message = "Without a topic the alarms have no actions."
  }
  assert {
    condition     = length(output.alarm_arns) == 5
    error_message = "CPU, age, two DLQs and the handler's errors."
  }
}

run "created_topic_is_unencrypted_by_default" {
  command = apply
  module {
    source = "./modules/monitoring"
  }
  variables {
    create_topic = true
  }

  # CloudWatch cannot use the AWS-managed alias/aws/sns key: a topic under it would
  # receive no alarm at all.
  assert {
    condition     = aws_sns_topic.alarms[0].kms_master_key_id == null
    error_message = "The default topic must not use the AWS-managed SNS key (CloudWatch cannot publish to it)."
  }
  assert {
    condition = alltrue([for a in concat([aws_cloudwatch_metric_alarm.service_high_cpu, aws_cloudwatch_metric_alarm.oldest_job_age, aws_cloudwatch_metric_alarm.spot_handler_permanent_errors[0]], values(aws_cloudwatch_metric_alarm.dlq_not_empty)) :
    a.alarm_actions == toset([aws_sns_topic.alarms[0].arn]) && a.ok_actions == toset([aws_sns_topic.alarms[0].arn])])
    error_message = "Every alarm notifies the created topic, on alarm and on recovery."
  }
}

run "created_topic_with_a_customer_key" {
  command = apply
  module {
    source = "./modules/monitoring"
  }
  variables {
    create_topic = true
    kms_key_arn  = "arn:aws:kms:us-east-1:123456789012:key/00000000-0000-0000-0000-000000000000"
  }

  assert {
    condition     = aws_sns_topic.alarms[0].kms_master_key_id == var.kms_key_arn
    error_message = "A customer key given must encrypt the topic."
  }
}

run "existing_topic_wins" {
  command = apply
  module {
    source = "./modules/monitoring"
  }
  variables {
    create_topic = true
    topic_arn    = "arn:aws:sns:us-east-1:123456789012:ops-alarms"
  }

  assert {
    condition     = length(aws_sns_topic.alarms) == 0 && output.alarm_topic_arn == "arn:aws:sns:us-east-1:123456789012:ops-alarms" && aws_cloudwatch_metric_alarm.service_high_cpu.alarm_actions == toset(["arn:aws:sns:us-east-1:123456789012:ops-alarms"])
    error_message = "An existing topic is used as given; none is created."
  }
}

run "no_spot_handler_no_handler_alarm" {
  command = apply
  module {
    source = "./modules/monitoring"
  }
  variables {
    spot_handler_enabled = false
    extra_dlq_names      = []
  }

  assert {
    condition     = length(aws_cloudwatch_metric_alarm.spot_handler_permanent_errors) == 0 && keys(aws_cloudwatch_metric_alarm.dlq_not_empty) == ["facerec-worker-jobs-dlq"]
    error_message = "Without the handler: no handler alarm, only the jobs DLQ."
  }
}

run "backlog_scaler_failing_or_silent" {
  command = apply
  module {
    source = "./modules/monitoring"
  }
  variables {
    backlog_scaler_function_name = "facerec-worker-backlog-scaler"
    create_topic                 = true
  }

  # Errors >= 1 in each of 3 one-minute periods: every poll of three invocations in a row
  # failed (a single failed poll is not an error of the invocation).
  assert {
    condition = (
      aws_cloudwatch_metric_alarm.backlog_scaler_errors[0].namespace == "AWS/Lambda" &&
      aws_cloudwatch_metric_alarm.backlog_scaler_errors[0].metric_name == "Errors" &&
      aws_cloudwatch_metric_alarm.backlog_scaler_errors[0].dimensions == tomap({ FunctionName = "facerec-worker-backlog-scaler" }) &&
      aws_cloudwatch_metric_alarm.backlog_scaler_errors[0].statistic == "Sum" &&
      aws_cloudwatch_metric_alarm.backlog_scaler_errors[0].period == 60 &&
      aws_cloudwatch_metric_alarm.backlog_scaler_errors[0].comparison_operator == "GreaterThanOrEqualToThreshold" &&
      aws_cloudwatch_metric_alarm.backlog_scaler_errors[0].threshold == 1 &&
      aws_cloudwatch_metric_alarm.backlog_scaler_errors[0].evaluation_periods == 3 &&
      aws_cloudwatch_metric_alarm.backlog_scaler_errors[0].datapoints_to_alarm == 3 &&
      aws_cloudwatch_metric_alarm.backlog_scaler_errors[0].treat_missing_data == "notBreaching"
    )
    error_message = "The scaler's Errors alarm: Sum >= 1 for 3 of 3 one-minute periods."
  }
  # No invocation at all for 3 minutes (no data is breaching): nothing else would show it.
  assert {
    condition = (
      aws_cloudwatch_metric_alarm.backlog_scaler_not_running[0].metric_name == "Invocations" &&
      aws_cloudwatch_metric_alarm.backlog_scaler_not_running[0].dimensions == tomap({ FunctionName = "facerec-worker-backlog-scaler" }) &&
      aws_cloudwatch_metric_alarm.backlog_scaler_not_running[0].comparison_operator == "LessThanThreshold" &&
      aws_cloudwatch_metric_alarm.backlog_scaler_not_running[0].threshold == 1 &&
      aws_cloudwatch_metric_alarm.backlog_scaler_not_running[0].evaluation_periods == 3 &&
      aws_cloudwatch_metric_alarm.backlog_scaler_not_running[0].datapoints_to_alarm == 3 &&
      aws_cloudwatch_metric_alarm.backlog_scaler_not_running[0].treat_missing_data == "breaching"
    )
    error_message = "The scaler's silence alarm: fewer than 1 invocation in each of 3 minutes, missing data breaching."
  }
  assert {
    condition = alltrue([for a in [aws_cloudwatch_metric_alarm.backlog_scaler_errors[0], aws_cloudwatch_metric_alarm.backlog_scaler_not_running[0]] :
    a.alarm_actions == toset([aws_sns_topic.alarms[0].arn]) && a.ok_actions == toset([aws_sns_topic.alarms[0].arn])])
    error_message = "Both notify the topic."
  }
  assert {
    condition     = length(output.alarm_arns) == 7 && contains(keys(output.alarm_arns), "backlog_scaler_errors") && contains(keys(output.alarm_arns), "backlog_scaler_not_running")
    error_message = "The scaler's two alarms join the others."
  }
}

run "no_backlog_scaler_no_scaler_alarms" {
  command = apply
  module {
    source = "./modules/monitoring"
  }

  assert {
    condition     = length(aws_cloudwatch_metric_alarm.backlog_scaler_errors) == 0 && length(aws_cloudwatch_metric_alarm.backlog_scaler_not_running) == 0
    error_message = "Alarms mode (no scaler function): no scaler alarms."
  }
}

run "alarm_email_subscribes_to_the_topic" {
  command = apply
  module {
    source = "./modules/monitoring"
  }
  variables {
    create_topic = true
    alarm_email  = "oncall@example.com"
  }

  assert {
    condition     = aws_sns_topic_subscription.email[0].topic_arn == aws_sns_topic.alarms[0].arn && aws_sns_topic_subscription.email[0].protocol == "email" && aws_sns_topic_subscription.email[0].endpoint == "oncall@example.com"
    error_message = "alarm_email subscribes the address to the alarm topic by email."
  }
}

run "alarm_email_without_a_topic_subscribes_nothing" {
  command = apply
  module {
    source = "./modules/monitoring"
  }
  variables {
    alarm_email = "oncall@example.com"
  }

  assert {
    condition     = length(aws_sns_topic_subscription.email) == 0 && output.email_subscription_arn == null
    error_message = "No topic (create_topic false, no topic_arn): nothing to subscribe to."
  }
}

# The dashboard: created by default, one variable turns it off, its URL is an output.
run "dashboard_by_default" {
  command = apply
  module {
    source = "./modules/monitoring"
  }
  variables {
    backlog_scaler_function_name = "facerec-worker-backlog-scaler"
  }

  assert {
    condition     = length(aws_cloudwatch_dashboard.fleet) == 1 && aws_cloudwatch_dashboard.fleet[0].dashboard_name == "facerec-worker-fleet"
    error_message = "The dashboard is created by default."
  }
  assert {
    condition     = output.dashboard_url == "https://eu-west-1.console.aws.amazon.com/cloudwatch/home?region=eu-west-1#dashboards/dashboard/facerec-worker-fleet"
    error_message = "The dashboard's console URL is an output."
  }
  # Every part of the issue's list has its widget (what each names is checked against
  # the code by terraform/tests/metrics/check_metrics.py on the moto apply).
  assert {
    condition = alltrue([for t in [
      "Backlog", "oldest job", "Dead-letter", "Throughput", "Job duration", "Tasks:", "Instances:",
      "Cost proxy", "Failures by reason", "Backlog scaler: what", "Backlog scaler: invocations",
      "Spot: interruptions", "Spot handler: errors",
    ] : anytrue([for w in jsondecode(aws_cloudwatch_dashboard.fleet[0].dashboard_body).widgets : strcontains(w.properties.title, t)])])
    error_message = "A widget of the issue's list is missing."
  }
  # No widget overlaps another on the 24-column grid.
  assert {
    condition = alltrue(flatten([for i, a in jsondecode(aws_cloudwatch_dashboard.fleet[0].dashboard_body).widgets : [
      for j, b in jsondecode(aws_cloudwatch_dashboard.fleet[0].dashboard_body).widgets :
      i >= j || a.x + a.width <= b.x || b.x + b.width <= a.x || a.y + a.height <= b.y || b.y + b.height <= a.y
    ]]))
    error_message = "Dashboard widgets overlap."
  }
}

run "dashboard_without_scaler_or_handler_names_neither" {
  command = apply
  module {
    source = "./modules/monitoring"
  }
  variables {
    spot_handler_enabled = false
  }
  # The three share one namespace, so the parts are told apart by their metrics'
  # names (crates/spot-handler/src/metrics.rs, crates/backlog-scaler/src/metrics.rs).
  assert {
    condition = alltrue(flatten([for w in jsondecode(aws_cloudwatch_dashboard.fleet[0].dashboard_body).widgets : [
      for m in try(w.properties.metrics, []) : !contains([
        "Interruptions", "DrainLatency", "TaskStopLatency", "EventsSkipped", "HandlerErrors",
        "Visible", "InFlight", "BusyTasks", "WantTasks", "DesiredTasks", "InstancesTerminated", "PollErrors",
      ], try(m[1], ""))
    ]])) && !strcontains(aws_cloudwatch_dashboard.fleet[0].dashboard_body, "AWS/Lambda")
    error_message = "Widgets of parts that are not deployed would never show data."
  }
}

run "dashboard_off" {
  command = apply
  module {
    source = "./modules/monitoring"
  }
  variables {
    create_dashboard = false
  }
  assert {
    condition     = length(aws_cloudwatch_dashboard.fleet) == 0 && output.dashboard_url == null
    error_message = "create_dashboard = false creates no dashboard and no URL."
  }
}
