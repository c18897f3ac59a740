"""Driving a teacher over many prompts: concurrency, token budget, retries, cache.

- at most ``concurrency`` requests in flight;
- a token bucket refilled at ``tokens_per_minute`` (prompt size estimated at 4
  characters per token plus the answer budget) so a provider's TPM quota is respected;
- retryable failures are retried up to ``max_attempts`` times, waiting the provider's
  Retry-After when it sends one, else exponential backoff with full jitter;
- answers already in the cache for (prompt hash, provider, model) are reused; new
  successful answers are written to it as they arrive, so an interrupted run resumes;
- a prompt that still fails is recorded with its reason (and, if asked, answered by the
  offline coach, marked as a fallback) — never silently dropped.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import random
import re
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from fitsense_core.artifacts import ArtifactStore
from fitsense_core.prompts import Prompt
from fitsense_core.teacher.base import Teacher, TeacherAnswer, TeacherFailure

ANSWER_TOKENS = {"plan": 1500, "reply": 500}


def _slug(text: str) -> str:
    return re.sub(r"[^a-zA-Z0-9._-]+", "-", text).strip("-")[:80] or "model"


class AnswerCache:
    """Successful answers in the artifact store, one JSON file per (provider, model, prompt)."""

    def __init__(self, store: ArtifactStore, provider: str, model: str) -> None:
        self.store = store
        self.prefix = ("teacher_outputs", "cache", _slug(f"{provider}-{model}"))

    def _parts(self, prompt_hash: str) -> tuple[str, ...]:
        return (*self.prefix, prompt_hash[:2], f"{prompt_hash}.json")

    def get(self, prompt_hash: str) -> dict | None:
        if not self.store.exists(*self._parts(prompt_hash)):
            return None
        return self.store.read_json(*self._parts(prompt_hash))

    def put(self, prompt_hash: str, value: dict) -> None:
        self.store.write_json(value, *self._parts(prompt_hash))


class TokenBucket:
    """Tokens per minute, refilled continuously; ``take`` waits until there is room."""

    def __init__(self, tokens_per_minute: int) -> None:
        self.capacity = float(tokens_per_minute)
        self.tokens = float(tokens_per_minute)
        self.updated = time.monotonic()
        self.lock = asyncio.Lock()

    async def take(self, amount: int) -> None:
        amount = min(float(amount), self.capacity)
        async with self.lock:
            while True:
                now = time.monotonic()
                self.tokens = min(
                    self.capacity, self.tokens + (now - self.updated) * self.capacity / 60
                )
                self.updated = now
                if self.tokens >= amount:
                    self.tokens -= amount
                    return
                await asyncio.sleep((amount - self.tokens) * 60 / self.capacity)


@dataclass(frozen=True)
class TeacherRunReport:
    answers: list[TeacherAnswer]
    seconds: float

    @property
    def counts(self) -> dict[str, int]:
        return dict(Counter(f"{a.status}:{a.source}" for a in self.answers))

    @property
    def failure_rate(self) -> float:
        failed = sum(a.status == "failed" for a in self.answers)
        return failed / len(self.answers) if self.answers else 0.0

    @property
    def failure_reasons(self) -> dict[str, int]:
        reasons = Counter((a.error or "").split(":", 1)[0] for a in self.answers if a.error)
        return dict(reasons)


def estimate_tokens(prompt: Prompt) -> int:
    text = sum(len(m["content"]) for m in prompt.messages)
    return text // 4 + ANSWER_TOKENS[prompt.output_type]


def backoff_delay(attempt: int, base_s: float, max_s: float, rng: random.Random) -> float:
    """Full-jitter exponential backoff: uniform(0, min(max, base * 2^(attempt-1)))."""
    return rng.uniform(0, min(max_s, base_s * 2 ** (attempt - 1)))


async def _answer(
    prompt: Prompt,
    teacher: Teacher,
    *,
    cache: AnswerCache | None,
    bucket: TokenBucket | None,
    semaphore: asyncio.Semaphore,
    max_attempts: int,
    base_delay_s: float,
    max_delay_s: float,
    fallback: Teacher | None,
    rng: random.Random,
) -> TeacherAnswer:
    def answer(
        status: str,
        source: str,
        output: str | None,
        error: str | None,
        attempts: int,
        started: float,
        p_tokens: int = 0,
        c_tokens: int = 0,
        by: Teacher = teacher,
    ) -> TeacherAnswer:
        return TeacherAnswer(
            prompt_id=prompt.prompt_id,
            prompt_hash=prompt.prompt_hash,
            provider=by.provider,
            model=by.model,
            status=status,
            source=source,
            output_type=prompt.output_type,
            output_json=output,
            error=error,
            attempts=attempts,
            latency_ms=int((time.perf_counter() - started) * 1000),
            prompt_tokens=p_tokens,
            completion_tokens=c_tokens,
        )

    started = time.perf_counter()
    if cache is not None and (hit := cache.get(prompt.prompt_hash)) is not None:
        return answer(
            "ok",
            "cache",
            hit["output_json"],
            None,
            0,
            started,
            hit.get("prompt_tokens", 0),
            hit.get("completion_tokens", 0),
        )

    error = "not attempted"
    attempt = 0
    for attempt in range(1, max_attempts + 1):
        if bucket is not None:
            await bucket.take(estimate_tokens(prompt))
        try:
            async with semaphore:
                completion = await teacher.complete(prompt)
        except TeacherFailure as failure:
            error = failure.reason
            if not failure.retryable or attempt == max_attempts:
                break
            delay = (
                failure.retry_after
                if failure.retry_after is not None
                else backoff_delay(attempt, base_delay_s, max_delay_s, rng)
            )
            await asyncio.sleep(min(delay, max_delay_s))
            continue
        if cache is not None:
            cache.put(
                prompt.prompt_hash,
                {
                    "prompt_id": prompt.prompt_id,
                    "output_json": completion.output_json,
                    "prompt_tokens": completion.prompt_tokens,
                    "completion_tokens": completion.completion_tokens,
                },
            )
        return answer(
            "ok",
            "teacher",
            completion.output_json,
            None,
            attempt,
            started,
            completion.prompt_tokens,
            completion.completion_tokens,
        )

    reason = f"{error} (after {attempt} attempt{'s' if attempt != 1 else ''})"
    if fallback is not None:
        try:
            completion = await fallback.complete(prompt)
            return answer(
                "ok", "fallback", completion.output_json, reason, attempt, started, by=fallback
            )
        except TeacherFailure as failure:
            reason = f"{reason}; fallback failed: {failure.reason}"
    return answer("failed", "teacher", None, reason, attempt, started)


def run_teacher(
    prompts: Sequence[Prompt],
    teacher: Teacher,
    *,
    cache: AnswerCache | None = None,
    concurrency: int = 4,
    tokens_per_minute: int | None = None,
    max_attempts: int = 5,
    base_delay_s: float = 1.0,
    max_delay_s: float = 60.0,
    fallback: Teacher | None = None,
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
) -> TeacherRunReport:
    """Answer every prompt; the result has one answer per prompt, in prompt order."""

    async def main() -> list[TeacherAnswer]:
        semaphore = asyncio.Semaphore(max(1, concurrency))
        bucket = TokenBucket(tokens_per_minute) if tokens_per_minute else None
        rng = random.Random(seed)
        done = 0

        async def one(prompt: Prompt) -> TeacherAnswer:
            nonlocal done
            result = await _answer(
                prompt,
                teacher,
                cache=cache,
                bucket=bucket,
                semaphore=semaphore,
                max_attempts=max_attempts,
                base_delay_s=base_delay_s,
                max_delay_s=max_delay_s,
                fallback=fallback,
                rng=rng,
            )
            done += 1
            if progress is not None:
                progress(done, len(prompts))
            return result

        return list(await asyncio.gather(*(one(p) for p in prompts)))

    started = time.perf_counter()
    answers = asyncio.run(main())
    return TeacherRunReport(answers, time.perf_counter() - started)


def answers_digest(answers: Sequence[TeacherAnswer]) -> str:
    payload = json.dumps([(a.prompt_id, a.status, a.output_json) for a in answers])
    return hashlib.sha256(payload.encode()).hexdigest()
