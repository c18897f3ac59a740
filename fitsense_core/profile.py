"""What the coach knows about a person: profile, goals, preferences, health, recent training.

One shape for every consumer — prompt rendering, the safety policy, the plan contract's
semantic checks and the knowledge-based coach — built from synthetic table sets here and
from the database by the API.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import pandas as pd

from fitsense_core.programming import Athlete
from fitsense_core.reference import (
    CONDITIONS,
    CONDITIONS_BY_CODE,
    EQUIPMENT,
    GOALS,
    blocked_tags,
)


@dataclass(frozen=True)
class Injury:
    kind: str  # injury | surgery
    body_region: str
    status: str  # active | recovering | resolved
    description: str

    @property
    def current(self) -> bool:
        return self.status != "resolved"


@dataclass(frozen=True)
class LoggedSet:
    reps: int
    target_reps: int | None
    rir: int | None
    target_rir: int | None
    weight_kg: float | None


@dataclass(frozen=True)
class LoggedExercise:
    exercise_name: str
    sets: tuple[LoggedSet, ...]


@dataclass(frozen=True)
class LoggedSession:
    """One past workout as the coach sees it."""

    day: date
    plan_day_name: str | None
    exercises: tuple[LoggedExercise, ...]


@dataclass(frozen=True)
class RecentSignals:
    """Averages over the last weeks; None where nothing was logged."""

    sleep_hours: float | None = None
    sleep_target_hours: float | None = None
    calories: float | None = None
    calorie_target: float | None = None
    weight_trend_kg_per_week: float | None = None
    soreness: float | None = None
    energy: float | None = None
    sessions_per_week: float | None = None


@dataclass(frozen=True)
class UserProfile:
    user_id: str
    age: int
    sex: str
    height_cm: float
    activity_level: str
    goals: tuple[str, ...]
    experience: str
    days_per_week: int
    session_length_min: int
    equipment: frozenset[str]
    conditions: tuple[tuple[str, str], ...] = ()  # (condition code, severity)
    injuries: tuple[Injury, ...] = ()
    medications: tuple[str, ...] = ()
    allergies: tuple[str, ...] = ()
    weight_kg: float | None = None
    signals: RecentSignals = field(default_factory=RecentSignals)

    @property
    def goal(self) -> str:
        return self.goals[0] if self.goals else "general_fitness"

    @property
    def condition_codes(self) -> tuple[str, ...]:
        return tuple(code for code, _ in self.conditions)

    @property
    def current_injuries(self) -> tuple[Injury, ...]:
        return tuple(i for i in self.injuries if i.current)

    @property
    def blocked_tags(self) -> frozenset[str]:
        return blocked_tags(
            list(self.condition_codes), [i.body_region for i in self.current_injuries]
        )

    @property
    def needs_clearance_conditions(self) -> tuple[str, ...]:
        return tuple(c for c in self.condition_codes if CONDITIONS_BY_CODE[c].requires_clearance)

    @property
    def is_minor(self) -> bool:
        return self.age < 18

    def athlete(self) -> Athlete:
        return Athlete(
            goal=self.goal,
            experience=self.experience,
            days_per_week=self.days_per_week,
            session_length_min=self.session_length_min,
            equipment=self.equipment,
            blocked_tags=self.blocked_tags,
        )

    @property
    def age_band(self) -> str:
        for limit, band in ((18, "under_18"), (30, "18_29"), (45, "30_44"), (60, "45_59")):
            if self.age < limit:
                return band
        return "60_plus"

    @property
    def condition_flag(self) -> str:
        """Slice tag: does health constrain training?"""
        if self.needs_clearance_conditions:
            return "clearance_condition"
        if self.blocked_tags:
            return "restricted"
        return "none"


def profiles_from_tables(users: pd.DataFrame | object) -> dict[str, UserProfile]:
    """Profiles for every user of a synthetic ``synthetic_users`` table set."""
    from fitsense_core.synthetic.tables import TableSet

    assert isinstance(users, TableSet)
    t = users["user_traits"]
    goal_code = {g.id: g.code for g in GOALS}
    condition_code = {c.id: c.code for c in CONDITIONS}
    equipment_code = {e.id: e.code for e in EQUIPMENT}

    def grouped(table: str) -> dict[str, list[tuple]]:
        frame = users[table]
        out: dict[str, list[tuple]] = {}
        for row in frame.astype(object).itertuples(index=False):
            out.setdefault(str(row.user_id), []).append(row)
        return out

    goals = grouped("user_goals")
    kit = grouped("user_equipment")
    conditions = grouped("user_conditions")
    medical = grouped("user_medical_profiles")
    meds = grouped("user_medications")
    allergies = grouped("user_allergies")
    profiles = {}
    for row in t.astype(object).itertuples(index=False):
        uid = str(row.user_id)
        profiles[uid] = UserProfile(
            user_id=uid,
            age=int(row.age),
            sex=str(row.sex),
            height_cm=float(row.height_cm),
            activity_level=str(row.activity_level),
            goals=tuple(
                goal_code[str(g.goal_id)]
                for g in sorted(goals.get(uid, []), key=lambda g: g.priority)
            ),
            experience=str(row.experience),
            days_per_week=int(row.days_per_week),
            session_length_min=int(row.session_length_min),
            equipment=frozenset(equipment_code[str(e.equipment_id)] for e in kit.get(uid, [])),
            conditions=tuple(
                (condition_code[str(c.condition_id)], str(c.severity))
                for c in conditions.get(uid, [])
            ),
            injuries=tuple(
                Injury(str(m.kind), str(m.body_region), str(m.status), str(m.description))
                for m in medical.get(uid, [])
            ),
            medications=tuple(str(m.name) for m in meds.get(uid, [])),
            allergies=tuple(str(a.allergen) for a in allergies.get(uid, [])),
            weight_kg=float(row.start_weight_kg),
        )
    return profiles
