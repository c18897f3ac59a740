-- Profile, preferences, goals, conditions and medical history.

CREATE TABLE user_profiles (
    user_id        UUID PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    date_of_birth  DATE NOT NULL CHECK (date_of_birth >= DATE '1900-01-01'),
    sex            TEXT NOT NULL CHECK (sex IN ('M', 'F', 'other')),
    height_cm      NUMERIC(5, 1) NOT NULL CHECK (height_cm BETWEEN 50 AND 272),
    activity_level TEXT NOT NULL
        CHECK (activity_level IN ('sedentary', 'lightly_active', 'moderately_active', 'very_active')),
    updated_at     TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE user_preferences (
    user_id            UUID PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    days_per_week      SMALLINT NOT NULL CHECK (days_per_week BETWEEN 1 AND 7),
    experience         TEXT NOT NULL CHECK (experience IN ('beginner', 'intermediate', 'advanced')),
    session_length_min SMALLINT NOT NULL CHECK (session_length_min BETWEEN 10 AND 240),
    updated_at         TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE goals (
    id          UUID PRIMARY KEY,
    code        TEXT NOT NULL UNIQUE CHECK (code ~ '^[a-z][a-z0-9_]*$'),
    name        TEXT NOT NULL,
    description TEXT NOT NULL
);

-- Goals in priority order: 1 is the main goal, priorities are unique per user.
CREATE TABLE user_goals (
    user_id  UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    goal_id  UUID NOT NULL REFERENCES goals (id),
    priority SMALLINT NOT NULL CHECK (priority BETWEEN 1 AND 10),
    PRIMARY KEY (user_id, goal_id),
    CONSTRAINT user_goals_priority_unique UNIQUE (user_id, priority)
);

CREATE TABLE conditions (
    id                    UUID PRIMARY KEY,
    code                  TEXT NOT NULL UNIQUE CHECK (code ~ '^[a-z][a-z0-9_]*$'),
    name                  TEXT NOT NULL,
    -- Exercises carrying any of these tags are excluded for people with the condition.
    contraindication_tags TEXT[] NOT NULL DEFAULT '{}',
    -- The safety policy asks for medical clearance before training advice.
    requires_clearance    BOOLEAN NOT NULL DEFAULT false
);

CREATE TABLE user_conditions (
    user_id      UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    condition_id UUID NOT NULL REFERENCES conditions (id),
    severity     TEXT NOT NULL CHECK (severity IN ('mild', 'moderate', 'severe')),
    diagnosed_on DATE,
    notes        TEXT,
    PRIMARY KEY (user_id, condition_id)
);

-- Injuries and surgeries; an injury's body region decides which exercise tags it excludes.
CREATE TABLE user_medical_profiles (
    id          UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id     UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind        TEXT NOT NULL CHECK (kind IN ('injury', 'surgery')),
    body_region TEXT NOT NULL
        CHECK (body_region IN ('knee', 'lower_back', 'shoulder', 'wrist', 'elbow', 'ankle', 'hip', 'neck')),
    status      TEXT NOT NULL CHECK (status IN ('active', 'recovering', 'resolved')),
    description TEXT NOT NULL CHECK (char_length(description) BETWEEN 1 AND 500),
    occurred_on DATE
);
CREATE INDEX user_medical_profiles_user_idx ON user_medical_profiles (user_id);

CREATE TABLE user_medications (
    id      UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name    TEXT NOT NULL CHECK (char_length(name) BETWEEN 1 AND 200),
    dosage  TEXT,
    notes   TEXT,
    CONSTRAINT user_medications_unique UNIQUE (user_id, name)
);

CREATE TABLE user_allergies (
    id       UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id  UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    allergen TEXT NOT NULL CHECK (char_length(allergen) BETWEEN 1 AND 200),
    severity TEXT NOT NULL CHECK (severity IN ('mild', 'moderate', 'severe')),
    CONSTRAINT user_allergies_unique UNIQUE (user_id, allergen)
);
