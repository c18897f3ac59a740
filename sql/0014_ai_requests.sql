-- One row per AI request a person makes (plan job, coach answer, coach stream), written
-- when the request is admitted, before any work, under a per-person advisory lock: the
-- per-minute rate and the daily quota count reservations, so requests made at once cannot
-- all pass a check that only finished work would have failed.

CREATE TABLE ai_requests (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id      UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind         TEXT NOT NULL CHECK (char_length(kind) BETWEEN 1 AND 40),
    requested_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX ai_requests_user_idx ON ai_requests (user_id, requested_at);
