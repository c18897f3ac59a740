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

The constraint for constrained decoding is built **per request** from the same
programming rules the knowledge-based coach writes with (:func:`day_rules` over
:func:`~fitsense_core.programming.week_slots`): exactly the requested number of days; for a
new plan, each day's items fill the places of its session template in order (a PULL day
opens with a vertical pull, then a horizontal pull, ...), each place offering only the
exercises this person's equipment, conditions, injuries and experience allow, no exercise
offered by two places of a day or (strength work) on more than two days; scheme numbers
limited to those that fit the goal and the kind of exercise. A student decoding under it
chooses *which* eligible exercise fills each place and which scheme, and cannot write a
Hammer Curl day, a repeated exercise, or break the person's constraints. Updates keep
the current plan's structure, so their days allow any exercise that fits the day's label.
The same rules give the llama.cpp GBNF grammar, the JSON Schema, the random-valid
baseline (:func:`random_valid_plan`) and their Python reading (:func:`constraint_problem`).
The post-check stays as the safety net.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterable
from dataclasses import asdict, dataclass, replace
from functools import cached_property
from typing import Any

from fitsense_core.errors import DataValidationError
from fitsense_core.plan_contract import Plan, PlanDay, PlanExercise, PlanSet, resolve_exercise
from fitsense_core.plan_quality import rir_range
from fitsense_core.programming import (
    GOAL_SCHEMES,
    PLYOMETRIC_REP_RANGE,
    TRAINING_WEEKDAYS,
    VALSALVA_MIN_REPS,
    VALSALVA_MIN_RIR,
    Athlete,
    athlete_split,
    eligible_exercises,
    exercises_per_session,
    family,
    kind_exercises,
    rep_range_for,
    set_scheme,
    week_slots,
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
    kinds = athlete_split(replace(athlete, days_per_week=len(days)))
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
        if (
            "valsalva" in athlete.blocked_tags
            and kind in ("strength", "plyometric")
            and (
                scheme.rir < VALSALVA_MIN_RIR
                or (kind == "strength" and scheme.reps < VALSALVA_MIN_REPS)
            )
        ):
            continue  # no maximal straining: the same rule set_scheme writes with
        numbers.append(number)
    return numbers


_STRENGTH_PROBE = next(e for e in exercise_catalog() if kind_of(e) == "strength")


def max_exercises_per_day(athlete: Athlete) -> int:
    return min(12, exercises_per_session(athlete.session_length_min) + 1)


@dataclass(frozen=True)
class Place:
    """What one item of a day may be: per kind of exercise, its exercise numbers and the
    scheme numbers that fit them."""

    options: tuple[tuple[str, tuple[int, ...], tuple[int, ...]], ...]

    def allows(self, item: list[int]) -> bool:
        return any(item[0] in ex and item[1] in sc for _kind, ex, sc in self.options)


@dataclass(frozen=True)
class DayRule:
    """The items a training day may hold. Ordered (plan creation): the first ``required``
    places, then optionally a prefix of the rest, then optionally the ``finisher``.
    Unordered (``repeat`` > 0, plan updates): 1..``repeat`` items, each from ``places[0]``
    (every exercise that fits the day's label)."""

    places: tuple[Place, ...]
    required: int
    finisher: Place | None = None
    repeat: int = 0

    def lengths(self) -> list[tuple[int, bool]]:
        """Every (places filled, finisher) combination the rule allows."""
        if self.repeat:
            return [(n, False) for n in range(1, self.repeat + 1)]
        ends = (False, True) if self.finisher is not None else (False,)
        return [(n, f) for n in range(self.required, len(self.places) + 1) for f in ends if n + f]

    def sequence(self, filled: int, finisher: bool) -> list[Place]:
        if self.repeat:
            return [self.places[0]] * filled
        return [*self.places[:filled], *([self.finisher] if finisher and self.finisher else [])]


def _place(
    codebook: Codebook,
    exercises: Iterable[Exercise],
    schemes: dict[str, list[int]],
    athlete: Athlete,
    conservative: bool,
) -> Place | None:
    """One place's options, grouped by kind and by the reps in reserve a coach allows on
    each exercise (:func:`~fitsense_core.plan_quality.rir_range`): a loaded squat never
    gets a to-failure scheme, whatever the model prefers."""
    groups: dict[tuple[str, tuple[int, int] | None], list[int]] = {}
    for e in exercises:
        kind = kind_of(e)
        bounds = (
            rir_range(e, athlete, conservative=conservative)
            if kind in ("strength", "plyometric")
            else None
        )
        groups.setdefault((kind, bounds), []).append(codebook.exercise_number(e))
    options = []
    for kind in KINDS:
        for (k, bounds), numbers in sorted(
            groups.items(), key=lambda item: (item[0][0], item[0][1] or (-1, -1))
        ):
            if k != kind:
                continue
            fitting = [
                n
                for n in schemes.get(kind, [])
                if bounds is None or bounds[0] <= codebook.scheme(n).rir <= bounds[1]
            ]
            if fitting:
                options.append((kind, tuple(sorted(numbers)), tuple(fitting)))
    return Place(tuple(options)) if options else None


def day_rules(
    codebook: Codebook, athlete: Athlete, *, conservative: bool = False, update: bool = False
) -> tuple[DayRule, ...]:
    """The per-request constraint, one rule per training day, from the same programming
    rules the knowledge-based coach writes with (:func:`~fitsense_core.programming.week_slots`).

    A new plan fills the day's places in order: each place only takes the exercises the
    template puts there (a PULL day's first place is a vertical pull), places are
    exclusive within a day and a strength exercise is an option on at most two days, so
    no plan the constraint allows repeats an exercise in a day or on a third day. An
    update keeps the current plan's structure, which need not follow the places (a
    person's own plan, a substitution for an injury): each item of a day is any exercise
    that fits the day's label."""
    schemes = {kind: allowed_schemes(codebook, athlete, kind, conservative) for kind in KINDS}
    fallback = _place(codebook, eligible_exercises(athlete), schemes, athlete, conservative)
    if fallback is None:
        raise DataValidationError("no exercise and prescription fit this person")
    rules = []
    for day in week_slots(athlete):
        if update:
            place = _place(
                codebook, kind_exercises(athlete, day.kind), schemes, athlete, conservative
            )
            rules.append(DayRule((place or fallback,), 1, repeat=max_exercises_per_day(athlete)))
            continue
        places = [
            p
            for slot in day.strength_slots
            if (p := _place(codebook, slot.exercises, schemes, athlete, conservative)) is not None
        ]
        finisher = day.conditioning and _place(
            codebook, day.conditioning.exercises, schemes, athlete, conservative
        )
        if not places:  # nothing in the template fits (a tiny pool): any eligible exercise
            places = [fallback]
        rules.append(DayRule(tuple(places), min(day.required, len(places)), finisher or None))
    return tuple(rules)


def allowed_choices(
    codebook: Codebook, athlete: Athlete, *, conservative: bool = False
) -> dict[str, tuple[list[int], list[int]]]:
    """Per kind of exercise: every exercise number this person may get and the scheme
    numbers that fit them (the union over all places of all days)."""
    choices: dict[str, tuple[set[int], set[int]]] = {}
    for rule in day_rules(codebook, athlete, conservative=conservative, update=True):
        for place in rule.places:
            for kind, exercises, schemes in place.options:
                ex, sc = choices.setdefault(kind, (set(), set()))
                ex.update(exercises)
                sc.update(schemes)
    return {k: (sorted(ex), sorted(sc)) for k, (ex, sc) in choices.items()}


def _place_schema(place: Place) -> dict[str, Any]:
    return {
        "anyOf": [
            {
                "type": "array",
                "minItems": 2,
                "maxItems": 2,
                "prefixItems": [{"enum": list(ex)}, {"enum": list(sc)}],
            }
            for _kind, ex, sc in place.options
        ]
    }


def compact_schema(
    codebook: Codebook, athlete: Athlete, *, conservative: bool = False, update: bool = False
) -> dict[str, Any]:
    """JSON Schema of a compact plan this person may receive (for constrained decoding on
    servers that take JSON Schema, e.g. vLLM): the same rules as :func:`compact_grammar`."""
    days = []
    for rule in day_rules(codebook, athlete, conservative=conservative, update=update):
        if rule.repeat:
            days.append(
                {
                    "type": "array",
                    "minItems": 1,
                    "maxItems": rule.repeat,
                    "items": _place_schema(rule.places[0]),
                }
            )
            continue
        days.append(
            {
                "anyOf": [
                    {
                        "type": "array",
                        "minItems": n + f,
                        "maxItems": n + f,
                        "prefixItems": [_place_schema(p) for p in rule.sequence(n, f)],
                    }
                    for n, f in rule.lengths()
                ]
            }
        )
    return {"type": "array", "minItems": len(days), "maxItems": len(days), "prefixItems": days}


def _number_trie(numbers: Iterable[int]) -> str:
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


class _Rules:
    """GBNF rules, each distinct body written once under one name."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self._names: dict[str, str] = {}

    def name(self, prefix: str, body: str) -> str:
        if body not in self._names:
            self._names[body] = f"{prefix}{len(self._names) + 1}"
            self.lines.append(f"{self._names[body]} ::= {body}")
        return self._names[body]

    def place(self, place: Place) -> str:
        items = [
            f'{self.name("ex", _number_trie(ex))} "," {self.name("sc", _number_trie(sc))}'
            for _kind, ex, sc in place.options
        ]
        return self.name("place", '"[" (' + " | ".join(items) + ') "]"')


def compact_grammar(
    codebook: Codebook, athlete: Athlete, *, conservative: bool = False, update: bool = False
) -> str:
    """The per-request constraint (:func:`day_rules`) as a llama.cpp GBNF grammar, without
    optional whitespace (every token the model spends on spaces is latency)."""
    rules = _Rules()
    days = []
    for rule in day_rules(codebook, athlete, conservative=conservative, update=update):
        if rule.repeat:
            item = rules.place(rule.places[0])
            tail = ""
            for _ in range(rule.repeat - 1):
                tail = f'("," {item} {tail})?' if tail else f'("," {item})?'
            body = f'"[" {item} {tail} "]"'
        else:
            names = [rules.place(p) for p in rule.places]
            tail = ""
            for name in reversed(names[rule.required :]):
                tail = f'("," {name} {tail})?' if tail else f'("," {name})?'
            head = ' "," '.join(names[: rule.required])
            finisher = f'("," {rules.place(rule.finisher)})?' if rule.finisher else ""
            body = f'"[" {head} {tail} {finisher} "]"'
        days.append(rules.name("day", " ".join(body.split())))
    root = 'root ::= "[" ' + ' "," '.join(days) + ' "]"'
    return "\n".join([root, *rules.lines]) + "\n"


def random_valid_plan(
    codebook: Codebook,
    athlete: Athlete,
    rng: random.Random,
    *,
    conservative: bool = False,
    update: bool = False,
) -> str:
    """A compact plan of uniform random choices under the per-request constraint: how
    many places each day fills, which exercise fills each (uniform over the place's
    exercises) and which fitting scheme. The floor any trained model must clear: it is
    valid by construction and knows nothing else."""
    days = []
    for rule in day_rules(codebook, athlete, conservative=conservative, update=update):
        filled, finisher = rng.choice(rule.lengths())
        items = []
        for place in rule.sequence(filled, finisher):
            flat = [(e, sc) for _kind, ex, sc in place.options for e in ex]
            exercise, schemes = rng.choice(flat)
            items.append([exercise, rng.choice(schemes)])
        days.append(items)
    return json.dumps(days, separators=(",", ":"))


def constraint_problem(
    text: str,
    codebook: Codebook,
    athlete: Athlete,
    *,
    conservative: bool = False,
    update: bool = False,
) -> str | None:
    """Why ``text`` is not a plan the per-request constraint allows (None: it is). The
    grammar's and schema's meaning in Python, for tests and for measuring how much of the
    teacher's data the constraint can express."""
    try:
        days = json.loads(text)
    except json.JSONDecodeError as exc:
        return f"not JSON: {exc.msg}"
    rules = day_rules(codebook, athlete, conservative=conservative, update=update)
    if not isinstance(days, list) or len(days) != len(rules):
        return f"expected {len(rules)} training days"
    for number, (items, rule) in enumerate(zip(days, rules, strict=True), start=1):
        fits = any(
            len(items) == len(sequence)
            and all(place.allows(item) for place, item in zip(sequence, items, strict=True))
            for sequence in (rule.sequence(n, f) for n, f in rule.lengths())
        )
        if not fits:
            return f"day {number} does not follow its places"
    return None
