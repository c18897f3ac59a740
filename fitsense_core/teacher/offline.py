"""The knowledge-based coach as a teacher: no network, same answer every time."""

from __future__ import annotations

from fitsense_core.coach.answers import answer_question
from fitsense_core.coach.plans import MODEL_NAME, MODEL_VERSION
from fitsense_core.inference.serve import knowledge_plan
from fitsense_core.prompts import Prompt, context_from_json
from fitsense_core.safety import triage
from fitsense_core.teacher.base import Completion, TeacherAnswer, TeacherFailure


class OfflineTeacher:
    provider = "offline"
    model = f"{MODEL_NAME}-{MODEL_VERSION}"

    def answer_json(self, prompt: Prompt) -> str:
        profile, plan, sessions = context_from_json(prompt.context_json)
        verdict = triage(prompt.request, profile)
        if prompt.output_type == "reply":
            topic = prompt.topic if prompt.prompt_type == "coaching" else None
            return answer_question(prompt.request, profile, verdict, topic).model_dump_json()
        if not verdict.allows_plan:
            raise TeacherFailure(
                "the safety policy allows no plan for this request", retryable=False
            )
        return knowledge_plan(
            prompt.prompt_type, prompt.request, profile, plan, sessions, verdict
        ).model_dump_json()

    async def complete(self, prompt: Prompt) -> Completion:
        return Completion(self.answer_json(prompt))


def offline_answer(prompt: Prompt, teacher: OfflineTeacher | None = None) -> TeacherAnswer:
    """The offline coach's answer to ``prompt`` as a teacher-output row, without the
    cache and shards of a pipeline run (golden sets, tests, measurements)."""
    teacher = teacher or OfflineTeacher()
    try:
        output, status, error = teacher.answer_json(prompt), "ok", None
    except TeacherFailure as exc:
        output, status, error = None, "failed", exc.reason
    return TeacherAnswer(
        prompt_id=prompt.prompt_id,
        prompt_hash=prompt.prompt_hash,
        provider=teacher.provider,
        model=teacher.model,
        status=status,
        source="teacher",
        output_type=prompt.output_type,
        output_json=output,
        error=error,
        attempts=1,
        latency_ms=0,
        prompt_tokens=0,
        completion_tokens=0,
    )
