# The plan's roles, least privilege: task execution, task, instance, and the backlog
# scaler's schedule. The two Lambda functions' roles are beside them (modules/lambda);
# their policies are written here, from names, like the others (outputs
# spot_handler_policy_json, backlog_scaler_policy_json).
data "aws_caller_identity" "current" {}
data "aws_region" "current" {}
data "aws_partition" "current" {}

locals {
  account   = data.aws_caller_identity.current.account_id
  region    = data.aws_region.current.name
  partition = data.aws_partition.current.partition

  # s3://bucket/prefix -> bucket and the prefix as a folder ("" for the whole bucket).
  s3_locations = { for p in distinct(concat(var.input_s3_prefixes, var.result_s3_prefix == null ? [] : [var.result_s3_prefix])) : p => {
    bucket = split("/", trimprefix(p, "s3://"))[0]
    folder = trim(join("/", slice(split("/", trimprefix(p, "s3://")), 1, length(split("/", trimprefix(p, "s3://"))))), "/")
  } }
  s3_object_arns    = { for p, l in local.s3_locations : p => "arn:${local.partition}:s3:::${l.bucket}/${l.folder == "" ? "" : "${l.folder}/"}*" }
  input_object_arns = distinct([for p in var.input_s3_prefixes : local.s3_object_arns[p]])
  result_object_arn = var.result_s3_prefix == null ? null : local.s3_object_arns[var.result_s3_prefix]
  # ListBucket is granted per bucket, only for keys under our folders (s3:prefix).
  list_prefixes_by_bucket = { for p, l in local.s3_locations : l.bucket => (l.folder == "" ? "*" : "${l.folder}/*")... }

  cluster_arn = "arn:${local.partition}:ecs:${local.region}:${local.account}:cluster/${var.cluster_name}"

  # ARNs of resources other modules create, built from their names so that the roles
  # (which those resources need) do not depend on them.
  worker_log_group_arn       = "arn:${local.partition}:logs:${local.region}:${local.account}:log-group:${var.worker_log_group_name}"
  spot_handler_log_group_arn = "arn:${local.partition}:logs:${local.region}:${local.account}:log-group:/aws/lambda/${coalesce(var.spot_handler_function_name, "none")}"
  spot_handler_queue_arns = [for q in [var.spot_events_queue_name, var.lifecycle_events_queue_name] :
  "arn:${local.partition}:sqs:${local.region}:${local.account}:${coalesce(q, "none")}"]

  container_instances_arn = "arn:${local.partition}:ecs:${local.region}:${local.account}:container-instance/${var.cluster_name}/*"
  asg_arn                 = "arn:${local.partition}:autoscaling:${local.region}:${local.account}:autoScalingGroup:*:autoScalingGroupName/${var.asg_name}"

  backlog_scaler_function_arn  = "arn:${local.partition}:lambda:${local.region}:${local.account}:function:${coalesce(var.backlog_scaler_function_name, "none")}"
  backlog_scaler_log_group_arn = "arn:${local.partition}:logs:${local.region}:${local.account}:log-group:/aws/lambda/${coalesce(var.backlog_scaler_function_name, "none")}"
  # A parameter's ARN names it without its leading slash.
  backlog_scaler_state_arn = "arn:${local.partition}:ssm:${local.region}:${local.account}:parameter/${trimprefix(coalesce(var.backlog_scaler_state_parameter_name, "none"), "/")}"
  service_arn              = "arn:${local.partition}:ecs:${local.region}:${local.account}:service/${var.cluster_name}/${var.service_name}"
}

# Who may assume each role: a service principal, and (except for EC2, whose instance
# profile has no source account to compare) only on behalf of this account, the
# confused-deputy guard. The Lambda functions' roles are beside them (modules/lambda).
locals {
  assume_role_services = {
    ecs_tasks = { service = "ecs-tasks.amazonaws.com", source_account = true }
    ec2       = { service = "ec2.amazonaws.com", source_account = false }
    scheduler = { service = "scheduler.amazonaws.com", source_account = true }
  }
}

data "aws_iam_policy_document" "assume" {
  for_each = local.assume_role_services

  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = [each.value.service]
    }
    dynamic "condition" {
      for_each = each.value.source_account ? [1] : []
      content {
        test     = "StringEquals"
        variable = "aws:SourceAccount"
        values   = [local.account]
      }
    }
  }
}

# ---------------------------------------------------------------------------
# Task execution role: pull the image, write logs. Scoped inline policy instead of the
# plan's AmazonECSTaskExecutionRolePolicy, which allows every repository and log group.
# ---------------------------------------------------------------------------
resource "aws_iam_role" "task_execution" {
  name               = "${var.name}-task-execution-role"
  assume_role_policy = data.aws_iam_policy_document.assume["ecs_tasks"].json
}

# Pull the worker's image and write its logs: the task execution role's whole policy, and
# the end of the instance role's (the same statements, so the two cannot drift apart).
locals {
  pull_image_and_log_statements = concat(
    # ECR only when the image is in ECR (an image elsewhere needs no ECR access at all).
    var.ecr_repository_arn == null ? [] : [
      # GetAuthorizationToken has no resource-level permissions.
      { sid = "EcrAuth", actions = ["ecr:GetAuthorizationToken"], resources = ["*"] },
      { sid = "EcrPull", actions = ["ecr:BatchCheckLayerAvailability", "ecr:GetDownloadUrlForLayer", "ecr:BatchGetImage"], resources = [var.ecr_repository_arn] },
    ],
    [{ sid = "Logs", actions = ["logs:CreateLogStream", "logs:PutLogEvents"], resources = ["${local.worker_log_group_arn}:*"] }],
  )
}

data "aws_iam_policy_document" "task_execution" {
  dynamic "statement" {
    for_each = local.pull_image_and_log_statements
    content {
      sid       = statement.value.sid
      actions   = statement.value.actions
      resources = statement.value.resources
    }
  }
}

resource "aws_iam_role_policy" "task_execution" {
  name   = "pull-image-and-log"
  role   = aws_iam_role.task_execution.id
  policy = data.aws_iam_policy_document.task_execution.json
}

# ---------------------------------------------------------------------------
# Task role: what the worker process itself may do.
# ---------------------------------------------------------------------------
resource "aws_iam_role" "task" {
  name               = "${var.name}-task-role"
  assume_role_policy = data.aws_iam_policy_document.assume["ecs_tasks"].json
}

data "aws_iam_policy_document" "task" {
  # Exactly the worker's SDK calls (crates/worker-runtime/src/queue/sqs.rs, results.rs):
  # ReceiveMessage, DeleteMessage(Batch), ChangeMessageVisibilityBatch (authorised as
  # sqs:ChangeMessageVisibility), SendMessage to the DLQ, SendMessageBatch to the results
  # queue (authorised as sqs:SendMessage). It gets every URL from its environment: no
  # GetQueueUrl, no GetQueueAttributes.
  statement {
    sid       = "ConsumeJobs"
    actions   = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility"]
    resources = [var.jobs_queue_arn]
  }
  statement {
    sid       = "DeadLetterMalformedJobs"
    actions   = ["sqs:SendMessage"]
    resources = [var.dlq_arn]
  }
  dynamic "statement" {
    for_each = var.results_queue_arn == null ? [] : [1]
    content {
      sid       = "PublishResults"
      actions   = ["sqs:SendMessage"]
      resources = [var.results_queue_arn]
    }
  }
  statement {
    # The worker sets its protection with PUT $ECS_AGENT_URI/task-protection/v1/state
    # (crates/worker-runtime/src/task_protection.rs, PUT only); the agent calls
    # ecs:UpdateTaskProtection with the task role's credentials, so the role needs it
    # ("Amazon ECS task scale-in protection endpoint", ECS Developer Guide; the agent's
    # ecs-agent/tmds/handlers/taskprotection/v1/handlers/handlers.go signs with the task's
    # credentials). A GET would call ecs:GetTaskProtection; the worker never reads its
    # protection back.
    sid       = "ScaleInProtectionOfOwnTasks"
    actions   = ["ecs:UpdateTaskProtection"]
    resources = ["arn:${local.partition}:ecs:${local.region}:${local.account}:task/${var.cluster_name}/*"]
    condition {
      test     = "ArnEquals"
      variable = "ecs:cluster"
      values   = [local.cluster_arn]
    }
  }
  dynamic "statement" {
    for_each = length(local.input_object_arns) > 0 ? [1] : []
    content {
      sid       = "ReadInputs"
      actions   = ["s3:GetObject"]
      resources = local.input_object_arns
    }
  }
  dynamic "statement" {
    for_each = local.result_object_arn == null ? [] : [1]
    content {
      sid = "WriteResults"
      # GetObject lets the worker see a result already written (idempotent retries).
      actions   = ["s3:PutObject", "s3:GetObject"]
      resources = [local.result_object_arn]
    }
  }
  dynamic "statement" {
    # HeadObject on a missing key returns 403 instead of 404 without ListBucket (the
    # worker checks for an existing result before it runs a job). S3 evaluates that
    # check with the key as s3:prefix, so our folders are enough.
    for_each = local.list_prefixes_by_bucket
    content {
      sid       = "ListOwnFolders${index(keys(local.list_prefixes_by_bucket), statement.key)}"
      actions   = ["s3:ListBucket"]
      resources = ["arn:${local.partition}:s3:::${statement.key}"]
      condition {
        test     = "StringLike"
        variable = "s3:prefix"
        values   = distinct(statement.value)
      }
    }
  }
  dynamic "statement" {
    for_each = var.sqs_kms_key_arn == null ? [] : [1]
    content {
      sid       = "UseQueueKey"
      actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
      resources = [var.sqs_kms_key_arn]
    }
  }
}

resource "aws_iam_role_policy" "task" {
  name   = "worker"
  role   = aws_iam_role.task.id
  policy = data.aws_iam_policy_document.task.json
}

# ---------------------------------------------------------------------------
# Instance role and profile: the ECS agent on each Spot instance.
# ---------------------------------------------------------------------------
resource "aws_iam_role" "instance" {
  name               = "${var.name}-ecs-instance-role"
  assume_role_policy = data.aws_iam_policy_document.assume["ec2"].json
}

# What the ECS agent calls with the instance role, for this cluster only, instead of the
# managed AmazonEC2ContainerServiceforEC2Role (every cluster, every repository, every log
# group). Read from the agent's source (aws/amazon-ecs-agent: ecs-agent/api/ecs/client,
# the ACS and TCS clients, agent/app/agent.go) and the Service Authorization Reference;
# the table with each action's reason and citation is in docs/design.md, "The instance
# role". Not granted because our user data (modules/asg) never makes the agent call them:
# ecs:CreateCluster (only when ECS_CLUSTER is empty), ec2:DescribeTags (only with
# ECS_CONTAINER_INSTANCE_PROPAGATE_TAGS_FROM=ec2_instance), ecs:TagResource (only when
# registration carries tags), ecs:ListTagsForResource (only for a container asking the
# task metadata endpoint for tags). The agent has no DeregisterContainerInstance call.
data "aws_iam_policy_document" "instance" {
  statement {
    # Register this instance in our cluster; report task, container and attachment
    # state changes. These are authorised on the cluster.
    sid       = "RegisterAndReportToOwnCluster"
    actions   = ["ecs:RegisterContainerInstance", "ecs:SubmitTaskStateChange", "ecs:SubmitContainerStateChange", "ecs:SubmitAttachmentStateChanges"]
    resources = [local.cluster_arn]
  }
  statement {
    # The ACS/TCS endpoints to connect to. DiscoverPollEndpoint has no resource type.
    sid       = "DiscoverAgentEndpoints"
    actions   = ["ecs:DiscoverPollEndpoint"]
    resources = ["*"]
  }
  statement {
    # The agent's websocket channels: ACS (tasks to run, their credentials) and TCS
    # (metrics, health), authorised on the container instance they name (SAR:
    # container-instance, ecs:cluster). A pattern needs no instance to exist yet: AWS's
    # own AmazonECSInstanceRolePolicyForManagedInstances grants both on
    # container-instance/* (udondan/iam-floyd#1574 shows the policy), as does widdix's
    # cfn-modules ECS cluster; the CDK's "*" is wider than needed.
    sid       = "AgentChannelsOfOwnCluster"
    actions   = ["ecs:Poll", "ecs:StartTelemetrySession"]
    resources = [local.container_instances_arn]
    condition {
      test     = "ArnEquals"
      variable = "ecs:cluster"
      values   = [local.cluster_arn]
    }
  }
  statement {
    # ECS_ENABLE_SPOT_INSTANCE_DRAINING=true: on a Spot notice the agent sets its own
    # instance DRAINING (agent/app/agent.go, spotInstanceDrainingPoller).
    sid       = "SpotDrainOwnInstance"
    actions   = ["ecs:UpdateContainerInstancesState"]
    resources = [local.container_instances_arn]
    condition {
      test     = "ArnEquals"
      variable = "ecs:cluster"
      values   = [local.cluster_arn]
    }
  }
  # Image pull and awslogs: the agent uses the task execution role when ECS tells it to
  # (amazon-ecs-agent PRs #1062, #3008), but AWS documents the instance role for tasks on
  # EC2 ("Using Amazon ECR images with Amazon ECS"). Kept, scoped to our repository and
  # log group (docs/design.md).
  dynamic "statement" {
    for_each = local.pull_image_and_log_statements
    content {
      sid       = statement.value.sid
      actions   = statement.value.actions
      resources = statement.value.resources
    }
  }
}

resource "aws_iam_role_policy" "instance" {
  name   = "ecs-agent"
  role   = aws_iam_role.instance.id
  policy = data.aws_iam_policy_document.instance.json
}

resource "aws_iam_instance_profile" "instance" {
  name = "${var.name}-ecs-instance-profile"
  role = aws_iam_role.instance.name
}

# ---------------------------------------------------------------------------
# Spot handler policy: drain our container instances, complete lifecycle actions,
# consume its event queues, write its logs. Nothing else. Its role is beside the
# function (modules/spot_handler -> modules/lambda), which attaches this policy.
# ---------------------------------------------------------------------------
data "aws_iam_policy_document" "spot_handler" {
  count = var.enable_spot_handler ? 1 : 0

  statement {
    sid       = "FindAndDrainContainerInstances"
    actions   = ["ecs:ListContainerInstances"]
    resources = [local.cluster_arn]
  }
  statement {
    # DescribeContainerInstances also reports the running task count the handler waits on.
    sid       = "DrainOwnClusterInstances"
    actions   = ["ecs:DescribeContainerInstances", "ecs:UpdateContainerInstancesState"]
    resources = [local.container_instances_arn]
    condition {
      test     = "ArnEquals"
      variable = "ecs:cluster"
      values   = [local.cluster_arn]
    }
  }
  statement {
    # Marks an instance whose interruption has been counted, so a redelivered notice or the
    # later lifecycle event does not count it again. PutAttributes has no ecs:cluster
    # condition key; the resource ARN already names our cluster.
    sid       = "MarkOwnClusterInstances"
    actions   = ["ecs:PutAttributes"]
    resources = [local.container_instances_arn]
  }
  statement {
    sid       = "CompleteTerminationHook"
    actions   = ["autoscaling:CompleteLifecycleAction", "autoscaling:RecordLifecycleActionHeartbeat"]
    resources = [local.asg_arn]
  }
  statement {
    # What the event source mappings call, with the function's role.
    sid       = "ConsumeEvents"
    actions   = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"]
    resources = local.spot_handler_queue_arns
  }
  dynamic "statement" {
    # Receiving from a queue encrypted with a customer key decrypts its data key.
    for_each = var.sqs_kms_key_arn == null ? [] : [1]
    content {
      sid       = "DecryptEvents"
      actions   = ["kms:Decrypt"]
      resources = [var.sqs_kms_key_arn]
    }
  }
  statement {
    sid       = "Logs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${local.spot_handler_log_group_arn}:*"]
  }
  statement {
    # Active tracing: Lambda sends the function's segments with its role. X-Ray has no
    # resource-level permissions for these two actions.
    sid       = "Tracing"
    actions   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
    resources = ["*"]
  }
}


# ---------------------------------------------------------------------------
# Backlog scaler policy (scaling_mode = "backlog_scaler"): exactly the calls of
# crates/backlog-scaler, on our queue, service, cluster, group and state parameter. Its
# role is beside the function (modules/backlog_scaler -> modules/lambda).
# ---------------------------------------------------------------------------

data "aws_iam_policy_document" "backlog_scaler" {
  count = var.enable_backlog_scaler ? 1 : 0

  statement {
    # ApproximateNumberOfMessages (visible) and ...NotVisible (in flight).
    sid       = "ReadQueueDepth"
    actions   = ["sqs:GetQueueAttributes"]
    resources = [var.jobs_queue_arn]
  }
  statement {
    sid       = "SetServiceDesiredCount"
    actions   = ["ecs:DescribeServices", "ecs:UpdateService"]
    resources = [local.service_arn]
  }
  statement {
    # The Service Authorization Reference lists ListTasks on container-instance, but a
    # call that names no container instance (ours: cluster + serviceName, or + startedBy
    # for a deployment's tasks) is authorised
    # against "*": a container-instance resource denies it (cdklabs/construct-hub#1207,
    # awsdocs/amazon-ecs-developer-guide#211; the CDK grants ListTasks on "*" with
    # ecs:cluster, aws/aws-cdk#3199). ecs:cluster keeps it to our cluster.
    sid       = "ListServiceTasks"
    actions   = ["ecs:ListTasks"]
    resources = ["*"]
    condition {
      test     = "ArnEquals"
      variable = "ecs:cluster"
      values   = [local.cluster_arn]
    }
  }
  statement {
    # Busy tasks: the worker holds task scale-in protection exactly while it has jobs.
    # During a deployment, once every new task runs, the scaler clears the old
    # deployment's tasks' protection so ECS can stop them (docs/design.md, Deployments).
    sid       = "ReadAndReleaseTaskProtection"
    actions   = ["ecs:GetTaskProtection", "ecs:UpdateTaskProtection"]
    resources = ["arn:${local.partition}:ecs:${local.region}:${local.account}:task/${var.cluster_name}/*"]
    condition {
      test     = "ArnEquals"
      variable = "ecs:cluster"
      values   = [local.cluster_arn]
    }
  }
  statement {
    sid       = "FindContainerInstances"
    actions   = ["ecs:ListContainerInstances"]
    resources = [local.cluster_arn]
  }
  statement {
    # Drain an empty instance before terminating it, and re-read that it is still empty.
    sid       = "DrainEmptyInstances"
    actions   = ["ecs:DescribeContainerInstances", "ecs:UpdateContainerInstancesState"]
    resources = [local.container_instances_arn]
    condition {
      test     = "ArnEquals"
      variable = "ecs:cluster"
      values   = [local.cluster_arn]
    }
  }
  statement {
    # DescribeAutoScalingGroups has no resource-level permissions.
    sid       = "ReadGroup"
    actions   = ["autoscaling:DescribeAutoScalingGroups"]
    resources = ["*"]
  }
  statement {
    # Raise the group's capacity; terminate an empty instance, decrementing it. Instance
    # scale-in protection does not block TerminateInstanceInAutoScalingGroup.
    sid       = "SizeGroup"
    actions   = ["autoscaling:SetDesiredCapacity", "autoscaling:TerminateInstanceInAutoScalingGroup"]
    resources = [local.asg_arn]
  }
  statement {
    sid       = "State"
    actions   = ["ssm:GetParameter", "ssm:PutParameter"]
    resources = [local.backlog_scaler_state_arn]
  }
  statement {
    sid       = "Logs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${local.backlog_scaler_log_group_arn}:*"]
  }
}


# The schedule's execution role: EventBridge Scheduler assumes it to invoke the function.
resource "aws_iam_role" "backlog_scaler_schedule" {
  count              = var.enable_backlog_scaler ? 1 : 0
  name               = "${var.name}-backlog-scaler-schedule-role"
  assume_role_policy = data.aws_iam_policy_document.assume["scheduler"].json
}

data "aws_iam_policy_document" "backlog_scaler_schedule" {
  count = var.enable_backlog_scaler ? 1 : 0

  statement {
    sid       = "InvokeScaler"
    actions   = ["lambda:InvokeFunction"]
    resources = [local.backlog_scaler_function_arn]
  }
}

resource "aws_iam_role_policy" "backlog_scaler_schedule" {
  count  = var.enable_backlog_scaler ? 1 : 0
  name   = "invoke-backlog-scaler"
  role   = aws_iam_role.backlog_scaler_schedule[0].id
  policy = data.aws_iam_policy_document.backlog_scaler_schedule[0].json
}

# ---------------------------------------------------------------------------
# Producer policy: not attached here (the producers are other accounts' or teams'
# principals, producer_principal_arns); output as JSON for them to attach. Exactly the
# SDK calls of the CLI's fleet commands (docs/operations.md, "Producers"):
#   facerec submit  (crates/cli/src/cmd/submit.rs): GetQueueAttributes on the jobs
#                   queue (its preflight), PutObject under --upload-to,
#                   SendMessageBatch (sqs:SendMessage) to the jobs queue;
#   facerec results (crates/cli/src/cmd/results.rs): ReceiveMessage, DeleteMessage,
#                   ChangeMessageVisibility on the results queue; ListObjectsV2
#                   (s3:ListBucket) and GetObject under the result prefix;
#                   --dlq-url: ReceiveMessage and ChangeMessageVisibility (handing each
#                   message back; never DeleteMessage) on the DLQ;
#   facerec status  (crates/cli/src/cmd/status.rs): GetQueueAttributes on the jobs queue
#                   and the DLQ (through crates/aws-support/src/sqs.rs), DescribeServices on the service,
#                   DescribeAutoScalingGroups and GetMetricData (the oldest job's age;
#                   neither has resource-level permissions: "*");
#   facerec load    (crates/load-generator/src): SendMessageBatch, and
#                   GetQueueAttributes for the depth it records (aws-support's sqs.rs).
# ---------------------------------------------------------------------------
data "aws_iam_policy_document" "producer" {
  dynamic "statement" {
    # Uploads go under the first input prefix (the one the workers read first).
    for_each = length(var.input_s3_prefixes) > 0 ? [1] : []
    content {
      sid       = "UploadInputs"
      actions   = ["s3:PutObject"]
      resources = [local.s3_object_arns[var.input_s3_prefixes[0]]]
    }
  }
  statement {
    sid       = "SendJobs"
    actions   = ["sqs:SendMessage", "sqs:GetQueueAttributes"]
    resources = [var.jobs_queue_arn]
  }
  dynamic "statement" {
    for_each = var.results_queue_arn == null ? [] : [1]
    content {
      sid       = "ReadResultMessages"
      actions   = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility"]
      resources = [var.results_queue_arn]
    }
  }
  statement {
    sid       = "ReadDeadLetters"
    actions   = ["sqs:ReceiveMessage", "sqs:ChangeMessageVisibility"]
    resources = [var.dlq_arn]
  }
  statement {
    sid       = "CountDeadLetters"
    actions   = ["sqs:GetQueueAttributes"]
    resources = [var.dlq_arn]
  }
  statement {
    sid       = "ReadServiceState"
    actions   = ["ecs:DescribeServices"]
    resources = [local.service_arn]
  }
  statement {
    # DescribeAutoScalingGroups has no resource-level permissions.
    sid       = "ReadGroupState"
    actions   = ["autoscaling:DescribeAutoScalingGroups"]
    resources = ["*"]
  }
  statement {
    # The oldest job's age is a CloudWatch metric (AWS/SQS ApproximateAgeOfOldestMessage);
    # GetMetricData has no resource-level permissions (Service Authorization Reference,
    # "Actions defined by Amazon CloudWatch").
    sid       = "ReadQueueAge"
    actions   = ["cloudwatch:GetMetricData"]
    resources = ["*"]
  }
  dynamic "statement" {
    for_each = local.result_object_arn == null ? [] : [1]
    content {
      sid       = "ReadResultObjects"
      actions   = ["s3:GetObject"]
      resources = [local.result_object_arn]
    }
  }
  dynamic "statement" {
    for_each = var.result_s3_prefix == null ? [] : [1]
    content {
      sid       = "ListResultObjects"
      actions   = ["s3:ListBucket"]
      resources = ["arn:${local.partition}:s3:::${local.s3_locations[var.result_s3_prefix].bucket}"]
      condition {
        test     = "StringLike"
        variable = "s3:prefix"
        values   = [local.s3_locations[var.result_s3_prefix].folder == "" ? "*" : "${local.s3_locations[var.result_s3_prefix].folder}/*"]
      }
    }
  }
  dynamic "statement" {
    # Sending to and receiving from queues under a customer key.
    for_each = var.sqs_kms_key_arn == null ? [] : [1]
    content {
      sid       = "UseQueueKey"
      actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
      resources = [var.sqs_kms_key_arn]
    }
  }
}
