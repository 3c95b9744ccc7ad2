# Shared mock values for `terraform test` (mock_provider "aws" { source = "./tests/mocks" }).
# Only what the assertions need to be realistic; everything else the mock provider invents.

mock_data "aws_caller_identity" {
  defaults = {
    account_id = "123456789012"
    arn        = "arn:aws:iam::123456789012:user/test"
  }
}

mock_data "aws_region" {
  defaults = {
    name = "us-east-1"
  }
}

mock_data "aws_partition" {
  defaults = {
    partition  = "aws"
    dns_suffix = "amazonaws.com"
  }
}

mock_data "aws_ssm_parameter" {
  defaults = {
    value = "ami-0123456789abcdef0"
  }
}

mock_data "aws_ecr_repository" {
  defaults = {
    arn            = "arn:aws:ecr:us-east-1:123456789012:repository/facerec-worker"
    repository_url = "123456789012.dkr.ecr.us-east-1.amazonaws.com/facerec-worker"
  }
}

mock_data "aws_ecr_image" {
  defaults = {
    image_digest = "sha256:0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0"
  }
}

mock_data "aws_iam_policy_document" {
  defaults = {
    json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}"
  }
}

mock_resource "aws_sqs_queue" {
  defaults = {
    arn = "arn:aws:sqs:us-east-1:123456789012:mocked"
    id  = "https://sqs.us-east-1.amazonaws.com/123456789012/mocked"
  }
}

mock_resource "aws_autoscaling_group" {
  defaults = {
    arn = "arn:aws:autoscaling:us-east-1:123456789012:autoScalingGroup:00000000-0000-0000-0000-000000000000:autoScalingGroupName/mocked"
  }
}

mock_resource "aws_iam_role" {
  defaults = {
    arn = "arn:aws:iam::123456789012:role/mocked"
  }
}

mock_resource "aws_iam_instance_profile" {
  defaults = {
    arn = "arn:aws:iam::123456789012:instance-profile/mocked"
  }
}

mock_resource "aws_ecs_task_definition" {
  defaults = {
    arn = "arn:aws:ecs:us-east-1:123456789012:task-definition/facerec-worker-task:1"
  }
}

mock_resource "aws_cloudwatch_event_rule" {
  defaults = {
    arn = "arn:aws:events:us-east-1:123456789012:rule/mocked"
  }
}

mock_resource "aws_lambda_function" {
  defaults = {
    arn = "arn:aws:lambda:us-east-1:123456789012:function:mocked"
  }
}

mock_resource "aws_autoscaling_policy" {
  defaults = {
    arn = "arn:aws:autoscaling:us-east-1:123456789012:scalingPolicy:00000000-0000-0000-0000-000000000000:autoScalingGroupName/mocked:policyName/mocked"
  }
}

mock_resource "aws_appautoscaling_policy" {
  defaults = {
    arn = "arn:aws:autoscaling:us-east-1:123456789012:scalingPolicy:mocked"
  }
}

# Every test deployment's network: the subnets and security groups of vpc_id (the
# root's postconditions check that they belong to it).
mock_data "aws_subnet" {
  defaults = {
    vpc_id = "vpc-0123456789abcdef0"
  }
}

mock_data "aws_security_group" {
  defaults = {
    vpc_id = "vpc-0123456789abcdef0"
  }
}

# What the provider's default_tags would hold.
mock_data "aws_default_tags" {
  defaults = {
    tags = {
      Project   = "facerec-fleet"
      ManagedBy = "terraform"
    }
  }
}

# launch_type is optional and computed: left unset it would read as a random string.
# With this default an unset launch type reads "", and one set in the configuration
# reads as set (configuration wins over mock defaults), so tests can assert "none".
mock_resource "aws_ecs_service" {
  defaults = {
    launch_type = ""
  }
}

mock_resource "aws_sns_topic" {
  defaults = {
    arn = "arn:aws:sns:us-east-1:123456789012:mocked"
  }
}
