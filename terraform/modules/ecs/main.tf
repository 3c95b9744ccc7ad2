# ECS cluster, capacity provider, worker task definition and service.
data "aws_region" "current" {}

locals {
  # The worker's container health check (facerec-worker health: the receive loop ran
  # recently).
  health_check = {
    command     = ["CMD", "/usr/local/bin/facerec-worker", "health"]
    interval    = 30
    timeout     = 5
    retries     = 3
    startPeriod = 30
  }
  # The service ignores the container health check this long after a task starts: its
  # start period plus three failed checks, so a slow start (image pull, model load) is
  # never taken for a hung worker.
  health_check_grace_period_seconds = local.health_check.startPeriod + local.health_check.retries * local.health_check.interval
}

resource "aws_ecs_cluster" "this" {
  name = var.cluster_name

  # Container Insights publishes DesiredTaskCount, which the alarms mode's policies read
  # (modules/scaling); in either mode it gives operators the service's task metrics.
  setting {
    name  = "containerInsights"
    value = "enabled"
  }
}

resource "aws_cloudwatch_log_group" "worker" {
  name              = var.log_group_name
  retention_in_days = var.log_retention_days
  kms_key_id        = var.logs_kms_key_arn
}

resource "aws_ecs_capacity_provider" "this" {
  name = "${var.name}-capacity-provider"

  auto_scaling_group_provider {
    auto_scaling_group_arn = var.asg_arn

    # Managed scaling sizes the group from CapacityProviderReservation (alarms mode).
    # With the backlog scaler it is off: the scaler sets the group's capacity itself, and
    # two writers of one desired capacity would undo each other (docs/design.md, "Scaling
    # modes"). The plan's values stay in place either way; ECS ignores them while off.
    managed_scaling {
      status                    = var.managed_scaling ? "ENABLED" : "DISABLED"
      target_capacity           = var.capacity_target_percent
      minimum_scaling_step_size = var.minimum_scaling_step_size
      maximum_scaling_step_size = var.maximum_scaling_step_size
      instance_warmup_period    = var.instance_warmup_seconds
    }

    # Deviation from the plan (DISABLED): with it disabled the ASG may terminate an
    # instance that still runs a worker mid-job. ENABLED requires protect_from_scale_in
    # on the ASG and managed scaling; ECS lifts protection only from instances without
    # tasks. Without managed scaling (backlog scaler) it must be DISABLED; the group's
    # scale-in protection then stays on for good, and the scaler terminates only
    # instances it has seen empty (drained, re-read) by TerminateInstanceInAutoScalingGroup.
    managed_termination_protection = var.managed_scaling ? "ENABLED" : "DISABLED"

    # ECS drains tasks off instances the ASG terminates (scale-in, rebalancing) instead of
    # killing them, so their jobs are finished or released.
    managed_draining = "ENABLED"
  }
}

resource "aws_ecs_cluster_capacity_providers" "this" {
  cluster_name       = aws_ecs_cluster.this.name
  capacity_providers = [aws_ecs_capacity_provider.this.name]

  default_capacity_provider_strategy {
    capacity_provider = aws_ecs_capacity_provider.this.name
    weight            = 1
    base              = 0
  }
}

resource "aws_ecs_task_definition" "worker" {
  family                   = "${var.name}-task"
  requires_compatibilities = ["EC2"]
  network_mode             = "bridge"
  cpu                      = var.task_cpu
  memory                   = var.task_memory
  execution_role_arn       = var.task_execution_role_arn
  task_role_arn            = var.task_role_arn

  container_definitions = jsonencode([
    {
      name      = var.name
      image     = var.image
      essential = true

      environment = [for k in sort(keys(var.environment)) : { name = k, value = var.environment[k] }]

      # ECS sends SIGTERM, waits stopTimeout, then SIGKILL. The worker finishes or releases
      # its jobs inside this window; <= 110 s keeps it within the 2-minute Spot notice.
      stopTimeout = var.stop_timeout_seconds

      healthCheck = local.health_check

      # The image (Dockerfile) runs as 65532 and writes only to /tmp (its health file).
      readonlyRootFilesystem = true
      user                   = "65532:65532"

      linuxParameters = {
        sharedMemorySize   = var.shared_memory_size
        initProcessEnabled = true # reaps zombies and forwards SIGTERM to the worker
        tmpfs              = [{ containerPath = "/tmp", size = 64, mountOptions = ["noexec", "nosuid"] }]
      }

      logConfiguration = {
        logDriver = "awslogs"
        options = {
          "awslogs-group"         = aws_cloudwatch_log_group.worker.name
          "awslogs-region"        = data.aws_region.current.name
          "awslogs-stream-prefix" = "ecs"
          "mode"                  = "non-blocking" # a CloudWatch hiccup must not stall the worker
          "max-buffer-size"       = "4m"
        }
      }

      mountPoints  = []
      volumesFrom  = []
      portMappings = []
    }
  ])
}

resource "aws_ecs_service" "worker" {
  name            = var.service_name
  cluster         = aws_ecs_cluster.this.id
  task_definition = aws_ecs_task_definition.worker.arn
  desired_count   = 0 # initial value only; the backlog scaler or Application Auto Scaling owns it (ignore_changes)

  # Never a launch type: a service with a launch type ignores capacity providers, so the
  # ASG would never scale for it.
  capacity_provider_strategy {
    capacity_provider = aws_ecs_capacity_provider.this.name
    weight            = 1
    base              = 0
  }

  placement_constraints {
    type = "distinctInstance" # one task per instance
  }

  ordered_placement_strategy {
    type  = "spread"
    field = "attribute:ecs.availability-zone"
  }

  deployment_controller {
    type = "ECS"
  }

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  # ECS applies the grace period to container health checks too, not only to load
  # balancers' (CreateService: "Elastic Load Balancing, VPC Lattice, and container
  # health checks").
  health_check_grace_period_seconds = local.health_check_grace_period_seconds

  # 100/200 instead of the plan's 0/200: new tasks start (on new instances) before old
  # ones stop, so a deployment never halts processing. At full scale that is 2 x
  # max_tasks instances for a while: the ASG's max_size allows it (modules/asg).
  deployment_minimum_healthy_percent = 100
  deployment_maximum_percent         = 200

  enable_ecs_managed_tags = true
  propagate_tags          = "SERVICE"
  wait_for_steady_state   = false

  timeouts {
    create = "10m"
    update = "10m"
    delete = "20m"
  }

  lifecycle {
    ignore_changes = [desired_count]
  }

  depends_on = [aws_ecs_cluster_capacity_providers.this]
}
