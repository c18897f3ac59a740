-- Identity: accounts and API tokens.
-- Synthetic users carry the pipeline run that created them, so a run can be
-- reloaded or removed without touching real accounts.

CREATE TABLE users (
    id               UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    name             TEXT NOT NULL CHECK (char_length(name) BETWEEN 1 AND 200),
    email            TEXT NOT NULL
        CONSTRAINT users_email_normalized CHECK (email = lower(btrim(email)))
        CONSTRAINT users_email_format CHECK (email ~ '^[^@[:space:]]+@[^@[:space:]]+\.[^@[:space:]]+$'),
    password_hash    TEXT NOT NULL CHECK (char_length(password_hash) > 0),
    synthetic_run_id TEXT CHECK (synthetic_run_id ~ '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$'),
    created_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at       TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX users_email_key ON users (email);
CREATE INDEX users_synthetic_run_idx ON users (synthetic_run_id) WHERE synthetic_run_id IS NOT NULL;

-- Bearer tokens are stored hashed; a token is valid while not expired and not revoked.
CREATE TABLE api_tokens (
    id           UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id      UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash   TEXT NOT NULL UNIQUE,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    expires_at   TIMESTAMPTZ NOT NULL,
    revoked_at   TIMESTAMPTZ,
    last_used_at TIMESTAMPTZ,
    CONSTRAINT api_tokens_expiry_after_creation CHECK (expires_at > created_at),
    CONSTRAINT api_tokens_revoked_after_creation CHECK (revoked_at IS NULL OR revoked_at >= created_at)
);
CREATE INDEX api_tokens_user_idx ON api_tokens (user_id);
