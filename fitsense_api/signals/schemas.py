"""Wire schemas of daily signals (calories, sleep, body, readiness) and targets.

A signal's body depends on its kind (a path parameter), so the handlers take the JSON
object as it came and :func:`decode` turns it into that kind's struct, naming the failing
field exactly like Litestar does for typed bodies.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any, Literal, TypeVar
from uuid import UUID

import msgspec

from fitsense_api.errors import Unprocessable

SignalKind = Literal["calories", "sleep", "body", "readiness"]
TargetKind = Literal["calories", "sleep"]
MAX_BULK = 366
MAX_RANGE_DAYS = 366

Day = Annotated[dt.date, msgspec.Meta(examples=[dt.date(2026, 11, 2)])]
Kcal = Annotated[int, msgspec.Meta(ge=0, le=20000, description="Intake.", examples=[2350])]
SleepHours = Annotated[
    float, msgspec.Meta(ge=0, le=24, description="Stored to 2 decimals.", examples=[7.25])
]
WeightKg = Annotated[
    float, msgspec.Meta(ge=20, le=400, description="Stored to 2 decimals.", examples=[78.4])
]
BodyFatPct = Annotated[
    float, msgspec.Meta(ge=2, le=75, description="Stored to 1 decimal.", examples=[18.5])
]
Score = Annotated[int, msgspec.Meta(ge=0, le=10, examples=[6])]
RestingHr = Annotated[int, msgspec.Meta(ge=25, le=220, description="bpm.", examples=[58])]
Steps = Annotated[int, msgspec.Meta(ge=0, le=150000, examples=[9500])]

# --- a day's value, as PUT /signals/{kind}/{day} takes it -----------------------------


class CaloriesValue(msgspec.Struct, forbid_unknown_fields=True):
    kcal: Kcal


class SleepValue(msgspec.Struct, forbid_unknown_fields=True):
    hours: SleepHours


class BodyValue(msgspec.Struct, forbid_unknown_fields=True):
    """At least one of the two."""

    weight_kg: WeightKg | None = None
    body_fat_pct: BodyFatPct | None = None


class ReadinessValue(msgspec.Struct, forbid_unknown_fields=True):
    """At least one of the five."""

    soreness: Score | None = None
    energy: Score | None = None
    mood: Score | None = None
    resting_hr: RestingHr | None = None
    steps: Steps | None = None


# --- a dated entry: bulk import items and every answer ---------------------------------


class CaloriesEntry(msgspec.Struct, forbid_unknown_fields=True, tag_field="kind", tag="calories"):
    date: Day
    kcal: Kcal


class SleepEntry(msgspec.Struct, forbid_unknown_fields=True, tag_field="kind", tag="sleep"):
    date: Day
    hours: SleepHours


class BodyEntry(msgspec.Struct, forbid_unknown_fields=True, tag_field="kind", tag="body"):
    date: Day
    weight_kg: WeightKg | None = None
    body_fat_pct: BodyFatPct | None = None


class ReadinessEntry(msgspec.Struct, forbid_unknown_fields=True, tag_field="kind", tag="readiness"):
    date: Day
    soreness: Score | None = None
    energy: Score | None = None
    mood: Score | None = None
    resting_hr: RestingHr | None = None
    steps: Steps | None = None


SignalValue = CaloriesValue | SleepValue | BodyValue | ReadinessValue
SignalEntry = CaloriesEntry | SleepEntry | BodyEntry | ReadinessEntry
VALUE_TYPES: dict[str, type[Any]] = {
    "calories": CaloriesValue,
    "sleep": SleepValue,
    "body": BodyValue,
    "readiness": ReadinessValue,
}
ENTRY_TYPES: dict[str, type[Any]] = {
    "calories": CaloriesEntry,
    "sleep": SleepEntry,
    "body": BodyEntry,
    "readiness": ReadinessEntry,
}


def _inline_schema(struct_type: type[Any]) -> dict[str, Any]:
    """A flat struct's JSON schema, inlined (for OpenAPI ``oneOf`` by kind)."""
    schema = msgspec.json.schema(struct_type)
    name = schema["$ref"].rsplit("/", 1)[-1]
    return {"title": f"{name}", **schema["$defs"][name]}


# The OpenAPI shape of the kind-dependent bodies: one of these, chosen by the path's kind.
VALUE_SCHEMA = {"oneOf": [_inline_schema(t) for t in VALUE_TYPES.values()]}
ENTRY_SCHEMA = {"oneOf": [_inline_schema(t) for t in ENTRY_TYPES.values()]}


class BulkIn(msgspec.Struct, forbid_unknown_fields=True):
    entries: Annotated[
        list[dict[str, Any]],
        msgspec.Meta(
            min_length=1,
            max_length=MAX_BULK,
            description="Entries of the path's kind (a date plus that kind's values), "
            "each date at most once.",
            extra_json_schema={"extra": {"items": ENTRY_SCHEMA}},
        ),
    ]


class BulkOut(msgspec.Struct):
    imported: int


# --- targets -------------------------------------------------------------------------

TargetKcal = Annotated[int, msgspec.Meta(ge=800, le=8000, examples=[2200])]
TargetHours = Annotated[
    float, msgspec.Meta(ge=3, le=14, description="Rounded to 1 decimal.", examples=[7.5])
]
StartsOn = Annotated[
    dt.date,
    msgspec.Meta(
        description="First day the target applies (default: today, UTC). Must be after "
        "the current target's start.",
        examples=[dt.date(2026, 11, 2)],
    ),
]


class CalorieTargetIn(msgspec.Struct, forbid_unknown_fields=True):
    kcal: TargetKcal
    starts_on: StartsOn | None = None


class SleepTargetIn(msgspec.Struct, forbid_unknown_fields=True):
    hours: TargetHours
    starts_on: StartsOn | None = None


class CalorieTarget(msgspec.Struct):
    id: UUID
    kcal: int
    starts_on: dt.date
    ends_on: Annotated[
        dt.date | None, msgspec.Meta(description="Last day it applied; null while active.")
    ]
    is_active: bool


class SleepTarget(msgspec.Struct):
    id: UUID
    hours: float
    starts_on: dt.date
    ends_on: Annotated[
        dt.date | None, msgspec.Meta(description="Last day it applied; null while active.")
    ]
    is_active: bool


class ActiveTargets(msgspec.Struct):
    calories: CalorieTarget | None
    sleep: SleepTarget | None


_FIELD_AT = re.compile(r"^(?P<message>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.DOTALL)
_NAMED = re.compile(r"(?:unknown|missing required) field `([^`]+)`")
T = TypeVar("T")


def decode(value: Any, type_: type[T], prefix: str = "") -> T:
    """``value`` as ``type_``; a mismatch is a 422 naming the field (``entries[3].kcal``)."""
    try:
        return msgspec.convert(value, type_)
    except msgspec.ValidationError as exc:
        match = _FIELD_AT.match(str(exc))
        message = match.group("message") if match else str(exc)
        path = (match.group("path") or "") if match else ""
        field = prefix + path
        named = _NAMED.search(message)
        if named:
            field = f"{field}.{named.group(1)}" if field else named.group(1)
        field = field.lstrip(".") or "body"
        raise Unprocessable.field(field, message) from None
