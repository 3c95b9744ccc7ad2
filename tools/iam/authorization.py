"""What IAM authorises each API call against: action, resource ARN, condition keys.

The table `OPERATIONS` maps an API operation, as our code calls it, to the IAM
request(s) AWS evaluates for it **given that call's parameters**. Each row cites the
Service Authorization Reference (SAR) page of its service; where AWS authorises a call
against another resource than the SAR's table suggests, the row says so and cites the
evidence (docs/iam.md has the same table for readers).

Resource names are mapped onto the deployment (the resources Terraform created in moto,
tools/iam/prove.py's `Deployment`): the suite's tests name their queues, clusters and
buckets as they like, and a request's *names* are replaced by the deployed resource in
the same slot (the jobs queue, the cluster, ...) while its *form* — which resource type,
which ARN shape, "*" or not — comes from the request. So the proof judges the ARN form and
the condition keys of every call; that each ARN names *our* queue rather than another is
what terraform/tests/iam.tftest.hcl pins.
"""
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Tuple

SAR = "https://docs.aws.amazon.com/service-authorization/latest/reference/"
SAR_SQS = SAR + "list_amazonsqs.html"
SAR_S3 = SAR + "list_amazons3.html"
SAR_ECS = SAR + "list_amazonelasticcontainerservice.html"
SAR_ASG = SAR + "list_amazonec2autoscaling.html"
SAR_SSM = SAR + "list_awssystemsmanager.html"
SAR_CLOUDWATCH = SAR + "list_amazoncloudwatch.html"
SQS_BATCH = ("https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/"
             "sqs-api-permissions-reference.html (batch actions need the single action's permission)")
LISTTASKS_STAR = ("ListTasks without containerInstance is authorised against '*': cdklabs/construct-hub#1207, "
                  "aws/aws-cdk#3199 (CDK grants it on * with ArnEquals ecs:cluster), "
                  "awsdocs/amazon-ecs-developer-guide#211, widdix/complete-aws-iam-reference#74, "
                  "fabfuel/ecs-deploy#119")
HEAD_OBJECT = ("https://docs.aws.amazon.com/AmazonS3/latest/API/API_HeadObject.html "
               "(HeadObject needs s3:GetObject; without s3:ListBucket a missing key is 403, not 404)")


@dataclass
class Authorization:
    """One IAM request: action, the resource ARN it is authorised against, the context."""

    action: str
    resource: str
    context: Dict[str, object] = field(default_factory=dict)
    source: str = ""


@dataclass
class Deployment:
    """The deployed resources a request's names are mapped onto (from the moto apply)."""

    partition: str
    region: str
    account: str
    jobs_queue_arn: str
    dlq_arn: str
    results_queue_arn: Optional[str]
    cluster_name: str
    service_name: str
    asg_arn: str
    state_parameter_name: str
    input_prefix: Tuple[str, str]  # (bucket, folder/) of the first input prefix
    result_prefix: Optional[Tuple[str, str]]
    extra: Dict[str, object] = field(default_factory=dict)  # every exported name, for tools/iam/cited.py

    def arn(self, service: str, resource: str) -> str:
        return f"arn:{self.partition}:{service}:{self.region}:{self.account}:{resource}"

    @property
    def cluster_arn(self) -> str:
        return self.arn("ecs", f"cluster/{self.cluster_name}")

    def queue_arn(self, queue_url: str) -> str:
        """The deployed queue in the slot the test's queue plays, by its name: a name with
        "dlq" or "dead" is the dead-letter queue, one with "result" the results queue,
        anything else the jobs queue."""
        name = queue_url.rstrip("/").rsplit("/", 1)[-1].lower()
        if "dlq" in name or "dead" in name:
            return self.dlq_arn
        if "result" in name:
            if not self.results_queue_arn:
                raise LookupError("the deployment has no results queue")
            return self.results_queue_arn
        return self.jobs_queue_arn

    def object_arn(self, key: str) -> str:
        """An object in the slot the test's key plays, by its folder: a folder named for
        results is the result prefix, anything else (photos, galleries) an input prefix."""
        bucket, folder = self.s3_slot(key)
        return f"arn:{self.partition}:s3:::{bucket}/{folder}{key.rsplit('/', 1)[-1]}"

    def s3_slot(self, key_or_prefix: str) -> Tuple[str, str]:
        """(bucket, folder/) of the deployed prefix in the same slot."""
        if "result" in key_or_prefix.rsplit("/", 1)[0].lower():
            if not self.result_prefix:
                raise LookupError("the deployment has no result prefix")
            return self.result_prefix
        return self.input_prefix

    def ecs_child_arn(self, kind: str, id_or_arn: str) -> str:
        """container-instance/<cluster>/<id> or task/<cluster>/<id> in our cluster."""
        return self.arn("ecs", f"{kind}/{self.cluster_name}/{id_or_arn.rsplit('/', 1)[-1]}")


Rule = Callable[[dict, Deployment], List[Authorization]]


def _ctx(d: Deployment, **extra) -> Dict[str, object]:
    # Production endpoints are HTTPS (the suite's moto is plain HTTP on loopback).
    ctx = {"aws:SecureTransport": True, "aws:RequestedRegion": d.region}
    ctx.update(extra)
    return ctx


def sqs(action: str, source: str = SAR_SQS) -> Rule:
    return lambda p, d: [Authorization(action, d.queue_arn(p["QueueUrl"]), _ctx(d), source)]


def s3_object(action: str, source: str = SAR_S3) -> Rule:
    return lambda p, d: [Authorization(action, d.object_arn(p["Key"]), _ctx(d), source)]


def s3_head(p: dict, d: Deployment) -> List[Authorization]:
    """HeadObject is s3:GetObject; and it answers 404 for a missing key only to a caller
    that may also list the bucket under that key (otherwise 403, which the worker's
    "result already stored?" check would take as a failure)."""
    obj = d.object_arn(p["Key"])
    bucket, _, key = obj[len(f"arn:{d.partition}:s3:::"):].partition("/")
    return [Authorization("s3:GetObject", obj, _ctx(d), HEAD_OBJECT),
            Authorization("s3:ListBucket", f"arn:{d.partition}:s3:::{bucket}",
                          _ctx(d, **{"s3:prefix": key}), HEAD_OBJECT)]


def s3_list(p: dict, d: Deployment) -> List[Authorization]:
    bucket, folder = d.s3_slot(p.get("Prefix") or "")
    return [Authorization("s3:ListBucket", f"arn:{d.partition}:s3:::{bucket}",
                          _ctx(d, **{"s3:prefix": folder}), SAR_S3)]


def ecs_list_tasks(p: dict, d: Deployment) -> List[Authorization]:
    ctx = _ctx(d, **{"ecs:cluster": d.cluster_arn})
    if p.get("containerInstance"):
        return [Authorization("ecs:ListTasks", d.ecs_child_arn("container-instance", p["containerInstance"]),
                              ctx, SAR_ECS)]
    return [Authorization("ecs:ListTasks", "*", ctx, LISTTASKS_STAR)]


def ecs_each(action: str, list_key: str, kind: str, cluster_key: bool = True) -> Rule:
    """One authorisation per listed resource (IAM checks each ARN of the request)."""

    def rule(p: dict, d: Deployment) -> List[Authorization]:
        ctx = _ctx(d, **({"ecs:cluster": d.cluster_arn} if cluster_key else {}))
        items = p.get(list_key) or []
        if isinstance(items, str):
            items = [items]
        out = []
        for item in items:
            if kind == "service":
                arn = d.arn("ecs", f"service/{d.cluster_name}/{d.service_name}")
            else:
                arn = d.ecs_child_arn(kind, item if isinstance(item, str) else item.get("targetId", ""))
            out.append(Authorization(action, arn, ctx, SAR_ECS))
        return out

    return rule


def ecs_cluster(action: str) -> Rule:
    return lambda p, d: [Authorization(action, d.cluster_arn, _ctx(d), SAR_ECS)]


def asg(action: str) -> Rule:
    return lambda p, d: [Authorization(action, d.asg_arn, _ctx(d), SAR_ASG)]


def ssm(action: str) -> Rule:
    # A parameter's ARN names it without its leading slash.
    return lambda p, d: [Authorization(
        action, d.arn("ssm", "parameter/" + d.state_parameter_name.lstrip("/")), _ctx(d), SAR_SSM)]


# (service signing name, operation) -> rule. Only the operations our code calls: any other
# recorded operation of a component fails the proof until a row is added here.
OPERATIONS: Dict[Tuple[str, str], Rule] = {
    ("sqs", "ReceiveMessage"): sqs("sqs:ReceiveMessage"),
    ("sqs", "DeleteMessage"): sqs("sqs:DeleteMessage"),
    ("sqs", "DeleteMessageBatch"): sqs("sqs:DeleteMessage", SQS_BATCH),
    ("sqs", "ChangeMessageVisibility"): sqs("sqs:ChangeMessageVisibility"),
    ("sqs", "ChangeMessageVisibilityBatch"): sqs("sqs:ChangeMessageVisibility", SQS_BATCH),
    ("sqs", "SendMessage"): sqs("sqs:SendMessage"),
    ("sqs", "SendMessageBatch"): sqs("sqs:SendMessage", SQS_BATCH),
    ("sqs", "GetQueueAttributes"): sqs("sqs:GetQueueAttributes"),
    ("sqs", "GetQueueUrl"): lambda p, d: [Authorization(
        "sqs:GetQueueUrl", d.queue_arn(p["QueueName"]), _ctx(d), SAR_SQS)],
    ("s3", "GetObject"): s3_object("s3:GetObject"),
    ("s3", "HeadObject"): s3_head,
    ("s3", "PutObject"): s3_object("s3:PutObject"),
    ("s3", "ListObjectsV2"): s3_list,
    ("ecs", "ListTasks"): ecs_list_tasks,
    ("ecs", "GetTaskProtection"): ecs_each("ecs:GetTaskProtection", "tasks", "task"),
    ("ecs", "UpdateTaskProtection"): ecs_each("ecs:UpdateTaskProtection", "tasks", "task"),
    ("ecs", "DescribeServices"): ecs_each("ecs:DescribeServices", "services", "service"),
    ("ecs", "UpdateService"): ecs_each("ecs:UpdateService", "service", "service"),
    ("ecs", "ListContainerInstances"): ecs_cluster("ecs:ListContainerInstances"),
    ("ecs", "DescribeContainerInstances"): ecs_each(
        "ecs:DescribeContainerInstances", "containerInstances", "container-instance"),
    ("ecs", "UpdateContainerInstancesState"): ecs_each(
        "ecs:UpdateContainerInstancesState", "containerInstances", "container-instance"),
    # Authorised on each attribute's target (a container instance here), ecs:cluster in context.
    ("ecs", "PutAttributes"): ecs_each("ecs:PutAttributes", "attributes", "container-instance"),
    ("autoscaling", "DescribeAutoScalingGroups"): lambda p, d: [Authorization(
        "autoscaling:DescribeAutoScalingGroups", "*", _ctx(d), SAR_ASG + " (no resource-level permissions)")],
    ("autoscaling", "SetDesiredCapacity"): asg("autoscaling:SetDesiredCapacity"),
    # Only an instance id is passed; IAM authorises against the instance's group.
    ("autoscaling", "TerminateInstanceInAutoScalingGroup"): asg("autoscaling:TerminateInstanceInAutoScalingGroup"),
    ("autoscaling", "CompleteLifecycleAction"): asg("autoscaling:CompleteLifecycleAction"),
    ("autoscaling", "RecordLifecycleActionHeartbeat"): asg("autoscaling:RecordLifecycleActionHeartbeat"),
    ("ssm", "GetParameter"): ssm("ssm:GetParameter"),
    ("ssm", "PutParameter"): ssm("ssm:PutParameter"),
    # CloudWatch's signing name is "monitoring"; GetMetricData has no resource types.
    ("monitoring", "GetMetricData"): lambda p, d: [Authorization(
        "cloudwatch:GetMetricData", "*", _ctx(d), SAR_CLOUDWATCH + " (no resource-level permissions)")],
}


def authorizations(service: str, operation: str, params: dict, deployment: Deployment) -> List[Authorization]:
    """The IAM requests for one API call; KeyError when the operation has no row."""
    return OPERATIONS[(service, operation)](params, deployment)
