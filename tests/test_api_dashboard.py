"""The dashboard through the real app, every number checked against an independent
computation in Python over the rows read back from PostgreSQL (a small synthetic run),
plus hand-built cases, empty accounts, bad parameters and isolation between users."""

from __future__ import annotations

import secrets
import statistics
import uuid
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from typing import Any

import asyncpg
import psycopg
import pytest

from fitsense_api.auth.security import token_digest
from fitsense_core.reference import exercise_catalog
from fitsense_core.synthetic import SyntheticConfig, generate_run
from fitsense_core.synthetic.load import load_run
from tests.api_helpers import assert_problem

pytestmark = pytest.mark.anyio

TODAY = date(2026, 10, 31)  # a Saturday: the current week is in progress
RUN_ID = "api-dashboard"
MUSCLE = {uuid.UUID(e.id): e.primary_muscle for e in exercise_catalog()}


@pytest.fixture(scope="module")
def synthetic_users(api_db: str) -> list[uuid.UUID]:
    config = SyntheticConfig(run_id=RUN_ID, n_users=4, seed=11, history_end=TODAY)
    load_run(api_db, RUN_ID, generate_run(config))
    with psycopg.connect(api_db) as conn:
        rows = conn.execute(
            "SELECT id FROM users WHERE synthetic_run_id = %s ORDER BY id", (RUN_ID,)
        ).fetchall()
    return [r[0] for r in rows]


async def _token_for(api_db: str, user_id: uuid.UUID) -> dict[str, str]:
    token = secrets.token_urlsafe(32)
    conn = await asyncpg.connect(api_db)
    try:
        await conn.execute(
            "INSERT INTO api_tokens (user_id, token_hash, expires_at) "
            "VALUES ($1, $2, now() + interval '1 hour')",
            user_id,
            token_digest(token),
        )
    finally:
        await conn.close()
    return {"Authorization": f"Bearer {token}"}


# --- the independent computation ------------------------------------------------------------


def _monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def _mean(values: list[float]) -> float | None:
    return statistics.fmean(values) if values else None


async def expected_dashboard(
    conn: asyncpg.Connection, user_id: uuid.UUID, today: date, weeks: int
) -> dict[str, Any]:
    """The dashboard recomputed with plain loops over the user's raw rows."""
    start = _monday(today) - timedelta(weeks=weeks - 1)
    week_starts = [start + timedelta(weeks=i) for i in range(weeks)]

    def in_window(day: date) -> bool:
        return start <= day <= today

    # Planned sessions per week: the active plan's training days, else the preference.
    active = await conn.fetchval(
        "SELECT id FROM workout_plans WHERE user_id = $1 AND is_active", user_id
    )
    plan_days = await conn.fetch(
        "SELECT d.id, d.plan_id FROM plan_days d JOIN workout_plans p ON p.id = d.plan_id "
        "WHERE p.user_id = $1",
        user_id,
    )
    plan_exercises = await conn.fetch(
        "SELECT e.id, e.plan_day_id, e.exercise_id, e.position FROM plan_exercises e "
        "JOIN plan_days d ON d.id = e.plan_day_id JOIN workout_plans p ON p.id = d.plan_id "
        "WHERE p.user_id = $1",
        user_id,
    )
    plan_sets = await conn.fetch(
        "SELECT s.plan_exercise_id, s.set_number, s.target_rir FROM plan_sets s "
        "JOIN plan_exercises e ON e.id = s.plan_exercise_id "
        "JOIN plan_days d ON d.id = e.plan_day_id JOIN workout_plans p ON p.id = d.plan_id "
        "WHERE p.user_id = $1",
        user_id,
    )
    days_with_exercises = {e["plan_day_id"] for e in plan_exercises}
    preference = await conn.fetchval(
        "SELECT days_per_week FROM user_preferences WHERE user_id = $1", user_id
    )
    if active is not None:
        source = "plan"
        per_week = sum(
            1 for d in plan_days if d["plan_id"] == active and d["id"] in days_with_exercises
        )
    elif preference is not None:
        source, per_week = "preferences", preference
    else:
        source, per_week = "none", 0

    workouts = [
        w
        for w in await conn.fetch(
            "SELECT id, plan_day_id, started_at FROM workouts WHERE user_id = $1", user_id
        )
        if in_window(w["started_at"].astimezone(UTC).date())
    ]
    week_of = {w["id"]: _monday(w["started_at"].astimezone(UTC).date()) for w in workouts}
    plan_day_of = {w["id"]: w["plan_day_id"] for w in workouts}
    done = defaultdict(int)
    for w in workouts:
        done[week_of[w["id"]]] += 1

    exercises = [
        e
        for e in await conn.fetch(
            "SELECT e.id, e.workout_id, e.exercise_id, e.position FROM workout_exercises e "
            "JOIN workouts w ON w.id = e.workout_id WHERE w.user_id = $1",
            user_id,
        )
        if e["workout_id"] in week_of
    ]
    sets_by_exercise = defaultdict(list)
    for s in await conn.fetch(
        "SELECT s.workout_exercise_id, s.set_number, s.reps, s.weight_kg, s.rir, s.is_warmup "
        "FROM workout_sets s JOIN workout_exercises e ON e.id = s.workout_exercise_id "
        "JOIN workouts w ON w.id = e.workout_id WHERE w.user_id = $1",
        user_id,
    ):
        sets_by_exercise[s["workout_exercise_id"]].append(s)
    targets = {(s["plan_exercise_id"], s["set_number"]): s["target_rir"] for s in plan_sets}

    volume: dict[tuple[date, str], list[float]] = defaultdict(lambda: [0, 0, 0.0])
    pairs: list[tuple[int, int]] = []
    for e in exercises:
        week = week_of[e["workout_id"]]
        muscle = MUSCLE[e["exercise_id"]]
        candidates = sorted(
            (
                p
                for p in plan_exercises
                if p["plan_day_id"] == plan_day_of[e["workout_id"]]
                and p["exercise_id"] == e["exercise_id"]
            ),
            key=lambda p: (p["position"] != e["position"], p["position"]),
        )
        planned = candidates[0]["id"] if candidates else None
        working = sorted(
            (s for s in sets_by_exercise[e["id"]] if not s["is_warmup"]),
            key=lambda s: s["set_number"],
        )
        for n, s in enumerate(working, start=1):
            cell = volume[(week, muscle)]
            cell[0] += 1
            cell[1] += s["reps"]
            cell[2] += float(s["reps"] * s["weight_kg"]) if s["weight_kg"] is not None else 0.0
            if s["rir"] is not None and (planned, n) in targets:
                pairs.append((s["rir"], targets[(planned, n)]))

    readiness = defaultdict(list)
    for r in await conn.fetch(
        "SELECT log_date, soreness, energy, mood, resting_hr, steps FROM readiness_logs "
        "WHERE user_id = $1",
        user_id,
    ):
        if in_window(r["log_date"]):
            readiness[_monday(r["log_date"])].append(r)

    async def window_values(sql: str) -> list[tuple[date, Any]]:
        return [(r[0], r[1]) for r in await conn.fetch(sql, user_id) if in_window(r[0])]

    sleep = [
        float(h)
        for _, h in await window_values("SELECT log_date, hours FROM sleep_logs WHERE user_id = $1")
    ]
    kcal = [
        k
        for _, k in await window_values(
            "SELECT log_date, kcal FROM calorie_logs WHERE user_id = $1"
        )
    ]
    weights = sorted(
        (d, float(w))
        for d, w in await window_values(
            "SELECT log_date, weight_kg FROM body_metrics "
            "WHERE user_id = $1 AND weight_kg IS NOT NULL"
        )
    )
    sleep_target = await conn.fetchval(
        "SELECT hours FROM sleep_targets WHERE user_id = $1 AND is_active", user_id
    )
    kcal_target = await conn.fetchval(
        "SELECT kcal FROM calorie_targets WHERE user_id = $1 AND is_active", user_id
    )
    slope = None
    if len(weights) >= 2:
        xs = [(d - start).days for d, _ in weights]
        ys = [w for _, w in weights]
        mx, my = statistics.fmean(xs), statistics.fmean(ys)
        sxx = sum((x - mx) ** 2 for x in xs)
        slope = 7 * sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sxx

    def readiness_of(week: date) -> dict[str, Any]:
        rows = readiness[week]
        out: dict[str, Any] = {"days_logged": len(rows)}
        for key in ("soreness", "energy", "mood", "resting_hr", "steps"):
            out[key] = _mean([r[key] for r in rows if r[key] is not None])
        return out

    total_done = sum(done[w] for w in week_starts)
    sleep_avg, kcal_avg = _mean(sleep), _mean(kcal)
    return {
        "today": today.isoformat(),
        "weeks": weeks,
        "window_start": start.isoformat(),
        "window_end": today.isoformat(),
        "adherence": {
            "planned_from": source,
            "planned_per_week": per_week,
            "sessions_done": total_done,
            "sessions_planned": per_week * weeks,
            "ratio": total_done / (per_week * weeks) if per_week else None,
        },
        "rir": {
            "matched_sets": len(pairs),
            "mean_logged_rir": _mean([a for a, _ in pairs]),
            "mean_target_rir": _mean([b for _, b in pairs]),
            "mean_difference": _mean([a - b for a, b in pairs]),
        },
        "sleep": {
            "average_hours": sleep_avg,
            "target_hours": float(sleep_target) if sleep_target is not None else None,
            "difference_hours": sleep_avg - float(sleep_target)
            if sleep_avg is not None and sleep_target is not None
            else None,
            "days_logged": len(sleep),
        },
        "calories": {
            "average_kcal": kcal_avg,
            "target_kcal": kcal_target,
            "difference_kcal": kcal_avg - kcal_target
            if kcal_avg is not None and kcal_target is not None
            else None,
            "days_logged": len(kcal),
        },
        "weight": {
            "slope_kg_per_week": slope,
            "latest_kg": weights[-1][1] if weights else None,
            "latest_on": weights[-1][0].isoformat() if weights else None,
            "points": len(weights),
        },
        "by_week": [
            {
                "week_start": w.isoformat(),
                "week_end": min(w + timedelta(days=6), today).isoformat(),
                "in_progress": w + timedelta(days=6) > today,
                "sessions_done": done[w],
                "sessions_planned": per_week,
                "adherence": done[w] / per_week if per_week else None,
                "volume": [
                    {"muscle": m, "sets": c[0], "reps": c[1], "tonnage_kg": c[2]}
                    for (wk, m), c in sorted(volume.items())
                    if wk == w
                ],
                "readiness": readiness_of(w),
            }
            for w in week_starts
        ],
    }


# Decimal places the API rounds each number to.
PRECISION = {
    "ratio": 3,
    "adherence": 3,
    "mean_logged_rir": 2,
    "mean_target_rir": 2,
    "mean_difference": 2,
    "average_hours": 2,
    "difference_hours": 2,
    "average_kcal": 1,
    "difference_kcal": 1,
    "slope_kg_per_week": 3,
    "soreness": 2,
    "energy": 2,
    "mood": 2,
    "resting_hr": 1,
    "steps": 0,
    "tonnage_kg": 2,
}


def assert_same(actual: Any, expected: Any, key: str = "$") -> None:
    """Equal structure; numbers equal up to the rounding the API applies."""
    if isinstance(expected, dict):
        assert isinstance(actual, dict) and actual.keys() == expected.keys(), key
        for k in expected:
            assert_same(actual[k], expected[k], k)
    elif isinstance(expected, list):
        assert isinstance(actual, list) and len(actual) == len(expected), key
        for a, e in zip(actual, expected, strict=True):
            assert_same(a, e, key)
    elif isinstance(expected, float) and key in PRECISION:
        # Half a unit of the last decimal for the rounding, a little more for the
        # difference of two rounded averages.
        assert actual == pytest.approx(expected, abs=1.01 * 10 ** -PRECISION[key]), key
    else:
        assert actual == expected, key


# --- the synthetic run ----------------------------------------------------------------------------


@pytest.mark.parametrize(("today", "weeks"), [(TODAY, 8), (date(2026, 10, 14), 3)])
async def test_dashboard_matches_an_independent_computation(
    client, api_db: str, synthetic_users, today: date, weeks: int
) -> None:
    conn = await asyncpg.connect(api_db)
    try:
        for user_id in synthetic_users:
            headers = await _token_for(api_db, user_id)
            response = await client.get(
                "/dashboard",
                params={"weeks": weeks, "today": today.isoformat()},
                headers=headers,
            )
            assert response.status_code == 200, response.text
            expected = await expected_dashboard(conn, user_id, today, weeks)
            assert_same(response.json(), expected)
    finally:
        await conn.close()


async def test_synthetic_dashboards_are_not_trivial(client, api_db: str, synthetic_users) -> None:
    """The comparison above means something only if the run has data in every section."""
    seen: dict[str, int] = defaultdict(int)
    for user_id in synthetic_users:
        headers = await _token_for(api_db, user_id)
        body = (
            await client.get("/dashboard", params={"today": TODAY.isoformat()}, headers=headers)
        ).json()
        assert body["adherence"]["planned_from"] == "plan"
        assert len(body["by_week"]) == 8 and body["by_week"][-1]["in_progress"] is True
        assert body["window_start"] == "2026-09-07" and body["window_end"] == "2026-10-31"
        seen["sessions"] += body["adherence"]["sessions_done"]
        seen["matched"] += body["rir"]["matched_sets"]
        seen["volume"] += sum(len(w["volume"]) for w in body["by_week"])
        seen["tonnage"] += sum(m["tonnage_kg"] > 0 for w in body["by_week"] for m in w["volume"])
        seen["sleep"] += body["sleep"]["days_logged"]
        seen["calories"] += body["calories"]["days_logged"]
        seen["slopes"] += body["weight"]["slope_kg_per_week"] is not None
        seen["readiness"] += sum(w["readiness"]["days_logged"] for w in body["by_week"])
        seen["targets"] += body["sleep"]["target_hours"] is not None
    assert all(seen[k] > 0 for k in ("sessions", "matched", "volume", "tonnage", "sleep")), seen
    assert all(seen[k] > 0 for k in ("calories", "slopes", "readiness", "targets")), seen


async def test_a_long_window_reaches_before_the_history(
    client, api_db: str, synthetic_users
) -> None:
    user_id = synthetic_users[0]
    headers = await _token_for(api_db, user_id)
    response = await client.get(
        "/dashboard", params={"weeks": 52, "today": TODAY.isoformat()}, headers=headers
    )
    assert response.status_code == 200, response.text
    conn = await asyncpg.connect(api_db)
    try:
        assert_same(response.json(), await expected_dashboard(conn, user_id, TODAY, 52))
    finally:
        await conn.close()
    first = response.json()["by_week"][0]
    assert first["sessions_done"] == 0 and first["volume"] == []


# --- hand-built cases -------------------------------------------------------------------------------

ONBOARDING = {
    "profile": {
        "date_of_birth": "1985-01-20",
        "sex": "M",
        "height_cm": 181,
        "activity_level": "lightly_active",
    },
    "preferences": {
        "days_per_week": 3,
        "experience": "intermediate",
        "session_length_min": 60,
        "equipment": ["dumbbell", "bench"],
    },
    "goals": ["muscle_gain"],
}

EMPTY_WEEK = {
    "volume": [],
    "readiness": {
        "days_logged": 0,
        "soreness": None,
        "energy": None,
        "mood": None,
        "resting_hr": None,
        "steps": None,
    },
}


async def test_a_new_account_gets_a_well_formed_empty_dashboard(client, new_account) -> None:
    headers, _ = await new_account()
    response = await client.get(
        "/dashboard", params={"weeks": 2, "today": "2026-11-04"}, headers=headers
    )
    assert response.status_code == 200, response.text
    assert response.json() == {
        "today": "2026-11-04",
        "weeks": 2,
        "window_start": "2026-10-26",
        "window_end": "2026-11-04",
        "adherence": {
            "planned_from": "none",
            "planned_per_week": 0,
            "sessions_done": 0,
            "sessions_planned": 0,
            "ratio": None,
        },
        "rir": {
            "matched_sets": 0,
            "mean_logged_rir": None,
            "mean_target_rir": None,
            "mean_difference": None,
        },
        "sleep": {
            "average_hours": None,
            "target_hours": None,
            "difference_hours": None,
            "days_logged": 0,
        },
        "calories": {
            "average_kcal": None,
            "target_kcal": None,
            "difference_kcal": None,
            "days_logged": 0,
        },
        "weight": {"slope_kg_per_week": None, "latest_kg": None, "latest_on": None, "points": 0},
        "by_week": [
            {
                "week_start": "2026-10-26",
                "week_end": "2026-11-01",
                "in_progress": False,
                "sessions_done": 0,
                "sessions_planned": 0,
                "adherence": None,
                **EMPTY_WEEK,
            },
            {
                "week_start": "2026-11-02",
                "week_end": "2026-11-04",
                "in_progress": True,
                "sessions_done": 0,
                "sessions_planned": 0,
                "adherence": None,
                **EMPTY_WEEK,
            },
        ],
    }


async def test_default_window_is_eight_weeks_ending_today(client, new_account) -> None:
    headers, _ = await new_account()
    body = (await client.get("/dashboard", headers=headers)).json()
    today = datetime.now(UTC).date()
    assert body["weeks"] == 8 and len(body["by_week"]) == 8
    assert (
        body["today"] == today.isoformat()
        or body["today"] == (today - timedelta(days=1)).isoformat()
    )  # the clock may pass midnight during the request
    assert date.fromisoformat(body["window_start"]).weekday() == 0


async def test_preferences_plan_the_week_until_there_is_a_plan(client, new_account) -> None:
    headers, _ = await new_account()
    assert (await client.put("/onboarding", json=ONBOARDING, headers=headers)).status_code == 200
    body = (
        await client.get("/dashboard", params={"weeks": 4, "today": "2026-10-31"}, headers=headers)
    ).json()
    assert body["adherence"] == {
        "planned_from": "preferences",
        "planned_per_week": 3,
        "sessions_done": 0,
        "sessions_planned": 12,
        "ratio": 0.0,
    }
    assert [w["sessions_planned"] for w in body["by_week"]] == [3, 3, 3, 3]


async def _insert_history(api_db: str, user_id: uuid.UUID, plan: dict[str, Any]) -> None:
    """Two sessions of the plan's first day, signals and targets, for exact numbers."""
    conn = await asyncpg.connect(api_db)
    try:
        async with conn.transaction():
            day_id = await conn.fetchval(
                "SELECT id FROM plan_days WHERE plan_id = $1 AND day_order = 1",
                uuid.UUID(plan["id"]),
            )
            press = await conn.fetchval(
                "SELECT id FROM exercises WHERE name = 'Dumbbell Bench Press'"
            )
            curl = await conn.fetchval("SELECT id FROM exercises WHERE name = 'Hammer Curl'")
            sessions = [
                # Monday of the current week, in UTC: counted in that week
                datetime(2026, 10, 26, 7, 0, tzinfo=UTC),
                # Sunday 23:30 UTC of the week before
                datetime(2026, 10, 25, 23, 30, tzinfo=UTC),
                # after `today`: not counted
                datetime(2026, 11, 2, 8, 0, tzinfo=UTC),
                # before the window: not counted
                datetime(2026, 10, 18, 8, 0, tzinfo=UTC),
            ]
            for started in sessions:
                workout = await conn.fetchval(
                    "INSERT INTO workouts (user_id, plan_id, plan_day_id, started_at, ended_at) "
                    "VALUES ($1, $2, $3, $4, $4::timestamptz + interval '1 hour') RETURNING id",
                    user_id,
                    uuid.UUID(plan["id"]),
                    day_id,
                    started,
                )
                bench = await conn.fetchval(
                    "INSERT INTO workout_exercises (workout_id, exercise_id, position) "
                    "VALUES ($1, $2, 1) RETURNING id",
                    workout,
                    press,
                )
                # a warm-up logged as set 1, then two working sets (planned sets 1 and 2)
                await conn.executemany(
                    "INSERT INTO workout_sets (workout_exercise_id, set_number, reps, weight_kg, "
                    "rir, is_warmup) VALUES ($1, $2, $3, $4, $5, $6)",
                    [
                        (bench, 1, 10, 10, None, True),
                        (bench, 2, 8, 20, 3, False),
                        (bench, 3, 7, 20, 1, False),
                    ],
                )
                extra = await conn.fetchval(
                    "INSERT INTO workout_exercises (workout_id, exercise_id, position) "
                    "VALUES ($1, $2, 2) RETURNING id",
                    workout,
                    curl,
                )
                # not in the plan day: volume, but no RIR match
                await conn.execute(
                    "INSERT INTO workout_sets (workout_exercise_id, set_number, reps, weight_kg, "
                    "rir) VALUES ($1, 1, 12, 8.5, 0)",
                    extra,
                )
            await conn.executemany(
                "INSERT INTO sleep_logs (user_id, log_date, hours) VALUES ($1, $2, $3)",
                [
                    (user_id, date(2026, 10, 20), 7.5),
                    (user_id, date(2026, 10, 21), 6.0),
                    (user_id, date(2026, 11, 1), 12.0),  # after today
                ],
            )
            await conn.executemany(
                "INSERT INTO calorie_logs (user_id, log_date, kcal) VALUES ($1, $2, $3)",
                [(user_id, date(2026, 10, 20), 2000), (user_id, date(2026, 10, 30), 2500)],
            )
            await conn.executemany(
                "INSERT INTO body_metrics (user_id, log_date, weight_kg) VALUES ($1, $2, $3)",
                [
                    (user_id, date(2026, 10, 19), 80.0),
                    (user_id, date(2026, 10, 26), 79.5),
                    (user_id, date(2026, 10, 31), 79.0),
                    (user_id, date(2026, 10, 12), 95.0),  # before the window
                ],
            )
            await conn.executemany(
                "INSERT INTO readiness_logs (user_id, log_date, soreness, energy, steps) "
                "VALUES ($1, $2, $3, $4, $5)",
                [
                    (user_id, date(2026, 10, 27), 4, 7, None),
                    (user_id, date(2026, 10, 28), 5, None, 9000),
                ],
            )
            await conn.execute(
                "INSERT INTO sleep_targets (user_id, hours, starts_on) VALUES ($1, 8, $2)",
                user_id,
                date(2026, 1, 1),
            )
            await conn.execute(
                "INSERT INTO calorie_targets (user_id, kcal, starts_on) VALUES ($1, 2400, $2)",
                user_id,
                date(2026, 1, 1),
            )
    finally:
        await conn.close()


def _plan() -> dict[str, Any]:
    def sets(n: int, reps: int, rir: int) -> list[dict[str, int]]:
        return [
            {"set_number": i, "target_reps": reps, "target_rir": rir, "rest_seconds": 90}
            for i in range(1, n + 1)
        ]

    training = [
        ("PUSH_1", 1, [("Dumbbell Bench Press", sets(3, 8, 2))]),
        ("PULL_1", 3, [("Dumbbell Bent-Over Row", sets(3, 10, 2))]),
        ("LEGS_1", 5, [("Dumbbell Romanian Deadlift", sets(3, 10, 2))]),
    ]
    days = [
        {
            "name": name,
            "day_order": order,
            "notes": None,
            "exercises": [
                {"exercise_name": ex, "position": i, "notes": None, "sets": s}
                for i, (ex, s) in enumerate(exercises, start=1)
            ],
        }
        for name, order, exercises in training
    ]
    days.append({"name": "REST_1", "day_order": 2, "notes": None, "exercises": []})
    return {"plan_name": "Push pull legs", "days": days}


async def test_hand_built_history_gives_exact_numbers(client, api_db, new_account) -> None:
    headers, body = await new_account()
    user_id = uuid.UUID(body["user"]["id"])
    assert (await client.put("/onboarding", json=ONBOARDING, headers=headers)).status_code == 200
    plan = await client.post("/plans", json=_plan(), headers=headers)
    assert plan.status_code == 201, plan.text
    await _insert_history(api_db, user_id, plan.json())

    response = await client.get(
        "/dashboard", params={"weeks": 2, "today": "2026-10-31"}, headers=headers
    )
    assert response.status_code == 200, response.text
    dash = response.json()
    assert dash["window_start"] == "2026-10-19" and dash["window_end"] == "2026-10-31"
    assert dash["adherence"] == {
        "planned_from": "plan",
        "planned_per_week": 3,
        "sessions_done": 2,
        "sessions_planned": 6,
        "ratio": 0.333,
    }
    before, current = dash["by_week"]
    assert (before["sessions_done"], current["sessions_done"]) == (1, 1)
    assert before["adherence"] == current["adherence"] == 0.333
    session_volume = [
        {"muscle": "biceps", "sets": 1, "reps": 12, "tonnage_kg": 102.0},
        {"muscle": "chest", "sets": 2, "reps": 15, "tonnage_kg": 300.0},  # warm-up excluded
    ]
    assert before["volume"] == current["volume"] == session_volume
    # Working sets 1 and 2 of the press against planned sets 1 and 2 (target RIR 2):
    # logged 3 and 1 in each of the two sessions; the curl is not in the plan day.
    assert dash["rir"] == {
        "matched_sets": 4,
        "mean_logged_rir": 2.0,
        "mean_target_rir": 2.0,
        "mean_difference": 0.0,
    }
    assert dash["sleep"] == {
        "average_hours": 6.75,
        "target_hours": 8.0,
        "difference_hours": -1.25,
        "days_logged": 2,
    }
    assert dash["calories"] == {
        "average_kcal": 2250.0,
        "target_kcal": 2400,
        "difference_kcal": -150.0,
        "days_logged": 2,
    }
    # Least squares through (0, 80), (7, 79.5), (12, 79): -6 / 72.67 kg/day.
    assert dash["weight"] == {
        "slope_kg_per_week": -0.578,
        "latest_kg": 79.0,
        "latest_on": "2026-10-31",
        "points": 3,
    }
    assert before["readiness"]["days_logged"] == 0
    assert current["readiness"] == {
        "days_logged": 2,
        "soreness": 4.5,
        "energy": 7.0,
        "mood": None,
        "resting_hr": None,
        "steps": 9000.0,
    }
    conn = await asyncpg.connect(api_db)
    try:
        assert_same(dash, await expected_dashboard(conn, user_id, TODAY, 2))
    finally:
        await conn.close()


async def test_a_single_weight_has_no_slope(client, api_db, new_account) -> None:
    headers, body = await new_account()
    conn = await asyncpg.connect(api_db)
    try:
        await conn.execute(
            "INSERT INTO body_metrics (user_id, log_date, weight_kg) VALUES ($1, $2, 70.25)",
            uuid.UUID(body["user"]["id"]),
            date(2026, 10, 30),
        )
    finally:
        await conn.close()
    weight = (
        await client.get("/dashboard", params={"today": "2026-10-31"}, headers=headers)
    ).json()["weight"]
    assert weight == {
        "slope_kg_per_week": None,
        "latest_kg": 70.25,
        "latest_on": "2026-10-30",
        "points": 1,
    }


async def test_one_users_rows_never_reach_another_users_dashboard(
    client, api_db, new_account, synthetic_users
) -> None:
    headers_a, body_a = await new_account()
    user_a = uuid.UUID(body_a["user"]["id"])
    assert (await client.put("/onboarding", json=ONBOARDING, headers=headers_a)).status_code == 200
    plan_a = (await client.post("/plans", json=_plan(), headers=headers_a)).json()
    headers_b, body_b = await new_account()
    user_b = uuid.UUID(body_b["user"]["id"])
    params = {"weeks": 2, "today": "2026-10-31"}
    empty_b = (await client.get("/dashboard", params=params, headers=headers_b)).json()

    await _insert_history(api_db, user_a, plan_a)
    dash_a = (await client.get("/dashboard", params=params, headers=headers_a)).json()
    dash_b = (await client.get("/dashboard", params=params, headers=headers_b)).json()
    assert dash_a["adherence"]["sessions_done"] == 2 and dash_a["sleep"]["days_logged"] == 2
    # B (no data of their own, synthetic users all around) still sees nothing.
    assert dash_b == empty_b
    assert dash_b["adherence"]["sessions_done"] == 0 and dash_b["rir"]["matched_sets"] == 0
    assert dash_b["sleep"]["target_hours"] is None and dash_b["weight"]["points"] == 0
    conn = await asyncpg.connect(api_db)
    try:
        assert_same(dash_a, await expected_dashboard(conn, user_a, TODAY, 2))
        assert_same(dash_b, await expected_dashboard(conn, user_b, TODAY, 2))
    finally:
        await conn.close()


# --- bad parameters -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"weeks": 0}, "query.weeks"),
        ({"weeks": 53}, "query.weeks"),
        ({"weeks": -1}, "query.weeks"),
        ({"weeks": "eight"}, "query.weeks"),
        ({"weeks": "1; DROP TABLE workouts"}, "query.weeks"),
        ({"weeks": "99999999999999999999999"}, "query.weeks"),
        ({"weeks": 2.5}, "query.weeks"),
        ({"today": "2026-02-30"}, "query.today"),
        ({"today": "yesterday"}, "query.today"),
        ({"today": "2026-10-31' OR '1'='1"}, "query.today"),
        ({"today": "1999-12-31"}, "query.today"),
        ({"today": "2101-01-01"}, "query.today"),
        ({"today": "9999-12-31"}, "query.today"),
    ],
)
async def test_bad_parameters_are_422_naming_the_field(client, new_account, params, field) -> None:
    headers, _ = await new_account()
    body = assert_problem(await client.get("/dashboard", params=params, headers=headers), 422)
    assert any(e["field"] == field for e in body["errors"]), body


async def test_the_dashboard_needs_a_token(client) -> None:
    assert_problem(await client.get("/dashboard"), 401)
    assert_problem(await client.get("/dashboard", headers={"Authorization": "Bearer nope"}), 401)


async def test_openapi_documents_the_dashboard(client) -> None:
    schema = (await client.get("/schema/openapi.json")).json()
    operation = schema["paths"]["/dashboard"]["get"]
    assert operation["operationId"] == "getDashboard"
    assert operation["security"] == [{"BearerToken": []}]
    weeks = next(p for p in operation["parameters"] if p["name"] == "weeks")
    assert weeks["schema"]["minimum"] == 1 and weeks["schema"]["maximum"] == 52
    assert weeks["schema"]["default"] == 8
    assert {p["name"] for p in operation["parameters"]} == {"weeks", "today"}
