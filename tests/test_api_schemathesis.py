"""Schemathesis against the API's own OpenAPI document, over loopback to the real server
that `fitsense api` starts: no server errors, every status code, content type and body
as documented. Three runs: valid requests for every operation, invalid ones (schemathesis's
negative mode: wrong types, missing or out-of-range fields and parameters) that must be
refused with a documented 4xx problem, and sequences that follow the document's links
(create a workout, then read, replace and delete it; the same for plan versions and signal
days). Examples and steps are bounded so the run stays quick."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from schemathesis import Case, Response
from schemathesis.checks import CheckFunction, not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.specs.openapi.schemas import OpenApiSchema

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


def _schema(mode: str) -> OpenApiSchema:
    """The document loaded for one generation mode: ``positive`` (valid requests) or
    ``negative`` (schemathesis's invalid ones); its default mixes the two in one run."""
    generation = {
        "mode": mode,
        # Every case carries the fixture's valid token (the 401s have their own tests), so
        # a case whose only flaw is a mangled Authorization header would be sent valid.
        "with-security-parameters": False,
        # Undocumented query parameters and headers are ignored, as HTTP APIs do; only
        # the documented ones are checked.
        "allow-extra-parameters": False,
    }
    config = SchemathesisConfig.from_dict({"generation": generation})
    return schemathesis.openapi.from_dict(_document(), config=config).exclude(
        # These end the session every other case uses; tests/test_api_accounts.py covers them.
        operation_id=["deleteMe", "logout", "logoutAll"]
    )


# Loaded at collection (one test per operation); the cases go to the real server.
schema = _schema("positive")
negative_schema = _schema("negative")

DOCUMENTED = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@schema.parametrize()
@settings(
    max_examples=6,
    deadline=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
    database=None,
)
def test_api_answers_as_documented(case, api_server: str, auth_headers: dict[str, str]) -> None:
    case.call_and_validate(base_url=api_server, headers=auth_headers, checks=DOCUMENTED)


@negative_schema.parametrize()
@settings(
    max_examples=8,
    deadline=None,
    phases=[Phase.generate],  # the documents' examples are valid requests
    suppress_health_check=list(HealthCheck),
    database=None,
)
def test_api_refuses_invalid_requests(case, api_server: str, auth_headers: dict[str, str]) -> None:
    """Invalid bodies and parameters: never a 5xx; a 4xx (negative_data_rejection) with the
    documented status, content type and problem-details body."""
    case.call_and_validate(
        base_url=api_server,
        headers=auth_headers,
        checks=[*DOCUMENTED, negative_data_rejection],
    )


STATEFUL_SCENARIOS = 25
STATEFUL_STEPS = 8


def test_api_survives_stateful_sequences(api_server: str, auth_headers: dict[str, str]) -> None:
    """Scenarios along the document's links (explicit ones from fitsense_api.openapi's
    document_links, plus those schemathesis infers from ids and parameter names), each
    response checked as documented."""
    stateful_schema = _schema("positive")
    checks: list[CheckFunction] = DOCUMENTED

    answers: Counter[tuple[str, int]] = Counter()

    class Workflow(stateful_schema.as_state_machine()):  # type: ignore[misc]
        def get_call_kwargs(self, case: Case) -> dict[str, object]:
            return {"base_url": api_server, "headers": auth_headers}

        def after_call(self, response: Response, case: Case) -> None:
            answers[(case.operation.label, response.status_code)] += 1

        def validate_response(
            self,
            response: Response,
            case: Case,
            additional_checks: list[CheckFunction] | None = None,
            **kwargs: object,
        ) -> None:
            case.validate_response(response, checks=checks, transport_kwargs=kwargs)

    Workflow.run(
        settings=settings(
            max_examples=STATEFUL_SCENARIOS,
            stateful_step_count=STATEFUL_STEPS,
            deadline=None,
            phases=[Phase.generate],
            suppress_health_check=list(HealthCheck),
            database=None,
        )
    )
    # Every scenario made at least one call; the checks above saw each answer.
    assert sum(answers.values()) >= STATEFUL_SCENARIOS, answers
