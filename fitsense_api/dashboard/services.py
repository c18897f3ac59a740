"""The dashboard: all SQL of the dashboard context.

One statement computes the whole document (one round trip). The window is ``weeks``
ISO weeks (Monday to Sunday) ending with the week of ``today``; rows dated after
``today`` are not counted. A session's date is its ``started_at`` in UTC.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from uuid import UUID

import asyncpg
import msgspec

from fitsense_api.dashboard.schemas import MAX_WEEKS, MIN_WEEKS, DashboardOut
from fitsense_api.errors import Unprocessable

# A window end outside these is a mistake, not a request.
EARLIEST_TODAY = date(2000, 1, 1)
LATEST_TODAY = date(2100, 12, 31)

# $1 user id, $2 today, $3 number of weeks.
DASHBOARD = """
WITH bounds AS (
    SELECT date_trunc('week', $2::date::timestamp)::date - 7 * ($3::int - 1) AS start_on,
           $2::date AS end_on
), week AS (
    SELECT b.start_on + 7 * i AS week_start FROM bounds b, generate_series(0, $3::int - 1) AS i
), planned AS (
    SELECT CASE WHEN ap.id IS NOT NULL THEN 'plan'
                WHEN up.user_id IS NOT NULL THEN 'preferences'
                ELSE 'none' END AS source,
           CASE WHEN ap.id IS NOT NULL THEN ap.training_days
                ELSE coalesce(up.days_per_week, 0) END::int AS per_week
    FROM (SELECT 1) AS one
    LEFT JOIN LATERAL (
        SELECT wp.id, (SELECT count(*) FROM plan_days pd
                       WHERE pd.plan_id = wp.id
                         AND EXISTS (SELECT 1 FROM plan_exercises pe
                                     WHERE pe.plan_day_id = pd.id)) AS training_days
        FROM workout_plans wp WHERE wp.user_id = $1 AND wp.is_active
    ) ap ON true
    LEFT JOIN user_preferences up ON up.user_id = $1
), session AS (
    SELECT w.id, w.plan_day_id,
           date_trunc('week', w.started_at AT TIME ZONE 'UTC')::date AS week_start
    FROM workouts w, bounds b
    WHERE w.user_id = $1
      AND w.started_at >= b.start_on::timestamp AT TIME ZONE 'UTC'
      AND w.started_at < (b.end_on + 1)::timestamp AT TIME ZONE 'UTC'
), done_exercise AS (
    SELECT we.id, s.week_start, e.primary_muscle, m.plan_exercise_id
    FROM session s
    JOIN workout_exercises we ON we.workout_id = s.id
    JOIN exercises e ON e.id = we.exercise_id
    -- The planned exercise this one carries out: same plan day, same exercise (the one
    -- at the same position first, should the day hold the exercise twice).
    LEFT JOIN LATERAL (
        SELECT pe.id AS plan_exercise_id FROM plan_exercises pe
        WHERE pe.plan_day_id = s.plan_day_id AND pe.exercise_id = we.exercise_id
        ORDER BY pe.position = we.position DESC, pe.position
        LIMIT 1
    ) m ON true
), working_set AS (
    SELECT de.week_start, de.primary_muscle, de.plan_exercise_id, ws.reps, ws.weight_kg,
           ws.rir,
           -- Plans hold working sets only: the n-th working set is planned set n, so a
           -- warm-up logged as set 1 does not shift the match.
           row_number() OVER (PARTITION BY ws.workout_exercise_id ORDER BY ws.set_number)
               AS working_number
    FROM done_exercise de
    JOIN workout_sets ws ON ws.workout_exercise_id = de.id
    WHERE NOT ws.is_warmup
), volume AS (
    SELECT week_start,
           json_agg(json_build_object(
               'muscle', muscle, 'sets', sets, 'reps', reps, 'tonnage_kg', tonnage_kg)
               ORDER BY muscle) AS muscles
    FROM (SELECT week_start, primary_muscle AS muscle, count(*) AS sets, sum(reps) AS reps,
                 coalesce(sum(reps * weight_kg), 0) AS tonnage_kg
          FROM working_set GROUP BY week_start, primary_muscle) v
    GROUP BY week_start
), rir AS (
    SELECT count(*) AS matched_sets,
           round(avg(s.rir), 2) AS logged,
           round(avg(ps.target_rir), 2) AS target,
           round(avg(s.rir - ps.target_rir), 2) AS difference
    FROM working_set s
    JOIN plan_sets ps
      ON ps.plan_exercise_id = s.plan_exercise_id AND ps.set_number = s.working_number
    WHERE s.rir IS NOT NULL
), sessions_by_week AS (
    SELECT week_start, count(*) AS done FROM session GROUP BY week_start
), readiness AS (
    SELECT date_trunc('week', r.log_date::timestamp)::date AS week_start,
           count(*) AS days_logged,
           round(avg(r.soreness), 2) AS soreness,
           round(avg(r.energy), 2) AS energy,
           round(avg(r.mood), 2) AS mood,
           round(avg(r.resting_hr), 1) AS resting_hr,
           round(avg(r.steps), 0) AS steps
    FROM readiness_logs r, bounds b
    WHERE r.user_id = $1 AND r.log_date BETWEEN b.start_on AND b.end_on
    GROUP BY 1
), sleep AS (
    SELECT round(avg(l.hours), 2) AS average, count(*) AS days,
           (SELECT t.hours FROM sleep_targets t WHERE t.user_id = $1 AND t.is_active) AS target
    FROM sleep_logs l, bounds b
    WHERE l.user_id = $1 AND l.log_date BETWEEN b.start_on AND b.end_on
), calories AS (
    SELECT round(avg(l.kcal), 1) AS average, count(*) AS days,
           (SELECT t.kcal FROM calorie_targets t WHERE t.user_id = $1 AND t.is_active) AS target
    FROM calorie_logs l, bounds b
    WHERE l.user_id = $1 AND l.log_date BETWEEN b.start_on AND b.end_on
), weight AS (
    SELECT round((regr_slope(m.weight_kg::float8, (m.log_date - b.start_on)::float8) * 7)
                 ::numeric, 3) AS slope,
           count(*) AS points,
           (array_agg(m.weight_kg ORDER BY m.log_date DESC))[1] AS latest,
           max(m.log_date) AS latest_on
    FROM body_metrics m, bounds b
    WHERE m.user_id = $1 AND m.weight_kg IS NOT NULL
      AND m.log_date BETWEEN b.start_on AND b.end_on
), by_week AS (
    SELECT w.week_start,
           least(w.week_start + 6, b.end_on) AS week_end,
           w.week_start + 6 > b.end_on AS in_progress,
           coalesce(s.done, 0) AS done,
           p.per_week AS planned,
           v.muscles,
           r.days_logged, r.soreness, r.energy, r.mood, r.resting_hr, r.steps
    FROM week w
    CROSS JOIN bounds b
    CROSS JOIN planned p
    LEFT JOIN sessions_by_week s ON s.week_start = w.week_start
    LEFT JOIN volume v ON v.week_start = w.week_start
    LEFT JOIN readiness r ON r.week_start = w.week_start
)
SELECT json_build_object(
    'today', b.end_on,
    'weeks', $3::int,
    'window_start', b.start_on,
    'window_end', b.end_on,
    'adherence', json_build_object(
        'planned_from', p.source,
        'planned_per_week', p.per_week,
        'sessions_done', (SELECT coalesce(sum(done), 0) FROM by_week),
        'sessions_planned', p.per_week * $3::int,
        'ratio', CASE WHEN p.per_week > 0 THEN round(
            (SELECT coalesce(sum(done), 0) FROM by_week)::numeric / (p.per_week * $3::int), 3)
            END),
    'rir', json_build_object(
        'matched_sets', rir.matched_sets,
        'mean_logged_rir', rir.logged,
        'mean_target_rir', rir.target,
        'mean_difference', rir.difference),
    'sleep', json_build_object(
        'average_hours', sleep.average,
        'target_hours', sleep.target,
        'difference_hours', sleep.average - sleep.target,
        'days_logged', sleep.days),
    'calories', json_build_object(
        'average_kcal', calories.average,
        'target_kcal', calories.target,
        'difference_kcal', calories.average - calories.target,
        'days_logged', calories.days),
    'weight', json_build_object(
        'slope_kg_per_week', weight.slope,
        'latest_kg', weight.latest,
        'latest_on', weight.latest_on,
        'points', weight.points),
    'by_week', (
        SELECT json_agg(json_build_object(
                   'week_start', bw.week_start,
                   'week_end', bw.week_end,
                   'in_progress', bw.in_progress,
                   'sessions_done', bw.done,
                   'sessions_planned', bw.planned,
                   'adherence', CASE WHEN bw.planned > 0
                                     THEN round(bw.done::numeric / bw.planned, 3) END,
                   'volume', coalesce(bw.muscles, '[]'::json),
                   'readiness', json_build_object(
                       'days_logged', coalesce(bw.days_logged, 0),
                       'soreness', bw.soreness,
                       'energy', bw.energy,
                       'mood', bw.mood,
                       'resting_hr', bw.resting_hr,
                       'steps', bw.steps))
               ORDER BY bw.week_start)
        FROM by_week bw)
)::text
FROM bounds b, planned p, rir, sleep, calories, weight
"""


async def get_dashboard(
    conn: asyncpg.Connection, user_id: UUID, today: date | None, weeks: int
) -> DashboardOut:
    """The caller's dashboard for the ``weeks`` ISO weeks ending with ``today``'s week
    (default: today in UTC)."""
    day = today or datetime.now(UTC).date()
    if not EARLIEST_TODAY <= day <= LATEST_TODAY:
        raise Unprocessable.field(
            "query.today", f"must be between {EARLIEST_TODAY} and {LATEST_TODAY}"
        )
    if not MIN_WEEKS <= weeks <= MAX_WEEKS:
        raise Unprocessable.field("query.weeks", f"must be between {MIN_WEEKS} and {MAX_WEEKS}")
    text = await conn.fetchval(DASHBOARD, user_id, day, weeks)
    return msgspec.json.decode(text, type=DashboardOut)
