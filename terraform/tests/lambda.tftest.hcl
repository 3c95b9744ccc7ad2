mock_provider "aws" {
  source = "./tests/mocks"
}

# modules/lambda: the function, log group and role the Spot handler and the backlog scaler
# share. What each of them sets is tested with them (tests/spot_handler,
# tests/backlog_scaler); here, what the module itself decides.

variables {
  function_name         = "facerec-worker-example"
  description           = "Example."
  policy_name           = "example"
  policy_json           = "{\"Version\":\"2012-10-17\",\"Statement\":[]}"
  package_path          = "tests/fixtures/backlog-scaler.zip"
  architecture          = "arm64"
  timeout_seconds       = 30
  log_retention_days    = 14
  environment_variables = { A = "1" }
}

run "function_role_and_log_group_belong_together" {
  command = apply
  module {
    source = "./modules/lambda"
  }

  assert {
    condition     = aws_lambda_function.this.role == aws_iam_role.this.arn && aws_iam_role_policy.this.role == aws_iam_role.this.id && aws_iam_role_policy.this.policy == var.policy_json
    error_message = "The function runs with the role beside it, which holds exactly policy_json."
  }
  assert {
    condition     = aws_iam_role.this.name == "facerec-worker-example-role" && aws_iam_role_policy.this.name == "example"
    error_message = "The role is NAME-role (the names the roles had before they moved beside their functions)."
  }
  assert {
    condition     = one(one(data.aws_iam_policy_document.assume.statement).principals).identifiers == toset(["lambda.amazonaws.com"])
    error_message = "Only Lambda may assume the role."
  }
  assert {
    condition     = aws_cloudwatch_log_group.this.name == "/aws/lambda/facerec-worker-example" && aws_lambda_function.this.logging_config[0].log_group == aws_cloudwatch_log_group.this.name
    error_message = "The function logs to Lambda's default log group name, created (with retention) beforehand."
  }
  assert {
    condition     = alltrue([for t in aws_lambda_function.this.tracing_config : t.mode != "Active"])
    error_message = "No active tracing unless asked (its role would need X-Ray permissions)."
  }
  assert {
    condition     = aws_lambda_function.this.architectures == tolist(["arm64"]) && aws_lambda_function.this.environment[0].variables == tomap({ A = "1" })
    error_message = "Architecture and environment as given."
  }
}

run "architecture_is_checked" {
  command = plan
  module {
    source = "./modules/lambda"
  }
  variables {
    architecture = "arm"
  }
  expect_failures = [var.architecture]
}

run "timeout_beyond_lambda_maximum_is_refused" {
  command = plan
  module {
    source = "./modules/lambda"
  }
  variables {
    timeout_seconds = 901
  }
  expect_failures = [var.timeout_seconds]
}
