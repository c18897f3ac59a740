"""What the coach needs to know about one person, read from PostgreSQL: the profile with
recent signals, the active plan and the last sessions with their targets (the signal and
session queries are ``fitsense_core.coaching_context``'s, which the consented-data stage
shares).

It mirrors what the dataset's prompts were built from (``fitsense_core.synthetic.context``
over the generated tables), so a person stored in the database gets the same prompt the
student was trained on; ``tests/test_api_ai_prompts.py`` checks that.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from uuid import UUID

import asyncpg

from fitsense_api.plans.services import find_plan, to_contract
from fitsense_api.profile.services import require_profile
from fitsense_core.coaching_context import (
    LAST_SESSIONS_SQL,
    RECENT_SIGNALS_SQL,
    sessions_from_rows,
    signals_from_row,
)
from fitsense_core.plan_contract import Plan
from fitsense_core.profile import LoggedSession, RecentSignals, UserProfile

# Why the coach needs onboarding done (the 409 says so).
COACH_NEEDS = "the coach works from your goals, days per week, equipment, conditions and injuries"


@dataclass(frozen=True)
class CoachContext:
    profile: UserProfile
    plan: Plan | None
    plan_id: UUID | None
    sessions: tuple[LoggedSession, ...]


async def recent_signals(conn: asyncpg.Connection, user_id: UUID, end: date) -> RecentSignals:
    return signals_from_row(await conn.fetchrow(RECENT_SIGNALS_SQL, user_id, end))


async def recent_sessions(conn: asyncpg.Connection, user_id: UUID) -> tuple[LoggedSession, ...]:
    """The person's last sessions, whenever they were (the request is now)."""
    return sessions_from_rows(await conn.fetch(LAST_SESSIONS_SQL, user_id, None))


async def load_context(
    conn: asyncpg.Connection, user_id: UUID, *, today: date | None = None
) -> CoachContext:
    """The caller's coaching context; 409 until onboarding is complete."""
    profile = await require_profile(conn, user_id, COACH_NEEDS)
    signals = await recent_signals(conn, user_id, today or date.today())
    stored = await find_plan(conn, user_id, None)
    return CoachContext(
        profile=replace(profile, signals=signals),
        plan=to_contract(stored) if stored is not None else None,
        plan_id=stored.id if stored is not None else None,
        sessions=await recent_sessions(conn, user_id),
    )
