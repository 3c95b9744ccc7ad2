# Launch template and Spot Auto Scaling group for the ECS container instances.
#
# Deviation from the plan: no instance_market_options in the launch template. AWS rejects
# a launch template that requests Spot when it is used in a mixed instances policy
# ("Incompatible launch template: You cannot use a launch template that is set to request
# Spot Instances ... when you configure an Auto Scaling group with a mixed instances
# policy"). Spot comes from instances_distribution instead (0 % on-demand).

data "aws_ssm_parameter" "ecs_ami" {
  name = var.ami_ssm_parameter_name
}

# The provider's default_tags tag the launch template and the ASG resources themselves,
# but not what they launch: instances and volumes get only the tags of the template's
# tag_specifications and the ASG's propagated tags.
data "aws_default_tags" "current" {}

locals {
  launched_tags = merge(data.aws_default_tags.current.tags, { Name = "${var.name}-ecs-instance" })
}

resource "aws_launch_template" "this" {
  # checkov:skip=CKV_AWS_341:Hop limit 2 (container_imds_access, default) lets bridge-mode containers reach IMDSv2; the worker reads the Spot instance-action notice from it. Trade-off in docs/design.md.
  name_prefix            = "${var.name}-spot-"
  image_id               = nonsensitive(data.aws_ssm_parameter.ecs_ami.value)
  update_default_version = true

  iam_instance_profile {
    arn = var.instance_profile_arn
  }

  block_device_mappings {
    device_name = "/dev/xvda" # root device of the AL2023 ECS AMI
    ebs {
      volume_size           = var.root_volume_size_gb
      volume_type           = "gp3"
      encrypted             = true
      kms_key_id            = var.ebs_kms_key_arn
      delete_on_termination = true
    }
  }

  network_interfaces {
    associate_public_ip_address = false
    security_groups             = var.security_group_ids
    delete_on_termination       = true
  }

  # IMDSv2 only. Hop limit 2 (container_imds_access): bridge-mode containers sit one hop
  # behind the host, and the worker reads spot/instance-action from IMDS to start its
  # shutdown before the SIGTERM. 1 keeps IMDSv2 to the host (the agent), and the worker
  # learns of an interruption only from the drain's SIGTERM (docs/design.md).
  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required"
    http_put_response_hop_limit = var.container_imds_access ? 2 : 1
    instance_metadata_tags      = "disabled"
  }

  monitoring {
    enabled = true
  }

  # The plan's Docker --default-shm-size edit of /etc/sysconfig/docker is dropped: it
  # overwrote the AMI's OPTIONS line, and the task definition sets sharedMemorySize.
  user_data = base64encode(<<-EOT
    #!/bin/bash
    cat >>/etc/ecs/ecs.config <<'CFG'
    ECS_CLUSTER=${var.cluster_name}
    ECS_ENABLE_SPOT_INSTANCE_DRAINING=true
    ECS_ENABLE_CONTAINER_METADATA=true
    ECS_CONTAINER_STOP_TIMEOUT=${var.container_stop_timeout_seconds}s
    ECS_IMAGE_PULL_BEHAVIOR=prefer-cached
    CFG
  EOT
  )

  tag_specifications {
    resource_type = "instance"
    tags          = local.launched_tags
  }

  tag_specifications {
    resource_type = "volume"
    tags          = local.launched_tags
  }

  tags = { Name = "${var.name}-spot" }
}

resource "aws_autoscaling_group" "this" {
  name                      = var.asg_name
  min_size                  = 0
  max_size                  = var.max_size
  vpc_zone_identifier       = var.subnet_ids
  health_check_type         = "EC2"
  health_check_grace_period = 300

  # Alarms mode: ECS managed termination protection requires it (the capacity provider
  # decides which instances are empty and lifts protection from those alone). Backlog
  # scaler mode: protection is never lifted, so the group itself never picks an instance
  # to terminate; the scaler names the empty one (TerminateInstanceInAutoScalingGroup,
  # which scale-in protection does not block).
  protect_from_scale_in = true

  # Launch a replacement as soon as EC2 flags an instance at elevated interruption risk.
  capacity_rebalance = var.capacity_rebalance

  # Backlog scaler mode: the scaler removes the instances it has drained with
  # TerminateInstanceInAutoScalingGroup, which can leave the group unbalanced across
  # Availability Zones, and AZRebalance would then launch instances nobody asked for and
  # terminate others ("Rebalancing activities", EC2 Auto Scaling User Guide). Suspended;
  # Spot placement across zones still comes from the allocation strategy at launch.
  suspended_processes = var.suspend_az_rebalance ? ["AZRebalance"] : []

  # Group metrics (AWS/AutoScaling, one datapoint a minute, 1Minute being the only
  # granularity: EnableMetricsCollection, EC2 Auto Scaling API Reference). Nothing
  # publishes them unless they are enabled; the dashboard's instance widgets and its
  # instance-hours cost proxy read them (terraform/tests/metrics checks that it names
  # only enabled ones).
  enabled_metrics     = var.group_metrics
  metrics_granularity = "1Minute"

  mixed_instances_policy {
    instances_distribution {
      on_demand_base_capacity                  = 0
      on_demand_percentage_above_base_capacity = 0 # 100 % Spot
      # price-capacity-optimized (default; see variables.tf): pools with the most spare
      # capacity first, then the cheapest of those. The plan's capacity-optimized ignores
      # price entirely; lowest-price ignores interruption risk.
      spot_allocation_strategy = var.spot_allocation_strategy
    }

    launch_template {
      launch_template_specification {
        launch_template_id = aws_launch_template.this.id
        version            = aws_launch_template.this.latest_version
      }

      dynamic "override" {
        for_each = var.instance_types
        content {
          instance_type = override.value
        }
      }
    }
  }

  # Required by ECS capacity providers on ASGs they manage.
  tag {
    key                 = "AmazonECSManaged"
    value               = "true"
    propagate_at_launch = true
  }

  # The ASG takes no default_tags from the provider: they are repeated here (propagated,
  # like the template's, so an instance launched by any path carries them).
  dynamic "tag" {
    for_each = { for k, v in local.launched_tags : k => v if k != "AmazonECSManaged" }
    content {
      key                 = tag.key
      value               = tag.value
      propagate_at_launch = true
    }
  }

  timeouts {
    delete = "20m"
  }

  lifecycle {
    # The capacity provider (alarms mode) or the backlog scaler owns the instance count.
    ignore_changes = [desired_capacity]
  }
}
