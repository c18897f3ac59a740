# FitSense on Google Cloud (seed §3–§8, SPEC §8): one apply per environment.
#
#   network.tf   VPC, private subnet, private services access (Cloud SQL), the Serverless
#                VPC Access connector, the firewall rules in front of vLLM
#   database.tf  Cloud SQL for PostgreSQL, private IP only, backups and PITR
#   storage.tf   the artifact bucket fitsenseai-mlops-<env> and its layout
#   secrets.tf   Secret Manager secrets (containers only: values are added out of band)
#   iam.tf       one service account per workload and only the roles each needs
#   registry.tf  Artifact Registry and the Cloud Build trigger (cloudbuild.yaml)
#   run.tf       the API on Cloud Run
#   vllm.tf      the private GPU VM that serves the student with vLLM
#   monitoring.tf  log-based metrics and alert policies (seed §9)

locals {
  name = "fitsense-${var.env}"

  bucket_name     = "${var.bucket_prefix}-${var.env}"
  bucket_location = var.bucket_location != "" ? var.bucket_location : upper(var.region)

  registry_host = "${var.region}-docker.pkg.dev"
  registry      = "${local.registry_host}/${var.project_id}/${google_artifact_registry_repository.images.repository_id}"

  # Images that cloudbuild.yaml pushes: <registry>/<name>:<commit sha> and :<env>.
  api_image  = var.api_bootstrap_image != "" ? var.api_bootstrap_image : "${local.registry}/api:${var.api_image_tag != "" ? var.api_image_tag : var.env}"
  vllm_image = "${local.registry}/vllm:${var.vllm_image_tag != "" ? var.vllm_image_tag : var.env}"

  # Network tag that the vLLM firewall rules target.
  vllm_tag = "fitsense-vllm"

  # Kubernetes service accounts (<namespace>/<name>) of the GKE deploy configs, for
  # Workload Identity (iam.tf): Dagster's chart (deploy/dagster/gke/values.yaml), the
  # training step's pods (deploy/dagster/gke/training-serviceaccount.yaml) and the vLLM
  # replicas (deploy/k8s/vllm.yaml).
  gke_dagster_ksa  = "fitsense-dagster/fitsense-dagster"
  gke_training_ksa = "fitsense-dagster/fitsense-training"
  gke_vllm_ksa     = "fitsense-serving/fitsense-vllm"

  # Where the API (and live monitoring) reaches the student: vLLM's OpenAI-compatible
  # endpoint on the VM's reserved internal address, through the connector. The port is
  # FITSENSE_MODEL_URL's default (8090, fitsense_core/inference/endpoint.py), which every model
  # server image exposes and deploy/k8s/vllm.yaml listens on too.
  model_url = "http://${google_compute_address.vllm.address}:${var.vllm_port}/v1"

  services = toset([
    "artifactregistry.googleapis.com",
    "cloudbuild.googleapis.com",
    "compute.googleapis.com",
    "iam.googleapis.com",
    "logging.googleapis.com",
    "monitoring.googleapis.com",
    "run.googleapis.com",
    "secretmanager.googleapis.com",
    "servicenetworking.googleapis.com",
    "sqladmin.googleapis.com",
    "storage.googleapis.com",
    "vpcaccess.googleapis.com",
  ])
}

resource "google_project_service" "enabled" {
  for_each = local.services

  service            = each.value
  disable_on_destroy = false
}
