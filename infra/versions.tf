# Terraform and provider versions. The lock file (.terraform.lock.hcl) that
# `terraform init` writes pins the exact provider build; commit it after the first init.
terraform {
  required_version = ">= 1.6.0, < 2.0.0"

  required_providers {
    google = {
      source  = "hashicorp/google"
      version = "~> 8.7"
    }
  }

  # State per environment in a GCS bucket created once by hand (docs: infra/README.md):
  #   terraform init -backend-config="bucket=your-terraform-state-bucket" \
  #                  -backend-config="prefix=fitsense/dev"
  backend "gcs" {}
}
