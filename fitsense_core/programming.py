"""Training knowledge: weekly splits, session templates, exercise choice and set schemes.

Pure functions over the reference catalog, used by the synthetic generator to build
sensible plans and by the knowledge-based coach to write real ones. The rules follow
common strength-and-conditioning practice: full-body sessions for low frequency and
beginners, upper/lower and push/pull/legs splits for more days; heavier, lower-rep
work with longer rests for strength, moderate reps for hypertrophy, higher reps and
shorter rests for fat loss and endurance; beginners keep more reps in reserve.
"""

from __future__ import annotations

import math
import random
import re
from collections import Counter
from dataclasses import dataclass, field, replace
from functools import lru_cache

from fitsense_core.reference import EXPERIENCE_LEVELS, Exercise, exercise_catalog

# Training weekdays (1 = Monday) for each frequency, spread to leave recovery days.
TRAINING_WEEKDAYS: dict[int, tuple[int, ...]] = {
    1: (1,),
    2: (1, 4),
    3: (1, 3, 5),
    4: (1, 2, 4, 5),
    5: (1, 2, 3, 5, 6),
    6: (1, 2, 3, 4, 5, 6),
    7: (1, 2, 3, 4, 5, 6, 7),
}


MAX_DAYS_PER_EXERCISE = 2


def split_for(days_per_week: int, experience: str) -> tuple[str, ...]:
    """Session types for a week, in training order."""
    if days_per_week <= 2:
        return ("FULL_BODY",) * days_per_week
    if days_per_week == 3:
        return ("FULL_BODY",) * 3 if experience == "beginner" else ("PUSH", "PULL", "LEGS")
    if days_per_week == 4:
        return ("UPPER", "LOWER", "UPPER", "LOWER")
    if days_per_week == 5:
        return ("PUSH", "PULL", "LEGS", "UPPER", "LOWER")
    if days_per_week == 6:
        return ("PUSH", "PULL", "LEGS") * 2
    return ("PUSH", "PULL", "LEGS", "UPPER", "LOWER", "FULL_BODY", "MOBILITY")


@dataclass(frozen=True)
class Slot:
    """One place in a session: acceptable movement patterns and (optionally) muscles."""

    patterns: tuple[str, ...]
    muscles: tuple[str, ...] = ()
    main: bool = False


def _s(patterns: str, muscles: str = "", main: bool = False) -> Slot:
    return Slot(tuple(patterns.split()), tuple(muscles.split()), main)


# Ordered most important first; a shorter session keeps the first N slots.
SESSION_TEMPLATES: dict[str, tuple[Slot, ...]] = {
    "FULL_BODY": (
        _s("squat lunge", "quads glutes", main=True),
        _s("horizontal_push", "chest", main=True),
        _s("horizontal_pull vertical_pull", "back"),
        _s("hinge", "hamstrings glutes"),
        _s("vertical_push", "shoulders"),
        _s("core", "core"),
        _s("isolation", "biceps triceps"),
        _s("carry lunge", ""),
    ),
    "UPPER": (
        _s("horizontal_push", "chest", main=True),
        _s("horizontal_pull", "back", main=True),
        _s("vertical_push", "shoulders"),
        _s("vertical_pull", "back"),
        _s("isolation", "biceps"),
        _s("isolation", "triceps"),
        _s("isolation", "shoulders"),
        _s("core", "core"),
    ),
    "LOWER": (
        _s("squat", "quads glutes", main=True),
        _s("hinge", "hamstrings glutes", main=True),
        _s("lunge", "quads glutes"),
        _s("isolation", "hamstrings quads"),
        _s("isolation", "calves"),
        _s("core", "core"),
        _s("isolation hinge", "glutes"),
        _s("carry", ""),
    ),
    "PUSH": (
        _s("horizontal_push", "chest", main=True),
        _s("vertical_push", "shoulders", main=True),
        _s("horizontal_push isolation", "chest"),
        _s("isolation", "shoulders"),
        _s("isolation horizontal_push vertical_push", "triceps"),
        _s("core", "core"),
        _s("isolation", "triceps"),
    ),
    "PULL": (
        _s("vertical_pull", "back", main=True),
        _s("horizontal_pull", "back", main=True),
        _s("hinge", "hamstrings glutes back"),
        _s("isolation horizontal_pull", "shoulders back"),
        _s("isolation", "biceps"),
        _s("carry isolation", "forearms full_body"),
        _s("core", "core"),
    ),
    "LEGS": (
        _s("squat", "quads glutes", main=True),
        _s("hinge", "hamstrings glutes", main=True),
        _s("lunge", "quads glutes"),
        _s("isolation", "quads"),
        _s("isolation", "hamstrings"),
        _s("isolation", "calves"),
        _s("core", "core"),
    ),
    "MOBILITY": (
        _s("mobility"),
        _s("mobility"),
        _s("mobility"),
        _s("core", "core"),
        _s("mobility"),
        _s("locomotion"),
    ),
}


@dataclass(frozen=True)
class SetScheme:
    sets: int
    reps: int
    rir: int
    rest_seconds: int


# (main lifts, accessories) per goal, for intermediate lifters.
GOAL_SCHEMES: dict[str, tuple[SetScheme, SetScheme]] = {
    "strength": (SetScheme(4, 5, 2, 180), SetScheme(3, 8, 2, 120)),
    "muscle_gain": (SetScheme(4, 8, 2, 120), SetScheme(3, 12, 1, 90)),
    "fat_loss": (SetScheme(3, 10, 2, 75), SetScheme(3, 12, 2, 60)),
    "endurance": (SetScheme(3, 15, 3, 60), SetScheme(2, 15, 2, 45)),
    "general_fitness": (SetScheme(3, 8, 2, 90), SetScheme(3, 10, 2, 75)),
}

# Acceptable target reps for non-timed work, by goal (the plan contract's goal check).
GOAL_REP_RANGES: dict[str, tuple[int, int]] = {
    "strength": (3, 12),
    "muscle_gain": (5, 15),
    "fat_loss": (6, 20),
    "endurance": (10, 30),
    "general_fitness": (5, 15),
}


PLYOMETRIC_REP_RANGE = (1, 10)


def rep_range_for(goal: str, exercise: Exercise) -> tuple[int, int]:
    """Target reps that fit the goal; jumps stay low-rep whatever the goal."""
    if exercise.category == "plyometric":
        return PLYOMETRIC_REP_RANGE
    return GOAL_REP_RANGES[goal]


def min_rir(exercise: Exercise, main: bool = False) -> int:
    """The fewest reps in reserve ever prescribed: failure only on isolation-style work,
    never on main lifts or on squats, hinges and lunges (fatigue and risk for little gain)."""
    lower_compound = exercise.category == "compound" and exercise.movement_pattern in (
        "squat",
        "hinge",
        "lunge",
    )
    return 1 if main or lower_compound else 0


def exercises_per_session(session_length_min: int) -> int:
    for limit, count in ((30, 4), (45, 5), (60, 6), (75, 7)):
        if session_length_min <= limit:
            return count
    return 8


# Blood pressure (valsalva restricted): no maximal straining. ACSM's guidance for
# hypertension favours moderate loads for 8-12+ reps, well short of failure.
VALSALVA_MIN_REPS = 8
VALSALVA_MIN_RIR = 3


# Conditioning done in intervals (20 minutes of jumping jacks "at a conversational pace"
# is no prescription): never chosen for the steady blocks plans prescribe.
INTERVAL_CARDIO = frozenset({"jumping_jacks", "jump_rope", "shadow_boxing"})
# A steady cardio block shorter than this is not worth the changeover.
MIN_CARDIO_MIN = 10


def is_cardio(exercise: Exercise) -> bool:
    """Steady conditioning (a walk, a run, a bike): one timed block, its minutes in the note."""
    return exercise.category == "cardio" or exercise.movement_pattern == "locomotion"


def cardio_note(minutes: int) -> str:
    return f"{minutes} min at a conversational pace"


def set_scheme(
    goal: str, experience: str, exercise: Exercise, main: bool, blocked: frozenset[str]
) -> tuple[SetScheme, str | None]:
    """The prescription for one exercise and, for timed work, the note carrying its duration."""
    if exercise.category == "mobility" or exercise.movement_pattern == "mobility":
        return SetScheme(2, 1, 5, 15), "30-45 s per side, slow and controlled"
    if is_cardio(exercise):
        minutes = {"endurance": 30, "fat_loss": 20}.get(goal, 15)
        return SetScheme(1, 1, 3, 0), cardio_note(minutes)
    if exercise.is_timed:
        seconds = {"beginner": 20, "intermediate": 30, "advanced": 45}[experience]
        return SetScheme(3, 1, 3, 45), f"hold {seconds} s"

    main_scheme, accessory_scheme = GOAL_SCHEMES[goal]
    scheme = main_scheme if main else accessory_scheme
    sets, reps, rir, rest = scheme.sets, scheme.reps, scheme.rir, scheme.rest_seconds
    if experience == "beginner":
        sets, rir = max(2, sets - 1), min(4, rir + 1)
        reps = max(reps, 6)
    elif experience == "advanced":
        sets = min(5, sets + 1) if main else sets
        rir = max(min_rir(exercise, main), rir - 1)
    if exercise.category == "isolation" and reps < 8:
        reps = 8
    if "valsalva" in blocked:
        # No maximal straining: moderate loads, well short of failure.
        reps, rir = max(reps, VALSALVA_MIN_REPS), max(rir, VALSALVA_MIN_RIR)
    if exercise.category == "plyometric":
        reps, rir = min(reps, 8), max(rir, 3)
    return SetScheme(sets, reps, rir, rest), None


@dataclass
class PlannedExercise:
    exercise: Exercise
    position: int
    scheme: SetScheme
    notes: str | None = None


@dataclass
class PlannedDay:
    name: str
    day_order: int
    exercises: list[PlannedExercise] = field(default_factory=list)
    notes: str | None = None

    @property
    def is_rest(self) -> bool:
        return not self.exercises


@dataclass(frozen=True)
class Athlete:
    """What plan building needs to know about a person."""

    goal: str
    experience: str
    days_per_week: int
    session_length_min: int
    equipment: frozenset[str]
    blocked_tags: frozenset[str]


def eligible_exercises(athlete: Athlete) -> list[Exercise]:
    """Catalog entries this person can do: equipment at hand, nothing contraindicated,
    nothing beyond their experience."""
    return list(_pool(athlete.equipment, athlete.blocked_tags, athlete.experience).exercises)


@dataclass(frozen=True, eq=False)
class _Pool:
    exercises: tuple[Exercise, ...]
    by_pattern: dict[str, tuple[Exercise, ...]]


@lru_cache(maxsize=4096)
def _pool(equipment: frozenset[str], blocked: frozenset[str], experience: str) -> _Pool:
    rank = EXPERIENCE_LEVELS.index(experience)
    exercises = tuple(
        e
        for e in exercise_catalog()
        if set(e.equipment) <= equipment
        and not set(e.contraindication_tags) & blocked
        and EXPERIENCE_LEVELS.index(e.min_experience) <= rank
        # cardio is prescribed as one steady block of minutes, which intervals are not
        and e.slug not in INTERVAL_CARDIO
        # a shoulder that rules out overhead work rules out dips too
        and not ("overhead" in blocked and e.slug in END_RANGE_SHOULDER)
    )
    patterns: dict[str, list[Exercise]] = {}
    for e in exercises:
        patterns.setdefault(e.movement_pattern, []).append(e)
    return _Pool(exercises, {k: tuple(v) for k, v in patterns.items()})


REGION = {
    "chest": "upper",
    "back": "upper",
    "shoulders": "upper",
    "biceps": "upper",
    "triceps": "upper",
    "forearms": "upper",
    "quads": "lower",
    "hamstrings": "lower",
    "glutes": "lower",
    "calves": "lower",
    "core": "core",
    "full_body": "full_body",
}


def family(exercise: Exercise) -> str:
    """strength, cardio or mobility: what kind of work an exercise is."""
    if exercise.category == "mobility" or exercise.movement_pattern == "mobility":
        return "mobility"
    if exercise.category == "cardio" or exercise.movement_pattern == "locomotion":
        return "cardio"
    return "strength"


def _slot_candidates(slot: Slot, pool: _Pool, used: set[str]) -> list[Exercise]:
    by_pattern = [
        e for p in slot.patterns for e in pool.by_pattern.get(p, ()) if e.slug not in used
    ]
    exact = [e for e in by_pattern if not slot.muscles or e.primary_muscle in slot.muscles]
    if exact:
        return exact
    regions = {REGION[m] for m in slot.muscles}
    nearby = [e for e in by_pattern if not regions or REGION[e.primary_muscle] in regions]
    if nearby:
        return nearby
    # Same muscle, other pattern: still strength work, never a stretch for a lift.
    return [
        e
        for e in pool.exercises
        if e.slug not in used
        and slot.muscles
        and e.primary_muscle in slot.muscles
        and family(e) == "strength"
    ]


@dataclass(frozen=True)
class SlotOptions:
    """One place in a planned session and every exercise that may fill it.

    Options are exclusive: no exercise is an option of two places in one day, and a
    strength exercise is an option on at most :data:`MAX_DAYS_PER_EXERCISE` days of the
    week. Any choice of one option per place is therefore a week without repeats, with
    each day's content fitting its label. The knowledge-based coach chooses within these
    options, and the student's per-request grammar is built from them, so the student
    decides *which* eligible exercise fills a place, never whether a PULL day has pulls.
    """

    exercises: tuple[Exercise, ...]
    main: bool = False
    conditioning: bool = False


@dataclass(frozen=True)
class DaySlots:
    """A training day's places, most important first. A plan fills the first
    :attr:`required` places, then optionally a prefix of the rest (a session that had to
    be trimmed to the time loses its last places), then optionally the conditioning place."""

    kind: str
    slots: tuple[SlotOptions, ...]
    required: int

    @property
    def strength_slots(self) -> tuple[SlotOptions, ...]:
        return tuple(s for s in self.slots if not s.conditioning)

    @property
    def conditioning(self) -> SlotOptions | None:
        return next((s for s in self.slots if s.conditioning), None)


MIN_PLACES = 2


# What a day of each kind asks of the week's exercises, by side: a strength exercise
# serves at most two days, so a person with two pulling exercises has pulling work for
# four day-places, and a week of PULL and UPPER days beyond that would be days of filler.
KIND_DEMAND: dict[str, tuple[tuple[str, ...], int]] = {
    "PUSH": (("push",), 2),
    "PULL": (("pull",), 2),
    "LEGS": (("lower",), 2),
    "LOWER": (("lower",), 2),
    "UPPER": (("push", "pull"), 2),
}
# Where a day goes when the person has not enough work left for it.
NARROWER_KINDS: dict[str, tuple[str, ...]] = {
    "PUSH": ("UPPER", "LOWER"),
    "PULL": ("UPPER", "LOWER"),
    "UPPER": ("LOWER",),
    "LEGS": ("FULL_BODY", "UPPER"),
    "LOWER": ("FULL_BODY", "UPPER"),
}


def athlete_split(athlete: Athlete) -> tuple[str, ...]:
    """:func:`split_for`, for what the person can train. Each strength exercise serves at
    most two days, so each side has ``2 x exercises`` day-places; a day whose kind needs
    more of a side than is left, or than the person has at all (two distinct exercises: a
    PUSH day for someone with one pressing exercise), becomes the broader day (UPPER),
    or, when the upper body is used up too, a lower-body day. A day named for work the
    person cannot do would be a day of filler."""
    count = Counter(
        movement_side(e) for e in eligible_exercises(athlete) if family(e) == "strength"
    )
    left = {side: 2 * count[side] for side in ("push", "pull", "lower")}

    def take(kind: str) -> bool:
        if kind not in KIND_DEMAND:  # FULL_BODY and MOBILITY ask for what there is
            return True
        sides, need = KIND_DEMAND[kind]
        if sum(count[s] for s in sides) < need or sum(left[s] for s in sides) < need:
            return False
        for _ in range(need):  # from the side with the most left
            left[max(sides, key=lambda s: left[s])] -= 1
        return True

    kinds = []
    for kind in split_for(athlete.days_per_week, athlete.experience):
        chosen = next((k for k in (kind, *NARROWER_KINDS.get(kind, ())) if take(k)), "FULL_BODY")
        kinds.append(chosen)
    return tuple(kinds)


def kind_exercises(athlete: Athlete, kind: str) -> tuple[Exercise, ...]:
    """Every exercise that may appear on a ``kind`` day for this person (all places of the
    template, before the weekly limit): what an update may put on such a day."""
    pool = _pool(athlete.equipment, athlete.blocked_tags, athlete.experience)
    found = {e.slug: e for _slot, options in _day_options(kind, pool) for e in options}
    if kind != "MOBILITY" and (
        athlete.goal in CONDITIONING_GOALS or athlete.session_length_min >= LONG_SESSION_MIN
    ):
        found.update((e.slug, e) for e in pool.by_pattern.get("locomotion", ()))
    return tuple(found[s] for s in sorted(found))


# What each label's places may hold, by movement side (a slot's fallback to "same muscle,
# other pattern" must not put a pike push-up on a PULL day or a burpee on a PUSH day).
KIND_SIDES: dict[str, frozenset[str]] = {
    "PUSH": frozenset({"push", "neutral"}),
    "PULL": frozenset({"pull", "neutral"}),  # and the hinge, the pull day's tradition
    "LEGS": frozenset({"lower", "neutral"}),
    "LOWER": frozenset({"lower", "neutral"}),
    "UPPER": frozenset({"push", "pull", "neutral"}),
}


def _day_options(kind: str, pool: _Pool) -> list[tuple[Slot, list[Exercise]]]:
    """Every place of ``kind``'s template with its exclusive options (earlier places
    first: a later place gets what the earlier ones did not take)."""
    taken: set[str] = set()
    places = []
    sides = KIND_SIDES.get(kind)
    for slot in SESSION_TEMPLATES[kind]:
        candidates = sorted(
            (
                e
                for e in _slot_candidates(slot, pool, taken)
                if sides is None
                or movement_side(e) in sides
                or (kind == "PULL" and e.movement_pattern == "hinge")
            ),
            key=lambda e: e.slug,
        )
        taken.update(e.slug for e in candidates)
        places.append((slot, candidates))
    return places


@lru_cache(maxsize=4096)
def week_slots(athlete: Athlete) -> tuple[DaySlots, ...]:
    """The places of each training day of ``athlete``'s week, in training order."""
    pool = _pool(athlete.equipment, athlete.blocked_tags, athlete.experience)
    kinds = athlete_split(athlete)
    days = [_day_options(kind, pool) for kind in kinds]
    # A strength exercise is an option on at most two days: beyond that it keeps two of
    # its days, chosen by its rank so that repeat sessions of a type get different ones.
    # (Issue 16's check allows an exercise on two days a week: the weekly frequency of
    # two per muscle that the training-frequency meta-analyses favour, without the same
    # lift every session.)
    days_of: dict[str, list[int]] = {}
    for index, places in enumerate(days):
        for _slot, options in places:
            for e in options:
                if family(e) == "strength":
                    days_of.setdefault(e.slug, []).append(index)
    dropped: set[tuple[int, str]] = set()
    crowded = sorted(s for s, d in days_of.items() if len(d) > MAX_DAYS_PER_EXERCISE)
    for rank, slug in enumerate(crowded):
        where = days_of[slug]
        keep = {where[(rank + k) % len(where)] for k in range(MAX_DAYS_PER_EXERCISE)}
        dropped.update((i, slug) for i in where if i not in keep)
    uses = {slug: len(where) for slug, where in days_of.items()}
    for _day, slug in dropped:
        uses[slug] -= 1
    per_session = exercises_per_session(athlete.session_length_min)
    cardio = tuple(sorted(pool.by_pattern.get("locomotion", ()), key=lambda e: e.slug))
    week = []
    for index, (kind, places) in enumerate(zip(kinds, days, strict=True)):
        in_template = {e.slug for _slot, options in places for e in options}
        slots = []
        for slot, options in places:
            kept = tuple(e for e in options if (index, e.slug) not in dropped)
            if options and not kept:
                # The weekly limit took the place's every option: another exercise of the
                # same movement side, itself on fewer than two days, takes its place.
                kept = _refill(kind, options, pool, in_template, uses)
                for e in kept:
                    uses[e.slug] = uses.get(e.slug, 0) + 1
                in_template.update(e.slug for e in kept)
            if kept:
                slots.append(SlotOptions(kept, main=slot.main))
        # Fat-loss and endurance sessions, and long sessions whose strength work is
        # capped by the weekly volume ceilings, end with steady cardio.
        conditioning = kind != "MOBILITY" and (
            athlete.goal in CONDITIONING_GOALS or athlete.session_length_min >= LONG_SESSION_MIN
        )
        in_day = {e.slug for s in slots for e in s.exercises}
        finisher = tuple(e for e in cardio if e.slug not in in_day)
        if conditioning and finisher:
            slots = [*slots[: per_session - 1], SlotOptions(finisher, conditioning=True)]
        else:
            slots = slots[:per_session]
        week.append(DaySlots(kind, tuple(slots), min(MIN_PLACES, len(slots))))
    return tuple(week)


CONDITIONING_GOALS = ("fat_loss", "endurance")
LONG_SESSION_MIN = 90


def _refill(
    kind: str,
    options: list[Exercise],
    pool: _Pool,
    taken: set[str],
    uses: dict[str, int],
) -> tuple[Exercise, ...]:
    sides = {movement_side(e) for e in options} - {"neutral"}
    hinge_only = kind == "PULL" and sides == {"lower"}
    return tuple(
        e
        for e in sorted(pool.exercises, key=lambda e: e.slug)
        if family(e) == "strength"
        and not e.is_timed
        and movement_side(e) in sides
        and (not hinge_only or e.movement_pattern == "hinge")
        and e.slug not in taken
        and uses.get(e.slug, 0) < MAX_DAYS_PER_EXERCISE
    )


def _choose(
    options: tuple[Exercise, ...], athlete: Athlete, main: bool, avoid: set[str]
) -> Exercise:
    """The knowledge-based coach's choice for a place: deterministic, from the person.

    Fresh exercises before ones a same-type day already has (variety across repeat
    sessions); on main places compound lifts first; loaded variations first (they
    progress more easily); then technical demand matched to experience (an advanced
    lifter gets the advanced variation, a beginner the simplest); then catalog order."""
    rank = EXPERIENCE_LEVELS.index(athlete.experience)
    return min(
        options,
        key=lambda e: (
            e.slug in avoid,
            main and e.category != "compound",
            e.load_factor <= 0,
            # A main lift is the variation that loads heaviest (a back squat, not an
            # overhead squat); an accessory matches the person's technical level.
            -e.load_factor if main else 0.0,
            rank - EXPERIENCE_LEVELS.index(e.min_experience),
            e.slug,
        ),
    )


def build_week(athlete: Athlete, rng: random.Random | None = None) -> list[PlannedDay]:
    """A full week (7 days, rest days included) for one person: one exercise per place of
    :func:`week_slots`. Without ``rng`` every choice is the coach's deterministic one
    (:func:`_choose`); with it choices are random among the options (the synthetic
    population's own plans, which should vary)."""
    training_days = TRAINING_WEEKDAYS[athlete.days_per_week]
    slots = iter(week_slots(athlete))
    counters: dict[str, int] = {}
    used_by_type: dict[str, set[str]] = {}
    week: list[PlannedDay] = []
    for day_order in range(1, 8):
        if day_order not in training_days:
            counters["REST"] = counters.get("REST", 0) + 1
            week.append(PlannedDay(f"REST_{counters['REST']}", day_order))
            continue
        day_slots = next(slots)
        kind = day_slots.kind
        counters[kind] = counters.get(kind, 0) + 1
        day = PlannedDay(f"{kind}_{counters[kind]}", day_order)
        avoid = used_by_type.setdefault(kind, set())
        for place in day_slots.slots:
            if rng is None:
                exercise = _choose(place.exercises, athlete, place.main, avoid)
            else:
                fresh = [e for e in place.exercises if e.slug not in avoid]
                exercise = rng.choice(fresh or list(place.exercises))
            scheme, note = set_scheme(
                athlete.goal, athlete.experience, exercise, place.main, athlete.blocked_tags
            )
            day.exercises.append(PlannedExercise(exercise, len(day.exercises) + 1, scheme, note))
        avoid.update(pe.exercise.slug for pe in day.exercises)
        week.append(day)
    return week


def progress_week(week: list[PlannedDay], experience: str) -> list[PlannedDay]:
    """The next block: one more set on main lifts (within limits) and one rep in reserve
    less on accessories that are not already close to failure."""
    progressed = []
    for day in week:
        new_day = PlannedDay(day.name, day.day_order, notes=day.notes)
        for pe in day.exercises:
            s = pe.scheme
            if pe.notes is None and pe.position <= 2 and s.sets < 5:
                s = SetScheme(s.sets + 1, s.reps, s.rir, s.rest_seconds)
            elif pe.notes is None and s.rir > (2 if experience == "beginner" else 1):
                s = SetScheme(s.sets, s.reps, s.rir - 1, s.rest_seconds)
            new_day.exercises.append(PlannedExercise(pe.exercise, pe.position, s, pe.notes))
        progressed.append(new_day)
    return progressed


PATTERN_FAMILY = {
    "squat": "lower",
    "lunge": "lower",
    "hinge": "lower",
    "horizontal_push": "push",
    "vertical_push": "push",
    "horizontal_pull": "pull",
    "vertical_pull": "pull",
}


# Dips take the shoulder to the end of its extension range under body weight: a coach does
# not swap them in for an overhead press that a shoulder problem rules out (an incline
# press is the usual choice).
END_RANGE_SHOULDER = frozenset({"bench_dip", "chest_dip", "triceps_dip"})


def safe_alternative(
    exercise: Exercise, pool: list[Exercise] | tuple[Exercise, ...]
) -> Exercise | None:
    """The closest substitute in a person's safe pool: same movement pattern and muscle
    first, then the same pattern, the same muscle, then the same family of movements;
    within a tier the same category and a similar load win. An overhead lift is never
    replaced by a dip (:data:`END_RANGE_SHOULDER`)."""
    original_family = PATTERN_FAMILY.get(exercise.movement_pattern)
    conditioning = {"cardio", "mobility"}
    overhead = "overhead" in exercise.contraindication_tags

    def tier(e: Exercise) -> int | None:
        if overhead and e.slug in END_RANGE_SHOULDER:
            return None
        same_pattern = e.movement_pattern == exercise.movement_pattern
        same_muscle = e.primary_muscle == exercise.primary_muscle
        same_category = e.category == exercise.category
        if (e.category in conditioning) != (exercise.category in conditioning):
            return None
        if same_pattern and same_muscle:
            return 0
        if same_pattern:
            return 1
        if same_muscle and same_category:
            return 2
        family = PATTERN_FAMILY.get(e.movement_pattern)
        if original_family and family == original_family and same_category:
            return 3
        if same_muscle:
            return 4
        return None

    ranked = []
    for e in pool:
        t = tier(e)
        if e.slug != exercise.slug and t is not None:
            ranked.append(
                (
                    t,
                    e.category != exercise.category,
                    abs(e.load_factor - exercise.load_factor),
                    e.slug,
                    e,
                )
            )
    return min(ranked)[-1] if ranked else None


# --- how long a session takes, and fitting a week to the person -------------------------

# Time under tension per repetition at a controlled tempo (about 1-2 s lifting, 2-3 s
# lowering: NSCA, Essentials of Strength Training and Conditioning, 4th ed., ch. 17).
SECONDS_PER_REP = 4.0
# Setting up and moving between exercises (it also covers the rest after the last set).
CHANGEOVER_S = 60.0
_DURATION = re.compile(
    r"(\d+(?:\.\d+)?)\s*(?:-\s*(\d+(?:\.\d+)?)\s*)?(s|sec|secs|seconds?|min|mins|minutes?)\b",
    re.I,
)
PATTERN_SIDE = {
    "horizontal_push": "push",
    "vertical_push": "push",
    "horizontal_pull": "pull",
    "vertical_pull": "pull",
    "squat": "lower",
    "lunge": "lower",
    "hinge": "lower",
}
MUSCLE_SIDE = {
    "chest": "push",
    "shoulders": "push",
    "triceps": "push",
    "back": "pull",
    "biceps": "pull",
    "forearms": "pull",
}


def duration_seconds(notes: str | None) -> float | None:
    """The duration a timed exercise's note gives ("hold 30 s", "30-45 s per side")."""
    match = _DURATION.search(notes or "")
    if match is None:
        return None
    low = float(match.group(1))
    high = float(match.group(2) or low)
    seconds = (low + high) / 2 * (60 if match.group(3).lower().startswith("m") else 1)
    return seconds * (2 if "per side" in (notes or "").lower() else 1)


def exercise_seconds(reps_and_rest: list[tuple[int, int]], notes: str | None) -> float:
    """Time one exercise takes: each set's work and the rest between sets, and the
    changeover; a timed set (1 target rep) lasts the duration its note gives."""
    timed = duration_seconds(notes)
    total = CHANGEOVER_S
    for i, (reps, rest) in enumerate(reps_and_rest):
        work = timed if timed is not None and reps == 1 else reps * SECONDS_PER_REP
        total += work + (rest if i < len(reps_and_rest) - 1 else 0)
    return total


def movement_side(exercise: Exercise) -> str:
    """push, pull, lower or neutral (core, carries, conditioning, mobility)."""
    if family(exercise) != "strength":
        return "neutral"
    side = PATTERN_SIDE.get(exercise.movement_pattern)
    if side is None and REGION.get(exercise.primary_muscle) == "lower":
        side = "lower"
    return side or MUSCLE_SIDE.get(exercise.primary_muscle, "neutral")


def planned_minutes(day: PlannedDay) -> float:
    return (
        sum(
            exercise_seconds([(pe.scheme.reps, pe.scheme.rest_seconds)] * pe.scheme.sets, pe.notes)
            for pe in day.exercises
        )
        / 60
    )


def fit_session(day: PlannedDay, minutes: int, experience: str, keep: int = 3) -> None:
    """Trim a day until it fits ``minutes``: a steady cardio block first (to
    :data:`MIN_CARDIO_MIN`: a 30-minute walk does not follow stretches in a 30-minute
    session), then accessory sets (to 2), then accessory rest (to 60 s, not after heavy
    sets), then main-lift sets (to 3, beginners 2), then the last exercises (keeping
    ``keep``)."""
    main_floor = 2 if experience == "beginner" else 3

    def over() -> bool:
        return planned_minutes(day) > minutes

    for pe in day.exercises:
        now = duration_seconds(pe.notes)
        if not over() or not is_cardio(pe.exercise) or now is None:
            continue
        excess = planned_minutes(day) - minutes
        shorter = max(MIN_CARDIO_MIN, math.floor(now / 60 - excess))
        if shorter < now / 60:
            pe.notes = cardio_note(shorter)

    steps = (
        [(pe, "sets", 2) for pe in reversed(day.exercises) if pe.position > 2],
        [(pe, "rest", 60) for pe in reversed(day.exercises) if pe.position > 2],
        [(pe, "sets", main_floor) for pe in day.exercises if pe.position <= 2],
    )
    for step in steps:
        changed = True
        while over() and changed:
            changed = False
            for pe, what, floor in step:
                if not over():
                    break
                s = pe.scheme
                if what == "sets" and s.sets > floor:
                    pe.scheme = SetScheme(s.sets - 1, s.reps, s.rir, s.rest_seconds)
                    changed = True
                elif what == "rest" and s.rest_seconds > floor and s.reps > 6:
                    pe.scheme = SetScheme(s.sets, s.reps, s.rir, max(floor, s.rest_seconds - 30))
                    changed = True
    while over() and len(day.exercises) > keep:
        day.exercises.pop()


def side_sets(week: list[PlannedDay]) -> dict[str, int]:
    totals: dict[str, int] = {}
    for day in week:
        for pe in day.exercises:
            side = movement_side(pe.exercise)
            totals[side] = totals.get(side, 0) + pe.scheme.sets
    return totals


def balance_push_pull(week: list[PlannedDay], minutes: int, max_ratio: float = 1.8) -> None:
    """Bring weekly pushing and pulling sets within ``max_ratio`` of each other: trim the
    heavier side's sets (down to 2), then add sets to the lighter side (up to 5) where the
    session has time to spare (``minutes``)."""

    def ratio_ok(heavy: str, light: str) -> bool:
        sides = side_sets(week)
        return not sides.get(light) or (sides.get(heavy, 0) + 1) / (sides[light] + 1) <= max_ratio

    for heavy, light in (("push", "pull"), ("pull", "push")):
        trimmable = sorted(
            (pe for day in week for pe in day.exercises if movement_side(pe.exercise) == heavy),
            key=lambda pe: -pe.position,
        )
        while not ratio_ok(heavy, light):
            pe = next((pe for pe in trimmable if pe.scheme.sets > 2), None)
            if pe is None:
                break
            pe.scheme = replace(pe.scheme, sets=pe.scheme.sets - 1)
        growable = [
            (day, pe)
            for day in week
            for pe in day.exercises
            if movement_side(pe.exercise) == light and pe.notes is None
        ]
        while not ratio_ok(heavy, light):
            for day, pe in growable:
                if pe.scheme.sets < 5:
                    pe.scheme = replace(pe.scheme, sets=pe.scheme.sets + 1)
                    if planned_minutes(day) <= minutes:
                        break
                    pe.scheme = replace(pe.scheme, sets=pe.scheme.sets - 1)
            else:
                break
