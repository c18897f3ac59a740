"""The API's log lines in Cloud Logging's shape and its own metrics, against a real model
server: model version, endpoint and anonymized user on the lines of an AI request, the
inference line with tokens and estimated cost, rate-limit refusals counted and logged."""

from __future__ import annotations

import json
import re

import pytest

from fitsense_api.observability import anonymized
from tests.ai_fixtures import TEST_VERSION, ai_client, ai_environ
from tests.api_helpers import assert_problem
from tests.test_api_ai import onboarded

pytestmark = pytest.mark.anyio

QUESTION = "How many hours should I sleep to recover?"


def json_lines(err: str) -> list[dict]:
    return [json.loads(line) for line in err.splitlines() if line.startswith("{")]


def metric(text: str, name: str, **labels: str) -> float:
    """The value of one Prometheus sample (0 when absent)."""
    total = 0.0
    for line in text.splitlines():
        if not line.startswith(name):
            continue
        match = re.match(rf"^{re.escape(name)}(\{{[^}}]*\}})? (\S+)$", line)
        if match and all(f'{k}="{v}"' in (match.group(1) or "") for k, v in labels.items()):
            total += float(match.group(2))
    return total


async def test_ai_request_lines_carry_model_version_endpoint_user_and_cost(
    api_db, model_server, capsys
) -> None:
    environ = ai_environ(
        model_server.base_url,
        model_server.api_key,
        FITSENSE_API_LOG_LEVEL="INFO",
        FITSENSE_ENV="dev",
        FITSENSE_INFERENCE_USD_PER_1K_TOKENS="0.5",
        FITSENSE_METRICS_TOKEN="scraper",
    )
    scraper = {"Authorization": "Bearer scraper"}
    async for client in ai_client(api_db, environ):
        headers, user_id = await onboarded(client)
        before = (await client.get("/metrics", headers=scraper)).text
        capsys.readouterr()
        r = await client.post(
            "/coach", json={"question": QUESTION}, headers={**headers, "X-Request-ID": "obs-1"}
        )
        assert r.status_code == 200, r.text
        lines = json_lines(capsys.readouterr().err)
        after = (await client.get("/metrics", headers=scraper)).text

    mine = [e for e in lines if e.get("request_id") == "obs-1"]
    [inference] = [e for e in mine if e.get("event") == "inference"]
    [access] = [e for e in mine if e.get("event") == "http_request"]
    facts = inference["inference"]
    assert facts["model_version"] == TEST_VERSION and facts["context_type"] == "coach"
    assert facts["prompt_tokens"] > 0 and facts["completion_tokens"] > 0
    tokens = facts["prompt_tokens"] + facts["completion_tokens"]
    assert abs(facts["cost_usd"] - tokens / 1000 * 0.5) < 1e-6
    for entry in (inference, access):
        assert entry["user"] == anonymized(str(user_id)) and str(user_id) not in json.dumps(entry)
        assert entry["model_version"] == TEST_VERSION
        assert entry["endpoint"] == "POST /coach"
        assert entry["logging.googleapis.com/labels"]["env"] == "dev"
    assert access["httpRequest"]["status"] == 200 and access["latency_ms"] > 0

    outcome = facts["outcome"]
    assert metric(after, "fitsense_api_inference_requests_total", outcome=outcome) == (
        metric(before, "fitsense_api_inference_requests_total", outcome=outcome) + 1
    )
    assert (
        metric(after, "fitsense_api_inference_tokens_total")
        - metric(before, "fitsense_api_inference_tokens_total")
        == tokens
    )
    cost = metric(after, "fitsense_api_inference_cost_usd_total") - metric(
        before, "fitsense_api_inference_cost_usd_total"
    )
    assert abs(cost - facts["cost_usd"]) < 1e-6


async def test_rate_limit_hits_are_logged_and_counted(api_db, model_server, capsys) -> None:
    environ = ai_environ(
        model_server.base_url,
        model_server.api_key,
        FITSENSE_API_LOG_LEVEL="INFO",
        FITSENSE_API_AI_RATE_PER_MINUTE="1",
    )
    async for client in ai_client(api_db, environ):
        headers, _ = await onboarded(client)
        before = metric(
            (await client.get("/metrics")).text,
            "fitsense_api_rate_limit_hits_total",
            limit="ai_per_minute",
        )
        assert (
            await client.post("/coach", json={"question": QUESTION}, headers=headers)
        ).is_success
        capsys.readouterr()
        r = await client.post("/coach", json={"question": QUESTION}, headers=headers)
        assert_problem(r, 429)
        lines = json_lines(capsys.readouterr().err)
        after = metric(
            (await client.get("/metrics")).text,
            "fitsense_api_rate_limit_hits_total",
            limit="ai_per_minute",
        )
    [hit] = [e for e in lines if e.get("event") == "rate_limited"]
    assert hit["limit"] == "ai_per_minute" and hit["severity"] == "WARNING"
    assert hit["endpoint"] == "POST /coach" and hit["request_id"] == r.headers["x-request-id"]
    [access] = [e for e in lines if e.get("event") == "http_request"]
    assert access["httpRequest"]["status"] == 429
    assert after == before + 1
