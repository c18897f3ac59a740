"""Liveness and readiness."""

from __future__ import annotations

import asyncio

import msgspec
from litestar import Controller, get
from litestar.datastructures import State

from fitsense_api.errors import Unavailable

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
        summary="Ready to serve: the database answers",
        description="503 when PostgreSQL does not answer within 2 seconds.",
    )
    async def ready(self, state: State) -> HealthOut:
        try:
            async with asyncio.timeout(READY_TIMEOUT_S):
                async with state.pool.acquire() as conn:
                    await conn.fetchval("SELECT 1")
        except Exception as exc:  # any failure means not ready; the reason is returned
            raise Unavailable(f"the database is not answering: {type(exc).__name__}") from exc
        return HealthOut(status="ok", database="ok")
