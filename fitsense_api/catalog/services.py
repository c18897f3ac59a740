"""Catalog queries: all SQL of the catalog context."""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

from fitsense_api.catalog.schemas import (
    ConditionOut,
    EquipmentOut,
    ExerciseOut,
    ExercisePage,
    GoalOut,
)
from fitsense_api.errors import NotFound


@dataclass(frozen=True)
class ExerciseFilter:
    muscle: str | None = None
    pattern: str | None = None
    category: str | None = None
    # Only exercises whose equipment is all in this list (None: no limit).
    equipment: list[str] | None = None
    # Exclude exercises carrying any of these contraindication tags.
    blocked_tags: list[str] | None = None
    max_experience: str | None = None
    search: str | None = None


def like_pattern(text: str) -> str:
    """A substring ILIKE pattern with the user's wildcards taken literally."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


LIST_EXERCISES = """
SELECT e.id, e.slug, e.name, e.primary_muscle, e.movement_pattern, e.category,
       e.contraindication_tags, e.is_timed, e.min_experience,
       coalesce((SELECT array_agg(q.code ORDER BY q.code) FROM exercise_equipment x
                 JOIN equipment q ON q.id = x.equipment_id WHERE x.exercise_id = e.id),
                '{}') AS equipment,
       count(*) OVER () AS total
FROM exercises e
WHERE ($1::text IS NULL OR e.primary_muscle = $1)
  AND ($2::text IS NULL OR e.movement_pattern = $2)
  AND ($3::text IS NULL OR e.category = $3)
  AND ($4::text[] IS NULL OR NOT EXISTS (
        SELECT 1 FROM exercise_equipment x JOIN equipment q ON q.id = x.equipment_id
        WHERE x.exercise_id = e.id AND q.code <> ALL($4::text[])))
  AND ($5::text[] IS NULL OR NOT (e.contraindication_tags && $5::text[]))
  AND ($6::text IS NULL OR array_position(ARRAY['beginner', 'intermediate', 'advanced'],
        e.min_experience) <= array_position(ARRAY['beginner', 'intermediate', 'advanced'], $6))
  AND ($7::text IS NULL OR e.name ILIKE $7 OR e.slug ILIKE $7)
ORDER BY e.name
LIMIT $8 OFFSET $9
"""

GET_EXERCISE = """
SELECT e.id, e.slug, e.name, e.primary_muscle, e.movement_pattern, e.category,
       e.contraindication_tags, e.is_timed, e.min_experience,
       coalesce((SELECT array_agg(q.code ORDER BY q.code) FROM exercise_equipment x
                 JOIN equipment q ON q.id = x.equipment_id WHERE x.exercise_id = e.id),
                '{}') AS equipment
FROM exercises e WHERE e.id::text = $1 OR e.slug = $1
"""


def _exercise(row: asyncpg.Record) -> ExerciseOut:
    return ExerciseOut(
        id=row["id"],
        slug=row["slug"],
        name=row["name"],
        primary_muscle=row["primary_muscle"],
        movement_pattern=row["movement_pattern"],
        category=row["category"],
        equipment=list(row["equipment"]),
        contraindication_tags=list(row["contraindication_tags"]),
        is_timed=row["is_timed"],
        min_experience=row["min_experience"],
    )


async def list_exercises(
    conn: asyncpg.Connection, where: ExerciseFilter, limit: int, offset: int
) -> ExercisePage:
    values = (
        where.muscle,
        where.pattern,
        where.category,
        where.equipment,
        where.blocked_tags,
        where.max_experience,
        like_pattern(where.search) if where.search else None,
    )
    rows = await conn.fetch(LIST_EXERCISES, *values, limit, offset)
    if rows:
        total = rows[0]["total"]
    elif offset:
        # Past the end: the total still tells the client where the end is.
        first = await conn.fetchrow(LIST_EXERCISES, *values, 1, 0)
        total = first["total"] if first else 0
    else:
        total = 0
    return ExercisePage(items=[_exercise(r) for r in rows], total=total, limit=limit, offset=offset)


async def get_exercise(conn: asyncpg.Connection, key: str) -> ExerciseOut:
    row = await conn.fetchrow(GET_EXERCISE, key)
    if row is None:
        raise NotFound(f"no exercise {key!r} in the catalog")
    return _exercise(row)


async def list_equipment(conn: asyncpg.Connection) -> list[EquipmentOut]:
    rows = await conn.fetch("SELECT code, name FROM equipment ORDER BY name")
    return [EquipmentOut(code=r["code"], name=r["name"]) for r in rows]


async def list_goals(conn: asyncpg.Connection) -> list[GoalOut]:
    rows = await conn.fetch("SELECT code, name, description FROM goals ORDER BY code")
    return [GoalOut(**dict(r)) for r in rows]


async def list_conditions(conn: asyncpg.Connection) -> list[ConditionOut]:
    rows = await conn.fetch(
        "SELECT code, name, contraindication_tags, requires_clearance FROM conditions ORDER BY name"
    )
    return [
        ConditionOut(
            code=r["code"],
            name=r["name"],
            contraindication_tags=list(r["contraindication_tags"]),
            requires_clearance=r["requires_clearance"],
        )
        for r in rows
    ]
