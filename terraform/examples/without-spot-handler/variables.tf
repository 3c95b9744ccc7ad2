variable "aws_region" {
  description = "AWS region to deploy into (the module validates it)."
  type        = string
  default     = "us-east-1"
}

variable "vpc_id" {
  description = "VPC of the worker instances; the subnets and security groups must be in it."
  type        = string
}

variable "private_subnet_ids" {
  description = "Private subnets for the worker instances (outbound HTTPS through NAT or VPC endpoints)."
  type        = list(string)
}

variable "security_group_ids" {
  description = "Security groups of the worker instances (egress 443 is all they need)."
  type        = list(string)
}

variable "backlog_scaler_package_path" {
  description = "The backlog scaler's bootstrap zip, relative to this directory (scripts/build-lambda.sh backlog-scaler)."
  type        = string
  default     = "../../../target/lambda/backlog-scaler/bootstrap.zip"
}
