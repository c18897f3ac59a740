"""The teacher: the offline coach, and the instructor path against a real llama.cpp server,
including providers that rate-limit, fail, hang, refuse or return malformed output."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from fitsense_core.artifacts import ArtifactStore
from fitsense_core.plan_contract import Plan, validate_plan
from fitsense_core.prompts import Prompt, build_prompts, context_from_json
from fitsense_core.replies import CoachReply
from fitsense_core.student.base_model import base_model_gguf
from fitsense_core.synthetic import TableSet
from fitsense_core.synthetic.context import user_contexts
from fitsense_core.teacher import run_teacher
from fitsense_core.teacher.offline import OfflineTeacher
from fitsense_core.teacher.openai_compatible import OpenAICompatibleTeacher, retry_after_seconds
from fitsense_core.teacher.runner import AnswerCache, TokenBucket, answers_digest, backoff_delay
from fitsense_serving.llama_server import llama_server
from tests.flaky_proxy import Script, start_proxy

API_KEY = "test-key"
ALIAS = "smollm2-base"


@pytest.fixture(scope="module")
def prompts(small_run: list[TableSet]) -> list[Prompt]:
    return build_prompts("test-small", user_contexts(*small_run))


def test_offline_teacher_answers_everything_deterministically(prompts: list[Prompt]) -> None:
    first = run_teacher(prompts, OfflineTeacher())
    second = run_teacher(prompts, OfflineTeacher())
    assert answers_digest(first.answers) == answers_digest(second.answers)
    assert first.failure_rate == 0
    for prompt, answer in zip(prompts, first.answers, strict=True):
        assert answer.prompt_id == prompt.prompt_id and answer.status == "ok"
        if prompt.output_type == "plan":
            profile, *_ = context_from_json(prompt.context_json)
            athlete = profile.athlete()
            result = validate_plan(
                answer.output_json,
                athlete.__class__(
                    **{**athlete.__dict__, "blocked_tags": frozenset(prompt.expected_blocked_tags)}
                ),
            )
            assert result.valid, (prompt.request, [str(v) for v in result.violations])
        else:
            CoachReply.model_validate_json(answer.output_json)


def test_backoff_is_exponential_with_full_jitter() -> None:
    import random

    rng = random.Random(1)
    delays = [[backoff_delay(a, 1.0, 60.0, rng) for _ in range(200)] for a in (1, 2, 3, 8)]
    assert max(delays[0]) <= 1.0 and max(delays[1]) <= 2.0 and max(delays[2]) <= 4.0
    assert max(delays[3]) <= 60.0 and max(delays[3]) > 30.0
    assert min(delays[2]) < 1.0  # jitter reaches down to zero


def test_retry_after_header_forms() -> None:
    assert retry_after_seconds({"retry-after": "7"}) == 7.0
    assert retry_after_seconds({"retry-after-ms": "1500"}) == 1.5
    future = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(time.time() + 30))
    assert 25 <= retry_after_seconds({"retry-after": future}) <= 31
    assert retry_after_seconds({}) is None


def test_token_bucket_limits_tokens_per_minute() -> None:
    async def take_three() -> float:
        bucket = TokenBucket(tokens_per_minute=600)  # 10 tokens per second
        await bucket.take(600)  # the whole first minute's budget
        started = time.monotonic()
        await bucket.take(10)
        await bucket.take(10)
        return time.monotonic() - started

    assert 1.7 < asyncio.run(take_three()) < 3.0


@pytest.fixture(scope="module")
def llama(tmp_path_factory: pytest.TempPathFactory):
    log = tmp_path_factory.mktemp("llama") / "server.log"
    with llama_server(
        base_model_gguf(), model_alias=ALIAS, api_key=API_KEY, log_path=log, n_ctx=4096
    ) as server:
        yield server


def _coaching(prompts: list[Prompt], n: int) -> list[Prompt]:
    chosen = [p for p in prompts if p.prompt_type == "coaching"][:n]
    assert len(chosen) == n
    return chosen


def _teacher(base_url: str, **kwargs) -> OpenAICompatibleTeacher:
    return OpenAICompatibleTeacher(
        base_url=base_url, model=ALIAS, api_key=API_KEY, send_schema=True, **kwargs
    )


def test_instructor_path_against_llama_server_with_cache(
    llama, prompts: list[Prompt], tmp_path: Path
) -> None:
    script = Script()
    proxy, url = start_proxy(llama.base_url, script)
    try:
        batch = _coaching(prompts, 3)
        cache = AnswerCache(ArtifactStore(str(tmp_path)), "openai-compatible", ALIAS)
        report = run_teacher(batch, _teacher(url), cache=cache, concurrency=1)
        ok = [a for a in report.answers if a.status == "ok"]
        assert ok, [a.error for a in report.answers]
        for answer in ok:
            assert answer.source == "teacher" and answer.model == ALIAS
            assert answer.completion_tokens > 0 and answer.prompt_tokens > 0
            CoachReply.model_validate_json(answer.output_json)
        for answer in report.answers:
            assert answer.status == "ok" or "invalid output" in answer.error
        calls = len(script.requests)

        again = run_teacher(batch, _teacher(url), cache=cache)
        assert len(script.requests) == calls + 3 - len(ok)  # only the missing ones are asked
        assert {a.prompt_id for a in again.answers if a.source == "cache"} == {
            a.prompt_id for a in ok
        }
    finally:
        proxy.shutdown()


def test_rate_limited_provider_recovers_honouring_retry_after(llama, prompts: list[Prompt]) -> None:
    script = Script(kind="rate_limit", failures=2, retry_after="1")
    proxy, url = start_proxy(llama.base_url, script)
    try:
        report = run_teacher(
            _coaching(prompts, 1), _teacher(url), max_attempts=5, base_delay_s=0.01, max_delay_s=5
        )
        answer = report.answers[0]
        assert answer.attempts == 3, answer
        gaps = [b - a for a, b in zip(script.requests, script.requests[1:], strict=False)]
        assert all(gap >= 0.9 for gap in gaps[:2]), gaps  # waited Retry-After, not the tiny backoff
        assert answer.status == "ok" or "invalid output" in answer.error
        assert script.forwarded >= 1
    finally:
        proxy.shutdown()


@pytest.mark.parametrize(
    ("kind", "reason", "attempts"),
    [
        ("server_error", "HTTP 500", 3),
        ("hang", "timeout", 3),
        ("refuse", "HTTP 400", 1),
        ("malformed", "invalid output", 1),
    ],
)
def test_failing_provider_is_retried_then_recorded(
    llama, prompts: list[Prompt], kind: str, reason: str, attempts: int
) -> None:
    script = Script(kind=kind, failures=100, hang_s=3)
    proxy, url = start_proxy(llama.base_url, script)
    try:
        batch = _coaching(prompts, 2)
        report = run_teacher(
            batch,
            _teacher(url, timeout_s=1.5, reasks=0),
            max_attempts=3,
            base_delay_s=0.01,
            max_delay_s=0.05,
        )
        assert [a.status for a in report.answers] == ["failed", "failed"]
        for answer in report.answers:
            assert reason in answer.error and answer.attempts == attempts, answer.error
        assert report.failure_rate == 1.0
        assert sum(report.failure_reasons.values()) == 2
    finally:
        proxy.shutdown()


def test_fallback_answers_with_the_offline_coach(llama, prompts: list[Prompt]) -> None:
    script = Script(kind="server_error", failures=100)
    proxy, url = start_proxy(llama.base_url, script)
    try:
        batch = _coaching(prompts, 1) + [p for p in prompts if p.output_type == "plan"][:1]
        report = run_teacher(
            batch,
            _teacher(url),
            max_attempts=2,
            base_delay_s=0.01,
            max_delay_s=0.05,
            fallback=OfflineTeacher(),
        )
        for answer in report.answers:
            assert answer.status == "ok" and answer.source == "fallback"
            assert "HTTP 500" in answer.error and answer.provider == "offline"
        Plan.model_validate_json(report.answers[1].output_json)
    finally:
        proxy.shutdown()
