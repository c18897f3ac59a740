"""Wire schemas of plan versions, their history and the diff between two versions.

The plan content itself is the plan contract (``fitsense_core.plan_contract.Plan``):
the request body of ``POST /plans`` is validated by the contract, not by a struct here,
so every violation is reported with its path. ``PlanDocument`` is the same shape as an
answer, so a version's ``plan`` can be sent back as a new manual plan unchanged.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

import msgspec

from fitsense_core.plan_contract import plan_json_schema

Source = Literal["teacher", "student", "rules", "manual"]


class PlanSetOut(msgspec.Struct):
    set_number: Annotated[int, msgspec.Meta(ge=1, le=10, examples=[1])]
    target_reps: Annotated[int, msgspec.Meta(ge=1, le=30, examples=[8])]
    target_rir: Annotated[
        int, msgspec.Meta(ge=0, le=5, examples=[2], description="Reps in reserve; 0 = failure.")
    ]
    rest_seconds: Annotated[int, msgspec.Meta(ge=0, le=600, examples=[120])]


class PlanExerciseOut(msgspec.Struct):
    exercise_name: Annotated[
        str,
        msgspec.Meta(
            description="The catalog name (GET /exercises).", examples=["Barbell Back Squat"]
        ),
    ]
    position: Annotated[int, msgspec.Meta(ge=1, le=12, examples=[1])]
    notes: str | None
    sets: list[PlanSetOut]


class PlanDayOut(msgspec.Struct):
    name: Annotated[str, msgspec.Meta(examples=["LOWER_1", "REST_1"])]
    day_order: Annotated[int, msgspec.Meta(ge=1, le=7, examples=[1])]
    notes: str | None
    exercises: list[PlanExerciseOut]


class PlanDocument(msgspec.Struct):
    """A plan in the plan-contract shape (SPEC §3): no weights, loads follow from reps/RIR."""

    plan_name: Annotated[str, msgspec.Meta(examples=["Muscle gain - 4 days/week"])]
    days: list[PlanDayOut]


class PlanVersionOut(msgspec.Struct):
    """One stored version of the caller's plan, in full."""

    id: UUID
    version: Annotated[int, msgspec.Meta(ge=1, examples=[3])]
    name: Annotated[str, msgspec.Meta(description="The plan's name (= plan.plan_name).")]
    source: Source
    model_version: Annotated[
        str | None, msgspec.Meta(description="The model that wrote it (AI sources only).")
    ]
    parent_plan_id: Annotated[
        UUID | None,
        msgspec.Meta(description="The version this one was derived from or replaced."),
    ]
    is_active: bool
    created_at: datetime
    plan: PlanDocument


class PlanSummaryOut(msgspec.Struct):
    id: UUID
    version: int
    name: str
    source: Source
    model_version: str | None
    parent_plan_id: UUID | None
    is_active: bool
    created_at: datetime
    training_days: Annotated[int, msgspec.Meta(description="Days with exercises.")]
    days: Annotated[int, msgspec.Meta(description="All days, rest days included.")]


class PlanHistoryPage(msgspec.Struct):
    items: list[PlanSummaryOut]
    total: int
    limit: int
    offset: int


# --- the diff between two versions ------------------------------------------------------


class TextChange(msgspec.Struct):
    old: str | None = msgspec.field(name="from")
    new: str | None = msgspec.field(name="to")


class IntChange(msgspec.Struct):
    old: int | None = msgspec.field(name="from")
    new: int | None = msgspec.field(name="to")


class FloatChange(msgspec.Struct):
    old: float | None = msgspec.field(name="from")
    new: float | None = msgspec.field(name="to")


class SetChange(msgspec.Struct):
    """A set present in both versions; only the fields that changed are not null."""

    set_number: int
    target_reps: IntChange | None = None
    target_rir: IntChange | None = None
    rest_seconds: IntChange | None = None


class ExerciseChange(msgspec.Struct):
    """An exercise present in both versions of a day (matched by name)."""

    exercise_name: str
    position: IntChange | None = None
    notes: TextChange | None = None
    sets_added: list[PlanSetOut] = msgspec.field(default_factory=list)
    sets_removed: list[PlanSetOut] = msgspec.field(default_factory=list)
    sets_changed: list[SetChange] = msgspec.field(default_factory=list)


class DayChange(msgspec.Struct):
    """A day present in both versions (matched by day_order)."""

    day_order: int
    name: TextChange | None = None
    notes: TextChange | None = None
    exercises_added: list[PlanExerciseOut] = msgspec.field(default_factory=list)
    exercises_removed: list[PlanExerciseOut] = msgspec.field(default_factory=list)
    exercises_changed: list[ExerciseChange] = msgspec.field(default_factory=list)


class DiffSummary(msgspec.Struct):
    training_days: IntChange
    weekly_hard_sets: Annotated[
        IntChange, msgspec.Meta(description="Sets of strength work per week.")
    ]
    mean_target_rir: Annotated[
        FloatChange, msgspec.Meta(description="Mean target RIR of the strength sets.")
    ]


class PlanContentDiff(msgspec.Struct):
    """What changed from an old plan to a new one; empty lists and nulls mean no change."""

    identical: bool
    plan_name: TextChange | None
    days_added: list[PlanDayOut]
    days_removed: list[PlanDayOut]
    days_changed: list[DayChange]
    summary: DiffSummary


class PlanDiffOut(msgspec.Struct):
    from_plan_id: UUID
    from_version: int
    to_plan_id: UUID
    to_version: int
    identical: bool
    plan_name: TextChange | None
    days_added: list[PlanDayOut]
    days_removed: list[PlanDayOut]
    days_changed: list[DayChange]
    summary: DiffSummary


# --- the request body of POST /plans, documented from the contract itself --------------------


def _inline_refs(node: Any, defs: dict[str, Any]) -> Any:
    """The contract's JSON Schema with its ``#/$defs/...`` references inlined: in an
    OpenAPI document such a reference would resolve against the document root."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            return _inline_refs(defs[ref.removeprefix("#/$defs/")], defs)
        return {k: _inline_refs(v, defs) for k, v in node.items() if k != "$defs"}
    if isinstance(node, list):
        return [_inline_refs(v, defs) for v in node]
    return node


def plan_body_schema() -> dict[str, Any]:
    """``schema_extra`` for the manual-plan body: the properties, required fields and
    closedness of ``Plan.model_json_schema()`` (what the validator enforces)."""
    schema = plan_json_schema()
    inlined = _inline_refs(schema, schema.get("$defs", {}))
    return {
        "properties": inlined["properties"],
        "required": inlined["required"],
        "additional_properties": False,
    }


PLAN_EXAMPLE: dict[str, Any] = {
    "plan_name": "Muscle gain - 3 days/week",
    "days": [
        {
            "name": "FULL_BODY_1",
            "day_order": 1,
            "notes": None,
            "exercises": [
                {
                    "exercise_name": "Dumbbell Bench Press",
                    "position": 1,
                    "notes": None,
                    "sets": [
                        {"set_number": 1, "target_reps": 8, "target_rir": 2, "rest_seconds": 120},
                        {"set_number": 2, "target_reps": 8, "target_rir": 2, "rest_seconds": 120},
                    ],
                }
            ],
        },
        {"name": "REST_1", "day_order": 2, "notes": None, "exercises": []},
    ],
}
