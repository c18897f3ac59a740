"""Accounts and sessions: all SQL of the auth context."""

from __future__ import annotations

import re
from datetime import timedelta
from uuid import UUID

import asyncpg

from fitsense_api.auth.passwords import Passwords
from fitsense_api.auth.schemas import SessionOut, UserOut
from fitsense_api.auth.security import CurrentUser, new_token, token_digest
from fitsense_api.auth.signup_limit import reserve_signup
from fitsense_api.auth.throttle import mark_succeeded, reserve_attempt
from fitsense_api.db import connection
from fitsense_api.errors import Conflict, Forbidden, NotFound, Unauthorized, Unprocessable
from fitsense_api.settings import ApiSettings

# Only the hash that was checked is replaced: a change made meanwhile is not overwritten.
SET_PASSWORD_HASH = "UPDATE users SET password_hash = $3 WHERE id = $1 AND password_hash = $2"

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
    pool: asyncpg.Pool,
    passwords: Passwords,
    name: str,
    email: str,
    password: str,
    client: str,
    settings: ApiSettings,
) -> SessionOut:
    """An account and its first session. The signup is counted against the client address
    (and refused past its limit) before argon2 runs; no connection is held while it does."""
    email = normalize_email(email)
    name = name.strip()
    if not name:
        raise Unprocessable.field("name", "must not be blank")
    async with connection(pool) as conn:
        await reserve_signup(conn, client, settings)
    password_hash = await passwords.hash(password)
    async with connection(pool) as conn, conn.transaction():
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


async def login(
    pool: asyncpg.Pool,
    passwords: Passwords,
    email: str,
    password: str,
    client: str,
    settings: ApiSettings,
) -> SessionOut:
    """A session for the right password. The attempt is reserved (and throttled) before
    argon2 runs; no connection is held while it does."""
    email = email.strip().lower()
    async with connection(pool) as conn:
        attempt_id = await reserve_attempt(conn, email, client, settings)
        row = await conn.fetchrow(
            "SELECT id, name, email, created_at, password_hash FROM users WHERE email = $1", email
        )
    if row is None:
        await passwords.burn_verification()
        ok = False
    else:
        ok = await passwords.verify(row["password_hash"], password)
    if not ok:
        raise Unauthorized("the email or password is wrong")
    rehashed = None
    # Hashed with other argon2 parameters (a cheaper past default): upgraded now that the
    # password is known, unless argon2 is busy (then at a later login).
    if passwords.needs_rehash(row["password_hash"]) and passwords.has_room():
        rehashed = await passwords.hash(password)
    async with connection(pool) as conn:
        await mark_succeeded(conn, attempt_id)
        if rehashed is not None:
            await conn.execute(SET_PASSWORD_HASH, row["id"], row["password_hash"], rehashed)
        return await _issue_token(conn, _user(row), settings)


async def change_password(
    pool: asyncpg.Pool,
    passwords: Passwords,
    user: CurrentUser,
    current: str,
    new: str,
    client: str,
    settings: ApiSettings,
) -> None:
    """Set a new password when ``current`` is right (403 otherwise; guesses are throttled
    as logins are) and end every other session of the person."""
    async with connection(pool) as conn:
        attempt_id = await reserve_attempt(conn, user.email, client, settings)
        stored = await conn.fetchval("SELECT password_hash FROM users WHERE id = $1", user.id)
    if stored is None:
        raise NotFound("the account no longer exists")
    if not await passwords.verify(stored, current):
        raise Forbidden("the current password is wrong")
    new_hash = await passwords.hash(new)
    async with connection(pool) as conn, conn.transaction():
        await mark_succeeded(conn, attempt_id)
        if await conn.execute(SET_PASSWORD_HASH, user.id, stored, new_hash) != "UPDATE 1":
            raise Conflict("the password was changed meanwhile; sign in again")
        await conn.execute(
            "UPDATE api_tokens SET revoked_at = now() "
            "WHERE user_id = $1 AND id <> $2 AND revoked_at IS NULL",
            user.id,
            user.token_id,
        )


async def logout(conn: asyncpg.Connection, token_id: UUID) -> None:
    await conn.execute(
        "UPDATE api_tokens SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL", token_id
    )


async def logout_all(conn: asyncpg.Connection, user_id: UUID) -> None:
    await conn.execute(
        "UPDATE api_tokens SET revoked_at = now() WHERE user_id = $1 AND revoked_at IS NULL",
        user_id,
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
