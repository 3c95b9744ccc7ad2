"""The ECS patches of tools/moto/patches.py (which applies them): ECS behaviour the
backlog scaler and Terraform rely on, restored in moto (pinned in requirements.txt).

Each patch names the AWS behaviour it restores and what breaks without it.
"""
from __future__ import annotations

from typing import Any


def apply_all() -> None:
    _ecs_service_fields()
    _ecs_task_protection()
    _ecs_list_tasks_by_service()
    _ecs_rolling_deployments()


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
