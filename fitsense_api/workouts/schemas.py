"""Wire schemas of logged training: a session with its exercises and their sets."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

import msgspec

MAX_EXERCISES = 30
MAX_SETS = 30
MAX_NOTES = 2000
MAX_EXERCISE_NOTES = 1000

Reps = Annotated[int, msgspec.Meta(ge=0, le=100, examples=[8])]
WeightKg = Annotated[
    float,
    msgspec.Meta(ge=0, le=1000, description="Load in kg, stored to 2 decimals.", examples=[82.5]),
]
Rir = Annotated[int, msgspec.Meta(ge=0, le=10, description="Reps in reserve.", examples=[2])]
DurationSeconds = Annotated[
    int, msgspec.Meta(ge=1, le=86400, description="Length of a timed set.", examples=[45])
]
Instant = Annotated[
    datetime,
    msgspec.Meta(
        tz=True,
        description="RFC 3339 date-time with a UTC offset.",
        examples=["2026-11-02T18:30:00+01:00"],
    ),
]
WorkoutNotes = Annotated[str, msgspec.Meta(max_length=MAX_NOTES, examples=["Felt strong."])]
ExerciseNotes = Annotated[
    str, msgspec.Meta(max_length=MAX_EXERCISE_NOTES, examples=["Paused reps."])
]


class SetIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """One logged set; its number is its place in the exercise's list (1-based)."""

    reps: Reps
    weight_kg: WeightKg | None = None
    rir: Rir | None = None
    duration_seconds: DurationSeconds | None = None
    is_warmup: bool = False


class WorkoutExerciseIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """One exercise done in the session; its position is its place in the list (1-based)."""

    exercise_id: Annotated[
        UUID,
        msgspec.Meta(
            description="An exercise id from GET /exercises.",
            examples=[UUID("5b2a3f7e-0c1d-4e8a-9b6f-2d4c8e1a7f30")],
        ),
    ]
    sets: Annotated[list[SetIn], msgspec.Meta(min_length=1, max_length=MAX_SETS)]
    notes: ExerciseNotes | None = None


class WorkoutIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """A whole session, as POST creates it and PUT replaces it."""

    started_at: Instant
    exercises: Annotated[
        list[WorkoutExerciseIn], msgspec.Meta(min_length=1, max_length=MAX_EXERCISES)
    ]
    ended_at: Instant | None = None
    notes: WorkoutNotes | None = None
    plan_id: (
        Annotated[UUID, msgspec.Meta(description="One of the caller's plans (GET /plans).")] | None
    ) = None
    plan_day_id: (
        Annotated[UUID, msgspec.Meta(description="A day of that plan; needs plan_id.")] | None
    ) = None


class SetOut(msgspec.Struct):
    id: UUID
    set_number: int
    reps: int
    weight_kg: float | None
    rir: int | None
    duration_seconds: int | None
    is_warmup: bool


class WorkoutExerciseOut(msgspec.Struct):
    id: UUID
    position: int
    exercise_id: UUID
    slug: str
    name: str
    notes: str | None
    sets: list[SetOut]


class WorkoutOut(msgspec.Struct):
    id: UUID
    started_at: datetime
    ended_at: datetime | None
    plan_id: UUID | None
    plan_day_id: UUID | None
    notes: str | None
    created_at: datetime
    exercises: list[WorkoutExerciseOut]


class WorkoutSummary(msgspec.Struct):
    """A session in a list: its totals instead of its sets."""

    id: UUID
    started_at: datetime
    ended_at: datetime | None
    plan_id: UUID | None
    plan_day_id: UUID | None
    notes: str | None
    exercise_count: int
    set_count: int
    total_reps: Annotated[int, msgspec.Meta(description="Reps of every set, warm-ups included.")]
    volume_kg: Annotated[
        float, msgspec.Meta(description="Sum of reps x weight_kg over the non-warm-up sets.")
    ]


class WorkoutPage(msgspec.Struct):
    items: list[WorkoutSummary]
    next_cursor: Annotated[
        str | None,
        msgspec.Meta(description="Pass as `cursor` for the next (older) page; null at the end."),
    ]
