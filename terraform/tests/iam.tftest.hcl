mock_provider "aws" {
  source = "./tests/mocks"
}

# modules/iam: the four roles, least privilege.

variables {
  name                       = "facerec-worker"
  cluster_name               = "facerec-worker-cluster"
  asg_name                   = "facerec-worker-asg"
  jobs_queue_arn             = "arn:aws:sqs:us-east-1:123456789012:facerec-worker-jobs"
  dlq_arn                    = "arn:aws:sqs:us-east-1:123456789012:facerec-worker-jobs-dlq"
  results_queue_arn          = "arn:aws:sqs:us-east-1:123456789012:facerec-worker-results"
  input_s3_prefixes          = ["s3://facerec-inputs/images/"]
  result_s3_prefix           = "s3://facerec-results/v1/"
  worker_log_group_name      = "/ecs/facerec-worker"
  spot_handler_function_name = "facerec-worker-spot-handler"
  spot_events_queue_name     = "facerec-worker-spot-events"
}

run "task_role_is_least_privilege" {
  command = apply
  module {
    source = "./modules/iam"
  }

  assert {
    condition     = alltrue(flatten([for s in data.aws_iam_policy_document.task.statement : [for r in s.resources : r != "*"]]))
    error_message = "The task role must not grant anything on '*'."
  }
  assert {
    condition     = one([for s in data.aws_iam_policy_document.task.statement : s.resources if s.sid == "ScaleInProtectionOfOwnTasks"]) == toset(["arn:aws:ecs:us-east-1:123456789012:task/facerec-worker-cluster/*"])
    error_message = "Task protection must be limited to the cluster's own tasks."
  }
  assert {
    condition     = one([for s in data.aws_iam_policy_document.task.statement : s.resources if s.sid == "ReadInputs"]) == toset(["arn:aws:s3:::facerec-inputs/images/*"])
    error_message = "S3 reads must be limited to the input prefixes."
  }
  assert {
    condition     = one([for s in data.aws_iam_policy_document.task.statement : s.resources if s.sid == "WriteResults"]) == toset(["arn:aws:s3:::facerec-results/v1/*"])
    error_message = "S3 writes must be limited to the result prefix."
  }
  assert {
    condition     = !anytrue([for s in data.aws_iam_policy_document.spot_handler[0].statement : contains(s.actions, "ecs:*") || contains(s.actions, "autoscaling:*")])
    error_message = "The Spot handler role must list its actions, no wildcards."
  }
}
