-- Audit of every model call: which model version answered, how fast, and what safety decided.

CREATE TABLE ai_interactions (
    id                UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    -- NULL for monitoring probes that act for no user.
    user_id           UUID REFERENCES users (id) ON DELETE CASCADE,
    context_type      TEXT NOT NULL CHECK (context_type IN (
        'plan_generate', 'plan_update', 'plan_adapt', 'coach', 'monitoring_probe')),
    context_id        UUID,
    request_id        TEXT NOT NULL CHECK (char_length(request_id) BETWEEN 1 AND 128),
    query_text        TEXT NOT NULL,
    response_text     TEXT,
    model_name        TEXT,
    model_version     TEXT,
    latency_ms        INTEGER CHECK (latency_ms >= 0),
    prompt_tokens     INTEGER CHECK (prompt_tokens >= 0),
    completion_tokens INTEGER CHECK (completion_tokens >= 0),
    safety_level      TEXT NOT NULL
        CHECK (safety_level IN ('emergency', 'needs_clearance', 'injury_aware', 'ok')),
    outcome           TEXT NOT NULL CHECK (outcome IN ('ok', 'fallback', 'refused', 'error')),
    error             TEXT,
    created_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT ai_interactions_error_has_reason CHECK (outcome <> 'error' OR error IS NOT NULL),
    -- When a model answered, the version that answered is recorded.
    CONSTRAINT ai_interactions_ok_has_model_version CHECK (outcome <> 'ok' OR model_version IS NOT NULL)
);
CREATE INDEX ai_interactions_user_created_idx ON ai_interactions (user_id, created_at);
CREATE INDEX ai_interactions_created_idx ON ai_interactions (created_at);
CREATE INDEX ai_interactions_request_idx ON ai_interactions (request_id);
