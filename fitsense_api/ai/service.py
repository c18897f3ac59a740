"""The AI side of the API, safety first: triage before any model call, the served student
behind constrained decoding, every plan checked against the contract and the person's
constraints, and the knowledge-based coach whenever the model cannot give a safe answer.

Order of a plan request: load the context → triage the request (an emergency stops here:
no model, the urgent-care message, audit ``refused``) → the request for the model, the
judgement of its answer and the plan served all come from the one inference path,
:mod:`fitsense_core.inference.serve`, that the evaluation and the monitoring probes use
too: the model writes a compact plan under the per-person grammar → decode and validate
it → a plan that fails, or a model that cannot answer, is replaced by the knowledge-based
coach's (audit ``fallback`` with the reason) → store the plan as a new version with its
source and model version. This module adds what only the API does: the person's context
from PostgreSQL, the inference gate, jobs, streaming and the audit rows.

The serving version answers only the capabilities its promotion gate passed
(:data:`CAPABILITY_OF`, looked up in the registry once per version). For any other request
the model is not asked at all: the knowledge-based coach answers through the same path
(source ``rules``, reason :data:`~fitsense_core.inference.serve.NOT_CAPABLE`). The HTTP
answer is the usual one, but the audit outcome is ``fallback`` with that reason, so the
monitoring's fallback rate shows how much of the traffic the model does not serve.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import aclosing
from dataclasses import dataclass, field, replace
from typing import Any
from uuid import UUID, uuid4

import asyncpg

from fitsense_api.ai.adapt import adaptation_request
from fitsense_api.ai.audit import Interaction, record
from fitsense_api.ai.context import load_context
from fitsense_api.ai.limits import InferenceGate, Place
from fitsense_api.ai.reasons import reason_code
from fitsense_api.db import connection
from fitsense_api.errors import Conflict
from fitsense_api.plans.services import insert_plan_version, load_plan, to_contract
from fitsense_core.inference import serve
from fitsense_core.inference.client import (
    ModelClient,
    ModelUnavailable,
    RequestRefused,
    StreamResult,
)
from fitsense_core.inference.endpoint import version_of
from fitsense_core.safety import Triage, triage
from fitsense_core.student import registry, suspensions
from fitsense_core.student.compact import Codebook
from fitsense_core.student.data import StudentTask, live_task
from fitsense_core.student.registry import RegistryError

log = logging.getLogger("fitsense.api.ai")

PROMPT_TYPES = {
    "plan_generate": "plan_creation",
    "plan_update": "plan_update",
    "plan_adapt": "plan_update",
}
# The promotion-gate capability (fitsense_core.student.registry.CAPABILITIES) that each
# kind of request needs from the serving version.
CAPABILITY_OF = {
    "plan_generate": "plan_creation",
    "plan_update": "plan_update",
    "plan_adapt": "plan_adaptation",
    "coach": "coach_reply",
}
# How long a worker trusts what it read of monitoring's suspensions.
SUSPENSIONS_TTL_S = 5.0
DEFAULT_CREATE_REQUEST = "Make me a balanced weekly workout plan."

Progress = Callable[[str, float], Awaitable[None]]


async def _no_progress(_stage: str, _fraction: float) -> None:
    return None


# Called with the job's result inside the transaction that stores it (see ``run_plan``).
Finish = Callable[["PlanResult"], Awaitable[None]]


async def _no_finish(_result: PlanResult) -> None:
    return None


@dataclass
class PlanResult:
    outcome: str  # ok | fallback | refused
    safety_level: str
    message: str | None = None
    plan_id: UUID | None = None
    source: str | None = None
    model_version: str | None = None
    fallback_reason: str | None = None
    request: str = ""
    adaptation: dict[str, Any] | None = None
    interaction_id: UUID | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "outcome": self.outcome,
            "safety_level": self.safety_level,
            "message": self.message,
            "plan_id": None if self.plan_id is None else str(self.plan_id),
            "source": self.source,
            "model_version": self.model_version,
            "fallback_reason": self.fallback_reason,
            "request": self.request,
            "adaptation": self.adaptation,
            "interaction_id": None if self.interaction_id is None else str(self.interaction_id),
        }


@dataclass
class CoachAnswer:
    answer: str
    outcome: str
    safety_level: str
    model_version: str | None
    source: str = "model"  # model | rules (the knowledge-based coach) | policy
    key_points: list[str] = field(default_factory=list)
    needs_medical_clearance: bool = False
    refer_to_emergency: bool = False
    fallback_reason: str | None = None
    interaction_id: UUID | None = None
    citations: list[str] = field(default_factory=list)


def no_active_plan() -> Conflict:
    return Conflict(
        "there is no active plan to change yet: POST /plans/generate first",
        [{"field": "plan", "message": "no active plan"}],
    )


def not_answered(exc: ModelUnavailable) -> str:
    """The fallback reason of a model call that gave no answer."""
    prefix = serve.REQUEST_REFUSED if isinstance(exc, RequestRefused) else serve.UNAVAILABLE
    return f"{prefix}: {exc}"


class AiService:
    """Per worker process: the model client, the inference gate, codebooks and
    capabilities by version."""

    def __init__(self, client: ModelClient, gate: InferenceGate, database_url: str) -> None:
        self.client = client
        self.gate = gate
        self._database_url = database_url
        self._codebooks = serve.registry_codebooks(database_url)
        # A version that has served keeps its registry record (registry.register), so
        # what it passed never changes under its name: read once per version.
        self._capabilities: dict[str, frozenset[str]] = {}
        # What monitoring suspended can change at any time: read again after a few seconds.
        self._suspended: dict[str, tuple[float, dict[str, str]]] = {}

    async def aclose(self) -> None:
        await self.client.aclose()

    async def codebook(self, version: str) -> Codebook:
        """The compact-plan codebook the served version was trained with (registry)."""
        try:
            return await asyncio.to_thread(self._codebooks.get, version)
        except RegistryError as exc:
            raise ModelUnavailable(
                f"the served model {version!r} is not in the model registry"
            ) from exc

    async def capabilities(self, version: str) -> frozenset[str]:
        """The capabilities the served version passed in its promotion gate (registry)."""
        if version not in self._capabilities:
            try:
                record = await asyncio.to_thread(registry.get, self._database_url, version)
            except RegistryError as exc:
                raise ModelUnavailable(
                    f"the served model {version!r} is not in the model registry"
                ) from exc
            self._capabilities[version] = frozenset(record.capabilities)
        return self._capabilities[version]

    async def suspended(self, version: str) -> dict[str, str]:
        """The capabilities monitoring suspended for ``version``, with why (re-read after
        :data:`SUSPENSIONS_TTL_S`)."""
        now = time.monotonic()
        cached = self._suspended.get(version)
        if cached is None or now - cached[0] > SUSPENSIONS_TTL_S:
            found = await asyncio.to_thread(suspensions.active, self._database_url, version)
            cached = (now, {c: s.reason for c, s in found.items()})
            self._suspended[version] = cached
        return cached[1]

    async def serving_for(self, kind: str, task: StudentTask) -> tuple[str | None, str | None]:
        """The served model's name for ``task``, a request of ``kind`` (a key of
        :data:`CAPABILITY_OF`), or None and why the model is not to be asked: the request
        may not fit the model's context, the server cannot say what it serves, the
        serving version did not pass that capability, or monitoring suspended it. Asked
        before any inference slot is taken: a request the model will not answer neither
        waits for nor is refused a turn."""
        too_long = serve.too_long_for_model(task, self.client.settings.context_tokens)
        if too_long is not None:
            return None, too_long
        capability = CAPABILITY_OF[kind]
        try:
            served = await self.client.served_model()
            version = version_of(served)
            if capability not in await self.capabilities(version):
                return None, serve.not_capable(version, capability)
            why = (await self.suspended(version)).get(capability)
            if why is not None:
                return None, serve.suspended(version, capability, why)
        except ModelUnavailable as exc:
            return None, not_answered(exc)
        return served, None

    # --- plans ------------------------------------------------------------------------

    async def _model_plan(
        self, task: StudentTask, audit: Interaction, progress: Progress
    ) -> tuple[serve.PlanJudgement | None, str | None]:
        """The judged model answer, or None and why the model gave none (not asked)."""
        started = time.perf_counter()
        served, not_asked = await self.serving_for(audit.context_type, task)
        if served is None:
            audit.latency_ms = round((time.perf_counter() - started) * 1000)
            return None, not_asked
        try:
            async with self.gate.turn():
                codebook = await self.codebook(version_of(served))
                await progress("model", 0.3)
                request = serve.model_request(task, codebook, self.client.backend)
                completion = await self.client.complete(
                    request.messages,
                    max_tokens=request.max_tokens,
                    model=served,
                    extra_body=request.extra_body,
                )
        except ModelUnavailable as exc:
            audit.latency_ms = round((time.perf_counter() - started) * 1000)
            return None, not_answered(exc)
        audit.note_completion(completion, completion.text)
        await progress("validating", 0.8)
        return serve.judge_plan(completion.text, codebook, task), None

    async def run_plan(
        self,
        conn: asyncpg.Connection,
        user_id: UUID,
        kind: str,
        request: str | None,
        *,
        request_id: str,
        job_id: UUID | None = None,
        base_plan_id: UUID | None = None,
        progress: Progress = _no_progress,
        finish: Finish = _no_finish,
    ) -> PlanResult:
        """Generate, update or adapt the person's plan; the new version is stored active.

        An update starts from ``base_plan_id`` (one of the person's versions) when given,
        else from the active version. The plan version, the audit row and ``finish`` (a
        job's completion) are one transaction: a worker that dies before it commits leaves
        nothing, and the job's retry stores the only version."""
        await progress("context", 0.1)
        ctx = await load_context(conn, user_id)
        if base_plan_id is not None:
            stored = await load_plan(conn, user_id, base_plan_id)
            ctx = replace(ctx, plan=to_contract(stored), plan_id=stored.id)
        adaptation = None
        if kind != "plan_generate" and ctx.plan is None:
            raise no_active_plan()
        if kind == "plan_adapt":
            adaptation = await adaptation_request(conn, user_id, ctx)
            request = adaptation["request"]
        request = (request or DEFAULT_CREATE_REQUEST).strip()
        task = live_task(
            str(job_id or uuid4()), PROMPT_TYPES[kind], request, ctx.profile, ctx.plan, ctx.sessions
        )
        verdict = triage(request, ctx.profile)
        audit = Interaction(
            user_id=user_id,
            context_type=kind,
            request_id=request_id,
            query_text=request,
            safety_level=str(verdict.level),
            context_id=ctx.plan_id,
            job_id=job_id,
            slices=task.slices,
        )
        if not serve.calls_model(task, verdict):
            audit.outcome = "refused"
            audit.response_text = verdict.message
            audit.latency_ms = 0
            async with conn.transaction():
                refused = PlanResult(
                    outcome="refused",
                    safety_level=str(verdict.level),
                    message=verdict.message,
                    request=request,
                    adaptation=adaptation,
                    interaction_id=await record(conn, audit),
                )
                await progress("refused", 1.0)
                await finish(refused)
            return refused
        judgement, unavailable = await self._model_plan(task, audit, progress)
        served = serve.serve_plan(task, verdict, judgement, unavailable)
        model_version = audit.model_version if served.outcome == "ok" else None
        if served.outcome != "ok":
            audit.outcome = served.outcome
            audit.error = served.fallback_reason
            log.warning("plan fallback", extra={"reason": served.fallback_reason, "kind": kind})
        async with conn.transaction():
            plan_id = await insert_plan_version(
                conn,
                user_id,
                served.plan,
                source=served.source,
                model_version=model_version,
                parent_plan_id=ctx.plan_id,
            )
            stored = PlanResult(
                outcome=audit.outcome,
                safety_level=str(verdict.level),
                message=served.message,
                plan_id=plan_id,
                source=served.source,
                model_version=model_version,
                fallback_reason=reason_code(served.fallback_reason),
                request=request,
                adaptation=adaptation,
                interaction_id=await record(conn, audit),
            )
            await progress("stored", 1.0)
            await finish(stored)
        return stored

    # --- coach ------------------------------------------------------------------------

    async def _coach_task(
        self, pool: asyncpg.Pool, user_id: UUID, question: str, request_id: str
    ) -> tuple[StudentTask, Triage, Interaction]:
        """The student's task (the person's context in it), the triage and the audit row."""
        async with connection(pool) as conn:
            ctx = await load_context(conn, user_id)
        task = live_task(str(uuid4()), "coaching", question, ctx.profile, ctx.plan, ctx.sessions)
        verdict = triage(question, ctx.profile)
        audit = Interaction(
            user_id=user_id,
            context_type="coach",
            request_id=request_id,
            query_text=question,
            safety_level=str(verdict.level),
            slices=task.slices,
        )
        return task, verdict, audit

    @staticmethod
    def answer_of(reply: serve.ServedReply, safety_level: str) -> CoachAnswer:
        return CoachAnswer(
            answer=reply.text,
            outcome=reply.outcome,
            safety_level=safety_level,
            model_version=None,
            source=reply.source,
            key_points=list(reply.key_points),
            needs_medical_clearance=reply.needs_medical_clearance,
            refer_to_emergency=reply.refer_to_emergency,
            fallback_reason=reason_code(reply.fallback_reason),
            citations=list(reply.citations),
        )

    async def _served(
        self,
        pool: asyncpg.Pool,
        audit: Interaction,
        reply: serve.ServedReply,
        model_version: str | None = None,
    ) -> CoachAnswer:
        """Audit what the person receives and return it."""
        if reply.outcome != "ok":
            audit.outcome, audit.error = reply.outcome, reply.fallback_reason
            audit.response_text = reply.text
            if reply.fallback_reason:
                log.warning("coach fallback", extra={"reason": reply.fallback_reason})
        if reply.outcome == "refused":
            audit.latency_ms = 0
        result = self.answer_of(reply, audit.safety_level)
        result.model_version = model_version
        async with connection(pool) as conn:
            result.interaction_id = await record(conn, audit)
        return result

    async def answer(
        self, pool: asyncpg.Pool, user_id: UUID, question: str, *, request_id: str
    ) -> CoachAnswer:
        """One answer; connections of ``pool`` are taken only to read the context and to
        write the audit row, none is held while the model answers."""
        task, verdict, audit = await self._coach_task(pool, user_id, question, request_id)
        if not serve.calls_model(task, verdict):
            return await self._served(pool, audit, serve.policy_reply(verdict))
        model_text, model_version = None, None
        started = time.perf_counter()
        served, unavailable = await self.serving_for("coach", task)
        if served is not None:
            try:
                async with self.gate.slot():
                    codebook = await self.codebook(version_of(served))
                    request = serve.model_request(task, codebook, self.client.backend)
                    completion = await self.client.complete(
                        request.messages, max_tokens=request.max_tokens, model=served
                    )
            except ModelUnavailable as exc:
                unavailable = not_answered(exc)
            else:
                model_text, model_version = completion.text, completion.model_version
                audit.note_completion(
                    completion, serve.compose_reply(verdict, completion.text, task)
                )
        if model_text is None:
            audit.latency_ms = round((time.perf_counter() - started) * 1000)
        reply = serve.serve_reply(task, verdict, model_text, unavailable)
        return await self._served(
            pool, audit, reply, model_version if reply.source == "model" else None
        )

    async def stream(
        self,
        pool: asyncpg.Pool,
        user_id: UUID,
        question: str,
        place: Place,
        *,
        request_id: str,
    ) -> AsyncIterator[tuple[str, dict[str, Any]]]:
        """Events of a streamed answer: ``meta`` first, then ``token`` pieces (or one
        ``answer`` from the policy or the knowledge-based coach), then ``done`` — or
        ``error`` when the model server fails mid-answer. The audit row is written last,
        also when the client goes away (outcome ``error``, "client disconnected").

        ``place`` is the stream's place at the gate, reserved before the stream was
        answered; it is released when the model is done (at once when the model is not
        asked). Connections of ``pool`` are taken only around the queries."""
        try:
            async with aclosing(self._stream(pool, user_id, question, place, request_id)) as events:
                async for event in events:
                    yield event
        finally:
            place.release()

    async def _stream(
        self, pool: asyncpg.Pool, user_id: UUID, question: str, place: Place, request_id: str
    ) -> AsyncIterator[tuple[str, dict[str, Any]]]:
        task, verdict, audit = await self._coach_task(pool, user_id, question, request_id)
        level = str(verdict.level)
        if not serve.calls_model(task, verdict):
            place.release()
            result = await self._served(pool, audit, serve.policy_reply(verdict))
            yield "meta", {"safety_level": level, "model_version": None, "source": "policy"}
            yield "answer", {"text": result.answer, "refer_to_emergency": True}
            yield "done", {"outcome": "refused", "safety_level": level}
            return
        served, not_asked = await self.serving_for("coach", task)
        if served is None:  # the knowledge-based coach answers; no inference slot is taken
            place.release()
            reply = serve.serve_reply(task, verdict, None, not_asked)
            result = await self._served(pool, audit, reply)
            yield "meta", {"safety_level": level, "model_version": None, "source": reply.source}
            yield "answer", {"text": result.answer, "citations": result.citations}
            yield (
                "done",
                {
                    "outcome": reply.outcome,
                    "safety_level": level,
                    "reason": reason_code(reply.fallback_reason),
                },
            )
            return
        streamed = StreamResult()
        lead = serve.reply_lead(verdict, task)  # streamed before the model's words
        pieces: list[str] = []  # the model's words only
        unavailable: str | None = None
        lead_sent = False
        finished = False
        try:
            async with self.gate.turn():
                try:
                    codebook = await self.codebook(version_of(served))
                except ModelUnavailable as exc:
                    unavailable = not_answered(exc)
                if unavailable is None:
                    yield (
                        "meta",
                        {
                            "safety_level": level,
                            "model_version": version_of(served),
                            "source": "model",
                        },
                    )
                    if lead:
                        lead_sent = True
                        yield "token", {"text": lead}
                    request = serve.model_request(task, codebook, self.client.backend)
                    try:
                        async for piece in self.client.stream(
                            request.messages,
                            max_tokens=request.max_tokens,
                            result=streamed,
                            model=served,
                        ):
                            pieces.append(piece)
                            yield "token", {"text": piece}
                    except ModelUnavailable as exc:
                        if not streamed.completion_tokens:
                            unavailable = not_answered(exc)
                        else:
                            audit.outcome, audit.error = "error", f"stream broke: {exc}"
                            audit.note_stream(streamed, lead + "".join(pieces))
                            finished = True
                            yield (
                                "error",
                                {
                                    "detail": "the model server stopped mid-answer; "
                                    "the answer is incomplete, please ask again",
                                    "outcome": "error",
                                },
                            )
                            return
            model_text = None if unavailable else "".join(pieces)
            if model_text is not None:
                audit.note_stream(streamed, serve.compose_reply(verdict, model_text, task))
            reply = serve.serve_reply(task, verdict, model_text, unavailable)
            finished = True
            if reply.outcome == "ok":
                yield (
                    "done",
                    {
                        "outcome": "ok",
                        "safety_level": level,
                        "model_version": streamed.model_version,
                        "first_token_ms": streamed.first_token_ms,
                        "tokens": streamed.completion_tokens,
                        "citations": list(reply.citations),
                    },
                )
                return
            audit.outcome, audit.error = reply.outcome, reply.fallback_reason
            audit.response_text = reply.text
            log.warning("coach fallback", extra={"reason": reply.fallback_reason})
            if not pieces and not lead_sent:
                yield "meta", {"safety_level": level, "model_version": None, "source": "rules"}
                yield "answer", {"text": reply.text, "citations": list(reply.citations)}
            else:  # what was streamed is withdrawn and replaced
                yield (
                    "replace",
                    {
                        "text": reply.text,
                        "reason": reason_code(reply.fallback_reason),
                        "citations": list(reply.citations),
                    },
                )
            yield (
                "done",
                {
                    "outcome": reply.outcome,
                    "safety_level": level,
                    "reason": reason_code(reply.fallback_reason),
                },
            )
        finally:
            place.release()
            if not finished:
                audit.outcome, audit.error = "error", "client disconnected before the answer ended"
                audit.note_stream(streamed, lead + "".join(pieces))
            # Also when the stream was cancelled (client gone): this generator runs in its
            # own asyncio task, so one cancellation does not stop the audit write.
            async with connection(pool) as conn:
                await record(conn, audit)
