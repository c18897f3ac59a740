"""Plan jobs persisted in PostgreSQL: created by a request, run by a worker task in every
API process, readable by their owner at ``GET /jobs/{id}``.

A worker claims the oldest queued job with ``FOR UPDATE SKIP LOCKED`` (several processes
never take the same one) and holds a lease while it runs. When a process dies mid-job the
lease runs out and the next worker takes the job again; after ``MAX_ATTEMPTS`` such
losses the job fails with that reason instead of looping for ever.

Workers take their connections from a pool of their own (one per worker, held for the
job), so requests cannot starve them of one, nor they the requests. Waiting for a job
(``?wait=``) holds no connection: each look at the job takes one briefly.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any
from uuid import UUID

import asyncpg

from fitsense_api.ai.service import AiService, PlanResult
from fitsense_api.db import connection
from fitsense_api.errors import ApiError, NotFound

log = logging.getLogger("fitsense.api.jobs")

LEASE_S = 300
MAX_ATTEMPTS = 3
POLL_S = 1.0

CREATE = """
INSERT INTO ai_jobs (user_id, kind, request, request_id) VALUES ($1, $2, $3, $4)
RETURNING id
"""

CLAIM = f"""
UPDATE ai_jobs SET status = 'running', stage = 'started', attempts = attempts + 1,
       started_at = coalesce(started_at, now()), lease_until = now() + interval '{LEASE_S} s'
WHERE id = (
  SELECT id FROM ai_jobs
  WHERE (status = 'queued' OR (status = 'running' AND lease_until < now()))
    AND attempts < {MAX_ATTEMPTS}
  ORDER BY created_at FOR UPDATE SKIP LOCKED LIMIT 1)
RETURNING id, user_id, kind, request, request_id, attempts
"""

# Jobs whose worker was lost too often.
ABANDON = f"""
UPDATE ai_jobs SET status = 'failed', finished_at = now(), lease_until = NULL,
       error = 'the job was interrupted {MAX_ATTEMPTS} times (worker restarts); ask again'
WHERE status = 'running' AND lease_until < now() AND attempts >= {MAX_ATTEMPTS}
"""

PROGRESS = """
UPDATE ai_jobs SET stage = $2, progress = $3, lease_until = now() + interval '{LEASE_S} s'
WHERE id = $1 AND status = 'running'
""".replace("{LEASE_S}", str(LEASE_S))

# Only by the attempt that still holds the job: one whose lease ran out and was taken by
# another worker (``attempts`` moved on) stores nothing.
SUCCEED = """
UPDATE ai_jobs SET status = 'succeeded', stage = 'done', progress = 1, result = $3,
       plan_id = $4, finished_at = now(), lease_until = NULL, error = NULL
WHERE id = $1 AND status = 'running' AND attempts = $2
"""

FAIL = """
UPDATE ai_jobs SET status = 'failed', stage = 'failed', error = $3, finished_at = now(),
       lease_until = NULL
WHERE id = $1 AND status = 'running' AND attempts = $2
"""

GET = """
SELECT id, kind, status, progress, stage, request, result, plan_id, error, attempts,
       created_at, started_at, finished_at
FROM ai_jobs WHERE id = $1 AND user_id = $2
"""


async def create_job(
    conn: asyncpg.Connection, user_id: UUID, kind: str, request: dict[str, Any], request_id: str
) -> UUID:
    return await conn.fetchval(CREATE, user_id, kind, request, request_id[:128])


async def get_job(conn: asyncpg.Connection, user_id: UUID, job_id: UUID) -> asyncpg.Record:
    row = await conn.fetchrow(GET, job_id, user_id)
    if row is None:
        raise NotFound(f"no job {job_id}")
    return row


class LeaseLost(Exception):
    """The job was taken by another worker while this one ran it (its lease ran out)."""


class JobRunner:
    """Runs queued plan jobs in this process, ``workers`` at a time, on ``pool`` (the
    workers' own; None when ``workers`` is 0)."""

    def __init__(self, pool: asyncpg.Pool | None, service: AiService, workers: int) -> None:
        if workers and pool is None:
            raise ValueError("job workers need a connection pool")
        self.pool = pool
        self.service = service
        self.workers = workers
        self.wakeup = asyncio.Event()
        self.finished = asyncio.Condition()
        self._tasks: list[asyncio.Task] = []
        self._stopping = False

    def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._loop(i), name=f"fitsense-job-worker-{i}")
            for i in range(self.workers)
        ]

    async def stop(self) -> None:
        """Stop taking jobs; a job cut off here is taken again once its lease runs out."""
        self._stopping = True
        self.wakeup.set()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def notify(self) -> None:
        self.wakeup.set()

    async def wait_for(
        self, pool: asyncpg.Pool, user_id: UUID, job_id: UUID, timeout_s: float
    ) -> asyncpg.Record:
        """The job once it has finished, or as it is after ``timeout_s``; a connection of
        ``pool`` is held only while the job is read."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while True:
            async with connection(pool) as conn:
                row = await get_job(conn, user_id, job_id)
            remaining = deadline - loop.time()
            if row["status"] in ("succeeded", "failed") or remaining <= 0:
                return row
            async with self.finished:
                # Woken when a job of this process ends; polled for other processes'.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.finished.wait(), min(remaining, 0.5))

    async def _loop(self, index: int) -> None:
        while not self._stopping:
            try:
                ran = await self.run_one()
            except asyncio.CancelledError:
                raise
            except (OSError, asyncpg.PostgresError) as exc:
                log.error("job worker cannot reach the database", extra={"error": str(exc)})
                ran = False
                await asyncio.sleep(POLL_S * 5)
            if not ran:
                self.wakeup.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.wakeup.wait(), POLL_S)

    async def run_one(self) -> bool:
        """Claim and run one job; False when none was waiting."""
        assert self.pool is not None  # workers exist only with a pool
        async with self.pool.acquire() as conn:
            await conn.execute(ABANDON)
            job = await conn.fetchrow(CLAIM)
            if job is None:
                return False
            job_id = job["id"]

            async def progress(stage: str, fraction: float) -> None:
                await conn.execute(PROGRESS, job_id, stage, fraction)

            async def succeed(result: PlanResult) -> None:
                done = await conn.execute(
                    SUCCEED, job_id, job["attempts"], result.to_json(), result.plan_id
                )
                if done != "UPDATE 1":
                    raise LeaseLost(job_id)  # rolls back the version and audit row stored

            request = job["request"]
            try:
                await self.service.run_plan(
                    conn,
                    job["user_id"],
                    job["kind"],
                    request.get("request"),
                    request_id=job["request_id"],
                    job_id=job_id,
                    base_plan_id=UUID(request["base_plan_id"])
                    if request.get("base_plan_id")
                    else None,
                    progress=progress,
                    finish=succeed,
                )
            except LeaseLost:
                log.warning("plan job taken over by another worker", extra={"job_id": str(job_id)})
            except ApiError as exc:
                await conn.execute(FAIL, job_id, job["attempts"], exc.detail)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # recorded on the job, logged with its trace
                log.exception("plan job failed", extra={"job_id": str(job_id)})
                await conn.execute(
                    FAIL, job_id, job["attempts"], f"internal error: {type(exc).__name__}"
                )
        async with self.finished:
            self.finished.notify_all()
        return True
