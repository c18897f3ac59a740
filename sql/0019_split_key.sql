-- A stable key for assigning real people to dataset splits (fitsense_core/consented.py):
-- HMAC-SHA256 of the user id under this key decides train, val or test once and for good,
-- while the pseudonyms in each dataset stay keyed by a salt drawn per run. The key is made
-- here, from PostgreSQL's strong random source, and never leaves the database.

CREATE TABLE data_split_key (
    id         BOOLEAN PRIMARY KEY DEFAULT true CHECK (id),
    key        BYTEA NOT NULL CHECK (length(key) >= 16),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

INSERT INTO data_split_key (key)
VALUES (decode(replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', ''), 'hex'));
