# dev: the smallest footprint. Placeholders only: put the real project id in a copy that
# is not committed, or pass -var="project_id=..." on the command line.
project_id = "your-gcp-project-id"
env        = "dev"
region     = "us-east4"
zone       = "us-east4-a"

subnet_cidr    = "10.10.0.0/24"
connector_cidr = "10.8.0.0/28"

vllm_machine_type = "g2-standard-8"
gpu_type          = "nvidia-l4"
gpu_count         = 1
vllm_spot         = true

db_tier                  = "db-custom-1-3840"
db_availability_type     = "ZONAL"
db_backup_retained_count = 7

api_min_instances = 0
api_max_instances = 2

github_owner         = "your-github-org"
github_repo          = "fitsense"
trigger_branch_regex = "^main$"

deletion_protection = false
