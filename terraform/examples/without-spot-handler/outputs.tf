output "jobs_queue_url" {
  description = "Where producers send jobs."
  value       = module.facerec_fleet.jobs_queue_url
}

output "backlog_scaler_function_name" {
  description = "The Lambda that scales the fleet."
  value       = module.facerec_fleet.backlog_scaler_function_name
}
