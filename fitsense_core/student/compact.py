"""The student's compact plan form, and how the server expands it into the plan contract.

Why: on two CPU cores a 135M model writes ~45-80 tokens/s. A week in the full plan
contract is ~2,000 tokens (~45 s); the same week as arrays of small integers is a few
hundred. The student therefore writes only the decisions — which exercises on which
training day, and which prescription for each — and the server expands them
deterministically: day names from the split, day order from the weekly layout, rest
days, and every set from the prescription.

    [[[12,7],[145,31],[33,4]], [[7,2],[9,19]], ...]      one list per training day,
                                                           [exercise number, scheme number]

A **codebook** (saved with every model version) numbers the exercises (catalog order by
slug) and the prescriptions ("schemes": sets, reps, RIR, rest and, for timed work, the
duration note) seen in the training data plus the rules engine's defaults.

The JSON Schema for constrained decoding is built **per request**: exactly the requested
number of days; exercise numbers limited to what this person's equipment allows and their
conditions, injuries and request permit; scheme numbers limited to the ones that fit the
goal and the kind of exercise (an ``anyOf`` per kind pairs timed exercises with timed
schemes). A student decoding under it cannot break the contract or the person's
constraints; the post-check stays as the safety net.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from functools import cached_property
from typing import Any

from fitsense_core.errors import DataValidationError
from fitsense_core.plan_contract import Plan, PlanDay, PlanExercise, PlanSet, resolve_exercise
from fitsense_core.programming import (
    GOAL_SCHEMES,
    PLYOMETRIC_REP_RANGE,
    TRAINING_WEEKDAYS,
    Athlete,
    eligible_exercises,
    exercises_per_session,
    family,
    rep_range_for,
    set_scheme,
    split_for,
)
from fitsense_core.reference import EXPERIENCE_LEVELS, Exercise, exercise_catalog

KINDS = ("strength", "plyometric", "timed", "cardio", "mobility")
CODEBOOK_VERSION = "c1"
CONSERVATIVE_MIN_RIR = 2


class CompactFormatError(DataValidationError):
    """Text that is not a well-formed compact plan."""


def kind_of(exercise: Exercise) -> str:
    kind = family(exercise)
    if kind != "strength":
        return kind
    if exercise.is_timed:
        return "timed"
    if exercise.category == "plyometric":
        return "plyometric"
    return "strength"


@dataclass(frozen=True, order=True)
class Scheme:
    kind: str
    sets: int
    reps: int
    rir: int
    rest_seconds: int
    note: str | None = None


@dataclass(frozen=True)
class Codebook:
    """Numbers for exercises and prescriptions; numbers start at 1."""

    exercises: tuple[str, ...]
    schemes: tuple[Scheme, ...]
    version: str = CODEBOOK_VERSION

    @cached_property
    def _exercise_numbers(self) -> dict[str, int]:
        return {slug: i + 1 for i, slug in enumerate(self.exercises)}

    @cached_property
    def _scheme_numbers(self) -> dict[Scheme, int]:
        return {s: i + 1 for i, s in enumerate(self.schemes)}

    @cached_property
    def _catalog(self) -> dict[str, Exercise]:
        return {e.slug: e for e in exercise_catalog()}

    def exercise_number(self, exercise: Exercise) -> int:
        try:
            return self._exercise_numbers[exercise.slug]
        except KeyError as exc:
            raise DataValidationError(f"{exercise.slug} is not in the codebook") from exc

    def scheme_number(self, scheme: Scheme) -> int | None:
        return self._scheme_numbers.get(scheme)

    def exercise(self, number: int) -> Exercise:
        if not 1 <= number <= len(self.exercises):
            raise CompactFormatError(f"exercise number {number} is not in the codebook")
        return self._catalog[self.exercises[number - 1]]

    def scheme(self, number: int) -> Scheme:
        if not 1 <= number <= len(self.schemes):
            raise CompactFormatError(f"scheme number {number} is not in the codebook")
        return self.schemes[number - 1]

    def to_json(self) -> str:
        return json.dumps(
            {
                "version": self.version,
                "exercises": list(self.exercises),
                "schemes": [asdict(s) for s in self.schemes],
            },
            sort_keys=True,
        )

    @classmethod
    def from_json(cls, text: str) -> Codebook:
        data = json.loads(text)
        return cls(
            tuple(data["exercises"]), tuple(Scheme(**s) for s in data["schemes"]), data["version"]
        )


def scheme_of(exercise: Exercise, ex: PlanExercise) -> Scheme:
    first = ex.sets[0]
    return Scheme(
        kind_of(exercise),
        len(ex.sets),
        first.target_reps,
        first.target_rir,
        first.rest_seconds,
        ex.notes if kind_of(exercise) != "strength" else None,
    )


def _default_schemes() -> set[Scheme]:
    """Every prescription the rules engine can write, so any goal has schemes."""
    representatives: dict[str, Exercise] = {}
    for e in exercise_catalog():
        representatives.setdefault(kind_of(e), e)
    schemes = set()
    for goal in GOAL_SCHEMES:
        for experience in EXPERIENCE_LEVELS:
            for main in (True, False):
                for blocked in (frozenset(), frozenset({"valsalva"})):
                    for kind, exercise in representatives.items():
                        s, note = set_scheme(goal, experience, exercise, main, blocked)
                        schemes.add(
                            Scheme(
                                kind,
                                s.sets,
                                s.reps,
                                s.rir,
                                s.rest_seconds,
                                note if kind != "strength" else None,
                            )
                        )
                        if kind == "strength":  # conservative variant
                            schemes.add(
                                Scheme(kind, min(s.sets, 3), s.reps, max(s.rir, 3), s.rest_seconds)
                            )
    return schemes


def build_codebook(plans: Iterable[Plan]) -> Codebook:
    """Codebook covering the whole catalog and every prescription in ``plans``."""
    schemes = _default_schemes()
    for plan in plans:
        for day in plan.days:
            for ex in day.exercises:
                exercise = resolve_exercise(ex.exercise_name)
                if exercise is not None:
                    schemes.add(scheme_of(exercise, ex))
    return Codebook(tuple(e.slug for e in exercise_catalog()), tuple(sorted(schemes)))


def nearest_scheme(codebook: Codebook, scheme: Scheme) -> int:
    """The closest codebook prescription of the same kind (for rendering plans written
    elsewhere, e.g. by hand, into a prompt)."""
    candidates = [
        (
            abs(s.sets - scheme.sets)
            + abs(s.reps - scheme.reps)
            + abs(s.rir - scheme.rir)
            + abs(s.rest_seconds - scheme.rest_seconds) / 30,
            n,
        )
        for n, s in enumerate(codebook.schemes, start=1)
        if s.kind == scheme.kind
    ]
    if not candidates:
        raise DataValidationError(f"the codebook has no {scheme.kind} prescription")
    return min(candidates)[1]


def encode_plan(plan: Plan, codebook: Codebook, *, approximate: bool = False) -> str:
    """The compact form of a plan (training days in day order). Prescriptions must be in
    the codebook, unless ``approximate`` maps them to the nearest one."""
    days = []
    for day in sorted(plan.days, key=lambda d: d.day_order):
        if not day.exercises:
            continue
        items = []
        for ex in sorted(day.exercises, key=lambda e: e.position):
            exercise = resolve_exercise(ex.exercise_name)
            if exercise is None:
                raise DataValidationError(f"{ex.exercise_name!r} is not in the catalog")
            scheme = scheme_of(exercise, ex)
            number = codebook.scheme_number(scheme)
            if number is None and approximate:
                number = nearest_scheme(codebook, scheme)
            if number is None:
                raise DataValidationError(
                    f"the prescription of {exercise.name} is not in the codebook"
                )
            items.append([codebook.exercise_number(exercise), number])
        days.append(items)
    return json.dumps(days, separators=(",", ":"))


def decode_plan(text: str, codebook: Codebook, athlete: Athlete) -> Plan:
    """Expand a compact plan into the full contract (no repair: what the student wrote is
    what the contract sees)."""
    try:
        days = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CompactFormatError(f"not JSON: {exc.msg} at position {exc.pos}") from exc
    if not isinstance(days, list) or not days or not all(isinstance(d, list) for d in days):
        raise CompactFormatError("a compact plan is a list of training days")
    if len(days) not in TRAINING_WEEKDAYS:
        raise CompactFormatError(f"{len(days)} training days; a week has 1-7")
    kinds = split_for(len(days), athlete.experience)
    weekdays = TRAINING_WEEKDAYS[len(days)]
    counters: dict[str, int] = {}
    plan_days = []
    training = iter(zip(kinds, days, strict=True))
    for day_order in range(1, 8):
        if day_order not in weekdays:
            counters["REST"] = counters.get("REST", 0) + 1
            plan_days.append(
                PlanDay(name=f"REST_{counters['REST']}", day_order=day_order, exercises=[])
            )
            continue
        kind, items = next(training)
        counters[kind] = counters.get(kind, 0) + 1
        exercises = []
        for position, item in enumerate(items, start=1):
            if not (
                isinstance(item, list)
                and len(item) == 2
                and all(isinstance(v, int) and not isinstance(v, bool) for v in item)
            ):
                raise CompactFormatError(
                    f"day {len(plan_days) + 1} item {position}: expected "
                    "[exercise number, scheme number]"
                )
            exercise, scheme = codebook.exercise(item[0]), codebook.scheme(item[1])
            sets = [
                PlanSet(
                    set_number=n,
                    target_reps=scheme.reps,
                    target_rir=scheme.rir,
                    rest_seconds=scheme.rest_seconds,
                )
                for n in range(1, scheme.sets + 1)
            ]
            exercises.append(
                PlanExercise(
                    exercise_name=exercise.name, position=position, notes=scheme.note, sets=sets
                )
            )
        plan_days.append(
            PlanDay(name=f"{kind}_{counters[kind]}", day_order=day_order, exercises=exercises)
        )
    goal = athlete.goal.replace("_", " ").capitalize()
    return Plan(plan_name=f"{goal} - {len(days)} days/week", days=plan_days)


def allowed_schemes(
    codebook: Codebook, athlete: Athlete, kind: str, conservative: bool = False
) -> list[int]:
    numbers = []
    for number, scheme in enumerate(codebook.schemes, start=1):
        if scheme.kind != kind:
            continue
        if kind == "strength":
            lo, hi = rep_range_for(athlete.goal, _STRENGTH_PROBE)
            if not lo <= scheme.reps <= hi:
                continue
        if (
            kind == "plyometric"
            and not PLYOMETRIC_REP_RANGE[0] <= scheme.reps <= PLYOMETRIC_REP_RANGE[1]
        ):
            continue
        if conservative and scheme.rir < CONSERVATIVE_MIN_RIR:
            continue
        numbers.append(number)
    return numbers


_STRENGTH_PROBE = next(e for e in exercise_catalog() if kind_of(e) == "strength")


def allowed_choices(
    codebook: Codebook, athlete: Athlete, *, conservative: bool = False
) -> dict[str, tuple[list[int], list[int]]]:
    """Per kind of exercise: the exercise numbers this person may get and the scheme
    numbers that fit them (the constraints both the JSON Schema and the grammar encode)."""
    by_kind: dict[str, list[int]] = {}
    for exercise in eligible_exercises(athlete):
        by_kind.setdefault(kind_of(exercise), []).append(codebook.exercise_number(exercise))
    choices = {}
    for kind in KINDS:
        exercises = sorted(by_kind.get(kind, []))
        schemes = allowed_schemes(codebook, athlete, kind, conservative)
        if exercises and schemes:
            choices[kind] = (exercises, schemes)
    if not choices:
        raise DataValidationError("no exercise and prescription fit this person")
    return choices


def max_exercises_per_day(athlete: Athlete) -> int:
    return min(12, exercises_per_session(athlete.session_length_min) + 1)


def compact_schema(
    codebook: Codebook, athlete: Athlete, *, conservative: bool = False
) -> dict[str, Any]:
    """JSON Schema of a compact plan this person may receive (for constrained decoding on
    servers that take JSON Schema, e.g. vLLM)."""
    branches = [
        {
            "type": "array",
            "minItems": 2,
            "maxItems": 2,
            "prefixItems": [{"enum": exercises}, {"enum": schemes}],
        }
        for exercises, schemes in allowed_choices(
            codebook, athlete, conservative=conservative
        ).values()
    ]
    return {
        "type": "array",
        "minItems": athlete.days_per_week,
        "maxItems": athlete.days_per_week,
        "items": {
            "type": "array",
            "minItems": 1,
            "maxItems": max_exercises_per_day(athlete),
            "items": {"anyOf": branches},
        },
    }


def _number_trie(numbers: list[int]) -> str:
    """A GBNF alternation of the numbers, factored by common prefixes: "12"|"13"|"145"
    becomes "1" ("2" | "3" | "4" "5"). The grammar engine then tracks a handful of
    branches per token instead of one per number, which is most of its cost."""
    end = ""
    trie: dict[str, Any] = {}
    for text in sorted(map(str, set(numbers))):
        node = trie
        for ch in text:
            node = node.setdefault(ch, {})
        node[end] = {}

    def render(node: dict[str, Any]) -> str:
        alternatives = []
        for ch in sorted(k for k in node if k != end):
            rest = render(node[ch])
            alternatives.append(f'"{ch}"' + (f" {rest}" if rest else ""))
        if not alternatives:
            return ""
        body = " | ".join(alternatives)
        if end in node:
            return f"({body})?"
        return f"({body})" if len(alternatives) > 1 else body

    return render(trie)


def compact_grammar(codebook: Codebook, athlete: Athlete, *, conservative: bool = False) -> str:
    """The same constraints as :func:`compact_schema` as a llama.cpp GBNF grammar, without
    optional whitespace (every token the model spends on spaces is latency)."""
    choices = allowed_choices(codebook, athlete, conservative=conservative)
    rules = []
    items = []
    for kind, (exercises, schemes) in choices.items():
        rules.append(f"{kind}-ex ::= {_number_trie(exercises)}")
        rules.append(f"{kind}-sc ::= {_number_trie(schemes)}")
        items.append(f'"[" {kind}-ex "," {kind}-sc "]"')
    per_day = max_exercises_per_day(athlete)
    optional = ""
    for _ in range(per_day - 1):
        optional = f'("," item {optional})?' if optional else '("," item)?'
    days = ' "," '.join(["day"] * athlete.days_per_week)
    return (
        "\n".join(
            [
                f'root ::= "[" {days} "]"',
                f'day ::= "[" item {optional} "]"' if per_day > 1 else 'day ::= "[" item "]"',
                f"item ::= {' | '.join(items)}",
                *rules,
            ]
        )
        + "\n"
    )
