"""A teacher behind any OpenAI-compatible endpoint, with structured output via instructor.

Provider errors are sorted into retryable (rate limits, timeouts, connection failures,
5xx) and final (bad request, authentication, refusals, output that never validates);
``run_teacher`` does the retrying so that backoff, jitter, Retry-After and the
token-per-minute budget are handled in one place for every provider.
"""

from __future__ import annotations

import copy
import email.utils
import time
from dataclasses import dataclass, field
from typing import Any

import instructor
import openai
from instructor.core.exceptions import IncompleteOutputException, InstructorRetryException
from pydantic import BaseModel

from fitsense_core.plan_contract import Plan
from fitsense_core.prompts import Prompt
from fitsense_core.replies import CoachReply
from fitsense_core.teacher.base import Completion, TeacherFailure

RETRYABLE_STATUS = {408, 409, 429, 500, 502, 503, 504}
MAX_TOKENS = {"plan": 3000, "reply": 800}


def retry_after_seconds(headers: Any) -> float | None:
    """Seconds to wait from Retry-After / retry-after-ms headers, if the provider sent one."""
    if not headers:
        return None
    if ms := headers.get("retry-after-ms"):
        try:
            return max(0.0, float(ms) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        parsed = email.utils.parsedate_to_datetime(value)
        return max(0.0, parsed.timestamp() - time.time()) if parsed else None


def grammar_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The model's JSON Schema without length/pattern limits, for servers that turn
    ``response_format.schema`` into a decoding grammar (llama.cpp): long length bounds
    explode the grammar, and pydantic still enforces them when the answer is parsed."""
    schema = copy.deepcopy(model.model_json_schema())

    def strip(node: Any) -> None:
        if isinstance(node, dict):
            for key in ("maxLength", "minLength", "maxItems", "minItems", "pattern"):
                node.pop(key, None)
            for value in node.values():
                strip(value)
        elif isinstance(node, list):
            for value in node:
                strip(value)

    strip(schema)
    return schema


def _short(text: str, limit: int = 300) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def classify(exc: BaseException) -> TeacherFailure:
    """A provider exception as a failure with a reason and whether to retry."""
    if isinstance(exc, openai.APITimeoutError):
        return TeacherFailure("timeout: the provider did not answer in time", retryable=True)
    if isinstance(exc, openai.APIConnectionError):
        return TeacherFailure(f"connection failed: {_short(exc)}", retryable=True)
    if isinstance(exc, openai.APIStatusError):
        status = exc.status_code
        retry_after = retry_after_seconds(exc.response.headers if exc.response else None)
        kind = "rate limited" if status == 429 else f"HTTP {status}"
        return TeacherFailure(
            f"{kind}: {_short(exc.message)}",
            retryable=status in RETRYABLE_STATUS,
            retry_after=retry_after,
        )
    if isinstance(exc, openai.ContentFilterFinishReasonError):
        return TeacherFailure(
            "refused: the provider's content filter stopped the answer", retryable=False
        )
    if isinstance(exc, openai.LengthFinishReasonError):
        return TeacherFailure("truncated: the answer hit the token limit", retryable=False)
    return TeacherFailure(f"{type(exc).__name__}: {_short(exc)}", retryable=False)


@dataclass
class OpenAICompatibleTeacher:
    """``instructor`` + ``openai`` against ``base_url`` (OpenAI, Groq, OpenRouter, vLLM, ...).

    ``send_schema`` also sends the answer's JSON Schema as ``response_format.schema``, which
    llama.cpp servers enforce while decoding (constrained output)."""

    base_url: str
    model: str
    api_key: str = "not-needed"
    timeout_s: float = 60.0
    mode: str = "JSON"
    reasks: int = 1
    temperature: float = 0.2
    send_schema: bool = False
    provider: str = "openai-compatible"
    extra_body: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        raw = openai.AsyncOpenAI(
            base_url=self.base_url, api_key=self.api_key, timeout=self.timeout_s, max_retries=0
        )
        self._client = instructor.from_openai(raw, mode=instructor.Mode[self.mode])

    async def complete(self, prompt: Prompt) -> Completion:
        response_model: type[BaseModel] = Plan if prompt.output_type == "plan" else CoachReply
        extra_body = dict(self.extra_body)
        if self.send_schema:
            extra_body["response_format"] = {
                "type": "json_object",
                "schema": grammar_schema(response_model),
            }
        try:
            result, raw = await self._client.chat.completions.create_with_completion(
                model=self.model,
                messages=prompt.messages,
                response_model=response_model,
                max_retries=self.reasks,
                max_tokens=MAX_TOKENS[prompt.output_type],
                temperature=self.temperature,
                extra_body=extra_body or None,
            )
        except InstructorRetryException as exc:
            cause = exc.__cause__
            if isinstance(cause, openai.OpenAIError):
                raise classify(cause) from exc
            raise TeacherFailure(
                f"invalid output after {exc.n_attempts} attempt(s): {_short(cause or exc)}",
                retryable=False,
            ) from exc
        except IncompleteOutputException as exc:
            # An answer cut at max_tokens is invalid output, recorded like any other.
            raise TeacherFailure(
                f"invalid output: cut at {MAX_TOKENS[prompt.output_type]} tokens",
                retryable=False,
            ) from exc
        except openai.OpenAIError as exc:
            raise classify(exc) from exc
        usage = getattr(raw, "usage", None)
        return Completion(
            output_json=result.model_dump_json(),
            prompt_tokens=int(getattr(usage, "prompt_tokens", 0) or 0),
            completion_tokens=int(getattr(usage, "completion_tokens", 0) or 0),
        )
