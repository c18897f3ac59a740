"""The knowledge-based coach as a teacher: no network, same answer every time."""

from __future__ import annotations

from fitsense_core.coach_answers import answer_question
from fitsense_core.knowledge_coach import MODEL_NAME, MODEL_VERSION, create_plan, update_plan
from fitsense_core.prompts import Prompt, context_from_json
from fitsense_core.safety import SafetyLevel, triage
from fitsense_core.teacher.base import Completion, TeacherFailure


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
        conservative = verdict.level == SafetyLevel.NEEDS_CLEARANCE
        if prompt.prompt_type == "plan_update" and plan is not None:
            updated, _summary = update_plan(
                profile,
                plan,
                sessions,
                prompt.request,
                extra_blocked=verdict.blocked_tags,
                conservative=conservative,
            )
            return updated.model_dump_json()
        return create_plan(
            profile, extra_blocked=verdict.blocked_tags, conservative=conservative
        ).model_dump_json()

    async def complete(self, prompt: Prompt) -> Completion:
        return Completion(self.answer_json(prompt))
