"""Wire schemas of the exercise catalog and reference lists."""

from __future__ import annotations

from uuid import UUID

import msgspec


class ExerciseOut(msgspec.Struct):
    id: UUID
    slug: str
    name: str
    primary_muscle: str
    movement_pattern: str
    category: str
    equipment: list[str]
    contraindication_tags: list[str]
    is_timed: bool
    min_experience: str


class ExercisePage(msgspec.Struct):
    items: list[ExerciseOut]
    total: int
    limit: int
    offset: int


class EquipmentOut(msgspec.Struct):
    code: str
    name: str


class GoalOut(msgspec.Struct):
    code: str
    name: str
    description: str


class ConditionOut(msgspec.Struct):
    code: str
    name: str
    contraindication_tags: list[str]
    requires_clearance: bool
