"""Logged workouts: all SQL of the workouts context.

A session is written in one transaction with three statements whatever its size (the
workout, all its exercises through one ``unnest``, all its sets through another), and
read back with one statement (nested ``json_agg``). Lists are keyset-paginated on
``(started_at, id)`` over the ``workouts(user_id, started_at)`` index.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import struct
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from uuid import UUID

import asyncpg
import msgspec

from fitsense_api.errors import Conflict, NotFound, Unprocessable
from fitsense_api.workouts.schemas import (
    SetOut,
    WorkoutExerciseIn,
    WorkoutExerciseOut,
    WorkoutIn,
    WorkoutOut,
    WorkoutPage,
    WorkoutSummary,
)

MAX_SESSION = timedelta(hours=24)
EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
# Clock skew and time zones ahead of the server: a session may start up to a day ahead.
FUTURE_SLACK = timedelta(days=1)
IDEMPOTENCY_ENDPOINT = "POST /workouts"
MAX_KEY = 200
IDEMPOTENCY_KEY = re.compile(r"[A-Za-z0-9_.:-]{1,200}")

# --- statements ----------------------------------------------------------------------

INSERT_WORKOUT = """
INSERT INTO workouts (user_id, plan_id, plan_day_id, started_at, ended_at, notes)
VALUES ($1, $2, $3, $4, $5, $6)
RETURNING id, started_at, ended_at, plan_id, plan_day_id, notes, created_at
"""

# Keeps the id and created_at; the exercises and sets are replaced after it.
UPDATE_WORKOUT = """
UPDATE workouts
SET plan_id = $3, plan_day_id = $4, started_at = $5, ended_at = $6, notes = $7
WHERE id = $1 AND user_id = $2
RETURNING id, started_at, ended_at, plan_id, plan_day_id, notes, created_at
"""

# The sets go with them (ON DELETE CASCADE).
DELETE_EXERCISES = "DELETE FROM workout_exercises WHERE workout_id = $1"

# Unknown exercise ids drop out of the join; the caller compares the count.
INSERT_EXERCISES = """
WITH inserted AS (
    INSERT INTO workout_exercises (workout_id, exercise_id, position, notes)
    SELECT $1, x.exercise_id, x.position, x.notes
    FROM unnest($2::uuid[], $3::text[]) WITH ORDINALITY AS x(exercise_id, notes, position)
    WHERE EXISTS (SELECT 1 FROM exercises e WHERE e.id = x.exercise_id)
    RETURNING id, exercise_id, position, notes
)
SELECT i.id, i.exercise_id, i.position, i.notes, e.slug, e.name
FROM inserted i JOIN exercises e ON e.id = i.exercise_id
ORDER BY i.position
"""

INSERT_SETS = """
INSERT INTO workout_sets (workout_exercise_id, set_number, reps, weight_kg, rir,
                          duration_seconds, is_warmup)
SELECT x.workout_exercise_id, x.set_number, x.reps, round(x.weight_kg::numeric, 2), x.rir,
       x.duration_seconds, x.is_warmup
FROM unnest($1::uuid[], $2::int[], $3::int[], $4::float8[], $5::int[], $6::int[], $7::bool[])
     AS x(workout_exercise_id, set_number, reps, weight_kg, rir, duration_seconds, is_warmup)
RETURNING id, workout_exercise_id, set_number, reps, weight_kg::float8 AS weight_kg, rir,
          duration_seconds, is_warmup
"""

GET_WORKOUT = """
SELECT w.id, w.started_at, w.ended_at, w.plan_id, w.plan_day_id, w.notes, w.created_at,
       coalesce((
           SELECT json_agg(json_build_object(
                      'id', we.id, 'position', we.position, 'exercise_id', we.exercise_id,
                      'slug', e.slug, 'name', e.name, 'notes', we.notes,
                      'sets', (SELECT json_agg(json_build_object(
                                          'id', s.id, 'set_number', s.set_number,
                                          'reps', s.reps, 'weight_kg', s.weight_kg,
                                          'rir', s.rir, 'duration_seconds', s.duration_seconds,
                                          'is_warmup', s.is_warmup)
                                      ORDER BY s.set_number)
                               FROM workout_sets s WHERE s.workout_exercise_id = we.id))
                  ORDER BY we.position)
           FROM workout_exercises we JOIN exercises e ON e.id = we.exercise_id
           WHERE we.workout_id = w.id), '[]'::json) AS exercises
FROM workouts w
WHERE w.id = $1 AND w.user_id = $2
"""

DELETE_WORKOUT = "DELETE FROM workouts WHERE id = $1 AND user_id = $2"

# The page first (index range on (user_id, started_at), newest first, keyset on
# (started_at, id); sentinels instead of "IS NULL OR" keep every bound an index
# condition even in a generic plan), then each page row's totals.
LIST_WORKOUTS = """
WITH page AS (
    SELECT w.id, w.started_at, w.ended_at, w.plan_id, w.plan_day_id, w.notes
    FROM workouts w
    WHERE w.user_id = $1
      AND w.started_at >= coalesce($2::timestamptz, '-infinity')
      AND w.started_at < coalesce($3::timestamptz, 'infinity')
      AND w.started_at <= coalesce($4::timestamptz, 'infinity')
      AND (w.started_at, w.id) < (coalesce($4::timestamptz, 'infinity'),
                                  coalesce($5::uuid, 'ffffffff-ffff-ffff-ffff-ffffffffffff'))
    ORDER BY w.started_at DESC, w.id DESC
    LIMIT $6
)
SELECT p.id, p.started_at, p.ended_at, p.plan_id, p.plan_day_id, p.notes,
       t.exercise_count, t.set_count, t.total_reps, t.volume_kg
FROM page p
CROSS JOIN LATERAL (
    SELECT count(DISTINCT we.id)::int AS exercise_count,
           count(s.id)::int AS set_count,
           coalesce(sum(s.reps), 0)::int AS total_reps,
           coalesce(round(sum(s.reps * s.weight_kg) FILTER (WHERE NOT s.is_warmup), 2), 0)::float8
               AS volume_kg
    FROM workout_exercises we
    LEFT JOIN workout_sets s ON s.workout_exercise_id = we.id
    WHERE we.workout_id = p.id
) t
ORDER BY p.started_at DESC, p.id DESC
"""

# Claimed first inside the write's transaction: a concurrent duplicate waits here on the
# primary key until the first commits (then replays it) or rolls back (then does the work).
CLAIM_KEY = """
INSERT INTO idempotency_keys (user_id, endpoint, key, request_hash)
VALUES ($1, $2, $3, $4)
ON CONFLICT DO NOTHING
RETURNING true
"""

GET_KEY = """
SELECT request_hash, status_code, response FROM idempotency_keys
WHERE user_id = $1 AND endpoint = $2 AND key = $3
"""

COMPLETE_KEY = """
UPDATE idempotency_keys SET status_code = $4, response = $5
WHERE user_id = $1 AND endpoint = $2 AND key = $3
"""

# --- validation --------------------------------------------------------------------


def _clean_text(value: str | None) -> str | None:
    """Trimmed, blank as absent (text the database cannot store was refused on the way in,
    ``fitsense_api.input_text``)."""
    if value is None:
        return None
    return value.strip() or None


@dataclass(frozen=True)
class _Texts:
    notes: str | None
    exercise_notes: list[str | None]


def _check_workout(data: WorkoutIn) -> _Texts:
    """The rules the schema cannot express, each naming its field; the cleaned notes."""
    if data.started_at < EARLIEST:
        raise Unprocessable.field("started_at", "must be on or after 1900-01-01")
    if data.started_at > datetime.now(UTC) + FUTURE_SLACK:
        raise Unprocessable.field("started_at", "must not be more than a day in the future")
    if data.ended_at is not None:
        if data.ended_at < data.started_at:
            raise Unprocessable.field("ended_at", "must not be before started_at")
        if data.ended_at - data.started_at > MAX_SESSION:
            raise Unprocessable.field("ended_at", "a session lasts at most 24 hours")
    if data.plan_day_id is not None and data.plan_id is None:
        raise Unprocessable.field("plan_day_id", "needs plan_id (the plan the day belongs to)")
    return _Texts(
        notes=_clean_text(data.notes),
        exercise_notes=[_clean_text(e.notes) for e in data.exercises],
    )


def request_hash(data: WorkoutIn) -> str:
    """SHA-256 of the canonical JSON of the decoded body: key order, whitespace and
    spelled-out defaults do not make two requests different."""
    return hashlib.sha256(msgspec.json.encode(data)).hexdigest()


# --- writes ------------------------------------------------------------------------


async def _insert_children(
    conn: asyncpg.Connection,
    workout_id: UUID,
    exercises: list[WorkoutExerciseIn],
    notes: list[str | None],
) -> list[WorkoutExerciseOut]:
    rows = await conn.fetch(INSERT_EXERCISES, workout_id, [e.exercise_id for e in exercises], notes)
    if len(rows) != len(exercises):
        found = {r["position"] for r in rows}
        errors = [
            {"field": f"exercises[{i}].exercise_id", "message": f"no exercise {e.exercise_id}"}
            for i, e in enumerate(exercises)
            if i + 1 not in found
        ]
        raise Unprocessable("exercises: unknown exercise ids", errors)

    ids_by_position = {r["position"]: r["id"] for r in rows}
    # (workout_exercise_id, set_number, set) in list order: one array per column.
    flat = [
        (ids_by_position[position], number, s)
        for position, exercise in enumerate(exercises, start=1)
        for number, s in enumerate(exercise.sets, start=1)
    ]
    set_rows = await conn.fetch(
        INSERT_SETS,
        [parent for parent, _, _ in flat],
        [number for _, number, _ in flat],
        [s.reps for _, _, s in flat],
        [s.weight_kg for _, _, s in flat],
        [s.rir for _, _, s in flat],
        [s.duration_seconds for _, _, s in flat],
        [s.is_warmup for _, _, s in flat],
    )

    sets_by_exercise: dict[UUID, list[SetOut]] = {}
    for r in sorted(set_rows, key=lambda r: r["set_number"]):
        sets_by_exercise.setdefault(r["workout_exercise_id"], []).append(
            SetOut(
                id=r["id"],
                set_number=r["set_number"],
                reps=r["reps"],
                weight_kg=r["weight_kg"],
                rir=r["rir"],
                duration_seconds=r["duration_seconds"],
                is_warmup=r["is_warmup"],
            )
        )
    return [
        WorkoutExerciseOut(
            id=r["id"],
            position=r["position"],
            exercise_id=r["exercise_id"],
            slug=r["slug"],
            name=r["name"],
            notes=r["notes"],
            sets=sets_by_exercise[r["id"]],
        )
        for r in rows
    ]


def _plan_error(exc: asyncpg.ForeignKeyViolationError) -> Unprocessable:
    """The composite foreign keys say which reference is not the caller's."""
    if exc.constraint_name == "workouts_plan_fk":
        return Unprocessable.field("plan_id", "no such plan among yours")
    return Unprocessable.field("plan_day_id", "no such day in that plan")


async def _write(
    conn: asyncpg.Connection,
    user_id: UUID,
    data: WorkoutIn,
    texts: _Texts,
    workout_id: UUID | None,
) -> WorkoutOut:
    """Insert (workout_id None) or replace a session; the caller holds a transaction."""
    values = (data.plan_id, data.plan_day_id, data.started_at, data.ended_at, texts.notes)
    try:
        if workout_id is None:
            row = await conn.fetchrow(INSERT_WORKOUT, user_id, *values)
        else:
            row = await conn.fetchrow(UPDATE_WORKOUT, workout_id, user_id, *values)
    except asyncpg.ForeignKeyViolationError as exc:
        raise _plan_error(exc) from exc
    if row is None:
        raise NotFound(f"no workout {workout_id}")
    if workout_id is not None:
        await conn.execute(DELETE_EXERCISES, workout_id)
    exercises = await _insert_children(conn, row["id"], data.exercises, texts.exercise_notes)
    return WorkoutOut(**dict(row), exercises=exercises)


@dataclass(frozen=True)
class Created:
    """A POST's answer: the stored workout, and whether it replays an earlier request."""

    status_code: int
    workout: WorkoutOut
    replayed: bool = False


async def create_workout(
    conn: asyncpg.Connection, user_id: UUID, data: WorkoutIn, idempotency_key: str | None
) -> Created:
    """Log a session; with an idempotency key, a repeat of the same request replays the
    first answer instead of logging it twice."""
    if idempotency_key is not None and not IDEMPOTENCY_KEY.fullmatch(idempotency_key):
        raise Unprocessable.field(
            "header.idempotency-key", "must be 1-200 characters of A-Z a-z 0-9 _ . : -"
        )
    texts = _check_workout(data)
    async with conn.transaction():
        if idempotency_key is not None:
            digest = request_hash(data)
            claimed = await conn.fetchval(
                CLAIM_KEY, user_id, IDEMPOTENCY_ENDPOINT, idempotency_key, digest
            )
            if not claimed:
                return await _replay(conn, user_id, idempotency_key, digest)
        workout = await _write(conn, user_id, data, texts, None)
        if idempotency_key is not None:
            await conn.execute(
                COMPLETE_KEY,
                user_id,
                IDEMPOTENCY_ENDPOINT,
                idempotency_key,
                201,
                msgspec.to_builtins(workout),
            )
    return Created(201, workout)


async def _replay(conn: asyncpg.Connection, user_id: UUID, key: str, digest: str) -> Created:
    row = await conn.fetchrow(GET_KEY, user_id, IDEMPOTENCY_ENDPOINT, key)
    if row is None or row["status_code"] is None:  # pragma: no cover - only mid-transaction
        raise Conflict("a request with this Idempotency-Key is still being processed; retry")
    if row["request_hash"] != digest:
        raise Unprocessable.field(
            "header.idempotency-key",
            "this key was already used with another request; use a new key for a new request",
        )
    return Created(row["status_code"], msgspec.convert(row["response"], WorkoutOut), replayed=True)


async def replace_workout(
    conn: asyncpg.Connection, user_id: UUID, workout_id: UUID, data: WorkoutIn
) -> WorkoutOut:
    """Replace the whole session in place: same id and created_at, new everything else."""
    texts = _check_workout(data)
    async with conn.transaction():
        return await _write(conn, user_id, data, texts, workout_id)


async def delete_workout(conn: asyncpg.Connection, user_id: UUID, workout_id: UUID) -> None:
    status = await conn.execute(DELETE_WORKOUT, workout_id, user_id)
    if status == "DELETE 0":
        raise NotFound(f"no workout {workout_id}")


# --- reads -------------------------------------------------------------------------


async def get_workout(conn: asyncpg.Connection, user_id: UUID, workout_id: UUID) -> WorkoutOut:
    row = await conn.fetchrow(GET_WORKOUT, workout_id, user_id)
    if row is None:
        raise NotFound(f"no workout {workout_id}")
    return WorkoutOut(
        id=row["id"],
        started_at=row["started_at"],
        ended_at=row["ended_at"],
        plan_id=row["plan_id"],
        plan_day_id=row["plan_day_id"],
        notes=row["notes"],
        created_at=row["created_at"],
        exercises=msgspec.convert(row["exercises"], list[WorkoutExerciseOut]),
    )


_DATE_ONLY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def parse_bound(value: str | None, field: str) -> datetime | None:
    """A list bound: a date (midnight UTC) or a date-time with a UTC offset."""
    if value is None:
        return None
    try:
        if _DATE_ONLY.fullmatch(value):
            return datetime.combine(date.fromisoformat(value), time(), UTC)
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise Unprocessable.field(
            field, "must be a date (2026-11-02) or a date-time with offset (2026-11-02T18:00:00Z)"
        ) from None
    if parsed.tzinfo is None:
        raise Unprocessable.field(field, "a date-time needs a UTC offset, e.g. Z or +01:00")
    try:
        return parsed.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00+14:00 is in year 0 in UTC
        raise Unprocessable.field(
            field, "is out of range: in UTC it must fall within the years 1 to 9999"
        ) from None


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_CURSOR = struct.Struct(">q16s")
_CHECK_BYTES = 6
_CURSOR_TEXT = re.compile(r"[A-Za-z0-9_-]{40}")


def _cursor_check(user_id: UUID, payload: bytes) -> bytes:
    # Binds the cursor to its user and detects edits; it is not a secret.
    return hashlib.sha256(b"fitsense/workouts/cursor\x00" + user_id.bytes + payload).digest()[
        :_CHECK_BYTES
    ]


def encode_cursor(user_id: UUID, started_at: datetime, workout_id: UUID) -> str:
    payload = _CURSOR.pack((started_at - _EPOCH) // timedelta(microseconds=1), workout_id.bytes)
    raw = payload + _cursor_check(user_id, payload)
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def decode_cursor(user_id: UUID, cursor: str) -> tuple[datetime, UUID]:
    """The (started_at, id) a page ends at; anything not issued to this user is a 422."""
    try:
        if not _CURSOR_TEXT.fullmatch(cursor):
            raise ValueError("not base64url")
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        if len(raw) != _CURSOR.size + _CHECK_BYTES:
            raise ValueError("wrong length")
        payload, check = raw[: _CURSOR.size], raw[_CURSOR.size :]
        if check != _cursor_check(user_id, payload):
            raise ValueError("checksum")
        micros, id_bytes = _CURSOR.unpack(payload)
        return _EPOCH + timedelta(microseconds=micros), UUID(bytes=id_bytes)
    except (ValueError, binascii.Error, OverflowError, struct.error):
        raise Unprocessable.field(
            "query.cursor", "not a cursor from this list; use next_cursor as returned"
        ) from None


async def list_workouts(
    conn: asyncpg.Connection,
    user_id: UUID,
    start: datetime | None,
    end: datetime | None,
    limit: int,
    cursor: str | None,
) -> WorkoutPage:
    """Newest first; ``start`` inclusive, ``end`` exclusive."""
    if start is not None and end is not None and start > end:
        raise Unprocessable.field("query.from", "must not be after `to`")
    after_at, after_id = decode_cursor(user_id, cursor) if cursor else (None, None)
    rows = await conn.fetch(LIST_WORKOUTS, user_id, start, end, after_at, after_id, limit + 1)
    items = [WorkoutSummary(**dict(r)) for r in rows[:limit]]
    next_cursor = None
    if len(rows) > limit:
        last = items[-1]
        next_cursor = encode_cursor(user_id, last.started_at, last.id)
    return WorkoutPage(items=items, next_cursor=next_cursor)
