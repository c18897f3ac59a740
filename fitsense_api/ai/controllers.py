"""AI endpoints: plan generation, updates and next-week adaptation as jobs (with an
optional synchronous wait), job status, and the coach (one answer, or SSE streaming)."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from typing import Annotated, Any
from uuid import UUID

import asyncpg
import msgspec
from litestar import Controller, Response, get, post
from litestar.background_tasks import BackgroundTask
from litestar.datastructures import ResponseHeader, State
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import JSONBody, PathParameter, QueryParameter
from litestar.response import ServerSentEvent, ServerSentEventMessage
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED, HTTP_202_ACCEPTED

from fitsense_api.ai import jobs
from fitsense_api.ai.context import COACH_NEEDS
from fitsense_api.ai.jobs import JobRunner
from fitsense_api.ai.limits import Place, check_job_queue, reserve_ai_request
from fitsense_api.ai.schemas import (
    CoachIn,
    CoachOut,
    JobOut,
    PlanGenerateIn,
    PlanJobResult,
    PlanUpdateIn,
)
from fitsense_api.ai.service import AiService, no_active_plan
from fitsense_api.db import connection
from fitsense_api.deps import Caller, Connection, User
from fitsense_api.errors import Unprocessable
from fitsense_api.observability import current_request_id
from fitsense_api.openapi import BEARER
from fitsense_api.plans.services import find_plan, load_plan
from fitsense_api.profile.services import require_profile
from fitsense_api.settings import ApiSettings

log = logging.getLogger("fitsense.api.ai")

SSE_MEDIA_TYPE = "text/event-stream"
KEEPALIVE_S = 10.0
MAX_WAIT_S = 120

Wait = Annotated[
    int,
    QueryParameter(
        ge=0,
        le=MAX_WAIT_S,
        description="Seconds to wait for the job to finish before answering (0: answer at "
        "once with 202 and poll GET /jobs/{id}). A job that finishes in time is answered "
        "with its result: 201 with the new plan version, 200 when the safety policy refused.",
    ),
]
# The status depends on how far the job got within `wait`: every answer is a job.
JOB_RESPONSES = {
    HTTP_201_CREATED: ResponseSpec(
        JobOut, description="Finished within `wait`: the job with the new plan version."
    ),
    HTTP_200_OK: ResponseSpec(
        JobOut, description="Finished within `wait` without a plan: the safety policy refused."
    ),
}
JOB_HEADERS = [
    ResponseHeader(name="Location", description="The job: /jobs/{id}.", documentation_only=True),
]


def _request_id() -> str:
    return current_request_id() or "unknown"


async def job_out(conn: asyncpg.Connection, user_id: UUID, row: asyncpg.Record) -> JobOut:
    result = msgspec.convert(row["result"], PlanJobResult) if row["result"] is not None else None
    plan = None
    if row["plan_id"] is not None:
        plan = await find_plan(conn, user_id, row["plan_id"])
    return JobOut(
        id=row["id"],
        kind=row["kind"],
        status=row["status"],
        progress=float(row["progress"]),
        stage=row["stage"],
        created_at=row["created_at"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        error=row["error"],
        result=result,
        plan=plan,
    )


async def _admit_job(
    state: State, conn: asyncpg.Connection, user_id: UUID, kind: str, request: dict[str, Any]
) -> UUID:
    """Check the request, then reserve the person's AI request and a place in the queue and
    store the job, in one transaction: concurrent submissions get exactly the limits."""
    settings: ApiSettings = state.settings
    await require_profile(conn, user_id, COACH_NEEDS)
    needs_active = kind != "plan_generate" and request.get("base_plan_id") is None
    if needs_active and await find_plan(conn, user_id, None) is None:
        raise no_active_plan()
    async with conn.transaction():
        await reserve_ai_request(
            conn, user_id, kind, settings.ai_rate_per_minute, settings.ai_daily_quota
        )
        await check_job_queue(
            conn, user_id, settings.ai_max_queued_jobs, settings.ai_max_queued_jobs_per_user
        )
        return await jobs.create_job(conn, user_id, kind, request, _request_id())


async def _submit(
    state: State, user_id: UUID, kind: str, request: dict[str, Any], wait: int
) -> Response[JobOut]:
    """Store the job and answer with it, after up to ``wait`` seconds; no connection is
    held while waiting (one person's waits must not take everyone's connections)."""
    pool: asyncpg.Pool = state.pool
    runner: JobRunner = state.jobs
    async with connection(pool) as conn:
        job_id = await _admit_job(state, conn, user_id, kind, request)
    runner.notify()
    if wait:
        await runner.wait_for(pool, user_id, job_id, wait)
    async with connection(pool) as conn:
        out = await job_out(conn, user_id, await jobs.get_job(conn, user_id, job_id))
    status = HTTP_202_ACCEPTED
    if out.status == "succeeded":
        status = HTTP_201_CREATED if out.plan is not None else HTTP_200_OK
    return Response(out, status_code=status, headers={"Location": f"/jobs/{job_id}"})


class AiPlansController(Controller):
    path = "/plans"
    tags = ["ai"]
    security = BEARER

    @post(
        "/generate",
        operation_id="generatePlan",
        status_code=HTTP_202_ACCEPTED,
        response_headers=JOB_HEADERS,
        responses=JOB_RESPONSES,
        summary="Generate a weekly plan with the coach (a job)",
        description="Triaged by the safety policy first (an emergency gets the urgent-care "
        "message and no plan). The served student writes the plan under a grammar built "
        "from the caller's profile; the plan is checked against the plan contract and the "
        "caller's days, equipment and contraindications, and replaced by the knowledge-based "
        "coach's when it fails (outcome `fallback`). Stored as the new active version with "
        "its source and model version. 409 before onboarding; 429 beyond the per-person "
        "rate or daily quota; 503 when the queue is full (both with Retry-After).",
    )
    async def generate(
        self,
        state: State,
        caller: Caller,
        wait: Wait = 0,
        data: JSONBody[PlanGenerateIn | None] = None,
    ) -> Response[JobOut]:
        request = {"request": data.request if data else None}
        return await _submit(state, caller.id, "plan_generate", request, wait)

    @post(
        "/{plan_id:uuid}/update",
        operation_id="updatePlan",
        status_code=HTTP_202_ACCEPTED,
        response_headers=JOB_HEADERS,
        responses=JOB_RESPONSES,
        summary="Change a plan version with a free-text request (a job)",
        description="Starts from the given version (the caller's; 404 otherwise), the last "
        "three logged sessions and the request; the result is a new active version whose "
        "parent is that version. Same safety path and limits as /plans/generate.",
    )
    async def update(
        self,
        state: State,
        plan_id: Annotated[UUID, PathParameter(description="The version to start from.")],
        data: JSONBody[PlanUpdateIn],
        caller: Caller,
        wait: Wait = 0,
    ) -> Response[JobOut]:
        async with connection(state.pool) as conn:
            await load_plan(conn, caller.id, plan_id)  # 404 for another user's id
        request = {"request": data.request, "base_plan_id": str(plan_id)}
        return await _submit(state, caller.id, "plan_update", request, wait)

    @post(
        "/adapt-next-week",
        operation_id="adaptNextWeek",
        status_code=HTTP_202_ACCEPTED,
        response_headers=JOB_HEADERS,
        responses=JOB_RESPONSES,
        summary="Adapt the active plan for next week from what was logged (a job)",
        description="Progression from the logged reps and RIR against each set's target, "
        "sessions missed against the planned days, and readiness (sleep against target, "
        "soreness, energy): poor readiness makes a recovery week, many missed sessions hold "
        "the load. The result's `adaptation` shows the numbers and the request they made.",
    )
    async def adapt(self, state: State, caller: Caller, wait: Wait = 0) -> Response[JobOut]:
        return await _submit(state, caller.id, "plan_adapt", {}, wait)


class JobsController(Controller):
    path = "/jobs"
    tags = ["ai"]
    security = BEARER

    @get(
        "/{job_id:uuid}",
        operation_id="getJob",
        summary="A plan job: status, progress, and its result once finished",
    )
    async def get_job(
        self,
        job_id: Annotated[UUID, PathParameter(description="The job's id.")],
        user: User,
        connection: Connection,
    ) -> JobOut:
        return await job_out(connection, user.id, await jobs.get_job(connection, user.id, job_id))


def _question(text: str | None) -> str:
    question = (text or "").strip()
    if not question:
        raise Unprocessable.field("question", "ask a question (1 to 2000 characters)")
    if len(question) > 2000:
        raise Unprocessable.field("question", "at most 2000 characters")
    return question


async def _reserve_coach(state: State, conn: asyncpg.Connection, user_id: UUID, kind: str) -> None:
    """Reserve one of the person's AI requests (429 beyond the rate or quota)."""
    settings: ApiSettings = state.settings
    async with conn.transaction():
        await reserve_ai_request(
            conn, user_id, kind, settings.ai_rate_per_minute, settings.ai_daily_quota
        )


def _sse(event: str, data: dict[str, Any]) -> ServerSentEventMessage:
    return ServerSentEventMessage(event=event, data=json.dumps(data))


async def coach_events(
    service: AiService,
    pool: asyncpg.Pool,
    user_id: UUID,
    question: str,
    place: Place,
    request_id: str,
) -> AsyncIterator[ServerSentEventMessage]:
    """The service's events as SSE, with a keep-alive comment after every quiet
    ``KEEPALIVE_S``. The answer is produced in its own task: when the client goes away
    the task is cancelled, which closes the upstream request to the model server."""
    queue: asyncio.Queue[tuple[str, dict[str, Any]] | None] = asyncio.Queue()

    async def produce() -> None:
        try:
            async for item in service.stream(pool, user_id, question, place, request_id=request_id):
                queue.put_nowait(item)
        except asyncio.CancelledError:
            raise
        except Exception:  # the client gets an error event; the trace goes to the log
            log.exception("coach stream failed")
            queue.put_nowait(("error", {"detail": "internal error", "outcome": "error"}))
        finally:
            queue.put_nowait(None)

    task = asyncio.create_task(produce(), name="fitsense-coach-stream")
    try:
        while True:
            try:
                item = await asyncio.wait_for(queue.get(), KEEPALIVE_S)
            except TimeoutError:
                yield ServerSentEventMessage(comment="keep-alive")
                continue
            if item is None:
                break
            yield _sse(*item)
    finally:
        if not task.done():
            task.cancel()
        # Not awaited here: this generator may itself be cancelled; the task finishes its
        # audit row on its own.


class CoachController(Controller):
    path = "/coach"
    tags = ["ai"]
    security = BEARER

    @post(
        "/",
        operation_id="askCoach",
        status_code=HTTP_200_OK,
        summary="Ask the coach a question; one answer",
        description="Triaged first: an emergency is answered by the safety policy with the "
        "urgent-care message (outcome `refused`, no model call); a clearance case gets a "
        "conservative answer that says to see a doctor first. The served student answers; "
        "an answer that breaks the safety policy, or a model that cannot answer, is "
        "replaced by the knowledge-based coach's (outcome `fallback`, source `rules`), as is "
        "every answer while the serving version has not passed the coach_reply capability "
        "in its promotion gate (the model is not asked). 409 before "
        "onboarding; 429 beyond the rate or quota; 503 when the coach is saturated.",
    )
    async def ask(self, state: State, data: JSONBody[CoachIn], caller: Caller) -> CoachOut:
        question = _question(data.question)
        async with connection(state.pool) as conn:
            await _reserve_coach(state, conn, caller.id, "coach")
        service: AiService = state.ai
        answer = await service.answer(state.pool, caller.id, question, request_id=_request_id())
        return CoachOut(
            answer=answer.answer,
            outcome=answer.outcome,  # type: ignore[arg-type]
            safety_level=answer.safety_level,  # type: ignore[arg-type]
            model_version=answer.model_version,
            key_points=answer.key_points,
            needs_medical_clearance=answer.needs_medical_clearance,
            refer_to_emergency=answer.refer_to_emergency,
            fallback_reason=answer.fallback_reason,
            interaction_id=answer.interaction_id,
            source=answer.source,  # type: ignore[arg-type]
            citations=answer.citations,
        )

    async def _stream(self, state: State, user_id: UUID, text: str) -> ServerSentEvent:
        """Everything that can refuse the stream is decided before it is answered 200
        (afterwards only an event could say so): the profile (409), a place at the gate
        (503) and the person's AI request (429), both reserved, not just checked."""
        question = _question(text)
        service: AiService = state.ai
        async with connection(state.pool) as conn:
            await require_profile(conn, user_id, COACH_NEEDS)
            place = service.gate.reserve()
            try:
                await _reserve_coach(state, conn, user_id, "coach_stream")
            except BaseException:
                place.release()
                raise
        return ServerSentEvent(
            coach_events(service, state.pool, user_id, question, place, _request_id()),
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
            # A stream cut off before its first event never runs its generator's cleanup.
            background=BackgroundTask(place.release),
        )

    @get(
        "/stream",
        operation_id="streamCoachGet",
        media_type=SSE_MEDIA_TYPE,  # how the 200 is documented; ServerSentEvent sets its own
        summary="Stream the coach's answer as server-sent events (question in the query)",
        description="Events: `meta` (safety level, model version, source), `token` (a "
        "piece of the model's answer), `answer` (a whole answer from the safety policy or "
        "the knowledge-based coach), `replace` (the streamed text is withdrawn and "
        "replaced: it broke the safety policy), `error` (the model server failed "
        "mid-answer), and `done` (outcome). A comment line every 10 s keeps the "
        "connection alive. Closing the connection stops the generation.",
    )
    async def stream_get(
        self,
        state: State,
        caller: Caller,
        q: Annotated[
            str, QueryParameter(min_length=1, max_length=2000, description="The question.")
        ],
    ) -> ServerSentEvent:
        return await self._stream(state, caller.id, q)

    @post(
        "/stream",
        operation_id="streamCoachPost",
        status_code=HTTP_200_OK,
        media_type=SSE_MEDIA_TYPE,
        summary="Stream the coach's answer as server-sent events (question in the body)",
        description="The same events as GET /coach/stream.",
    )
    async def stream_post(
        self, state: State, data: JSONBody[CoachIn], caller: Caller
    ) -> ServerSentEvent:
        return await self._stream(state, caller.id, data.question)
