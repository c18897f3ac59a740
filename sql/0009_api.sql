-- What the API keeps besides the domain data: login attempts (rate limiting that holds
-- across workers and restarts) and idempotency keys (a retried request is answered from
-- the first one's result instead of being applied twice).

CREATE TABLE login_attempts (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- The normalized email asked for, whether or not an account has it.
    email        TEXT NOT NULL CHECK (char_length(email) <= 320),
    client       TEXT NOT NULL CHECK (char_length(client) <= 100),
    succeeded    BOOLEAN NOT NULL,
    attempted_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX login_attempts_email_idx ON login_attempts (email, attempted_at);
CREATE INDEX login_attempts_client_idx ON login_attempts (client, attempted_at);

CREATE TABLE idempotency_keys (
    user_id      UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    endpoint     TEXT NOT NULL CHECK (char_length(endpoint) BETWEEN 1 AND 100),
    key          TEXT NOT NULL CHECK (char_length(key) BETWEEN 1 AND 200),
    -- SHA-256 of the request body: the same key with another body is refused.
    request_hash TEXT NOT NULL CHECK (char_length(request_hash) = 64),
    status_code  SMALLINT CHECK (status_code BETWEEN 200 AND 599),
    response     JSONB,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, endpoint, key),
    CONSTRAINT idempotency_keys_complete CHECK ((status_code IS NULL) = (response IS NULL))
);
CREATE INDEX idempotency_keys_created_idx ON idempotency_keys (created_at);
