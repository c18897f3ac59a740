"""Limits on AI work: per-person rate and daily quota (429), reserved before the work; a
bounded plan queue (503) with a cap on each person's unfinished jobs (429); and a bounded
number of model calls per worker process (503) so that a saturated server answers quickly
instead of queueing without end."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from uuid import UUID

import asyncpg

from fitsense_api.errors import TooManyRequests, Unavailable
from fitsense_api.observability import note_rate_limit

# Serialises the admission of one person's AI requests: the count and the reservation are
# one step, so requests made at once cannot all pass the check.
LOCK_PERSON = "SELECT pg_advisory_xact_lock(hashtextextended('ai-requests:' || $1::uuid::text, 0))"
# Serialises job submissions of everyone for the queue bound (held for a few milliseconds).
LOCK_QUEUE = "SELECT pg_advisory_xact_lock(hashtextextended('ai-job-queue', 0))"

# The person's AI requests (reservations, sql/0014): seconds until the oldest one of each
# window leaves it give Retry-After.
USAGE = """
SELECT count(*) FILTER (WHERE requested_at > now() - interval '1 minute') AS minute,
       count(*) AS day,
       extract(epoch FROM min(requested_at) FILTER (
                 WHERE requested_at > now() - interval '1 minute')
               + interval '1 minute' - now()) AS minute_retry,
       extract(epoch FROM min(requested_at) + interval '1 day' - now()) AS day_retry
FROM ai_requests WHERE user_id = $1 AND requested_at > now() - interval '1 day'
"""
RESERVE = "INSERT INTO ai_requests (user_id, kind) VALUES ($1, $2)"
# Reservations out of both windows count for nothing; each person's are pruned as they ask.
PRUNE = "DELETE FROM ai_requests WHERE user_id = $1 AND requested_at <= now() - interval '1 day'"

QUEUED_JOBS = "SELECT count(*) FROM ai_jobs WHERE status IN ('queued', 'running')"
PERSONS_QUEUED_JOBS = (
    "SELECT count(*) FROM ai_jobs WHERE user_id = $1 AND status IN ('queued', 'running')"
)


def _in_transaction(conn: asyncpg.Connection) -> None:
    if not conn.is_in_transaction():
        raise RuntimeError("AI admission runs inside a transaction (its locks are per transaction)")


async def reserve_ai_request(
    conn: asyncpg.Connection, user_id: UUID, kind: str, per_minute: int, per_day: int
) -> None:
    """Reserve one of the person's AI requests, or 429 (nothing reserved) beyond the rate
    or the daily quota. Runs in the caller's transaction: the reservation is taken back
    if the rest of the admission fails."""
    _in_transaction(conn)
    await conn.execute(LOCK_PERSON, user_id)
    await conn.execute(PRUNE, user_id)
    row = await conn.fetchrow(USAGE, user_id)
    if row["minute"] >= per_minute:
        note_rate_limit("ai_per_minute")
        raise TooManyRequests(
            f"AI request limit reached: {per_minute} per minute",
            retry_after_s=int(float(row["minute_retry"] or 60)) + 1,
        )
    if row["day"] >= per_day:
        note_rate_limit("ai_daily_quota")
        raise TooManyRequests(
            f"daily AI quota reached: {per_day} requests per 24 hours",
            retry_after_s=int(float(row["day_retry"] or 3600)) + 1,
        )
    await conn.execute(RESERVE, user_id, kind)


async def queued_jobs(conn: asyncpg.Connection) -> int:
    return await conn.fetchval(QUEUED_JOBS)


async def check_job_queue(
    conn: asyncpg.Connection, user_id: UUID, max_queued: int, max_per_person: int
) -> None:
    """429 when the person already has ``max_per_person`` unfinished jobs, 503 when the
    queue is full; otherwise the queue stays locked until the caller's transaction ends, so
    the job it inserts is counted by the next submission."""
    _in_transaction(conn)
    await conn.execute(LOCK_QUEUE)
    if await conn.fetchval(PERSONS_QUEUED_JOBS, user_id) >= max_per_person:
        note_rate_limit("plan_jobs_per_person")
        raise TooManyRequests(
            f"you have {max_per_person} plan requests in progress; wait for one to finish",
            retry_after_s=10,
        )
    if await queued_jobs(conn) >= max_queued:
        note_rate_limit("plan_queue")
        raise Unavailable(
            f"the plan queue is full ({max_queued} jobs waiting); try again shortly",
            headers={"Retry-After": "10"},
        )


class Place:
    """A place (running or waiting) reserved at an :class:`InferenceGate`; given back once,
    however many of its holders release it."""

    def __init__(self, gate: InferenceGate) -> None:
        self._gate = gate
        self._held = True

    def release(self) -> None:
        if self._held:
            self._held = False
            self._gate.release()


class InferenceGate:
    """At most ``max_concurrent`` model calls at once in this process and ``max_waiting``
    more waiting for a turn; a call beyond that is refused at once (503)."""

    def __init__(self, max_concurrent: int, max_waiting: int) -> None:
        self._slots = asyncio.Semaphore(max_concurrent)
        self.max_concurrent = max_concurrent
        self.max_waiting = max_waiting
        self._admitted = 0

    @property
    def busy(self) -> int:
        return self._admitted

    def check_room(self) -> None:
        """503 when no place (running or waiting) is free now."""
        if self._admitted >= self.max_concurrent + self.max_waiting:
            note_rate_limit("coach_busy")
            raise Unavailable(
                "the coach is busy: too many requests are waiting for the model",
                headers={"Retry-After": "2"},
            )

    def admit(self) -> None:
        """Reserve a place (running or waiting) or refuse; pair with ``release``."""
        self.check_room()
        self._admitted += 1

    def release(self) -> None:
        self._admitted -= 1

    def reserve(self) -> Place:
        """``admit`` as an object that is released once (a stream's place is released by
        whichever of its ends runs)."""
        self.admit()
        return Place(self)

    @asynccontextmanager
    async def turn(self) -> AsyncIterator[None]:
        """Run while holding one of the concurrent slots (the place is already admitted)."""
        async with self._slots:
            yield

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        self.admit()
        try:
            async with self.turn():
                yield
        finally:
            self.release()
