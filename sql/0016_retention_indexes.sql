-- The retention pass (fitsense_api/retention.py) deletes by age every hour; these indexes
-- let it find the old rows without reading whole tables.

CREATE INDEX api_tokens_expires_idx ON api_tokens (expires_at);
CREATE INDEX api_tokens_revoked_idx ON api_tokens (revoked_at) WHERE revoked_at IS NOT NULL;
CREATE INDEX login_attempts_attempted_idx ON login_attempts (attempted_at);
CREATE INDEX ai_jobs_finished_idx ON ai_jobs (finished_at) WHERE status IN ('succeeded', 'failed');
CREATE INDEX ai_requests_requested_idx ON ai_requests (requested_at);
