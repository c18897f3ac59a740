"""The plan contract (SPEC §3): one pydantic model for every plan, and its validator.

Every plan — from the teacher, the student, the rules engine or a client — is checked in
three layers, and the validator reports every violation with a path and a reason:

1. structure and ranges (the pydantic model: integers only, no weights, 1-30 reps,
   RIR 0-5, rest 0-600 s, 1-10 sets, 1-12 exercises per training day, 1-7 days);
2. plan rules (unique day_order/position/set_number, rest days named REST_n/RECOVERY_n
   with no exercises, timed work as target_reps 1 with its duration in the notes,
   exercise names that resolve to the catalog, no loads written into notes);
3. semantics against the person (training days = requested days per week, only their
   equipment, nothing their conditions or injuries contraindicate, reps that fit the goal).

The JSON Schema of the model (optionally narrowed per person) is what constrained
decoding uses at inference time.
"""

from __future__ import annotations

import difflib
import json
import re
from dataclasses import dataclass
from functools import cache
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from fitsense_core.programming import Athlete, PlannedDay, eligible_exercises, rep_range_for
from fitsense_core.reference import Exercise, exercise_catalog

REST_DAY = re.compile(r"^(REST|RECOVERY)_\d+$")
DAY_NAME = r"^[A-Z][A-Z0-9_]{0,39}$"
DURATION = re.compile(r"\b\d+\s*(?:-\s*\d+\s*)?(?:s|sec|secs|seconds?|min|mins|minutes?)\b", re.I)
LOAD_IN_NOTES = re.compile(r"\b\d+(?:[.,]\d+)?\s*(?:kg|kgs|kilos?|lb|lbs|pounds?)\b", re.I)

# The largest plan the contract takes; a longer list is refused before anything else is
# checked, so the cost of validating a plan is bounded whatever a client sends.
MAX_DAYS = 7
MAX_EXERCISES_PER_DAY = 12
MAX_SETS_PER_EXERCISE = 10

Int = Annotated[int, Field(strict=True)]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class PlanSet(_Strict):
    set_number: Int = Field(ge=1, le=MAX_SETS_PER_EXERCISE)
    target_reps: Int = Field(ge=1, le=30, description="Timed work: 1, duration in the notes.")
    target_rir: Int = Field(ge=0, le=5, description="Reps in reserve; 0 = to failure.")
    rest_seconds: Int = Field(ge=0, le=600)


class PlanExercise(_Strict):
    exercise_name: Annotated[str, StringConstraints(min_length=1, max_length=100)]
    position: Int = Field(ge=1, le=MAX_EXERCISES_PER_DAY)
    notes: Text | None = None
    sets: list[PlanSet] = Field(min_length=1, max_length=MAX_SETS_PER_EXERCISE)


class PlanDay(_Strict):
    name: Annotated[str, StringConstraints(pattern=DAY_NAME)]
    day_order: Int = Field(ge=1, le=MAX_DAYS)
    notes: Text | None = None
    exercises: list[PlanExercise] = Field(max_length=MAX_EXERCISES_PER_DAY)


class Plan(_Strict):
    """A weekly training plan. No weights anywhere: loads follow from reps and RIR."""

    plan_name: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)
    ]
    days: list[PlanDay] = Field(min_length=1, max_length=MAX_DAYS)

    def training_days(self) -> list[PlanDay]:
        return [d for d in self.days if d.exercises]

    def to_json(self) -> str:
        return self.model_dump_json()


@dataclass(frozen=True)
class Violation:
    path: str
    reason: str
    code: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


@dataclass(frozen=True)
class PlanValidation:
    plan: Plan | None
    violations: tuple[Violation, ...]

    @property
    def valid(self) -> bool:
        return not self.violations

    def codes(self) -> set[str]:
        return {v.code for v in self.violations}


def normalize_name(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", " ", name.lower()).strip()


@cache
def _catalog_index() -> dict[str, Exercise]:
    index: dict[str, Exercise] = {}
    for e in exercise_catalog():
        index[normalize_name(e.name)] = e
        index[normalize_name(e.slug)] = e
    return index


def resolve_exercise(name: str) -> Exercise | None:
    """The catalog entry a plan's exercise name refers to (case and punctuation ignored)."""
    return _catalog_index().get(normalize_name(name))


def _path(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "$"


def _as_dict(data: Any) -> tuple[Any, list[Violation]]:
    if isinstance(data, (str, bytes)):
        try:
            return json.loads(data), []
        except json.JSONDecodeError as exc:
            return None, [
                Violation("$", f"not valid JSON: {exc.msg} at position {exc.pos}", "json")
            ]
    if isinstance(data, Plan):
        return data.model_dump(), []
    return data, []


def _structure(data: Any) -> tuple[Plan | None, list[Violation]]:
    try:
        return Plan.model_validate(data), []
    except ValidationError as exc:
        violations = []
        for err in exc.errors(include_url=False):
            kind = (
                "type"
                if err["type"].endswith(("_type", "parsing")) or "strict" in err["type"]
                else "structure"
            )
            if err["type"] in ("greater_than_equal", "less_than_equal", "too_short", "too_long"):
                kind = "range"
            if err["type"] == "extra_forbidden":
                kind = "weights" if "weight" in str(err["loc"][-1]).lower() else "unknown_field"
            violations.append(Violation(_path(err["loc"]), err["msg"], kind))
        return None, violations


def _items(value: Any) -> list[tuple[int, dict]]:
    if not isinstance(value, list):
        return []
    return [(i, v) for i, v in enumerate(value) if isinstance(v, dict)]


def _duplicates(values: list[tuple[int, Any]], path: str, field: str) -> list[Violation]:
    seen: dict[Any, int] = {}
    out = []
    for i, value in values:
        if not isinstance(value, int | str):
            continue  # a wrong type is reported by the structural check
        if value in seen:
            out.append(
                Violation(
                    f"{path}[{i}].{field}",
                    f"duplicate {field} {value!r} (also at index {seen[value]})",
                    "duplicate",
                )
            )
        else:
            seen[value] = i
    return out


def _too_long(value: Any, path: str, limit: int, what: str) -> list[Violation]:
    if isinstance(value, list) and len(value) > limit:
        return [Violation(path, f"at most {limit} {what}; {len(value)} given", "range")]
    return []


def _oversized(data: dict) -> list[Violation]:
    """Lists longer than the contract allows. Counted before any other check, which each
    cost time per item (the catalog look-up suggests close names)."""
    out = _too_long(data.get("days"), "days", MAX_DAYS, "days")
    if out:
        return out
    days = _items(data.get("days"))
    for i, day in days:
        limit = MAX_EXERCISES_PER_DAY
        out += _too_long(day.get("exercises"), f"days[{i}].exercises", limit, "exercises per day")
    if out:
        return out
    for i, day in days:
        for j, ex in _items(day.get("exercises")):
            path = f"days[{i}].exercises[{j}].sets"
            out += _too_long(ex.get("sets"), path, MAX_SETS_PER_EXERCISE, "sets per exercise")
    return out


def _plan_rules(data: dict) -> list[Violation]:
    """Rules the field types cannot express; walks the raw data so they are reported
    alongside structural errors."""
    out: list[Violation] = []
    days = _items(data.get("days"))
    out += _duplicates([(i, d.get("day_order")) for i, d in days], "days", "day_order")
    out += _duplicates([(i, d.get("name")) for i, d in days], "days", "name")
    for i, day in days:
        dpath = f"days[{i}]"
        name = str(day.get("name", ""))
        exercises = _items(day.get("exercises"))
        if REST_DAY.match(name) and day.get("exercises"):
            out.append(
                Violation(
                    f"{dpath}.exercises", f"rest day {name} must have no exercises", "rest_day"
                )
            )
        if (
            not day.get("exercises")
            and isinstance(day.get("exercises"), list)
            and not REST_DAY.match(name)
        ):
            out.append(
                Violation(
                    f"{dpath}.name",
                    f"a day without exercises must be named REST_n or RECOVERY_n, not {name!r}",
                    "rest_day",
                )
            )
        out += _duplicates(
            [(j, e.get("position")) for j, e in exercises], f"{dpath}.exercises", "position"
        )
        for j, ex in exercises:
            epath = f"{dpath}.exercises[{j}]"
            sets = _items(ex.get("sets"))
            out += _duplicates(
                [(k, s.get("set_number")) for k, s in sets], f"{epath}.sets", "set_number"
            )
            notes = ex.get("notes") or ""
            if isinstance(notes, str) and LOAD_IN_NOTES.search(notes):
                out.append(
                    Violation(
                        f"{epath}.notes",
                        "plans carry no weights; loads follow from reps and RIR",
                        "weights",
                    )
                )
            name_value = ex.get("exercise_name")
            if not isinstance(name_value, str) or not name_value.strip():
                continue
            exercise = resolve_exercise(name_value)
            if exercise is None:
                close = difflib.get_close_matches(
                    normalize_name(name_value), list(_catalog_index()), n=1, cutoff=0.75
                )
                hint = f"; did you mean {_catalog_index()[close[0]].name!r}?" if close else ""
                out.append(
                    Violation(
                        f"{epath}.exercise_name",
                        f"{name_value!r} is not in the exercise catalog{hint}",
                        "unknown_exercise",
                    )
                )
                continue
            if exercise.is_timed or exercise.category in ("cardio", "mobility"):
                if any(s.get("target_reps") not in (1, None) for _, s in sets):
                    out.append(
                        Violation(
                            f"{epath}.sets",
                            f"{exercise.name} is timed work: target_reps must be 1",
                            "timed",
                        )
                    )
                if not (isinstance(notes, str) and DURATION.search(notes)):
                    out.append(
                        Violation(
                            f"{epath}.notes",
                            f"{exercise.name} is timed work: the notes must give its duration",
                            "timed",
                        )
                    )
    return out


def _semantics(data: dict, athlete: Athlete) -> list[Violation]:
    """The person's constraints; also walks raw data, so a plan with a type error still
    gets its contraindications reported."""
    out: list[Violation] = []
    days = _items(data.get("days"))
    training = [d for _, d in days if isinstance(d.get("exercises"), list) and d["exercises"]]
    if len(training) != athlete.days_per_week:
        out.append(
            Violation(
                "days",
                f"{len(training)} training days, but the person asked for "
                f"{athlete.days_per_week} per week",
                "days_per_week",
            )
        )
    for i, day in days:
        for j, ex in _items(day.get("exercises")):
            name = ex.get("exercise_name")
            exercise = resolve_exercise(name) if isinstance(name, str) else None
            if exercise is None:
                continue
            path = f"days[{i}].exercises[{j}]"
            missing = sorted(set(exercise.equipment) - athlete.equipment)
            if missing:
                out.append(
                    Violation(
                        f"{path}.exercise_name",
                        f"{exercise.name} needs "
                        f"{', '.join(missing)}, which the person does not have",
                        "equipment",
                    )
                )
            unsafe = sorted(set(exercise.contraindication_tags) & athlete.blocked_tags)
            if unsafe:
                out.append(
                    Violation(
                        f"{path}.exercise_name",
                        f"{exercise.name} is contraindicated ({', '.join(unsafe)}) for this person",
                        "contraindicated",
                    )
                )
            if exercise.is_timed or exercise.category in ("cardio", "mobility"):
                continue
            lo, hi = rep_range_for(athlete.goal, exercise)
            for k, s in _items(ex.get("sets")):
                reps = s.get("target_reps")
                if isinstance(reps, int) and not isinstance(reps, bool) and not lo <= reps <= hi:
                    out.append(
                        Violation(
                            f"{path}.sets[{k}].target_reps",
                            f"{reps} reps does not fit the goal {athlete.goal} ({lo}-{hi})",
                            "rep_range",
                        )
                    )
    return out


def validate_plan(data: Any, athlete: Athlete | None = None) -> PlanValidation:
    """Every violation of the contract (and, with ``athlete``, of the person's constraints)."""
    raw, violations = _as_dict(data)
    if violations:
        return PlanValidation(None, tuple(violations))
    if not isinstance(raw, dict):
        return PlanValidation(None, (Violation("$", "a plan must be a JSON object", "type"),))
    oversized = _oversized(raw)
    if oversized:
        return PlanValidation(None, tuple(oversized))
    plan, structural = _structure(raw)
    violations = structural + _plan_rules(raw)
    if athlete is not None:
        violations += _semantics(raw, athlete)
    return PlanValidation(plan, tuple(violations))


def plan_json_schema(athlete: Athlete | None = None) -> dict[str, Any]:
    """JSON Schema for constrained decoding; with ``athlete`` the exercise names are limited
    to what this person may do and the number of days is fixed to a full week."""
    schema = Plan.model_json_schema()
    if athlete is None:
        return schema
    names = sorted(e.name for e in eligible_exercises(athlete))
    defs = schema["$defs"]
    defs["PlanExercise"]["properties"]["exercise_name"] = {
        "type": "string",
        "enum": names,
        "title": "Exercise Name",
    }
    schema["properties"]["days"]["minItems"] = 7
    schema["properties"]["days"]["maxItems"] = 7
    return schema


def plan_from_week(week: list[PlannedDay], plan_name: str) -> Plan:
    """A rules-engine week (programming.build_week) as a contract plan."""
    return Plan(
        plan_name=plan_name,
        days=[
            PlanDay(
                name=day.name,
                day_order=day.day_order,
                notes=day.notes,
                exercises=[
                    PlanExercise(
                        exercise_name=pe.exercise.name,
                        position=pe.position,
                        notes=pe.notes,
                        sets=[
                            PlanSet(
                                set_number=n,
                                target_reps=pe.scheme.reps,
                                target_rir=pe.scheme.rir,
                                rest_seconds=pe.scheme.rest_seconds,
                            )
                            for n in range(1, pe.scheme.sets + 1)
                        ],
                    )
                    for pe in day.exercises
                ],
            )
            for day in week
        ],
    )
