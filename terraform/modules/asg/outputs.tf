output "asg_name" {
  description = "Name of the Auto Scaling group."
  value       = aws_autoscaling_group.this.name
}

output "asg_arn" {
  description = "ARN of the Auto Scaling group."
  value       = aws_autoscaling_group.this.arn
}

output "launch_template_id" {
  description = "ID of the launch template."
  value       = aws_launch_template.this.id
}

output "launch_template_latest_version" {
  description = "Latest version of the launch template."
  value       = aws_launch_template.this.latest_version
}

output "ami_id" {
  description = "ECS-optimized AMI the instances boot."
  value       = nonsensitive(data.aws_ssm_parameter.ecs_ami.value)
}

output "max_size" {
  description = "Largest size of the Auto Scaling group."
  value       = aws_autoscaling_group.this.max_size
}

output "suspended_processes" {
  description = "Auto Scaling processes suspended on the group (AZRebalance with the backlog scaler)."
  value       = aws_autoscaling_group.this.suspended_processes
}

output "metadata_hop_limit" {
  description = "IMDSv2 PUT response hop limit of the launch template: 2 lets bridge-mode containers reach IMDS, 1 keeps it to the host."
  value       = aws_launch_template.this.metadata_options[0].http_put_response_hop_limit
}

output "enabled_metrics" {
  description = "Group metrics published to CloudWatch."
  value       = aws_autoscaling_group.this.enabled_metrics
}

output "instance_types" {
  description = "Instance types of the group, in priority order."
  value       = [for o in aws_autoscaling_group.this.mixed_instances_policy[0].launch_template[0].override : o.instance_type]
}
