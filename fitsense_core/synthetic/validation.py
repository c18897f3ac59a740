"""Checks on synthetic table sets: referential integrity, ranges and training safety.

Each check returns a :class:`CheckResult` listing every problem found (with a few
example rows), so an asset check can show exactly what is wrong. The same rules hold
in PostgreSQL as constraints; checking here catches a bad generator before anything is
written, and covers what SQL cannot (contraindications, equipment, days per week).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from fitsense_core.reference import (
    ACTIVITY_LEVELS,
    CONDITIONS,
    EQUIPMENT,
    EXPERIENCE_LEVELS,
    GOALS,
    SEXES,
    exercise_catalog,
)
from fitsense_core.synthetic.tables import TableSet

EXAMPLES = 3


@dataclass
class CheckResult:
    name: str
    problems: list[str] = field(default_factory=list)
    checked_rows: int = 0

    @property
    def passed(self) -> bool:
        return not self.problems

    def add(self, problem: str) -> None:
        self.problems.append(problem)

    def summary(self) -> str:
        if self.passed:
            return f"{self.name}: {self.checked_rows:,} rows, no problems"
        return f"{self.name}: {len(self.problems)} problem(s): " + "; ".join(self.problems[:10])


def _examples(values: pd.Series | np.ndarray) -> str:
    shown = [str(v) for v in list(pd.unique(np.asarray(values)))[:EXAMPLES]]
    return ", ".join(shown)


def _references(
    result: CheckResult, child: pd.DataFrame, column: str, parent_ids: pd.Series | set, what: str
) -> None:
    values = child[column].dropna().astype(str)
    parents = parent_ids if isinstance(parent_ids, set) else set(parent_ids.astype(str))
    orphans = values[~values.isin(parents)]
    if len(orphans):
        result.add(
            f"{len(orphans)} {what} rows reference a missing {column} (e.g. {_examples(orphans)})"
        )


def _in_range(
    result: CheckResult, frame: pd.DataFrame, column: str, lo: float, hi: float, what: str
) -> None:
    values = pd.to_numeric(frame[column], errors="coerce").dropna()
    bad = values[(values < lo) | (values > hi)]
    if len(bad):
        result.add(f"{len(bad)} {what}.{column} values outside {lo}..{hi} (e.g. {_examples(bad)})")


def _in_set(
    result: CheckResult, frame: pd.DataFrame, column: str, allowed: tuple[str, ...], what: str
) -> None:
    values = frame[column].astype(str)
    bad = values[~values.isin(allowed)]
    if len(bad):
        result.add(f"{len(bad)} {what}.{column} values not in {allowed} (e.g. {_examples(bad)})")


def _unique(result: CheckResult, frame: pd.DataFrame, columns: list[str], what: str) -> None:
    dupes = frame.duplicated(columns, keep=False)
    if dupes.any():
        result.add(f"{int(dupes.sum())} {what} rows share ({', '.join(columns)})")


def check_users(users: TableSet) -> CheckResult:
    r = CheckResult("synthetic_users", checked_rows=sum(users.row_counts().values()))
    u = users["users"]
    ids = set(u["id"].astype(str))
    _unique(r, u, ["id"], "users")
    _unique(r, u, ["email"], "users")
    emails = u["email"].astype(str)
    if (emails != emails.str.strip().str.lower()).any():
        r.add("some emails are not normalised to lower case")
    for table in ("user_profiles", "user_preferences"):
        frame = users[table]
        _references(r, frame, "user_id", ids, table)
        _unique(r, frame, ["user_id"], table)
        if len(frame) != len(u):
            r.add(f"{table} has {len(frame)} rows for {len(u)} users")
    for table in (
        "user_equipment",
        "user_goals",
        "user_conditions",
        "user_medical_profiles",
        "user_medications",
        "user_allergies",
    ):
        _references(r, users[table], "user_id", ids, table)
    _references(
        r, users["user_equipment"], "equipment_id", {e.id for e in EQUIPMENT}, "user_equipment"
    )
    _references(r, users["user_goals"], "goal_id", {g.id for g in GOALS}, "user_goals")
    _references(
        r, users["user_conditions"], "condition_id", {c.id for c in CONDITIONS}, "user_conditions"
    )
    goals = users["user_goals"]
    _unique(r, goals, ["user_id", "priority"], "user_goals")
    missing_goal = ids - set(goals["user_id"].astype(str))
    if missing_goal:
        r.add(f"{len(missing_goal)} users have no goal")
    gaps = goals.groupby("user_id", observed=True)["priority"].agg(["max", "count"])
    if (gaps["max"] != gaps["count"]).any():
        r.add("goal priorities are not 1..n for every user")
    profiles = users["user_profiles"]
    _in_set(r, profiles, "sex", SEXES, "user_profiles")
    _in_set(r, profiles, "activity_level", ACTIVITY_LEVELS, "user_profiles")
    _in_range(r, profiles, "height_cm", 50, 272, "user_profiles")
    prefs = users["user_preferences"]
    _in_set(r, prefs, "experience", EXPERIENCE_LEVELS, "user_preferences")
    _in_range(r, prefs, "days_per_week", 1, 7, "user_preferences")
    _in_range(r, prefs, "session_length_min", 10, 240, "user_preferences")
    return r


def _blocked_and_equipment(users: TableSet) -> tuple[pd.Series, pd.Series]:
    """Per user id: blocked contraindication tags and available equipment codes."""
    traits = users["user_traits"]
    blocked = pd.Series(
        [frozenset(t for t in s.split("|") if t) for s in traits["blocked_tags"].astype(str)],
        index=traits["user_id"].astype(str),
    )
    code = {e.id: e.code for e in EQUIPMENT}
    ue = users["user_equipment"]
    kit = (
        pd.DataFrame(
            {"user_id": ue["user_id"].astype(str), "code": ue["equipment_id"].astype(str).map(code)}
        )
        .groupby("user_id")["code"]
        .agg(frozenset)
    )
    kit = kit.reindex(blocked.index).apply(lambda v: v if isinstance(v, frozenset) else frozenset())
    return blocked, kit


def _exercise_owners(plans: TableSet) -> pd.DataFrame:
    """plan_exercises with the owning plan, user and day."""
    days = plans["plan_days"][["id", "plan_id", "name"]].rename(
        columns={"id": "plan_day_id", "name": "day_name"}
    )
    owners = plans["workout_plans"][["id", "user_id", "is_active"]].rename(
        columns={"id": "plan_id"}
    )
    pe = plans["plan_exercises"].astype({"plan_day_id": str, "exercise_id": str})
    days = days.astype({"plan_day_id": str, "plan_id": str})
    owners = owners.astype({"plan_id": str, "user_id": str})
    return pe.merge(days, on="plan_day_id", how="left").merge(owners, on="plan_id", how="left")


def check_plans(users: TableSet, plans: TableSet) -> CheckResult:
    r = CheckResult("synthetic_plans", checked_rows=sum(plans.row_counts().values()))
    user_ids = set(users["users"]["id"].astype(str))
    wp, pd_, pe, ps = (
        plans[t] for t in ("workout_plans", "plan_days", "plan_exercises", "plan_sets")
    )
    _references(r, wp, "user_id", user_ids, "workout_plans")
    _references(r, wp, "parent_plan_id", wp["id"], "workout_plans")
    _references(r, pd_, "plan_id", wp["id"], "plan_days")
    _references(r, pe, "plan_day_id", pd_["id"], "plan_exercises")
    catalog = {e.id: e for e in exercise_catalog()}
    _references(r, pe, "exercise_id", set(catalog), "plan_exercises")
    _references(r, ps, "plan_exercise_id", pe["id"], "plan_sets")
    _unique(r, wp, ["user_id", "version"], "workout_plans")
    _unique(r, pd_, ["plan_id", "day_order"], "plan_days")
    _unique(r, pe, ["plan_day_id", "position"], "plan_exercises")
    _unique(r, ps, ["plan_exercise_id", "set_number"], "plan_sets")
    _in_range(r, pd_, "day_order", 1, 7, "plan_days")
    _in_range(r, pe, "position", 1, 12, "plan_exercises")
    _in_range(r, ps, "set_number", 1, 10, "plan_sets")
    _in_range(r, ps, "target_reps", 1, 30, "plan_sets")
    _in_range(r, ps, "target_rir", 0, 5, "plan_sets")
    _in_range(r, ps, "rest_seconds", 0, 600, "plan_sets")

    active = wp[wp["is_active"].astype(bool)]
    per_user = active["user_id"].astype(str).value_counts()
    if (per_user > 1).any():
        r.add(f"{int((per_user > 1).sum())} users have more than one active plan")
    if missing := len(user_ids - set(per_user.index)):
        r.add(f"{missing} users have no active plan")

    owners = _exercise_owners(plans)
    per_day = owners.groupby("plan_day_id").size()
    day_names = pd_.set_index(pd_["id"].astype(str))["name"].astype(str)
    rest_like = day_names.str.match(r"^(REST|RECOVERY)_\d+$")
    counts = per_day.reindex(day_names.index, fill_value=0)
    if (rest_like & (counts > 0)).any():
        r.add(f"{int((rest_like & (counts > 0)).sum())} rest days have exercises")
    if (~rest_like & (counts == 0)).any():
        r.add(f"{int((~rest_like & (counts == 0)).sum())} training days have no exercises")
    if (counts > 12).any():
        r.add(f"{int((counts > 12).sum())} training days have more than 12 exercises")

    prefs = users["user_preferences"].set_index(users["user_preferences"]["user_id"].astype(str))
    training = counts[~rest_like & (counts > 0)]
    day_plan = pd_.set_index(pd_["id"].astype(str))["plan_id"].astype(str)
    plan_user = wp.set_index(wp["id"].astype(str))["user_id"].astype(str)
    days_per_plan = day_plan.loc[training.index].value_counts()
    wanted = (
        prefs["days_per_week"].reindex(plan_user.loc[days_per_plan.index].to_numpy()).to_numpy()
    )
    wrong = days_per_plan.to_numpy() != wanted
    if wrong.any():
        r.add(
            f"{int(wrong.sum())} plans do not have the requested number of training days "
            f"(e.g. plans {_examples(days_per_plan.index[wrong])})"
        )

    r.problems += _training_safety(users, owners, "plan")
    return r


def _training_safety(users: TableSet, rows: pd.DataFrame, what: str) -> list[str]:
    """Contraindicated exercises and missing equipment in rows with user_id/exercise_id."""
    blocked, kit = _blocked_and_equipment(users)
    catalog = {e.id: e for e in exercise_catalog()}
    problems = []
    pairs = rows[["user_id", "exercise_id"]].astype(str).drop_duplicates()
    unsafe, unequipped = [], []
    for user_id, exercise_id in pairs.itertuples(index=False):
        exercise = catalog.get(exercise_id)
        if exercise is None:
            continue
        if set(exercise.contraindication_tags) & blocked.get(user_id, frozenset()):
            unsafe.append(f"{exercise.slug} for user {user_id}")
        if not set(exercise.equipment) <= kit.get(user_id, frozenset()):
            unequipped.append(f"{exercise.slug} for user {user_id}")
    if unsafe:
        problems.append(
            f"{len(unsafe)} contraindicated {what} exercises (e.g. {', '.join(unsafe[:EXAMPLES])})"
        )
    if unequipped:
        problems.append(
            f"{len(unequipped)} {what} exercises need equipment the user lacks (e.g. "
            f"{', '.join(unequipped[:EXAMPLES])})"
        )
    return problems


def check_workouts(users: TableSet, plans: TableSet, workouts: TableSet) -> CheckResult:
    r = CheckResult("synthetic_workouts", checked_rows=sum(workouts.row_counts().values()))
    w, we, ws = workouts["workouts"], workouts["workout_exercises"], workouts["workout_sets"]
    _references(r, w, "user_id", users["users"]["id"], "workouts")
    _references(r, w, "plan_id", plans["workout_plans"]["id"], "workouts")
    _references(r, w, "plan_day_id", plans["plan_days"]["id"], "workouts")
    _references(r, we, "workout_id", w["id"], "workout_exercises")
    _references(r, we, "exercise_id", {e.id for e in exercise_catalog()}, "workout_exercises")
    _references(r, ws, "workout_exercise_id", we["id"], "workout_sets")
    _unique(r, we, ["workout_id", "position"], "workout_exercises")
    _unique(r, ws, ["workout_exercise_id", "set_number"], "workout_sets")
    _in_range(r, ws, "set_number", 1, 30, "workout_sets")
    _in_range(r, ws, "reps", 0, 100, "workout_sets")
    _in_range(r, ws, "rir", 0, 10, "workout_sets")
    _in_range(r, ws, "weight_kg", 0, 1000, "workout_sets")
    if (w["ended_at"] < w["started_at"]).any():
        r.add(f"{int((w['ended_at'] < w['started_at']).sum())} workouts end before they start")

    # A workout's plan day belongs to its plan, and its plan to its user.
    days = plans["plan_days"].astype({"id": str, "plan_id": str}).set_index("id")["plan_id"]
    owner = plans["workout_plans"].astype({"id": str, "user_id": str}).set_index("id")["user_id"]
    linked = w.dropna(subset=["plan_day_id"]).astype(
        {"plan_day_id": str, "plan_id": str, "user_id": str}
    )
    if (days.reindex(linked["plan_day_id"]).to_numpy() != linked["plan_id"].to_numpy()).any():
        r.add("some workouts reference a plan day of another plan")
    if (owner.reindex(linked["plan_id"]).to_numpy() != linked["user_id"].to_numpy()).any():
        r.add("some workouts reference another user's plan")

    done = (
        we[["workout_id", "exercise_id"]]
        .astype(str)
        .merge(
            w[["id", "user_id"]].astype(str).rename(columns={"id": "workout_id"}), on="workout_id"
        )
    )
    r.problems += _training_safety(users, done, "logged")
    return r


def check_daily_signals(users: TableSet, signals: TableSet) -> CheckResult:
    r = CheckResult("synthetic_daily_signals", checked_rows=sum(signals.row_counts().values()))
    user_ids = set(users["users"]["id"].astype(str))
    ranges = {
        "calorie_logs": {"kcal": (0, 20000)},
        "sleep_logs": {"hours": (0, 24)},
        "body_metrics": {"weight_kg": (20, 400), "body_fat_pct": (2, 75)},
        "readiness_logs": {
            "soreness": (0, 10),
            "energy": (0, 10),
            "mood": (0, 10),
            "resting_hr": (25, 220),
            "steps": (0, 150000),
        },
    }
    for table, columns in ranges.items():
        frame = signals[table]
        _references(r, frame, "user_id", user_ids, table)
        _unique(r, frame, ["user_id", "log_date"], table)
        for column, (lo, hi) in columns.items():
            _in_range(r, frame, column, lo, hi, table)
    for table, column, lo, hi in (
        ("calorie_targets", "kcal", 800, 8000),
        ("sleep_targets", "hours", 3, 14),
    ):
        frame = signals[table]
        _references(r, frame, "user_id", user_ids, table)
        _in_range(r, frame, column, lo, hi, table)
        active = frame[frame["is_active"].astype(bool)]["user_id"].astype(str).value_counts()
        if (active > 1).any():
            r.add(f"{int((active > 1).sum())} users have more than one active {table} row")
        closed = frame.dropna(subset=["ends_on"])
        if (closed["ends_on"] < closed["starts_on"]).any():
            r.add(f"some {table} end before they start")
    return r
