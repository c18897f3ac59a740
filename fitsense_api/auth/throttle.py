"""Login throttling: failed attempts are limited per client address, and per account from
that address, by reservation.

An attempt is recorded as failed *before* the password is checked, under an advisory lock
per client address, and turned into a success afterwards if the password was right: N
guesses sent at once are counted as N, so exactly the limit reach argon2. The account limit
counts one address's failures only, so a guesser throttles themself and never locks the
owner out from another address (docs/api.md, "Login throttling")."""

from __future__ import annotations

from datetime import timedelta

import asyncpg

from fitsense_api.errors import TooManyRequests
from fitsense_api.observability import note_rate_limit
from fitsense_api.settings import ApiSettings

LOCK_CLIENT = "SELECT pg_advisory_xact_lock(hashtextextended('login:' || $1::text, 0))"

# This address's recent failures, and those of them at this account since this address
# last logged in to it; Retry-After is when the oldest counted failure leaves the window.
FAILURES = """
WITH last_success AS (
    SELECT max(attempted_at) AS at FROM login_attempts
    WHERE email = $1 AND client = $2 AND succeeded
), failures AS (
    SELECT attempted_at,
           email = $1 AND attempted_at > coalesce((SELECT at FROM last_success), '-infinity')
             AS at_account
    FROM login_attempts
    WHERE client = $2 AND NOT succeeded AND attempted_at > now() - $3::interval
)
SELECT count(*) FILTER (WHERE at_account) AS account_failures,
       count(*) AS client_failures,
       ceil(extract(epoch FROM min(attempted_at) FILTER (WHERE at_account)
                              + $3::interval - now()))::int AS account_retry_s,
       ceil(extract(epoch FROM min(attempted_at) + $3::interval - now()))::int AS client_retry_s
FROM failures
"""

RESERVE = """
INSERT INTO login_attempts (email, client, succeeded) VALUES ($1, $2, false) RETURNING id
"""
SUCCEEDED = "UPDATE login_attempts SET succeeded = true WHERE id = $1"


async def reserve_attempt(
    conn: asyncpg.Connection, email: str, client: str, settings: ApiSettings
) -> int:
    """Record an attempt as failed, or 429 (nothing recorded) when this address is past
    its limit, at this account or overall. Returns the attempt's id."""
    window = timedelta(minutes=settings.login_window_minutes)
    email, client = email[:320], client[:100]
    async with conn.transaction():
        await conn.execute(LOCK_CLIENT, client)
        row = await conn.fetchrow(FAILURES, email, client, window)
        if row["account_failures"] >= settings.login_max_failures_per_account:
            retry_after_s = row["account_retry_s"]
        elif row["client_failures"] >= settings.login_max_failures_per_client:
            retry_after_s = row["client_retry_s"]
        else:
            return await conn.fetchval(RESERVE, email, client)
    note_rate_limit("login")
    raise TooManyRequests("too many failed logins; try again later", retry_after_s or 60)


async def mark_succeeded(conn: asyncpg.Connection, attempt_id: int) -> None:
    await conn.execute(SUCCEEDED, attempt_id)
