"""Shared fixtures: a real PostgreSQL, fresh databases per test session, small data sets.

The server is ``FITSENSE_TEST_ADMIN_URL`` if set, else the one on 127.0.0.1:5432, else
an embedded server started for the session. Every database a test creates is dropped
afterwards.
"""

from __future__ import annotations

import os
import shutil
import signal
import uuid
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path

import psycopg
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
# The packaged triage model does not pass its gate yet (docs/triage.md): the suite runs the
# rules alone, said explicitly; tests/test_triage_learned.py tests the learned layer.
os.environ.setdefault("FITSENSE_TRIAGE", "rules-only")

from fitsense_core.database import embedded_server_url, with_database
from fitsense_core.migrations import migrate
from fitsense_core.settings import DEFAULT_LOCAL_SERVER_URL, Settings
from fitsense_core.synthetic import SyntheticConfig, TableSet, generate_run

TEST_END = date(2026, 10, 31)

# The model-server fixtures of the AI endpoint tests.
pytest_plugins = ["tests.ai_fixtures"]


@pytest.fixture(autouse=True)
def _termination_signals_restored() -> Iterator[None]:
    """Each test leaves SIGINT's and SIGTERM's handlers as it found them. Dagster's in-process
    runs (several tests materialize assets directly) set SIGTERM to SIGINT's handler, which is
    "ignore" when the suite runs in the background; the children later tests start would
    inherit an ignored SIGTERM (fitsense_assets.runner.termination_signals_kept does the same
    for `fitsense`'s own runs)."""
    saved = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    yield
    for signum, handler in saved.items():
        if handler is not None and signal.getsignal(signum) is not handler:
            signal.signal(signum, handler)


def _answers(url: str) -> bool:
    try:
        psycopg.connect(url, connect_timeout=3).close()
        return True
    except psycopg.Error:
        return False


@pytest.fixture(scope="session")
def admin_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = os.environ.get("FITSENSE_TEST_ADMIN_URL") or DEFAULT_LOCAL_SERVER_URL
    if _answers(url):
        return url
    home = tmp_path_factory.mktemp("embedded-pg")
    settings = Settings.from_env({"FITSENSE_HOME": str(home)})
    return embedded_server_url(settings)


@pytest.fixture(scope="session")
def database_factory(admin_url: str) -> Iterator[Callable[[str], str]]:
    """Creates uniquely named databases and drops them all at the end of the session."""
    created: list[str] = []

    def create(label: str = "db") -> str:
        name = f"fitsense_test_{label}_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        created.append(name)
        return with_database(admin_url, name)

    yield create
    with psycopg.connect(admin_url, autocommit=True) as conn:
        for name in created:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def empty_db(database_factory: Callable[[str], str]) -> str:
    return database_factory("empty")


@pytest.fixture(scope="session")
def migrated_db(database_factory: Callable[[str], str]) -> str:
    url = database_factory("app")
    migrate(url)
    return url


@pytest.fixture
def fresh_migrated_db(database_factory: Callable[[str], str]) -> str:
    url = database_factory("fresh")
    migrate(url)
    return url


def generate_all(config: SyntheticConfig) -> list[TableSet]:
    return list(generate_run(config))


@pytest.fixture(scope="session")
def small_config() -> SyntheticConfig:
    return SyntheticConfig(run_id="test-small", n_users=60, seed=7, history_end=TEST_END)


@pytest.fixture(scope="session")
def small_run(small_config: SyntheticConfig) -> list[TableSet]:
    return generate_all(small_config)


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return Path(__file__).resolve().parent.parent


@pytest.fixture
def isolated_env(tmp_path: Path, repo_root: Path, database_factory) -> dict[str, str]:
    """Environment for running `fitsense`/Dagster in a subprocess: its own application and
    Dagster databases, DAGSTER_HOME (with the project's dagster.yaml) and FITSENSE_HOME."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(repo_root / "dagster_home" / "dagster.yaml", home / "dagster.yaml")
    return {
        **os.environ,
        "FITSENSE_DATABASE_URL": database_factory("app"),
        "FITSENSE_DAGSTER_STORAGE_URL": database_factory("dagster"),
        "FITSENSE_HOME": str(tmp_path / "home"),
        "DAGSTER_HOME": str(home),
        "HF_HUB_OFFLINE": "1",
    }


# --- the API: one migrated database for the session, a fresh app per test -------------


@pytest.fixture(scope="session")
def api_db(database_factory: Callable[[str], str]) -> str:
    url = database_factory("api")
    migrate(url)
    return url


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def api_settings(api_db: str):
    from fitsense_api.settings import ApiSettings

    return ApiSettings.from_env(
        api_db,
        {
            "FITSENSE_API_PASSWORD_HASH": "argon2-fast",
            "FITSENSE_API_LOG_LEVEL": "WARNING",
            # Every test client logs in from "testclient"; the per-client limit has its own test.
            "FITSENSE_API_LOGIN_MAX_FAILURES_PER_CLIENT": "10000",
            "FITSENSE_API_SIGNUP_MAX_PER_CLIENT": "10000",
        },
    )


@pytest.fixture
async def client(api_settings):
    """An AsyncTestClient on a fresh app (lifespan run: the asyncpg pool is open)."""
    from litestar.testing import AsyncTestClient

    from fitsense_api.app import create_app

    async with AsyncTestClient(app=create_app(api_settings)) as test_client:
        yield test_client


@pytest.fixture
async def live(api_settings):
    """A client whose requests really run concurrently (for races): the AsyncTestClient
    hands each request to its app thread and waits, so ``asyncio.gather`` on it runs them
    one by one. This app runs in the test's own event loop behind httpx's ASGI transport."""
    import httpx

    from fitsense_api.app import create_app

    app = create_app(api_settings)
    async with app.lifespan():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            yield c


@pytest.fixture
async def db(api_db: str):
    """A connection to the API's database, to look behind the API."""
    import asyncpg

    conn = await asyncpg.connect(api_db)
    try:
        yield conn
    finally:
        await conn.close()


@pytest.fixture
def account(new_account):
    """Signs up a new person; returns (auth headers, user id)."""

    async def create():
        headers, body = await new_account()
        return headers, uuid.UUID(body["user"]["id"])

    return create


@pytest.fixture
def new_account(client):
    """Signs up a new person; returns (auth headers, the signup answer)."""

    async def create(name: str = "Test Person", password: str = "a-long-password"):
        email = f"user-{uuid.uuid4().hex[:12]}@example.com"
        response = await client.post(
            "/auth/signup", json={"name": name, "email": email, "password": password}
        )
        assert response.status_code == 201, response.text
        body = response.json()
        return {"Authorization": f"Bearer {body['token']}"}, body

    return create
