provider "aws" {
  region  = var.aws_region
  profile = var.aws_profile

  # Tagging strategy: every taggable resource carries these; modules add only Name.
  default_tags {
    tags = local.tags
  }
}
