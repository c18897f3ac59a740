"""What the coach needs to know about one person, read from PostgreSQL: the profile with
recent signals, the active plan and the last sessions with their targets.

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
from fitsense_core.plan_contract import Plan
from fitsense_core.profile import (
    LoggedExercise,
    LoggedSession,
    LoggedSet,
    RecentSignals,
    UserProfile,
)

# Why the coach needs onboarding done (the 409 says so).
COACH_NEEDS = "the coach works from your goals, days per week, equipment, conditions and injuries"
RECENT_DAYS = 28
LAST_SESSIONS = 3

# Averages of the last four weeks up to ``$2``; the weight trend is the least-squares slope
# over every weigh-in (kg/day, times 7), given from eight weigh-ins on.
SIGNALS = f"""
SELECT
  (SELECT round(avg(hours)::numeric, 2)::float8 FROM sleep_logs
    WHERE user_id = $1 AND log_date BETWEEN $2::date - {RECENT_DAYS - 1} AND $2) AS sleep,
  (SELECT hours::float8 FROM sleep_targets WHERE user_id = $1 AND is_active) AS sleep_target,
  (SELECT round(avg(kcal)::numeric, 2)::float8 FROM calorie_logs
    WHERE user_id = $1 AND log_date BETWEEN $2::date - {RECENT_DAYS - 1} AND $2) AS kcal,
  (SELECT kcal::float8 FROM calorie_targets WHERE user_id = $1 AND is_active) AS kcal_target,
  (SELECT round(avg(soreness)::numeric, 2)::float8 FROM readiness_logs
    WHERE user_id = $1 AND log_date BETWEEN $2::date - {RECENT_DAYS - 1} AND $2) AS soreness,
  (SELECT round(avg(energy)::numeric, 2)::float8 FROM readiness_logs
    WHERE user_id = $1 AND log_date BETWEEN $2::date - {RECENT_DAYS - 1} AND $2) AS energy,
  (SELECT CASE WHEN count(*) >= 8
               THEN round((regr_slope(weight_kg, log_date - $2::date) * 7)::numeric, 2)::float8
          END
     FROM body_metrics WHERE user_id = $1 AND weight_kg IS NOT NULL) AS trend,
  (SELECT round(count(*) / {RECENT_DAYS / 7}::numeric, 2)::float8 FROM workouts
    WHERE user_id = $1 AND started_at >= $2::date - {RECENT_DAYS - 1}) AS sessions
"""

# The last sessions, oldest first, each set with the target of the planned set it
# answers (same plan day, same exercise position, set number counted after warm-ups).
SESSIONS = f"""
WITH last AS (
  SELECT id, started_at, plan_day_id FROM workouts WHERE user_id = $1
  ORDER BY started_at DESC LIMIT {LAST_SESSIONS}
), warm AS (
  SELECT we.id, bool_or(ws.is_warmup)::int AS offset_
  FROM workout_exercises we JOIN last ON last.id = we.workout_id
  JOIN workout_sets ws ON ws.workout_exercise_id = we.id GROUP BY we.id
)
SELECT last.id AS workout_id, last.started_at, pd.name AS day_name, we.position,
       e.name AS exercise, ws.set_number, ws.reps, ws.rir, ws.weight_kg::float8 AS weight_kg,
       ps.target_reps, ps.target_rir
FROM last
JOIN workout_exercises we ON we.workout_id = last.id
JOIN exercises e ON e.id = we.exercise_id
JOIN workout_sets ws ON ws.workout_exercise_id = we.id AND NOT ws.is_warmup
JOIN warm ON warm.id = we.id
LEFT JOIN plan_days pd ON pd.id = last.plan_day_id
LEFT JOIN plan_exercises pe ON pe.plan_day_id = last.plan_day_id AND pe.position = we.position
LEFT JOIN plan_sets ps ON ps.plan_exercise_id = pe.id
     AND ps.set_number = ws.set_number - warm.offset_
ORDER BY last.started_at, last.id, we.position, ws.set_number
"""

# Workouts without a logged set still count as sessions (with no exercises).
SESSION_DAYS = f"""
SELECT w.id, w.started_at, pd.name AS day_name FROM workouts w
LEFT JOIN plan_days pd ON pd.id = w.plan_day_id
WHERE w.user_id = $1 ORDER BY w.started_at DESC LIMIT {LAST_SESSIONS}
"""


@dataclass(frozen=True)
class CoachContext:
    profile: UserProfile
    plan: Plan | None
    plan_id: UUID | None
    sessions: tuple[LoggedSession, ...]


async def recent_signals(conn: asyncpg.Connection, user_id: UUID, end: date) -> RecentSignals:
    row = await conn.fetchrow(SIGNALS, user_id, end)
    return RecentSignals(
        sleep_hours=row["sleep"],
        sleep_target_hours=row["sleep_target"],
        calories=row["kcal"],
        calorie_target=row["kcal_target"],
        weight_trend_kg_per_week=row["trend"],
        soreness=row["soreness"],
        energy=row["energy"],
        sessions_per_week=row["sessions"],
    )


async def recent_sessions(conn: asyncpg.Connection, user_id: UUID) -> tuple[LoggedSession, ...]:
    heads = await conn.fetch(SESSION_DAYS, user_id)
    rows = await conn.fetch(SESSIONS, user_id)
    grouped: dict[UUID, dict[tuple[int, str], list[LoggedSet]]] = {}
    for r in rows:
        grouped.setdefault(r["workout_id"], {}).setdefault(
            (r["position"], r["exercise"]), []
        ).append(
            LoggedSet(
                reps=r["reps"],
                target_reps=r["target_reps"],
                rir=r["rir"],
                target_rir=r["target_rir"],
                weight_kg=r["weight_kg"],
            )
        )
    sessions = []
    for head in sorted(heads, key=lambda h: h["started_at"]):
        exercises = grouped.get(head["id"], {})
        sessions.append(
            LoggedSession(
                day=head["started_at"].date(),
                plan_day_name=head["day_name"],
                exercises=tuple(
                    LoggedExercise(exercise_name=name, sets=tuple(sets))
                    for (_position, name), sets in sorted(exercises.items())
                ),
            )
        )
    return tuple(sessions)


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
