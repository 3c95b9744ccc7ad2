mock_provider "aws" {
  source = "./tests/mocks"
}

# modules/asg: the launch template and Spot ASG.

variables {
  name                           = "facerec-worker"
  asg_name                       = "facerec-worker-asg"
  cluster_name                   = "facerec-worker-cluster"
  subnet_ids                     = ["subnet-0123456789abcdef0", "subnet-0123456789abcdef1"]
  security_group_ids             = ["sg-0123456789abcdef0"]
  instance_profile_arn           = "arn:aws:iam::123456789012:instance-profile/facerec"
  instance_types                 = ["c5.2xlarge", "m5.2xlarge"]
  spot_allocation_strategy       = "price-capacity-optimized"
  capacity_rebalance             = true
  max_size                       = 5
  ami_ssm_parameter_name         = "/aws/service/ecs/optimized-ami/amazon-linux-2023/recommended/image_id"
  root_volume_size_gb            = 30
  container_stop_timeout_seconds = 110
}

run "launch_template_is_valid_in_a_mixed_instances_policy" {
  command = apply
  module {
    source = "./modules/asg"
  }

  # AWS rejects a launch template that requests Spot inside a mixed instances policy.
  assert {
    condition     = length(aws_launch_template.this.instance_market_options) == 0
    error_message = "The launch template must not set instance_market_options: Spot comes from the ASG's instances_distribution."
  }
  assert {
    condition     = aws_launch_template.this.image_id == "ami-0123456789abcdef0"
    error_message = "The AMI must come from the ECS-optimized SSM parameter."
  }
  assert {
    condition     = data.aws_ssm_parameter.ecs_ami.name == "/aws/service/ecs/optimized-ami/amazon-linux-2023/recommended/image_id"
    error_message = "The AMI parameter must be the AL2023 ECS-optimized one."
  }
  assert {
    condition     = aws_launch_template.this.metadata_options[0].http_tokens == "required" && aws_launch_template.this.metadata_options[0].http_put_response_hop_limit == 2
    error_message = "IMDSv2 must be required, with hop limit 2 by default (container_imds_access: bridge-mode containers read the Spot notice)."
  }
  # The instance role (modules/iam) grants only what the agent calls with this user
  # data: it names the cluster (no CreateCluster) and asks for no instance tags (no
  # TagResource, no ec2:DescribeTags).
  assert {
    condition = (
      strcontains(base64decode(aws_launch_template.this.user_data), "ECS_CLUSTER=facerec-worker-cluster\n") &&
      !strcontains(base64decode(aws_launch_template.this.user_data), "ECS_CONTAINER_INSTANCE_TAGS") &&
      !strcontains(base64decode(aws_launch_template.this.user_data), "ECS_CONTAINER_INSTANCE_PROPAGATE_TAGS_FROM")
    )
    error_message = "User data must name the cluster and set no instance tags or tag propagation (the instance role has no CreateCluster, TagResource or ec2:DescribeTags)."
  }
  assert {
    condition     = aws_launch_template.this.block_device_mappings[0].ebs[0].encrypted == "true" && aws_launch_template.this.block_device_mappings[0].ebs[0].volume_type == "gp3"
    error_message = "The root volume must be encrypted gp3."
  }
  assert {
    condition     = aws_launch_template.this.network_interfaces[0].associate_public_ip_address == "false"
    error_message = "Instances must not get a public IP."
  }
  assert {
    condition     = strcontains(base64decode(aws_launch_template.this.user_data), "ECS_CLUSTER=facerec-worker-cluster") && strcontains(base64decode(aws_launch_template.this.user_data), "ECS_ENABLE_SPOT_INSTANCE_DRAINING=true")
    error_message = "User data must join the cluster and enable Spot draining."
  }
}

run "asg_is_all_spot_with_rebalancing" {
  command = apply
  module {
    source = "./modules/asg"
  }

  assert {
    condition     = aws_autoscaling_group.this.mixed_instances_policy[0].instances_distribution[0].on_demand_percentage_above_base_capacity == 0 && aws_autoscaling_group.this.mixed_instances_policy[0].instances_distribution[0].on_demand_base_capacity == 0
    error_message = "The fleet must be 100 % Spot."
  }
  assert {
    condition     = aws_autoscaling_group.this.mixed_instances_policy[0].instances_distribution[0].spot_allocation_strategy == "price-capacity-optimized"
    error_message = "Default allocation strategy must be price-capacity-optimized."
  }
  assert {
    condition     = [for o in aws_autoscaling_group.this.mixed_instances_policy[0].launch_template[0].override : o.instance_type] == ["c5.2xlarge", "m5.2xlarge"]
    error_message = "Instance types must be c5.2xlarge then m5.2xlarge, as in the plan."
  }
  assert {
    condition     = aws_autoscaling_group.this.capacity_rebalance && aws_autoscaling_group.this.protect_from_scale_in
    error_message = "capacity_rebalance and protect_from_scale_in (for managed termination protection) must be on."
  }
  assert {
    condition     = aws_autoscaling_group.this.min_size == 0 && aws_autoscaling_group.this.max_size == 5
    error_message = "The ASG must span 0..max_tasks instances."
  }
  assert {
    condition     = contains([for t in aws_autoscaling_group.this.tag : "${t.key}=${t.value}" if t.propagate_at_launch], "AmazonECSManaged=true")
    error_message = "The ASG needs the AmazonECSManaged tag for the capacity provider."
  }
  assert {
    condition     = length(aws_autoscaling_group.this.suspended_processes) == 0
    error_message = "By default (alarms mode's group) no process is suspended."
  }
}

run "imds_for_the_host_alone" {
  command = apply
  module {
    source = "./modules/asg"
  }
  variables {
    container_imds_access = false
  }

  assert {
    condition     = aws_launch_template.this.metadata_options[0].http_put_response_hop_limit == 1 && aws_launch_template.this.metadata_options[0].http_tokens == "required" && aws_launch_template.this.metadata_options[0].http_endpoint == "enabled"
    error_message = "container_imds_access = false: IMDSv2 with hop limit 1 (the host's agent keeps IMDS, bridge-mode containers do not)."
  }
}

run "scaler_mode_suspends_az_rebalance" {
  command = apply
  module {
    source = "./modules/asg"
  }
  variables {
    suspend_az_rebalance = true
  }

  assert {
    condition     = aws_autoscaling_group.this.suspended_processes == toset(["AZRebalance"])
    error_message = "With the backlog scaler terminating specific instances, AZRebalance (and nothing else) is suspended."
  }
}

# Provider default_tags reach neither launched instances nor their volumes by
# themselves: the template's tag specifications and the ASG's propagated tags carry
# them (tests/mocks: default tags Project and ManagedBy).
run "default_tags_reach_instances_and_volumes" {
  command = apply
  module {
    source = "./modules/asg"
  }

  assert {
    condition = {
      for t in aws_launch_template.this.tag_specifications : t.resource_type => t.tags
      } == {
      instance = tomap({ Project = "facerec-fleet", ManagedBy = "terraform", Name = "facerec-worker-ecs-instance" })
      volume   = tomap({ Project = "facerec-fleet", ManagedBy = "terraform", Name = "facerec-worker-ecs-instance" })
    }
    error_message = "Instances and volumes must be launched with the default tags and their Name."
  }
  assert {
    condition = toset([for t in aws_autoscaling_group.this.tag : "${t.key}=${t.value}" if t.propagate_at_launch]) == toset([
      "AmazonECSManaged=true", "Project=facerec-fleet", "ManagedBy=terraform", "Name=facerec-worker-ecs-instance",
    ])
    error_message = "The ASG (which takes no default_tags) must carry and propagate them."
  }
}
