# One service account per workload and only the roles it needs (seed §8 "IAM"). Storage
# roles are granted on the bucket, narrowed to object prefixes with IAM conditions
# (uniform bucket-level access is on), secrets one by one, images on the repository.
# The only project-level role anyone gets is roles/logging.logWriter, for the workloads
# whose logs are not collected by a managed platform.
#
#   backend    the API on Cloud Run: reads models/student/ (codebooks), the database URL
#              and the model key
#   pipeline   Dagster runs and steps: reads and writes the whole bucket, the database
#              URL, Dagster's storage URL (pipeline only), the teacher key and the model
#              key (live monitoring probes the model)
#   training   the training step (GPU): reads datasets/distillation/ and models/, writes
#              models/student/ and its Dagster logs only; the database URL (event log)
#   inference  the vLLM VM: reads models/, the database URL (model registry) and the key
#   build      Cloud Build: pushes images, deploys the API's revisions as backend
#
# On GKE (gke_workload_identity = true) three Kubernetes service accounts act as Google
# ones (Workload Identity): Dagster's pods as pipeline, the training step's pod as
# training, the vLLM replicas as inference.

locals {
  objects = "projects/_/buckets/${local.bucket_name}/objects"

  # Listing a prefix is checked against the bucket, reading and writing against objects.
  bucket_itself = "resource.type == \"storage.googleapis.com/Bucket\""
}

# --- the accounts --------------------------------------------------------------------

resource "google_service_account" "backend" {
  account_id   = "fitsense-backend-${var.env}"
  display_name = "FitSense API (Cloud Run, ${var.env})"

  depends_on = [google_project_service.enabled]
}

resource "google_service_account" "pipeline" {
  account_id   = "fitsense-pipeline-${var.env}"
  display_name = "FitSense pipeline jobs (Dagster, ${var.env})"

  depends_on = [google_project_service.enabled]
}

resource "google_service_account" "training" {
  account_id   = "fitsense-training-${var.env}"
  display_name = "FitSense training jobs (GPU, ${var.env})"

  depends_on = [google_project_service.enabled]
}

resource "google_service_account" "inference" {
  account_id   = "fitsense-inference-${var.env}"
  display_name = "FitSense vLLM server (GPU VM, ${var.env})"

  depends_on = [google_project_service.enabled]
}

resource "google_service_account" "build" {
  account_id   = "fitsense-build-${var.env}"
  display_name = "FitSense Cloud Build (${var.env})"

  depends_on = [google_project_service.enabled]
}

# --- backend -------------------------------------------------------------------------

resource "google_storage_bucket_iam_member" "backend_read_student_models" {
  bucket = google_storage_bucket.mlops.name
  role   = "roles/storage.objectViewer"
  member = google_service_account.backend.member

  condition {
    title       = "models-student-only"
    description = "The served version's codebook under models/student/."
    expression  = "resource.name.startsWith(\"${local.objects}/models/student/\")"
  }
}

resource "google_secret_manager_secret_iam_member" "backend_database_url" {
  secret_id = google_secret_manager_secret.database_url.id
  role      = "roles/secretmanager.secretAccessor"
  member    = google_service_account.backend.member
}

resource "google_secret_manager_secret_iam_member" "backend_model_api_key" {
  secret_id = google_secret_manager_secret.model_api_key.id
  role      = "roles/secretmanager.secretAccessor"
  member    = google_service_account.backend.member
}

# --- pipeline ------------------------------------------------------------------------

resource "google_storage_bucket_iam_member" "pipeline_objects" {
  bucket = google_storage_bucket.mlops.name
  role   = "roles/storage.objectUser"
  member = google_service_account.pipeline.member
}

resource "google_secret_manager_secret_iam_member" "pipeline_database_url" {
  secret_id = google_secret_manager_secret.database_url.id
  role      = "roles/secretmanager.secretAccessor"
  member    = google_service_account.pipeline.member
}

resource "google_secret_manager_secret_iam_member" "pipeline_dagster_storage_url" {
  secret_id = google_secret_manager_secret.dagster_storage_url.id
  role      = "roles/secretmanager.secretAccessor"
  member    = google_service_account.pipeline.member
}

resource "google_secret_manager_secret_iam_member" "pipeline_teacher_api_key" {
  secret_id = google_secret_manager_secret.teacher_api_key.id
  role      = "roles/secretmanager.secretAccessor"
  member    = google_service_account.pipeline.member
}

resource "google_secret_manager_secret_iam_member" "pipeline_model_api_key" {
  secret_id = google_secret_manager_secret.model_api_key.id
  role      = "roles/secretmanager.secretAccessor"
  member    = google_service_account.pipeline.member
}

resource "google_artifact_registry_repository_iam_member" "pipeline_pull" {
  location   = google_artifact_registry_repository.images.location
  repository = google_artifact_registry_repository.images.name
  role       = "roles/artifactregistry.reader"
  member     = google_service_account.pipeline.member
}

resource "google_project_iam_member" "pipeline_logs" {
  project = var.project_id
  role    = "roles/logging.logWriter"
  member  = google_service_account.pipeline.member
}

# --- training ------------------------------------------------------------------------

resource "google_storage_bucket_iam_member" "training_read_inputs" {
  bucket = google_storage_bucket.mlops.name
  role   = "roles/storage.objectViewer"
  member = google_service_account.training.member

  condition {
    title       = "training-inputs"
    description = "List the bucket; read datasets/distillation/ and models/."
    expression  = "${local.bucket_itself} || resource.name.startsWith(\"${local.objects}/datasets/distillation/\") || resource.name.startsWith(\"${local.objects}/models/\")"
  }
}

resource "google_storage_bucket_iam_member" "training_write_student_models" {
  bucket = google_storage_bucket.mlops.name
  role   = "roles/storage.objectUser"
  member = google_service_account.training.member

  condition {
    title       = "models-student-and-step-logs"
    description = "Write the trained versions under models/student/ and the step's Dagster logs."
    expression  = "resource.name.startsWith(\"${local.objects}/models/student/\") || resource.name.startsWith(\"${local.objects}/logs/dagster/\")"
  }
}

resource "google_secret_manager_secret_iam_member" "training_database_url" {
  secret_id = google_secret_manager_secret.database_url.id
  role      = "roles/secretmanager.secretAccessor"
  member    = google_service_account.training.member
}

resource "google_artifact_registry_repository_iam_member" "training_pull" {
  location   = google_artifact_registry_repository.images.location
  repository = google_artifact_registry_repository.images.name
  role       = "roles/artifactregistry.reader"
  member     = google_service_account.training.member
}

resource "google_project_iam_member" "training_logs" {
  project = var.project_id
  role    = "roles/logging.logWriter"
  member  = google_service_account.training.member
}

# --- inference (vLLM VM) -------------------------------------------------------------

resource "google_storage_bucket_iam_member" "inference_read_models" {
  bucket = google_storage_bucket.mlops.name
  role   = "roles/storage.objectViewer"
  member = google_service_account.inference.member

  condition {
    title       = "models-only"
    description = "List the bucket; read models/ (student versions, the base for LoRA mode)."
    expression  = "${local.bucket_itself} || resource.name.startsWith(\"${local.objects}/models/\")"
  }
}

resource "google_secret_manager_secret_iam_member" "inference_database_url" {
  secret_id = google_secret_manager_secret.database_url.id
  role      = "roles/secretmanager.secretAccessor"
  member    = google_service_account.inference.member
}

resource "google_secret_manager_secret_iam_member" "inference_model_api_key" {
  secret_id = google_secret_manager_secret.model_api_key.id
  role      = "roles/secretmanager.secretAccessor"
  member    = google_service_account.inference.member
}

resource "google_artifact_registry_repository_iam_member" "inference_pull" {
  location   = google_artifact_registry_repository.images.location
  repository = google_artifact_registry_repository.images.name
  role       = "roles/artifactregistry.reader"
  member     = google_service_account.inference.member
}

resource "google_project_iam_member" "inference_logs" {
  project = var.project_id
  role    = "roles/logging.logWriter"
  member  = google_service_account.inference.member
}

# --- build (Cloud Build) -------------------------------------------------------------

resource "google_artifact_registry_repository_iam_member" "build_push" {
  location   = google_artifact_registry_repository.images.location
  repository = google_artifact_registry_repository.images.name
  role       = "roles/artifactregistry.writer"
  member     = google_service_account.build.member
}

resource "google_cloud_run_v2_service_iam_member" "build_deploy" {
  location = google_cloud_run_v2_service.api.location
  name     = google_cloud_run_v2_service.api.name
  role     = "roles/run.developer"
  member   = google_service_account.build.member
}

# Deploying a revision that runs as backend needs actAs on backend, and nothing else.
resource "google_service_account_iam_member" "build_acts_as_backend" {
  service_account_id = google_service_account.backend.name
  role               = "roles/iam.serviceAccountUser"
  member             = google_service_account.build.member
}

resource "google_project_iam_member" "build_logs" {
  project = var.project_id
  role    = "roles/logging.logWriter"
  member  = google_service_account.build.member
}

# --- GKE: Kubernetes service accounts acting as Google ones (Workload Identity) -------
# The pool <project>.svc.id.goog exists once a cluster with Workload Identity does, so
# these are created only with gke_workload_identity = true. The Kubernetes names are the
# deploy configs': deploy/dagster/gke/values.yaml (release namespace, serviceAccount.name)
# and deploy/k8s/vllm.yaml (its ServiceAccount).

resource "google_service_account_iam_member" "pipeline_workload_identity" {
  count = var.gke_workload_identity ? 1 : 0

  service_account_id = google_service_account.pipeline.name
  role               = "roles/iam.workloadIdentityUser"
  member             = "serviceAccount:${var.project_id}.svc.id.goog[${local.gke_dagster_ksa}]"
}

resource "google_service_account_iam_member" "training_workload_identity" {
  count = var.gke_workload_identity ? 1 : 0

  service_account_id = google_service_account.training.name
  role               = "roles/iam.workloadIdentityUser"
  member             = "serviceAccount:${var.project_id}.svc.id.goog[${local.gke_training_ksa}]"
}

resource "google_service_account_iam_member" "inference_workload_identity" {
  count = var.gke_workload_identity ? 1 : 0

  service_account_id = google_service_account.inference.name
  role               = "roles/iam.workloadIdentityUser"
  member             = "serviceAccount:${var.project_id}.svc.id.goog[${local.gke_vllm_ksa}]"
}
