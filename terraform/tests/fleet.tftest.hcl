# The root module as a whole, through its outputs: defaults come from
# terraform/scaling.json, variables override them, the image is pinned by digest.
# Each module's own rules are asserted in tests/<module>.tftest.hcl.

mock_provider "aws" {
  source = "./tests/mocks"
}

variables {
  vpc_id                      = "vpc-0123456789abcdef0"
  private_subnet_ids          = ["subnet-0123456789abcdef0", "subnet-0123456789abcdef1"]
  security_group_ids          = ["sg-0123456789abcdef0"]
  spot_handler_package_path   = "tests/fixtures/spot-handler.zip"
  backlog_scaler_package_path = "tests/fixtures/backlog-scaler.zip"
  producer_principal_arns     = ["arn:aws:iam::123456789012:role/producer"]
}

run "scaling_json_is_the_single_source_of_truth" {
  command = apply

  assert {
    condition = alltrue([for k, v in jsondecode(file("scaling.json")) :
    output.scaling[k] == v if !startswith(k, "_") && contains(keys(output.scaling), k)])
    error_message = "With no variable set, every scaling parameter must equal terraform/scaling.json."
  }
  assert {
    condition     = output.scaling.jobs_per_task_within_latency == 50
    error_message = "300 s acceptable latency / 6 s per job = 50 jobs per task."
  }
  assert {
    condition     = output.visibility_timeout_seconds == 60
    error_message = "Visibility timeout must be derived from job_seconds (3 x 6 s x 3, at least 60 s)."
  }
}

run "image_is_pinned_by_digest_of_the_tag" {
  command = apply

  assert {
    condition     = output.worker_image == "123456789012.dkr.ecr.us-east-1.amazonaws.com/facerec-worker@sha256:0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0"
    error_message = "The image must be pinned by the digest of the chosen tag, not :latest."
  }
  assert {
    condition     = data.aws_ecr_image.worker[0].image_tag == "latest"
    error_message = "The default tag is latest, resolved to its digest."
  }
}

run "worker_environment" {
  command = apply

  assert {
    condition     = output.worker_environment.SQS_BATCH_SIZE == "3" && output.worker_environment.FACE_RECOGNITION_MEMORY_THRESHOLD == "0.8" && output.worker_environment.RAY_memory_per_process == "1073741824"
    error_message = "The plan's environment must reach the worker."
  }
  assert {
    condition     = output.worker_environment.FACEREC_STOP_TIMEOUT == "110" && output.worker_environment.FACEREC_STOP_MARGIN == "10" && output.worker_environment.FACEREC_VISIBILITY_TIMEOUT == "60"
    error_message = "The worker knows stopTimeout and keeps a 10 s margin; its visibility timeout is the queue's."
  }
  assert {
    condition     = output.worker_environment.QUEUE_URL == output.jobs_queue_url && output.worker_environment.DLQ_URL == output.dlq_url && output.worker_environment.RESULT_QUEUE_URL == output.results_queue_url
    error_message = "The worker must be pointed at the module's queues."
  }
}

run "dead_letter_backstop_is_one_delivery_after_the_worker" {
  command = apply

  assert {
    condition     = output.worker_environment.FACEREC_MAX_RECEIVE_COUNT == "5" && module.sqs.dead_letter_after_receives == 6
    error_message = "The worker dead-letters with a reason after 5 deliveries; SQS's redrive is the backstop at 6."
  }
}

run "variables_override_scaling_json" {
  command = apply

  variables {
    max_tasks            = 9
    job_seconds          = 30
    stop_timeout_seconds = 90
  }

  assert {
    condition     = output.scaling.max_tasks == 9 && output.scaling.job_seconds == 30
    error_message = "Variables must override terraform/scaling.json."
  }
  assert {
    condition     = output.visibility_timeout_seconds == 270
    error_message = "Visibility timeout must follow job_seconds (3 x 30 x 3)."
  }
  assert {
    condition     = output.worker_environment.FACEREC_STOP_TIMEOUT == "90"
    error_message = "The worker must know the task's stopTimeout."
  }
}

run "explicit_image" {
  command = apply

  variables {
    worker_image = "registry.example.com/facerec-worker@sha256:1111111111111111111111111111111111111111111111111111111111111111"
  }

  assert {
    condition     = length(data.aws_ecr_image.worker) == 0 && output.worker_image == var.worker_image
    error_message = "worker_image must bypass ECR lookups."
  }
}

# 100/200 deployments at full scale start max_tasks new tasks, one per new instance,
# before the old ones stop: the ASG must have room for twice max_tasks.
run "asg_has_room_for_a_deployment_at_full_scale" {
  command = apply

  assert {
    condition     = module.asg.max_size == 2 * output.scaling.max_tasks && module.asg.max_size == 10
    error_message = "ASG max_size must be 2 x max_tasks (10 with scaling.json's 5)."
  }
}

run "asg_room_follows_max_tasks" {
  command = apply
  variables {
    max_tasks = 9
  }

  assert {
    condition     = module.asg.max_size == 18
    error_message = "ASG max_size must follow max_tasks (2 x 9)."
  }
}

# The execution role pulls from the repository the image is in, wherever that is.
run "ecr_image_of_another_account" {
  command = apply
  variables {
    worker_image = "111122223333.dkr.ecr.eu-west-1.amazonaws.com/team/facerec-worker@sha256:1111111111111111111111111111111111111111111111111111111111111111"
  }

  assert {
    condition     = local.worker_ecr_repository_arn == "arn:aws:ecr:eu-west-1:111122223333:repository/team/facerec-worker"
    error_message = "The pull permission must name the image's own repository, in its account and region."
  }
}

run "ecr_image_in_china" {
  command = plan
  variables {
    worker_image = "111122223333.dkr.ecr.cn-north-1.amazonaws.com.cn/facerec-worker@sha256:1111111111111111111111111111111111111111111111111111111111111111"
  }

  assert {
    condition     = local.worker_ecr_repository_arn == "arn:aws-cn:ecr:cn-north-1:111122223333:repository/facerec-worker"
    error_message = "China regions are the aws-cn partition."
  }
}

run "image_outside_ecr" {
  command = plan
  variables {
    worker_image = "registry.example.com/facerec-worker@sha256:1111111111111111111111111111111111111111111111111111111111111111"
  }

  assert {
    condition     = local.worker_ecr_repository_arn == null
    error_message = "An image outside ECR gets no ECR permissions."
  }
}

run "handler_wiring_and_alarms" {
  command = apply

  assert {
    condition     = contains(keys(output.alarm_arns), "spot_handler_permanent_errors") && contains(keys(output.alarm_arns), "dlq_not_empty:facerec-worker-spot-events-dlq")
    error_message = "With the handler deployed, its permanent errors and its DLQ are alarmed."
  }
  assert {
    condition     = output.lifecycle_hook_name == "facerec-worker-drain-on-terminate"
    error_message = "The hook the handler completes."
  }
}

# The default: the backlog scaler owns both counts. No Application Auto Scaling on the
# service, ECS managed scaling off, the Lambda configured from terraform/scaling.json.
run "default_mode_is_the_backlog_scaler" {
  command = apply

  assert {
    condition     = output.scaling_mode == "backlog_scaler" && length(module.backlog_scaler) == 1 && length(module.scaling) == 0
    error_message = "By default the backlog scaler is deployed and modules/scaling (Application Auto Scaling) is not."
  }
  assert {
    condition     = output.capacity_provider_management == { managed_scaling = "DISABLED", managed_termination_protection = "DISABLED", managed_draining = "ENABLED" }
    error_message = "With the scaler: ECS managed scaling and managed termination protection off, managed draining on."
  }
  assert {
    condition = output.backlog_scaler_environment == tomap({
      QUEUE_URL                  = output.jobs_queue_url
      CLUSTER_NAME               = output.cluster_name
      SERVICE_NAME               = output.service_name
      AUTOSCALING_GROUP_NAME     = output.asg_name
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
    error_message = "The scaler must scale our queue, service and group with scaling.json's values."
  }
  assert {
    condition = alltrue([for k, v in {
      JOB_SECONDS                = "job_seconds"
      ACCEPTABLE_LATENCY_SECONDS = "acceptable_latency_seconds"
      COLD_START_SECONDS         = "cold_start_seconds"
      TARGET_UTILIZATION         = "target_utilization"
      MIN_TASKS                  = "min_tasks"
      MAX_TASKS                  = "max_tasks"
      POLL_SECONDS               = "scaler_poll_seconds"
      LOAD_WINDOW_SECONDS        = "scaler_load_window_seconds"
      SCALE_DOWN_WINDOW_SECONDS  = "scaler_scale_down_window_seconds"
      ACTIVITY_WINDOW_SECONDS    = "scaler_activity_window_seconds"
    } : tonumber(output.backlog_scaler_environment[k]) == jsondecode(file("scaling.json"))[v]])
    error_message = "Each of the scaler's parameters is terraform/scaling.json's value (the one the simulator judges)."
  }
  assert {
    condition = (
      output.backlog_scaler_function_name == "facerec-worker-backlog-scaler" &&
      output.backlog_scaler_schedule_name == "facerec-worker-backlog-scaler" &&
      output.backlog_scaler_state_parameter_name == "/facerec-worker/backlog-scaler/state" &&
      output.backlog_scaler_log_group_name == "/aws/lambda/facerec-worker-backlog-scaler" &&
      output.backlog_scaler_role_arn != null
    )
    error_message = "The scaler's function, schedule, state parameter, log group and role are outputs."
  }
  assert {
    condition     = output.scaling_policy_arns == null && !contains(keys(output.alarm_arns), "wake_from_zero") && !contains(keys(output.alarm_arns), "sleep_to_zero")
    error_message = "No Application Auto Scaling policies or their alarms with the scaler."
  }
  assert {
    condition     = contains(keys(output.alarm_arns), "backlog_scaler_errors") && contains(keys(output.alarm_arns), "backlog_scaler_not_running") && contains(keys(output.alarm_arns), "oldest_job_age")
    error_message = "The scaler's errors and silence are alarmed, and so is the oldest job's age."
  }
  # The scaler terminates specific instances (TerminateInstanceInAutoScalingGroup), which
  # can unbalance the zones; AZRebalance would then launch and terminate behind its back.
  assert {
    condition     = module.asg.suspended_processes == toset(["AZRebalance"])
    error_message = "With the backlog scaler, the group's AZRebalance process is suspended."
  }
  # Defaults that apply on a new account (concurrency quota 10: nothing can be reserved).
  assert {
    condition     = module.backlog_scaler[0].reserved_concurrency == null && module.spot_handler[0].reserved_concurrency == null
    error_message = "By default neither function reserves concurrency (a new account's quota leaves nothing to reserve)."
  }
  # Alarms tell someone by default: a topic is created and every alarm notifies it.
  assert {
    condition     = output.alarm_topic_arn != null && alltrue([for k, a in module.monitoring.alarm_actions : a == toset([output.alarm_topic_arn])])
    error_message = "By default the alarm topic exists and every alarm's action is the topic."
  }
  assert {
    condition     = module.monitoring.email_subscription_arn == null
    error_message = "No email subscription unless alarm_email is set."
  }
  assert {
    condition     = jsondecode(output.producer_policy_json) == jsondecode(module.iam.producer_policy_json)
    error_message = "The root outputs the producers' policy."
  }
  assert {
    condition     = module.asg.metadata_hop_limit == 2
    error_message = "By default the worker container reaches IMDS (hop limit 2) for the Spot notice."
  }
}

run "variables_reach_the_scaler" {
  command = apply
  variables {
    max_tasks                  = 9
    job_seconds                = 30
    acceptable_latency_seconds = 600
  }

  assert {
    condition     = output.backlog_scaler_environment.MAX_TASKS == "9" && output.backlog_scaler_environment.JOB_SECONDS == "30" && output.backlog_scaler_environment.ACCEPTABLE_LATENCY_SECONDS == "600"
    error_message = "A variable overriding scaling.json must reach the scaler too."
  }
}

# The fallback: today's alarms design, exactly (modules/scaling's own rules are in
# tests/scaling.tftest.hcl).
run "alarms_mode_is_application_auto_scaling_over_managed_scaling" {
  command = apply
  variables {
    scaling_mode                = "alarms"
    backlog_scaler_package_path = null
  }

  assert {
    condition     = output.scaling_mode == "alarms" && length(module.scaling) == 1 && length(module.backlog_scaler) == 0
    error_message = "alarms mode deploys modules/scaling and no scaler."
  }
  assert {
    condition     = output.capacity_provider_management == { managed_scaling = "ENABLED", managed_termination_protection = "ENABLED", managed_draining = "ENABLED" }
    error_message = "alarms mode: ECS managed scaling, managed termination protection and managed draining all on (the plan's design, issue 2)."
  }
  assert {
    condition     = toset(keys(output.scaling_policy_arns)) == toset(["tasks_needed", "wake", "sleep"]) && contains(keys(output.alarm_arns), "wake_from_zero") && contains(keys(output.alarm_arns), "sleep_to_zero")
    error_message = "The three Application Auto Scaling policies and the wake/sleep alarms."
  }
  assert {
    condition = (
      output.backlog_scaler_function_name == null && output.backlog_scaler_environment == null && output.backlog_scaler_role_arn == null &&
      !contains(keys(output.alarm_arns), "backlog_scaler_errors") && !contains(keys(output.alarm_arns), "backlog_scaler_not_running")
    )
    error_message = "No scaler function, role or alarms in alarms mode."
  }
  # Managed scaling scales in through the group's own choice of instance, which keeps
  # the zones balanced; nothing to suspend.
  assert {
    condition     = length(module.asg.suspended_processes) == 0
    error_message = "alarms mode suspends no Auto Scaling process."
  }
}

run "alarm_email_and_hop_limit_1" {
  command = apply
  variables {
    alarm_email           = "oncall@example.com"
    container_imds_access = false
  }

  assert {
    condition     = module.monitoring.email_subscription_arn != null
    error_message = "alarm_email subscribes the address to the alarm topic."
  }
  assert {
    condition     = module.asg.metadata_hop_limit == 1
    error_message = "container_imds_access = false sets the hop limit to 1."
  }
}

run "reserved_concurrency_where_the_quota_allows" {
  command = apply
  variables {
    backlog_scaler_reserved_concurrency = 1
    spot_handler_reserved_concurrency   = 5
  }

  assert {
    condition     = module.backlog_scaler[0].reserved_concurrency == 1 && module.spot_handler[0].reserved_concurrency == 5
    error_message = "The reservations are still available where the account's quota allows them."
  }
}
