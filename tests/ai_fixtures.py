"""Fixtures of the AI endpoint tests: a real llama.cpp server on the shipped GGUF,
registered and promoted as a model version, and API apps that call it.

The server is started once per test module (about a second to load); a test that kills
it asks for ``fresh_model_server`` instead.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from fitsense_core.inference.endpoint import served_model_name
from fitsense_core.student.base_model import base_model_gguf
from fitsense_serving.llama_server import LlamaServer, free_port, start_llama_server
from tests.model_fixtures import register_test_version

TEST_VERSION = "test-base-0001"


def start_server(log_dir: Path, version: str = TEST_VERSION) -> LlamaServer:
    return start_llama_server(
        base_model_gguf(),
        model_alias=served_model_name(version),
        api_key=secrets.token_urlsafe(16),
        log_path=log_dir / f"llama-{version}.log",
        n_ctx=2048,
    )


@pytest.fixture(scope="session")
def registered_version(api_db: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    register_test_version(api_db, tmp_path_factory.mktemp("artifacts"), TEST_VERSION)
    return TEST_VERSION


@dataclass(frozen=True)
class ServingFront:
    """What the API is given: the base URL and key of ``fitsense serve``'s proxy."""

    base_url: str
    api_key: str


@pytest.fixture(scope="module")
def model_server(
    api_db: str, registered_version: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServingFront]:
    """The production path: the serving proxy following the registry, which starts a
    llama.cpp server on the promoted version's GGUF."""
    from fitsense_serving.server import BackgroundProxy
    from fitsense_serving.supervisor import Supervisor
    from fitsense_serving.targets import registry_target

    key = secrets.token_urlsafe(16)
    supervisor = Supervisor(
        registry_target(api_db), home=tmp_path_factory.mktemp("serving"), poll_interval_s=None
    )
    with BackgroundProxy(supervisor, api_key=key) as proxy:
        proxy.reconcile()
        assert supervisor.active is not None and supervisor.active.version == registered_version
        yield ServingFront(proxy.url, key)


def ai_environ(server_url: str, api_key: str, **extra: str) -> dict[str, str]:
    return {
        "FITSENSE_API_PASSWORD_HASH": "argon2-fast",
        "FITSENSE_API_LOG_LEVEL": "WARNING",
        "FITSENSE_API_LOGIN_MAX_FAILURES_PER_CLIENT": "10000",
        "FITSENSE_MODEL_URL": server_url,
        "FITSENSE_MODEL_API_KEY": api_key,
        "FITSENSE_MODEL_TIMEOUT_S": "60",
        "FITSENSE_API_AI_RATE_PER_MINUTE": "1000",
        "FITSENSE_API_AI_DAILY_QUOTA": "100000",
        "FITSENSE_API_AI_MAX_QUEUED_JOBS_PER_USER": "1000",
        "FITSENSE_API_SIGNUP_MAX_PER_CLIENT": "10000",
        **extra,
    }


async def ai_client(api_db: str, environ: dict[str, str]) -> AsyncIterator:
    """An AsyncTestClient on a fresh app with these settings (lifespan run)."""
    from litestar.testing import AsyncTestClient

    from fitsense_api.app import create_app
    from fitsense_api.settings import ApiSettings

    app = create_app(ApiSettings.from_env(api_db, environ))
    async with AsyncTestClient(app=app, timeout=120) as client:
        yield client


@asynccontextmanager
async def served_app(api_db: str, environ: dict[str, str]) -> AsyncIterator[str]:
    """The app behind a real uvicorn server on a free port of this event loop (the test
    clients buffer whole responses; streaming and disconnect tests need a socket)."""
    import uvicorn

    from fitsense_api.app import create_app
    from fitsense_api.settings import ApiSettings

    port = free_port()
    app = create_app(ApiSettings.from_env(api_db, environ))
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="on")
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
