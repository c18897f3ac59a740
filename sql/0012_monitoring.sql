-- Live monitoring: one row per monitoring run (probes of the served model plus the
-- aggregate of recent ai_interactions), read by the retraining sensor.
-- ai_interactions gains the request's slice tags, so live traffic can be compared with
-- the training data's slice distribution.

ALTER TABLE ai_interactions ADD COLUMN slices JSONB;

CREATE TABLE monitoring_reports (
    id             BIGSERIAL PRIMARY KEY,
    created_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    window_start   TIMESTAMPTZ NOT NULL,
    window_end     TIMESTAMPTZ NOT NULL,
    -- The version serving when the report was made; NULL when none was.
    model_version  TEXT,
    probes         JSONB NOT NULL,
    live           JSONB NOT NULL,
    drift          JSONB NOT NULL,
    thresholds     JSONB NOT NULL,
    -- Why quality counts as decayed; empty when it does not.
    decay_reasons  TEXT[] NOT NULL DEFAULT '{}',
    report_uri     TEXT,
    CONSTRAINT monitoring_reports_window_order CHECK (window_end >= window_start)
);
CREATE INDEX monitoring_reports_created_idx ON monitoring_reports (created_at);
