output "jobs_queue_url" {
  description = "URL of the jobs queue (QUEUE_URL)."
  value       = aws_sqs_queue.jobs.id
}

output "jobs_queue_arn" {
  description = "ARN of the jobs queue."
  value       = aws_sqs_queue.jobs.arn
}

output "jobs_queue_name" {
  description = "Name of the jobs queue (the CloudWatch QueueName dimension)."
  value       = aws_sqs_queue.jobs.name
}

output "dlq_url" {
  description = "URL of the dead-letter queue (DLQ_URL)."
  value       = aws_sqs_queue.dlq.id
}

output "dlq_arn" {
  description = "ARN of the dead-letter queue."
  value       = aws_sqs_queue.dlq.arn
}

output "dlq_name" {
  description = "Name of the dead-letter queue."
  value       = aws_sqs_queue.dlq.name
}

output "results_queue_url" {
  description = "URL of the results queue (RESULT_QUEUE_URL), or null."
  value       = var.create_result_queue ? aws_sqs_queue.results[0].id : null
}

output "results_queue_arn" {
  description = "ARN of the results queue, or null."
  value       = var.create_result_queue ? aws_sqs_queue.results[0].arn : null
}

output "dead_letter_after_receives" {
  description = "Deliveries after which SQS's redrive moves a job to the DLQ."
  value       = jsondecode(aws_sqs_queue.jobs.redrive_policy).maxReceiveCount
}

output "results_queue_retention_seconds" {
  description = "How long the results queue keeps a message, or null without it."
  value       = var.create_result_queue ? aws_sqs_queue.results[0].message_retention_seconds : null
}
