# The environment's private network (seed §6.2 "Networking", §8 "Network").
#
#   Cloud Run (API) --Serverless VPC Access connector (connector_cidr)--> VPC
#       -> Cloud SQL private IP (private services access, VPC peering)
#       -> vLLM VM internal address : vllm_port (firewall: connector_cidr only)
#   Dagster (VM or GKE pods, pipeline_source_ranges) -> vLLM VM : vllm_port
#       (live monitoring probes the served model; its own rule, the same port only)
#
# Nothing here has an external address. Private Google Access on the subnet lets the VM
# pull from Artifact Registry and read GCS and Secret Manager without one.

resource "google_compute_network" "main" {
  name                    = local.name
  auto_create_subnetworks = false
  routing_mode            = "REGIONAL"

  depends_on = [google_project_service.enabled]
}

resource "google_compute_subnetwork" "private" {
  name                     = "${local.name}-private"
  network                  = google_compute_network.main.id
  region                   = var.region
  ip_cidr_range            = var.subnet_cidr
  private_ip_google_access = true

  log_config {
    aggregation_interval = "INTERVAL_5_MIN"
    flow_sampling        = 0.5
    metadata             = "INCLUDE_ALL_METADATA"
  }
}

# Private services access: the range Google allocates Cloud SQL's private IP from.
resource "google_compute_global_address" "private_services" {
  name          = "${local.name}-private-services"
  network       = google_compute_network.main.id
  purpose       = "VPC_PEERING"
  address_type  = "INTERNAL"
  prefix_length = 20
}

resource "google_service_networking_connection" "private_services" {
  network                 = google_compute_network.main.id
  service                 = "servicenetworking.googleapis.com"
  reserved_peering_ranges = [google_compute_global_address.private_services.name]
}

# Serverless VPC Access: Cloud Run's way into the VPC (name: at most 25 characters).
resource "google_vpc_access_connector" "api" {
  name          = "fitsense-conn-${var.env}"
  region        = var.region
  network       = google_compute_network.main.name
  ip_cidr_range = var.connector_cidr
  machine_type  = var.connector_machine_type
  min_instances = var.connector_min_instances
  max_instances = var.connector_max_instances

  depends_on = [google_project_service.enabled]
}

# The model endpoint is private: only the connector's range reaches vLLM, on its port
# only. There is no SSH rule; reach the VM with `gcloud compute ssh --tunnel-through-iap`
# after adding an IAP rule by hand when you need a shell (docs: infra/README.md).
resource "google_compute_firewall" "vllm_from_connector" {
  name        = "${local.name}-vllm-from-connector"
  network     = google_compute_network.main.name
  description = "vLLM on the GPU VM, from the Serverless VPC Access connector only."
  direction   = "INGRESS"
  priority    = 1000

  source_ranges = [var.connector_cidr]
  target_tags   = [local.vllm_tag]

  allow {
    protocol = "tcp"
    ports    = [tostring(var.vllm_port)]
  }

  log_config {
    metadata = "INCLUDE_ALL_METADATA"
  }
}

# Live monitoring (the Dagster pipeline's 15-minute probe run) calls the served model from
# wherever Dagster runs: the Dagster VM's subnet or address, or the GKE cluster's pod
# range (pipeline_source_ranges). Its own rule, so that the connector's stays as narrow
# as it is: the same target and port, nothing else. No rule when the list is empty.
resource "google_compute_firewall" "vllm_from_pipeline" {
  count = length(var.pipeline_source_ranges) > 0 ? 1 : 0

  name        = "${local.name}-vllm-from-pipeline"
  network     = google_compute_network.main.name
  description = "vLLM on the GPU VM, from the Dagster workloads (live-monitoring probes) only."
  direction   = "INGRESS"
  priority    = 1000

  source_ranges = var.pipeline_source_ranges
  target_tags   = [local.vllm_tag]

  allow {
    protocol = "tcp"
    ports    = [tostring(var.vllm_port)]
  }

  log_config {
    metadata = "INCLUDE_ALL_METADATA"
  }
}
