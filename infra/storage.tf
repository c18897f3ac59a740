# The environment's artifact store: gs://fitsenseai-mlops-<env> (seed §5.2), the
# FITSENSE_ARTIFACTS_URI every workload is given. GCS has no folders; the layout is the
# object prefixes the pipeline writes (infra/README.md has the whole tree):
#
#   datasets/synthetic/<run_id>/<asset>/        synthetic tables (Parquet + manifest.json)
#   datasets/distillation/<run_id>/...          the distillation dataset (train/val/test)
#   teacher_outputs/<run_id>/...                prompts and the teacher's answers
#   teacher_outputs/cache/<provider-model>/...  the teacher's answer cache
#   reports/<run_id>/...                        QA reports and the evaluation report
#   reports/monitoring/...                      live-monitoring reports
#   models/base/<digest>/...                    the base model, once per content digest
#   models/student/<model_version>/...          adapter, merged weights, GGUF, codebook,
#                                               eval report, lineage
#   logs/dagster/...                            Dagster's compute logs (deploy/dagster)
#
# Versioning is on, so an overwritten or deleted object can be restored for
# noncurrent_version_days. Models are never deleted by a lifecycle rule: a version's
# files are its lineage.

resource "google_storage_bucket" "mlops" {
  name     = local.bucket_name
  location = local.bucket_location

  storage_class               = "STANDARD"
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = !var.deletion_protection

  versioning {
    enabled = true
  }

  soft_delete_policy {
    retention_duration_seconds = 604800
  }

  # Older versions of an object: at most noncurrent_versions_kept, none older than
  # noncurrent_version_days.
  lifecycle_rule {
    condition {
      days_since_noncurrent_time = var.noncurrent_version_days
      with_state                 = "ARCHIVED"
    }
    action {
      type = "Delete"
    }
  }

  lifecycle_rule {
    condition {
      num_newer_versions = var.noncurrent_versions_kept
      with_state         = "ARCHIVED"
    }
    action {
      type = "Delete"
    }
  }

  # Inputs of past runs are read rarely once a run is done: Nearline after a month.
  lifecycle_rule {
    condition {
      age            = var.nearline_after_days
      matches_prefix = ["datasets/", "teacher_outputs/"]
      with_state     = "LIVE"
    }
    action {
      type          = "SetStorageClass"
      storage_class = "NEARLINE"
    }
  }

  # Live monitoring writes a report every 15 minutes.
  lifecycle_rule {
    condition {
      age            = var.monitoring_report_days
      matches_prefix = ["reports/monitoring/"]
      with_state     = "LIVE"
    }
    action {
      type = "Delete"
    }
  }

  lifecycle_rule {
    condition {
      age            = var.log_retention_days
      matches_prefix = ["logs/"]
      with_state     = "LIVE"
    }
    action {
      type = "Delete"
    }
  }

  lifecycle_rule {
    condition {
      age = 1
    }
    action {
      type = "AbortIncompleteMultipartUpload"
    }
  }

  depends_on = [google_project_service.enabled]
}
