mock_provider "aws" {
  source = "./tests/mocks"
}

# modules/scaling: tasks-needed target tracking, wake from zero, sleep to zero.

variables {
  name                         = "facerec-worker"
  cluster_name                 = "facerec-worker-cluster"
  service_name                 = "facerec-worker-service"
  queue_name                   = "facerec-worker-jobs"
  min_tasks                    = 0
  max_tasks                    = 5
  jobs_per_task_within_latency = 50
  job_seconds                  = 6
  acceptable_latency_seconds   = 300
  target_utilization           = 1
  scale_out_cooldown_seconds   = 300
  scale_in_cooldown_seconds    = 300
  scale_to_zero_idle_minutes   = 2
}

run "scaling_has_no_predefined_sqs_metric_and_can_leave_zero" {
  command = apply
  module {
    source = "./modules/scaling"
  }

  assert {
    condition     = length(aws_appautoscaling_policy.tasks_needed.target_tracking_scaling_policy_configuration[0].predefined_metric_specification) == 0
    error_message = "There is no predefined SQS metric type; the policy must use a customized metric."
  }
  assert {
    condition     = strcontains(one([for m in aws_appautoscaling_policy.tasks_needed.target_tracking_scaling_policy_configuration[0].customized_metric_specification[0].metrics : m.expression if m.return_data]), "desired")
    error_message = "Target tracking must divide by the desired task count."
  }
  assert {
    condition     = aws_appautoscaling_policy.tasks_needed.target_tracking_scaling_policy_configuration[0].target_value == 1
    error_message = "target_value must be terraform/scaling.json's target_utilization."
  }
  assert {
    condition     = aws_appautoscaling_target.service.min_capacity == 0 && aws_appautoscaling_target.service.max_capacity == 5
    error_message = "The service must scale between 0 and max_tasks."
  }
  # Wake: from zero desired tasks, visible jobs add tasks (first step: +1).
  assert {
    condition     = aws_appautoscaling_policy.wake.step_scaling_policy_configuration[0].adjustment_type == "ChangeInCapacity"
    error_message = "The wake policy must add capacity."
  }
  assert {
    condition     = contains([for s in aws_appautoscaling_policy.wake.step_scaling_policy_configuration[0].step_adjustment : s.scaling_adjustment if s.metric_interval_lower_bound == "0"], 1)
    error_message = "A single visible job must start exactly one task."
  }
  assert {
    condition     = one([for q in aws_cloudwatch_metric_alarm.wake.metric_query : q.expression if q.return_data == true]) == "IF(FILL(desired, 0) == 0, visible, 0)"
    error_message = "The wake alarm must fire only while the service wants zero tasks."
  }
  assert {
    condition     = contains(aws_cloudwatch_metric_alarm.wake.alarm_actions, aws_appautoscaling_policy.wake.arn)
    error_message = "The wake alarm must trigger the wake policy."
  }
  # Sleep: back to zero only when nothing is visible AND nothing is in flight.
  assert {
    condition     = one([for q in aws_cloudwatch_metric_alarm.sleep.metric_query : q.expression if q.return_data == true]) == "visible + in_flight"
    error_message = "The sleep alarm must count in-flight jobs."
  }
  assert {
    condition     = aws_appautoscaling_policy.sleep.step_scaling_policy_configuration[0].adjustment_type == "ExactCapacity" && one(aws_appautoscaling_policy.sleep.step_scaling_policy_configuration[0].step_adjustment).scaling_adjustment == 0
    error_message = "The sleep policy must set the service to zero tasks."
  }
}

run "expression_uses_job_seconds_and_latency" {
  command = apply
  module {
    source = "./modules/scaling"
  }

  # 6 s per job: 0.1 task per job/minute arriving, 0.02 task per visible job (6/300).
  assert {
    condition     = one([for m in aws_appautoscaling_policy.tasks_needed.target_tracking_scaling_policy_configuration[0].customized_metric_specification[0].metrics : m.expression if m.id == "needed"]) == "FILL(sent, 0) * 0.100000 + FILL(visible, 0) * 0.020000"
    error_message = "Tasks needed = arrivals x job_seconds + backlog x job_seconds / acceptable latency."
  }
  assert {
    condition     = toset([for s in aws_appautoscaling_policy.wake.step_scaling_policy_configuration[0].step_adjustment : "${tonumber(s.metric_interval_lower_bound)}:${s.scaling_adjustment}"]) == toset(["0:1", "50:2", "100:3", "150:4", "200:5"])
    error_message = "Wake steps must add 1..max_tasks tasks, one per 50 visible jobs."
  }
}
