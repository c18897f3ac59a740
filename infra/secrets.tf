# Secret Manager (seed §8 "Secrets"). Terraform creates the secret containers and who may
# read each; it never holds a value, so no secret reaches the state or this repository.
# Add the values once, out of band (infra/README.md, "After the first apply"):
#
#   printf '%s' "$URL" | gcloud secrets versions add fitsense-<env>-database-url --data-file=-
#
# Who reads each (iam.tf), and how the workloads name them: Cloud Run by secret_key_ref
# (run.tf), the vLLM VM through gcloud at boot (templates/vllm-startup.sh.tftpl), the
# Dagster VM as sm://<secret id> references (deploy/dagster/vm/dagster.env), GKE through
# Kubernetes Secrets synced from these ids (deploy/dagster/gke/values.yaml,
# deploy/k8s/vllm.yaml). tests/test_infra.py checks that every id the deploy configs name
# is one of these, readable by exactly the accounts that run the workloads naming it.

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

# FITSENSE_DAGSTER_STORAGE_URL: Dagster's run, event-log and schedule storage,
# postgresql://dagster:<password>@<private ip>:5432/fitsense_dagster?sslmode=require
# (pipeline only). The Dagster VM reads it as is; on GKE the chart takes the password of
# this URL from the Kubernetes Secret fitsense-dagster-postgresql (deploy/dagster/gke).
resource "google_secret_manager_secret" "dagster_storage_url" {
  secret_id = "${local.name}-dagster-storage-url"

  replication {
    auto {}
  }

  depends_on = [google_project_service.enabled]
}
