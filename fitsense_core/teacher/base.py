"""The teacher interface and the record of one answer."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Protocol

from fitsense_core.prompts import Prompt


class TeacherFailure(Exception):
    """A prompt could not be answered; ``retryable`` says whether trying again may help."""

    def __init__(self, reason: str, *, retryable: bool, retry_after: float | None = None):
        super().__init__(reason)
        self.reason = reason
        self.retryable = retryable
        self.retry_after = retry_after


@dataclass(frozen=True)
class Completion:
    output_json: str
    prompt_tokens: int = 0
    completion_tokens: int = 0


class Teacher(Protocol):
    provider: str
    model: str

    async def complete(self, prompt: Prompt) -> Completion:
        """Answer one prompt or raise :class:`TeacherFailure`."""
        ...


@dataclass(frozen=True)
class TeacherAnswer:
    prompt_id: str
    prompt_hash: str
    provider: str
    model: str
    status: str  # ok | failed
    source: str  # teacher | cache | fallback
    output_type: str
    output_json: str | None
    error: str | None
    attempts: int
    latency_ms: int
    prompt_tokens: int
    completion_tokens: int

    def record(self) -> dict[str, Any]:
        return asdict(self)
