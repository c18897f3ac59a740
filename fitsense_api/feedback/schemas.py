"""Wire schemas of training consent and feedback."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

import msgspec

COMMENT_MAX = 1000

Rating = Annotated[
    Literal["up", "down"], msgspec.Meta(description="Thumbs up or thumbs down.", examples=["down"])
]
TargetType = Annotated[
    Literal["plan", "interaction"],
    msgspec.Meta(
        description="`plan`: a plan version (`id` of GET /plans/{plan_id}, or a job's "
        "`plan.id`); `interaction`: one AI answer (`interaction_id` of POST /coach, or of a "
        "plan job's `result`)."
    ),
]


class TrainingConsentIn(msgspec.Struct, forbid_unknown_fields=True):
    opted_in: Annotated[
        bool,
        msgspec.Meta(
            description="true: the coach's answers to you, and your feedback on them, may be "
            "used anonymized to train the next model. false: they are not (also for every "
            "dataset built from now on)."
        ),
    ]


class TrainingConsentOut(msgspec.Struct):
    opted_in: bool
    changed_at: Annotated[
        datetime | None, msgspec.Meta(description="When it last changed; null: never.")
    ]


class FeedbackIn(msgspec.Struct, forbid_unknown_fields=True):
    target_type: TargetType
    target_id: Annotated[UUID, msgspec.Meta(description="One of the caller's own.")]
    rating: Rating
    comment: (
        Annotated[
            str,
            msgspec.Meta(
                min_length=1,
                max_length=COMMENT_MAX,
                description=f"What was good or wrong, 1-{COMMENT_MAX} characters.",
                examples=["The plan had squats although my knee hurts."],
            ),
        ]
        | None
    ) = None


class FeedbackOut(msgspec.Struct):
    id: UUID
    target_type: TargetType
    target_id: UUID
    rating: Rating
    comment: str | None
    created_at: datetime


class FeedbackPage(msgspec.Struct):
    items: list[FeedbackOut]
    total: int
    limit: int
    offset: int
