"""Every CHECK, unique and foreign-key rule rejects a bad row with a clear, named error."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest

from fitsense_core.reference import CONDITIONS, EQUIPMENT, GOALS, exercise_catalog

U1 = "00000000-0000-4000-8000-000000000001"
U2 = "00000000-0000-4000-8000-000000000002"
P1 = "00000000-0000-4000-8000-0000000000a1"
P2 = "00000000-0000-4000-8000-0000000000a2"
D1 = "00000000-0000-4000-8000-0000000000d1"
D2 = "00000000-0000-4000-8000-0000000000d2"
PE1 = "00000000-0000-4000-8000-0000000000e1"
W1 = "00000000-0000-4000-8000-0000000000f1"
WE1 = "00000000-0000-4000-8000-0000000000f2"
EX = exercise_catalog()[0].id
GOAL = GOALS[0].id
COND = CONDITIONS[0].id
EQ = EQUIPMENT[0].id


@pytest.fixture(scope="module")
def conn(migrated_db: str) -> Iterator[psycopg.Connection]:
    """A connection with a small valid world, rolled back at the end."""
    with psycopg.connect(migrated_db) as connection, connection.transaction(force_rollback=True):
        for uid, email in ((U1, "one@example.com"), (U2, "two@example.com")):
            connection.execute(
                "INSERT INTO users (id, name, email, password_hash) VALUES (%s, 'U', %s, 'h')",
                (uid, email),
            )
        connection.execute(
            "INSERT INTO workout_plans (id, user_id, name, version, source, is_active) "
            "VALUES (%s, %s, 'A', 1, 'rules', true), (%s, %s, 'B', 1, 'rules', true)",
            (P1, U1, P2, U2),
        )
        connection.execute(
            "INSERT INTO plan_days (id, plan_id, name, day_order) VALUES "
            "(%s, %s, 'PUSH_1', 1), (%s, %s, 'PULL_1', 1)",
            (D1, P1, D2, P2),
        )
        connection.execute(
            "INSERT INTO plan_exercises (id, plan_day_id, exercise_id, position) "
            "VALUES (%s, %s, %s, 1)",
            (PE1, D1, EX),
        )
        connection.execute(
            "INSERT INTO workouts (id, user_id, plan_id, plan_day_id, started_at) "
            "VALUES (%s, %s, %s, %s, now())",
            (W1, U1, P1, D1),
        )
        connection.execute(
            "INSERT INTO workout_exercises (id, workout_id, exercise_id, position) "
            "VALUES (%s, %s, %s, 1)",
            (WE1, W1, EX),
        )
        yield connection


BAD_ROWS = [
    (
        "users_email_normalized",
        "INSERT INTO users (name, email, password_hash) VALUES ('x', 'Caps@Example.com', 'h')",
    ),
    (
        "users_email_format",
        "INSERT INTO users (name, email, password_hash) VALUES ('x', 'not-an-email', 'h')",
    ),
    (
        "users_email_key",
        "INSERT INTO users (name, email, password_hash) VALUES ('x', 'one@example.com', 'h')",
    ),
    (
        "users_name_check",
        "INSERT INTO users (name, email, password_hash) VALUES ('', 'n@example.com', 'h')",
    ),
    (
        "users_synthetic_run_id_check",
        "INSERT INTO users (name, email, password_hash, synthetic_run_id) "
        "VALUES ('x', 'r@example.com', 'h', 'bad run id!')",
    ),
    (
        "api_tokens_expiry_after_creation",
        f"INSERT INTO api_tokens (user_id, token_hash, expires_at) VALUES ('{U1}', 't', now() - "
        "interval '1 day')",
    ),
    (
        "user_profiles_sex_check",
        f"INSERT INTO user_profiles (user_id, date_of_birth, sex, height_cm, activity_level) "
        f"VALUES ('{U1}', '1990-01-01', 'X', 170, 'sedentary')",
    ),
    (
        "user_profiles_height_cm_check",
        f"INSERT INTO user_profiles (user_id, date_of_birth, sex, height_cm, activity_level) "
        f"VALUES ('{U1}', '1990-01-01', 'F', 300, 'sedentary')",
    ),
    (
        "user_profiles_activity_level_check",
        f"INSERT INTO user_profiles (user_id, date_of_birth, sex, height_cm, activity_level) "
        f"VALUES ('{U1}', '1990-01-01', 'F', 170, 'couch')",
    ),
    (
        "user_profiles_date_of_birth_check",
        f"INSERT INTO user_profiles (user_id, date_of_birth, sex, height_cm, activity_level) "
        f"VALUES ('{U1}', '1850-01-01', 'F', 170, 'sedentary')",
    ),
    (
        "user_preferences_days_per_week_check",
        f"INSERT INTO user_preferences (user_id, days_per_week, experience, session_length_min) "
        f"VALUES ('{U1}', 8, 'beginner', 45)",
    ),
    (
        "user_preferences_experience_check",
        f"INSERT INTO user_preferences (user_id, days_per_week, experience, session_length_min) "
        f"VALUES ('{U1}', 3, 'guru', 45)",
    ),
    (
        "user_preferences_session_length_min_check",
        f"INSERT INTO user_preferences (user_id, days_per_week, experience, session_length_min) "
        f"VALUES ('{U1}', 3, 'beginner', 5)",
    ),
    (
        "user_goals_priority_unique",
        f"INSERT INTO user_goals (user_id, goal_id, priority) VALUES ('{U1}', '{GOAL}', 1), "
        f"('{U1}', '{GOALS[1].id}', 1)",
    ),
    (
        "user_goals_goal_id_fkey",
        f"INSERT INTO user_goals (user_id, goal_id, priority) VALUES ('{U1}', '{U2}', 1)",
    ),
    (
        "user_conditions_severity_check",
        f"INSERT INTO user_conditions (user_id, condition_id, severity) "
        f"VALUES ('{U1}', '{COND}', 'awful')",
    ),
    (
        "user_medical_profiles_body_region_check",
        f"INSERT INTO user_medical_profiles (user_id, kind, body_region, status, description) "
        f"VALUES ('{U1}', 'injury', 'tail', 'active', 'x')",
    ),
    (
        "user_medical_profiles_status_check",
        f"INSERT INTO user_medical_profiles (user_id, kind, body_region, status, description) "
        f"VALUES ('{U1}', 'injury', 'knee', 'healed?', 'x')",
    ),
    (
        "user_allergies_severity_check",
        f"INSERT INTO user_allergies (user_id, allergen, severity) VALUES ('{U1}', 'nuts', 'x')",
    ),
    (
        "user_equipment_equipment_id_fkey",
        f"INSERT INTO user_equipment (user_id, equipment_id) VALUES ('{U1}', '{U2}')",
    ),
    (
        "exercises_contraindication_tags_check",
        "INSERT INTO exercises (id, slug, name, primary_muscle, movement_pattern, category, "
        "contraindication_tags, min_experience) VALUES (gen_random_uuid(), 'x_y', 'X Y', 'chest', "
        "'squat', 'compound', '{made_up_tag}', 'beginner')",
    ),
    (
        "exercises_primary_muscle_check",
        "INSERT INTO exercises (id, slug, name, primary_muscle, movement_pattern, category, "
        "min_experience) VALUES (gen_random_uuid(), 'x_z', 'X Z', 'tail', 'squat', 'compound', "
        "'beginner')",
    ),
    (
        "workout_plans_one_active_per_user",
        f"INSERT INTO workout_plans (user_id, name, version, source, is_active) "
        f"VALUES ('{U1}', 'C', 2, 'rules', true)",
    ),
    (
        "workout_plans_version_unique",
        f"INSERT INTO workout_plans (user_id, name, version, source) VALUES ('{U1}', 'C', 1, 'rules')",
    ),
    (
        "workout_plans_source_check",
        f"INSERT INTO workout_plans (user_id, name, version, source) VALUES ('{U1}', 'C', 3, 'magic')",
    ),
    (
        "workout_plans_model_plans_have_version",
        f"INSERT INTO workout_plans (user_id, name, version, source) "
        f"VALUES ('{U1}', 'C', 3, 'student')",
    ),
    (
        "plan_days_name_check",
        f"INSERT INTO plan_days (plan_id, name, day_order) VALUES ('{P1}', 'push day', 2)",
    ),
    (
        "plan_days_order_unique",
        f"INSERT INTO plan_days (plan_id, name, day_order) VALUES ('{P1}', 'PULL_1', 1)",
    ),
    (
        "plan_days_day_order_check",
        f"INSERT INTO plan_days (plan_id, name, day_order) VALUES ('{P1}', 'PULL_1', 8)",
    ),
    (
        "plan_exercises_position_check",
        f"INSERT INTO plan_exercises (plan_day_id, exercise_id, position) VALUES ('{D1}', '{EX}', 13)",
    ),
    (
        "plan_exercises_position_unique",
        f"INSERT INTO plan_exercises (plan_day_id, exercise_id, position) VALUES ('{D1}', '{EX}', 1)",
    ),
    (
        "plan_sets_target_reps_check",
        f"INSERT INTO plan_sets (plan_exercise_id, set_number, target_reps, target_rir, rest_seconds) "
        f"VALUES ('{PE1}', 1, 31, 2, 90)",
    ),
    (
        "plan_sets_target_rir_check",
        f"INSERT INTO plan_sets (plan_exercise_id, set_number, target_reps, target_rir, rest_seconds) "
        f"VALUES ('{PE1}', 1, 8, 6, 90)",
    ),
    (
        "plan_sets_rest_seconds_check",
        f"INSERT INTO plan_sets (plan_exercise_id, set_number, target_reps, target_rir, rest_seconds) "
        f"VALUES ('{PE1}', 1, 8, 2, 601)",
    ),
    (
        "plan_sets_set_number_check",
        f"INSERT INTO plan_sets (plan_exercise_id, set_number, target_reps, target_rir, rest_seconds) "
        f"VALUES ('{PE1}', 11, 8, 2, 90)",
    ),
    (
        "plan_sets_target_reps_check",
        f"INSERT INTO plan_sets (plan_exercise_id, set_number, target_reps, target_rir, rest_seconds) "
        f"VALUES ('{PE1}', 1, NULL, 2, 90)",
    ),
    (
        "workouts_ends_after_start",
        f"INSERT INTO workouts (user_id, started_at, ended_at) "
        f"VALUES ('{U1}', now(), now() - interval '1 hour')",
    ),
    (
        "workouts_plan_fk",
        f"INSERT INTO workouts (user_id, plan_id, started_at) VALUES ('{U1}', '{P2}', now())",
    ),
    (
        "workouts_plan_day_fk",
        f"INSERT INTO workouts (user_id, plan_id, plan_day_id, started_at) "
        f"VALUES ('{U1}', '{P1}', '{D2}', now())",
    ),
    (
        "workout_sets_reps_check",
        f"INSERT INTO workout_sets (workout_exercise_id, set_number, reps) VALUES ('{WE1}', 1, -1)",
    ),
    (
        "workout_sets_weight_kg_check",
        f"INSERT INTO workout_sets (workout_exercise_id, set_number, reps, weight_kg) "
        f"VALUES ('{WE1}', 1, 5, -5)",
    ),
    (
        "workout_sets_rir_check",
        f"INSERT INTO workout_sets (workout_exercise_id, set_number, reps, rir) "
        f"VALUES ('{WE1}', 1, 5, 11)",
    ),
    (
        "workout_sets_exercise_set_idx",
        f"INSERT INTO workout_sets (workout_exercise_id, set_number, reps) VALUES "
        f"('{WE1}', 1, 5), ('{WE1}', 1, 6)",
    ),
    (
        "workout_sets_workout_exercise_id_fkey",
        f"INSERT INTO workout_sets (workout_exercise_id, set_number, reps) VALUES ('{U1}', 1, 5)",
    ),
    (
        "calorie_targets_one_active_per_user",
        f"INSERT INTO calorie_targets (user_id, kcal, starts_on) VALUES "
        f"('{U1}', 2000, '2026-01-01'), ('{U1}', 2100, '2026-02-01')",
    ),
    (
        "calorie_targets_kcal_check",
        f"INSERT INTO calorie_targets (user_id, kcal, starts_on) VALUES ('{U1}', 100, '2026-01-01')",
    ),
    (
        "calorie_targets_active_is_open",
        f"INSERT INTO calorie_targets (user_id, kcal, starts_on, ends_on, is_active) "
        f"VALUES ('{U1}', 2000, '2026-01-01', '2026-02-01', true)",
    ),
    (
        "sleep_targets_period",
        f"INSERT INTO sleep_targets (user_id, hours, starts_on, ends_on, is_active) "
        f"VALUES ('{U1}', 8, '2026-02-01', '2026-01-01', false)",
    ),
    (
        "sleep_targets_one_active_per_user",
        f"INSERT INTO sleep_targets (user_id, hours, starts_on) VALUES "
        f"('{U1}', 8, '2026-01-01'), ('{U1}', 7.5, '2026-02-01')",
    ),
    (
        "calorie_logs_one_per_day",
        f"INSERT INTO calorie_logs (user_id, log_date, kcal) VALUES "
        f"('{U1}', '2026-01-01', 2000), ('{U1}', '2026-01-01', 2100)",
    ),
    (
        "sleep_logs_hours_check",
        f"INSERT INTO sleep_logs (user_id, log_date, hours) VALUES ('{U1}', '2026-01-01', 25)",
    ),
    (
        "body_metrics_has_value",
        f"INSERT INTO body_metrics (user_id, log_date) VALUES ('{U1}', '2026-01-01')",
    ),
    (
        "body_metrics_weight_kg_check",
        f"INSERT INTO body_metrics (user_id, log_date, weight_kg) VALUES ('{U1}', '2026-01-01', 5)",
    ),
    (
        "readiness_logs_has_value",
        f"INSERT INTO readiness_logs (user_id, log_date) VALUES ('{U1}', '2026-01-01')",
    ),
    (
        "readiness_logs_soreness_check",
        f"INSERT INTO readiness_logs (user_id, log_date, soreness) VALUES ('{U1}', '2026-01-01', 11)",
    ),
    (
        "readiness_logs_resting_hr_check",
        f"INSERT INTO readiness_logs (user_id, log_date, resting_hr) "
        f"VALUES ('{U1}', '2026-01-01', 300)",
    ),
    (
        "ai_interactions_outcome_check",
        "INSERT INTO ai_interactions (context_type, request_id, query_text, safety_level, outcome) "
        "VALUES ('coach', 'r1', 'q', 'ok', 'great')",
    ),
    (
        "ai_interactions_safety_level_check",
        "INSERT INTO ai_interactions (context_type, request_id, query_text, safety_level, outcome) "
        "VALUES ('coach', 'r1', 'q', 'fine', 'refused')",
    ),
    (
        "ai_interactions_context_type_check",
        "INSERT INTO ai_interactions (context_type, request_id, query_text, safety_level, outcome) "
        "VALUES ('chat', 'r1', 'q', 'ok', 'refused')",
    ),
    (
        "ai_interactions_ok_has_model_version",
        "INSERT INTO ai_interactions (context_type, request_id, query_text, safety_level, outcome) "
        "VALUES ('coach', 'r1', 'q', 'ok', 'ok')",
    ),
    (
        "ai_interactions_error_has_reason",
        "INSERT INTO ai_interactions (context_type, request_id, query_text, safety_level, outcome) "
        "VALUES ('coach', 'r1', 'q', 'ok', 'error')",
    ),
    (
        "ai_interactions_latency_ms_check",
        "INSERT INTO ai_interactions (context_type, request_id, query_text, safety_level, outcome, "
        "model_version, latency_ms) VALUES ('coach', 'r1', 'q', 'ok', 'ok', 'v1', -3)",
    ),
]


@pytest.mark.parametrize(
    ("constraint", "statement"), BAD_ROWS, ids=[f"{i}-{c}" for i, (c, _) in enumerate(BAD_ROWS)]
)
def test_bad_row_is_rejected_by_named_constraint(
    conn: psycopg.Connection, constraint: str, statement: str
) -> None:
    with pytest.raises(psycopg.errors.IntegrityError) as err, conn.transaction():
        conn.execute(statement)
    diag = err.value.diag
    named = diag.constraint_name or ""
    # NOT NULL violations name the column rather than a constraint.
    assert constraint == named or (diag.column_name and diag.column_name in constraint), (
        f"expected {constraint}, got {named or diag.column_name}: {diag.message_primary}"
    )


def test_valid_rows_are_accepted(conn: psycopg.Connection) -> None:
    with conn.transaction(force_rollback=True):
        conn.execute(
            "INSERT INTO workout_sets (workout_exercise_id, set_number, reps, weight_kg, rir) "
            "VALUES (%s, 1, 8, 60.5, 2)",
            (WE1,),
        )
        conn.execute(
            "INSERT INTO calorie_targets (user_id, kcal, starts_on, ends_on, is_active) VALUES "
            "(%s, 2000, '2026-01-01', '2026-01-31', false), (%s, 2100, '2026-02-01', NULL, true)",
            (U1, U1),
        )
        conn.execute(
            "INSERT INTO ai_interactions (user_id, context_type, request_id, query_text, "
            "safety_level, outcome) VALUES (%s, 'coach', 'r', 'chest pain', 'emergency', 'refused')",
            (U1,),
        )


def test_deleting_a_user_cascades_and_deleting_a_plan_keeps_history(
    conn: psycopg.Connection,
) -> None:
    with conn.transaction(force_rollback=True):
        conn.execute("DELETE FROM workout_plans WHERE id = %s", (P1,))
        row = conn.execute(
            "SELECT plan_id, plan_day_id FROM workouts WHERE id = %s", (W1,)
        ).fetchone()
        assert row == (None, None)
        conn.execute("DELETE FROM users WHERE id = %s", (U1,))
        assert (
            conn.execute("SELECT count(*) FROM workouts WHERE user_id = %s", (U1,)).fetchone()[0]
            == 0
        )
        assert (
            conn.execute("SELECT count(*) FROM workout_exercises WHERE id = %s", (WE1,)).fetchone()[
                0
            ]
            == 0
        )
