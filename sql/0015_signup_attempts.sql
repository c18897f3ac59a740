-- One row per signup a client address makes, whatever its answer (201, 409), written
-- before argon2 runs under an advisory lock per address: signups sent at once are counted
-- as they arrive, so an address gets exactly its limit (auth.signup_limit).

CREATE TABLE signup_attempts (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    client       TEXT NOT NULL CHECK (char_length(client) <= 100),
    attempted_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX signup_attempts_client_idx ON signup_attempts (client, attempted_at);
CREATE INDEX signup_attempts_attempted_idx ON signup_attempts (attempted_at);
