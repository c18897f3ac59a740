"""Schemathesis against the API's own OpenAPI document, over loopback to the real server
that `fitsense api` starts: no server errors, every status code, content type and body
as documented. Examples are bounded so the run stays quick."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

pytestmark = pytest.mark.slow

ONBOARDING = {
    "profile": {
        "date_of_birth": "1988-02-03",
        "sex": "M",
        "height_cm": 180,
        "activity_level": "lightly_active",
    },
    "preferences": {
        "days_per_week": 3,
        "experience": "beginner",
        "session_length_min": 45,
        "equipment": ["dumbbell", "bench"],
    },
    "goals": ["general_fitness"],
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _request(url: str, method: str = "GET", body: dict | None = None, headers=None) -> dict:
    request = urllib.request.Request(
        url,
        method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Content-Type": "application/json", **(headers or {})},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read() or b"null")


@pytest.fixture(scope="module")
def api_server(database_factory, tmp_path_factory, repo_root: Path):
    port = _free_port()
    log_path = tmp_path_factory.mktemp("api-log") / "api.log"
    env = {
        **os.environ,
        "FITSENSE_DATABASE_URL": database_factory("schemathesis"),
        "FITSENSE_HOME": str(tmp_path_factory.mktemp("api-home")),
        "FITSENSE_API_PASSWORD_HASH": "argon2-fast",
        "FITSENSE_API_LOG_LEVEL": "WARNING",
        "FITSENSE_API_LOGIN_MAX_FAILURES_PER_CLIENT": "10000",
        "FITSENSE_API_SIGNUP_MAX_PER_CLIENT": "10000",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "fitsense_cli", "api", "--port", str(port)],
        cwd=repo_root,
        env=env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=log_path.open("w"),
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            _request(f"{base}/ready")
            break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise AssertionError(
                    f"the API did not start: {log_path.read_text()[-2000:]}"
                ) from None
            time.sleep(0.3)
    try:
        yield base
        errors = [line for line in log_path.read_text().splitlines() if '"ERROR"' in line]
        assert not errors, "the server logged errors:\n" + "\n".join(errors[-5:])
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


@pytest.fixture(scope="module")
def auth_headers(api_server: str) -> dict[str, str]:
    session = _request(
        f"{api_server}/auth/signup",
        "POST",
        {"name": "Fuzz", "email": "fuzz@example.com", "password": "fuzzing-password"},
    )
    headers = {"Authorization": f"Bearer {session['token']}"}
    _request(f"{api_server}/onboarding", "PUT", ONBOARDING, headers)
    return headers


def _document() -> dict:
    """The document the app serves at /schema/openapi.json (building the app opens no
    connection: the pool belongs to the lifespan)."""
    from litestar.serialization import encode_json

    from fitsense_api.app import create_app
    from fitsense_api.settings import ApiSettings

    app = create_app(ApiSettings.from_env("postgresql://unused@127.0.0.1/unused", {}))
    return json.loads(encode_json(app.openapi_schema.to_schema()))


# Loaded at collection (one test per operation); the cases go to the real server.
schema = schemathesis.openapi.from_dict(_document()).exclude(
    # These end the session every other case uses; tests/test_api_accounts.py covers them.
    operation_id=["deleteMe", "logout", "logoutAll"]
)


@schema.parametrize()
@settings(
    max_examples=6,
    deadline=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
    database=None,
)
def test_api_answers_as_documented(case, api_server: str, auth_headers: dict[str, str]) -> None:
    case.call_and_validate(
        base_url=api_server,
        headers=auth_headers,
        checks=[
            not_a_server_error,
            status_code_conformance,
            content_type_conformance,
            response_schema_conformance,
        ],
    )
