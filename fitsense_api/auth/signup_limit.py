"""Signups are limited per client address, by reservation: the attempt is recorded before
argon2 runs, under an advisory lock per address, so signups sent at once get exactly the
limit. Every signup counts, a 409 (the email is taken) included: that answer tells a
person their email is registered, and the limit bounds how many emails one address can
probe (docs/api.md, "Signup")."""

from __future__ import annotations

from datetime import timedelta

import asyncpg

from fitsense_api.errors import TooManyRequests
from fitsense_api.observability import note_rate_limit
from fitsense_api.settings import ApiSettings

LOCK_CLIENT = "SELECT pg_advisory_xact_lock(hashtextextended('signup:' || $1::text, 0))"

# Retry-After is when the oldest counted signup leaves the window.
RECENT = """
SELECT count(*) AS attempts,
       ceil(extract(epoch FROM min(attempted_at) + $2::interval - now()))::int AS retry_s
FROM signup_attempts WHERE client = $1 AND attempted_at > now() - $2::interval
"""
RESERVE = "INSERT INTO signup_attempts (client) VALUES ($1)"


async def reserve_signup(conn: asyncpg.Connection, client: str, settings: ApiSettings) -> None:
    """Record a signup of ``client``, or 429 (nothing recorded) past its limit."""
    window = timedelta(minutes=settings.signup_window_minutes)
    client = client[:100]
    async with conn.transaction():
        await conn.execute(LOCK_CLIENT, client)
        row = await conn.fetchrow(RECENT, client, window)
        if row["attempts"] < settings.signup_max_per_client:
            await conn.execute(RESERVE, client)
            return
    note_rate_limit("signup")
    raise TooManyRequests(
        "too many signups from this address; try again later", row["retry_s"] or 60
    )
