"""The asyncpg pool the app's lifespan owns, the per-request connection dependency, and
brief connections for handlers that wait, stream or call the model in between queries."""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
from litestar import Litestar
from litestar.datastructures import State

from fitsense_api.errors import Unavailable
from fitsense_core.database import describe_url
from fitsense_core.errors import DatabaseUnavailableError

CONNECT_TIMEOUT_S = 5
# Statements that run longer are cancelled: no request holds a connection for ever.
STATEMENT_TIMEOUT_MS = 10_000


async def _init_connection(conn: asyncpg.Connection) -> None:
    for kind in ("json", "jsonb"):
        await conn.set_type_codec(kind, encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


async def _keep_session(conn: asyncpg.Connection) -> None:
    """Released connections are not reset with asyncpg's default query (one more round trip
    per request): the API never changes session state — no SET, cursors, LISTEN or
    session-level locks — and asyncpg still rolls back any transaction left open."""


async def create_pool(url: str, min_size: int, max_size: int) -> asyncpg.Pool:
    try:
        return await asyncpg.create_pool(
            dsn=url,
            min_size=min_size,
            max_size=max_size,
            timeout=CONNECT_TIMEOUT_S,
            command_timeout=STATEMENT_TIMEOUT_MS / 1000,
            init=_init_connection,
            reset=_keep_session,
            server_settings={
                "application_name": "fitsense-api",
                "statement_timeout": str(STATEMENT_TIMEOUT_MS),
            },
        )
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        raise DatabaseUnavailableError(
            f"the API cannot reach PostgreSQL at {describe_url(url)}: {exc}"
        ) from exc


def pool_lifespan(url: str, min_size: int, max_size: int):
    """Lifespan: open the pool before the first request, close it on shutdown."""

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        pool = await create_pool(url, min_size, max_size)
        app.state.pool = pool
        try:
            yield
        finally:
            await pool.close()

    return lifespan


def pool_exhausted(pool: asyncpg.Pool) -> bool:
    """Every connection the pool may open is open and in use: the next request waits."""
    return pool.get_size() >= pool.get_max_size() and pool.get_idle_size() == 0


@asynccontextmanager
async def connection(pool: asyncpg.Pool) -> AsyncIterator[asyncpg.Connection]:
    """A pooled connection for a few queries, given back at the end of the block; 503 when
    none frees up within ``CONNECT_TIMEOUT_S``. Handlers that wait for a job, stream or
    call the model use this around their queries instead of holding one throughout."""
    try:
        conn = await pool.acquire(timeout=CONNECT_TIMEOUT_S)
    except (OSError, TimeoutError, asyncpg.PostgresConnectionError) as exc:
        raise Unavailable(
            f"the database is not answering: {type(exc).__name__}", headers={"Retry-After": "2"}
        ) from exc
    try:
        yield conn
    finally:
        await pool.release(conn)


async def provide_connection(state: State) -> AsyncGenerator[asyncpg.Connection, None]:
    """One pooled connection per request, returned to the pool when the answer is sent."""
    async with connection(state.pool) as conn:
        yield conn
