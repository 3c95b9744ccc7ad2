# scripts/test-terraform.sh copies the root module with this example's terraform.tfvars
# (and examples/remote-state/backend.tf.example as backend.tf) into a scratch directory
# and runs this file there: the example's values must pass every validation and plan
# with the mocked provider. Not run from terraform/ itself.

mock_provider "aws" {
  source = "./tests/mocks"
}

run "complete_example_plans" {
  command = plan

  assert {
    condition     = var.max_tasks == 10 && var.create_alarm_topic && var.alarm_email == "oncall@example.com" && length(module.spot_handler) == 1 && length(module.backlog_scaler) == 1 && length(module.scaling) == 0
    error_message = "The example's own settings must be the ones planned (terraform.tfvars read): the Spot handler and the backlog scaler."
  }
  assert {
    condition     = module.asg.max_size == 20
    error_message = "The example's max_tasks = 10 gives an ASG of up to 20 instances (room for a deployment)."
  }
}
