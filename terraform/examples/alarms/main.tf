# Alarms mode: Application Auto Scaling sets the service's desired count from CloudWatch
# alarms on the jobs queue, ECS managed scaling sizes the Auto Scaling group. No backlog
# scaler Lambda; the Spot handler stays. docs/design.md, "Scaling modes", compares both.

module "facerec_fleet" {
  source = "../.."

  aws_region         = var.aws_region
  vpc_id             = var.vpc_id
  private_subnet_ids = var.private_subnet_ids
  security_group_ids = var.security_group_ids

  scaling_mode              = "alarms"
  spot_handler_package_path = var.spot_handler_package_path
}
