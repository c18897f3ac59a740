"""The synthetic generator: deterministic, valid, realistic, and checked by real checks."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from datetime import date

import numpy as np
import pandas as pd
import pytest

from fitsense_core.errors import ConfigurationError
from fitsense_core.reference import exercises_by_slug
from fitsense_core.synthetic import SyntheticConfig, TableSet
from fitsense_core.synthetic.tables import DB_COLUMNS, row_index
from fitsense_core.synthetic.validation import (
    check_daily_signals,
    check_plans,
    check_users,
    check_workouts,
)
from tests.conftest import TEST_END, generate_all


def _digest(tablesets: list[TableSet]) -> str:
    h = hashlib.sha256()
    for ts in tablesets:
        for name in sorted(ts.tables):
            h.update(name.encode())
            h.update(
                pd.util.hash_pandas_object(ts.tables[name].astype(str), index=False)
                .to_numpy()
                .tobytes()
            )
    return h.hexdigest()


def test_same_seed_same_data(small_config: SyntheticConfig, small_run: list[TableSet]) -> None:
    assert _digest(generate_all(small_config)) == _digest(small_run)


def test_same_seed_same_data_across_processes(
    small_config: SyntheticConfig, small_run: list[TableSet]
) -> None:
    """Set iteration order depends on PYTHONHASHSEED; the data must not."""
    script = (
        "from datetime import date; from fitsense_core.synthetic import SyntheticConfig;"
        "from tests.conftest import generate_all; from tests.test_synthetic import _digest;"
        f"print(_digest(generate_all(SyntheticConfig(run_id={small_config.run_id!r}, "
        f"n_users={small_config.n_users}, seed={small_config.seed}, "
        f"history_end=date.fromisoformat({TEST_END.isoformat()!r})))))"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        env=env,
        check=True,
        cwd=os.path.dirname(os.path.dirname(__file__)),
    )
    assert out.stdout.strip() == _digest(small_run)


def test_different_seed_different_data(
    small_config: SyntheticConfig, small_run: list[TableSet]
) -> None:
    other = SyntheticConfig(
        run_id=small_config.run_id, n_users=small_config.n_users, seed=8, history_end=TEST_END
    )
    assert _digest(generate_all(other)) != _digest(small_run)


def test_tables_have_the_database_columns(small_run: list[TableSet]) -> None:
    tables = {name: df for ts in small_run for name, df in ts.tables.items()}
    for name, columns in DB_COLUMNS.items():
        assert set(columns) <= set(tables[name].columns), name
        assert len(tables[name]) > 0, name


def test_generated_run_passes_every_check(small_run: list[TableSet]) -> None:
    users, plans, workouts, signals = small_run
    for result in (
        check_users(users),
        check_plans(users, plans),
        check_workouts(users, plans, workouts),
        check_daily_signals(users, signals),
    ):
        assert result.passed, result.summary()


@pytest.mark.parametrize(
    "bad",
    [
        {"run_id": "has space"},
        {"n_users": 0},
        {"n_users": 100_001},
        {"history_days": 3},
    ],
)
def test_bad_config_is_refused(bad: dict) -> None:
    values = {"run_id": "ok", "n_users": 10} | bad
    with pytest.raises(ConfigurationError):
        SyntheticConfig(**values)


def _copy(ts: TableSet) -> TableSet:
    return TableSet({k: v.copy() for k, v in ts.tables.items()}, dict(ts.meta))


def test_plan_check_catches_contraindicated_exercise(small_run: list[TableSet]) -> None:
    users, plans, *_ = small_run
    traits = users["user_traits"]
    knee = traits[traits["blocked_tags"].astype(str).str.contains("knee_loading")]
    assert len(knee), "the sample should contain someone with a knee restriction"
    user_id = str(knee["user_id"].iloc[0])
    bad = _copy(plans)
    owners = bad["workout_plans"].set_index(bad["workout_plans"]["id"].astype(str))["user_id"]
    day_plan = bad["plan_days"].set_index(bad["plan_days"]["id"].astype(str))["plan_id"]
    pe = bad["plan_exercises"]
    owner_of_row = owners.reindex(day_plan.reindex(pe["plan_day_id"].astype(str)).astype(str))
    row = int(np.flatnonzero(owner_of_row.astype(str).to_numpy() == user_id)[0])
    squat = exercises_by_slug()["barbell_back_squat"]
    pe["exercise_id"] = pe["exercise_id"].astype(object)
    pe.loc[row, "exercise_id"] = squat.id
    result = check_plans(users, bad)
    assert not result.passed
    assert any(
        "contraindicated plan exercises" in p and "barbell_back_squat" in p for p in result.problems
    )


def test_plan_check_catches_wrong_day_count_and_two_active_plans(
    small_run: list[TableSet],
) -> None:
    users, plans, *_ = small_run
    bad = _copy(plans)
    bad["workout_plans"]["is_active"] = True
    prefs = users["user_preferences"].copy()
    prefs["days_per_week"] = (prefs["days_per_week"] % 7 + 1).astype(np.int16)
    wrong_days = _copy(users)
    wrong_days.tables["user_preferences"] = prefs
    problems = check_plans(wrong_days, bad).problems
    assert any("requested number of training days" in p for p in problems)
    if (bad["workout_plans"]["version"] > 1).any():
        assert any("more than one active plan" in p for p in problems)


def test_workout_check_catches_orphans_and_ranges(small_run: list[TableSet]) -> None:
    users, plans, workouts, _ = small_run
    bad = _copy(workouts)
    sets = bad["workout_sets"]
    sets["reps"] = sets["reps"].astype(np.int64)
    sets.loc[0, "reps"] = 500
    sets["workout_exercise_id"] = sets["workout_exercise_id"].astype(object)
    sets.loc[1, "workout_exercise_id"] = "00000000-0000-4000-8000-000000000000"
    w = bad["workouts"]
    w.loc[0, "ended_at"] = w.loc[0, "started_at"] - pd.Timedelta(minutes=5)
    problems = check_workouts(users, plans, bad).problems
    assert any("reps values outside 0..100" in p for p in problems)
    assert any("missing workout_exercise_id" in p for p in problems)
    assert any("end before they start" in p for p in problems)


def test_signal_check_catches_duplicates_and_second_active_target(
    small_run: list[TableSet],
) -> None:
    users, *_, signals = small_run
    bad = _copy(signals)
    logs = bad["sleep_logs"]
    bad.tables["sleep_logs"] = pd.concat([logs, logs.head(1)], ignore_index=True)
    targets = bad["calorie_targets"]
    targets["is_active"] = True
    problems = check_daily_signals(users, bad).problems
    assert any("sleep_logs rows share (user_id, log_date)" in p for p in problems)
    if len(targets) > len(users["users"]):
        assert any("more than one active calorie_targets" in p for p in problems)


def test_user_check_catches_unknown_goal_and_bad_enum(small_run: list[TableSet]) -> None:
    users = _copy(small_run[0])
    goals = users["user_goals"]
    goals["goal_id"] = goals["goal_id"].astype(object)
    goals.loc[0, "goal_id"] = "00000000-0000-4000-8000-00000000beef"
    profiles = users["user_profiles"]
    profiles["sex"] = profiles["sex"].astype(object)
    profiles.loc[0, "sex"] = "robot"
    problems = check_users(users).problems
    assert any("missing goal_id" in p for p in problems)
    assert any("sex values not in" in p for p in problems)


def test_history_is_realistic(small_run: list[TableSet], small_config: SyntheticConfig) -> None:
    users, _plans, workouts, signals = small_run
    traits = users["user_traits"].sort_values("user_index")

    # Weight follows the goal: fat-loss users trend down, muscle-gain users up.
    bm = signals["body_metrics"].dropna(subset=["weight_kg"]).copy()
    bm["user"] = row_index(bm["user_id"])
    bm["day"] = (
        pd.to_datetime(bm["log_date"].astype(str)) - pd.Timestamp(small_config.history_start)
    ).dt.days
    slopes = bm.groupby("user").apply(
        lambda g: np.polyfit(g["day"], g["weight_kg"], 1)[0] * 7 if len(g) > 10 else np.nan,
        include_groups=False,
    )
    goal = traits.set_index("user_index")["primary_goal"].astype(str)
    assert slopes[goal.reindex(slopes.index) == "fat_loss"].mean() < -0.1
    assert slopes[goal.reindex(slopes.index) == "muscle_gain"].mean() > 0.05

    # Loads progress: later sessions of the same exercise are heavier on average.
    w = workouts["workouts"][["id", "user_id", "started_at"]].astype({"id": str})
    we = workouts["workout_exercises"][["id", "workout_id", "exercise_id"]].astype(str)
    ws = workouts["workout_sets"].dropna(subset=["weight_kg"])
    ws = ws[~ws["is_warmup"]].astype({"workout_exercise_id": str})
    merged = ws.merge(we, left_on="workout_exercise_id", right_on="id").merge(
        w, left_on="workout_id", right_on="id"
    )
    merged["half"] = merged["started_at"] >= merged["started_at"].min() + pd.Timedelta(days=45)
    by_half = merged.groupby(["user_id", "exercise_id", "half"])["weight_kg"].mean().unstack()
    by_half = by_half.dropna()
    assert (by_half[True] > by_half[False]).mean() > 0.6

    # Adherence: people do fewer sessions than planned, but most of them.
    planned_per_week = users["user_preferences"]["days_per_week"].sum()
    done_per_week = len(workouts["workouts"]) / (small_config.history_days / 7)
    assert 0.5 * planned_per_week < done_per_week < planned_per_week

    # Soreness is higher the day after training.
    rl = signals["readiness_logs"].copy()
    rl["user"] = row_index(rl["user_id"])
    trained = {
        (u, d)
        for u, d in zip(
            row_index(workouts["workouts"]["user_id"]),
            workouts["workouts"]["started_at"].dt.date + pd.Timedelta(days=1),
            strict=True,
        )
    }
    after = np.array([(u, d) in trained for u, d in zip(rl["user"], rl["log_date"], strict=True)])
    assert rl["soreness"][after].mean() > rl["soreness"][~after].mean() + 1

    # Missing days exist but most days are logged by someone.
    assert 0.2 < len(signals["calorie_logs"]) / (len(traits) * small_config.history_days) < 0.95


def test_config_round_trips_through_metadata() -> None:
    config = SyntheticConfig(run_id="r1", n_users=3, seed=1, history_end=date(2026, 1, 1))
    assert SyntheticConfig.from_meta(json.loads(json.dumps(config.as_meta()))) == config


@pytest.mark.slow
def test_ten_thousand_users_generate_and_pass_checks() -> None:
    config = SyntheticConfig(run_id="scale", n_users=10_000, seed=1, history_end=TEST_END)
    users, plans, workouts, signals = generate_all(config)
    assert len(users["users"]) == 10_000
    assert len(workouts["workout_sets"]) > 1_000_000
    for result in (
        check_users(users),
        check_plans(users, plans),
        check_workouts(users, plans, workouts),
        check_daily_signals(users, signals),
    ):
        assert result.passed, result.summary()
