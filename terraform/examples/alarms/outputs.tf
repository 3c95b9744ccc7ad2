output "jobs_queue_url" {
  description = "Where producers send jobs."
  value       = module.facerec_fleet.jobs_queue_url
}

output "scaling_policy_arns" {
  description = "The Application Auto Scaling policies that set the task count."
  value       = module.facerec_fleet.scaling_policy_arns
}

output "capacity_provider_management" {
  description = "Who sizes the Auto Scaling group (ECS managed scaling, in this mode)."
  value       = module.facerec_fleet.capacity_provider_management
}
