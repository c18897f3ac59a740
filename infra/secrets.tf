# Secret Manager (seed §8 "Secrets"). Terraform creates the secret containers and who may
# read each; it never holds a value, so no secret reaches the state or this repository.
# Add the values once, out of band (infra/README.md, "After the first apply"):
#
#   printf '%s' "$URL" | gcloud secrets versions add fitsense-<env>-database-url --data-file=-

# FITSENSE_DATABASE_URL: postgresql://fitsense:<password>@<private ip>:5432/fitsense?sslmode=require
resource "google_secret_manager_secret" "database_url" {
  secret_id = "${local.name}-database-url"

  replication {
    auto {}
  }

  depends_on = [google_project_service.enabled]
}

# FITSENSE_MODEL_API_KEY: the key vLLM demands and the API and monitoring present.
resource "google_secret_manager_secret" "model_api_key" {
  secret_id = "${local.name}-model-api-key"

  replication {
    auto {}
  }

  depends_on = [google_project_service.enabled]
}

# FITSENSE_TEACHER_API_KEY: the teacher provider's key (pipeline only).
resource "google_secret_manager_secret" "teacher_api_key" {
  secret_id = "${local.name}-teacher-api-key"

  replication {
    auto {}
  }

  depends_on = [google_project_service.enabled]
}
