# The root module as a whole, through its outputs: defaults come from
# terraform/scaling.json, variables override them, the image is pinned by digest.
# Each module's own rules are asserted in tests/<module>.tftest.hcl.

mock_provider "aws" {
  source = "./tests/mocks"
}

variables {
  vpc_id                    = "vpc-0123456789abcdef0"
  private_subnet_ids        = ["subnet-0123456789abcdef0", "subnet-0123456789abcdef1"]
  security_group_ids        = ["sg-0123456789abcdef0"]
  spot_handler_package_path = "tests/fixtures/spot-handler.zip"
  producer_principal_arns   = ["arn:aws:iam::123456789012:role/producer"]
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
