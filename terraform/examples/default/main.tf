# The fleet as it ships: the backlog scaler Lambda sets the task and instance counts, the
# Spot handler drains interrupted and terminating instances. The provider is configured
# by the module itself (terraform/providers.tf: aws_region, default tags).

module "facerec_fleet" {
  source = "../.."

  aws_region         = var.aws_region
  vpc_id             = var.vpc_id
  private_subnet_ids = var.private_subnet_ids
  security_group_ids = var.security_group_ids

  # scaling_mode = "backlog_scaler" and enable_spot_handler = true are the defaults.
  backlog_scaler_package_path = var.backlog_scaler_package_path
  spot_handler_package_path   = var.spot_handler_package_path
}
