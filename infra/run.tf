# The API on Cloud Run (seed §4.1): the api image, running as the backend service
# account, its secrets from Secret Manager, into the VPC through the connector for Cloud
# SQL's private IP and the vLLM VM. The container runs `fitsense api` (docker/api.Dockerfile),
# which migrates the database, then serves /health, /ready, /metrics and the API.
#
# Terraform creates the service and owns its settings; cloudbuild.yaml rolls out new
# images (gcloud run services update --image), so the image is ignored here afterwards.

resource "google_cloud_run_v2_service" "api" {
  name     = "${local.name}-api"
  location = var.region
  ingress  = "INGRESS_TRAFFIC_ALL"

  deletion_protection = var.deletion_protection

  template {
    service_account                  = google_service_account.backend.email
    max_instance_request_concurrency = var.api_concurrency
    timeout                          = "300s"

    scaling {
      min_instance_count = var.api_min_instances
      max_instance_count = var.api_max_instances
    }

    vpc_access {
      connector = google_vpc_access_connector.api.id
      # Private ranges (Cloud SQL, vLLM) go through the connector, the rest directly.
      egress = "PRIVATE_RANGES_ONLY"
    }

    containers {
      image = local.api_image

      ports {
        container_port = var.api_container_port
      }

      resources {
        limits = {
          cpu    = var.api_cpu
          memory = var.api_memory
        }
        cpu_idle          = true
        startup_cpu_boost = true
      }

      env {
        name = "FITSENSE_DATABASE_URL"
        value_source {
          secret_key_ref {
            secret  = google_secret_manager_secret.database_url.secret_id
            version = "latest"
          }
        }
      }

      env {
        name = "FITSENSE_MODEL_API_KEY"
        value_source {
          secret_key_ref {
            secret  = google_secret_manager_secret.model_api_key.secret_id
            version = "latest"
          }
        }
      }

      # dev, stage or prod: no local fallbacks, the env label on every log line.
      env {
        name  = "FITSENSE_ENV"
        value = var.env
      }

      # The project, so that each log line names its request's Cloud Trace trace
      # (logging.googleapis.com/trace, from X-Cloud-Trace-Context).
      env {
        name  = "GOOGLE_CLOUD_PROJECT"
        value = var.project_id
      }

      env {
        name  = "FITSENSE_MODEL_URL"
        value = local.model_url
      }

      env {
        name  = "FITSENSE_MODEL_BACKEND"
        value = "openai"
      }

      env {
        name  = "FITSENSE_ARTIFACTS_URI"
        value = "gs://${google_storage_bucket.mlops.name}"
      }

      env {
        name  = "FITSENSE_API_LOG_LEVEL"
        value = "INFO"
      }

      # cost_usd per model call (tokens x this / 1000): the inference_cost metric.
      env {
        name  = "FITSENSE_INFERENCE_USD_PER_1K_TOKENS"
        value = tostring(var.inference_usd_per_1k_tokens)
      }

      # Startup migrates the database: give it two minutes before liveness takes over.
      startup_probe {
        initial_delay_seconds = 0
        period_seconds        = 5
        timeout_seconds       = 3
        failure_threshold     = 24

        http_get {
          path = "/health"
        }
      }

      liveness_probe {
        period_seconds    = 30
        timeout_seconds   = 5
        failure_threshold = 3

        http_get {
          path = "/health"
        }
      }
    }
  }

  traffic {
    type    = "TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST"
    percent = 100
  }

  lifecycle {
    ignore_changes = [
      template[0].containers[0].image,
      client,
      client_version,
    ]
  }

  depends_on = [
    google_secret_manager_secret_iam_member.backend_database_url,
    google_secret_manager_secret_iam_member.backend_model_api_key,
  ]
}

# The API is the public front door (it authenticates its users itself); everything
# behind it is private.
resource "google_cloud_run_v2_service_iam_member" "public_invoker" {
  count = var.api_public ? 1 : 0

  location = google_cloud_run_v2_service.api.location
  name     = google_cloud_run_v2_service.api.name
  role     = "roles/run.invoker"
  member   = "allUsers"
}
