"""Loading runs into PostgreSQL: complete, re-runnable, and all-or-nothing on bad data."""

from __future__ import annotations

import numpy as np
import psycopg
import pytest

from fitsense_core.errors import DataValidationError
from fitsense_core.synthetic import SyntheticConfig, TableSet, generate_run
from fitsense_core.synthetic.load import count_run_rows, load_run
from tests.conftest import TEST_END, generate_all


def _counts(url: str, run_id: str) -> dict[str, int]:
    with psycopg.connect(url) as conn:
        return count_run_rows(conn, run_id)


def _fk_count(url: str) -> int:
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT count(*) FROM pg_constraint WHERE contype = 'f'").fetchone()[0]


def _expected(run: list[TableSet]) -> dict[str, int]:
    return {name: n for ts in run for name, n in ts.row_counts().items() if name != "user_traits"}


@pytest.mark.parametrize("strategy", ["row_triggers", "validate_after"])
def test_load_writes_every_row(
    fresh_migrated_db: str, small_run: list[TableSet], strategy: str
) -> None:
    fks = _fk_count(fresh_migrated_db)
    report = load_run(fresh_migrated_db, "test-small", small_run, fk_strategy=strategy)
    assert report.strategy == strategy
    assert report.rows == _expected(small_run)
    assert _counts(fresh_migrated_db, "test-small") == _expected(small_run)
    assert _fk_count(fresh_migrated_db) == fks  # constraints are back after a bulk load


def test_reloading_a_run_replaces_it_and_other_runs_stay(
    fresh_migrated_db: str, small_run: list[TableSet]
) -> None:
    other = generate_all(
        SyntheticConfig(run_id="other-run", n_users=5, seed=3, history_end=TEST_END)
    )
    load_run(fresh_migrated_db, "other-run", other)
    load_run(fresh_migrated_db, "test-small", small_run)
    report = load_run(fresh_migrated_db, "test-small", small_run)
    assert report.deleted_users == len(small_run[0]["users"])
    assert _counts(fresh_migrated_db, "test-small") == _expected(small_run)
    assert _counts(fresh_migrated_db, "other-run") == _expected(other)


def _with_bad_set(run: list[TableSet]) -> list[TableSet]:
    workouts = run[2]
    sets = workouts["workout_sets"].copy()
    sets["reps"] = sets["reps"].astype(np.int64)
    sets.loc[len(sets) // 2, "reps"] = 500
    bad = TableSet({**workouts.tables, "workout_sets": sets}, workouts.meta)
    return [run[0], run[1], bad, run[3]]


@pytest.mark.parametrize("strategy", ["row_triggers", "validate_after"])
def test_bad_row_fails_cleanly_and_keeps_the_previous_load(
    fresh_migrated_db: str, small_run: list[TableSet], strategy: str
) -> None:
    load_run(fresh_migrated_db, "test-small", small_run)
    before = _counts(fresh_migrated_db, "test-small")
    fks = _fk_count(fresh_migrated_db)
    with pytest.raises(DataValidationError, match=r"loading workout_sets failed.*reps_check"):
        load_run(fresh_migrated_db, "test-small", _with_bad_set(small_run), fk_strategy=strategy)
    assert _counts(fresh_migrated_db, "test-small") == before
    assert _fk_count(fresh_migrated_db) == fks


def test_broken_reference_is_caught_by_the_bulk_check(
    fresh_migrated_db: str, small_run: list[TableSet]
) -> None:
    workouts = small_run[2]
    sets = workouts["workout_sets"].copy()
    sets["workout_exercise_id"] = sets["workout_exercise_id"].astype(object)
    sets.loc[3, "workout_exercise_id"] = "00000000-0000-4000-8000-00000000dead"
    bad = [
        small_run[0],
        small_run[1],
        TableSet({**workouts.tables, "workout_sets": sets}),
        small_run[3],
    ]
    with pytest.raises(
        DataValidationError, match="workout_sets breaks workout_sets_workout_exercise"
    ):
        load_run(fresh_migrated_db, "test-small", bad, fk_strategy="validate_after")
    assert _counts(fresh_migrated_db, "test-small")["users"] == 0
    assert _fk_count(fresh_migrated_db) > 0


def test_missing_tables_and_foreign_runs_are_refused(
    fresh_migrated_db: str, small_run: list[TableSet]
) -> None:
    with pytest.raises(DataValidationError, match="missing tables: workouts"):
        load_run(fresh_migrated_db, "test-small", small_run[:2])
    assert _counts(fresh_migrated_db, "test-small")["users"] == 0
    with pytest.raises(DataValidationError, match="cannot be loaded as run elsewhere"):
        load_run(fresh_migrated_db, "elsewhere", small_run)
    with pytest.raises(DataValidationError, match="arrived before"):
        load_run(fresh_migrated_db, "test-small", [small_run[1], small_run[0]])


@pytest.mark.slow
def test_ten_thousand_users_load(fresh_migrated_db: str) -> None:
    config = SyntheticConfig(run_id="scale", n_users=10_000, seed=2, history_end=TEST_END)

    report = load_run(fresh_migrated_db, "scale", generate_run(config))
    assert report.strategy == "validate_after"
    assert report.rows["users"] == 10_000
    assert _counts(fresh_migrated_db, "scale") == report.rows
