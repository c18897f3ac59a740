"""Hardening rows of issue 20 through the real app: a body nested too deeply, date bounds
past the calendar's ends, NUL characters and lone surrogates in text, PostgreSQL's own
words and the model server's details kept from clients, strict types in request bodies,
and the security headers every answer carries."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
from litestar import Request

from fitsense_api.ai.reasons import reason_code
from fitsense_api.errors import handle_database_error
from fitsense_core.inference import serve
from tests.api_helpers import ONBOARDING, assert_problem, fields

pytestmark = pytest.mark.anyio

JSON = {"Content-Type": "application/json"}


def error_lines(err: str) -> list[str]:
    """The log lines at ERROR or above, and any traceback."""
    out = []
    for line in err.splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            if "Traceback" in line:
                out.append(line)
            continue
        if isinstance(entry, dict) and entry.get("severity") in ("ERROR", "CRITICAL"):
            out.append(line)
    return out


@pytest.fixture
async def exercise_id(db) -> str:
    return str(await db.fetchval("SELECT id FROM exercises ORDER BY slug LIMIT 1"))


def workout(exercise_id: str, **changes) -> dict:
    started = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
    body = {
        "started_at": started.isoformat(),
        "exercises": [{"exercise_id": exercise_id, "sets": [{"reps": 8, "weight_kg": 50}]}],
    }
    body.update(changes)
    return body


# --- row 6: nesting depth ------------------------------------------------------------------


@pytest.mark.parametrize("depth", [100_000, 200])
async def test_deeply_nested_body_is_a_400_without_an_error_log(client, capsys, depth) -> None:
    body = b"[" * depth + b"]" * depth
    capsys.readouterr()
    response = await client.post("/auth/login", content=body, headers=JSON)
    problem = assert_problem(response, 400)
    assert "nested" in problem["detail"]
    assert error_lines(capsys.readouterr().err) == []


async def test_nesting_inside_an_object_is_refused_too(client, account) -> None:
    headers, _ = await account()
    deep: object = 1
    for _ in range(100):
        deep = {"a": deep}
    response = await client.put("/signals/readiness/2026-01-01", json=deep, headers=headers)
    assert "nested" in assert_problem(response, 400)["detail"]


# --- row 9: date bounds --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("from=0001-01-01T00:00:00%2B14:00", "query.from"),
        ("to=0001-01-01T00:00:00%2B14:00", "query.to"),
        ("to=9999-12-31T23:59:59-14:00", "query.to"),
        ("from=9999-12-31T23:59:59.999999-00:01", "query.from"),
    ],
)
async def test_workout_bounds_past_the_calendar_are_422(client, account, query, field) -> None:
    headers, _ = await account()
    response = await client.get(f"/workouts?{query}", headers=headers)
    body = assert_problem(response, 422)
    assert fields(body) == [field] and "range" in body["detail"]


@pytest.mark.parametrize(
    "query",
    ["to=0001-01-01", "to=0001-01-29", "from=0001-01-01&to=0001-01-05", "from=0001-01-01"],
)
async def test_signal_bounds_before_1900_are_422(client, account, query) -> None:
    headers, _ = await account()
    response = await client.get(f"/signals/sleep?{query}", headers=headers)
    body = assert_problem(response, 422)
    assert fields(body)[0] in ("query.from", "query.to") and "1900" in body["detail"]


async def test_extreme_workout_bounds_in_range_still_list(client, account) -> None:
    headers, _ = await account()
    response = await client.get(
        "/workouts?from=0001-01-01T00:00:00Z&to=9999-12-31T00:00:00Z", headers=headers
    )
    assert response.status_code == 200, response.text
    assert response.json()["items"] == []


# --- row 10: text PostgreSQL cannot store, and its own words ----------------------------


async def test_nul_in_any_body_text_is_a_4xx_naming_the_field(client, account, db) -> None:
    headers, user_id = await account()
    response = await client.put(
        "/medications", json=[{"name": "Ibu\x00profen", "dosage": "200 mg"}], headers=headers
    )
    body = assert_problem(response, 422)
    assert fields(body) == ["[0].name"] and "NUL" in body["detail"]
    assert "invalid byte sequence" not in response.text
    assert (
        await db.fetchval("SELECT count(*) FROM user_medications WHERE user_id = $1", user_id) == 0
    )


async def test_nul_in_a_signup_name_is_a_4xx(client) -> None:
    response = await client.post(
        "/auth/signup",
        json={"name": "A\x00B", "email": f"{uuid.uuid4().hex}@example.com", "password": "x" * 12},
    )
    assert fields(assert_problem(response, 422)) == ["name"]


@pytest.mark.parametrize("escape", ["\\ud800", "\\udfff", "a\\ud83dz"])
async def test_lone_surrogate_in_body_text_is_a_4xx_naming_the_field(
    client, account, exercise_id, escape
) -> None:
    headers, _ = await account()
    text = json.dumps(workout(exercise_id, notes="NOTES")).replace("NOTES", escape)
    response = await client.post("/workouts", content=text.encode(), headers={**headers, **JSON})
    body = assert_problem(response, 422)
    assert fields(body) == ["notes"] and "surrogate" in body["detail"]


async def test_nul_in_a_query_parameter_is_a_4xx_naming_it(client, account) -> None:
    headers, _ = await account()
    response = await client.get("/exercises?q=squat%00", headers=headers)
    body = assert_problem(response, 422)
    assert fields(body) == ["query.q"]
    assert "invalid byte sequence" not in response.text


async def test_nul_in_a_path_parameter_is_a_4xx(client, account) -> None:
    headers, _ = await account()
    response = await client.get("/exercises/back%00squat", headers=headers)
    assert response.status_code in (404, 422), response.text
    assert "invalid byte sequence" not in response.text


def test_a_value_postgresql_refuses_does_not_answer_in_its_words() -> None:
    """A gap in validation (provoked directly here) is a 422 without the server's text."""
    error = asyncpg.CharacterNotInRepertoireError('invalid byte sequence for encoding "UTF8": 0x00')
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/medications",
        "raw_path": b"/medications",
        "root_path": "",
        "scheme": "http",
        "query_string": b"",
        "headers": [],
        "server": ("testserver", 80),
    }
    response = handle_database_error(Request(scope), error)
    assert response.status_code == 422
    assert "invalid byte sequence" not in json.dumps(response.content)


@pytest.mark.parametrize(
    ("reason", "code"),
    [
        (
            f"{serve.UNAVAILABLE}: model server answered 400: this model's maximum context "
            "length is 2048 tokens, you asked 2917 tokens",
            "model_unavailable",
        ),
        (f"{serve.REQUEST_TOO_LONG}: the request is 6022 bytes", "request_too_long"),
        (f"{serve.REQUEST_REFUSED}: 400 BadRequestError", "request_refused"),
        (serve.not_capable("v7", "plan_update"), "capability_not_passed"),
        (serve.suspended("v7", "coach_reply", "live acceptance 40%"), "capability_suspended"),
        (f"{serve.INVALID_PLAN}: day 3 has no exercises", "invalid_plan"),
        (f"{serve.VIOLATING_PLAN}: uses a barbell", "violating_plan"),
        (f"{serve.UNSAFE_REPLY}: dismisses pain", "unsafe_reply"),
        (serve.EMPTY_REPLY, "empty_reply"),
        ("no model answer", "no_model_answer"),
        ("something new", "other"),
        (None, None),
    ],
)
def test_fallback_reasons_reach_clients_as_stable_codes(reason, code) -> None:
    assert reason_code(reason) == code


# --- row 12: strict types ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        (
            {"exercises": [{"exercise_id": "EX", "sets": [{"reps": "8"}]}]},
            "exercises[0].sets[0].reps",
        ),
        ({"started_at": 12345}, "started_at"),
        ({"started_at": 1.7e9}, "started_at"),
        (
            {"exercises": [{"exercise_id": "EX", "sets": [{"reps": 8, "weight_kg": "50"}]}]},
            "exercises[0].sets[0].weight_kg",
        ),
        (
            {"exercises": [{"exercise_id": "EX", "sets": [{"reps": 8, "is_warmup": "true"}]}]},
            "exercises[0].sets[0].is_warmup",
        ),
    ],
)
async def test_lax_types_in_a_body_are_422(
    client, account, exercise_id, db, changes, field
) -> None:
    headers, user_id = await account()
    body = json.loads(
        json.dumps(workout(exercise_id, **changes)).replace('"EX"', f'"{exercise_id}"')
    )
    response = await client.post("/workouts", json=body, headers=headers)
    assert fields(assert_problem(response, 422)) == [field]
    assert await db.fetchval("SELECT count(*) FROM workouts WHERE user_id = $1", user_id) == 0


async def test_strict_login_refuses_a_number_for_the_email(client) -> None:
    response = await client.post("/auth/login", json={"email": 12345, "password": "x" * 10})
    assert fields(assert_problem(response, 422)) == ["email"]


# --- row 17: security headers --------------------------------------------------------------

SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
}


@pytest.mark.parametrize("path", ["/health", "/no-such-route", "/me", "/schema/openapi.json"])
async def test_every_answer_carries_the_security_headers(client, path) -> None:
    response = await client.get(path)
    for name, value in SECURITY_HEADERS.items():
        assert response.headers.get(name) == value, (path, name)
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]


async def test_answers_with_a_token_are_not_stored(client) -> None:
    email = f"{uuid.uuid4().hex}@example.com"
    signup = await client.post(
        "/auth/signup", json={"name": "N", "email": email, "password": "a-long-password"}
    )
    login = await client.post("/auth/login", json={"email": email, "password": "a-long-password"})
    for response in (signup, login):
        assert response.status_code in (200, 201), response.text
        assert response.headers["cache-control"] == "no-store"
        assert response.headers["x-content-type-options"] == "nosniff"
    health = await client.get("/health")
    assert "no-store" not in health.headers.get("cache-control", "")


# --- row 4: a plan written by hand cannot hold the process ---------------------------------


async def _onboarded(client, account) -> dict:
    headers, _ = await account()
    response = await client.put("/onboarding", json=ONBOARDING, headers=headers)
    assert response.status_code == 200, response.text
    return headers


def _plan(days: int, exercises: int, sets: int, name: str = "Dumbbell Bench Presss") -> dict:
    return {
        "plan_name": "Hand-written",
        "days": [
            {
                "name": f"DAY_{d}",
                "day_order": d,
                "notes": None,
                "exercises": [
                    {
                        "exercise_name": f"{name} {p}",
                        "position": p,
                        "sets": [
                            {"set_number": s, "target_reps": 8, "target_rir": 2, "rest_seconds": 90}
                            for s in range(1, sets + 1)
                        ],
                    }
                    for p in range(1, exercises + 1)
                ],
            }
            for d in range(1, days + 1)
        ],
    }


async def _health_latency_while(live, request) -> tuple[float, object]:
    """The slowest /health answer while ``request`` runs in the same event loop."""
    task = asyncio.create_task(request)
    await asyncio.sleep(0)
    slowest = 0.0
    while not task.done():
        started = time.perf_counter()
        assert (await live.get("/health")).status_code == 200
        slowest = max(slowest, time.perf_counter() - started)
        await asyncio.sleep(0.01)
    return slowest, await task


async def test_an_oversized_plan_is_a_fast_422_and_health_keeps_answering(
    client, live, account
) -> None:
    headers = await _onboarded(client, account)
    body = json.dumps(_plan(days=1, exercises=14_000, sets=0), separators=(",", ":"))
    assert len(body) < 1 << 20
    started = time.perf_counter()
    slowest, response = await _health_latency_while(
        live, live.post("/plans", content=body.encode(), headers={**headers, **JSON})
    )
    assert time.perf_counter() - started < 1.5
    problem = assert_problem(response, 422)
    assert fields(problem) == ["days[0].exercises"]
    assert "at most 12" in problem["detail"]
    assert slowest < 0.5


async def test_a_largest_valid_size_plan_is_judged_off_the_event_loop(
    client, live, account
) -> None:
    headers = await _onboarded(client, account)
    body = _plan(days=7, exercises=12, sets=10)
    slowest, response = await _health_latency_while(
        live, live.post("/plans", json=body, headers=headers)
    )
    problem = assert_problem(response, 422)
    assert "unknown_exercise" in {e["code"] for e in problem["errors"]}
    assert slowest < 0.5
