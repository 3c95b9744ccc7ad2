output "function_name" {
  description = "Name of the function."
  value       = aws_lambda_function.this.function_name
}

output "function_arn" {
  description = "ARN of the function."
  value       = aws_lambda_function.this.arn
}

output "function" {
  description = "The function as the provider holds it (for tests and callers that need more than its name and ARN)."
  value       = aws_lambda_function.this
}

output "log_group_name" {
  description = "Log group of the function."
  value       = aws_cloudwatch_log_group.this.name
}

output "log_group" {
  description = "The function's log group as the provider holds it."
  value       = aws_cloudwatch_log_group.this
}

output "role_name" {
  description = "Name of the function's execution role."
  value       = aws_iam_role.this.name
}

output "role_arn" {
  description = "ARN of the function's execution role."
  value       = aws_iam_role.this.arn
}

output "assume_role_policy" {
  description = "Who may assume the role, as the policy document's statement (for tests)."
  value       = data.aws_iam_policy_document.assume.statement
}
