-- Serving problems (latency, fallbacks, an outage) apart from model-quality decay: they
-- raise an alert and never a retraining run (fitsense_core/monitoring/report.py).

ALTER TABLE monitoring_reports
    ADD COLUMN serving_problems TEXT[] NOT NULL DEFAULT '{}';
