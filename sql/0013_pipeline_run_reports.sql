-- Pipeline run reports: one row per finished Dagster run of the `pipeline` or `dataset`
-- job (success, failure or cancellation), written by the run report sensors
-- (fitsense_assets/defs/monitoring/run_report.py): per-stage status and runtime, row
-- counts, asset-check results, QA anomaly counts by severity, bias alerts and the model
-- version. A sensor that sees the same run again replaces its row (keyed by run id).

CREATE TABLE pipeline_run_reports (
    dagster_run_id TEXT PRIMARY KEY,
    job_name       TEXT NOT NULL,
    -- The pipeline run (the run_id partition); NULL for a run launched without one.
    run_id         TEXT,
    status         TEXT NOT NULL,
    -- INFO, WARNING or ERROR: what the run report's log line is written at.
    severity       TEXT NOT NULL,
    started_at     TIMESTAMPTZ,
    finished_at    TIMESTAMPTZ,
    duration_s     DOUBLE PRECISION,
    report         JSONB NOT NULL,
    report_uri     TEXT,
    recorded_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT pipeline_run_reports_status CHECK (status IN ('SUCCESS', 'FAILURE', 'CANCELED')),
    CONSTRAINT pipeline_run_reports_severity CHECK (severity IN ('INFO', 'WARNING', 'ERROR')),
    CONSTRAINT pipeline_run_reports_order CHECK (finished_at >= started_at),
    CONSTRAINT pipeline_run_reports_duration CHECK (duration_s >= 0)
);
CREATE INDEX pipeline_run_reports_run_idx ON pipeline_run_reports (run_id, finished_at);
CREATE INDEX pipeline_run_reports_finished_idx ON pipeline_run_reports (finished_at);
