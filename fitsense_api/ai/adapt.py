"""Next-week adaptation: what last week says about the plan, turned into the update request
the coach acts on.

The logged reps and RIR against each set's target reach the model (and the knowledge-based
coach) through the logged sessions themselves; this adds what the sessions alone do not
show: sessions missed against the planned training days, and readiness (sleep against
target, soreness, energy). Poor readiness asks for a recovery week; many missed sessions
ask to hold the load rather than progress it.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

import asyncpg

from fitsense_api.ai.context import CoachContext

WEEK = """
SELECT
  (SELECT count(*) FROM workouts
    WHERE user_id = $1 AND started_at >= now() - interval '7 days') AS done,
  (SELECT round(avg(hours)::numeric, 1)::float8 FROM sleep_logs
    WHERE user_id = $1 AND log_date > current_date - 7) AS sleep,
  (SELECT hours::float8 FROM sleep_targets WHERE user_id = $1 AND is_active) AS sleep_target,
  (SELECT round(avg(soreness)::numeric, 1)::float8 FROM readiness_logs
    WHERE user_id = $1 AND log_date > current_date - 7) AS soreness,
  (SELECT round(avg(energy)::numeric, 1)::float8 FROM readiness_logs
    WHERE user_id = $1 AND log_date > current_date - 7) AS energy
"""

HIGH_SORENESS = 6.5
LOW_ENERGY = 3.5
SLEEP_DEFICIT_H = 1.0
LOW_ADHERENCE = 0.5


def _readiness_problems(row: asyncpg.Record) -> list[str]:
    problems = []
    if row["soreness"] is not None and row["soreness"] >= HIGH_SORENESS:
        problems.append(f"soreness {row['soreness']:g}/10")
    if row["energy"] is not None and row["energy"] <= LOW_ENERGY:
        problems.append(f"energy {row['energy']:g}/10")
    if (
        row["sleep"] is not None
        and row["sleep_target"] is not None
        and row["sleep"] < row["sleep_target"] - SLEEP_DEFICIT_H
    ):
        problems.append(f"sleep {row['sleep']:g} h against a {row['sleep_target']:g} h target")
    return problems


async def adaptation_request(
    conn: asyncpg.Connection, user_id: UUID, ctx: CoachContext
) -> dict[str, Any]:
    """Last week in numbers and the request they make (``request``)."""
    row = await conn.fetchrow(WEEK, user_id)
    planned = sum(1 for d in ctx.plan.days if d.exercises) if ctx.plan else 0
    done = int(row["done"])
    adherence = round(min(1.0, done / planned), 2) if planned else None
    problems = _readiness_problems(row)
    if problems:
        readiness = "low"
        request = (
            f"I feel run down this week ({', '.join(problems)}). "
            "Adapt next week's plan so I can recover."
        )
    elif adherence is not None and adherence < LOW_ADHERENCE:
        readiness = "ok"
        request = (
            f"I only managed {done} of {planned} planned sessions last week. "
            "Adapt next week's plan from my logged sessions and keep the load where it is."
        )
    else:
        readiness = "ok"
        request = "Adapt next week's plan from my logged sessions."
    return {
        "sessions_done": done,
        "sessions_planned": planned,
        "adherence": adherence,
        "avg_sleep_hours": row["sleep"],
        "sleep_target_hours": row["sleep_target"],
        "avg_soreness": row["soreness"],
        "avg_energy": row["energy"],
        "readiness": readiness,
        "readiness_problems": problems,
        "request": request,
    }
