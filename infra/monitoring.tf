# Observability (seed §9): log-based metrics over the structured lines the API writes
# (fitsense_api/observability.py) and the pipeline's run reports, and the alert policies
# on them. Cloud Run hands each stderr JSON line to Cloud Logging, which lifts the special
# fields (severity, message, httpRequest, logging.googleapis.com/labels and /trace) into
# the log entry and keeps the rest under jsonPayload:
#
#   event="http_request"       one per request: httpRequest.status, jsonPayload.latency_ms,
#                              jsonPayload.endpoint ("POST /coach"), request_id, user
#   event="inference"          one per AI request: jsonPayload.inference.{outcome,
#                              model_version, prompt_tokens, completion_tokens, cost_usd}
#   event="rate_limited"       one per refusal: jsonPayload.limit
#   event="pipeline_run_report" one per finished pipeline run (the Dagster workloads)
#
# tests/test_observability_config.py writes each kind of line with the real formatter and
# checks that every field these filters and extractors name is in it.

variable "alert_emails" {
  description = "Addresses that get the alert notifications (none: the policies fire without notifying)."
  type        = list(string)
  default     = []
}

variable "alert_error_ratio" {
  description = "Share of API requests answered 5xx that, sustained for alert_window_s, is an error spike."
  type        = number
  default     = 0.05

  validation {
    condition     = var.alert_error_ratio > 0 && var.alert_error_ratio < 1
    error_message = "alert_error_ratio must be between 0 and 1."
  }
}

variable "alert_latency_p95_ms" {
  description = "p95 of API request latency (ms) that, sustained for alert_window_s, is a latency regression (8 s: the plan target the retraining sensor also uses)."
  type        = number
  default     = 8000
}

variable "alert_rate_limit_hits_per_s" {
  description = "Refusals per second by the AI rate, quota and saturation limits that, sustained, mean users are running out of quota or the coach out of capacity."
  type        = number
  default     = 0.5
}

variable "alert_window_s" {
  description = "How long a condition must hold before an alert opens (seconds, a multiple of 60)."
  type        = number
  default     = 300

  validation {
    condition     = var.alert_window_s >= 60 && var.alert_window_s % 60 == 0
    error_message = "alert_window_s must be a positive multiple of 60."
  }
}

locals {
  # The API's own lines (not Cloud Run's request log, which has no jsonPayload.event).
  api_logs = "resource.type=\"cloud_run_revision\" AND resource.labels.service_name=\"${google_cloud_run_v2_service.api.name}\""

  alert_channels = [for channel in google_monitoring_notification_channel.email : channel.id]
}

resource "google_logging_metric" "api_requests" {
  name        = "${local.name}/api_requests"
  description = "API requests, by endpoint (route template)."
  filter      = "${local.api_logs} AND jsonPayload.event=\"http_request\""

  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "INT64"
    unit        = "1"

    labels {
      key         = "endpoint"
      value_type  = "STRING"
      description = "Method and route template, e.g. POST /coach."
    }
  }

  label_extractors = {
    endpoint = "EXTRACT(jsonPayload.endpoint)"
  }
}

resource "google_logging_metric" "api_server_errors" {
  name        = "${local.name}/api_server_errors"
  description = "API requests answered with a 5xx status, by endpoint."
  filter      = "${local.api_logs} AND jsonPayload.event=\"http_request\" AND httpRequest.status>=500"

  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "INT64"
    unit        = "1"

    labels {
      key        = "endpoint"
      value_type = "STRING"
    }
  }

  label_extractors = {
    endpoint = "EXTRACT(jsonPayload.endpoint)"
  }
}

resource "google_logging_metric" "api_latency" {
  name            = "${local.name}/api_latency"
  description     = "API request latency in milliseconds, by endpoint."
  filter          = "${local.api_logs} AND jsonPayload.event=\"http_request\""
  value_extractor = "EXTRACT(jsonPayload.latency_ms)"

  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "DISTRIBUTION"
    unit        = "ms"

    labels {
      key        = "endpoint"
      value_type = "STRING"
    }
  }

  label_extractors = {
    endpoint = "EXTRACT(jsonPayload.endpoint)"
  }

  # 1 ms to ~65 s in doublings.
  bucket_options {
    exponential_buckets {
      num_finite_buckets = 17
      growth_factor      = 2
      scale              = 1
    }
  }
}

resource "google_logging_metric" "api_rate_limit_hits" {
  name        = "${local.name}/api_rate_limit_hits"
  description = "Requests refused by a limit: ai_per_minute, ai_daily_quota, login, signup, plan_jobs_per_person (429); password_hashing, coach_busy, plan_queue (503)."
  filter      = "${local.api_logs} AND jsonPayload.event=\"rate_limited\""

  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "INT64"
    unit        = "1"

    labels {
      key        = "limit"
      value_type = "STRING"
    }
  }

  label_extractors = {
    limit = "EXTRACT(jsonPayload.limit)"
  }
}

resource "google_logging_metric" "inference_requests" {
  name        = "${local.name}/inference_requests"
  description = "Audited AI requests by outcome (ok, fallback, refused, error) and model version."
  filter      = "${local.api_logs} AND jsonPayload.event=\"inference\""

  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "INT64"
    unit        = "1"

    labels {
      key        = "outcome"
      value_type = "STRING"
    }

    labels {
      key        = "model_version"
      value_type = "STRING"
    }
  }

  label_extractors = {
    outcome       = "EXTRACT(jsonPayload.inference.outcome)"
    model_version = "EXTRACT(jsonPayload.inference.model_version)"
  }
}

resource "google_logging_metric" "inference_cost" {
  name            = "${local.name}/inference_cost"
  description     = "Estimated inference cost per AI request in USD (tokens x FITSENSE_INFERENCE_USD_PER_1K_TOKENS), by model version."
  filter          = "${local.api_logs} AND jsonPayload.event=\"inference\""
  value_extractor = "EXTRACT(jsonPayload.inference.cost_usd)"

  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "DISTRIBUTION"
    unit        = "USD"

    labels {
      key        = "model_version"
      value_type = "STRING"
    }
  }

  label_extractors = {
    model_version = "EXTRACT(jsonPayload.inference.model_version)"
  }

  # $0.000001 to ~$1 per request.
  bucket_options {
    exponential_buckets {
      num_finite_buckets = 20
      growth_factor      = 2
      scale              = 0.000001
    }
  }
}

resource "google_monitoring_notification_channel" "email" {
  for_each = toset(var.alert_emails)

  display_name = "${local.name} alerts: ${each.value}"
  type         = "email"

  labels = {
    email_address = each.value
  }
}

# Sustained error spike: the share of 5xx answers over alert_window_s.
resource "google_monitoring_alert_policy" "api_error_spike" {
  display_name          = "${local.name}: API error spike"
  combiner              = "OR"
  notification_channels = local.alert_channels

  documentation {
    content   = "More than ${var.alert_error_ratio * 100}% of API requests answered 5xx for ${var.alert_window_s} s. Look at the API's ERROR lines (severity>=ERROR, jsonPayload.request_id) and /ready; docs/deploy-gcp.md, Rollback."
    mime_type = "text/markdown"
  }

  conditions {
    display_name = "5xx share above ${var.alert_error_ratio}"

    condition_threshold {
      filter             = "resource.type=\"cloud_run_revision\" AND metric.type=\"logging.googleapis.com/user/${google_logging_metric.api_server_errors.name}\""
      denominator_filter = "resource.type=\"cloud_run_revision\" AND metric.type=\"logging.googleapis.com/user/${google_logging_metric.api_requests.name}\""
      comparison         = "COMPARISON_GT"
      threshold_value    = var.alert_error_ratio
      duration           = "${var.alert_window_s}s"

      aggregations {
        alignment_period     = "60s"
        per_series_aligner   = "ALIGN_RATE"
        cross_series_reducer = "REDUCE_SUM"
      }

      denominator_aggregations {
        alignment_period     = "60s"
        per_series_aligner   = "ALIGN_RATE"
        cross_series_reducer = "REDUCE_SUM"
      }

      trigger {
        count = 1
      }
    }
  }

  alert_strategy {
    auto_close = "1800s"
  }
}

# Latency regression: p95 over all endpoints above alert_latency_p95_ms.
resource "google_monitoring_alert_policy" "api_latency_regression" {
  display_name          = "${local.name}: API latency regression"
  combiner              = "OR"
  notification_channels = local.alert_channels

  documentation {
    content   = "API p95 latency above ${var.alert_latency_p95_ms} ms for ${var.alert_window_s} s. Compare the inference lines' latency_ms by model_version (a new version?) and the coach_busy rate-limit hits (capacity?)."
    mime_type = "text/markdown"
  }

  conditions {
    display_name = "p95 above ${var.alert_latency_p95_ms} ms"

    condition_threshold {
      filter          = "resource.type=\"cloud_run_revision\" AND metric.type=\"logging.googleapis.com/user/${google_logging_metric.api_latency.name}\""
      comparison      = "COMPARISON_GT"
      threshold_value = var.alert_latency_p95_ms
      duration        = "${var.alert_window_s}s"

      aggregations {
        alignment_period     = "60s"
        per_series_aligner   = "ALIGN_DELTA"
        cross_series_reducer = "REDUCE_PERCENTILE_95"
      }

      trigger {
        count = 1
      }
    }
  }

  alert_strategy {
    auto_close = "1800s"
  }
}

# Quota exhaustion: users hitting the AI rate/quota limits, or the coach saturated.
resource "google_monitoring_alert_policy" "quota_exhaustion" {
  display_name          = "${local.name}: AI quota or capacity exhausted"
  combiner              = "OR"
  notification_channels = local.alert_channels

  documentation {
    content   = "More than ${var.alert_rate_limit_hits_per_s} refusals per second by the AI limits for ${var.alert_window_s} s. The limit label says which: ai_per_minute / ai_daily_quota (FITSENSE_API_AI_RATE_PER_MINUTE, FITSENSE_API_AI_DAILY_QUOTA), coach_busy / plan_queue (more vLLM replicas or API instances), login (a password-guessing burst)."
    mime_type = "text/markdown"
  }

  conditions {
    display_name = "refusals above ${var.alert_rate_limit_hits_per_s}/s"

    condition_threshold {
      filter          = "resource.type=\"cloud_run_revision\" AND metric.type=\"logging.googleapis.com/user/${google_logging_metric.api_rate_limit_hits.name}\""
      comparison      = "COMPARISON_GT"
      threshold_value = var.alert_rate_limit_hits_per_s
      duration        = "${var.alert_window_s}s"

      aggregations {
        alignment_period     = "60s"
        per_series_aligner   = "ALIGN_RATE"
        cross_series_reducer = "REDUCE_SUM"
      }

      trigger {
        count = 1
      }
    }
  }

  alert_strategy {
    auto_close = "1800s"
  }
}

# A pipeline run that failed, or whose QA found critical anomalies or bias: the run report
# line (severity ERROR) from the Dagster workloads, matched as it is written.
resource "google_monitoring_alert_policy" "pipeline_run_problems" {
  display_name          = "${local.name}: pipeline run failed or critical QA finding"
  combiner              = "OR"
  notification_channels = local.alert_channels

  documentation {
    content   = "A pipeline run report with severity ERROR: the run failed, or QA found critical anomalies or bias. jsonPayload.run_id and the Dagster UI's run page say where; the serving version is unchanged (promotion is gated)."
    mime_type = "text/markdown"
  }

  conditions {
    display_name = "pipeline_run_report at ERROR"

    condition_matched_log {
      filter = "jsonPayload.event=\"pipeline_run_report\" AND severity>=ERROR"

      label_extractors = {
        run_id = "EXTRACT(jsonPayload.run_id)"
      }
    }
  }

  alert_strategy {
    # Log-match conditions need a notification rate limit.
    notification_rate_limit {
      period = "300s"
    }
    auto_close = "1800s"
  }
}

# Serving degraded (p95 latency, requests the model gave no answer to, every probe failing):
# the monitoring asset's serving_alert line (severity ERROR) from the Dagster workloads.
# Retraining cannot fix a slow or absent model server, so this is an alert, never a run.
resource "google_monitoring_alert_policy" "serving_degraded" {
  display_name          = "${local.name}: model serving degraded"
  combiner              = "OR"
  notification_channels = local.alert_channels

  documentation {
    content   = "The latest monitoring report found serving degraded: jsonPayload.problems says how (latency, no model answers, an outage). Users get the knowledge-based coach meanwhile; no retraining run is started. Check the model server (fitsense serve) and the Dagster UI's live_monitoring asset."
    mime_type = "text/markdown"
  }

  conditions {
    display_name = "serving_alert at ERROR"

    condition_matched_log {
      filter = "jsonPayload.event=\"serving_alert\" AND severity>=ERROR"

      label_extractors = {
        report_id = "EXTRACT(jsonPayload.report_id)"
      }
    }
  }

  alert_strategy {
    notification_rate_limit {
      period = "300s"
    }
    auto_close = "1800s"
  }
}

resource "google_monitoring_alert_policy" "capability_suspended" {
  display_name          = "${local.name}: model capability suspended"
  combiner              = "OR"
  notification_channels = local.alert_channels

  documentation {
    content   = "Monitoring found a capability of the serving version below its promotion gate live and suspended it: jsonPayload.capabilities names them, jsonPayload.reasons says why. Users get the knowledge-based coach for them until a version passes again; the retraining sensor acts on the decay. `fitsense model list` shows the suspensions; `fitsense model resume` lifts one."
    mime_type = "text/markdown"
  }

  conditions {
    display_name = "capability_suspended at ERROR"

    condition_matched_log {
      filter = "jsonPayload.event=\"capability_suspended\" AND severity>=ERROR"

      label_extractors = {
        report_id     = "EXTRACT(jsonPayload.report_id)"
        model_version = "EXTRACT(jsonPayload.model_version)"
      }
    }
  }

  alert_strategy {
    notification_rate_limit {
      period = "300s"
    }
    auto_close = "1800s"
  }
}
