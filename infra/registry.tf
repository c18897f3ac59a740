# Artifact Registry and Cloud Build (seed §3): every image cloudbuild.yaml builds lands in
# one Docker repository per environment,
#   <region>-docker.pkg.dev/<project>/fitsense-<env>/{api,dagster,training-gpu,inference-cpu,vllm}
# tagged with the commit SHA and with the environment's moving tag (<env>).

resource "google_artifact_registry_repository" "images" {
  repository_id = local.name
  location      = var.region
  format        = "DOCKER"
  description   = "FitSense container images (${var.env})"

  docker_config {
    # The environment tag moves with every deploy; commit-SHA tags never do.
    immutable_tags = false
  }

  cleanup_policy_dry_run = false

  cleanup_policies {
    id     = "keep-recent"
    action = "KEEP"

    most_recent_versions {
      keep_count = 20
    }
  }

  cleanup_policies {
    id     = "delete-untagged"
    action = "DELETE"

    condition {
      tag_state  = "UNTAGGED"
      older_than = "1209600s"
    }
  }

  depends_on = [google_project_service.enabled]
}

# Pushes to trigger_branch_regex build, test and deploy this environment (cloudbuild.yaml)
# as the build service account. The GitHub repository is connected once through the
# Cloud Build GitHub app in the console (Terraform cannot do that step), in the location
# build_trigger_location names.
resource "google_cloudbuild_trigger" "deploy" {
  name            = "${local.name}-deploy"
  location        = var.build_trigger_location
  description     = "Build, test and deploy FitSense (${var.env})"
  filename        = "cloudbuild.yaml"
  service_account = google_service_account.build.id

  github {
    owner = var.github_owner
    name  = var.github_repo

    push {
      branch = var.trigger_branch_regex
    }
  }

  substitutions = {
    _ENV        = var.env
    _REGION     = var.region
    _REPOSITORY = google_artifact_registry_repository.images.repository_id
    _SERVICE    = google_cloud_run_v2_service.api.name
  }

  include_build_logs = "INCLUDE_BUILD_LOGS_WITH_STATUS"

  depends_on = [
    google_artifact_registry_repository_iam_member.build_push,
    google_cloud_run_v2_service_iam_member.build_deploy,
    google_service_account_iam_member.build_acts_as_backend,
    google_project_iam_member.build_logs,
  ]
}
