"""Accounts and sessions: all SQL of the auth context."""

from __future__ import annotations

import re
from datetime import timedelta
from uuid import UUID

import asyncpg

from fitsense_api.auth.schemas import SessionOut, UserOut
from fitsense_api.auth.security import (
    burn_verification,
    hash_password,
    new_token,
    token_digest,
    verify_password,
)
from fitsense_api.errors import Conflict, NotFound, TooManyRequests, Unauthorized, Unprocessable
from fitsense_api.observability import note_rate_limit
from fitsense_api.settings import ApiSettings

# The same rule as the users_email_format CHECK constraint.
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def normalize_email(email: str) -> str:
    normalized = email.strip().lower()
    if not EMAIL.match(normalized):
        raise Unprocessable.field("email", "not a valid email address")
    return normalized


def _user(row: asyncpg.Record) -> UserOut:
    return UserOut(id=row["id"], name=row["name"], email=row["email"], created_at=row["created_at"])


async def _issue_token(
    conn: asyncpg.Connection, user: UserOut, settings: ApiSettings
) -> SessionOut:
    token = new_token()
    expires_at = await conn.fetchval(
        "INSERT INTO api_tokens (user_id, token_hash, expires_at) "
        "VALUES ($1, $2, now() + $3::interval) RETURNING expires_at",
        user.id,
        token_digest(token),
        timedelta(hours=settings.token_ttl_hours),
    )
    return SessionOut(token=token, token_type="bearer", expires_at=expires_at, user=user)


async def signup(
    conn: asyncpg.Connection, name: str, email: str, password: str, settings: ApiSettings
) -> SessionOut:
    email = normalize_email(email)
    name = name.strip()
    if not name:
        raise Unprocessable.field("name", "must not be blank")
    password_hash = await hash_password(password, settings.password_hash)
    async with conn.transaction():
        row = await conn.fetchrow(
            "INSERT INTO users (name, email, password_hash) VALUES ($1, $2, $3) "
            "ON CONFLICT (email) DO NOTHING RETURNING id, name, email, created_at",
            name,
            email,
            password_hash,
        )
        if row is None:
            raise Conflict(
                "an account with this email already exists",
                [{"field": "email", "message": "already registered"}],
            )
        return await _issue_token(conn, _user(row), settings)


LOGIN_FAILURES = """
WITH last_success AS (
    SELECT max(attempted_at) AS at FROM login_attempts WHERE email = $1 AND succeeded
), failures AS (
    SELECT email = $1 AS same_account, client = $2 AS same_client, attempted_at
    FROM login_attempts
    WHERE (email = $1 OR client = $2) AND NOT succeeded
      AND attempted_at > now() - $3::interval
)
SELECT
    count(*) FILTER (WHERE same_account AND attempted_at > coalesce(
        (SELECT at FROM last_success), '-infinity')) AS account_failures,
    count(*) FILTER (WHERE same_client) AS client_failures,
    ceil(extract(epoch FROM min(attempted_at) + $3::interval - now()))::int AS retry_after_s
FROM failures
"""


async def login(
    conn: asyncpg.Connection, email: str, password: str, client: str, settings: ApiSettings
) -> SessionOut:
    email = email.strip().lower()
    window = timedelta(minutes=settings.login_window_minutes)
    limits = await conn.fetchrow(LOGIN_FAILURES, email, client, window)
    if (
        limits["account_failures"] >= settings.login_max_failures_per_account
        or limits["client_failures"] >= settings.login_max_failures_per_client
    ):
        note_rate_limit("login")
        raise TooManyRequests(
            "too many failed logins; try again later", limits["retry_after_s"] or 60
        )
    row = await conn.fetchrow(
        "SELECT id, name, email, created_at, password_hash FROM users WHERE email = $1", email
    )
    if row is None:
        await burn_verification(settings.password_hash)
        ok = False
    else:
        ok = await verify_password(row["password_hash"], password, settings.password_hash)
    await conn.execute(
        "INSERT INTO login_attempts (email, client, succeeded) VALUES ($1, $2, $3)",
        email[:320],
        client[:100],
        ok,
    )
    if not ok:
        raise Unauthorized("the email or password is wrong")
    return await _issue_token(conn, _user(row), settings)


async def logout(conn: asyncpg.Connection, token_id: UUID) -> None:
    await conn.execute(
        "UPDATE api_tokens SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL", token_id
    )


async def get_user(conn: asyncpg.Connection, user_id: UUID) -> UserOut:
    row = await conn.fetchrow(
        "SELECT id, name, email, created_at FROM users WHERE id = $1", user_id
    )
    if row is None:
        raise NotFound("the account no longer exists")
    return _user(row)


async def delete_account(conn: asyncpg.Connection, user_id: UUID) -> None:
    """Everything the user owns goes with the account (ON DELETE CASCADE)."""
    async with conn.transaction():
        email = await conn.fetchval("DELETE FROM users WHERE id = $1 RETURNING email", user_id)
        if email is None:
            raise NotFound("the account no longer exists")
        await conn.execute("DELETE FROM login_attempts WHERE email = $1", email)
