-- Daily signals and targets: one row per user per day per signal.

CREATE TABLE calorie_targets (
    id        UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id   UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kcal      INTEGER NOT NULL CHECK (kcal BETWEEN 800 AND 8000),
    starts_on DATE NOT NULL,
    ends_on   DATE,
    is_active BOOLEAN NOT NULL DEFAULT true,
    CONSTRAINT calorie_targets_period CHECK (ends_on IS NULL OR ends_on >= starts_on),
    CONSTRAINT calorie_targets_active_is_open CHECK (NOT is_active OR ends_on IS NULL)
);
CREATE UNIQUE INDEX calorie_targets_one_active_per_user ON calorie_targets (user_id) WHERE is_active;

CREATE TABLE sleep_targets (
    id        UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id   UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    hours     NUMERIC(3, 1) NOT NULL CHECK (hours BETWEEN 3 AND 14),
    starts_on DATE NOT NULL,
    ends_on   DATE,
    is_active BOOLEAN NOT NULL DEFAULT true,
    CONSTRAINT sleep_targets_period CHECK (ends_on IS NULL OR ends_on >= starts_on),
    CONSTRAINT sleep_targets_active_is_open CHECK (NOT is_active OR ends_on IS NULL)
);
CREATE UNIQUE INDEX sleep_targets_one_active_per_user ON sleep_targets (user_id) WHERE is_active;

CREATE TABLE calorie_logs (
    id       UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id  UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    log_date DATE NOT NULL,
    kcal     INTEGER NOT NULL CHECK (kcal BETWEEN 0 AND 20000),
    CONSTRAINT calorie_logs_one_per_day UNIQUE (user_id, log_date)
);

CREATE TABLE sleep_logs (
    id       UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id  UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    log_date DATE NOT NULL,
    hours    NUMERIC(4, 2) NOT NULL CHECK (hours BETWEEN 0 AND 24),
    CONSTRAINT sleep_logs_one_per_day UNIQUE (user_id, log_date)
);

CREATE TABLE body_metrics (
    id           UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id      UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    log_date     DATE NOT NULL,
    weight_kg    NUMERIC(5, 2) CHECK (weight_kg BETWEEN 20 AND 400),
    body_fat_pct NUMERIC(4, 1) CHECK (body_fat_pct BETWEEN 2 AND 75),
    CONSTRAINT body_metrics_one_per_day UNIQUE (user_id, log_date),
    CONSTRAINT body_metrics_has_value CHECK (weight_kg IS NOT NULL OR body_fat_pct IS NOT NULL)
);

CREATE TABLE readiness_logs (
    id              UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id         UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    log_date        DATE NOT NULL,
    soreness        SMALLINT CHECK (soreness BETWEEN 0 AND 10),
    energy          SMALLINT CHECK (energy BETWEEN 0 AND 10),
    mood            SMALLINT CHECK (mood BETWEEN 0 AND 10),
    resting_hr      SMALLINT CHECK (resting_hr BETWEEN 25 AND 220),
    steps           INTEGER CHECK (steps BETWEEN 0 AND 150000),
    CONSTRAINT readiness_logs_one_per_day UNIQUE (user_id, log_date),
    CONSTRAINT readiness_logs_has_value CHECK (num_nonnulls(soreness, energy, mood, resting_hr, steps) > 0)
);
