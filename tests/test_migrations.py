"""Migrations: up from empty, idempotent, all-or-nothing, and refusing a broken history."""

from __future__ import annotations

import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FuturesTimeout
from pathlib import Path

import psycopg
import pytest

from fitsense_core.errors import MigrationError
from fitsense_core.migrations import ADVISORY_LOCK_KEY, applied_versions, discover, migrate
from fitsense_core.reference import CONDITIONS, EQUIPMENT, GOALS, exercise_catalog


def _tables(url: str) -> set[str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
        ).fetchall()
    return {r[0] for r in rows}


def _copy_sql(tmp_path: Path, repo_root: Path) -> Path:
    target = tmp_path / "sql"
    shutil.copytree(repo_root / "sql", target)
    return target


def test_migrates_empty_database_and_records_versions(empty_db: str) -> None:
    report = migrate(empty_db)
    files = discover()
    assert report.applied == [m.version for m in files]
    assert applied_versions(empty_db) == [m.version for m in files]
    tables = _tables(empty_db)
    for table in (
        "users",
        "api_tokens",
        "user_profiles",
        "user_preferences",
        "user_goals",
        "user_conditions",
        "user_medical_profiles",
        "user_medications",
        "user_allergies",
        "equipment",
        "exercises",
        "exercise_equipment",
        "workout_plans",
        "plan_days",
        "plan_exercises",
        "plan_sets",
        "workouts",
        "workout_exercises",
        "workout_sets",
        "calorie_targets",
        "sleep_targets",
        "calorie_logs",
        "sleep_logs",
        "body_metrics",
        "readiness_logs",
        "ai_interactions",
        "model_versions",
        "model_promotions",
        "pipeline_run_reports",
        "schema_migrations",
    ):
        assert table in tables, table


def test_second_run_applies_nothing_and_keeps_reference_data(empty_db: str) -> None:
    migrate(empty_db)
    report = migrate(empty_db)
    assert report.applied == []
    with psycopg.connect(empty_db) as conn:
        counts = {
            t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
            for t in ("goals", "conditions", "equipment", "exercises")
        }
    assert counts == {
        "goals": len(GOALS),
        "conditions": len(CONDITIONS),
        "equipment": len(EQUIPMENT),
        "exercises": len(exercise_catalog()),
    }
    assert counts["exercises"] >= 120


def test_indexes_the_design_names_exist(migrated_db: str) -> None:
    with psycopg.connect(migrated_db) as conn:
        defs = [r[0] for r in conn.execute("SELECT indexdef FROM pg_indexes").fetchall()]
    joined = "\n".join(defs)
    assert "ON public.workouts USING btree (user_id, started_at)" in joined
    assert "ON public.ai_interactions USING btree (user_id, created_at)" in joined
    assert "ON public.workout_sets USING btree (workout_exercise_id, set_number)" in joined
    assert "ON public.workout_plans USING btree (user_id) WHERE is_active" in joined
    assert "ON public.calorie_targets USING btree (user_id) WHERE is_active" in joined
    assert "ON public.sleep_targets USING btree (user_id) WHERE is_active" in joined


def test_failing_migration_leaves_database_unchanged(
    empty_db: str, tmp_path: Path, repo_root: Path
) -> None:
    sql_dir = _copy_sql(tmp_path, repo_root)
    (sql_dir / "9999_broken.sql").write_text(
        "CREATE TABLE half_done (id INT);\nSELECT * FROM no_such_table;\n"
    )
    with pytest.raises(MigrationError) as err:
        migrate(empty_db, directory=sql_dir)
    assert "9999_broken.sql" in str(err.value)
    assert "no_such_table" in str(err.value)
    assert "unchanged" in str(err.value)
    assert _tables(empty_db) == set()  # not even schema_migrations


def test_failing_later_migration_keeps_earlier_state(
    empty_db: str, tmp_path: Path, repo_root: Path
) -> None:
    migrate(empty_db)
    before = applied_versions(empty_db)
    sql_dir = _copy_sql(tmp_path, repo_root)
    (sql_dir / "9998_ok.sql").write_text("CREATE TABLE fine_table (id INT);")
    (sql_dir / "9999_broken.sql").write_text("ALTER TABLE users ADD COLUMN x INT NOT NUL;")
    with pytest.raises(MigrationError):
        migrate(empty_db, directory=sql_dir)
    assert applied_versions(empty_db) == before
    assert "fine_table" not in _tables(empty_db)


def test_edited_applied_migration_is_refused(
    empty_db: str, tmp_path: Path, repo_root: Path
) -> None:
    sql_dir = _copy_sql(tmp_path, repo_root)
    migrate(empty_db, directory=sql_dir)
    first = sorted(sql_dir.glob("0001_*.sql"))[0]
    first.write_text(first.read_text() + "\n-- edited\n")
    with pytest.raises(MigrationError, match="changed after it was applied"):
        migrate(empty_db, directory=sql_dir)


def test_gap_in_history_is_refused(empty_db: str) -> None:
    migrate(empty_db)
    with psycopg.connect(empty_db) as conn:
        conn.execute("DELETE FROM schema_migrations WHERE version = '0002'")
    with pytest.raises(MigrationError, match="half-applied"):
        migrate(empty_db)


def test_unknown_recorded_migration_is_refused(empty_db: str) -> None:
    migrate(empty_db)
    with psycopg.connect(empty_db) as conn:
        conn.execute(
            "INSERT INTO schema_migrations (version, name, checksum) VALUES ('9000', 'x', 'y')"
        )
    with pytest.raises(MigrationError, match="9000"):
        migrate(empty_db)


def test_tables_without_history_are_refused(empty_db: str) -> None:
    with psycopg.connect(empty_db) as conn:
        conn.execute("CREATE TABLE users (id INT)")
    with pytest.raises(MigrationError, match="not created by"):
        migrate(empty_db)


def test_badly_named_file_is_refused(tmp_path: Path, repo_root: Path) -> None:
    sql_dir = _copy_sql(tmp_path, repo_root)
    (sql_dir / "add_stuff.sql").write_text("SELECT 1;")
    with pytest.raises(MigrationError, match=r"NNNN_description\.sql"):
        discover(sql_dir)


# --- issue 20 row 16: a start cannot hang behind a held lock -------------------------------


def _migrate_within(url: str, seconds: float, **kwargs) -> tuple[float, BaseException | None]:
    """Run ``migrate`` in a thread; (seconds it took, what it raised). A run still waiting
    after ``seconds`` counts as hung (the caller then releases the lock it waits on)."""
    pool = ThreadPoolExecutor(1)
    started = time.monotonic()
    future = pool.submit(migrate, url, **kwargs)
    try:
        future.result(timeout=seconds)
        error = None
    except FuturesTimeout:
        pool.shutdown(wait=False)
        return float("inf"), None
    except Exception as exc:  # returned to the test, which asserts on it
        error = exc
    pool.shutdown()
    return time.monotonic() - started, error


@pytest.mark.parametrize(
    "lock",
    [
        "LOCK TABLE exercises IN ACCESS EXCLUSIVE MODE",
        "SELECT * FROM goals FOR UPDATE",
        "LOCK TABLE schema_migrations IN ACCESS EXCLUSIVE MODE",
    ],
)
def test_a_held_lock_fails_the_migration_fast_and_clearly(
    fresh_migrated_db: str, monkeypatch: pytest.MonkeyPatch, lock: str
) -> None:
    monkeypatch.setenv("FITSENSE_MIGRATION_LOCK_TIMEOUT_S", "1")
    holder = psycopg.connect(fresh_migrated_db)
    try:
        holder.execute(lock)
        took, error = _migrate_within(fresh_migrated_db, 10)
    finally:
        holder.close()
    assert took < 5, "the migration waited on the lock"
    assert isinstance(error, MigrationError), error
    message = str(error)
    assert "lock" in message and "1 s" in message and "FITSENSE_MIGRATION_LOCK_TIMEOUT_S" in message
    assert "pg_stat_activity" in message and "unchanged" in message


def test_a_concurrent_migration_is_named_as_such(fresh_migrated_db: str, monkeypatch) -> None:
    monkeypatch.setenv("FITSENSE_MIGRATION_LOCK_TIMEOUT_S", "1")
    holder = psycopg.connect(fresh_migrated_db)
    try:
        holder.execute("SELECT pg_advisory_xact_lock(%s)", (ADVISORY_LOCK_KEY,))
        took, error = _migrate_within(fresh_migrated_db, 10)
    finally:
        holder.close()
    assert took < 5 and isinstance(error, MigrationError), error
    assert "another migration" in str(error)


def test_a_migration_over_the_statement_timeout_fails_clearly(
    empty_db: str, tmp_path: Path, repo_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FITSENSE_MIGRATION_STATEMENT_TIMEOUT_S", "1")
    sql_dir = _copy_sql(tmp_path, repo_root)
    (sql_dir / "9999_slow.sql").write_text("SELECT pg_sleep(30);")
    took, error = _migrate_within(empty_db, 15, directory=sql_dir)
    assert took < 8 and isinstance(error, MigrationError), error
    message = str(error)
    assert "9999_slow.sql" in message and "FITSENSE_MIGRATION_STATEMENT_TIMEOUT_S" in message
    assert _tables(empty_db) == set()


def test_timeouts_last_only_for_the_migration(fresh_migrated_db: str) -> None:
    migrate(fresh_migrated_db)
    with psycopg.connect(fresh_migrated_db) as conn:
        assert conn.execute("SHOW lock_timeout").fetchone()[0] == "0"
