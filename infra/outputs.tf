output "api_url" {
  description = "The API's Cloud Run URL."
  value       = google_cloud_run_v2_service.api.uri
}

output "artifact_registry" {
  description = "Where cloudbuild.yaml pushes the images."
  value       = local.registry
}

output "bucket" {
  description = "The environment's artifact store: FITSENSE_ARTIFACTS_URI."
  value       = "gs://${google_storage_bucket.mlops.name}"
}

output "bucket_layout" {
  description = "The prefixes the pipeline writes (seed §5.2)."
  value = {
    distillation_datasets = "gs://${google_storage_bucket.mlops.name}/datasets/distillation/<run_id>/"
    synthetic_tables      = "gs://${google_storage_bucket.mlops.name}/datasets/synthetic/<run_id>/"
    teacher_outputs       = "gs://${google_storage_bucket.mlops.name}/teacher_outputs/<run_id>/"
    reports               = "gs://${google_storage_bucket.mlops.name}/reports/<run_id>/"
    student_models        = "gs://${google_storage_bucket.mlops.name}/models/student/<model_version>/"
  }
}

output "sql_instance" {
  description = "Cloud SQL instance connection name."
  value       = google_sql_database_instance.main.connection_name
}

output "sql_private_ip" {
  description = "Cloud SQL's private address: the host in the database-url secret."
  value       = google_sql_database_instance.main.private_ip_address
}

output "model_url" {
  description = "FITSENSE_MODEL_URL: vLLM on the GPU VM's internal address (the API's, and the Dagster workloads' for live monitoring)."
  value       = local.model_url
}

output "vpc_connector" {
  description = "The Serverless VPC Access connector Cloud Run egresses through."
  value       = google_vpc_access_connector.api.id
}

output "secrets" {
  description = "Secret Manager secret ids to add values to (infra/README.md)."
  value = {
    database_url        = google_secret_manager_secret.database_url.secret_id
    dagster_storage_url = google_secret_manager_secret.dagster_storage_url.secret_id
    model_api_key       = google_secret_manager_secret.model_api_key.secret_id
    teacher_api_key     = google_secret_manager_secret.teacher_api_key.secret_id
  }
}

output "service_accounts" {
  description = "One service account per workload."
  value = {
    backend   = google_service_account.backend.email
    pipeline  = google_service_account.pipeline.email
    training  = google_service_account.training.email
    inference = google_service_account.inference.email
    build     = google_service_account.build.email
  }
}
