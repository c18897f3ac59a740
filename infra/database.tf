# Cloud SQL for PostgreSQL (seed §5.1): the application database and Dagster's storage
# on one instance, reachable on its private IP only.
#
# The database user and its password are not managed here, so the password never enters
# Terraform's state: create the user once and store the URL in the database-url secret
# (infra/README.md, "After the first apply").

resource "google_sql_database_instance" "main" {
  name             = "${local.name}-pg"
  region           = var.region
  database_version = var.db_version

  deletion_protection = var.deletion_protection

  settings {
    edition           = "ENTERPRISE"
    tier              = var.db_tier
    availability_type = var.db_availability_type
    disk_type         = "PD_SSD"
    disk_size         = var.db_disk_size_gb
    disk_autoresize   = true

    deletion_protection_enabled = var.deletion_protection

    user_labels = merge(var.labels, { app = "fitsense", env = var.env })

    ip_configuration {
      # No public IP: Cloud Run reaches it through the connector, VMs over the VPC.
      ipv4_enabled    = false
      private_network = google_compute_network.main.id
      ssl_mode        = "ENCRYPTED_ONLY"

      enable_private_path_for_google_cloud_services = true
    }

    backup_configuration {
      enabled                        = true
      start_time                     = "03:00"
      point_in_time_recovery_enabled = true
      transaction_log_retention_days = var.db_log_retention_days

      backup_retention_settings {
        retained_backups = var.db_backup_retained_count
        retention_unit   = "COUNT"
      }
    }

    maintenance_window {
      day          = 7
      hour         = 4
      update_track = "stable"
    }

    insights_config {
      query_insights_enabled  = true
      record_application_tags = true
      record_client_address   = false
    }

    database_flags {
      name  = "log_min_duration_statement"
      value = "1000"
    }
  }

  depends_on = [google_service_networking_connection.private_services]
}

# FITSENSE_DATABASE_URL's database, and the one Dagster's storage defaults to
# (<app database>_dagster, fitsense_core.settings).
resource "google_sql_database" "app" {
  name     = "fitsense"
  instance = google_sql_database_instance.main.name
}

resource "google_sql_database" "dagster" {
  name     = "fitsense_dagster"
  instance = google_sql_database_instance.main.name
}
