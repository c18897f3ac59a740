-- Executed training: sessions, the exercises done and every set logged.

CREATE TABLE workouts (
    id          UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id     UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    plan_id     UUID,
    plan_day_id UUID REFERENCES plan_days (id) ON DELETE SET NULL,
    started_at  TIMESTAMPTZ NOT NULL,
    ended_at    TIMESTAMPTZ,
    notes       TEXT,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT workouts_ends_after_start CHECK (ended_at IS NULL OR ended_at >= started_at),
    -- A referenced plan belongs to the same user, and a referenced day to that plan
    -- (deleting a plan clears both references; history rows stay).
    CONSTRAINT workouts_plan_fk FOREIGN KEY (plan_id, user_id)
        REFERENCES workout_plans (id, user_id) ON DELETE SET NULL (plan_id),
    CONSTRAINT workouts_plan_day_fk FOREIGN KEY (plan_day_id, plan_id)
        REFERENCES plan_days (id, plan_id) ON DELETE SET NULL (plan_day_id)
);
CREATE INDEX workouts_user_started_idx ON workouts (user_id, started_at);
CREATE INDEX workouts_plan_day_idx ON workouts (plan_day_id) WHERE plan_day_id IS NOT NULL;

CREATE TABLE workout_exercises (
    id          UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    workout_id  UUID NOT NULL REFERENCES workouts (id) ON DELETE CASCADE,
    exercise_id UUID NOT NULL REFERENCES exercises (id),
    position    SMALLINT NOT NULL CHECK (position BETWEEN 1 AND 30),
    notes       TEXT,
    CONSTRAINT workout_exercises_position_unique UNIQUE (workout_id, position)
);

CREATE TABLE workout_sets (
    id                  UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    workout_exercise_id UUID NOT NULL REFERENCES workout_exercises (id) ON DELETE CASCADE,
    set_number          SMALLINT NOT NULL CHECK (set_number BETWEEN 1 AND 30),
    reps                SMALLINT NOT NULL CHECK (reps BETWEEN 0 AND 100),
    weight_kg           NUMERIC(6, 2) CHECK (weight_kg BETWEEN 0 AND 1000),
    rir                 SMALLINT CHECK (rir BETWEEN 0 AND 10),
    duration_seconds    INTEGER CHECK (duration_seconds BETWEEN 1 AND 86400),
    is_warmup           BOOLEAN NOT NULL DEFAULT false
);
-- Also serves as the (workout_exercise_id, set_number) lookup index the design asks for.
CREATE UNIQUE INDEX workout_sets_exercise_set_idx ON workout_sets (workout_exercise_id, set_number);
