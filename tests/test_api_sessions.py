"""Sessions a person controls and data that does not outlive its use (issue 20, row 13):
logging out everywhere, changing the password (which ends the other sessions), argon2
hashes upgraded at login when the parameters changed, and the retention pass that prunes
old tokens, attempts, idempotency keys, finished jobs and AI request reservations."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace

import asyncpg
import httpx
import pytest

from fitsense_api.app import create_app
from tests.api_helpers import assert_problem

pytestmark = pytest.mark.anyio

PASSWORD = "the-first-password"
NEW_PASSWORD = "the-second-password"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def signup(c: httpx.AsyncClient) -> tuple[str, str]:
    email = f"session-{uuid.uuid4().hex[:12]}@example.com"
    r = await c.post("/auth/signup", json={"name": "S", "email": email, "password": PASSWORD})
    assert r.status_code == 201, r.text
    return email, r.json()["token"]


async def login(c: httpx.AsyncClient, email: str, password: str = PASSWORD) -> httpx.Response:
    return await c.post("/auth/login", json={"email": email, "password": password})


async def test_logout_all_revokes_every_token_of_the_caller_only(live) -> None:
    email, first = await signup(live)
    second = (await login(live, email)).json()["token"]
    _, someone_else = await signup(live)
    assert (await live.post("/auth/logout-all", headers=bearer(second))).status_code == 204
    for token in (first, second):
        assert_problem(await live.get("/me", headers=bearer(token)), 401)
    assert (await live.get("/me", headers=bearer(someone_else))).status_code == 200
    assert (await login(live, email)).status_code == 200  # the password still works


async def test_changing_the_password_keeps_this_session_and_ends_the_others(live, db) -> None:
    email, this = await signup(live)
    other = (await login(live, email)).json()["token"]
    wrong = await live.put(
        "/me/password",
        json={"current_password": "not-the-password", "new_password": NEW_PASSWORD},
        headers=bearer(this),
    )
    assert "current password" in assert_problem(wrong, 403)["detail"]
    assert (await live.get("/me", headers=bearer(other))).status_code == 200
    short = await live.put(
        "/me/password",
        json={"current_password": PASSWORD, "new_password": "short"},
        headers=bearer(this),
    )
    assert_problem(short, 422)
    r = await live.put(
        "/me/password",
        json={"current_password": PASSWORD, "new_password": NEW_PASSWORD},
        headers=bearer(this),
    )
    assert r.status_code == 204, r.text
    assert (await live.get("/me", headers=bearer(this))).status_code == 200
    assert_problem(await live.get("/me", headers=bearer(other)), 401)
    assert_problem(await login(live, email), 401)
    assert (await login(live, email, NEW_PASSWORD)).status_code == 200


async def test_guessing_the_current_password_is_throttled_like_login(api_settings) -> None:
    settings = replace(api_settings, login_max_failures_per_account=2)
    app = create_app(settings)
    async with app.lifespan():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            _, token = await signup(c)
            body = {"current_password": "a-guess-1234", "new_password": NEW_PASSWORD}
            answers = await asyncio.gather(
                *(c.put("/me/password", json=body, headers=bearer(token)) for _ in range(5))
            )
    codes = sorted(r.status_code for r in answers)
    assert codes == [403, 403, 429, 429, 429], codes


async def test_login_rehashes_a_password_hashed_with_other_parameters(api_settings, db) -> None:
    """Hashed with the cheapest parameters, the password is re-hashed with argon2's
    defaults at the first login with them."""
    cheap = create_app(api_settings)  # argon2-fast
    async with cheap.lifespan():
        transport = httpx.ASGITransport(app=cheap)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            email, _ = await signup(c)
    stored = await db.fetchval("SELECT password_hash FROM users WHERE email = $1", email)
    assert "m=8," in stored
    strong = create_app(replace(api_settings, password_hash="argon2"))
    async with strong.lifespan():
        transport = httpx.ASGITransport(app=strong)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            assert (await login(c, email)).status_code == 200
            rehashed = await db.fetchval("SELECT password_hash FROM users WHERE email = $1", email)
            assert "m=65536," in rehashed
            assert (await login(c, email)).status_code == 200


async def _old_rows(db, user_id: uuid.UUID) -> None:
    """One row of each kind past its retention, and one that must stay."""
    await db.execute(
        "INSERT INTO api_tokens (user_id, token_hash, created_at, expires_at, revoked_at) VALUES "
        "($1, 'expired-long-ago', now() - interval '50 days', now() - interval '40 days', NULL), "
        "($1, 'revoked-long-ago', now() - interval '50 days', now() + interval '1 day',"
        " now() - interval '40 days'), "
        "($1, 'expired-recently', now() - interval '5 days', now() - interval '1 day', NULL)",
        user_id,
    )
    await db.execute(
        "INSERT INTO login_attempts (email, client, succeeded, attempted_at) VALUES "
        "('old@example.com', 'c', false, now() - interval '40 days'), "
        "('new@example.com', 'c', false, now())"
    )
    await db.execute(
        "INSERT INTO signup_attempts (client, attempted_at) VALUES "
        "('old', now() - interval '40 days'), ('new', now())"
    )
    await db.execute(
        "INSERT INTO idempotency_keys (user_id, endpoint, key, request_hash, created_at) VALUES "
        "($1, 'POST /workouts', 'old', repeat('a', 64), now() - interval '8 days'), "
        "($1, 'POST /workouts', 'new', repeat('a', 64), now())",
        user_id,
    )
    await db.execute(
        "INSERT INTO ai_jobs (user_id, kind, request, request_id, status, error, created_at, "
        "finished_at) VALUES "
        "($1, 'plan_generate', '{}', 'old-finished', 'failed', 'x', now() - interval '100 days',"
        " now() - interval '100 days'), "
        "($1, 'plan_generate', '{}', 'new-finished', 'failed', 'x', now(), now())",
        user_id,
    )
    await db.execute(
        "INSERT INTO ai_requests (user_id, kind, requested_at) VALUES "
        "($1, 'coach', now() - interval '2 days'), ($1, 'coach', now())",
        user_id,
    )


async def _remaining(db) -> dict[str, list[str]]:
    queries = {
        "api_tokens": "SELECT token_hash FROM api_tokens",
        "login_attempts": "SELECT email FROM login_attempts",
        "signup_attempts": "SELECT client FROM signup_attempts",
        "idempotency_keys": "SELECT key FROM idempotency_keys",
        "ai_jobs": "SELECT request_id FROM ai_jobs",
        "ai_requests": "SELECT (requested_at > now() - interval '1 day')::text FROM ai_requests",
    }
    return {table: sorted(r[0] for r in await db.fetch(q)) for table, q in queries.items()}


KEPT = {
    "api_tokens": ["expired-recently"],
    "login_attempts": ["new@example.com"],
    "signup_attempts": ["new"],
    "idempotency_keys": ["new"],
    "ai_jobs": ["new-finished"],
    "ai_requests": ["true"],
}


async def wait_for_kept(db) -> dict[str, list[str]]:
    for _ in range(100):
        remaining = await _remaining(db)
        if remaining == KEPT:
            break
        await asyncio.sleep(0.1)
    return remaining


@pytest.fixture
async def own_db(fresh_migrated_db: str) -> AsyncIterator[asyncpg.Connection]:
    """A database of this test's own: the retention pass sees only its rows."""
    conn = await asyncpg.connect(fresh_migrated_db)
    try:
        yield conn
    finally:
        await conn.close()


async def test_retention_prunes_at_start_up_and_then_periodically(
    api_settings, fresh_migrated_db, own_db
) -> None:
    db = own_db
    api_settings = replace(api_settings, database_url=fresh_migrated_db)
    user_id = await db.fetchval(
        "INSERT INTO users (name, email, password_hash) VALUES ('R', $1, 'x') RETURNING id",
        f"retained-{uuid.uuid4().hex[:8]}@example.com",
    )
    await _old_rows(db, user_id)
    app = create_app(replace(api_settings, retention_interval_s=1))
    async with app.lifespan():
        assert await wait_for_kept(db) == KEPT  # the pass at start-up
        await db.execute(
            "DELETE FROM api_tokens; DELETE FROM login_attempts; DELETE FROM signup_attempts; "
            "DELETE FROM idempotency_keys; DELETE FROM ai_jobs; DELETE FROM ai_requests"
        )
        await _old_rows(db, user_id)
        assert await wait_for_kept(db) == KEPT  # a later pass
    # An unfinished job is never pruned, however old.
    await db.execute(
        "INSERT INTO ai_jobs (user_id, kind, request, request_id, created_at) "
        "VALUES ($1, 'plan_generate', '{}', 'old-queued', now() - interval '100 days')",
        user_id,
    )
    async with create_app(api_settings).lifespan():
        await asyncio.sleep(0.5)
    assert "old-queued" in (await _remaining(db))["ai_jobs"]
