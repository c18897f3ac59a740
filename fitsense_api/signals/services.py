"""Daily signals and targets: all SQL of the signals context.

Each kind has its own table and its own statements, written out below; ``SIGNALS`` and
``TARGETS`` map a kind to them (no SQL is ever built from a kind's name). A day's value
is an upsert on the one-row-per-user-per-day unique constraint, a bulk import is one
``unnest`` upsert (all or nothing), and setting a target closes the active one under a
row lock, with the one-active-per-user partial unique index as the last word.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID

import asyncpg

from fitsense_api.errors import Conflict, NotFound, Unprocessable
from fitsense_api.signals.schemas import (
    ENTRY_TYPES,
    MAX_RANGE_DAYS,
    VALUE_TYPES,
    ActiveTargets,
    BulkIn,
    CalorieTarget,
    SleepTarget,
    decode,
)

EARLIEST = date(1900, 1, 1)
DEFAULT_RANGE_DAYS = 30

# --- calories ----------------------------------------------------------------------

UPSERT_CALORIES = """
INSERT INTO calorie_logs (user_id, log_date, kcal) VALUES ($1, $2, $3)
ON CONFLICT (user_id, log_date) DO UPDATE SET kcal = EXCLUDED.kcal
RETURNING log_date AS date, kcal
"""
BULK_CALORIES = """
INSERT INTO calorie_logs (user_id, log_date, kcal)
SELECT $1, x.log_date, x.kcal FROM unnest($2::date[], $3::int[]) AS x(log_date, kcal)
ON CONFLICT (user_id, log_date) DO UPDATE SET kcal = EXCLUDED.kcal
"""
LIST_CALORIES = """
SELECT log_date AS date, kcal FROM calorie_logs
WHERE user_id = $1 AND log_date BETWEEN $2 AND $3 ORDER BY log_date
"""
DELETE_CALORIES = "DELETE FROM calorie_logs WHERE user_id = $1 AND log_date = $2"

# --- sleep -------------------------------------------------------------------------

UPSERT_SLEEP = """
INSERT INTO sleep_logs (user_id, log_date, hours)
VALUES ($1, $2, round($3::float8::numeric, 2))
ON CONFLICT (user_id, log_date) DO UPDATE SET hours = EXCLUDED.hours
RETURNING log_date AS date, hours::float8 AS hours
"""
BULK_SLEEP = """
INSERT INTO sleep_logs (user_id, log_date, hours)
SELECT $1, x.log_date, round(x.hours::numeric, 2)
FROM unnest($2::date[], $3::float8[]) AS x(log_date, hours)
ON CONFLICT (user_id, log_date) DO UPDATE SET hours = EXCLUDED.hours
"""
LIST_SLEEP = """
SELECT log_date AS date, hours::float8 AS hours FROM sleep_logs
WHERE user_id = $1 AND log_date BETWEEN $2 AND $3 ORDER BY log_date
"""
DELETE_SLEEP = "DELETE FROM sleep_logs WHERE user_id = $1 AND log_date = $2"

# --- body --------------------------------------------------------------------------

UPSERT_BODY = """
INSERT INTO body_metrics (user_id, log_date, weight_kg, body_fat_pct)
VALUES ($1, $2, round($3::float8::numeric, 2), round($4::float8::numeric, 1))
ON CONFLICT (user_id, log_date) DO UPDATE
SET weight_kg = EXCLUDED.weight_kg, body_fat_pct = EXCLUDED.body_fat_pct
RETURNING log_date AS date, weight_kg::float8 AS weight_kg, body_fat_pct::float8 AS body_fat_pct
"""
BULK_BODY = """
INSERT INTO body_metrics (user_id, log_date, weight_kg, body_fat_pct)
SELECT $1, x.log_date, round(x.weight_kg::numeric, 2), round(x.body_fat_pct::numeric, 1)
FROM unnest($2::date[], $3::float8[], $4::float8[]) AS x(log_date, weight_kg, body_fat_pct)
ON CONFLICT (user_id, log_date) DO UPDATE
SET weight_kg = EXCLUDED.weight_kg, body_fat_pct = EXCLUDED.body_fat_pct
"""
LIST_BODY = """
SELECT log_date AS date, weight_kg::float8 AS weight_kg, body_fat_pct::float8 AS body_fat_pct
FROM body_metrics
WHERE user_id = $1 AND log_date BETWEEN $2 AND $3 ORDER BY log_date
"""
DELETE_BODY = "DELETE FROM body_metrics WHERE user_id = $1 AND log_date = $2"

# --- readiness ---------------------------------------------------------------------

UPSERT_READINESS = """
INSERT INTO readiness_logs (user_id, log_date, soreness, energy, mood, resting_hr, steps)
VALUES ($1, $2, $3, $4, $5, $6, $7)
ON CONFLICT (user_id, log_date) DO UPDATE
SET soreness = EXCLUDED.soreness, energy = EXCLUDED.energy, mood = EXCLUDED.mood,
    resting_hr = EXCLUDED.resting_hr, steps = EXCLUDED.steps
RETURNING log_date AS date, soreness, energy, mood, resting_hr, steps
"""
BULK_READINESS = """
INSERT INTO readiness_logs (user_id, log_date, soreness, energy, mood, resting_hr, steps)
SELECT $1, x.*
FROM unnest($2::date[], $3::int[], $4::int[], $5::int[], $6::int[], $7::int[])
     AS x(log_date, soreness, energy, mood, resting_hr, steps)
ON CONFLICT (user_id, log_date) DO UPDATE
SET soreness = EXCLUDED.soreness, energy = EXCLUDED.energy, mood = EXCLUDED.mood,
    resting_hr = EXCLUDED.resting_hr, steps = EXCLUDED.steps
"""
LIST_READINESS = """
SELECT log_date AS date, soreness, energy, mood, resting_hr, steps FROM readiness_logs
WHERE user_id = $1 AND log_date BETWEEN $2 AND $3 ORDER BY log_date
"""
DELETE_READINESS = "DELETE FROM readiness_logs WHERE user_id = $1 AND log_date = $2"


@dataclass(frozen=True)
class SignalSql:
    """A kind's statements and the value fields they take, in parameter order."""

    upsert: str
    bulk: str
    select: str
    delete: str
    fields: tuple[str, ...]
    # body and readiness: every field is optional, but a row needs one of them.
    needs_one: bool


SIGNALS: dict[str, SignalSql] = {
    "calories": SignalSql(
        UPSERT_CALORIES, BULK_CALORIES, LIST_CALORIES, DELETE_CALORIES, ("kcal",), False
    ),
    "sleep": SignalSql(UPSERT_SLEEP, BULK_SLEEP, LIST_SLEEP, DELETE_SLEEP, ("hours",), False),
    "body": SignalSql(
        UPSERT_BODY, BULK_BODY, LIST_BODY, DELETE_BODY, ("weight_kg", "body_fat_pct"), True
    ),
    "readiness": SignalSql(
        UPSERT_READINESS,
        BULK_READINESS,
        LIST_READINESS,
        DELETE_READINESS,
        ("soreness", "energy", "mood", "resting_hr", "steps"),
        True,
    ),
}


def today() -> date:
    return datetime.now(UTC).date()


_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def parse_day(value: str | None, field: str) -> date | None:
    """An ISO date (YYYY-MM-DD) from a query string, no earlier than any logged day (and
    far enough from the calendar's start for the default range to be counted back)."""
    if value is None:
        return None
    try:
        if not _ISO_DATE.fullmatch(value):
            raise ValueError(value)
        day = date.fromisoformat(value)
    except ValueError:
        raise Unprocessable.field(field, "must be a date like 2026-11-02") from None
    if day < EARLIEST:
        raise Unprocessable.field(field, "must be on or after 1900-01-01 (no day is logged before)")
    return day


def check_day(day: date, field: str) -> None:
    """A logged day: not before 1900, at most a day ahead (time zones east of UTC)."""
    if day < EARLIEST:
        raise Unprocessable.field(field, "must be on or after 1900-01-01")
    if day > today() + timedelta(days=1):
        raise Unprocessable.field(field, "must not be more than a day in the future")


def _values(sql: SignalSql, value: Any, field: str) -> tuple[Any, ...]:
    values = tuple(getattr(value, name) for name in sql.fields)
    if sql.needs_one and all(v is None for v in values):
        raise Unprocessable.field(field, "needs at least one of " + ", ".join(sql.fields))
    return values


async def put_signal(
    conn: asyncpg.Connection, user_id: UUID, kind: str, day: date, body: Any
) -> Any:
    """Upsert the day's row; every value field is replaced (absent ones become null)."""
    sql = SIGNALS[kind]
    check_day(day, "path.day")
    values = _values(sql, decode(body, VALUE_TYPES[kind]), "body")
    row = await conn.fetchrow(sql.upsert, user_id, day, *values)
    return ENTRY_TYPES[kind](**dict(row))


async def import_signals(conn: asyncpg.Connection, user_id: UUID, kind: str, data: BulkIn) -> int:
    """All entries in one statement: either every day is stored or none is."""
    sql = SIGNALS[kind]
    entries = decode(data.entries, list[ENTRY_TYPES[kind]], "entries")  # type: ignore[valid-type]
    first_seen: dict[date, int] = {}
    rows = []
    for i, entry in enumerate(entries):
        check_day(entry.date, f"entries[{i}].date")
        if entry.date in first_seen:
            raise Unprocessable.field(
                f"entries[{i}].date",
                f"{entry.date} is already given at entries[{first_seen[entry.date]}]",
            )
        first_seen[entry.date] = i
        rows.append(_values(sql, entry, f"entries[{i}]"))
    columns = [list(column) for column in zip(*rows, strict=True)]
    status = await conn.execute(sql.bulk, user_id, list(first_seen), *columns)
    return int(status.rsplit(" ", 1)[-1])


async def list_signals(
    conn: asyncpg.Connection, user_id: UUID, kind: str, start: date | None, end: date | None
) -> list[Any]:
    """Entries from ``start`` to ``end``, both inclusive (default: the last 30 days)."""
    end = end or today()
    start = start or end - timedelta(days=DEFAULT_RANGE_DAYS - 1)
    if start > end:
        raise Unprocessable.field("query.from", "must not be after `to`")
    if (end - start).days + 1 > MAX_RANGE_DAYS:
        raise Unprocessable.field("query.to", f"a range covers at most {MAX_RANGE_DAYS} days")
    entry_type = ENTRY_TYPES[kind]
    return [
        entry_type(**dict(r)) for r in await conn.fetch(SIGNALS[kind].select, user_id, start, end)
    ]


async def delete_signal(conn: asyncpg.Connection, user_id: UUID, kind: str, day: date) -> None:
    status = await conn.execute(SIGNALS[kind].delete, user_id, day)
    if status == "DELETE 0":
        raise NotFound(f"no {kind} entry on {day}")


# --- targets -----------------------------------------------------------------------

LOCK_ACTIVE_CALORIES = """
SELECT id, starts_on FROM calorie_targets WHERE user_id = $1 AND is_active FOR UPDATE
"""
CLOSE_CALORIES = "UPDATE calorie_targets SET is_active = false, ends_on = $2 WHERE id = $1"
INSERT_CALORIES_TARGET = """
INSERT INTO calorie_targets (user_id, kcal, starts_on) VALUES ($1, $2, $3)
RETURNING id, kcal, starts_on, ends_on, is_active
"""
CALORIES_HISTORY = """
SELECT id, kcal, starts_on, ends_on, is_active FROM calorie_targets
WHERE user_id = $1 ORDER BY starts_on DESC, is_active DESC, id
"""

LOCK_ACTIVE_SLEEP = """
SELECT id, starts_on FROM sleep_targets WHERE user_id = $1 AND is_active FOR UPDATE
"""
CLOSE_SLEEP = "UPDATE sleep_targets SET is_active = false, ends_on = $2 WHERE id = $1"
INSERT_SLEEP_TARGET = """
INSERT INTO sleep_targets (user_id, hours, starts_on)
VALUES ($1, round($2::float8::numeric, 1), $3)
RETURNING id, hours::float8 AS hours, starts_on, ends_on, is_active
"""
SLEEP_HISTORY = """
SELECT id, hours::float8 AS hours, starts_on, ends_on, is_active FROM sleep_targets
WHERE user_id = $1 ORDER BY starts_on DESC, is_active DESC, id
"""

ACTIVE_TARGETS = """
SELECT c.id AS c_id, c.kcal, c.starts_on AS c_starts_on,
       s.id AS s_id, s.hours::float8 AS hours, s.starts_on AS s_starts_on
FROM (SELECT $1::uuid AS user_id) u
LEFT JOIN calorie_targets c ON c.user_id = u.user_id AND c.is_active
LEFT JOIN sleep_targets s ON s.user_id = u.user_id AND s.is_active
"""


@dataclass(frozen=True)
class TargetSql:
    lock_active: str
    close: str
    insert: str
    history: str
    one_active_index: str
    out: type[Any]


TARGETS: dict[str, TargetSql] = {
    "calories": TargetSql(
        LOCK_ACTIVE_CALORIES,
        CLOSE_CALORIES,
        INSERT_CALORIES_TARGET,
        CALORIES_HISTORY,
        "calorie_targets_one_active_per_user",
        CalorieTarget,
    ),
    "sleep": TargetSql(
        LOCK_ACTIVE_SLEEP,
        CLOSE_SLEEP,
        INSERT_SLEEP_TARGET,
        SLEEP_HISTORY,
        "sleep_targets_one_active_per_user",
        SleepTarget,
    ),
}


async def set_target(
    conn: asyncpg.Connection, user_id: UUID, kind: str, value: float, starts_on: date | None
) -> Any:
    """Close the active target the day before ``starts_on`` and make the new one active."""
    sql = TARGETS[kind]
    starts_on = starts_on or today()
    if starts_on < EARLIEST:
        raise Unprocessable.field("starts_on", "must be on or after 1900-01-01")
    if starts_on > today() + timedelta(days=366):
        raise Unprocessable.field("starts_on", "must be within a year from today")
    try:
        async with conn.transaction():
            active = await conn.fetchrow(sql.lock_active, user_id)
            if active is not None:
                if starts_on <= active["starts_on"]:
                    raise Unprocessable.field(
                        "starts_on",
                        f"must be after the current target's start ({active['starts_on']})",
                    )
                await conn.execute(sql.close, active["id"], starts_on - timedelta(days=1))
            row = await conn.fetchrow(sql.insert, user_id, value, starts_on)
    except asyncpg.UniqueViolationError as exc:
        if exc.constraint_name != sql.one_active_index:
            raise
        # Another request made a target active between our lock and our insert.
        raise Conflict("another target was set at the same time; retry") from exc
    return sql.out(**dict(row))


async def active_targets(conn: asyncpg.Connection, user_id: UUID) -> ActiveTargets:
    row = await conn.fetchrow(ACTIVE_TARGETS, user_id)
    calories = sleep = None
    if row["c_id"] is not None:
        calories = CalorieTarget(
            id=row["c_id"],
            kcal=row["kcal"],
            starts_on=row["c_starts_on"],
            ends_on=None,
            is_active=True,
        )
    if row["s_id"] is not None:
        sleep = SleepTarget(
            id=row["s_id"],
            hours=row["hours"],
            starts_on=row["s_starts_on"],
            ends_on=None,
            is_active=True,
        )
    return ActiveTargets(calories=calories, sleep=sleep)


async def target_history(conn: asyncpg.Connection, user_id: UUID, kind: str) -> list[Any]:
    sql = TARGETS[kind]
    return [sql.out(**dict(r)) for r in await conn.fetch(sql.history, user_id)]
