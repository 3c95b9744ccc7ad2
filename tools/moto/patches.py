"""Patches to moto (pinned in tools/moto/requirements.txt) that restore real AWS behaviour.

Each patch names the AWS behaviour it restores and what breaks without it. They touch
only response shaping and attribute bookkeeping, never the semantics our tests check
(message visibility, receive counts, redrive), so a test that passes here exercises
moto's own model of SQS/ECS, not ours. The exception is _autoscaling_lifecycle_actions:
moto has no termination lifecycle at all, so that patch adds one (its docstring says what
it models and what it leaves out); likewise _ecs_rolling_deployments for ECS deployments.
The ECS patches are in ecs_patches.py.
"""
from __future__ import annotations

import json
from typing import Any

import ecs_patches


def apply_all() -> None:
    ecs_patches.apply_all()
    _appautoscaling_tags()
    _sqs_redrive_allow_policy()
    _sqs_policy_survives_other_attributes()
    _sqs_compact_redrive_policy()
    _launch_template_own_tags()
    _lifecycle_hook_no_invented_targets()
    _lambda_logging_config()
    _autoscaling_lifecycle_actions()
    _sqs_receive_is_atomic()
    _autoscaling_policy_fields()


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
