-- AI work the API runs in the background: plan generation, updates and next-week
-- adaptation as jobs, so that a restart loses nothing (a job whose lease ran out is
-- picked up again by the next worker).

CREATE TABLE ai_jobs (
    id             UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id        UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind           TEXT NOT NULL CHECK (kind IN ('plan_generate', 'plan_update', 'plan_adapt')),
    status         TEXT NOT NULL DEFAULT 'queued'
        CHECK (status IN ('queued', 'running', 'succeeded', 'failed')),
    progress       REAL NOT NULL DEFAULT 0 CHECK (progress BETWEEN 0 AND 1),
    stage          TEXT NOT NULL DEFAULT 'queued' CHECK (char_length(stage) <= 100),
    request        JSONB NOT NULL,
    request_id     TEXT NOT NULL CHECK (char_length(request_id) BETWEEN 1 AND 128),
    -- What the job answered: the new plan version, the safety decision, the outcome.
    result         JSONB,
    plan_id        UUID REFERENCES workout_plans (id) ON DELETE SET NULL,
    error          TEXT,
    attempts       SMALLINT NOT NULL DEFAULT 0 CHECK (attempts BETWEEN 0 AND 10),
    lease_until    TIMESTAMPTZ,
    created_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    started_at     TIMESTAMPTZ,
    finished_at    TIMESTAMPTZ,
    CONSTRAINT ai_jobs_failed_has_error CHECK (status <> 'failed' OR error IS NOT NULL),
    CONSTRAINT ai_jobs_done_has_result CHECK (status <> 'succeeded' OR result IS NOT NULL),
    CONSTRAINT ai_jobs_running_has_lease CHECK (status <> 'running' OR lease_until IS NOT NULL)
);
CREATE INDEX ai_jobs_user_created_idx ON ai_jobs (user_id, created_at DESC);
-- The worker's queue scan: only unfinished jobs are indexed.
CREATE INDEX ai_jobs_pending_idx ON ai_jobs (created_at) WHERE status IN ('queued', 'running');

-- Which audit rows a job wrote.
ALTER TABLE ai_interactions ADD COLUMN job_id UUID REFERENCES ai_jobs (id) ON DELETE SET NULL;
