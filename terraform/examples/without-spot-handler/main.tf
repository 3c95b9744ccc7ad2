# Without the Spot handler: no EventBridge rules, event queues, termination lifecycle hook
# or handler Lambda. The ECS agent still sets its own instance DRAINING on a Spot notice
# (ECS_ENABLE_SPOT_INSTANCE_DRAINING, modules/asg) and ECS managed draining still drains
# the instances the group terminates; rebalance recommendations are not acted on, and the
# handler's metrics and alarms are absent (docs/design.md, "Spot handler delivery").

module "facerec_fleet" {
  source = "../.."

  aws_region         = var.aws_region
  vpc_id             = var.vpc_id
  private_subnet_ids = var.private_subnet_ids
  security_group_ids = var.security_group_ids

  enable_spot_handler         = false
  backlog_scaler_package_path = var.backlog_scaler_package_path
}
