terraform {
  # 1.7: mock_provider/override_* in `terraform test`; 1.10: S3 native state locking.
  required_version = ">= 1.10.0"

  required_providers {
    aws = {
      source = "hashicorp/aws"
      # 5.100 is the version this root is tested against (offline mirror and lock file).
      version = "~> 5.100"
    }
  }
}
