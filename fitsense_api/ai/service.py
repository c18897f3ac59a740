"""The AI side of the API, safety first: triage before any model call, the served student
behind constrained decoding, every plan checked against the contract and the person's
constraints, and the knowledge-based coach whenever the model cannot give a safe answer.

Order of a plan request: load the context → triage the request (an emergency stops here:
no model, the urgent-care message, audit ``refused``) → render the prompt with the
dataset's own code (``render_task``) → the model writes a compact plan under the
per-person grammar → decode and validate it → a plan that fails, or a model that cannot
answer, is replaced by the knowledge-based coach's (audit ``fallback`` with the reason) →
store the plan as a new version with its source and model version.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import Any
from uuid import UUID, uuid4

import asyncpg

from fitsense_api.ai.adapt import adaptation_request
from fitsense_api.ai.audit import Interaction, record
from fitsense_api.ai.context import CoachContext, load_context
from fitsense_api.ai.limits import InferenceGate
from fitsense_api.errors import Conflict
from fitsense_api.plans.services import insert_plan_version, load_plan, to_contract
from fitsense_core import knowledge_coach
from fitsense_core.artifacts import ArtifactStore
from fitsense_core.coach_answers import answer_question
from fitsense_core.plan_contract import Plan, validate_plan
from fitsense_core.safety import CLEARANCE_NOTE, SafetyLevel, Triage, check_response, triage
from fitsense_core.student.compact import (
    CONSERVATIVE_MIN_RIR,
    Codebook,
    CompactFormatError,
    decode_plan,
)
from fitsense_core.student.data import StudentTask, live_task, render_task
from fitsense_core.student.evaluation import json_schema_constraint, llama_cpp_constraint
from fitsense_core.inference.client import ModelClient, ModelUnavailable, StreamResult
from fitsense_core.inference.endpoint import version_of

log = logging.getLogger("fitsense.api.ai")

PROMPT_TYPES = {
    "plan_generate": "plan_creation",
    "plan_update": "plan_update",
    "plan_adapt": "plan_update",
}
DEFAULT_CREATE_REQUEST = "Make me a balanced weekly workout plan."
MAX_PLAN_TOKENS = 360
MAX_REPLY_TOKENS = 160

Progress = Callable[[str, float], Awaitable[None]]


async def _no_progress(_stage: str, _fraction: float) -> None:
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
    key_points: list[str] = field(default_factory=list)
    needs_medical_clearance: bool = False
    refer_to_emergency: bool = False
    fallback_reason: str | None = None
    interaction_id: UUID | None = None


def no_active_plan() -> Conflict:
    return Conflict(
        "there is no active plan to change yet: POST /plans/generate first",
        [{"field": "plan", "message": "no active plan"}],
    )


def plan_problems(plan: Plan, task: StudentTask) -> list[str]:
    """Why a plan may not be shown to this person (empty: it may)."""
    report = validate_plan(plan, task.athlete)
    problems = [str(v) for v in report.violations]
    if task.conservative:
        hard = [
            f"{d.name}/{e.exercise_name}: RIR {s.target_rir} below {CONSERVATIVE_MIN_RIR}"
            for d in plan.days
            for e in d.exercises
            for s in e.sets
            if s.target_rir < CONSERVATIVE_MIN_RIR
        ]
        problems += hard[:3]
    return problems


def with_clearance(verdict: Triage, text: str) -> str:
    if verdict.level == SafetyLevel.NEEDS_CLEARANCE and CLEARANCE_NOTE not in text:
        return f"{CLEARANCE_NOTE} {text}".strip()
    return text


class AiService:
    """Per worker process: the model client, the inference gate, codebooks by version."""

    def __init__(self, client: ModelClient, gate: InferenceGate) -> None:
        self.client = client
        self.gate = gate
        self._codebooks: dict[str, Codebook] = {}

    async def aclose(self) -> None:
        await self.client.aclose()

    def constraint(self, codebook: Codebook, task: StudentTask) -> dict[str, Any]:
        if self.client.backend == "llama-cpp":
            return llama_cpp_constraint(codebook, task)
        return json_schema_constraint(codebook, task)

    async def codebook(self, conn: asyncpg.Connection, version: str) -> Codebook:
        """The compact-plan codebook the served version was trained with (registry)."""
        if version in self._codebooks:
            return self._codebooks[version]
        uri = await conn.fetchval(
            "SELECT codebook_uri FROM model_versions WHERE version = $1", version
        )
        if uri is None:
            raise ModelUnavailable(f"the served model {version!r} is not in the model registry")
        data = await asyncio.to_thread(ArtifactStore(uri).read_bytes)
        codebook = Codebook.from_json(data.decode())
        self._codebooks[version] = codebook
        return codebook

    # --- plans ------------------------------------------------------------------------

    async def _model_plan(
        self, conn: asyncpg.Connection, task: StudentTask, audit: Interaction, progress: Progress
    ) -> tuple[Plan | None, str | None]:
        """The student's plan if it is valid for the person, else None and the reason."""
        started = time.perf_counter()
        try:
            async with self.gate.turn():
                served = await self.client.served_model()
                codebook = await self.codebook(conn, version_of(served))
                await progress("model", 0.3)
                completion = await self.client.complete(
                    render_task(task, codebook),
                    max_tokens=MAX_PLAN_TOKENS,
                    model=served,
                    extra_body=self.constraint(codebook, task),
                )
        except ModelUnavailable as exc:
            audit.latency_ms = round((time.perf_counter() - started) * 1000)
            return None, f"model unavailable: {exc}"
        audit.note_completion(completion, completion.text)
        await progress("validating", 0.8)
        try:
            plan = decode_plan(completion.text, codebook, task.athlete)
        except (CompactFormatError, ValueError) as exc:
            return None, f"model answer is not a valid plan: {str(exc)[:300]}"
        problems = plan_problems(plan, task)
        if problems:
            return None, "model plan violates the person's constraints: " + "; ".join(problems[:3])
        return plan, None

    def _rules_plan(self, kind: str, ctx: CoachContext, request: str, verdict: Triage) -> Plan:
        conservative = verdict.level == SafetyLevel.NEEDS_CLEARANCE
        if kind == "plan_generate" or ctx.plan is None:
            return knowledge_coach.create_plan(
                ctx.profile, extra_blocked=verdict.blocked_tags, conservative=conservative
            )
        plan, _summary = knowledge_coach.update_plan(
            ctx.profile,
            ctx.plan,
            ctx.sessions,
            request,
            extra_blocked=verdict.blocked_tags,
            conservative=conservative,
        )
        return plan

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
    ) -> PlanResult:
        """Generate, update or adapt the person's plan; the new version is stored active.

        An update starts from ``base_plan_id`` (one of the person's versions) when given,
        else from the active version."""
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
        if not verdict.allows_plan:
            audit.outcome = "refused"
            audit.response_text = verdict.message
            audit.latency_ms = 0
            interaction_id = await record(conn, audit)
            await progress("refused", 1.0)
            return PlanResult(
                outcome="refused",
                safety_level=str(verdict.level),
                message=verdict.message,
                request=request,
                adaptation=adaptation,
                interaction_id=interaction_id,
            )
        plan, reason = await self._model_plan(conn, task, audit, progress)
        source, model_version = "student", audit.model_version
        if plan is None:
            plan = self._rules_plan(kind, ctx, request, verdict)
            problems = plan_problems(plan, task)
            if problems:  # the safety net of the safety net: never store a violating plan
                raise RuntimeError(f"knowledge-based plan violates the contract: {problems[:3]}")
            source, model_version = "rules", None
            audit.outcome = "fallback"
            audit.error = reason
            log.warning("plan fallback", extra={"reason": reason, "kind": kind})
        plan_id = await insert_plan_version(
            conn,
            user_id,
            plan,
            source=source,
            model_version=model_version,
            parent_plan_id=ctx.plan_id,
        )
        interaction_id = await record(conn, audit)
        await progress("stored", 1.0)
        message = CLEARANCE_NOTE if verdict.level == SafetyLevel.NEEDS_CLEARANCE else None
        return PlanResult(
            outcome=audit.outcome,
            safety_level=str(verdict.level),
            message=message,
            plan_id=plan_id,
            source=source,
            model_version=model_version,
            fallback_reason=reason,
            request=request,
            adaptation=adaptation,
            interaction_id=interaction_id,
        )

    # --- coach ------------------------------------------------------------------------

    async def _coach_task(
        self, conn: asyncpg.Connection, user_id: UUID, question: str, request_id: str
    ) -> tuple[CoachContext, StudentTask, Triage, Interaction]:
        """The person's context, the student's task, the triage and the audit row to fill."""
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
        return ctx, task, verdict, audit

    @staticmethod
    def reply_problem(verdict: Triage, model_text: str, shown_text: str) -> str | None:
        """Why a model answer may not be shown (None: it may)."""
        if not model_text.strip():
            return "the model answered nothing"
        problems = check_response(verdict, shown_text, contains_plan=False)
        if problems:
            return "model answer broke the safety policy: " + "; ".join(problems[:3])
        return None

    def knowledge_answer(self, ctx: CoachContext, question: str, verdict: Triage) -> CoachAnswer:
        reply = answer_question(question, ctx.profile, verdict)
        return CoachAnswer(
            answer=reply.answer,
            outcome="fallback",
            safety_level=str(verdict.level),
            model_version=None,
            key_points=list(reply.key_points),
            needs_medical_clearance=reply.needs_medical_clearance,
        )

    async def refuse(
        self, conn: asyncpg.Connection, audit: Interaction, verdict: Triage
    ) -> CoachAnswer:
        """The policy's own answer to an emergency (no model call), audited ``refused``."""
        result = CoachAnswer(
            answer=verdict.message or "",
            outcome="refused",
            safety_level=str(verdict.level),
            model_version=None,
            refer_to_emergency=True,
        )
        audit.outcome, audit.response_text, audit.latency_ms = "refused", result.answer, 0
        result.interaction_id = await record(conn, audit)
        return result

    async def answer(
        self, conn: asyncpg.Connection, user_id: UUID, question: str, *, request_id: str
    ) -> CoachAnswer:
        ctx, task, verdict, audit = await self._coach_task(conn, user_id, question, request_id)
        if not verdict.allows_model:
            return await self.refuse(conn, audit, verdict)
        reason = None
        started = time.perf_counter()
        try:
            async with self.gate.slot():
                served = await self.client.served_model()
                completion = await self.client.complete(
                    render_task(task, await self.codebook(conn, version_of(served))),
                    max_tokens=MAX_REPLY_TOKENS,
                    model=served,
                )
        except ModelUnavailable as exc:
            audit.latency_ms = round((time.perf_counter() - started) * 1000)
            reason = f"model unavailable: {exc}"
            completion = None
        if completion is not None:
            text = with_clearance(verdict, completion.text.strip())
            audit.note_completion(completion, text)
            reason = self.reply_problem(verdict, completion.text, text)
            if reason is None:
                interaction_id = await record(conn, audit)
                return CoachAnswer(
                    answer=text,
                    outcome="ok",
                    safety_level=str(verdict.level),
                    model_version=completion.model_version,
                    needs_medical_clearance=verdict.level == SafetyLevel.NEEDS_CLEARANCE,
                    interaction_id=interaction_id,
                )
        result = self.knowledge_answer(ctx, question, verdict)
        result.fallback_reason = reason
        audit.outcome, audit.error = "fallback", reason
        audit.response_text = result.answer
        result.interaction_id = await record(conn, audit)
        return result

    async def stream(
        self,
        conn: asyncpg.Connection,
        user_id: UUID,
        question: str,
        *,
        request_id: str,
    ) -> AsyncIterator[tuple[str, dict[str, Any]]]:
        """Events of a streamed answer: ``meta`` first, then ``token`` pieces (or one
        ``answer`` from the policy or the knowledge-based coach), then ``done`` — or
        ``error`` when the model server fails mid-answer. The audit row is written last,
        also when the client goes away (outcome ``error``, "client disconnected")."""
        ctx, task, verdict, audit = await self._coach_task(conn, user_id, question, request_id)
        level = str(verdict.level)
        if not verdict.allows_model:
            result = await self.refuse(conn, audit, verdict)
            yield "meta", {"safety_level": level, "model_version": None, "source": "policy"}
            yield "answer", {"text": result.answer, "refer_to_emergency": True}
            yield "done", {"outcome": "refused", "safety_level": level}
            return
        streamed = StreamResult()
        # The clearance note leads a clearance answer; the rest is the model's.
        lead = CLEARANCE_NOTE + " " if verdict.level == SafetyLevel.NEEDS_CLEARANCE else ""
        pieces: list[str] = []
        reason: str | None = None
        self.gate.admit()
        finished = False
        try:
            async with self.gate.turn():
                try:
                    served = await self.client.served_model()
                    codebook = await self.codebook(conn, version_of(served))
                except ModelUnavailable as exc:
                    reason = f"model unavailable: {exc}"
                if reason is None:
                    yield (
                        "meta",
                        {
                            "safety_level": level,
                            "model_version": version_of(served),
                            "source": "model",
                        },
                    )
                    if lead:
                        pieces.append(lead)
                        yield "token", {"text": lead}
                    try:
                        async for piece in self.client.stream(
                            render_task(task, codebook),
                            max_tokens=MAX_REPLY_TOKENS,
                            result=streamed,
                            model=served,
                        ):
                            pieces.append(piece)
                            yield "token", {"text": piece}
                    except ModelUnavailable as exc:
                        if not streamed.completion_tokens:
                            reason = f"model unavailable: {exc}"
                        else:
                            audit.outcome, audit.error = "error", f"stream broke: {exc}"
                            audit.note_stream(streamed, "".join(pieces))
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
            text = "".join(pieces).strip()
            if reason is None:
                audit.note_stream(streamed, text)
                reason = self.reply_problem(verdict, "".join(pieces).removeprefix(lead), text)
                if reason is None:
                    finished = True
                    yield (
                        "done",
                        {
                            "outcome": "ok",
                            "safety_level": level,
                            "model_version": streamed.model_version,
                            "first_token_ms": streamed.first_token_ms,
                            "tokens": streamed.completion_tokens,
                        },
                    )
                    return
            result = self.knowledge_answer(ctx, question, verdict)
            audit.outcome, audit.error, audit.response_text = "fallback", reason, result.answer
            finished = True
            if not pieces:
                yield "meta", {"safety_level": level, "model_version": None, "source": "rules"}
                yield "answer", {"text": result.answer}
            else:  # what was streamed is withdrawn and replaced
                yield "replace", {"text": result.answer, "reason": reason}
            yield "done", {"outcome": "fallback", "safety_level": level, "reason": reason}
        finally:
            self.gate.release()
            if not finished:
                audit.outcome, audit.error = "error", "client disconnected before the answer ended"
                audit.note_stream(streamed, "".join(pieces))
            # Also when the stream was cancelled (client gone): this generator runs in its
            # own asyncio task, so one cancellation does not stop the audit write.
            await record(conn, audit)
