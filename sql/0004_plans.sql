-- Plan blueprints with versions. Every change makes a new version; history is never rewritten.

CREATE TABLE workout_plans (
    id             UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id        UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name           TEXT NOT NULL CHECK (char_length(name) BETWEEN 1 AND 200),
    version        INTEGER NOT NULL CHECK (version >= 1),
    parent_plan_id UUID REFERENCES workout_plans (id) ON DELETE SET NULL,
    source         TEXT NOT NULL CHECK (source IN ('teacher', 'student', 'rules', 'manual')),
    model_version  TEXT,
    is_active      BOOLEAN NOT NULL DEFAULT false,
    created_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT workout_plans_version_unique UNIQUE (user_id, version),
    -- Lets workouts reference a plan together with its owner.
    CONSTRAINT workout_plans_id_user_unique UNIQUE (id, user_id),
    CONSTRAINT workout_plans_model_plans_have_version
        CHECK (source NOT IN ('teacher', 'student') OR model_version IS NOT NULL),
    CONSTRAINT workout_plans_not_own_parent CHECK (parent_plan_id IS DISTINCT FROM id)
);
-- At most one active plan per user.
CREATE UNIQUE INDEX workout_plans_one_active_per_user ON workout_plans (user_id) WHERE is_active;

CREATE TABLE plan_days (
    id        UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    plan_id   UUID NOT NULL REFERENCES workout_plans (id) ON DELETE CASCADE,
    name      TEXT NOT NULL CHECK (name ~ '^[A-Z][A-Z0-9_]{0,39}$'),
    day_order SMALLINT NOT NULL CHECK (day_order BETWEEN 1 AND 7),
    notes     TEXT,
    CONSTRAINT plan_days_order_unique UNIQUE (plan_id, day_order),
    CONSTRAINT plan_days_id_plan_unique UNIQUE (id, plan_id)
);

CREATE TABLE plan_exercises (
    id          UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    plan_day_id UUID NOT NULL REFERENCES plan_days (id) ON DELETE CASCADE,
    exercise_id UUID NOT NULL REFERENCES exercises (id),
    position    SMALLINT NOT NULL CHECK (position BETWEEN 1 AND 12),
    notes       TEXT,
    CONSTRAINT plan_exercises_position_unique UNIQUE (plan_day_id, position)
);

CREATE TABLE plan_sets (
    id               UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    plan_exercise_id UUID NOT NULL REFERENCES plan_exercises (id) ON DELETE CASCADE,
    set_number       SMALLINT NOT NULL CHECK (set_number BETWEEN 1 AND 10),
    target_reps      SMALLINT NOT NULL CHECK (target_reps BETWEEN 1 AND 30),
    target_rir       SMALLINT NOT NULL CHECK (target_rir BETWEEN 0 AND 5),
    rest_seconds     SMALLINT NOT NULL CHECK (rest_seconds BETWEEN 0 AND 600),
    CONSTRAINT plan_sets_number_unique UNIQUE (plan_exercise_id, set_number)
);
