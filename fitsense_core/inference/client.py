"""The one client the API uses to reach the model: ``openai.AsyncOpenAI`` with timeouts,
bounded retries and a circuit breaker.

It speaks only the OpenAI protocol, so the same code runs against ``fitsense serve``
(llama.cpp on a CPU) and against vLLM on a GPU host. What differs between backends is how
structured output is passed: llama.cpp takes a GBNF ``grammar`` (its JSON-Schema path is
much slower), vLLM and other OpenAI-compatible servers take ``response_format`` with a
JSON Schema. ``FITSENSE_MODEL_BACKEND`` (``llama-cpp`` or ``openai``) chooses.

The model version is never configured here: the server names the version it serves
(``/v1/models``, ``fitsense-student-<version>``) and every answer is stored with it.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator
from contextlib import aclosing
from dataclasses import dataclass
from typing import Any, Literal

import httpx2
import openai

from fitsense_core.errors import ConfigurationError, FitSenseError
from fitsense_core.inference.endpoint import SERVED_CONTEXT_TOKENS, ModelEndpoint, version_of
from fitsense_core.settings import env_float, env_int

Backend = Literal["llama-cpp", "openai"]
BACKENDS: tuple[str, ...] = ("llama-cpp", "openai")


class ModelUnavailable(FitSenseError):
    """The model server cannot answer now (down, timing out, failing, or circuit open)."""


class RequestRefused(ModelUnavailable):
    """The model server refused this request as invalid (a 4xx: too long for its context,
    a malformed body): the request's fault, not the server's."""


class CircuitOpen(ModelUnavailable):
    """Recent calls failed; calls are not tried until the breaker's cool-down ends."""


class CircuitBreaker:
    """Closed → open after ``failure_threshold`` consecutive failures; after
    ``reset_after_s`` one trial call is let through (half-open): success closes it,
    failure opens it again. While open, callers fail fast and fall back.

    Only a call to the model itself takes part: :meth:`before_call` admits it (True: it is
    the half-open trial), :meth:`success` / :meth:`failure` give the verdict, and
    :meth:`settle`, always called once it ends, frees the trial slot of a call that ended
    without one (cancelled, or refused for the request's own fault)."""

    def __init__(self, failure_threshold: int = 3, reset_after_s: float = 15.0) -> None:
        self.failure_threshold = failure_threshold
        self.reset_after_s = reset_after_s
        self._failures = 0
        self._opened_at: float | None = None
        self._trial_running = False

    @property
    def state(self) -> str:
        if self._opened_at is None:
            return "closed"
        if time.monotonic() - self._opened_at >= self.reset_after_s:
            return "half_open"
        return "open"

    def retry_after_s(self) -> int:
        if self._opened_at is None:
            return 0
        return max(1, round(self.reset_after_s - (time.monotonic() - self._opened_at)))

    def check(self) -> str:
        """Raise :class:`CircuitOpen` when no call may go now; else the state."""
        state = self.state
        if state == "open" or (state == "half_open" and self._trial_running):
            raise CircuitOpen(
                f"model server circuit open after {self._failures} failures; "
                f"next try in {self.retry_after_s()} s"
            )
        return state

    def before_call(self) -> bool:
        """Admit a call (or raise :class:`CircuitOpen`); True when it is the trial."""
        if self.check() == "half_open":
            self._trial_running = True
            return True
        return False

    def success(self) -> None:
        self._failures = 0
        self._opened_at = None
        self._trial_running = False

    def failure(self) -> None:
        self._failures += 1
        self._trial_running = False
        if self._opened_at is not None or self._failures >= self.failure_threshold:
            self._opened_at = time.monotonic()

    def settle(self, trial: bool) -> None:
        """A call admitted by :meth:`before_call` ended. Were it the trial and it got no
        verdict, the next call is the trial; else nothing changes."""
        if trial:
            self._trial_running = False


@dataclass(frozen=True)
class Completion:
    text: str
    model_name: str
    model_version: str
    prompt_tokens: int | None
    completion_tokens: int | None
    latency_ms: int
    finish_reason: str | None


@dataclass
class StreamResult:
    """Filled while a stream runs: what the audit row needs once it ends."""

    model_name: str = ""
    model_version: str = ""
    completion_tokens: int = 0
    first_token_ms: int | None = None
    latency_ms: int = 0
    finish_reason: str | None = None


@dataclass(frozen=True)
class ClientSettings:
    endpoint: ModelEndpoint
    backend: Backend = "llama-cpp"
    timeout_s: float = 30.0
    connect_timeout_s: float = 2.0
    max_retries: int = 1
    failure_threshold: int = 3
    reset_after_s: float = 15.0
    # The served model's context in tokens: `fitsense serve` runs llama.cpp with 2048.
    context_tokens: int = SERVED_CONTEXT_TOKENS

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> ClientSettings:
        env = os.environ if environ is None else environ
        backend = env.get("FITSENSE_MODEL_BACKEND") or "llama-cpp"
        if backend not in BACKENDS:
            raise ConfigurationError(
                f"FITSENSE_MODEL_BACKEND must be one of {', '.join(BACKENDS)}, got {backend!r}"
            )

        return cls(
            endpoint=ModelEndpoint.from_env(env),
            backend=backend,  # type: ignore[arg-type]
            timeout_s=env_float(env, "FITSENSE_MODEL_TIMEOUT_S", 30.0, 1, 600),
            max_retries=env_int(env, "FITSENSE_MODEL_MAX_RETRIES", 1, 0, 5),
            context_tokens=env_int(
                env, "FITSENSE_MODEL_CONTEXT_TOKENS", SERVED_CONTEXT_TOKENS, 1024, 1 << 20
            ),
        )


VERSION_TTL_S = 5.0
# Answers that blame the request (malformed, too long for the context, an unknown model
# name after a switch): the server works, so they are no failure of it. 401/403 (a wrong
# key), 408, 429 and 5xx are.
REQUEST_ERRORS = (400, 404, 413, 422)
# openai 3 runs on httpx2; a connection that breaks mid-stream surfaces as its own error.
TRANSPORT_ERRORS = (TimeoutError, openai.APIError, httpx2.HTTPError)


class ModelClient:
    """Async calls to the served student, each bounded in time and guarded by a breaker."""

    def __init__(self, settings: ClientSettings, breaker: CircuitBreaker | None = None) -> None:
        self.settings = settings
        self.breaker = breaker or CircuitBreaker(settings.failure_threshold, settings.reset_after_s)
        self._openai = openai.AsyncOpenAI(
            base_url=settings.endpoint.base_url,
            api_key=settings.endpoint.api_key,
            timeout=httpx2.Timeout(settings.timeout_s, connect=settings.connect_timeout_s),
            max_retries=settings.max_retries,
        )
        self._served: tuple[float, str] | None = None
        self._version_lock = asyncio.Lock()

    async def aclose(self) -> None:
        await self._openai.close()

    @property
    def backend(self) -> Backend:
        return self.settings.backend

    def _failed(self, exc: Exception) -> ModelUnavailable:
        """The error a failed call raises; a failure of the server unless the server
        blamed the request (:data:`REQUEST_ERRORS`)."""
        self._served = None
        reason = type(exc).__name__
        detail = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
        if isinstance(exc, openai.APIStatusError) and exc.status_code in REQUEST_ERRORS:
            return RequestRefused(
                f"model server refused the request: {exc.status_code} {reason}: {detail}"
            )
        self.breaker.failure()
        return ModelUnavailable(f"model server failed: {reason}{': ' + detail if detail else ''}")

    async def served_model(self) -> str:
        """The model name the server answers to now (cached for a few seconds). ``fitsense
        serve`` answers this itself, so an answer says nothing of the model: it is no
        success for the breaker, and while the circuit is open it is not asked."""
        now = time.monotonic()
        if self._served is not None and now - self._served[0] < VERSION_TTL_S:
            return self._served[1]
        async with self._version_lock:
            if self._served is not None and time.monotonic() - self._served[0] < VERSION_TTL_S:
                return self._served[1]
            self.breaker.check()
            try:
                page = await self._openai.models.list(timeout=self.settings.connect_timeout_s + 1)
            except TRANSPORT_ERRORS as exc:
                raise self._failed(exc) from exc
            models = [m.id for m in page.data]
            if not models:
                raise ModelUnavailable("the model server serves no model yet")
            self._served = (time.monotonic(), models[0])
            return models[0]

    async def complete(
        self,
        messages: list[dict[str, str]],
        *,
        max_tokens: int,
        model: str | None = None,
        extra_body: dict[str, Any] | None = None,
        temperature: float = 0.0,
        seed: int | None = 7,
    ) -> Completion:
        model = model or await self.served_model()
        body = dict(extra_body or {})
        response_format = body.pop("response_format", None)
        kwargs: dict[str, Any] = {}
        if response_format is not None:
            kwargs["response_format"] = response_format
        trial = self.breaker.before_call()
        started = time.perf_counter()
        try:
            response = await self._openai.chat.completions.create(
                model=model,
                messages=messages,  # type: ignore[arg-type]
                max_tokens=max_tokens,
                temperature=temperature,
                seed=seed,
                extra_body=body or None,
                **kwargs,
            )
            self.breaker.success()
        except TRANSPORT_ERRORS as exc:
            raise self._failed(exc) from exc
        finally:
            self.breaker.settle(trial)
        choice = response.choices[0] if response.choices else None
        usage = response.usage
        return Completion(
            text=(choice.message.content or "") if choice else "",
            model_name=response.model or model,
            model_version=version_of(response.model or model),
            prompt_tokens=usage.prompt_tokens if usage else None,
            completion_tokens=usage.completion_tokens if usage else None,
            latency_ms=round((time.perf_counter() - started) * 1000),
            finish_reason=choice.finish_reason if choice else None,
        )

    async def stream(
        self,
        messages: list[dict[str, str]],
        *,
        max_tokens: int,
        result: StreamResult,
        model: str | None = None,
        temperature: float = 0.0,
        seed: int | None = 7,
    ) -> AsyncIterator[str]:
        """Text pieces as the server produces them. Leaving the loop early (the client went
        away) closes the upstream response, which stops generation on the server."""
        model = model or await self.served_model()
        result.model_name = model
        result.model_version = version_of(model)
        trial = self.breaker.before_call()
        pieces = self._stream(messages, max_tokens, result, model, temperature, seed)
        try:
            # aclosing: a consumer that leaves early closes the upstream response at once.
            async with aclosing(pieces):
                async for piece in pieces:
                    yield piece
        finally:
            self.breaker.settle(trial)

    async def _stream(
        self,
        messages: list[dict[str, str]],
        max_tokens: int,
        result: StreamResult,
        model: str,
        temperature: float,
        seed: int | None,
    ) -> AsyncIterator[str]:
        started = time.perf_counter()
        try:
            upstream = await self._openai.chat.completions.create(
                model=model,
                messages=messages,  # type: ignore[arg-type]
                max_tokens=max_tokens,
                temperature=temperature,
                seed=seed,
                stream=True,
            )
        except TRANSPORT_ERRORS as exc:
            raise self._failed(exc) from exc
        try:
            async for chunk in upstream:
                if chunk.model:
                    result.model_name = chunk.model
                    result.model_version = version_of(chunk.model)
                if not chunk.choices:
                    continue
                choice = chunk.choices[0]
                if choice.finish_reason:
                    result.finish_reason = choice.finish_reason
                piece = choice.delta.content if choice.delta else None
                if piece:
                    if result.first_token_ms is None:
                        result.first_token_ms = round((time.perf_counter() - started) * 1000)
                    result.completion_tokens += 1
                    yield piece
        except TRANSPORT_ERRORS as exc:
            raise self._failed(exc) from exc
        finally:
            result.latency_ms = round((time.perf_counter() - started) * 1000)
            await upstream.close()
        self.breaker.success()
