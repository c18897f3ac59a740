"""What the coach knows about one person, read from PostgreSQL: recent signals and the last
sessions with the targets they answered.

The API reads it for a live request (asyncpg) and the consented-data stage for a past one
(psycopg), so each query is written here once, with asyncpg's ``$n`` placeholders;
:func:`for_psycopg` turns a query and its arguments into psycopg's form. The dataset's
prompts are built over the same windows (``fitsense_core.synthetic.context`` uses
:data:`RECENT_DAYS` and :data:`LAST_SESSIONS`), so a person stored in the database gets the
prompt the student was trained on.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from fitsense_core.profile import LoggedExercise, LoggedSession, LoggedSet, RecentSignals

RECENT_DAYS = 28
LAST_SESSIONS = 3

# Averages of the last four weeks up to ``$2``; the weight trend is the least-squares slope
# over every weigh-in (kg/day, times 7), given from eight weigh-ins on; sessions a week are
# unknown (NULL) for someone who has never logged a workout. $1: the user id.
RECENT_SIGNALS_SQL = f"""
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
  (SELECT CASE WHEN EXISTS (SELECT 1 FROM workouts WHERE user_id = $1)
               THEN round(count(*) / {RECENT_DAYS / 7}::numeric, 2)::float8 END
     FROM workouts
    WHERE user_id = $1 AND started_at >= $2::date - {RECENT_DAYS - 1}) AS sessions
"""

# The last sessions of user $1 started at or before $2 (every one for NULL), oldest first,
# each set with the target of the planned set it answers (same plan day, same exercise
# position, set number counted after warm-ups). A session without a logged set is one row
# with NULL exercise columns: it still counts as a session.
LAST_SESSIONS_SQL = f"""
WITH last AS (
  SELECT id, started_at, plan_day_id FROM workouts
  WHERE user_id = $1 AND ($2::timestamptz IS NULL OR started_at <= $2::timestamptz)
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
LEFT JOIN plan_days pd ON pd.id = last.plan_day_id
LEFT JOIN workout_exercises we ON we.workout_id = last.id
LEFT JOIN exercises e ON e.id = we.exercise_id
LEFT JOIN workout_sets ws ON ws.workout_exercise_id = we.id AND NOT ws.is_warmup
LEFT JOIN warm ON warm.id = we.id
LEFT JOIN plan_exercises pe ON pe.plan_day_id = last.plan_day_id AND pe.position = we.position
LEFT JOIN plan_sets ps ON ps.plan_exercise_id = pe.id
     AND ps.set_number = ws.set_number - warm.offset_
ORDER BY last.started_at, last.id, we.position, ws.set_number
"""

_PLACEHOLDER = re.compile(r"\$(\d+)")


def for_psycopg(sql: str, *args: Any) -> tuple[str, dict[str, Any]]:
    """``sql`` written for asyncpg (``$1``, ``$2``, ...) and its arguments, as psycopg takes
    them: ``$n`` becomes the named parameter ``%(pn)s`` (so a repeated ``$n`` needs its value
    once) and a literal ``%`` is doubled."""
    numbers = {int(n) for n in _PLACEHOLDER.findall(sql)}
    if numbers != set(range(1, len(args) + 1)):
        raise ValueError(f"the query uses ${sorted(numbers)} but {len(args)} arguments came")
    query = _PLACEHOLDER.sub(r"%(p\1)s", sql.replace("%", "%%"))
    return query, {f"p{n}": value for n, value in enumerate(args, start=1)}


def signals_from_row(row: Mapping[str, Any]) -> RecentSignals:
    """The row of :data:`RECENT_SIGNALS_SQL` as the profile's signals."""
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


def sessions_from_rows(
    rows: Iterable[Mapping[str, Any]], *, loads: bool = True
) -> tuple[LoggedSession, ...]:
    """The rows of :data:`LAST_SESSIONS_SQL` as sessions, oldest first; ``loads=False``
    leaves the weights out."""
    heads: dict[Any, tuple[datetime, str | None]] = {}
    grouped: dict[Any, dict[tuple[int, str], list[LoggedSet]]] = defaultdict(dict)
    for r in rows:
        heads[r["workout_id"]] = (r["started_at"], r["day_name"])
        if r["reps"] is None:
            continue
        grouped[r["workout_id"]].setdefault((r["position"], r["exercise"]), []).append(
            LoggedSet(
                reps=r["reps"],
                target_reps=r["target_reps"],
                rir=r["rir"],
                target_rir=r["target_rir"],
                weight_kg=r["weight_kg"] if loads else None,
            )
        )
    return tuple(
        LoggedSession(
            day=started.date(),
            plan_day_name=day_name,
            exercises=tuple(
                LoggedExercise(exercise_name=name, sets=tuple(sets))
                for (_position, name), sets in sorted(grouped[workout_id].items())
            ),
        )
        for workout_id, (started, day_name) in sorted(heads.items(), key=lambda h: h[1][0])
    )
