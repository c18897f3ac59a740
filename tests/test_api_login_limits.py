"""Login throttling under concurrency and attack (issue 20, rows 2, 3 and 5): failures are
reserved before the password is checked, so N parallel guesses let exactly the limit
through; a guesser from one address cannot lock the owner out from another; and a forged
X-Forwarded-For does not give a guesser a fresh address."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace

import asyncpg
import httpx
import pytest
import uvicorn

from fitsense_api.app import create_app
from fitsense_api.proxies import uvicorn_proxy_options
from fitsense_api.settings import ApiSettings
from fitsense_serving.llama_server import free_port
from tests.api_helpers import assert_problem

pytestmark = pytest.mark.anyio

PASSWORD = "the-right-password"


@asynccontextmanager
async def app_from(
    settings: ApiSettings, *addresses: str
) -> AsyncIterator[list[httpx.AsyncClient]]:
    """One app in this event loop (requests really run concurrently), and one client per
    client address (the TCP peer the app sees)."""
    app = create_app(settings)
    async with app.lifespan():
        clients = [
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app, client=(address, 40000)),
                base_url="http://testserver",
            )
            for address in addresses
        ]
        try:
            yield clients
        finally:
            for c in clients:
                await c.aclose()


async def signup(client: httpx.AsyncClient) -> str:
    email = f"login-{uuid.uuid4().hex[:12]}@example.com"
    r = await client.post(
        "/auth/signup", json={"name": "Owner", "email": email, "password": PASSWORD}
    )
    assert r.status_code == 201, r.text
    return email


def login(client: httpx.AsyncClient, email: str, password: str, **headers: str):
    return client.post("/auth/login", json={"email": email, "password": password}, headers=headers)


async def test_parallel_wrong_passwords_get_exactly_the_limit_through(api_settings) -> None:
    """Row 2: 15 guesses at once from one address, limit 5: five are checked (401), ten are
    refused before argon2 (429 with Retry-After)."""
    settings = replace(api_settings, login_max_failures_per_account=5)
    async with app_from(settings, "203.0.113.7") as (guesser,):
        email = await signup(guesser)
        answers = await asyncio.gather(*(login(guesser, email, "wrong") for _ in range(15)))
    codes = sorted(r.status_code for r in answers)
    assert codes == [401] * 5 + [429] * 10, codes
    for r in answers:
        if r.status_code == 429:
            assert int(r.headers["retry-after"]) >= 1


async def test_parallel_guesses_from_one_address_stop_at_its_limit(api_settings, db) -> None:
    """Row 2, the per-address limit: 12 guesses at once at 12 accounts, limit 4."""
    client_address = f"198.51.100.{uuid.uuid4().int % 250 + 1}"
    await db.execute("DELETE FROM login_attempts WHERE client = $1", client_address)
    settings = replace(api_settings, login_max_failures_per_client=4)
    async with app_from(settings, client_address) as (guesser,):
        emails = [f"nobody-{uuid.uuid4().hex[:10]}@example.com" for _ in range(12)]
        answers = await asyncio.gather(*(login(guesser, e, "wrong") for e in emails))
    assert sorted(r.status_code for r in answers) == [401] * 4 + [429] * 8


async def test_a_guesser_cannot_lock_the_owner_out(api_settings) -> None:
    """Row 5: five wrong passwords from the attacker's address throttle that address on
    that account; the owner, from their own address, still logs in."""
    async with app_from(api_settings, "203.0.113.66", "192.0.2.10") as (attacker, owner):
        email = await signup(owner)
        for _ in range(5):
            assert_problem(await login(attacker, email, "guess"), 401)
        throttled = await login(attacker, email, PASSWORD)  # even the right one, from there
        assert_problem(throttled, 429)
        assert int(throttled.headers["retry-after"]) >= 1
        r = await login(owner, email, PASSWORD)
        assert r.status_code == 200, r.text
        # The owner's own typo is still just a 401, and their next try still works.
        assert_problem(await login(owner, email, "typo"), 401)
        assert (await login(owner, email, PASSWORD)).status_code == 200


async def test_an_owners_success_clears_only_their_own_failures(api_settings) -> None:
    async with app_from(api_settings, "192.0.2.20") as (owner,):
        email = await signup(owner)
        for _ in range(4):
            assert_problem(await login(owner, email, "typo"), 401)
        assert (await login(owner, email, PASSWORD)).status_code == 200
        for _ in range(4):  # the count started again after the success
            assert_problem(await login(owner, email, "typo"), 401)
        assert (await login(owner, email, PASSWORD)).status_code == 200


# --- row 3: the client address is the TCP peer unless a proxy is trusted ------------------


@asynccontextmanager
async def served(settings: ApiSettings) -> AsyncIterator[str]:
    """The app behind uvicorn configured as ``fitsense api`` configures it."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(settings),
            host="127.0.0.1",
            port=port,
            log_config=None,
            lifespan="on",
            **uvicorn_proxy_options(settings),
        )
    )
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


async def clients_seen(db: asyncpg.Connection, email: str) -> list[str]:
    rows = await db.fetch("SELECT client FROM login_attempts WHERE email = $1 ORDER BY id", email)
    return [r["client"] for r in rows]


async def test_a_forged_forwarded_for_does_not_reset_the_address_limit(
    api_db: str, db, monkeypatch
) -> None:
    monkeypatch.delenv("FORWARDED_ALLOW_IPS", raising=False)
    settings = ApiSettings.from_env(
        api_db,
        {
            "FITSENSE_API_PASSWORD_HASH": "argon2-fast",
            "FITSENSE_API_LOG_LEVEL": "WARNING",
            "FITSENSE_API_LOGIN_MAX_FAILURES_PER_ACCOUNT": "2",
            # Every test's client is 127.0.0.1 in the session's database.
            "FITSENSE_API_SIGNUP_MAX_PER_CLIENT": "10000",
        },
    )
    assert settings.trusted_proxies == ()  # local: no proxy is trusted
    async with served(settings) as url, httpx.AsyncClient(base_url=url) as http:
        email = await signup(http)
        for i in range(2):
            forged = {"X-Forwarded-For": f"203.0.113.{i + 1}"}
            assert_problem(await login(http, email, "guess", **forged), 401)
        forged = {"X-Forwarded-For": "203.0.113.99"}
        assert_problem(await login(http, email, "guess", **forged), 429)
    assert set(await clients_seen(db, email)) == {"127.0.0.1"}


async def test_a_trusted_proxys_forwarded_for_names_the_client(api_db: str, db) -> None:
    settings = ApiSettings.from_env(
        api_db,
        {
            "FITSENSE_API_PASSWORD_HASH": "argon2-fast",
            "FITSENSE_API_LOG_LEVEL": "WARNING",
            "FITSENSE_API_TRUSTED_PROXIES": "127.0.0.1",
            # Every test's client is 127.0.0.1 in the session's database.
            "FITSENSE_API_SIGNUP_MAX_PER_CLIENT": "10000",
        },
    )
    async with served(settings) as url, httpx.AsyncClient(base_url=url) as http:
        email = await signup(http)
        headers = {"X-Forwarded-For": "203.0.113.5"}
        assert_problem(await login(http, email, "guess", **headers), 401)
    assert await clients_seen(db, email) == ["203.0.113.5"]


def test_trusted_proxies_are_a_setting_per_environment(api_db: str) -> None:
    from fitsense_core.errors import ConfigurationError

    local = ApiSettings.from_env(api_db, {})
    assert local.trusted_proxies == ()
    assert uvicorn_proxy_options(local) == {"proxy_headers": False}
    prod = ApiSettings.from_env(
        api_db, {"FITSENSE_ENV": "prod", "FITSENSE_API_TRUSTED_PROXIES": "10.0.0.0/8, 10.1.2.3"}
    )
    assert prod.trusted_proxies == ("10.0.0.0/8", "10.1.2.3")
    assert uvicorn_proxy_options(prod) == {
        "proxy_headers": True,
        "forwarded_allow_ips": ["10.0.0.0/8", "10.1.2.3"],
    }
    with pytest.raises(ConfigurationError, match="FITSENSE_API_TRUSTED_PROXIES"):
        ApiSettings.from_env(api_db, {"FITSENSE_API_TRUSTED_PROXIES": "not-an-address"})
