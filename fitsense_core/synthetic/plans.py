"""Synthetic plan blueprints: built by the training rules for each person, with versions.

Every user gets a first plan when their history starts; about a third progress to a
second version part-way through (one more set on main lifts, one rep closer to failure
on accessories), which becomes the active one and keeps the first as its parent.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd

from fitsense_core.programming import Athlete, PlannedDay, build_week, progress_week
from fitsense_core.synthetic.config import SyntheticConfig
from fitsense_core.synthetic.tables import IdFactory, TableSet, arrow_strings

SECOND_VERSION_SHARE = 0.35


def generate_plans(users: TableSet) -> TableSet:
    config = SyntheticConfig.from_meta(users.meta["config"])
    ids = IdFactory(config.run_id)
    traits = users["user_traits"]
    equipment_codes = _equipment_codes(users)
    start = datetime.combine(config.history_start, datetime.min.time(), tzinfo=UTC)
    switch_day = config.history_days // 2

    plans, days, exercises = [], [], []
    set_counts, set_schemes = [], []
    for row in traits.itertuples(index=False):
        user_index = int(row.user_index)
        rng = random.Random(f"{config.seed}/plans/{user_index}")
        athlete = Athlete(
            goal=row.primary_goal,
            experience=row.experience,
            days_per_week=int(row.days_per_week),
            session_length_min=int(row.session_length_min),
            equipment=equipment_codes.get(user_index, frozenset()),
            blocked_tags=frozenset(t for t in row.blocked_tags.split("|") if t),
        )
        week = build_week(athlete, rng)
        versions: list[tuple[list[PlannedDay], datetime]] = [(week, start - timedelta(hours=12))]
        if rng.random() < SECOND_VERSION_SHARE:
            created = start + timedelta(
                days=switch_day + rng.randint(-10, 10), hours=rng.randint(6, 21)
            )
            versions.append((progress_week(week, athlete.experience), created))

        for version, (plan_week, created_at) in enumerate(versions, start=1):
            plan_index = len(plans)
            plans.append(
                (
                    user_index,
                    f"{athlete.goal.replace('_', ' ').title()} plan",
                    version,
                    plan_index - 1 if version > 1 else -1,
                    version == len(versions),
                    created_at,
                )
            )
            for day in plan_week:
                day_index = len(days)
                days.append(
                    (
                        plan_index,
                        day.name,
                        day.day_order,
                        "Rest or light walking" if day.is_rest else None,
                    )
                )
                for pe in day.exercises:
                    exercises.append((day_index, pe.exercise.id, pe.position, pe.notes))
                    set_counts.append(pe.scheme.sets)
                    set_schemes.append((pe.scheme.reps, pe.scheme.rir, pe.scheme.rest_seconds))

    plan_arr = np.array([(p[0], 0, p[2], p[3]) for p in plans], dtype=np.int64)
    workout_plans = pd.DataFrame(
        {
            "id": ids.sequence("workout_plans", len(plans)),
            "user_id": ids.ids("users", plan_arr[:, 0]),
            "name": arrow_strings([p[1] for p in plans]),
            "version": plan_arr[:, 2].astype(np.int32),
            "parent_plan_id": ids.ids("workout_plans", plan_arr[:, 3]).where(plan_arr[:, 3] >= 0),
            "source": "rules",
            "is_active": np.array([p[4] for p in plans], dtype=bool),
            "created_at": pd.to_datetime([p[5] for p in plans], utc=True),
        }
    )
    day_plan = np.array([d[0] for d in days], dtype=np.int64)
    plan_days = pd.DataFrame(
        {
            "id": ids.sequence("plan_days", len(days)),
            "plan_id": ids.ids("workout_plans", day_plan),
            "name": arrow_strings([d[1] for d in days]),
            "day_order": np.array([d[2] for d in days], dtype=np.int16),
            "notes": arrow_strings([d[3] for d in days]),
        }
    )
    ex_day = np.array([e[0] for e in exercises], dtype=np.int64)
    plan_exercises = pd.DataFrame(
        {
            "id": ids.sequence("plan_exercises", len(exercises)),
            "plan_day_id": ids.ids("plan_days", ex_day),
            "exercise_id": arrow_strings([e[1] for e in exercises]),
            "position": np.array([e[2] for e in exercises], dtype=np.int16),
            "notes": arrow_strings([e[3] for e in exercises]),
        }
    )
    counts = np.array(set_counts, dtype=np.int64)
    owner = np.repeat(np.arange(len(exercises)), counts)
    first_of_group = np.repeat(np.cumsum(counts) - counts, counts)
    schemes = np.array(set_schemes, dtype=np.int16).reshape(-1, 3)
    plan_sets = pd.DataFrame(
        {
            "id": ids.sequence("plan_sets", len(owner)),
            "plan_exercise_id": ids.ids("plan_exercises", owner),
            "set_number": (np.arange(len(owner)) - first_of_group + 1).astype(np.int16),
            "target_reps": schemes[owner, 0],
            "target_rir": schemes[owner, 1],
            "rest_seconds": schemes[owner, 2],
        }
    )
    return TableSet(
        {
            "workout_plans": workout_plans,
            "plan_days": plan_days,
            "plan_exercises": plan_exercises,
            "plan_sets": plan_sets,
        },
        dict(users.meta),
    )


def _equipment_codes(users: TableSet) -> dict[int, frozenset[str]]:
    from fitsense_core.reference import EQUIPMENT
    from fitsense_core.synthetic.tables import row_index

    by_id = {e.id: e.code for e in EQUIPMENT}
    ue = users["user_equipment"]
    owners = row_index(ue["user_id"])
    codes: dict[int, set[str]] = {}
    for owner, equipment_id in zip(owners, ue["equipment_id"].astype(str), strict=True):
        codes.setdefault(int(owner), set()).add(by_id[equipment_id])
    return {k: frozenset(v) for k, v in codes.items()}
