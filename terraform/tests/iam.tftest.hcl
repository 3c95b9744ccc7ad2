mock_provider "aws" {
  source = "./tests/mocks"
}

# modules/iam: the roles and the Lambda roles' policies, least privilege (the Lambda
# roles themselves, and who may assume them: tests/spot_handler, tests/backlog_scaler).

variables {
  name                        = "facerec-worker"
  cluster_name                = "facerec-worker-cluster"
  service_name                = "facerec-worker-service"
  asg_name                    = "facerec-worker-asg"
  jobs_queue_arn              = "arn:aws:sqs:us-east-1:123456789012:facerec-worker-jobs"
  dlq_arn                     = "arn:aws:sqs:us-east-1:123456789012:facerec-worker-jobs-dlq"
  results_queue_arn           = "arn:aws:sqs:us-east-1:123456789012:facerec-worker-results"
  input_s3_prefixes           = ["s3://facerec-inputs/images/", "s3://facerec-inputs/galleries", "s3://facerec-models"]
  result_s3_prefix            = "s3://facerec-results/v1/"
  ecr_repository_arn          = "arn:aws:ecr:us-east-1:123456789012:repository/facerec-worker"
  worker_log_group_name       = "/ecs/facerec-worker"
  spot_handler_function_name  = "facerec-worker-spot-handler"
  spot_events_queue_name      = "facerec-worker-spot-events"
  lifecycle_events_queue_name = "facerec-worker-lifecycle-events"

  backlog_scaler_function_name        = "facerec-worker-backlog-scaler"
  backlog_scaler_state_parameter_name = "/facerec-worker/backlog-scaler/state"
}

run "task_role_is_least_privilege" {
  command = apply
  module {
    source = "./modules/iam"
  }

  # Exactly the worker's SDK calls (ReceiveMessage, DeleteMessage[Batch],
  # ChangeMessageVisibilityBatch, SendMessage[Batch], GetObject, HeadObject, PutObject) and
  # the agent's UpdateTaskProtection for its PUT to the task protection endpoint.
  assert {
    condition = {
      for s in data.aws_iam_policy_document.task.statement : s.sid => { actions = s.actions, resources = s.resources }
      if !contains(s.actions, "s3:ListBucket")
      } == {
      ConsumeJobs                 = { actions = toset(["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility"]), resources = toset(["arn:aws:sqs:us-east-1:123456789012:facerec-worker-jobs"]) }
      DeadLetterMalformedJobs     = { actions = toset(["sqs:SendMessage"]), resources = toset(["arn:aws:sqs:us-east-1:123456789012:facerec-worker-jobs-dlq"]) }
      PublishResults              = { actions = toset(["sqs:SendMessage"]), resources = toset(["arn:aws:sqs:us-east-1:123456789012:facerec-worker-results"]) }
      ScaleInProtectionOfOwnTasks = { actions = toset(["ecs:UpdateTaskProtection"]), resources = toset(["arn:aws:ecs:us-east-1:123456789012:task/facerec-worker-cluster/*"]) }
      ReadInputs                  = { actions = toset(["s3:GetObject"]), resources = toset(["arn:aws:s3:::facerec-inputs/images/*", "arn:aws:s3:::facerec-inputs/galleries/*", "arn:aws:s3:::facerec-models/*"]) }
      WriteResults                = { actions = toset(["s3:PutObject", "s3:GetObject"]), resources = toset(["arn:aws:s3:::facerec-results/v1/*"]) }
    }
    error_message = "The task role must grant exactly the worker's calls: no sqs:GetQueueAttributes, sqs:GetQueueUrl or ecs:GetTaskProtection (the worker never calls them)."
  }
  # Every SQS/S3 action of the role is an SDK call of the worker (batch calls are
  # authorised by their single action), and every call the worker makes is granted.
  assert {
    condition = toset(flatten([for s in data.aws_iam_policy_document.task.statement : [for a in s.actions : a if startswith(a, "sqs:") || a == "s3:PutObject" || a == "s3:GetObject"]])) == toset([
      for m in regexall("\\.(receive_message|delete_message|change_message_visibility|send_message|get_object|head_object|put_object)(?:_batch)?\\(\\)", join("\n", [for f in ["../crates/worker-runtime/src/queue/sqs.rs", "../crates/worker-runtime/src/results/remote.rs", "../crates/worker/src/source/s3.rs"] : file(f)])) :
      lookup({ head_object = "s3:GetObject", get_object = "s3:GetObject", put_object = "s3:PutObject" }, m[0], "sqs:${join("", [for w in split("_", m[0]) : title(w)])}")
    ])
    error_message = "The task role's SQS and S3 object actions must be exactly the worker's SDK calls (crates/worker-runtime/src/queue/sqs.rs, results/remote.rs, crates/worker/src/source/s3.rs)."
  }
  assert {
    condition = one([for s in data.aws_iam_policy_document.task.statement : s.actions if s.sid == "ScaleInProtectionOfOwnTasks"]) == toset(concat(
      strcontains(file("../crates/worker-runtime/src/task_protection.rs"), "\"PUT\"") ? ["ecs:UpdateTaskProtection"] : [],
      strcontains(file("../crates/worker-runtime/src/task_protection.rs"), "\"GET\"") ? ["ecs:GetTaskProtection"] : [],
    ))
    error_message = "Task protection: UpdateTaskProtection for the worker's PUT to the agent endpoint, GetTaskProtection only if it ever GETs (crates/worker-runtime/src/task_protection.rs)."
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
    condition     = one([for s in data.aws_iam_policy_document.task.statement : s.resources if s.sid == "ReadInputs"]) == toset(["arn:aws:s3:::facerec-inputs/images/*", "arn:aws:s3:::facerec-inputs/galleries/*", "arn:aws:s3:::facerec-models/*"])
    error_message = "S3 reads must be limited to the input prefixes (a prefix is a folder; a bare bucket is the whole bucket)."
  }
  assert {
    condition     = one([for s in data.aws_iam_policy_document.task.statement : s.resources if s.sid == "WriteResults"]) == toset(["arn:aws:s3:::facerec-results/v1/*"])
    error_message = "S3 writes must be limited to the result prefix."
  }
  # ListBucket per bucket, only under our folders: s3:prefix is the key S3 checks when
  # it decides between 404 and 403 for a missing object.
  assert {
    condition = {
      for s in data.aws_iam_policy_document.task.statement : one(s.resources) => toset(one(s.condition).values)
      if contains(s.actions, "s3:ListBucket")
      } == {
      "arn:aws:s3:::facerec-inputs"  = toset(["images/*", "galleries/*"])
      "arn:aws:s3:::facerec-models"  = toset(["*"])
      "arn:aws:s3:::facerec-results" = toset(["v1/*"])
    }
    error_message = "ListBucket must be one statement per bucket, conditioned on s3:prefix of our folders."
  }
  assert {
    condition     = alltrue([for s in data.aws_iam_policy_document.task.statement : one(s.condition).test == "StringLike" && one(s.condition).variable == "s3:prefix" if contains(s.actions, "s3:ListBucket")])
    error_message = "The ListBucket condition is StringLike on s3:prefix."
  }
  assert {
    condition     = length([for s in data.aws_iam_policy_document.task.statement : s if s.sid == "UseQueueKey"]) == 0
    error_message = "No KMS permission without a customer key."
  }
}

run "execution_role_pulls_only_our_image_and_writes_only_our_logs" {
  command = apply
  module {
    source = "./modules/iam"
  }

  assert {
    condition = {
      for s in data.aws_iam_policy_document.task_execution.statement : s.sid => { actions = s.actions, resources = s.resources }
      } == {
      EcrAuth = { actions = toset(["ecr:GetAuthorizationToken"]), resources = toset(["*"]) }
      EcrPull = { actions = toset(["ecr:BatchCheckLayerAvailability", "ecr:GetDownloadUrlForLayer", "ecr:BatchGetImage"]), resources = toset(["arn:aws:ecr:us-east-1:123456789012:repository/facerec-worker"]) }
      Logs    = { actions = toset(["logs:CreateLogStream", "logs:PutLogEvents"]), resources = toset(["arn:aws:logs:us-east-1:123456789012:log-group:/ecs/facerec-worker:*"]) }
    }
    error_message = "Execution role: the worker repository and log group only ('*' only for GetAuthorizationToken, which has no resource scope)."
  }
}

run "image_outside_ecr_gets_no_ecr_access" {
  command = apply
  module {
    source = "./modules/iam"
  }
  variables {
    ecr_repository_arn = null
  }

  assert {
    condition     = [for s in data.aws_iam_policy_document.task_execution.statement : s.sid] == ["Logs"]
    error_message = "An image outside ECR needs no ECR permission at all."
  }
}

# Exactly what crates/spot-handler/src/aws.rs calls (read from the source: every
# `self.ecs.<call>()` and `self.autoscaling.<call>()`), plus what the runtime needs.
run "spot_handler_role_is_what_the_handler_calls" {
  command = apply
  module {
    source = "./modules/iam"
  }

  assert {
    condition = {
      for s in data.aws_iam_policy_document.spot_handler[0].statement : s.sid => { actions = s.actions, resources = s.resources }
      } == {
      FindAndDrainContainerInstances = { actions = toset(["ecs:ListContainerInstances"]), resources = toset(["arn:aws:ecs:us-east-1:123456789012:cluster/facerec-worker-cluster"]) }
      DrainOwnClusterInstances       = { actions = toset(["ecs:DescribeContainerInstances", "ecs:UpdateContainerInstancesState"]), resources = toset(["arn:aws:ecs:us-east-1:123456789012:container-instance/facerec-worker-cluster/*"]) }
      MarkOwnClusterInstances        = { actions = toset(["ecs:PutAttributes"]), resources = toset(["arn:aws:ecs:us-east-1:123456789012:container-instance/facerec-worker-cluster/*"]) }
      CompleteTerminationHook        = { actions = toset(["autoscaling:CompleteLifecycleAction", "autoscaling:RecordLifecycleActionHeartbeat"]), resources = toset(["arn:aws:autoscaling:us-east-1:123456789012:autoScalingGroup:*:autoScalingGroupName/facerec-worker-asg"]) }
      ConsumeEvents                  = { actions = toset(["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"]), resources = toset(["arn:aws:sqs:us-east-1:123456789012:facerec-worker-spot-events", "arn:aws:sqs:us-east-1:123456789012:facerec-worker-lifecycle-events"]) }
      Logs                           = { actions = toset(["logs:CreateLogStream", "logs:PutLogEvents"]), resources = toset(["arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/facerec-worker-spot-handler:*"]) }
      Tracing                        = { actions = toset(["xray:PutTraceSegments", "xray:PutTelemetryRecords"]), resources = toset(["*"]) }
    }
    error_message = "The Spot handler role must grant exactly its calls, on our cluster, group, queues and log group (X-Ray has no resource scope)."
  }
  assert {
    # The handler's own calls, plus the container-instance listing it shares with the
    # scaler (crates/aws-support/src/ecs.rs).
    condition = toset(flatten([for s in data.aws_iam_policy_document.spot_handler[0].statement : [for a in s.actions : a if startswith(a, "ecs:") || startswith(a, "autoscaling:")]])) == toset(concat([
      for m in regexall("self\\s*\\.(ecs|autoscaling)\\s*\\.([a-z_]+)\\(\\)", file("../crates/spot-handler/src/aws.rs")) :
      "${m[0]}:${join("", [for w in split("_", m[1]) : title(w)])}"
      ], [
      for m in regexall("(ecs)\\s*\\.([a-z_]+)\\(\\)", file("../crates/aws-support/src/ecs.rs")) :
      "${m[0]}:${join("", [for w in split("_", m[1]) : title(w)])}"
    ]))
    error_message = "The role's ECS and Auto Scaling actions must be the SDK calls in crates/spot-handler/src/aws.rs and crates/aws-support/src/ecs.rs, no more, no fewer."
  }
  assert {
    condition     = toset(one(one([for s in data.aws_iam_policy_document.spot_handler[0].statement : s.condition if s.sid == "DrainOwnClusterInstances"])).values) == toset(["arn:aws:ecs:us-east-1:123456789012:cluster/facerec-worker-cluster"])
    error_message = "Draining is limited to container instances of our cluster (ecs:cluster)."
  }
}

run "customer_managed_queue_key" {
  command = apply
  module {
    source = "./modules/iam"
  }
  variables {
    sqs_kms_key_arn = "arn:aws:kms:us-east-1:123456789012:key/00000000-0000-0000-0000-000000000000"
  }

  assert {
    condition     = one([for s in data.aws_iam_policy_document.task.statement : s.actions if s.sid == "UseQueueKey"]) == toset(["kms:Decrypt", "kms:GenerateDataKey"])
    error_message = "Workers receive (Decrypt) and send to the DLQ and results queue (GenerateDataKey) with the key."
  }
  assert {
    condition     = one([for s in data.aws_iam_policy_document.spot_handler[0].statement : { actions = s.actions, resources = s.resources } if s.sid == "DecryptEvents"]) == { actions = toset(["kms:Decrypt"]), resources = toset([var.sqs_kms_key_arn]) }
    error_message = "The handler's mappings receive from encrypted queues: kms:Decrypt on the key, nothing more."
  }
}

# What crates/backlog-scaler calls, as the shared design lists it (docs/operations.md,
# "Backlog scaler"), on exactly our queue, service, cluster, group and parameter.
run "backlog_scaler_role_is_what_the_scaler_calls" {
  command = apply
  module {
    source = "./modules/iam"
  }

  assert {
    condition = {
      for s in data.aws_iam_policy_document.backlog_scaler[0].statement : s.sid => { actions = s.actions, resources = s.resources }
      } == {
      ReadQueueDepth               = { actions = toset(["sqs:GetQueueAttributes"]), resources = toset(["arn:aws:sqs:us-east-1:123456789012:facerec-worker-jobs"]) }
      SetServiceDesiredCount       = { actions = toset(["ecs:DescribeServices", "ecs:UpdateService"]), resources = toset(["arn:aws:ecs:us-east-1:123456789012:service/facerec-worker-cluster/facerec-worker-service"]) }
      ListServiceTasks             = { actions = toset(["ecs:ListTasks"]), resources = toset(["*"]) }
      ReadAndReleaseTaskProtection = { actions = toset(["ecs:GetTaskProtection", "ecs:UpdateTaskProtection"]), resources = toset(["arn:aws:ecs:us-east-1:123456789012:task/facerec-worker-cluster/*"]) }
      FindContainerInstances       = { actions = toset(["ecs:ListContainerInstances"]), resources = toset(["arn:aws:ecs:us-east-1:123456789012:cluster/facerec-worker-cluster"]) }
      DrainEmptyInstances          = { actions = toset(["ecs:DescribeContainerInstances", "ecs:UpdateContainerInstancesState"]), resources = toset(["arn:aws:ecs:us-east-1:123456789012:container-instance/facerec-worker-cluster/*"]) }
      ReadGroup                    = { actions = toset(["autoscaling:DescribeAutoScalingGroups"]), resources = toset(["*"]) }
      SizeGroup                    = { actions = toset(["autoscaling:SetDesiredCapacity", "autoscaling:TerminateInstanceInAutoScalingGroup"]), resources = toset(["arn:aws:autoscaling:us-east-1:123456789012:autoScalingGroup:*:autoScalingGroupName/facerec-worker-asg"]) }
      State                        = { actions = toset(["ssm:GetParameter", "ssm:PutParameter"]), resources = toset(["arn:aws:ssm:us-east-1:123456789012:parameter/facerec-worker/backlog-scaler/state"]) }
      Logs                         = { actions = toset(["logs:CreateLogStream", "logs:PutLogEvents"]), resources = toset(["arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/facerec-worker-backlog-scaler:*"]) }
    }
    error_message = "The backlog scaler role must grant exactly its calls, on our queue, service, cluster, group, state parameter and log group ('*' only for DescribeAutoScalingGroups, which has no resource scope, and ListTasks without a container instance, conditioned on ecs:cluster)."
  }
  assert {
    condition = {
      for s in data.aws_iam_policy_document.backlog_scaler[0].statement : s.sid => "${one(s.condition).test} ${one(s.condition).variable} ${join(",", one(s.condition).values)}"
      if length(s.condition) > 0
      } == {
      ListServiceTasks             = "ArnEquals ecs:cluster arn:aws:ecs:us-east-1:123456789012:cluster/facerec-worker-cluster"
      ReadAndReleaseTaskProtection = "ArnEquals ecs:cluster arn:aws:ecs:us-east-1:123456789012:cluster/facerec-worker-cluster"
      DrainEmptyInstances          = "ArnEquals ecs:cluster arn:aws:ecs:us-east-1:123456789012:cluster/facerec-worker-cluster"
    }
    error_message = "Tasks and container instances: only those of our cluster (ecs:cluster); nothing else is conditioned."
  }
  # Once crates/backlog-scaler exists (it is built beside this Terraform), every ECS, Auto
  # Scaling, SQS and SSM action of the role must be an SDK call in its sources
  # (ListTasks -> .list_tasks()), or of the container-instance listing it shares with the
  # Spot handler (crates/aws-support/src/ecs.rs): no permission the code does not use.
  assert {
    condition = length(fileset("../crates/backlog-scaler", "src/**/*.rs")) == 0 || alltrue([
      for a in flatten([for s in data.aws_iam_policy_document.backlog_scaler[0].statement : tolist(s.actions) if s.sid != "Logs"]) :
      strcontains(join("\n", concat([for f in fileset("../crates/backlog-scaler", "src/**/*.rs") : file("../crates/backlog-scaler/${f}")], [file("../crates/aws-support/src/ecs.rs")])),
      ".${lower(replace(split(":", a)[1], "/([a-z])([A-Z])/", "$${1}_$2"))}(")
    ])
    error_message = "Every action of the backlog scaler role must be called by crates/backlog-scaler (an SDK call .snake_case_name( in src/)."
  }
}

run "backlog_scaler_schedule_may_invoke_the_scaler_only" {
  command = apply
  module {
    source = "./modules/iam"
  }

  assert {
    condition = {
      for s in data.aws_iam_policy_document.backlog_scaler_schedule[0].statement : s.sid => { actions = s.actions, resources = s.resources }
      } == {
      InvokeScaler = { actions = toset(["lambda:InvokeFunction"]), resources = toset(["arn:aws:lambda:us-east-1:123456789012:function:facerec-worker-backlog-scaler"]) }
    }
    error_message = "The schedule's role may invoke the scaler function and nothing else."
  }
  assert {
    condition = (
      one(data.aws_iam_policy_document.assume["scheduler"].statement[0].principals) == { type = "Service", identifiers = toset(["scheduler.amazonaws.com"]) } &&
      [for c in data.aws_iam_policy_document.assume["scheduler"].statement[0].condition : "${c.test} ${c.variable} ${join(",", c.values)}"] == ["StringEquals aws:SourceAccount 123456789012"]
    )
    error_message = "Only EventBridge Scheduler, for schedules of this account, may assume the schedule role."
  }
}

run "alarms_mode_has_no_scaler_roles" {
  command = apply
  module {
    source = "./modules/iam"
  }
  variables {
    enable_backlog_scaler = false
  }

  assert {
    condition     = length(data.aws_iam_policy_document.backlog_scaler) == 0 && length(aws_iam_role.backlog_scaler_schedule) == 0 && output.backlog_scaler_policy_json == null && output.backlog_scaler_schedule_role_arn == null
    error_message = "Without the scaler, no scaler roles."
  }
}

# The instance role: what the ECS agent calls for our configuration (docs/design.md, "The
# instance role"), scoped to our cluster, repository and log group. No managed policy.
run "instance_role_is_what_the_agent_calls_for_our_cluster" {
  command = apply
  module {
    source = "./modules/iam"
  }

  assert {
    condition = {
      for s in data.aws_iam_policy_document.instance.statement : s.sid => { actions = s.actions, resources = s.resources }
      } == {
      RegisterAndReportToOwnCluster = { actions = toset(["ecs:RegisterContainerInstance", "ecs:SubmitTaskStateChange", "ecs:SubmitContainerStateChange", "ecs:SubmitAttachmentStateChanges"]), resources = toset(["arn:aws:ecs:us-east-1:123456789012:cluster/facerec-worker-cluster"]) }
      DiscoverAgentEndpoints        = { actions = toset(["ecs:DiscoverPollEndpoint"]), resources = toset(["*"]) }
      AgentChannelsOfOwnCluster     = { actions = toset(["ecs:Poll", "ecs:StartTelemetrySession"]), resources = toset(["arn:aws:ecs:us-east-1:123456789012:container-instance/facerec-worker-cluster/*"]) }
      SpotDrainOwnInstance          = { actions = toset(["ecs:UpdateContainerInstancesState"]), resources = toset(["arn:aws:ecs:us-east-1:123456789012:container-instance/facerec-worker-cluster/*"]) }
      EcrAuth                       = { actions = toset(["ecr:GetAuthorizationToken"]), resources = toset(["*"]) }
      EcrPull                       = { actions = toset(["ecr:BatchCheckLayerAvailability", "ecr:GetDownloadUrlForLayer", "ecr:BatchGetImage"]), resources = toset(["arn:aws:ecr:us-east-1:123456789012:repository/facerec-worker"]) }
      Logs                          = { actions = toset(["logs:CreateLogStream", "logs:PutLogEvents"]), resources = toset(["arn:aws:logs:us-east-1:123456789012:log-group:/ecs/facerec-worker:*"]) }
    }
    error_message = "The instance role must grant exactly the agent's calls for our configuration, on our cluster, repository and log group ('*' only where no resource type exists or the container instance is not known yet)."
  }
  assert {
    condition = {
      for s in data.aws_iam_policy_document.instance.statement : s.sid => "${one(s.condition).test} ${one(s.condition).variable} ${join(",", one(s.condition).values)}"
      if length(s.condition) > 0
      } == {
      AgentChannelsOfOwnCluster = "ArnEquals ecs:cluster arn:aws:ecs:us-east-1:123456789012:cluster/facerec-worker-cluster"
      SpotDrainOwnInstance      = "ArnEquals ecs:cluster arn:aws:ecs:us-east-1:123456789012:cluster/facerec-worker-cluster"
    }
    error_message = "The agent's channels and its Spot draining are limited to our cluster (ecs:cluster)."
  }
  # Actions our user data never makes the agent call stay out (ECS_CLUSTER set, no
  # instance tags, no tag propagation from EC2, no container asking for tags).
  assert {
    condition     = length(setintersection(toset(flatten([for s in data.aws_iam_policy_document.instance.statement : tolist(s.actions)])), toset(["ecs:CreateCluster", "ec2:DescribeTags", "ecs:TagResource", "ecs:ListTagsForResource", "ecs:DeregisterContainerInstance"]))) == 0
    error_message = "No CreateCluster, DescribeTags, TagResource, ListTagsForResource or DeregisterContainerInstance: the agent does not call them in our configuration."
  }
  assert {
    condition     = aws_iam_role_policy.instance.role == aws_iam_role.instance.id && aws_iam_instance_profile.instance.role == aws_iam_role.instance.name
    error_message = "The agent's policy is the instance profile role's inline policy."
  }
}

run "instance_role_without_ecr_image" {
  command = apply
  module {
    source = "./modules/iam"
  }
  variables {
    ecr_repository_arn = null
  }

  assert {
    condition     = length([for s in data.aws_iam_policy_document.instance.statement : s if startswith(s.sid, "Ecr")]) == 0
    error_message = "An image outside ECR: no ECR permission on the instance role either."
  }
}

# The producers' policy: exactly what facerec submit, results and load call.
run "producer_policy_is_what_the_cli_calls" {
  command = apply
  module {
    source = "./modules/iam"
  }

  assert {
    condition = {
      for s in data.aws_iam_policy_document.producer.statement : s.sid => { actions = s.actions, resources = s.resources }
      } == {
      UploadInputs       = { actions = toset(["s3:PutObject"]), resources = toset(["arn:aws:s3:::facerec-inputs/images/*"]) }
      SendJobs           = { actions = toset(["sqs:SendMessage", "sqs:GetQueueAttributes"]), resources = toset(["arn:aws:sqs:us-east-1:123456789012:facerec-worker-jobs"]) }
      ReadResultMessages = { actions = toset(["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility"]), resources = toset(["arn:aws:sqs:us-east-1:123456789012:facerec-worker-results"]) }
      ReadDeadLetters    = { actions = toset(["sqs:ReceiveMessage", "sqs:ChangeMessageVisibility"]), resources = toset(["arn:aws:sqs:us-east-1:123456789012:facerec-worker-jobs-dlq"]) }
      CountDeadLetters   = { actions = toset(["sqs:GetQueueAttributes"]), resources = toset(["arn:aws:sqs:us-east-1:123456789012:facerec-worker-jobs-dlq"]) }
      ReadServiceState   = { actions = toset(["ecs:DescribeServices"]), resources = toset(["arn:aws:ecs:us-east-1:123456789012:service/facerec-worker-cluster/facerec-worker-service"]) }
      ReadGroupState     = { actions = toset(["autoscaling:DescribeAutoScalingGroups"]), resources = toset(["*"]) }
      ReadQueueAge       = { actions = toset(["cloudwatch:GetMetricData"]), resources = toset(["*"]) }
      ReadResultObjects  = { actions = toset(["s3:GetObject"]), resources = toset(["arn:aws:s3:::facerec-results/v1/*"]) }
      ListResultObjects  = { actions = toset(["s3:ListBucket"]), resources = toset(["arn:aws:s3:::facerec-results"]) }
    }
    error_message = "Producers: PutObject under the first input prefix, SendMessage(+Batch)/GetQueueAttributes on the jobs queue, receive/delete/extend on the results queue, receive/hand back/count on the DLQ, DescribeServices on the service, DescribeAutoScalingGroups, GetMetricData, GetObject and ListBucket under the result prefix. Nothing else."
  }
  assert {
    condition     = one([for s in data.aws_iam_policy_document.producer.statement : "${one(s.condition).test} ${one(s.condition).variable} ${join(",", one(s.condition).values)}" if s.sid == "ListResultObjects"]) == "StringLike s3:prefix v1/*"
    error_message = "Listing results is limited to the result prefix (s3:prefix)."
  }
  # Every action is an SDK call of the CLI's fleet commands, the load generator or the
  # queue-depth reader they share (crates/aws-support/src/sqs.rs; SendMessageBatch is
  # authorised as sqs:SendMessage, ListObjectsV2 as s3:ListBucket).
  assert {
    condition = alltrue([
      for n in [for a in flatten([for s in data.aws_iam_policy_document.producer.statement : tolist(s.actions)]) :
      lookup({ "s3:ListBucket" = "list_objects_v2" }, a, lower(replace(split(":", a)[1], "/([a-z])([A-Z])/", "$${1}_$2")))] :
      strcontains(join("\n", concat([for f in fileset("../crates/cli/src", "**/*.rs") : file("../crates/cli/src/${f}")], [for f in fileset("../crates/load-generator/src", "**/*.rs") : file("../crates/load-generator/src/${f}")], [file("../crates/aws-support/src/sqs.rs")])), ".${n}(") || strcontains(join("\n", concat([for f in fileset("../crates/cli/src", "**/*.rs") : file("../crates/cli/src/${f}")], [for f in fileset("../crates/load-generator/src", "**/*.rs") : file("../crates/load-generator/src/${f}")], [file("../crates/aws-support/src/sqs.rs")])), ".${n}_batch(")
    ])
    error_message = "Every producer action must be an SDK call in crates/cli/src, crates/load-generator/src or crates/aws-support/src/sqs.rs."
  }
  assert {
    condition     = output.producer_policy_json == data.aws_iam_policy_document.producer.json
    error_message = "The module outputs the producer policy."
  }
}

run "producer_policy_with_a_queue_key_and_no_results_queue" {
  command = apply
  module {
    source = "./modules/iam"
  }
  variables {
    sqs_kms_key_arn   = "arn:aws:kms:us-east-1:123456789012:key/00000000-0000-0000-0000-000000000000"
    results_queue_arn = null
    result_s3_prefix  = null
    input_s3_prefixes = []
  }

  assert {
    condition = {
      for s in data.aws_iam_policy_document.producer.statement : s.sid => { actions = s.actions, resources = s.resources }
      } == {
      SendJobs         = { actions = toset(["sqs:SendMessage", "sqs:GetQueueAttributes"]), resources = toset(["arn:aws:sqs:us-east-1:123456789012:facerec-worker-jobs"]) }
      ReadDeadLetters  = { actions = toset(["sqs:ReceiveMessage", "sqs:ChangeMessageVisibility"]), resources = toset(["arn:aws:sqs:us-east-1:123456789012:facerec-worker-jobs-dlq"]) }
      CountDeadLetters = { actions = toset(["sqs:GetQueueAttributes"]), resources = toset(["arn:aws:sqs:us-east-1:123456789012:facerec-worker-jobs-dlq"]) }
      ReadServiceState = { actions = toset(["ecs:DescribeServices"]), resources = toset(["arn:aws:ecs:us-east-1:123456789012:service/facerec-worker-cluster/facerec-worker-service"]) }
      ReadGroupState   = { actions = toset(["autoscaling:DescribeAutoScalingGroups"]), resources = toset(["*"]) }
      ReadQueueAge     = { actions = toset(["cloudwatch:GetMetricData"]), resources = toset(["*"]) }
      UseQueueKey      = { actions = toset(["kms:GenerateDataKey", "kms:Decrypt"]), resources = toset([var.sqs_kms_key_arn]) }
    }
    error_message = "Without results queue or prefixes only sending and reading the DLQ and the fleet state remain; a customer queue key adds GenerateDataKey (send) and Decrypt (receive)."
  }
}
