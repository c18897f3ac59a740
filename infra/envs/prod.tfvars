# prod: standard (not Spot) GPU VM, a regional database, one warm API instance.
# Placeholders only (see dev.tfvars).
project_id = "your-gcp-project-id"
env        = "prod"
region     = "us-east4"
zone       = "us-east4-a"

subnet_cidr    = "10.30.0.0/24"
connector_cidr = "10.8.0.32/28"

# Live monitoring reaches vLLM from the Dagster VM, created in this environment's private
# subnet (infra/README.md, step 7); add the GKE cluster's pod range when Dagster runs there.
pipeline_source_ranges = ["10.30.0.0/24"]

vllm_machine_type = "g2-standard-8"
gpu_type          = "nvidia-l4"
gpu_count         = 1
vllm_spot         = false

db_tier                  = "db-custom-2-7680"
db_availability_type     = "REGIONAL"
db_backup_retained_count = 30

api_min_instances = 1
api_max_instances = 10

# USD per 1,000 tokens: the VM's hourly price / thousands of tokens served per hour. An
# estimate until measured on the real VM (infra/README.md, "Cost controls").
inference_usd_per_1k_tokens = 0.0002

github_owner         = "your-github-org"
github_repo          = "fitsense"
trigger_branch_regex = "^prod$"

deletion_protection = true
