# The private GPU VM that serves the student with vLLM (seed §6.2): one L4 by default,
# no external address, reachable only from the connector's range (the API) and
# pipeline_source_ranges (live monitoring) on vllm_port. At every
# boot its startup script installs the GPU driver (Container-Optimized OS), reads its
# secrets, pulls the vllm image from Artifact Registry and runs it: the image's
# entrypoint is `fitsense serve --backend vllm`, which downloads the registry's serving
# version from the bucket and execs `vllm serve` (docker/vllm.Dockerfile).
#
# Spot (vllm_spot = true) costs far less; when Google stops the VM the API answers from
# the knowledge-based coach until the VM is started again.

# A fixed internal address, so FITSENSE_MODEL_URL survives the VM being recreated.
resource "google_compute_address" "vllm" {
  name         = "${local.name}-vllm"
  region       = var.region
  subnetwork   = google_compute_subnetwork.private.id
  address_type = "INTERNAL"
  purpose      = "GCE_ENDPOINT"
}

resource "google_compute_instance" "vllm" {
  name         = "${local.name}-vllm"
  zone         = var.zone
  machine_type = var.vllm_machine_type
  tags         = [local.vllm_tag]

  allow_stopping_for_update = true

  boot_disk {
    initialize_params {
      image = var.vllm_boot_image
      size  = var.vllm_boot_disk_gb
      type  = "pd-balanced"
    }
  }

  # No access_config block: the VM has no external IP.
  network_interface {
    subnetwork = google_compute_subnetwork.private.id
    network_ip = google_compute_address.vllm.address
  }

  guest_accelerator {
    type  = var.gpu_type
    count = var.gpu_count
  }

  scheduling {
    # GPUs cannot live-migrate.
    on_host_maintenance         = "TERMINATE"
    provisioning_model          = var.vllm_spot ? "SPOT" : "STANDARD"
    preemptible                 = var.vllm_spot
    automatic_restart           = !var.vllm_spot
    instance_termination_action = var.vllm_spot ? "STOP" : null
  }

  shielded_instance_config {
    enable_vtpm                 = true
    enable_integrity_monitoring = true
  }

  service_account {
    email  = google_service_account.inference.email
    scopes = ["cloud-platform"]
  }

  metadata = {
    enable-oslogin         = "TRUE"
    block-project-ssh-keys = "TRUE"
    startup-script = templatefile("${path.module}/templates/vllm-startup.sh.tftpl", {
      project_id        = var.project_id
      env               = var.env
      registry_host     = local.registry_host
      image             = local.vllm_image
      cloud_sdk_image   = var.cloud_sdk_image
      port              = var.vllm_port
      gpu_count         = var.gpu_count
      artifacts_uri     = "gs://${google_storage_bucket.mlops.name}"
      database_url_name = google_secret_manager_secret.database_url.secret_id
      model_key_name    = google_secret_manager_secret.model_api_key.secret_id
    })
  }

  depends_on = [
    google_secret_manager_secret_iam_member.inference_database_url,
    google_secret_manager_secret_iam_member.inference_model_api_key,
    google_storage_bucket_iam_member.inference_read_models,
    google_artifact_registry_repository_iam_member.inference_pull,
    google_project_iam_member.inference_logs,
  ]
}
