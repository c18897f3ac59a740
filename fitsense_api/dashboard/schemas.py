"""Wire schema of the dashboard document (everything is computed in one SQL statement)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

import msgspec

MIN_WEEKS = 1
MAX_WEEKS = 52
DEFAULT_WEEKS = 8


class MuscleVolume(msgspec.Struct):
    muscle: Annotated[str, msgspec.Meta(description="Primary muscle group of the exercises.")]
    sets: Annotated[int, msgspec.Meta(description="Working sets (warm-ups excluded).")]
    reps: int
    tonnage_kg: Annotated[float, msgspec.Meta(description="Sum of reps × weight_kg.")]


class WeekReadiness(msgspec.Struct):
    days_logged: int
    soreness: float | None
    energy: float | None
    mood: float | None
    resting_hr: float | None
    steps: float | None


class WeekOut(msgspec.Struct):
    """One ISO week (Monday to Sunday) of the window."""

    week_start: date
    week_end: Annotated[date, msgspec.Meta(description="Sunday, or today for the current week.")]
    in_progress: Annotated[bool, msgspec.Meta(description="The current week, not over yet.")]
    sessions_done: int
    sessions_planned: int
    adherence: Annotated[
        float | None, msgspec.Meta(description="done / planned; null when nothing is planned.")
    ]
    volume: list[MuscleVolume]
    readiness: WeekReadiness


class AdherenceOut(msgspec.Struct):
    planned_from: Annotated[
        Literal["plan", "preferences", "none"],
        msgspec.Meta(
            description="Where the sessions per week come from: the active plan's training "
            "days, else the preferred days per week."
        ),
    ]
    planned_per_week: int
    sessions_done: int
    sessions_planned: int
    ratio: float | None


class RirOut(msgspec.Struct):
    """Logged against planned reps in reserve, over working sets matched to a plan set
    (the session's plan day → the same exercise → the n-th working set to set n)."""

    matched_sets: int
    mean_logged_rir: float | None
    mean_target_rir: float | None
    mean_difference: Annotated[
        float | None,
        msgspec.Meta(description="logged − target: above 0 the sets were easier than planned."),
    ]


class SleepOut(msgspec.Struct):
    average_hours: float | None
    target_hours: Annotated[float | None, msgspec.Meta(description="The active sleep target.")]
    difference_hours: float | None
    days_logged: int


class CaloriesOut(msgspec.Struct):
    average_kcal: float | None
    target_kcal: Annotated[int | None, msgspec.Meta(description="The active calorie target.")]
    difference_kcal: float | None
    days_logged: int


class WeightOut(msgspec.Struct):
    slope_kg_per_week: Annotated[
        float | None,
        msgspec.Meta(description="Least-squares slope of weight over time; null below 2 points."),
    ]
    latest_kg: float | None
    latest_on: date | None
    points: int


class DashboardOut(msgspec.Struct):
    today: date
    weeks: int
    window_start: Annotated[date, msgspec.Meta(description="Monday of the first week.")]
    window_end: Annotated[date, msgspec.Meta(description="Today: later rows are not counted.")]
    adherence: AdherenceOut
    rir: RirOut
    sleep: SleepOut
    calories: CaloriesOut
    weight: WeightOut
    by_week: list[WeekOut]
