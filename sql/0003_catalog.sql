-- Exercise catalog and equipment. Rows are reference data seeded by `fitsense db migrate`.

CREATE TABLE equipment (
    id   UUID PRIMARY KEY,
    code TEXT NOT NULL UNIQUE CHECK (code ~ '^[a-z][a-z0-9_]*$'),
    name TEXT NOT NULL
);

CREATE TABLE exercises (
    id                    UUID PRIMARY KEY,
    slug                  TEXT NOT NULL UNIQUE CHECK (slug ~ '^[a-z][a-z0-9_]*$'),
    name                  TEXT NOT NULL UNIQUE,
    primary_muscle        TEXT NOT NULL CHECK (primary_muscle IN (
        'chest', 'back', 'shoulders', 'biceps', 'triceps', 'forearms', 'quads', 'hamstrings',
        'glutes', 'calves', 'core', 'full_body')),
    movement_pattern      TEXT NOT NULL CHECK (movement_pattern IN (
        'squat', 'hinge', 'lunge', 'horizontal_push', 'vertical_push', 'horizontal_pull',
        'vertical_pull', 'carry', 'core', 'isolation', 'locomotion', 'mobility')),
    category              TEXT NOT NULL
        CHECK (category IN ('compound', 'isolation', 'core', 'cardio', 'plyometric', 'mobility')),
    contraindication_tags TEXT[] NOT NULL DEFAULT '{}' CHECK (contraindication_tags <@ ARRAY[
        'knee_loading', 'spinal_loading', 'spinal_flexion', 'overhead', 'shoulder_loading',
        'wrist_loading', 'elbow_loading', 'hip_loading', 'ankle_loading', 'high_impact',
        'valsalva', 'supine', 'prone', 'neck_loading']::TEXT[]),
    -- Timed work is prescribed as target_reps = 1 with the duration in the notes.
    is_timed              BOOLEAN NOT NULL DEFAULT false,
    -- Typical 8-rep working load of an intermediate adult male, as a fraction of body weight.
    load_factor           NUMERIC(4, 2) NOT NULL DEFAULT 0 CHECK (load_factor BETWEEN 0 AND 5),
    min_experience        TEXT NOT NULL
        CHECK (min_experience IN ('beginner', 'intermediate', 'advanced'))
);
CREATE INDEX exercises_primary_muscle_idx ON exercises (primary_muscle);
CREATE INDEX exercises_tags_idx ON exercises USING gin (contraindication_tags);

-- Equipment an exercise needs (all of it); an exercise without rows needs none.
CREATE TABLE exercise_equipment (
    exercise_id  UUID NOT NULL REFERENCES exercises (id) ON DELETE CASCADE,
    equipment_id UUID NOT NULL REFERENCES equipment (id),
    PRIMARY KEY (exercise_id, equipment_id)
);

-- Equipment a user has available (part of the preferences).
CREATE TABLE user_equipment (
    user_id      UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    equipment_id UUID NOT NULL REFERENCES equipment (id),
    PRIMARY KEY (user_id, equipment_id)
);
