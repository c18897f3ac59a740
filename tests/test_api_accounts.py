"""Accounts, sessions, profile/onboarding and the catalog through the real app
(AsyncTestClient, the real PostgreSQL)."""

from __future__ import annotations

import uuid

import asyncpg
import pytest

from tests.api_helpers import ONBOARDING, assert_problem

pytestmark = pytest.mark.anyio


async def test_signup_login_me_logout(client) -> None:
    email = f"  Alex.{uuid.uuid4().hex[:8]}@Example.COM "
    signup = await client.post(
        "/auth/signup", json={"name": "Alex", "email": email, "password": "s3cret-pass"}
    )
    assert signup.status_code == 201, signup.text
    body = signup.json()
    assert body["user"]["email"] == email.strip().lower() and body["token_type"] == "bearer"
    again = await client.post(
        "/auth/signup", json={"name": "Alex", "email": email.upper(), "password": "another-1"}
    )
    assert assert_problem(again, 409)["errors"][0]["field"] == "email"

    login = await client.post(
        "/auth/login", json={"email": email.strip().upper(), "password": "s3cret-pass"}
    )
    assert login.status_code == 200, login.text
    token = login.json()["token"]
    assert token != body["token"]
    headers = {"Authorization": f"Bearer {token}"}
    me = await client.get("/me", headers=headers)
    assert me.status_code == 200 and me.json()["id"] == body["user"]["id"]

    assert (await client.post("/auth/logout", headers=headers)).status_code == 204
    assert_problem(await client.get("/me", headers=headers), 401)
    # The first session still works: logout revokes only the token it carries.
    first = {"Authorization": f"Bearer {body['token']}"}
    assert (await client.get("/me", headers=first)).status_code == 200


async def test_tokens_are_stored_hashed_and_expire(client, api_db: str, new_account) -> None:
    headers, body = await new_account()
    token = body["token"]
    conn = await asyncpg.connect(api_db)
    try:
        stored = await conn.fetch(
            "SELECT token_hash FROM api_tokens WHERE user_id = $1", uuid.UUID(body["user"]["id"])
        )
        assert len(stored) == 1 and token not in stored[0]["token_hash"]
        await conn.execute(
            "UPDATE api_tokens SET created_at = now() - interval '2 days', "
            "expires_at = now() - interval '1 second' WHERE user_id = $1",
            uuid.UUID(body["user"]["id"]),
        )
    finally:
        await conn.close()
    assert assert_problem(await client.get("/me", headers=headers), 401)["detail"].startswith(
        "the bearer token is unknown, expired or revoked"
    )


@pytest.mark.parametrize(
    "header",
    ["", "Bearer", "Basic dXNlcjpwYXNz", "Bearer not-a-token", "Bearer " + "x" * 5000],
)
async def test_bad_credentials_are_401(client, header: str) -> None:
    response = await client.get("/me", headers={"Authorization": header} if header else {})
    body = assert_problem(response, 401)
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert body["type"].endswith("/not-authenticated")


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"name": "A", "email": "not-an-email", "password": "long-enough"}, "email"),
        ({"name": "A", "email": "a@b.co", "password": "short"}, "password"),
        ({"name": "", "email": "a@b.co", "password": "long-enough"}, "name"),
        ({"name": "   ", "email": "blank@b.co", "password": "long-enough"}, "name"),
        ({"name": 5, "email": "a@b.co", "password": "long-enough"}, "name"),
        ({"name": "A", "email": "a@b.co", "password": "long-enough", "admin": True}, "admin"),
        ({"name": "A", "email": "a@b.co"}, "password"),
        (
            {"name": "x'; DROP TABLE users; --", "email": "sql'--@b.co", "password": "p" * 129},
            "password",
        ),
    ],
)
async def test_signup_bad_input_is_422_naming_the_field(client, payload, field) -> None:
    body = assert_problem(await client.post("/auth/signup", json=payload), 422)
    assert any(field in e["field"] for e in body["errors"]), body


async def test_malformed_json_is_400(client) -> None:
    response = await client.post(
        "/auth/signup",
        content=b'{"name": "A", "email":',
        headers={"content-type": "application/json"},
    )
    assert_problem(response, 400)


async def test_login_is_rate_limited_per_account(client, new_account) -> None:
    _headers, body = await new_account(password="right-password")
    email = body["user"]["email"]
    for _ in range(5):
        wrong = await client.post("/auth/login", json={"email": email, "password": "wrong-one"})
        assert_problem(wrong, 401)
    limited = await client.post("/auth/login", json={"email": email, "password": "right-password"})
    assert_problem(limited, 429)
    assert int(limited.headers["retry-after"]) > 0


async def test_login_is_rate_limited_per_client(api_settings, api_db: str) -> None:
    from dataclasses import replace

    from litestar.testing import AsyncTestClient

    from fitsense_api.app import create_app

    conn = await asyncpg.connect(api_db)
    await conn.execute("DELETE FROM login_attempts WHERE client = 'testclient'")
    await conn.close()
    settings = replace(api_settings, login_max_failures_per_client=3)
    async with AsyncTestClient(app=create_app(settings)) as client:
        for i in range(3):
            email = f"nobody-{i}-{uuid.uuid4().hex[:6]}@example.com"
            assert_problem(
                await client.post("/auth/login", json={"email": email, "password": "x"}), 401
            )
        fresh = f"fresh-{uuid.uuid4().hex[:6]}@example.com"
        assert_problem(
            await client.post("/auth/login", json={"email": fresh, "password": "x"}), 429
        )


async def test_delete_account_cascades(client, api_db: str, new_account) -> None:
    headers, body = await new_account()
    assert (await client.put("/onboarding", json=ONBOARDING, headers=headers)).status_code == 200
    assert (await client.delete("/me", headers=headers)).status_code == 204
    assert_problem(await client.get("/me", headers=headers), 401)
    conn = await asyncpg.connect(api_db)
    try:
        user_id = uuid.UUID(body["user"]["id"])
        for table in ("users", "api_tokens", "user_profiles", "user_goals", "user_allergies"):
            column = "id" if table == "users" else "user_id"
            count = await conn.fetchval(
                f"SELECT count(*) FROM {table} WHERE {column} = $1", user_id
            )
            assert count == 0, table
    finally:
        await conn.close()


async def test_onboarding_document_round_trips_and_sections_are_editable(
    client, new_account
) -> None:
    headers, _ = await new_account()
    empty = (await client.get("/onboarding", headers=headers)).json()
    assert empty["complete"] is False and empty["profile"] is None
    assert_problem(await client.get("/profile", headers=headers), 404)

    stored = await client.put("/onboarding", json=ONBOARDING, headers=headers)
    assert stored.status_code == 200, stored.text
    doc = stored.json()
    assert doc["complete"] is True
    assert doc["goals"] == ["muscle_gain", "strength"]
    assert doc["preferences"]["equipment"] == ["bench", "dumbbell"]
    assert doc["profile"]["height_cm"] == 168.4
    assert (await client.get("/onboarding", headers=headers)).json() == doc

    goals = await client.put("/goals", json=["strength", "fat_loss"], headers=headers)
    assert goals.json() == ["strength", "fat_loss"]
    prefs = dict(ONBOARDING["preferences"], days_per_week=5, equipment=["barbell"])
    assert (await client.put("/preferences", json=prefs, headers=headers)).json()[
        "days_per_week"
    ] == 5
    assert (await client.get("/medications", headers=headers)).json()[0]["name"] == "Ibuprofen"


@pytest.mark.parametrize(
    ("path", "payload", "field"),
    [
        ("/goals", ["muscle_gain", "flying"], "goals[1]"),
        ("/goals", ["strength", "strength"], "goals[1]"),
        ("/goals", [], "goals"),
        (
            "/goals",
            ["fat_loss", "strength", "endurance", "muscle_gain", "general_fitness", "fat_loss"],
            "goals",
        ),
        (
            "/preferences",
            {"days_per_week": 8, "experience": "beginner", "session_length_min": 30},
            "days_per_week",
        ),
        (
            "/preferences",
            {"days_per_week": 3, "experience": "guru", "session_length_min": 30},
            "experience",
        ),
        (
            "/preferences",
            {
                "days_per_week": 3,
                "experience": "beginner",
                "session_length_min": 30,
                "equipment": ["laser"],
            },
            "equipment[0]",
        ),
        (
            "/profile",
            {
                "date_of_birth": "2999-01-01",
                "sex": "F",
                "height_cm": 160,
                "activity_level": "sedentary",
            },
            "date_of_birth",
        ),
        (
            "/profile",
            {
                "date_of_birth": "1990-01-01",
                "sex": "F",
                "height_cm": 9000,
                "activity_level": "sedentary",
            },
            "height_cm",
        ),
        ("/conditions", [{"code": "vampirism", "severity": "mild"}], "conditions[0]"),
        ("/medications", [{"name": "A"}, {"name": "a "}], "medications[1]"),
    ],
)
async def test_profile_bad_input_is_422_and_changes_nothing(
    client, new_account, path, payload, field
) -> None:
    headers, _ = await new_account()
    assert (await client.put("/onboarding", json=ONBOARDING, headers=headers)).status_code == 200
    before = (await client.get("/onboarding", headers=headers)).json()
    body = assert_problem(await client.put(path, json=payload, headers=headers), 422)
    assert any(e["field"].endswith(field) for e in body["errors"]), body
    assert (await client.get("/onboarding", headers=headers)).json() == before


async def test_onboarding_failure_leaves_every_section_as_it_was(client, new_account) -> None:
    headers, _ = await new_account()
    assert (await client.put("/onboarding", json=ONBOARDING, headers=headers)).status_code == 200
    before = (await client.get("/onboarding", headers=headers)).json()
    broken = dict(
        ONBOARDING, goals=["fat_loss"], allergies=[{"allergen": "x", "severity": "mild"}] * 2
    )
    body = assert_problem(await client.put("/onboarding", json=broken, headers=headers), 422)
    assert body["errors"][0]["field"] == "allergies[1]"
    assert (await client.get("/onboarding", headers=headers)).json() == before


async def test_catalog_filters_search_and_safe_for_me(client, new_account) -> None:
    everything = (await client.get("/exercises", params={"limit": 200})).json()
    assert everything["total"] >= 120 and len(everything["items"]) == min(200, everything["total"])
    chest = (await client.get("/exercises", params={"muscle": "chest", "limit": 200})).json()
    assert chest["items"] and all(e["primary_muscle"] == "chest" for e in chest["items"])
    dumbbells = (
        await client.get("/exercises", params={"equipment": ["dumbbell", "bench"], "limit": 200})
    ).json()
    assert all(set(e["equipment"]) <= {"dumbbell", "bench"} for e in dumbbells["items"])
    found = (await client.get("/exercises", params={"q": "squat"})).json()
    assert found["items"] and all(
        "squat" in (e["name"] + e["slug"]).lower() for e in found["items"]
    )
    literal = (await client.get("/exercises", params={"q": "%"})).json()
    assert literal["total"] == 0  # wildcards are taken literally

    one = chest["items"][0]
    assert (await client.get(f"/exercises/{one['id']}")).json() == one
    assert (await client.get(f"/exercises/{one['slug']}")).json() == one
    assert_problem(await client.get("/exercises/no_such_exercise"), 404)

    assert_problem(await client.get("/exercises", params={"for_me": "true"}), 401)
    headers, _ = await new_account()
    assert (await client.put("/onboarding", json=ONBOARDING, headers=headers)).status_code == 200
    mine = (
        await client.get("/exercises", params={"for_me": "true", "limit": 200}, headers=headers)
    ).json()
    assert mine["items"]
    blocked = {"overhead", "knee_loading", "high_impact"}  # shoulder impingement + knee injury
    for e in mine["items"]:
        assert not blocked & set(e["contraindication_tags"]), e
        assert set(e["equipment"]) <= {"dumbbell", "bench"}, e
        assert e["min_experience"] != "advanced"


@pytest.mark.parametrize(
    "params",
    [
        {"muscle": "wings"},
        {"limit": 0},
        {"limit": 1000},
        {"offset": -1},
        {"equipment": ["laser"]},
        {"q": "x" * 500},
        {"limit": "ten"},
    ],
)
async def test_catalog_bad_parameters_are_422(client, params) -> None:
    assert_problem(await client.get("/exercises", params=params), 422)


async def test_reference_lists(client) -> None:
    assert len((await client.get("/catalog/equipment")).json()) >= 20
    goals = {g["code"] for g in (await client.get("/catalog/goals")).json()}
    assert {"fat_loss", "muscle_gain", "strength"} <= goals
    conditions = (await client.get("/catalog/conditions")).json()
    assert any(c["requires_clearance"] for c in conditions)


async def test_request_id_is_echoed_or_generated_and_unknown_routes_are_problems(client) -> None:
    given = await client.get("/health", headers={"X-Request-ID": "client-abc.123"})
    assert given.headers["x-request-id"] == "client-abc.123"
    hostile = await client.get("/health", headers={"X-Request-ID": "bad id\r\nx"})
    assert (
        hostile.headers["x-request-id"] != "bad id\r\nx"
        and len(hostile.headers["x-request-id"]) == 32
    )
    missing = await client.get("/no/such/route")
    body = assert_problem(missing, 404)
    assert body["request_id"] == missing.headers["x-request-id"]
    assert_problem(await client.delete("/health"), 405)


async def test_health_ready_metrics_and_schema(client) -> None:
    assert (await client.get("/health")).json() == {"status": "ok", "database": None}
    assert (await client.get("/ready")).json()["database"] == "ok"
    await client.get("/catalog/equipment")
    metrics = (await client.get("/metrics")).text
    assert "fitsense_api_requests_total" in metrics and 'path="/catalog/equipment"' in metrics
    schema = (await client.get("/schema/openapi.json")).json()
    operations = [op for path in schema["paths"].values() for op in path.values()]
    assert all(op.get("operationId") for op in operations)
    assert schema["components"]["securitySchemes"]["BearerToken"]["scheme"] == "bearer"


async def test_body_size_is_limited(client) -> None:
    response = await client.post(
        "/auth/signup",
        content=b'{"name": "' + b"x" * (2 << 20) + b'"}',
        headers={"content-type": "application/json"},
    )
    assert_problem(response, 413)


async def test_access_log_lines_are_json_with_request_id_route_and_latency(
    api_settings, capsys
) -> None:
    import json
    from dataclasses import replace

    from litestar.testing import AsyncTestClient

    from fitsense_api.app import create_app

    async with AsyncTestClient(app=create_app(replace(api_settings, log_level="INFO"))) as c:
        capsys.readouterr()
        await c.get("/exercises/barbell_back_squat", headers={"X-Request-ID": "trace-42"})
    lines = [
        json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")
    ]
    access = [entry for entry in lines if entry["logger"] == "fitsense_api.access"]
    assert access, lines
    entry = access[-1]
    assert entry["request_id"] == "trace-42" and entry["severity"] == "INFO"
    assert entry["event"] == "http_request" and entry["endpoint"] == "GET /exercises/{key}"
    http = entry["httpRequest"]
    assert (http["requestMethod"], http["requestUrl"], http["status"]) == (
        "GET",
        "/exercises/barbell_back_squat",
        200,
    )
    # Cloud Logging's duration format, and the same figure in milliseconds.
    assert http["latency"].endswith("s") and float(http["latency"][:-1]) > 0
    assert abs(float(http["latency"][:-1]) * 1000 - entry["latency_ms"]) < 0.01
    assert entry["logging.googleapis.com/labels"] == {"service": "fitsense-api", "env": "local"}


async def test_cors_is_off_by_default_and_follows_configured_origins(api_settings) -> None:
    from dataclasses import replace

    from litestar.testing import AsyncTestClient

    from fitsense_api.app import create_app

    preflight = {
        "Origin": "https://app.example.com",
        "Access-Control-Request-Method": "GET",
    }
    async with AsyncTestClient(app=create_app(api_settings)) as c:
        response = await c.get("/health", headers={"Origin": "https://app.example.com"})
        assert "access-control-allow-origin" not in response.headers
    configured = replace(api_settings, cors_origins=("https://app.example.com",))
    async with AsyncTestClient(app=create_app(configured)) as c:
        allowed = await c.options("/health", headers=preflight)
        assert allowed.headers["access-control-allow-origin"] == "https://app.example.com"
        other = await c.get("/health", headers={"Origin": "https://evil.example.com"})
        assert other.headers.get("access-control-allow-origin") != "https://evil.example.com"


def test_bad_api_settings_are_clear_errors() -> None:
    from fitsense_api.settings import ApiSettings
    from fitsense_core.errors import ConfigurationError

    url = "postgresql://x@127.0.0.1/x"
    for env, message in (
        ({"FITSENSE_API_POOL_MAX": "many"}, "must be an integer"),
        ({"FITSENSE_API_POOL_MIN": "9", "FITSENSE_API_POOL_MAX": "3"}, "exceeds"),
        ({"FITSENSE_API_MAX_BODY_BYTES": "10"}, "between"),
        ({"FITSENSE_API_PASSWORD_HASH": "md5"}, "argon2"),
        ({"FITSENSE_API_LOG_LEVEL": "LOUD"}, "not a log level"),
    ):
        with pytest.raises(ConfigurationError, match=message):
            ApiSettings.from_env(url, env)
    settings = ApiSettings.from_env(
        url, {"FITSENSE_API_CORS_ORIGINS": " https://a.io, ,https://b.io"}
    )
    assert settings.cors_origins == ("https://a.io", "https://b.io")
