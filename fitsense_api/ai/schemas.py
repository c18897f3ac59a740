"""Wire schemas of the AI endpoints: plan jobs and coach answers."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

import msgspec

from fitsense_api.plans.schemas import PlanVersionOut

RequestText = Annotated[
    str,
    msgspec.Meta(
        min_length=1,
        max_length=2000,
        description="What the person asks for, in their own words.",
        examples=["The last sessions felt too easy, I could have done a lot more."],
    ),
]
Outcome = Literal["ok", "fallback", "refused", "error"]
InteractionId = Annotated[
    UUID | None,
    msgspec.Meta(
        description="The audit row of this answer: rate it with POST /feedback "
        "(target_type `interaction`)."
    ),
]
SafetyLevelName = Literal["emergency", "needs_clearance", "injury_aware", "ok"]


# A short, stable code (fitsense_api.ai.reasons); the full reason stays in the audit row.
FallbackReason = Annotated[
    str | None,
    msgspec.Meta(
        description="Why the model's answer was not served, as a code: model_unavailable, "
        "request_too_long (not sent: it may not fit the model's context), request_refused "
        "(the model server refused it as invalid), capability_not_passed, capability_suspended "
        "(monitoring found its live quality below the gate), invalid_plan, "
        "violating_plan, poor_plan, unsafe_reply, empty_reply, not_prose, alarming_reply, "
        "off_topic, ungrounded_reply, no_model_answer or other.",
        examples=["model_unavailable"],
    ),
]


class PlanGenerateIn(msgspec.Struct, forbid_unknown_fields=True):
    request: RequestText | None = None


class PlanUpdateIn(msgspec.Struct, forbid_unknown_fields=True):
    request: RequestText


class CoachIn(msgspec.Struct, forbid_unknown_fields=True):
    question: Annotated[
        str,
        msgspec.Meta(
            min_length=1,
            max_length=2000,
            examples=["How should I progress my squat when the sets feel easy?"],
        ),
    ]


class PlanJobResult(msgspec.Struct):
    """What a finished plan job answered."""

    outcome: Annotated[
        Outcome,
        msgspec.Meta(
            description="ok: the model's plan passed every check; fallback: the knowledge-"
            "based coach wrote it (model unavailable, the serving version did not pass this "
            "capability in its promotion gate, or its plan failed a check: see "
            "fallback_reason); refused: the safety policy stopped the request (message)."
        ),
    ]
    safety_level: SafetyLevelName
    message: str | None
    plan_id: UUID | None
    source: Annotated[
        Literal["student", "rules"] | None,
        msgspec.Meta(description="student: the served model; rules: the knowledge-based coach."),
    ]
    model_version: str | None
    fallback_reason: FallbackReason
    request: str
    adaptation: dict[str, Any] | None = None
    interaction_id: InteractionId = None


class JobOut(msgspec.Struct):
    id: UUID
    kind: Literal["plan_generate", "plan_update", "plan_adapt"]
    status: Literal["queued", "running", "succeeded", "failed"]
    progress: Annotated[float, msgspec.Meta(ge=0, le=1)]
    stage: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    error: str | None
    result: PlanJobResult | None
    plan: PlanVersionOut | None = None


class CoachOut(msgspec.Struct):
    answer: str
    outcome: Outcome
    safety_level: SafetyLevelName
    model_version: str | None
    key_points: list[str]
    needs_medical_clearance: bool
    refer_to_emergency: bool
    fallback_reason: FallbackReason
    interaction_id: InteractionId = None
    source: Annotated[
        Literal["model", "rules", "policy"],
        msgspec.Meta(
            description="model: the served student; rules: the knowledge-based coach (the "
            "model could not answer, its answer failed a check, or the serving version did "
            "not pass the coach_reply capability: see fallback_reason); policy: the safety "
            "policy's own answer to an emergency."
        ),
    ] = "model"
    citations: Annotated[
        list[str],
        msgspec.Meta(
            description="Ids of the knowledge-base records the answer rests on (the "
            "records behind the knowledge-based coach's answer, or those the model's answer "
            "was judged against); empty for the policy's emergency message."
        ),
    ] = msgspec.field(default_factory=list)
