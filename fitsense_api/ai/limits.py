"""Limits on AI work: per-person rate and daily quota (429), and a bounded number of model
calls per worker process (503) so that a saturated server answers quickly instead of
queueing without end."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from uuid import UUID

import asyncpg

from fitsense_api.errors import TooManyRequests, Unavailable
from fitsense_api.observability import note_rate_limit

# AI requests of one person: audited model calls made outside jobs plus jobs asked for
# (a job audits its own calls with its id, so nothing is counted twice). Seconds until
# the oldest request of each window leaves it give Retry-After.
USAGE = """
WITH asked AS (
  SELECT created_at FROM ai_interactions
   WHERE user_id = $1 AND job_id IS NULL AND created_at > now() - interval '1 day'
  UNION ALL
  SELECT created_at FROM ai_jobs WHERE user_id = $1 AND created_at > now() - interval '1 day'
)
SELECT count(*) FILTER (WHERE created_at > now() - interval '1 minute') AS minute,
       count(*) AS day,
       extract(epoch FROM min(created_at) FILTER (WHERE created_at > now() - interval '1 minute')
               + interval '1 minute' - now()) AS minute_retry,
       extract(epoch FROM min(created_at) + interval '1 day' - now()) AS day_retry
FROM asked
"""

QUEUED_JOBS = "SELECT count(*) FROM ai_jobs WHERE status IN ('queued', 'running')"


async def check_user_limits(
    conn: asyncpg.Connection, user_id: UUID, per_minute: int, per_day: int
) -> None:
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


async def check_job_queue(conn: asyncpg.Connection, max_queued: int) -> None:
    if await conn.fetchval(QUEUED_JOBS) >= max_queued:
        note_rate_limit("plan_queue")
        raise Unavailable(
            f"the plan queue is full ({max_queued} jobs waiting); try again shortly",
            headers={"Retry-After": "10"},
        )


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
