"""Retention: what the API stores for its own use is deleted once it has served.

- ``api_tokens`` expired or revoked more than ``retain_sessions_days`` ago;
- ``login_attempts`` and ``signup_attempts`` older than ``retain_attempts_days`` (they
  count only inside their windows of at most a day);
- ``idempotency_keys`` older than ``retain_idempotency_days`` (a retry after that is a new
  request);
- finished ``ai_jobs`` older than ``retain_jobs_days`` (their audit rows stay, without the
  job id); unfinished jobs are never pruned;
- ``ai_requests`` reservations older than a day: the per-minute rate and the daily quota
  count only the last 24 hours.

A pass runs when the API starts and every ``retention_interval_s`` after, in a background
task of each process. Deletes go in batches, each its own short transaction; a batch takes
a transaction-level advisory lock first, and a process that finds it taken leaves the pass
to the process that holds it."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

import asyncpg
from litestar import Litestar

from fitsense_api.settings import ApiSettings

log = logging.getLogger("fitsense.api.retention")

BATCH = 5000
LOCK = "SELECT pg_try_advisory_xact_lock(hashtextextended('fitsense-retention', 0))"
ACQUIRE_TIMEOUT_S = 10.0

# Which rows of a table are past retention; $1 is the cut-off (now() minus the period).
RULES: dict[str, str] = {
    "api_tokens": "expires_at < $1 OR revoked_at < $1",
    "login_attempts": "attempted_at < $1",
    "signup_attempts": "attempted_at < $1",
    "idempotency_keys": "created_at < $1",
    "ai_jobs": "status IN ('succeeded', 'failed') AND finished_at < $1",
    "ai_requests": "requested_at < $1",
}


def periods(settings: ApiSettings) -> dict[str, timedelta]:
    attempts = timedelta(days=settings.retain_attempts_days)
    return {
        "api_tokens": timedelta(days=settings.retain_sessions_days),
        "login_attempts": attempts,
        "signup_attempts": attempts,
        "idempotency_keys": timedelta(days=settings.retain_idempotency_days),
        "ai_jobs": timedelta(days=settings.retain_jobs_days),
        "ai_requests": timedelta(days=1),
    }


class Contended(Exception):
    """Another process is running a retention pass."""


async def _prune_batch(conn: asyncpg.Connection, table: str, period: timedelta) -> int:
    async with conn.transaction():
        if not await conn.fetchval(LOCK):
            raise Contended
        status = await conn.execute(
            f"DELETE FROM {table} WHERE ctid = ANY(ARRAY("
            f"SELECT ctid FROM {table} WHERE {RULES[table]} LIMIT {BATCH}))",
            await conn.fetchval("SELECT now() - $1::interval", period),
        )
    return int(status.split()[-1])


async def prune(conn: asyncpg.Connection, settings: ApiSettings) -> dict[str, int] | None:
    """One pass: rows deleted per table, or None when another process holds the pass."""
    deleted: dict[str, int] = {}
    try:
        for table, period in periods(settings).items():
            deleted[table] = 0
            while True:
                count = await _prune_batch(conn, table, period)
                deleted[table] += count
                if count < BATCH:
                    break
    except Contended:
        return None
    return deleted


async def prune_periodically(pool: asyncpg.Pool, settings: ApiSettings) -> None:
    while True:
        try:
            async with pool.acquire(timeout=ACQUIRE_TIMEOUT_S) as conn:
                deleted = await prune(conn, settings)
        except (OSError, TimeoutError, asyncpg.PostgresError) as exc:
            log.error("retention pass failed; retried at the next", extra={"error": repr(exc)})
        else:
            if deleted and any(deleted.values()):
                log.info("retention pass", extra={"deleted": deleted})
        await asyncio.sleep(settings.retention_interval_s)


def retention_lifespan(settings: ApiSettings):
    """Lifespan (after the pool's): the retention task of this process."""

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        task = asyncio.create_task(
            prune_periodically(app.state.pool, settings), name="fitsense-retention"
        )
        try:
            yield
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    return lifespan
