"""Patches to moto (pinned in tools/moto/requirements.txt) that restore real AWS behaviour.

Each patch names the AWS behaviour it restores and what breaks without it. They touch
only response shaping and attribute bookkeeping, never the semantics our tests check
(message visibility, receive counts, redrive), so a test that passes here exercises
moto's own model of SQS/ECS, not ours. The exception is _autoscaling_lifecycle_actions:
moto has no termination lifecycle at all, so that patch adds one (its docstring says what
it models and what it leaves out); likewise _ecs_rolling_deployments for ECS deployments.
"""
from __future__ import annotations

import json
from typing import Any


def apply_all() -> None:
    _ecs_service_fields()
    _appautoscaling_tags()
    _sqs_redrive_allow_policy()
    _sqs_policy_survives_other_attributes()
    _sqs_compact_redrive_policy()
    _launch_template_own_tags()
    _lifecycle_hook_no_invented_targets()
    _lambda_logging_config()
    _autoscaling_lifecycle_actions()
    _sqs_receive_is_atomic()
    _ecs_task_protection()
    _ecs_list_tasks_by_service()
    _ecs_rolling_deployments()
    _autoscaling_policy_fields()


# --- ECS -------------------------------------------------------------------------------
_ECS_SERVICE_FIELDS = {
    # request parameter -> attribute the serializer reads (botocore's xform_name)
    "capacityProviderStrategy": "capacity_provider_strategy",
    "placementConstraints": "placement_constraints",
    "placementStrategy": "placement_strategy",
    "deploymentConfiguration": "deployment_configuration",
    "enableECSManagedTags": "enable_ecs_managed_tags",
    "enableExecuteCommand": "enable_execute_command",
    "healthCheckGracePeriodSeconds": "health_check_grace_period_seconds",
    "availabilityZoneRebalancing": "availability_zone_rebalancing",
}


def _ecs_service_fields() -> None:
    """ECS CreateService/UpdateService/DescribeServices.

    Real ECS omits `networkConfiguration` for bridge-mode services; moto returns `{}`,
    on which terraform-provider-aws 5.100 dereferences a nil awsvpcConfiguration and
    crashes. Real ECS also returns the capacity provider strategy, placement constraints
    and strategy and deployment configuration it was given; moto drops them, so every
    plan after apply would show drift.
    """
    from moto.ecs import models, responses

    original_init = models.Service.__init__

    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        if not self.network_configuration:
            self.network_configuration = None
        for attr in _ECS_SERVICE_FIELDS.values():
            if not hasattr(self, attr):
                setattr(self, attr, None)

    models.Service.__init__ = init

    def remember(handler_name: str) -> None:
        original = getattr(responses.EC2ContainerServiceResponse, handler_name)

        def handler(self: Any) -> Any:
            result = original(self)
            cluster = self._get_param("cluster", "default")
            name = self._get_param("serviceName") or self._get_param("service")
            services, _ = self.ecs_backend.describe_services(cluster, [name])
            for service in services:
                for param, attr in _ECS_SERVICE_FIELDS.items():
                    value = self._get_param(param)
                    if value is not None:
                        setattr(service, attr, value)
                if not service.network_configuration:
                    service.network_configuration = None
                for deployment in getattr(service, "deployments", []):
                    if not deployment.get("networkConfiguration"):
                        deployment.pop("networkConfiguration", None)
            return result

        setattr(responses.EC2ContainerServiceResponse, handler_name, handler)

    remember("create_service")
    remember("update_service")


# --- Application Auto Scaling ------------------------------------------------------------
def _appautoscaling_tags() -> None:
    """Application Auto Scaling TagResource/UntagResource/ListTagsForResource.

    Real AWS tags scalable targets (RegisterScalableTarget takes Tags). moto has none of
    these actions, and terraform-provider-aws retries the missing ListTagsForResource
    until its timeout, so `apply` hangs on aws_appautoscaling_target.
    """
    from moto.applicationautoscaling import responses

    tags: dict[str, dict[str, str]] = {}
    cls = responses.ApplicationAutoScalingResponse
    original_register = cls.register_scalable_target

    def register_scalable_target(self: Any) -> str:
        body = original_register(self)
        arn = json.loads(body)["ScalableTargetARN"]
        if self._get_param("Tags"):
            tags.setdefault(arn, {}).update(self._get_param("Tags"))
        return body

    def list_tags_for_resource(self: Any) -> str:
        return json.dumps({"Tags": tags.get(self._get_param("ResourceARN"), {})})

    def tag_resource(self: Any) -> str:
        tags.setdefault(self._get_param("ResourceARN"), {}).update(self._get_param("Tags") or {})
        return "{}"

    def untag_resource(self: Any) -> str:
        current = tags.get(self._get_param("ResourceARN"), {})
        for key in self._get_param("TagKeys") or []:
            current.pop(key, None)
        return "{}"

    cls.register_scalable_target = register_scalable_target
    cls.list_tags_for_resource = list_tags_for_resource
    cls.tag_resource = tag_resource
    cls.untag_resource = untag_resource


# --- SQS -----------------------------------------------------------------------------------
def _sqs_redrive_allow_policy() -> None:
    """SQS RedriveAllowPolicy attribute.

    Real SQS stores and returns RedriveAllowPolicy (which source queues may use a DLQ);
    moto accepts it in SetQueueAttributes and drops it, so aws_sqs_queue_redrive_allow_policy
    never converges.
    """
    from moto.sqs import models

    if "RedriveAllowPolicy" not in models.Queue.BASE_ATTRIBUTES:
        models.Queue.BASE_ATTRIBUTES.append("RedriveAllowPolicy")
    models.Queue.redrive_allow_policy = None  # class default for queues that never set it

    original = models.Queue.attributes

    def attributes(self: Any) -> dict[str, Any]:
        return {k: v for k, v in original.fget(self).items() if v is not None}

    models.Queue.attributes = property(attributes)

    # Real SQS removes the attribute when it is set to "" (how the provider deletes
    # aws_sqs_queue_redrive_allow_policy); moto would keep "" and destroy waits forever.
    original_set = models.Queue._set_attributes

    def _set_attributes(self: Any, attributes: dict[str, Any], now: float | None = None) -> None:
        original_set(self, attributes, now)
        if attributes.get("RedriveAllowPolicy") == "":
            self.redrive_allow_policy = None

    models.Queue._set_attributes = _set_attributes


def _sqs_policy_survives_other_attributes() -> None:
    """SQS SetQueueAttributes keeps attributes it is not given.

    Real SQS changes only the attributes named in the request. moto resets `Policy` to
    None on every SetQueueAttributes that does not name it, so setting the redrive allow
    policy (or any attribute) after the queue policy silently deletes the policy.
    """
    from moto.sqs import models

    original = models.Queue._set_attributes

    def _set_attributes(self: Any, attributes: dict[str, Any], now: float | None = None) -> None:
        keep = getattr(self, "policy", None)
        original(self, attributes, now)
        if "Policy" not in attributes:
            self.policy = keep

    models.Queue._set_attributes = _set_attributes


def _sqs_compact_redrive_policy() -> None:
    """SQS returns RedrivePolicy as compact JSON, maxReceiveCount a number.

    moto re-serialises it with spaces after separators; terraform-provider-aws then sees
    a "whitespace change" on every plan, and everything that reads the queue's ARN is
    re-planned with it.
    """
    from moto.sqs import models

    original = models.Queue.attributes

    def attributes(self: Any) -> dict[str, Any]:
        result = original.fget(self)
        if self.redrive_policy:
            result["RedrivePolicy"] = json.dumps(self.redrive_policy, separators=(",", ":"))
        return result

    models.Queue.attributes = property(attributes)


def _launch_template_own_tags() -> None:
    """EC2 CreateLaunchTemplate: TagSpecifications tag the template, not its data.

    Real EC2 applies the request-level TagSpecifications (resource type launch-template)
    to the template resource. moto also copies them into the launch template *data*, so
    every version reads back a tag specification nobody configured: drift on each plan.
    """
    from moto.ec2.models import launch_templates

    original = launch_templates.LaunchTemplateVersion.__init__

    def init(self: Any, template: Any, number: Any, data: dict[str, Any], *args: Any, **kwargs: Any) -> None:
        specs = data.get("TagSpecifications")
        if specs:
            data = dict(data)
            data["TagSpecifications"] = [s for s in specs if s.get("ResourceType") != "launch-template"]
        original(self, template, number, data, *args, **kwargs)

    launch_templates.LaunchTemplateVersion.__init__ = init


def _lifecycle_hook_no_invented_targets() -> None:
    """Auto Scaling lifecycle hooks without a notification target have none.

    Real Auto Scaling returns NotificationTargetARN/RoleARN only when they were given
    (EventBridge receives lifecycle events without them). moto returns hard-coded
    placeholder ARNs, which Terraform then plans to remove on every run.
    """
    from moto.autoscaling import models, responses

    original_init = models.LifecycleHook.__init__

    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        self.role_arn = None
        self.notification_target_arn = None

    models.LifecycleHook.__init__ = init

    original_put = responses.AutoScalingResponse.put_lifecycle_hook

    def put_lifecycle_hook(self: Any) -> Any:
        result = original_put(self)
        group = self._get_param("AutoScalingGroupName")
        name = self._get_param("LifecycleHookName")
        for hook in self.autoscaling_backend.describe_lifecycle_hooks(group, [name]):
            hook.role_arn = self._get_param("RoleARN")
            hook.notification_target_arn = self._get_param("NotificationTargetARN")
        return result

    responses.AutoScalingResponse.put_lifecycle_hook = put_lifecycle_hook


def _lambda_logging_config() -> None:
    """Lambda LoggingConfig (log format and group) on Create/Get/UpdateFunctionConfiguration.

    Real Lambda stores it and returns it, with defaults (Text, /aws/lambda/NAME) when not
    set. moto ignores it, so a function with JSON logs to a managed log group drifts.
    """
    from moto.awslambda import models

    original_init = models.LambdaFunction.__init__

    def init(self: Any, account_id: str, spec: dict[str, Any], *args: Any, **kwargs: Any) -> None:
        original_init(self, account_id, spec, *args, **kwargs)
        self.logging_config = {"LogFormat": "Text", "LogGroup": f"/aws/lambda/{self.function_name}"}
        self.logging_config.update(spec.get("LoggingConfig") or {})

    models.LambdaFunction.__init__ = init

    original_get = models.LambdaFunction.get_configuration

    def get_configuration(self: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
        config = original_get(self, *args, **kwargs)
        config["LoggingConfig"] = dict(self.logging_config)
        return config

    models.LambdaFunction.get_configuration = get_configuration

    original_update = models.LambdaFunction.update_configuration

    def update_configuration(self: Any, config_updates: dict[str, Any]) -> dict[str, Any]:
        if config_updates.get("LoggingConfig"):
            self.logging_config.update(config_updates["LoggingConfig"])
        return original_update(self, config_updates)

    models.LambdaFunction.update_configuration = update_configuration


def _autoscaling_lifecycle_actions() -> None:
    """Auto Scaling termination lifecycle hooks: Terminating:Wait, the EventBridge event,
    RecordLifecycleActionHeartbeat and CompleteLifecycleAction.

    Real Auto Scaling, when it terminates an instance of a group that has
    autoscaling:EC2_INSTANCE_TERMINATING hooks, moves the instance to Terminating:Wait,
    opens one lifecycle action per hook (each with its own token) and sends one
    "EC2 Instance-terminate Lifecycle Action" event per action to EventBridge. The
    instance is terminated only once every action has ended: completed with CONTINUE,
    completed with ABANDON (which also ends the instance's other actions), or timed out
    HeartbeatTimeout seconds after it opened or after its last heartbeat (the hook's
    DefaultResult). Both calls find the action by group, hook, and the token and/or
    instance id given; a call that matches no open action is a ValidationError "No active
    Lifecycle Action found with token T" (or "... with instance ID I"). moto 5.2 has none
    of this: it terminates at once, and both calls answer HTTP 500.

    Here TerminateInstanceInAutoScalingGroup goes through the hooks as above; scale-in by
    desired capacity still removes instances at once (moto's own behaviour, which a
    Terraform destroy relies on). Timeouts are applied when a lifecycle call or
    DescribeAutoScalingInstances arrives, not by a clock. Events go to the default bus of
    moto's EventBridge, whose rules deliver them (e.g. to SQS) as they deliver any event.
    What a test can observe is what AWS shows: the LifecycleState, the ValidationError
    for an action that is no longer open, and the result's effect (after CONTINUE the
    instance's other actions stay open; after ABANDON they are gone).
    """
    import threading
    import time
    import uuid

    from moto.autoscaling import models
    from moto.autoscaling.exceptions import ValidationError
    from moto.autoscaling.responses import AutoScalingResponse
    from moto.core.responses import EmptyResult

    terminating = "autoscaling:EC2_INSTANCE_TERMINATING"
    lock = threading.RLock()

    class LifecycleAction:
        def __init__(self, group: Any, hook: Any, instance_id: str, should_decrement: bool) -> None:
            self.auto_scaling_group_name = group.name
            self.lifecycle_hook_name = hook.name
            self.instance_id = instance_id
            self.token = str(uuid.uuid4())
            self.heartbeat_timeout = int(hook.heartbeat_timeout)
            self.default_result = hook.default_result
            self.deadline = time.time() + self.heartbeat_timeout
            self.state = "Pending"  # Pending | Completed | TimedOut | Abandoned
            self.result: str | None = None  # CONTINUE | ABANDON once ended
            self.heartbeats = 0
            self.should_decrement = should_decrement

    def actions(backend: Any) -> list[Any]:
        # BaseBackend.reset() replaces __dict__, which forgets these with everything else.
        return backend.__dict__.setdefault("lifecycle_actions", [])

    def instance_state(backend: Any, instance_id: str) -> Any:
        return next(
            (s for g in backend.autoscaling_groups.values() for s in g.instance_states if s.instance.id == instance_id),
            None,
        )

    original_terminate = models.AutoScalingBackend.terminate_instance

    def settle(backend: Any, instance_id: str) -> None:
        """Terminates the instance once none of its actions is pending."""
        mine = [a for a in actions(backend) if a.instance_id == instance_id]
        if not mine or any(a.state == "Pending" for a in mine):
            return
        state = instance_state(backend, instance_id)
        if state is not None and state.lifecycle_state == "Terminating:Wait":
            state.lifecycle_state = "Terminating:Proceed"
            original_terminate(backend, instance_id, mine[0].should_decrement)

    def end(backend: Any, action: Any, state: str, result: str) -> None:
        action.state = state
        action.result = result
        if result == "ABANDON":
            for other in actions(backend):
                if other.instance_id == action.instance_id and other.state == "Pending":
                    other.state, other.result = "Abandoned", "ABANDON"
        settle(backend, action.instance_id)

    def expire(backend: Any) -> None:
        now = time.time()
        for action in list(actions(backend)):
            if action.state == "Pending" and now >= action.deadline:
                end(backend, action, "TimedOut", action.default_result)

    def put_event(backend: Any, group: Any, action: Any) -> None:
        from moto.events.models import events_backends

        detail = {
            "LifecycleActionToken": action.token,
            "AutoScalingGroupName": group.name,
            "LifecycleHookName": action.lifecycle_hook_name,
            "EC2InstanceId": action.instance_id,
            "LifecycleTransition": terminating,
            "Origin": "AutoScalingGroup",
            "Destination": "EC2",
        }
        events_backends[backend.account_id][backend.region_name].put_events(
            [
                {
                    "Source": "aws.autoscaling",
                    "DetailType": "EC2 Instance-terminate Lifecycle Action",
                    "Resources": [group.arn],
                    "Detail": json.dumps(detail),
                }
            ]
        )

    def terminate_instance(self: Any, instance_id: str, should_decrement: bool) -> Any:
        with lock:
            state = instance_state(self, instance_id)
            if state is None:
                return original_terminate(self, instance_id, should_decrement)
            group = state.instance.autoscaling_group
            if state.lifecycle_state.startswith("Terminating"):
                # Already on its way out: no second set of actions.
                return models.TerminateInstanceActivity(state.instance, group.desired_capacity)
            hooks = [h for h in self.describe_lifecycle_hooks(group.name) if h.lifecycle_transition == terminating]
            if not hooks:
                return original_terminate(self, instance_id, should_decrement)
            state.lifecycle_state = "Terminating:Wait"
            activity = models.TerminateInstanceActivity(state.instance, group.desired_capacity)
            activity.status_code = "WaitingForTerminateLifecycleAction"
            opened = [LifecycleAction(group, hook, instance_id, should_decrement) for hook in hooks]
            actions(self).extend(opened)
        for action in opened:
            put_event(self, group, action)
        return activity

    models.AutoScalingBackend.terminate_instance = terminate_instance

    original_describe_instances = models.AutoScalingBackend.describe_auto_scaling_instances

    def describe_auto_scaling_instances(self: Any, instance_ids: list[str]) -> Any:
        with lock:
            expire(self)
        return original_describe_instances(self, instance_ids)

    models.AutoScalingBackend.describe_auto_scaling_instances = describe_auto_scaling_instances

    def find(handler: Any) -> Any:
        """The open action the request names, or the ValidationError real AWS returns."""
        group = handler._get_param("AutoScalingGroupName")
        hook = handler._get_param("LifecycleHookName")
        token = handler._get_param("LifecycleActionToken")
        instance = handler._get_param("InstanceId")
        backend = handler.autoscaling_backend
        if not token and not instance:
            raise ValidationError("Either LifecycleActionToken or InstanceId is required")
        expire(backend)
        for action in actions(backend):
            if (
                action.state == "Pending"
                and action.auto_scaling_group_name == group
                and action.lifecycle_hook_name == hook
                and (not token or action.token == token)
                and (not instance or action.instance_id == instance)
            ):
                return action
        if token:
            raise ValidationError(f"No active Lifecycle Action found with token {token}")
        raise ValidationError(f"No active Lifecycle Action found with instance ID {instance}")

    def complete_lifecycle_action(self: Any) -> Any:
        result = self._get_param("LifecycleActionResult")
        if result not in ("CONTINUE", "ABANDON"):
            raise ValidationError(f"Invalid LifecycleActionResult {result!r}: CONTINUE or ABANDON")
        with lock:
            end(self.autoscaling_backend, find(self), "Completed", result)
        return EmptyResult()

    def record_lifecycle_action_heartbeat(self: Any) -> Any:
        with lock:
            action = find(self)
            action.heartbeats += 1
            action.deadline = time.time() + action.heartbeat_timeout
        return EmptyResult()

    AutoScalingResponse.complete_lifecycle_action = complete_lifecycle_action
    AutoScalingResponse.record_lifecycle_action_heartbeat = record_lifecycle_action_heartbeat


def _sqs_receive_is_atomic() -> None:
    """SQS never hands one message to two concurrent receivers.

    moto checks a message's visibility and marks it received without a lock, so two
    workers polling at once sometimes both get it (seen: 3 in 500 jobs, 30 on a loaded
    machine). The worker's exactly-once-result tests would then measure moto's race
    instead of our runtime. Receives are serialised; long polling still waits outside
    the lock so one idle poller does not block the others.
    """
    import threading
    import time

    from moto.sqs.models import SQSBackend

    original = SQSBackend.receive_message
    lock = threading.Lock()

    def receive_message(
        self: Any,
        queue_name: str,
        count: int,
        wait_seconds_timeout: int,
        visibility_timeout: int,
        message_attribute_names: Any = None,
    ) -> Any:
        deadline = time.time() + wait_seconds_timeout
        while True:
            with lock:
                got = original(self, queue_name, count, 0, visibility_timeout, message_attribute_names)
            if got or time.time() >= deadline:
                return got
            self.get_queue(queue_name).wait_for_messages(min(1, max(0.0, deadline - time.time())))

    SQSBackend.receive_message = receive_message


def _ecs_task_protection() -> None:
    """ECS UpdateTaskProtection and GetTaskProtection (task scale-in protection).

    Real ECS keeps a protection flag per task of a service: UpdateTaskProtection sets it
    for up to 10 tasks (`protectionEnabled`, `expiresInMinutes` 1-2880, default 120) and
    GetTaskProtection reads it for up to 100 (`protectedTasks`: taskArn,
    protectionEnabled, expirationDate while enabled). Once the expiration date passes ECS
    clears the flag. A task that is not part of a service (its group is not
    `service:NAME`) gets the failure TASK_NOT_VALID, as AWS documents; a task ECS does not
    know gets MISSING, as DescribeTasks reports it. moto 5.2 has neither call (HTTP 500),
    so the backlog scaler, which counts busy tasks by their protection, could not be
    tested against it. Protection here only answers these two calls: moto's service
    scheduler does not stop tasks, protected or not.
    """
    import datetime

    from moto.core.responses import ActionResult
    from moto.ecs.exceptions import InvalidParameterException
    from moto.ecs.responses import EC2ContainerServiceResponse

    def lookup(handler: Any, limit: int) -> tuple[list[Any], list[dict[str, Any]]]:
        backend = handler.ecs_backend
        cluster = backend._get_cluster(handler._get_param("cluster", "default"))
        wanted = handler._get_param("tasks") or []
        if len(wanted) > limit:
            raise InvalidParameterException(f"tasks can have at most {limit} items.")
        known = backend.tasks.get(cluster.name, {})
        found, failures = [], []
        for ref in wanted:
            task_id = ref.split("/")[-1]
            task = next((t for arn, t in known.items() if arn == ref or arn.endswith("/" + task_id)), None)
            if task is None:
                failures.append({"arn": ref, "reason": "MISSING"})
            elif not str(getattr(task, "group", "") or "").startswith("service:"):
                failures.append({"arn": task.task_arn, "reason": "TASK_NOT_VALID", "detail": "The task is not part of a service."})
            else:
                found.append(task)
        return found, failures

    def state(task: Any) -> dict[str, Any]:
        enabled, expires = getattr(task, "facerec_protection", (False, None))
        now = datetime.datetime.now(datetime.timezone.utc)
        if enabled and expires is not None and expires <= now:
            enabled, expires = False, None
            task.facerec_protection = (False, None)
        item: dict[str, Any] = {"taskArn": task.task_arn, "protectionEnabled": enabled}
        if enabled:
            item["expirationDate"] = expires
        return item

    def update_task_protection(self: Any) -> Any:
        enabled = bool(self._get_param("protectionEnabled"))
        minutes = self._get_param("expiresInMinutes")
        minutes = 120 if minutes is None else int(minutes)
        if enabled and not 1 <= minutes <= 2880:
            raise InvalidParameterException("expiresInMinutes must be between 1 and 2880.")
        tasks, failures = lookup(self, 10)
        expires = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(minutes=minutes)
        for task in tasks:
            task.facerec_protection = (True, expires) if enabled else (False, None)
        return ActionResult({"protectedTasks": [state(t) for t in tasks], "failures": failures})

    def get_task_protection(self: Any) -> Any:
        tasks, failures = lookup(self, 100)
        return ActionResult({"protectedTasks": [state(t) for t in tasks], "failures": failures})

    EC2ContainerServiceResponse.update_task_protection = update_task_protection
    EC2ContainerServiceResponse.get_task_protection = get_task_protection


def _ecs_list_tasks_by_service() -> None:
    """ECS ListTasks with `serviceName` returns only that service's tasks; `startedBy` is
    a filter of its own; without `desiredStatus` only RUNNING tasks.

    Real ECS filters by the service (a service's tasks have the group `service:NAME`);
    moto ignores the parameter and returns every task of the cluster, so a caller that
    counts a service's tasks would count standalone tasks too. Real ECS also requires
    that "when you specify startedBy as the filter, it must be the only filter that you
    use", and its "default status filter is RUNNING" (API_ListTasks); moto combines any
    filters and returns stopped tasks too, so a call real ECS rejects, or a count of
    stopped tasks, would pass here. A request with startedBy and another filter gets
    InvalidParameterException, as AWS's own validation would give.
    """
    from moto.ecs.exceptions import InvalidParameterException
    from moto.ecs.models import EC2ContainerServiceBackend

    original = EC2ContainerServiceBackend.list_tasks

    def list_tasks(self: Any, cluster_str: Any = None, container_instance: Any = None, family: Any = None,
                   started_by: Any = None, service_name: Any = None, desiredStatus: Any = None) -> Any:
        if started_by and (container_instance or family or service_name or desiredStatus):
            raise InvalidParameterException("When you specify startedBy as the filter, it must be the only filter that you use.")
        tasks = original(self, cluster_str, container_instance, family, started_by, service_name,
                         desiredStatus or "RUNNING")
        if service_name:
            group = "service:" + str(service_name).split("/")[-1]
            tasks = [t for t in tasks if getattr(t, "group", None) == group]
        return tasks

    EC2ContainerServiceBackend.list_tasks = list_tasks


def _ecs_rolling_deployments() -> None:
    """ECS UpdateService starting a deployment, and the deployments it replaces.

    Real ECS: UpdateService with forceNewDeployment or another task definition starts a
    deployment (status PRIMARY); the one it replaces stays in the service's `deployments`
    with status ACTIVE while it has tasks, each deployment counting its own tasks, whose
    `startedBy` is the deployment's id (API_Deployment, API_Task). moto 5.2 keeps a
    single deployment, renamed on forceNewDeployment, and counts the service's tasks as
    its desired count, so the backlog scaler's handling of a deployment could not be
    tested. Once a service has had such a deployment here, DescribeServices lists the
    replaced one as ACTIVE (desiredCount 0) until no RUNNING task started by it is left,
    and counts every deployment's RUNNING tasks by `startedBy`. moto still starts and
    stops no task: a test starts the tasks it wants with StartTask.
    """
    import copy

    from moto.core.utils import utcnow
    from moto.ecs.models import EC2ContainerServiceBackend
    from moto.moto_api._internal import mock_random

    original_update = EC2ContainerServiceBackend.update_service
    original_describe = EC2ContainerServiceBackend.describe_services

    def update_service(self: Any, service_properties: dict[str, Any]) -> Any:
        service = self._get_service(service_properties.get("cluster", "default"),
                                    service_properties["service"].split("/")[-1])
        new_definition = service_properties.get("task_definition")
        starts = bool(service_properties.get("force_new_deployment")) or (
            new_definition is not None and new_definition != service.task_definition)
        replaced = [copy.deepcopy(d) for d in service.deployments] if starts else []
        result = original_update(self, service_properties)
        if starts and replaced:
            primary = dict(replaced[0])
            now = utcnow()
            primary.update(id=f"ecs-svc/{mock_random.randint(0, 32**12)}", createdAt=now,
                           updatedAt=now, taskDefinition=service.task_definition,
                           rolloutState="IN_PROGRESS")
            for d in replaced:
                d["status"] = "ACTIVE"
                d["desiredCount"] = 0
            service.deployments = [primary, *replaced]
            service.facerec_rolling = True
        return result

    def describe_services(self: Any, cluster_str: str, names: list[str]) -> Any:
        services, failures = original_describe(self, cluster_str, names)
        for service in services:
            if not getattr(service, "facerec_rolling", False):
                continue
            tasks = self.tasks.get(service.cluster_name, {}).values()

            def running(deployment_id: str) -> int:
                # desiredStatus, as ListTasks filters: reading a moto task's lastStatus
                # advances its state machine.
                return sum(1 for t in tasks
                           if t.started_by == deployment_id and t.desired_status == "RUNNING")

            kept = []
            for d in service.deployments:
                d["runningCount"] = running(d["id"])
                d["pendingCount"] = 0
                if d["status"] == "PRIMARY":
                    d["desiredCount"] = service.desired_count
                    kept.append(d)
                elif d["runningCount"] > 0:
                    kept.append(d)
            service.deployments = kept
            service.running_count = sum(d["runningCount"] for d in kept)
            service.pending_count = 0
        return services, failures

    EC2ContainerServiceBackend.update_service = update_service
    EC2ContainerServiceBackend.describe_services = describe_services


# --- EC2 Auto Scaling policies -------------------------------------------------------------
def _autoscaling_policy_fields() -> None:
    """EC2 Auto Scaling PutScalingPolicy/DescribePolicies: Enabled and predictive config.

    Real Auto Scaling stores `Enabled` (true unless the request says false:
    https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_PutScalingPolicy.html)
    and returns `PredictiveScalingConfiguration` only for predictive policies. moto
    omits Enabled (read as false) and returns an empty predictive configuration for every
    policy, so a step policy (the backlog scaler's backstop) drifts after apply.
    """
    from moto.autoscaling import models, responses

    original_init = models.FakeScalingPolicy.__init__

    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        self.enabled = True
        if self.policy_type != "PredictiveScaling":
            self.predictive_scaling_configuration = None

    models.FakeScalingPolicy.__init__ = init

    original_put = responses.AutoScalingResponse.put_scaling_policy

    def put_scaling_policy(self: Any) -> Any:
        result = original_put(self)
        enabled = self._get_param("Enabled")
        if enabled is not None:
            name = self._get_param("PolicyName")
            policy = self.autoscaling_backend.policies.get(name)
            if policy is not None:
                policy.enabled = str(enabled).lower() == "true"
        return result

    responses.AutoScalingResponse.put_scaling_policy = put_scaling_policy
