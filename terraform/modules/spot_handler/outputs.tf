output "function_name" {
  description = "Name of the Spot handler function."
  value       = module.function.function_name
}

output "function_arn" {
  description = "ARN of the Spot handler function."
  value       = module.function.function_arn
}

output "events_queue_url" {
  description = "URL of the queue buffering Spot interruption warnings and rebalance recommendations."
  value       = aws_sqs_queue.events.id
}

output "events_queue_arn" {
  description = "ARN of the queue buffering Spot interruption warnings and rebalance recommendations."
  value       = aws_sqs_queue.events.arn
}

output "lifecycle_events_queue_url" {
  description = "URL of the queue buffering termination lifecycle actions."
  value       = aws_sqs_queue.lifecycle_events.id
}

output "lifecycle_events_queue_arn" {
  description = "ARN of the queue buffering termination lifecycle actions."
  value       = aws_sqs_queue.lifecycle_events.arn
}

output "events_dlq_name" {
  description = "Name of the events dead-letter queue (failed handling and failed EventBridge deliveries)."
  value       = aws_sqs_queue.events_dlq.name
}

output "events_dlq_url" {
  description = "URL of the events dead-letter queue."
  value       = aws_sqs_queue.events_dlq.id
}

output "event_rule_arns" {
  description = "ARNs of the EventBridge rules, by purpose."
  value       = { for k, r in aws_cloudwatch_event_rule.this : k => r.arn }
}

output "lifecycle_hook_name" {
  description = "Name of the ASG termination lifecycle hook."
  value       = aws_autoscaling_lifecycle_hook.drain.name
}

output "metrics_namespace" {
  description = "CloudWatch namespace of the handler's EMF metrics."
  value       = var.metrics_namespace
}

output "reserved_concurrency" {
  description = "Concurrency reserved for the handler, or null (unreserved; the mappings' maximum concurrency bounds it)."
  value       = var.reserved_concurrency
}

output "role_arn" {
  description = "ARN of the Spot handler's execution role."
  value       = module.function.role_arn
}
