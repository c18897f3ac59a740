"""One ``ai_interactions`` row per AI request: which model version answered (if any), how
long it took, what the safety policy decided, and whether the answer was the model's
(ok), the knowledge-based coach's (fallback), the policy's own (refused) or none (error)."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

import asyncpg

from fitsense_api.observability import log_inference
from fitsense_core.inference.client import Completion, StreamResult

INSERT = """
INSERT INTO ai_interactions (
  user_id, context_type, context_id, request_id, query_text, response_text, model_name,
  model_version, latency_ms, prompt_tokens, completion_tokens, safety_level, outcome, error,
  job_id, slices)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)
RETURNING id
"""

QUERY_LIMIT = 4000
RESPONSE_LIMIT = 20000


@dataclass
class Interaction:
    user_id: UUID
    context_type: str
    request_id: str
    query_text: str
    safety_level: str
    outcome: str = "ok"
    context_id: UUID | None = None
    response_text: str | None = None
    model_name: str | None = None
    model_version: str | None = None
    latency_ms: int | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    error: str | None = None
    job_id: UUID | None = None
    # The request's slice tags (age band, sex, goal, ...): monitoring's drift input.
    slices: dict[str, str] | None = None

    def note_completion(self, completion: Completion, response_text: str) -> None:
        """What the model answered, and how (``response_text``: what was made of it)."""
        self.model_name = completion.model_name
        self.model_version = completion.model_version
        self.latency_ms = completion.latency_ms
        self.prompt_tokens = completion.prompt_tokens
        self.completion_tokens = completion.completion_tokens
        self.response_text = response_text

    def note_stream(self, streamed: StreamResult, response_text: str) -> None:
        """What a streamed answer got to, also when it was cut short."""
        self.model_name = streamed.model_name or None
        self.model_version = streamed.model_version or None
        self.completion_tokens = streamed.completion_tokens
        self.latency_ms = streamed.latency_ms or self.latency_ms
        self.response_text = response_text


async def record(conn: asyncpg.Connection, row: Interaction) -> UUID:
    """Store the interaction, then log it (an ``inference`` line) and count it."""
    interaction_id = await conn.fetchval(
        INSERT,
        row.user_id,
        row.context_type,
        row.context_id,
        row.request_id[:128],
        row.query_text[:QUERY_LIMIT],
        None if row.response_text is None else row.response_text[:RESPONSE_LIMIT],
        row.model_name,
        row.model_version,
        row.latency_ms,
        row.prompt_tokens,
        row.completion_tokens,
        row.safety_level,
        row.outcome,
        None if row.error is None else row.error[:2000],
        row.job_id,
        row.slices,  # the pool's jsonb codec encodes it
    )
    log_inference(
        request_id=row.request_id,
        user_id=str(row.user_id),
        context_type=row.context_type,
        outcome=row.outcome,
        safety_level=row.safety_level,
        model_name=row.model_name,
        model_version=row.model_version,
        latency_ms=row.latency_ms,
        prompt_tokens=row.prompt_tokens,
        completion_tokens=row.completion_tokens,
    )
    return interaction_id
