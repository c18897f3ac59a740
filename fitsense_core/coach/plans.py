"""The offline knowledge-based coach: real plans and plan updates without any model.

It is the embedded default teacher, the API's fallback when the model server is down,
and the reference the student is measured against when no teacher LLM is configured.
Deterministic: the same person and request always get the same plan.

Plans follow ``programming`` (splits, slot templates, set schemes) and add:
- periodization: a 4-week block (3 building weeks, a deload) for everyone; beginners
  progress linearly, intermediates and advanced lifters also undulate — the second
  session of a type in the week is a higher-rep volume day;
- weekly volume targets per major muscle group by experience (hard sets per week),
  reached by adding sets to that muscle's exercises or trimmed when exceeded;
- conservative prescriptions when the safety policy asks for medical clearance;
- updates that follow logged reps and RIR against the targets, the request ("too
  easy", "poor recovery", an injury, less time) and swap contraindicated exercises for
  the closest safe alternative.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace

from fitsense_core.plan_contract import Plan, normalize_name, resolve_exercise
from fitsense_core.plan_metrics import update_adherence
from fitsense_core.plan_quality import MAX_WEEKLY_SETS, MIN_EXERCISES, MIN_TIME_SHARE, rir_range
from fitsense_core.profile import LoggedSession, UserProfile
from fitsense_core.programming import (
    MAX_DAYS_PER_EXERCISE,
    MIN_CARDIO_MIN,
    SESSION_TEMPLATES,
    VALSALVA_MIN_REPS,
    VALSALVA_MIN_RIR,
    Athlete,
    PlannedDay,
    PlannedExercise,
    SetScheme,
    balance_push_pull,
    build_week,
    cardio_note,
    eligible_exercises,
    exercises_per_session,
    family,
    fit_session,
    is_cardio,
    kind_exercises,
    planned_minutes,
    rep_range_for,
    safe_alternative,
)
from fitsense_core.reference import Exercise

MODEL_NAME = "fitsense-knowledge-coach"
MODEL_VERSION = "kb-1"

# Hard sets per major muscle group per week (a common evidence-based range).
VOLUME_TARGETS = {"beginner": (6, 10), "intermediate": (10, 16), "advanced": (12, 20)}
MAJOR_MUSCLES = ("chest", "back", "shoulders", "quads", "hamstrings", "glutes")
MAX_SETS = 5
BLOCK_NOTE = (
    "4-week block: weeks 1-3 add load (2.5-5 %) once every set reaches the top of the rep "
    "target at the planned RIR; week 4 is a deload with one set fewer per exercise and 2 more "
    "reps in reserve."
)
VOLUME_DAY_NOTE = "Volume day: lighter loads, more reps, same effort."
CONSERVATIVE_NOTE = (
    "Conservative plan: moderate effort (3+ reps in reserve), no maximal lifts. Get clearance "
    "from your doctor before training."
)

INTENTS: dict[str, re.Pattern[str]] = {
    "too_easy": re.compile(
        r"\b(too easy|too light|not (?:challenging|hard) enough|(?:a )?breeze|want (?:it )?harder|"
        r"more challeng\w*|make it harder|could do (?:way )?more|easy)\b",
        re.I,
    ),
    "poor_recovery": re.compile(
        r"\b(tired|exhausted|fatigued|worn out|burn(?:ed|t) out|not recovering|can'?t recover|"
        r"poor (?:recovery|sleep)|sleeping badly|bad sleep|always sore|sore all the time|"
        r"overtrain\w*|run down|drained|recovery is (?:bad|poor))\b",
        re.I,
    ),
    "less_time": re.compile(
        r"\b(less time|short(?:er)? sessions?|only have (\d+) ?min\w*|busy|(\d+)[- ]minute)\b", re.I
    ),
}


@dataclass(frozen=True)
class UpdateSummary:
    """What an update changed and why, for notes and tests."""

    intents: tuple[str, ...]
    progressed: tuple[str, ...]
    eased: tuple[str, ...]
    substituted: tuple[tuple[str, str], ...]
    removed: tuple[str, ...]


def _athlete(profile: UserProfile, extra_blocked: frozenset[str] = frozenset()) -> Athlete:
    athlete = profile.athlete()
    return replace(athlete, blocked_tags=athlete.blocked_tags | extra_blocked)


def _rir_floor(exercise: Exercise, athlete: Athlete) -> int:
    """How close to failure an update may take an exercise: failure only on isolation
    work, never for beginners, and never near it when blood pressure rules out straining."""
    if "valsalva" in athlete.blocked_tags:
        return VALSALVA_MIN_RIR
    return 0 if exercise.category == "isolation" and athlete.experience != "beginner" else 1


def _volume_day(day: PlannedDay, goal: str) -> None:
    for pe in day.exercises:
        if pe.notes is not None:
            continue
        _lo, hi = rep_range_for(goal, pe.exercise)
        s = pe.scheme
        pe.scheme = SetScheme(s.sets, min(hi, s.reps + 3), s.rir, max(45, s.rest_seconds - 30))
    day.notes = VOLUME_DAY_NOTE


def weekly_sets(days: Sequence[PlannedDay]) -> dict[str, int]:
    """Hard (non-timed) sets per primary muscle in a week."""
    totals: dict[str, int] = defaultdict(int)
    for day in days:
        for pe in day.exercises:
            if pe.notes is None:
                totals[pe.exercise.primary_muscle] += pe.scheme.sets
    return dict(totals)


def _balance_volume(week: list[PlannedDay], experience: str) -> None:
    low, high = VOLUME_TARGETS[experience]
    by_muscle: dict[str, list[PlannedExercise]] = defaultdict(list)
    for day in week:
        for pe in day.exercises:
            if pe.notes is None and pe.exercise.primary_muscle in MAJOR_MUSCLES:
                by_muscle[pe.exercise.primary_muscle].append(pe)
    for items in by_muscle.values():
        total = sum(pe.scheme.sets for pe in items)
        # Add sets round-robin while below target, most important (lowest position) first.
        items.sort(key=lambda pe: pe.position)
        while total < low and any(pe.scheme.sets < MAX_SETS for pe in items):
            for pe in items:
                if total >= low:
                    break
                if pe.scheme.sets < MAX_SETS:
                    pe.scheme = replace(pe.scheme, sets=pe.scheme.sets + 1)
                    total += 1
        for pe in reversed(items):
            while total > high and pe.scheme.sets > 2:
                pe.scheme = replace(pe.scheme, sets=pe.scheme.sets - 1)
                total -= 1


def _conservative(week: list[PlannedDay]) -> None:
    for day in week:
        for pe in day.exercises:
            s = pe.scheme
            pe.scheme = SetScheme(min(s.sets, 3), s.reps, max(s.rir, 3), s.rest_seconds)
        if day.exercises:
            day.notes = CONSERVATIVE_NOTE


def _within_prescription_limits(week: list[PlannedDay], athlete: Athlete) -> None:
    """Bring every hard set within the reps in reserve a coach allows this person
    (:func:`~fitsense_core.plan_quality.rir_range`), and to moderate reps when blood
    pressure rules out straining: a plan written before a condition was known, or an
    older progression, is mended on its next update rather than carried forward."""
    for day in week:
        for pe in day.exercises:
            if pe.notes is not None or family(pe.exercise) != "strength":
                continue
            low, _high = rir_range(pe.exercise, athlete)
            s = pe.scheme
            reps = max(s.reps, VALSALVA_MIN_REPS) if "valsalva" in athlete.blocked_tags else s.reps
            if s.rir < low or reps != s.reps:
                pe.scheme = replace(s, rir=max(s.rir, low), reps=reps)


def within_limits(plan: Plan, athlete: Athlete) -> Plan:
    """``plan`` as the coach must first mend it for this person: sessions within their
    time, weekly sets within the ceiling, every prescription within the person's limits.
    An update is judged against this, so mending an unsafe plan is not read as going the
    wrong way."""
    week = _from_plan(plan)
    for day in week:
        fit_session(day, athlete.session_length_min, athlete.experience, keep=MIN_EXERCISES)
    _cap_volume(week, athlete.experience)
    _within_prescription_limits(week, athlete)
    return _to_plan(week, plan.plan_name)


def _fits_label(athlete: Athlete, day: PlannedDay) -> set[str]:
    """The exercises a substitution may bring into ``day``: those its label's places can
    hold (a calf raise never replaces a row on a PULL day)."""
    kind = day.name.rsplit("_", 1)[0]
    if kind not in SESSION_TEMPLATES:
        return {e.slug for e in eligible_exercises(athlete)}
    return {e.slug for e in kind_exercises(athlete, kind)}


def _spread_repeats(week: list[PlannedDay], pool: Sequence[Exercise], athlete: Athlete) -> None:
    """No strength exercise on more than two days: a third day gets the closest safe
    alternative not yet used that day (or loses it, when the day keeps two others)."""
    days_of: dict[str, int] = defaultdict(int)
    for day in week:
        used = {pe.exercise.slug for pe in day.exercises}
        fits = _fits_label(athlete, day)
        kept = []
        for pe in day.exercises:
            if family(pe.exercise) == "strength" and days_of[pe.exercise.slug] >= 2:
                alternative = safe_alternative(
                    pe.exercise,
                    [
                        e
                        for e in pool
                        if e.slug not in used
                        and e.slug in fits
                        and days_of[e.slug] < 2
                        and family(e) == "strength"
                        and e.is_timed == pe.exercise.is_timed
                    ],
                )
                if alternative is not None:
                    used.add(alternative.slug)
                    pe.exercise = alternative
                elif len(day.exercises) > 2:
                    continue
            if family(pe.exercise) == "strength":
                days_of[pe.exercise.slug] += 1
            kept.append(pe)
        day.exercises = kept


# A day whose pool is small (no equipment, a beginner) is filled with sets to half again
# the programming-quality floor (MIN_TIME_SHARE of the session), not left at ten minutes.
FILL_SHARE = MIN_TIME_SHARE * 1.5


def _fill_sessions(week: list[PlannedDay], minutes: int) -> None:
    """Add sets, round-robin over hard (non-timed) work, to days far shorter than the
    session the person has; the weekly cap (:func:`_cap_volume`) still applies after."""
    for day in week:
        hard = [pe for pe in day.exercises if pe.notes is None]
        while planned_minutes(day) < minutes * FILL_SHARE:
            growable = [pe for pe in hard if pe.scheme.sets < MAX_SETS]
            if not growable:
                break
            for pe in growable:
                pe.scheme = replace(pe.scheme, sets=pe.scheme.sets + 1)
                if planned_minutes(day) >= minutes * FILL_SHARE:
                    break


# Steady cardio for a finisher, gentlest first (a walk before jumping jacks).
FINISHER_PREFERENCE = ("brisk_walk", "stationary_bike", "rowing_machine", "elliptical")


def _finish_short_days(week: list[PlannedDay], athlete: Athlete) -> None:
    """A strength day still under the programming-quality floor once its sets are filled
    and capped (a beginner with no equipment has only a couple of pushes) ends with a
    steady cardio block that brings it to :data:`FILL_SHARE` of the session: what a coach
    would add to a 75-minute session, not more push-ups than the week can recover from."""
    minutes = athlete.session_length_min
    cardio = sorted(
        (e for e in eligible_exercises(athlete) if is_cardio(e)),
        key=lambda e: (
            FINISHER_PREFERENCE.index(e.slug) if e.slug in FINISHER_PREFERENCE else 99,
            e.slug,
        ),
    )
    uses: dict[str, int] = defaultdict(int)
    for day in week:
        for pe in day.exercises:
            uses[pe.exercise.slug] += 1
    for day in week:
        if not day.exercises or day.name.startswith("MOBILITY"):
            continue
        now = planned_minutes(day)
        if now >= minutes * MIN_TIME_SHARE:
            continue
        on_day = {pe.exercise.slug for pe in day.exercises}
        choice = next(
            (e for e in cardio if e.slug not in on_day and uses[e.slug] < MAX_DAYS_PER_EXERCISE),
            None,
        )
        if choice is None:
            continue
        wanted = max(MIN_CARDIO_MIN, 5 * -(-(minutes * FILL_SHARE - now) // 5))
        # Within the session, with the block's changeover.
        block = int(min(wanted, minutes - now - 1))
        if block < MIN_CARDIO_MIN:
            continue
        day.exercises.append(
            PlannedExercise(
                choice, len(day.exercises) + 1, SetScheme(1, 1, 3, 0), cardio_note(block)
            )
        )
        uses[choice.slug] += 1


def _cap_volume(week: list[PlannedDay], experience: str) -> None:
    """Weekly hard sets per major muscle no higher than the programming-quality ceiling
    (updates add sets; this keeps them within what the person can recover from)."""
    ceiling = MAX_WEEKLY_SETS[experience]
    by_muscle: dict[str, list[PlannedExercise]] = defaultdict(list)
    for day in week:
        for pe in day.exercises:
            if pe.notes is None and family(pe.exercise) == "strength":
                by_muscle[pe.exercise.primary_muscle].append(pe)
    for items in by_muscle.values():
        total = sum(pe.scheme.sets for pe in items)
        for pe in sorted(items, key=lambda pe: -pe.position):
            while total > ceiling and pe.scheme.sets > 2:
                pe.scheme = replace(pe.scheme, sets=pe.scheme.sets - 1)
                total -= 1


def _ensure_harder(week: list[PlannedDay], current: Plan, athlete: Athlete) -> None:
    """A request for harder training is answered even when the session had to shrink to
    fit the time: fewer reps in reserve where the floor allows, else more reps."""
    for bump in ("rir", "reps"):
        if update_adherence("too_easy", current, _to_plan(week, current.plan_name)) is None:
            return
        for day in week:
            for pe in day.exercises:
                s = pe.scheme
                if pe.notes is not None:
                    continue
                if bump == "rir" and s.rir > _rir_floor(pe.exercise, athlete):
                    pe.scheme = replace(s, rir=s.rir - 1)
                elif bump == "reps":
                    _lo, hi = rep_range_for(athlete.goal, pe.exercise)
                    pe.scheme = replace(s, reps=min(hi, s.reps + 1))


def create_plan(
    profile: UserProfile,
    *,
    extra_blocked: frozenset[str] = frozenset(),
    conservative: bool = False,
    days_per_week: int | None = None,
) -> Plan:
    """A week of training for ``profile``."""
    athlete = _athlete(profile, extra_blocked)
    if days_per_week:
        athlete = replace(athlete, days_per_week=days_per_week)
    week = build_week(athlete)
    if profile.experience != "beginner":
        seen: set[str] = set()
        for day in week:
            kind = day.name.rsplit("_", 1)[0]
            if day.exercises and kind in seen and kind != "MOBILITY":
                _volume_day(day, athlete.goal)
            seen.add(kind)
    _balance_volume(week, profile.experience)
    for day in week:
        fit_session(day, athlete.session_length_min, profile.experience, keep=MIN_EXERCISES)
    _fill_sessions(week, athlete.session_length_min)
    _cap_volume(week, profile.experience)
    balance_push_pull(week, athlete.session_length_min)
    _finish_short_days(week, athlete)
    if conservative:
        _conservative(week)
    for day in week:
        if day.exercises and day.notes is None:
            day.notes = (
                BLOCK_NOTE
                if day.day_order == min(d.day_order for d in week if d.exercises)
                else None
            )
    goal = athlete.goal.replace("_", " ")
    return _to_plan(week, f"{goal.capitalize()} - {athlete.days_per_week} days/week")


def _to_plan(week: list[PlannedDay], name: str) -> Plan:
    from fitsense_core.plan_contract import plan_from_week

    return plan_from_week(week, name)


def _from_plan(plan: Plan) -> list[PlannedDay]:
    """Back to mutable rules-engine days; every exercise must resolve to the catalog."""
    days = []
    for day in sorted(plan.days, key=lambda d: d.day_order):
        planned = PlannedDay(day.name, day.day_order, notes=day.notes)
        for ex in sorted(day.exercises, key=lambda e: e.position):
            exercise = resolve_exercise(ex.exercise_name)
            if exercise is None:
                raise ValueError(f"{ex.exercise_name!r} is not in the catalog")
            first = ex.sets[0]
            planned.exercises.append(
                PlannedExercise(
                    exercise,
                    ex.position,
                    SetScheme(
                        len(ex.sets), first.target_reps, first.target_rir, first.rest_seconds
                    ),
                    ex.notes,
                )
            )
        days.append(planned)
    return days


def _log_deltas(sessions: Sequence[LoggedSession]) -> dict[str, tuple[float, float]]:
    """Per exercise name: mean (logged RIR - target RIR) and mean (reps - target reps)."""
    rir: dict[str, list[float]] = defaultdict(list)
    reps: dict[str, list[float]] = defaultdict(list)
    for session in sessions:
        for ex in session.exercises:
            key = ex.exercise_name.lower()
            for s in ex.sets:
                if s.rir is not None and s.target_rir is not None:
                    rir[key].append(s.rir - s.target_rir)
                if s.target_reps is not None:
                    reps[key].append(s.reps - s.target_reps)
    keys = set(rir) | set(reps)
    return {
        k: (
            sum(rir[k]) / len(rir[k]) if rir[k] else 0.0,
            sum(reps[k]) / len(reps[k]) if reps[k] else 0.0,
        )
        for k in keys
    }


def detect_intents(request: str) -> tuple[str, ...]:
    found = [name for name, pattern in INTENTS.items() if pattern.search(request or "")]
    if "too_easy" in found and "poor_recovery" in found:
        found.remove("too_easy")  # when both are said, recovery wins: safety first
    return tuple(found)


NUMBER_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7}
_DAYS = re.compile(
    r"\b([1-7]|one|two|three|four|five|six|seven)\s*(?:training\s+)?days?\b"
    r"(?!\s+(?:ago|after|before|later|in a row|off))",
    re.I,
)
# Words that ask for an exercise to go; the exercise must be named and be in the plan.
_SWAP = re.compile(
    r"\b(swap|replace|switch|change|get rid of|drop|remove|no more|hate|don'?t like|dislike|"
    r"can'?t do|cannot do|without|instead of|sick of|tired of)\b",
    re.I,
)
# Leading equipment words a person leaves out ("the bench press" for the barbell one).
_EQUIPMENT_WORDS = ("barbell", "dumbbell", "cable", "kettlebell", "band", "smith machine")


def requested_days(request: str) -> int | None:
    """The number of training days a request asks for ("I only have 3 days now"), if any."""
    m = _DAYS.search(request or "")
    if m is None:
        return None
    word = m.group(1).lower()
    return NUMBER_WORDS.get(word) or int(word)


def named_exercises(request: str, plan: Plan) -> tuple[str, ...]:
    """The exercises of ``plan`` a request names, by full name or without its leading
    equipment word ("bench press" names "Barbell Bench Press")."""
    text = f" {normalize_name(request or '')} "
    named = []
    for name in dict.fromkeys(e.exercise_name for d in plan.days for e in d.exercises):
        full = normalize_name(name)
        forms = {full}
        for word in _EQUIPMENT_WORDS:
            if full.startswith(word + " "):
                forms.add(full[len(word) + 1 :])
        if any(f" {form} " in text for form in forms):
            named.append(name)
    return tuple(named)


def fewer_days(request: str, current: Plan) -> int | None:
    """The training days a request asks for when fewer than ``current`` has, else None."""
    days = requested_days(request)
    return days if days is not None and days < len(current.training_days()) else None


def swapped_out(request: str, current: Plan) -> tuple[str, ...]:
    """The exercises of ``current`` a request asks to lose: named with a word that asks
    for it to go ("swap out the bench press"); empty when it asks for none."""
    return named_exercises(request, current) if _SWAP.search(request or "") else ()


def plan_intents(request: str, current: Plan) -> tuple[str, ...]:
    """What an update request asks of ``current``: :func:`detect_intents`, plus
    ``fewer_days`` (:func:`fewer_days`) and ``swap`` (:func:`swapped_out`)."""
    found = list(detect_intents(request))
    if fewer_days(request, current) is not None:
        found.append("fewer_days")
    if swapped_out(request, current):
        found.append("swap")
    return tuple(found)


def requested_minutes(request: str) -> int | None:
    """The session length a request names (\"only 30 minutes\"), if any."""
    m = re.search(r"(\d+)\s*(?:-\s*)?min", request or "", re.I)
    return int(m.group(1)) if m else None


def update_plan(
    profile: UserProfile,
    current: Plan,
    sessions: Sequence[LoggedSession],
    request: str,
    *,
    extra_blocked: frozenset[str] = frozenset(),
    conservative: bool = False,
) -> tuple[Plan, UpdateSummary]:
    """The next version of ``current``: progression from the logs, then the request."""
    athlete = _athlete(profile, extra_blocked)
    intents = plan_intents(request, current)
    unwanted = {e.slug for n in swapped_out(request, current) if (e := resolve_exercise(n))}
    days = fewer_days(request, current)
    if days is not None:
        # Fewer days is a new split, not the old one with days cut out: a 3-day week of a
        # 5-day push/pull/legs/upper/lower plan would lose whole muscle groups.
        current = create_plan(
            profile, extra_blocked=extra_blocked, conservative=conservative, days_per_week=days
        )
    week = _from_plan(current)
    deltas = _log_deltas(sessions)
    progressed, eased, removed = [], [], []
    substituted: list[tuple[str, str]] = []

    for day in week:
        for pe in day.exercises:
            if pe.notes is not None:
                continue
            rir_delta, reps_delta = deltas.get(pe.exercise.name.lower(), (0.0, 0.0))
            s = pe.scheme
            floor = _rir_floor(pe.exercise, athlete)
            # The request wins over the logs where they disagree (the person knows how the
            # week felt); the logs still steer the exercises the request does not touch.
            if (rir_delta >= 1.5 or reps_delta >= 2) and "poor_recovery" not in intents:
                if s.rir > floor:
                    pe.scheme = replace(s, rir=s.rir - 1)
                elif s.sets < MAX_SETS:
                    pe.scheme = replace(s, sets=s.sets + 1)
                progressed.append(pe.exercise.name)
            elif (rir_delta <= -1.5 or reps_delta <= -2) and "too_easy" not in intents:
                pe.scheme = (
                    replace(s, rir=min(4, s.rir + 1))
                    if s.rir < 4
                    else replace(s, sets=max(2, s.sets - 1))
                )
                eased.append(pe.exercise.name)

    if "too_easy" in intents:
        changed = False
        for day in week:
            for pe in day.exercises[:2]:
                if pe.notes is None and pe.scheme.sets < MAX_SETS:
                    pe.scheme = replace(pe.scheme, sets=pe.scheme.sets + 1)
                    changed = True
            for pe in day.exercises[2:]:
                floor = _rir_floor(pe.exercise, athlete)
                if pe.notes is None and pe.scheme.rir > floor:
                    pe.scheme = replace(pe.scheme, rir=pe.scheme.rir - 1)
                    changed = True
        if not changed:
            # Already at the set cap and close to failure: more reps where the goal allows.
            for day in week:
                for pe in day.exercises:
                    _lo, hi = rep_range_for(athlete.goal, pe.exercise)
                    if pe.notes is None and pe.scheme.reps < hi:
                        pe.scheme = replace(pe.scheme, reps=min(hi, pe.scheme.reps + 2))
    if "poor_recovery" in intents:
        for day in week:
            for pe in day.exercises:
                s = pe.scheme
                if pe.notes is None:
                    pe.scheme = replace(
                        s, sets=max(2, s.sets - 1) if s.sets >= 3 else s.sets, rir=min(4, s.rir + 1)
                    )
            if day.exercises:
                day.notes = "Recovery focus: one set fewer and more reps in reserve this block."

    pool = [e for e in eligible_exercises(athlete) if e.slug not in unwanted]
    for day in week:
        used = {pe.exercise.slug for pe in day.exercises}
        fits = _fits_label(athlete, day)
        kept = []
        for pe in day.exercises:
            unsafe = set(pe.exercise.contraindication_tags) & athlete.blocked_tags
            missing = set(pe.exercise.equipment) - athlete.equipment
            if not unsafe and not missing and pe.exercise.slug not in unwanted:
                kept.append(pe)
                continue
            # Like for like: strength for strength, timed for timed, nothing used that day.
            alternative = safe_alternative(
                pe.exercise,
                [
                    e
                    for e in pool
                    if e.slug not in used
                    and e.slug in fits
                    and family(e) == family(pe.exercise)
                    and e.is_timed == pe.exercise.is_timed
                ],
            )
            if alternative is None:
                removed.append(pe.exercise.name)
                continue
            used.add(alternative.slug)
            substituted.append((pe.exercise.name, alternative.name))
            pe.exercise = alternative
            if pe.notes is None:
                # A jump's low reps are not a squat's: the reps move into the range the
                # goal gives the replacement.
                low, high = rep_range_for(athlete.goal, alternative)
                pe.scheme = replace(pe.scheme, reps=min(high, max(low, pe.scheme.reps)))
            kept.append(pe)
        day.exercises = kept

    minutes = athlete.session_length_min
    if "less_time" in intents:
        longest = max((planned_minutes(d) for d in week), default=0.0)
        # Shorter than now, and within what was asked for: a request for less time that
        # changes nothing is not an answer.
        minutes = min(
            requested_minutes(request) or max(20, profile.session_length_min - 15),
            max(10, int(longest * 0.85)),
        )
        limit = exercises_per_session(minutes)
        for day in week:
            if len(day.exercises) > limit:
                removed += [pe.exercise.name for pe in day.exercises[limit:]]
                day.exercises = day.exercises[:limit]
    for day in week:
        before = [pe.exercise.name for pe in day.exercises]
        fit_session(day, minutes, profile.experience, keep=2)
        removed += before[len(day.exercises) :]
    _spread_repeats(week, pool, athlete)
    _fill_sessions(week, minutes)
    _cap_volume(week, athlete.experience)
    balance_push_pull(week, minutes)
    _within_prescription_limits(week, athlete)
    if conservative:
        _conservative(week)
    elif "too_easy" in intents:
        _ensure_harder(week, current, athlete)

    rest = 0
    for day in week:
        for position, pe in enumerate(day.exercises, start=1):
            pe.position = position
        if not day.exercises and not day.name.startswith(("REST_", "RECOVERY_")):
            rest += 1
            day.name = f"RECOVERY_{rest}"
            day.notes = "Active recovery: an easy walk or mobility work."
    name = (
        current.plan_name
        if current.plan_name.endswith("(updated)")
        else f"{current.plan_name} (updated)"
    )
    summary = UpdateSummary(
        intents, tuple(progressed), tuple(eased), tuple(substituted), tuple(removed)
    )
    return _to_plan(week, name[:200]), summary
