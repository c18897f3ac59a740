"""Bearer tokens (random, stored as SHA-256, expiring, revocable) and the ``user``
dependency that every authenticated handler declares (passwords: ``auth.passwords``)."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from uuid import UUID

import asyncpg
from litestar import Request
from litestar.datastructures import State
from litestar.di import NamedDependency

from fitsense_api.db import connection
from fitsense_api.errors import Unauthorized
from fitsense_api.observability import set_current_user

TOKEN_BYTES = 32


@dataclass(frozen=True)
class CurrentUser:
    id: UUID
    email: str
    name: str
    token_id: UUID


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


# One round trip; last_used_at is touched at most once a minute, so reads stay reads.
AUTHENTICATE = """
WITH token AS (
    SELECT id, user_id, last_used_at FROM api_tokens
    WHERE token_hash = $1 AND revoked_at IS NULL AND expires_at > now()
), touched AS (
    UPDATE api_tokens SET last_used_at = now()
    FROM token
    WHERE api_tokens.id = token.id
      AND (token.last_used_at IS NULL
           OR token.last_used_at < now() - interval '60 seconds')
)
SELECT token.id AS token_id, users.id, users.email, users.name
FROM token JOIN users ON users.id = token.user_id
"""


async def authenticate(request: Request, conn: asyncpg.Connection) -> CurrentUser:
    """The caller, from ``Authorization: Bearer <token>``; 401 when missing or invalid."""
    token = bearer_token(request)
    if token is None or len(token) > 256:
        raise Unauthorized()
    row = await conn.fetchrow(AUTHENTICATE, token_digest(token))
    if row is None:
        raise Unauthorized("the bearer token is unknown, expired or revoked")
    user = CurrentUser(row["id"], row["email"], row["name"], row["token_id"])
    set_current_user(str(user.id))
    return user


async def provide_user(
    request: Request, connection: NamedDependency[asyncpg.Connection]
) -> CurrentUser:
    """The caller, on the request's connection (held until the answer is sent)."""
    return await authenticate(request, connection)


async def provide_caller(request: Request, state: State) -> CurrentUser:
    """The caller, on a connection given back at once: for handlers that wait, stream or
    call the model, which take connections only around their queries."""
    async with connection(state.pool) as conn:
        return await authenticate(request, conn)
