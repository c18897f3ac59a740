# Inputs. Every environment sets its own values in envs/<env>.tfvars; those files hold
# placeholders only (no real project id, address or credential lives in this repository).

# --- project and environment ---------------------------------------------------------

variable "project_id" {
  description = "GCP project that holds this environment (one project per environment, or one shared: every name carries the environment)."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{4,28}[a-z0-9]$", var.project_id))
    error_message = "project_id must be a GCP project id: 6-30 lowercase letters, digits or hyphens, starting with a letter."
  }
}

variable "env" {
  description = "Environment: dev, stage or prod. Names, buckets, secrets and service accounts all carry it."
  type        = string

  validation {
    condition     = contains(["dev", "stage", "prod"], var.env)
    error_message = "env must be one of dev, stage, prod."
  }
}

variable "region" {
  description = "Region for Cloud Run, Cloud SQL, the connector, the registry and the bucket (seed §6.2: close to Boston users)."
  type        = string
  default     = "us-east4"
}

variable "zone" {
  description = "Zone of the GPU VM; it must offer the GPU type (gcloud compute accelerator-types list --filter=name=nvidia-l4)."
  type        = string
  default     = "us-east4-a"
}

variable "labels" {
  description = "Extra labels on every resource that takes labels (app and env are always set)."
  type        = map(string)
  default     = {}
}

variable "deletion_protection" {
  description = "Protect Cloud SQL and the bucket's contents from terraform destroy (keep true outside throwaway dev projects)."
  type        = bool
  default     = true
}

# --- network -------------------------------------------------------------------------

variable "subnet_cidr" {
  description = "Private subnet of the GPU VM (and of future pipeline/training VMs)."
  type        = string
  default     = "10.10.0.0/24"

  validation {
    condition     = can(cidrnetmask(var.subnet_cidr))
    error_message = "subnet_cidr must be an IPv4 CIDR block."
  }
}

variable "connector_cidr" {
  description = "The Serverless VPC Access connector's /28: the only source range the vLLM firewall rule admits."
  type        = string
  default     = "10.8.0.0/28"

  validation {
    condition     = can(cidrnetmask(var.connector_cidr)) && endswith(var.connector_cidr, "/28")
    error_message = "connector_cidr must be an unused IPv4 /28 (Serverless VPC Access requires exactly /28)."
  }
}

variable "pipeline_source_ranges" {
  description = "Where the Dagster workloads run, whose live-monitoring probes call the served model: the private subnet the Dagster VM is created in (or its address as a /32), and/or the GKE cluster's pod range. A second firewall rule admits these to vllm_port on the vLLM VM only; empty: no such rule (monitoring then records every probe as an error)."
  type        = list(string)
  default     = []

  validation {
    condition = alltrue([
      for cidr in var.pipeline_source_ranges :
      can(cidrnetmask(cidr)) && can(regex("^(10\\.|172\\.(1[6-9]|2[0-9]|3[01])\\.|192\\.168\\.)", cidr))
    ])
    error_message = "pipeline_source_ranges must be private IPv4 CIDR blocks (10/8, 172.16/12, 192.168/16)."
  }
}

variable "connector_machine_type" {
  description = "Machine type of the connector's instances."
  type        = string
  default     = "e2-micro"
}

variable "connector_min_instances" {
  description = "Fewest connector instances (2 is the minimum Serverless VPC Access allows)."
  type        = number
  default     = 2
}

variable "connector_max_instances" {
  description = "Most connector instances."
  type        = number
  default     = 3
}

# --- GPU VM (vLLM) -------------------------------------------------------------------

variable "vllm_machine_type" {
  description = "Machine type of the vLLM VM. g2-* machines carry L4 GPUs; for a T4 use an n1-standard-* type."
  type        = string
  default     = "g2-standard-8"
}

variable "gpu_type" {
  description = "GPU attached to the vLLM VM. nvidia-l4 (24 GB, the seed's choice); nvidia-tesla-t4 (16 GB) needs stricter vLLM limits."
  type        = string
  default     = "nvidia-l4"

  validation {
    condition     = contains(["nvidia-l4", "nvidia-tesla-t4", "nvidia-tesla-a100", "nvidia-a100-80gb", "nvidia-h100-80gb"], var.gpu_type)
    error_message = "gpu_type must be one of nvidia-l4, nvidia-tesla-t4, nvidia-tesla-a100, nvidia-a100-80gb, nvidia-h100-80gb."
  }
}

variable "gpu_count" {
  description = "GPUs on the vLLM VM (one serves a 7B student; vLLM can shard across more)."
  type        = number
  default     = 1

  validation {
    condition     = contains([1, 2, 4, 8], var.gpu_count)
    error_message = "gpu_count must be 1, 2, 4 or 8."
  }
}

variable "vllm_spot" {
  description = "Run the vLLM VM as a Spot VM (much cheaper; it can be stopped at any time and the API then answers from the knowledge-based coach until it restarts)."
  type        = bool
  default     = false
}

variable "vllm_port" {
  description = "Port vLLM listens on: FITSENSE_MODEL_URL's default port, 8090 (fitsense serve's default, the port the model server images expose and deploy/k8s/vllm.yaml uses). The firewall rules admit the connector's range and pipeline_source_ranges on this port only."
  type        = number
  default     = 8090
}

variable "vllm_boot_image" {
  description = "Boot image of the vLLM VM: Container-Optimized OS, whose cos-extensions installs the GPU driver."
  type        = string
  default     = "cos-cloud/cos-stable"
}

variable "vllm_boot_disk_gb" {
  description = "Boot disk of the vLLM VM (the vLLM image and the downloaded model versions live on it)."
  type        = number
  default     = 100
}

variable "vllm_image_tag" {
  description = "Tag of the vllm image in Artifact Registry that the VM runs at boot. Empty: the environment's moving tag (cloudbuild.yaml pushes it)."
  type        = string
  default     = ""
}

variable "cloud_sdk_image" {
  description = "Image the VM's startup script runs gcloud from to read its secrets (Container-Optimized OS has no gcloud)."
  type        = string
  default     = "gcr.io/google.com/cloudsdktool/google-cloud-cli:stable"
}

# --- Cloud SQL -----------------------------------------------------------------------

variable "db_version" {
  description = "Cloud SQL PostgreSQL major version."
  type        = string
  default     = "POSTGRES_16"
}

variable "db_tier" {
  description = "Cloud SQL machine tier (Enterprise edition)."
  type        = string
  default     = "db-custom-2-7680"
}

variable "db_availability_type" {
  description = "ZONAL, or REGIONAL for a standby in a second zone."
  type        = string
  default     = "ZONAL"

  validation {
    condition     = contains(["ZONAL", "REGIONAL"], var.db_availability_type)
    error_message = "db_availability_type must be ZONAL or REGIONAL."
  }
}

variable "db_disk_size_gb" {
  description = "Initial Cloud SQL disk (it grows automatically)."
  type        = number
  default     = 20
}

variable "db_backup_retained_count" {
  description = "Automated daily backups kept."
  type        = number
  default     = 14
}

variable "db_log_retention_days" {
  description = "Days of transaction logs kept for point-in-time recovery."
  type        = number
  default     = 7
}

# --- Cloud Run (API) -----------------------------------------------------------------

variable "api_image_tag" {
  description = "Tag of the api image the service is created with. Empty: the environment's moving tag. Later revisions are deployed by cloudbuild.yaml, which Terraform then leaves alone."
  type        = string
  default     = ""
}

variable "api_bootstrap_image" {
  description = "An image to create the service with before the first build has pushed api:<env> (e.g. Google's sample us-docker.pkg.dev/cloudrun/container/hello). Empty: the api image."
  type        = string
  default     = ""
}

variable "api_container_port" {
  description = "Port the API container listens on (Cloud Run passes it as PORT)."
  type        = number
  default     = 8080
}

variable "api_cpu" {
  description = "vCPUs per API instance."
  type        = string
  default     = "1"
}

variable "api_memory" {
  description = "Memory per API instance."
  type        = string
  default     = "1Gi"
}

variable "api_min_instances" {
  description = "API instances kept warm (0 lets the service scale to zero)."
  type        = number
  default     = 0
}

variable "api_max_instances" {
  description = "Most API instances: with the pool size it bounds Cloud SQL connections."
  type        = number
  default     = 4
}

variable "api_concurrency" {
  description = "Requests one API instance takes at once."
  type        = number
  default     = 40
}

variable "api_public" {
  description = "Let anyone invoke the API (it is the front door and does its own authentication). False: only principals granted roles/run.invoker."
  type        = bool
  default     = true
}

variable "inference_usd_per_1k_tokens" {
  description = "Estimated inference cost of 1,000 tokens (prompt + completion) in USD: FITSENSE_INFERENCE_USD_PER_1K_TOKENS, which the API multiplies by each model call's tokens for cost_usd, its cost counter and the inference_cost metric (monitoring.tf). An estimate, not a bill: the vLLM VM's hourly price (machine + GPU, Spot or standard as vllm_spot says) divided by the thousands of tokens it serves per hour at its measured throughput (bench/ on the real VM). 0: not estimated."
  type        = number
  default     = 0

  validation {
    condition     = var.inference_usd_per_1k_tokens >= 0 && var.inference_usd_per_1k_tokens <= 100
    error_message = "inference_usd_per_1k_tokens must be between 0 and 100 (the range the API accepts)."
  }
}

# --- GKE (deploy/) -------------------------------------------------------------------

variable "gke_workload_identity" {
  description = "Let the GKE deploy configs' Kubernetes service accounts act as the pipeline and inference accounts (Workload Identity: deploy/dagster/gke/values.yaml, deploy/k8s/vllm.yaml). Needs a GKE cluster with Workload Identity in the project first (its pool <project>.svc.id.goog)."
  type        = bool
  default     = false
}

# --- build and deploy ----------------------------------------------------------------

variable "github_owner" {
  description = "GitHub owner of the repository the Cloud Build trigger watches (connected once through the Cloud Build GitHub app)."
  type        = string
  default     = "your-github-org"
}

variable "github_repo" {
  description = "GitHub repository the trigger watches."
  type        = string
  default     = "fitsense"
}

variable "build_trigger_location" {
  description = "Where the trigger lives: the location the GitHub repository was connected in (the console's default for the Cloud Build GitHub app is global)."
  type        = string
  default     = "global"
}

variable "trigger_branch_regex" {
  description = "Branches whose pushes build, test and deploy this environment."
  type        = string
  default     = "^main$"
}

# --- storage -------------------------------------------------------------------------

variable "bucket_prefix" {
  description = "The artifact bucket is <bucket_prefix>-<env> (seed §5.2: fitsenseai-mlops-{env})."
  type        = string
  default     = "fitsenseai-mlops"
}

variable "bucket_location" {
  description = "Location of the artifact bucket. Empty: the region."
  type        = string
  default     = ""
}

variable "noncurrent_version_days" {
  description = "Days an overwritten or deleted object version is kept before it is deleted."
  type        = number
  default     = 30
}

variable "noncurrent_versions_kept" {
  description = "Older versions of one object kept at most (older ones are deleted at once)."
  type        = number
  default     = 3
}

variable "nearline_after_days" {
  description = "Days after which datasets/ and teacher_outputs/ objects move to Nearline."
  type        = number
  default     = 30
}

variable "log_retention_days" {
  description = "Days Dagster's compute logs (logs/) are kept."
  type        = number
  default     = 90
}

variable "monitoring_report_days" {
  description = "Days live-monitoring reports (reports/monitoring/, one every 15 minutes) are kept."
  type        = number
  default     = 90
}
