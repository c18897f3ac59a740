"""What the coach would know about each synthetic person: profile with recent signals,
the active plan (as a contract plan) and the last sessions with logged vs target sets."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date

import numpy as np
import pandas as pd

from fitsense_core.coaching_context import LAST_SESSIONS, RECENT_DAYS
from fitsense_core.plan_contract import Plan, PlanDay, PlanExercise, PlanSet
from fitsense_core.profile import (
    LoggedExercise,
    LoggedSession,
    LoggedSet,
    RecentSignals,
    UserProfile,
    profiles_from_tables,
)
from fitsense_core.reference import exercise_catalog
from fitsense_core.synthetic.config import SyntheticConfig
from fitsense_core.synthetic.tables import TableSet


@dataclass(frozen=True)
class UserContext:
    profile: UserProfile
    current_plan: Plan | None
    recent_sessions: tuple[LoggedSession, ...]


def _mean(values: pd.Series) -> float | None:
    values = pd.to_numeric(values, errors="coerce").dropna()
    return round(float(values.mean()), 2) if len(values) else None


def _recent_signals(
    config: SyntheticConfig, signals: TableSet, workouts: TableSet
) -> dict[str, RecentSignals]:
    end = pd.Timestamp(config.history_end)
    since = end - pd.Timedelta(days=RECENT_DAYS - 1)

    def recent(table: str) -> pd.DataFrame:
        frame = signals[table].copy()
        frame["log_date"] = pd.to_datetime(frame["log_date"].astype(str))
        frame["user_id"] = frame["user_id"].astype(str)
        return frame[frame["log_date"] >= since]

    sleep = recent("sleep_logs").groupby("user_id")["hours"].apply(_mean)
    kcal = recent("calorie_logs").groupby("user_id")["kcal"].apply(_mean)
    ready = recent("readiness_logs")
    soreness = ready.groupby("user_id")["soreness"].apply(_mean)
    energy = ready.groupby("user_id")["energy"].apply(_mean)

    def active(table: str, column: str) -> pd.Series:
        frame = signals[table]
        frame = frame[frame["is_active"].astype(bool)]
        return pd.Series(frame[column].astype(float).to_numpy(), index=frame["user_id"].astype(str))

    sleep_target, kcal_target = active("sleep_targets", "hours"), active("calorie_targets", "kcal")

    weights = signals["body_metrics"].dropna(subset=["weight_kg"]).copy()
    weights["day"] = (pd.to_datetime(weights["log_date"].astype(str)) - end).dt.days
    weights["user_id"] = weights["user_id"].astype(str)
    trend = {}
    for user_id, group in weights.groupby("user_id"):
        if len(group) >= 8:
            slope = np.polyfit(group["day"].to_numpy(float), group["weight_kg"].to_numpy(float), 1)[
                0
            ]
            trend[user_id] = round(float(slope) * 7, 2)

    w = workouts["workouts"]
    started = pd.to_datetime(w["started_at"], utc=True).dt.tz_localize(None)
    recent_sessions = w[started >= since]["user_id"].astype(str).value_counts()

    users = set(sleep.index) | set(kcal.index) | set(trend) | set(recent_sessions.index)
    users |= set(sleep_target.index)

    def f(value: object) -> float | None:
        return None if value is None or pd.isna(value) else round(float(value), 2)

    return {
        u: RecentSignals(
            sleep_hours=f(sleep.get(u)),
            sleep_target_hours=f(sleep_target.get(u)),
            calories=f(kcal.get(u)),
            calorie_target=f(kcal_target.get(u)),
            weight_trend_kg_per_week=trend.get(u),
            soreness=f(soreness.get(u)),
            energy=f(energy.get(u)),
            sessions_per_week=round(float(recent_sessions.get(u, 0)) / (RECENT_DAYS / 7), 2),
        )
        for u in users
    }


def _active_plans(plans: TableSet) -> dict[str, Plan]:
    names = {e.id: e.name for e in exercise_catalog()}
    wp = plans["workout_plans"]
    active = wp[wp["is_active"].astype(bool)].astype({"id": str, "user_id": str})
    days = plans["plan_days"].astype({"id": str, "plan_id": str})
    days = days[days["plan_id"].isin(set(active["id"]))]
    exercises = plans["plan_exercises"].astype({"id": str, "plan_day_id": str, "exercise_id": str})
    exercises = exercises[exercises["plan_day_id"].isin(set(days["id"]))]
    sets = plans["plan_sets"].astype({"plan_exercise_id": str})
    sets = sets[sets["plan_exercise_id"].isin(set(exercises["id"]))]

    sets_by_ex: dict[str, list[PlanSet]] = {}
    for row in sets.itertuples(index=False):
        sets_by_ex.setdefault(row.plan_exercise_id, []).append(
            PlanSet(
                set_number=int(row.set_number),
                target_reps=int(row.target_reps),
                target_rir=int(row.target_rir),
                rest_seconds=int(row.rest_seconds),
            )
        )
    ex_by_day: dict[str, list[PlanExercise]] = {}
    for row in exercises.itertuples(index=False):
        notes = None if pd.isna(row.notes) else str(row.notes)
        ex_by_day.setdefault(row.plan_day_id, []).append(
            PlanExercise(
                exercise_name=names[row.exercise_id],
                position=int(row.position),
                notes=notes,
                sets=sets_by_ex[row.id],
            )
        )
    days_by_plan: dict[str, list[PlanDay]] = {}
    for row in days.itertuples(index=False):
        notes = None if pd.isna(row.notes) else str(row.notes)
        days_by_plan.setdefault(row.plan_id, []).append(
            PlanDay(
                name=str(row.name),
                day_order=int(row.day_order),
                notes=notes,
                exercises=ex_by_day.get(row.id, []),
            )
        )
    return {
        row.user_id: Plan(
            plan_name=str(row.name), days=sorted(days_by_plan[row.id], key=lambda d: d.day_order)
        )
        for row in active.itertuples(index=False)
    }


def _last_sessions(plans: TableSet, workouts: TableSet) -> dict[str, tuple[LoggedSession, ...]]:
    names = {e.id: e.name for e in exercise_catalog()}
    w = workouts["workouts"].astype({"id": str, "user_id": str, "plan_day_id": str})
    w = w.sort_values(["user_id", "started_at"]).groupby("user_id").tail(LAST_SESSIONS)
    we = workouts["workout_exercises"].astype({"id": str, "workout_id": str, "exercise_id": str})
    we = we[we["workout_id"].isin(set(w["id"]))]
    ws = workouts["workout_sets"].astype({"workout_exercise_id": str})
    ws = ws[ws["workout_exercise_id"].isin(set(we["id"]))].copy()
    warm = ws.groupby("workout_exercise_id")["is_warmup"].any()
    ws["target_set"] = ws["set_number"].astype(int) - ws["workout_exercise_id"].map(warm).astype(
        int
    )

    pe = (
        plans["plan_exercises"]
        .astype({"id": str, "plan_day_id": str})[["id", "plan_day_id", "position"]]
        .rename(columns={"id": "plan_exercise_id"})
    )
    ps = (
        plans["plan_sets"]
        .astype({"plan_exercise_id": str})[
            ["plan_exercise_id", "set_number", "target_reps", "target_rir"]
        ]
        .rename(columns={"set_number": "target_set"})
    )
    detail = (
        ws[~ws["is_warmup"].astype(bool)]
        .merge(we.rename(columns={"id": "workout_exercise_id"}), on="workout_exercise_id")
        .merge(w[["id", "plan_day_id"]].rename(columns={"id": "workout_id"}), on="workout_id")
        .merge(pe, on=["plan_day_id", "position"], how="left")
        .merge(ps, on=["plan_exercise_id", "target_set"], how="left")
        .sort_values(["workout_id", "position", "set_number"])
    )
    day_names = plans["plan_days"].astype({"id": str}).set_index("id")["name"].astype(str)

    def opt(value: object) -> int | None:
        return None if pd.isna(value) else int(value)

    # One pass over plain columns: per-group DataFrame access is far too slow here.
    columns = [
        detail[c].to_numpy(dtype=object)
        for c in (
            "workout_id",
            "position",
            "exercise_id",
            "reps",
            "target_reps",
            "rir",
            "target_rir",
            "weight_kg",
        )
    ]
    grouped: dict[tuple[str, int, str], list[LoggedSet]] = {}
    for workout_id, position, exercise_id, reps, t_reps, rir, t_rir, weight in zip(
        *columns, strict=True
    ):
        grouped.setdefault((workout_id, int(position), exercise_id), []).append(
            LoggedSet(
                reps=int(reps),
                target_reps=opt(t_reps),
                rir=opt(rir),
                target_rir=opt(t_rir),
                weight_kg=None if pd.isna(weight) else float(weight),
            )
        )
    by_workout: dict[str, list[LoggedExercise]] = {}
    for (workout_id, _position, exercise_id), logged in sorted(grouped.items()):
        by_workout.setdefault(workout_id, []).append(
            LoggedExercise(exercise_name=names[exercise_id], sets=tuple(logged))
        )
    sessions: dict[str, list[LoggedSession]] = {}
    for row in w.itertuples(index=False):
        sessions.setdefault(row.user_id, []).append(
            LoggedSession(
                day=pd.Timestamp(row.started_at).date(),
                plan_day_name=day_names.get(row.plan_day_id),
                exercises=tuple(by_workout.get(row.id, [])),
            )
        )
    return {u: tuple(s) for u, s in sessions.items()}


def user_contexts(
    users: TableSet, plans: TableSet, workouts: TableSet, signals: TableSet
) -> dict[str, UserContext]:
    """Every synthetic person's coaching context, keyed by user id."""
    config = SyntheticConfig.from_meta(users.meta["config"])
    profiles = profiles_from_tables(users)
    recent = _recent_signals(config, signals, workouts)
    active = _active_plans(plans)
    sessions = _last_sessions(plans, workouts)
    return {
        uid: UserContext(
            profile=replace(profile, signals=recent.get(uid, RecentSignals())),
            current_plan=active.get(uid),
            recent_sessions=sessions.get(uid, ()),
        )
        for uid, profile in profiles.items()
    }


def history_end(users: TableSet) -> date:
    return SyntheticConfig.from_meta(users.meta["config"]).history_end
