"""Calls made with our roles that the test suite cannot record, each with its source.

AWS services and the ECS agent call AWS with some of our roles on our behalf: Lambda
writes a function's logs and polls its event source queues with the function's role,
the ECS agent pulls images and ships logs with the task execution role and sets task
protection with the task role, EventBridge Scheduler invokes the scaler with the
schedule's role, and the agent itself runs with the instance role. None of these runs
in the suite, so each is listed here with the documentation or agent source that says
it happens; tools/iam/prove.py checks each is allowed and counts it as a need. One more
kind: a call on a code path no test can reach (a guard), named with its code.
"""
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional

from authorization import Deployment

ECS_GUIDE = "https://docs.aws.amazon.com/AmazonECS/latest/developerguide/"
LAMBDA_GUIDE = "https://docs.aws.amazon.com/lambda/latest/dg/"


@dataclass
class Cited:
    action: str
    resource: Callable[[Deployment], Optional[str]]  # None: not needed in this deployment
    caller: str
    source: str
    with_cluster_key: bool = False

    def context(self, d: Deployment) -> Dict[str, object]:
        ctx = {"aws:SecureTransport": True, "aws:RequestedRegion": d.region}
        if self.with_cluster_key:
            ctx["ecs:cluster"] = d.cluster_arn
        return ctx


def log_stream(group: Callable[[Deployment], str]) -> Callable[[Deployment], str]:
    # CreateLogStream and PutLogEvents are authorised on the log stream's ARN.
    return lambda d: d.arn("logs", f"log-group:{group(d)}:log-stream:any-stream")


def lambda_logs(function_key: str, caller: str) -> List[Cited]:
    group = lambda d: f"/aws/lambda/{d.extra[function_key]}"  # noqa: E731
    src = LAMBDA_GUIDE + "monitoring-cloudwatchlogs.html (the function's execution role writes its logs)"
    return [Cited("logs:CreateLogStream", log_stream(group), caller, src),
            Cited("logs:PutLogEvents", log_stream(group), caller, src)]


AGENT = "https://github.com/aws/amazon-ecs-agent"
SAR_ECS = "https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonelasticcontainerservice.html"


def ecr_pull(caller: str, source: str) -> List[Cited]:
    # None (not needed) when the image is not in ECR.
    repo = lambda d: d.extra.get("ecr_repository_arn")  # noqa: E731
    return [Cited("ecr:GetAuthorizationToken", lambda d: "*" if repo(d) else None, caller, source + " (no resource-level permissions)")] + [
        Cited(a, repo, caller, source)
        for a in ("ecr:BatchCheckLayerAvailability", "ecr:GetDownloadUrlForLayer", "ecr:BatchGetImage")
    ]


def awslogs(caller: str, source: str) -> List[Cited]:
    group = lambda d: d.extra["worker_log_group_name"]  # noqa: E731
    return [Cited(a, log_stream(group), caller, source) for a in ("logs:CreateLogStream", "logs:PutLogEvents")]


# The task execution role: image pull and the awslogs driver, by the agent for the task.
TASK_EXECUTION = ecr_pull("the ECS agent pulling the task's image", ECS_GUIDE + "task_execution_IAM_role.html") + \
    awslogs("the ECS agent's awslogs driver", ECS_GUIDE + "task_execution_IAM_role.html; agent "
            "agent/api/task/task.go ApplyExecutionRoleLogsAuth")

# The instance role: what the ECS agent calls for itself with our user data (the table with
# each reason is in docs/design.md, "The instance role"). Resources per the SAR: the cluster
# for registration and state reports, the container instance for its channels and draining.
INSTANCE = [
    Cited(a, lambda d: d.cluster_arn, "the ECS agent (registration, state reports)", AGENT + " ecs-agent/api/ecs/client; " + SAR_ECS)
    for a in ("ecs:RegisterContainerInstance", "ecs:SubmitTaskStateChange", "ecs:SubmitContainerStateChange",
              "ecs:SubmitAttachmentStateChanges")
] + [
    Cited("ecs:DiscoverPollEndpoint", lambda d: "*", "the ECS agent (ACS/TCS endpoints)",
          AGENT + " ecs-agent/api/ecs/client; " + SAR_ECS + " (no resource type)"),
] + [
    Cited(a, lambda d: d.ecs_child_arn("container-instance", "this-instance"), "the ECS agent (ACS and TCS channels)",
          AGENT + " ecs-agent/acs, ecs-agent/tcs; " + SAR_ECS + " (container-instance, ecs:cluster)", with_cluster_key=True)
    for a in ("ecs:Poll", "ecs:StartTelemetrySession")
] + [
    Cited("ecs:UpdateContainerInstancesState", lambda d: d.ecs_child_arn("container-instance", "this-instance"),
          "the ECS agent draining its instance on a Spot notice (ECS_ENABLE_SPOT_INSTANCE_DRAINING)",
          AGENT + " agent/app/agent.go; " + SAR_ECS, with_cluster_key=True),
] + ecr_pull("the ECS agent pulling images (AWS documents the instance role for tasks on EC2)",
             ECS_GUIDE + "ecr-repositories.html") + \
    awslogs("the ECS agent's awslogs driver (instance role without an execution role)", ECS_GUIDE + "using_awslogs.html")

CITED: Dict[str, List[Cited]] = {
    "task": [
        # The worker PUTs $ECS_AGENT_URI/task-protection/v1/state; the agent calls
        # UpdateTaskProtection with the task role's credentials.
        Cited("ecs:UpdateTaskProtection", lambda d: d.ecs_child_arn("task", "any-task"),
              "the ECS agent's task scale-in protection endpoint",
              ECS_GUIDE + "task-scale-in-protection-endpoint.html (\"the task IAM role must have "
              "ecs:UpdateTaskProtection\")", with_cluster_key=True),
    ],
    "task_execution": TASK_EXECUTION,
    "instance": INSTANCE,
    "spot_handler": lambda_logs("spot_handler_function_name", "Lambda (function logs)") + [
        Cited(a, lambda d, q=q: d.extra[q], "Lambda's SQS event source mapping",
              LAMBDA_GUIDE + "with-sqs.html (execution role needs ReceiveMessage, DeleteMessage, "
              "GetQueueAttributes)")
        for a in ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes")
        for q in ("spot_events_queue_arn", "lifecycle_events_queue_arn")
    ] + [
        Cited(a, lambda d: "*", "Lambda active tracing",
              LAMBDA_GUIDE + "services-xray.html (PutTraceSegments and PutTelemetryRecords, no "
              "resource-level permissions)")
        for a in ("xray:PutTraceSegments", "xray:PutTelemetryRecords")
    ],
    "producer": [
        # A guard no test can reach: results asks SQS for at most the messages it may still
        # print, and SQS never returns more than MaxNumberOfMessages.
        Cited("sqs:ChangeMessageVisibility", lambda d: d.results_queue_arn, "facerec results handing back "
              "messages over --max (crates/cli/src/cmd/results.rs, from_queue)",
              "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_ReceiveMessage.html "
              "(MaxNumberOfMessages: never more are returned)"),
    ],
    "backlog_scaler": lambda_logs("backlog_scaler_function_name", "Lambda (function logs)"),
    "backlog_scaler_schedule": [
        Cited("lambda:InvokeFunction", lambda d: d.arn("lambda", f"function:{d.extra['backlog_scaler_function_name']}"),
              "EventBridge Scheduler",
              "https://docs.aws.amazon.com/scheduler/latest/UserGuide/setting-up.html#setting-up-execution-role"),
    ],
}
