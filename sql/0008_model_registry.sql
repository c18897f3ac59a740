-- Model versions with their lineage, and every promotion and rollback.
-- A row is written only once every artifact of the version exists and has been hashed,
-- so a version in this table is never partial.

CREATE TABLE model_versions (
    version           TEXT PRIMARY KEY CHECK (version ~ '^[a-z0-9][a-z0-9._-]{2,99}$'),
    status            TEXT NOT NULL CHECK (status IN ('candidate', 'rejected', 'serving', 'retired')),
    run_id            TEXT NOT NULL,
    base_model        TEXT NOT NULL,
    base_model_digest TEXT NOT NULL CHECK (base_model_digest ~ '^[0-9a-f]{64}$'),
    dataset_run_id    TEXT NOT NULL,
    dataset_sha256    TEXT NOT NULL CHECK (dataset_sha256 ~ '^[0-9a-f]{64}$'),
    git_commit        TEXT NOT NULL,
    training_config   JSONB NOT NULL,
    metrics           JSONB NOT NULL,
    gate              JSONB NOT NULL,
    manifest_uri      TEXT NOT NULL,
    eval_report_uri   TEXT NOT NULL,
    gguf_uri          TEXT NOT NULL,
    gguf_sha256       TEXT NOT NULL CHECK (gguf_sha256 ~ '^[0-9a-f]{64}$'),
    adapter_uri       TEXT NOT NULL,
    merged_uri        TEXT NOT NULL,
    codebook_uri      TEXT NOT NULL,
    created_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
    promoted_at       TIMESTAMPTZ,
    retired_at        TIMESTAMPTZ,
    CONSTRAINT model_versions_serving_was_promoted CHECK (status <> 'serving' OR promoted_at IS NOT NULL),
    CONSTRAINT model_versions_gate_recorded CHECK (gate ? 'passed')
);
-- At most one version serves at a time.
CREATE UNIQUE INDEX model_versions_one_serving ON model_versions (status) WHERE status = 'serving';
CREATE INDEX model_versions_created_idx ON model_versions (created_at);

CREATE TABLE model_promotions (
    id               UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    version          TEXT NOT NULL REFERENCES model_versions (version),
    action           TEXT NOT NULL CHECK (action IN ('promote', 'rollback')),
    previous_version TEXT REFERENCES model_versions (version),
    reason           TEXT NOT NULL CHECK (char_length(reason) BETWEEN 1 AND 500),
    created_at       TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX model_promotions_created_idx ON model_promotions (created_at);
