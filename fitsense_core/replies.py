"""Structured answers the coach gives besides plans (the plan contract covers plans)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

COACHING_TOPICS = ("progression", "recovery", "sleep", "nutrition", "technique")


class CoachReply(BaseModel):
    """A coaching answer: prose for the person plus the points it rests on."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    answer: str = Field(min_length=20, max_length=2500, description="The answer, in plain prose.")
    key_points: list[str] = Field(
        default_factory=list, max_length=6, description="Up to six short takeaways."
    )
    needs_medical_clearance: bool = Field(
        default=False, description="True when the person should see a doctor before acting on it."
    )
    refer_to_emergency: bool = Field(
        default=False, description="True when the person should seek urgent care now."
    )
    citations: list[str] = Field(
        default_factory=list,
        max_length=6,
        description="Ids of the knowledge-base records the answer rests on.",
    )
