"""The model client's circuit breaker (issue 20, row 8): its states, what counts as a
failure of the model server, and requests too long for the model's context, which are not
sent. Against a real llama.cpp server, behind a scripted proxy where a failure is needed."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest

from fitsense_core.inference.client import (
    CircuitBreaker,
    CircuitOpen,
    ClientSettings,
    ModelClient,
    ModelUnavailable,
    RequestRefused,
)
from fitsense_core.inference.endpoint import ModelEndpoint
from fitsense_serving.llama_server import LlamaServer
from tests.ai_fixtures import ai_client, ai_environ, start_server
from tests.flaky_proxy import Script, start_proxy

pytestmark = pytest.mark.anyio

QUESTION = [{"role": "user", "content": "How should I warm up?"}]


# --- the breaker's states ------------------------------------------------------------------


def test_closed_until_the_threshold_of_consecutive_failures() -> None:
    breaker = CircuitBreaker(failure_threshold=3, reset_after_s=60)
    for _ in range(2):
        breaker.before_call()
        breaker.failure()
    assert breaker.state == "closed"
    breaker.before_call()
    breaker.success()  # a real answer resets the count
    for _ in range(2):
        breaker.before_call()
        breaker.failure()
    assert breaker.state == "closed"
    breaker.before_call()
    breaker.failure()
    assert breaker.state == "open"
    with pytest.raises(CircuitOpen):
        breaker.before_call()
    with pytest.raises(CircuitOpen):
        breaker.check()


def _opened(reset_after_s: float = 0.05) -> CircuitBreaker:
    breaker = CircuitBreaker(failure_threshold=1, reset_after_s=reset_after_s)
    breaker.before_call()
    breaker.failure()
    assert breaker.state == "open"
    time.sleep(reset_after_s * 1.5)
    assert breaker.state == "half_open"
    return breaker


def test_half_open_lets_one_trial_through_and_its_answer_closes_it() -> None:
    breaker = _opened()
    trial = breaker.before_call()
    assert trial
    with pytest.raises(CircuitOpen):
        breaker.before_call()  # one trial at a time
    breaker.success()
    breaker.settle(trial)
    assert breaker.state == "closed"
    assert not breaker.before_call()


def test_a_failed_trial_opens_it_again() -> None:
    breaker = _opened()
    trial = breaker.before_call()
    breaker.failure()
    breaker.settle(trial)
    assert breaker.state == "open"


@pytest.mark.parametrize("why", ["cancelled", "refused request"])
def test_a_trial_that_ends_without_a_verdict_frees_the_slot(why: str) -> None:
    breaker = _opened()
    trial = breaker.before_call()
    breaker.settle(trial)  # neither success nor failure: cancelled, or the request's fault
    assert breaker.state == "half_open"
    assert breaker.before_call()  # the next call is the trial


def test_settling_a_call_that_was_not_the_trial_keeps_the_trial() -> None:
    breaker = CircuitBreaker(failure_threshold=1, reset_after_s=0.05)
    early = breaker.before_call()  # in flight while the breaker opens
    breaker.failure()
    time.sleep(0.08)
    trial = breaker.before_call()
    breaker.settle(early)
    with pytest.raises(CircuitOpen):
        breaker.before_call()
    breaker.settle(trial)


# --- the client against a real server ------------------------------------------------------


@pytest.fixture(scope="module")
def llama(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LlamaServer]:
    server = start_server(tmp_path_factory.mktemp("llama"))
    try:
        yield server
    finally:
        server.stop()


def _client(base_url: str, api_key: str, **settings: float) -> ModelClient:
    return ModelClient(
        ClientSettings(
            endpoint=ModelEndpoint(base_url, api_key),
            timeout_s=settings.pop("timeout_s", 30),
            max_retries=0,
            failure_threshold=3,
            reset_after_s=settings.pop("reset_after_s", 60),
        )
    )


async def test_a_failing_backend_opens_the_circuit_though_models_answers(llama) -> None:
    script = Script(kind="server_error", failures=100)
    proxy, url = start_proxy(llama.base_url, script)
    client = _client(url, llama.api_key)
    try:
        for _ in range(3):
            with pytest.raises(ModelUnavailable) as err:
                await client.complete(QUESTION, max_tokens=8)
            assert not isinstance(err.value, CircuitOpen)
        assert client.breaker.state == "open"
        with pytest.raises(CircuitOpen):
            await client.complete(QUESTION, max_tokens=8)
        assert len(script.requests) == 3  # the open circuit sent nothing
    finally:
        await client.aclose()
        proxy.shutdown()


async def test_a_request_the_server_refuses_is_not_a_server_failure(llama) -> None:
    script = Script(kind="refuse", failures=100)
    proxy, url = start_proxy(llama.base_url, script)
    client = _client(url, llama.api_key)
    try:
        for _ in range(5):
            with pytest.raises(RequestRefused, match="400"):
                await client.complete(QUESTION, max_tokens=8)
        assert client.breaker.state == "closed"
    finally:
        await client.aclose()
        proxy.shutdown()


async def test_llamas_own_context_length_refusal_is_not_a_server_failure(llama) -> None:
    client = _client(llama.base_url, llama.api_key)
    too_long = [{"role": "user", "content": "\U0001f4aa" * 1500}]  # ~4,500 tokens
    try:
        for _ in range(4):
            with pytest.raises(RequestRefused):
                await client.complete(too_long, max_tokens=8)
        assert client.breaker.state == "closed"
        completion = await client.complete(QUESTION, max_tokens=4)
        assert completion.model_name
    finally:
        await client.aclose()


async def test_a_cancelled_half_open_trial_lets_the_next_call_through(llama) -> None:
    script = Script(kind="server_error", failures=3)
    proxy, url = start_proxy(llama.base_url, script)
    client = _client(url, llama.api_key, reset_after_s=0.2)
    try:
        for _ in range(3):
            with pytest.raises(ModelUnavailable):
                await client.complete(QUESTION, max_tokens=4)
        assert client.breaker.state == "open"
        await asyncio.sleep(0.3)
        script.kind, script.failures = "hang", 10  # the trial hangs: its caller gives up
        trial = asyncio.create_task(client.complete(QUESTION, max_tokens=4))
        await asyncio.sleep(0.2)
        trial.cancel()
        with pytest.raises(asyncio.CancelledError):
            await trial
        script.kind, script.failures = "ok", 0
        completion = await client.complete(QUESTION, max_tokens=4)
        assert completion.model_name and client.breaker.state == "closed"
    finally:
        await client.aclose()
        proxy.shutdown()


# --- a request too long for the model's context is not sent ---------------------------------


@pytest.fixture
async def ai(api_db, model_server):
    async for client in ai_client(api_db, ai_environ(model_server.base_url, model_server.api_key)):
        yield client


async def test_a_question_too_long_for_the_context_is_answered_without_the_model(ai, db) -> None:
    from tests.test_api_ai import audit_rows, onboarded

    headers, user_id = await onboarded(ai)
    question = "How should I warm up? " + "\U0001f4aa" * 1500  # 1,522 characters, ~4,500 tokens
    r = await ai.post("/coach", json={"question": question}, headers=headers)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["outcome"] == "fallback" and body["fallback_reason"] == "request_too_long"
    (row,) = await audit_rows(db, user_id)
    assert row["model_version"] is None and "too long" in row["error"]
    assert ai.app.state.ai.client.breaker.state == "closed"
    r = await ai.post("/coach", json={"question": "How should I warm up?"}, headers=headers)
    assert r.json()["outcome"] in ("ok", "fallback")


def test_the_question_budget_follows_the_context_and_the_answer_length() -> None:
    from fitsense_core.inference import serve

    assert serve.request_budget_bytes(2048, 160) > serve.request_budget_bytes(2048, 360) > 0
    assert serve.request_budget_bytes(4096, 160) == serve.request_budget_bytes(2048, 160) + 2048
