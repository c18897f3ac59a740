"""Liveness and readiness: ready means this process can take a request now — the database
answers, a pooled connection is free or can be opened, and the plan job queue has room."""

from __future__ import annotations

import asyncio

import msgspec
from litestar import Controller, get
from litestar.datastructures import State

from fitsense_api.ai.limits import queued_jobs
from fitsense_api.db import pool_exhausted
from fitsense_api.errors import Unavailable
from fitsense_api.settings import ApiSettings

READY_TIMEOUT_S = 2


class HealthOut(msgspec.Struct):
    status: str
    database: str | None = None


class HealthController(Controller):
    tags = ["operations"]

    @get("/health", operation_id="health", summary="The process answers (no dependencies)")
    async def health(self) -> HealthOut:
        return HealthOut(status="ok")

    @get(
        "/ready",
        operation_id="ready",
        summary="Ready to serve: the database answers, the pool and the job queue have room",
        description="503 when every connection of this process's pool is in use, when "
        "PostgreSQL does not answer within 2 seconds, or when the plan job queue is full.",
    )
    async def ready(self, state: State) -> HealthOut:
        settings: ApiSettings = state.settings
        if pool_exhausted(state.pool):
            raise Unavailable(
                "the connection pool is exhausted: every connection is in use",
                headers={"Retry-After": "2"},
            )
        try:
            async with asyncio.timeout(READY_TIMEOUT_S):
                async with state.pool.acquire() as conn:
                    queued = await queued_jobs(conn)
        except Exception as exc:  # any failure means not ready; the reason is returned
            raise Unavailable(f"the database is not answering: {type(exc).__name__}") from exc
        if queued >= settings.ai_max_queued_jobs:
            raise Unavailable(
                f"the plan job queue is full ({queued} of {settings.ai_max_queued_jobs})",
                headers={"Retry-After": "10"},
            )
        return HealthOut(status="ok", database="ok")
