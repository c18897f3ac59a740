"""The coaching context's queries read the same sessions through asyncpg (the API) and
psycopg (the consented-data stage)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from psycopg.rows import dict_row

from fitsense_api.ai.context import recent_sessions
from fitsense_core.coaching_context import LAST_SESSIONS_SQL, for_psycopg, sessions_from_rows
from fitsense_core.profile import LoggedExercise, LoggedSession, LoggedSet


def test_for_psycopg_names_each_placeholder_once_and_escapes_percent() -> None:
    query, params = for_psycopg("SELECT $1, $2 WHERE a = $1 AND b LIKE 'x%'", "u", 7)
    assert query == "SELECT %(p1)s, %(p2)s WHERE a = %(p1)s AND b LIKE 'x%%'"
    assert params == {"p1": "u", "p2": 7}
    with pytest.raises(ValueError, match="2 arguments"):
        for_psycopg("SELECT $1", "u", 7)


NOW = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)


def _day(days_ago: int) -> datetime:
    return NOW - timedelta(days=days_ago)


def _workout(conn, user_id, days_ago, plan=None, day=None, sets=(), exercise=None):
    workout = conn.execute(
        "INSERT INTO workouts (user_id, plan_id, plan_day_id, started_at) "
        "VALUES (%s, %s, %s, %s) RETURNING id",
        (user_id, plan, day, _day(days_ago)),
    ).fetchone()[0]
    if sets:
        we = conn.execute(
            "INSERT INTO workout_exercises (workout_id, exercise_id, position) "
            "VALUES (%s, %s, 1) RETURNING id",
            (workout, exercise),
        ).fetchone()[0]
        for number, (reps, rir, weight, warmup) in enumerate(sets, start=1):
            conn.execute(
                "INSERT INTO workout_sets (workout_exercise_id, set_number, reps, rir, "
                "weight_kg, is_warmup) VALUES (%s, %s, %s, %s, %s, %s)",
                (we, number, reps, rir, weight, warmup),
            )


def test_both_drivers_read_the_last_sessions_with_their_targets(fresh_migrated_db: str) -> None:
    with psycopg.connect(fresh_migrated_db, autocommit=True) as conn:
        (squat, squat_id), (row, row_id) = conn.execute(
            "SELECT name, id FROM exercises ORDER BY slug LIMIT 2"
        ).fetchall()
        user_id = conn.execute(
            "INSERT INTO users (name, email, password_hash) "
            "VALUES ('Context Person', 'context@example.com', 'x') RETURNING id"
        ).fetchone()[0]
        plan = conn.execute(
            "INSERT INTO workout_plans (user_id, name, version, source, is_active) "
            "VALUES (%s, 'Plan', 1, 'rules', true) RETURNING id",
            (user_id,),
        ).fetchone()[0]
        day = conn.execute(
            "INSERT INTO plan_days (plan_id, name, day_order) VALUES (%s, 'LEGS', 1) RETURNING id",
            (plan,),
        ).fetchone()[0]
        pe = conn.execute(
            "INSERT INTO plan_exercises (plan_day_id, exercise_id, position) "
            "VALUES (%s, %s, 1) RETURNING id",
            (day, squat_id),
        ).fetchone()[0]
        for number, reps in ((1, 8), (2, 6)):
            conn.execute(
                "INSERT INTO plan_sets (plan_exercise_id, set_number, target_reps, target_rir, "
                "rest_seconds) VALUES (%s, %s, %s, 2, 120)",
                (pe, number, reps),
            )
        # Oldest first: one that falls out of the last three, one on the plan day with a
        # warm-up set, one without a logged set, one off the plan.
        _workout(conn, user_id, 4, sets=[(5, 1, 40.0, False)], exercise=row_id)
        _workout(
            conn,
            user_id,
            3,
            plan,
            day,
            [(10, 5, 20.0, True), (8, 2, 60.0, False), (7, 1, 60.0, False)],
            squat_id,
        )
        _workout(conn, user_id, 2)
        _workout(conn, user_id, 1, sets=[(12, 3, 30.0, False)], exercise=row_id)

    async def through_asyncpg():
        import asyncpg

        connection = await asyncpg.connect(fresh_migrated_db)
        try:
            return await recent_sessions(connection, user_id)
        finally:
            await connection.close()

    def through_psycopg(at: datetime | None, loads: bool = True):
        with psycopg.connect(
            fresh_migrated_db, row_factory=dict_row, options="-c TimeZone=UTC"
        ) as conn:
            rows = conn.execute(*for_psycopg(LAST_SESSIONS_SQL, user_id, at)).fetchall()
        return sessions_from_rows(rows, loads=loads)

    planned = LoggedSession(
        _day(3).date(),
        "LEGS",
        (LoggedExercise(squat, (LoggedSet(8, 8, 2, 2, 60.0), LoggedSet(7, 6, 1, 2, 60.0))),),
    )
    expected = (
        planned,
        LoggedSession(_day(2).date(), None, ()),
        LoggedSession(
            _day(1).date(), None, (LoggedExercise(row, (LoggedSet(12, None, 3, None, 30.0),)),)
        ),
    )
    assert asyncio.run(through_asyncpg()) == expected
    assert through_psycopg(None) == expected

    before = through_psycopg(_day(3) + timedelta(hours=1), loads=False)
    assert [s.day for s in before] == [_day(4).date(), _day(3).date()]
    assert before[1].exercises[0].sets == (LoggedSet(8, 8, 2, 2, None), LoggedSet(7, 6, 1, 2, None))
