"""Programming quality: whether a plan is one a coach would sign (SPEC §9).

The plan contract (``plan_contract``) says whether a plan is well formed and safe for the
person; a contract-valid plan can still be useless (a PULL day of three sets of hammer
curls). These checks judge the programming itself, for a plan from any source — the
student, the knowledge-based coach, a teacher LLM — in the API's post-check (through the
one inference path), the evaluation, the monitoring probes and the dataset's QA:

- distinct work: no exercise twice in a day, none more than twice a week;
- each day's content fits its label (PUSH mostly pushing, PULL pulling, LEGS/LOWER
  lower body, UPPER both pushing and pulling, FULL_BODY lower and upper work);
- the session fits ``session_length_min`` (sets × (work + rest) plus changeovers) and is
  not a token effort;
- weekly hard sets per major muscle within a range for the goal and experience, and
  pushing balanced against pulling;
- prescriptions that fit the goal (reps in reserve, rest);
- on an update, the change goes the way the person asked (:func:`update_problems`).

Where each number comes from is said beside it. The thresholds are deliberately those a
coach would call clearly wrong, not a house style: a plan that fails one is not sent.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass

from fitsense_core.plan_contract import (
    Plan,
    PlanDay,
    PlanExercise,
    normalize_name,
    resolve_exercise,
)
from fitsense_core.programming import (
    VALSALVA_MIN_REPS,
    VALSALVA_MIN_RIR,
    Athlete,
    eligible_exercises,
    exercise_seconds,
    family,
    movement_side,
)
from fitsense_core.reference import Exercise

# --- the numbers and their sources -------------------------------------------------------

# Session time follows programming's model (seconds per rep, rest, changeovers).
# A session may run this much over the time the person has (warm-up excluded) …
TIME_TOLERANCE = 1.15
# … and should fill at least this share of it: a 60-minute session of one exercise is
# not a session. Fewer than MIN_EXERCISES exercises neither.
MIN_TIME_SHARE = 0.2
MIN_EXERCISES = 2

# Weekly hard sets per major muscle group. Lower bounds: every major muscle group trained
# at least twice a week with some volume (WHO 2020 guidelines on physical activity;
# ACSM 2009 position stand "Progression models in resistance training for healthy
# adults": novices 1-3 sets per exercise, 2-3 days a week); hypertrophy rises with weekly
# sets up to about 10-20 (Schoenfeld, Ogborn & Krieger 2017, J Sports Sci 35:1073; Baz-
# Valle et al. 2022, J Hum Kinet 81:199), with no clear benefit beyond ~20 and more
# recovery cost. Upper bounds by experience follow the same sources (beginners respond
# to far less).
MAJOR_MUSCLES = ("chest", "back", "shoulders", "quads", "hamstrings", "glutes")
MAX_WEEKLY_SETS = {"beginner": 16, "intermediate": 24, "advanced": 30}
# The lower bound applies only to groups the person's week has room and kit for: with
# this many training days and minutes, most major groups are expected to get work.
MIN_WEEKLY_SETS = {"muscle_gain": 4, "strength": 3}
MIN_CHOICE_FOR_FLOOR = 4  # eligible exercises for that muscle
MIN_GROUPS_TRAINED = 3  # of the six major muscles, in any plan with 2+ strength days

# Pushing against pulling (sets): a balanced ratio protects the shoulders (NSCA,
# Essentials, ch. 17 on agonist/antagonist balance); 2:1 either way is clearly off.
MAX_PUSH_PULL_RATIO = 2.0
MIN_SETS_FOR_BALANCE = 6
MIN_CHOICE_FOR_BALANCE = 3  # eligible exercises on each side

# Reps in reserve by goal for non-timed work (Helms et al. 2016, Strength Cond J 38:42,
# on RIR-based effort): the upper bound is the least effort that still trains the goal.
# Failure (RIR 0) is never prescribed on squats, hinges and lunges (most fatigue and
# injury risk for the least extra stimulus) nor to novices (ACSM 2009); presses, rows and
# isolation work may go to failure.
MAX_RIR = {
    "strength": 4,
    "muscle_gain": 4,
    "fat_loss": 4,
    "endurance": 5,
    "general_fitness": 4,
}
MIN_RIR_LOWER_COMPOUND = 1
LOWER_COMPOUND_PATTERNS = frozenset({"squat", "hinge", "lunge"})
MIN_RIR_BEGINNER = 1
# Rest between sets (ACSM 2009: 2-3 min for heavy core lifts, 1-2 min for moderate
# loads; shorter for endurance). Heavy strength work needs at least this much.
MIN_REST_HEAVY_S = 90
HEAVY_REPS = 6

# --- how days are read -------------------------------------------------------------------

# Share of a day's counted strength exercises that must fit a split day's label.
LABEL_SHARE = 0.6


@dataclass(frozen=True)
class QualityProblem:
    code: str
    path: str
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


def day_label(day: PlanDay) -> str:
    """The session type a day is named for: ``PUSH_2`` → ``PUSH``."""
    head, _, tail = day.name.rpartition("_")
    return head if head and tail.isdigit() else day.name


def exercise_time_s(ex: PlanExercise) -> float:
    """Time an exercise takes: every set's work and rest, and the changeover."""
    return exercise_seconds([(st.target_reps, st.rest_seconds) for st in ex.sets], ex.notes)


def session_minutes(day: PlanDay) -> float:
    return sum(exercise_time_s(ex) for ex in day.exercises) / 60


def _resolved(day: PlanDay) -> list[tuple[PlanExercise, Exercise]]:
    out = []
    for ex in day.exercises:
        exercise = resolve_exercise(ex.exercise_name)
        if exercise is not None:  # unknown names are the contract's to report
            out.append((ex, exercise))
    return out


def _distinct(plan: Plan) -> list[QualityProblem]:
    """No exercise twice in a day; no strength exercise on more than two days (steady
    cardio on most days is normal)."""
    problems = []
    weekly: Counter[str] = Counter()
    for d in plan.training_days():
        names = Counter(
            (e.name, family(e) == "strength")
            for e in (resolve_exercise(x.exercise_name) for x in d.exercises)
            if e is not None
        )
        for (name, strength), n in names.items():
            if n > 1:
                problems.append(
                    QualityProblem("duplicate_in_day", d.name, f"{name} appears {n} times")
                )
            if strength:
                weekly[name] += 1
    for name, n in weekly.items():
        if n > 2:
            problems.append(
                QualityProblem("repeated_in_week", "plan", f"{name} on {n} days (at most 2)")
            )
    return problems


def _label_fit(day: PlanDay, can: Counter[str]) -> QualityProblem | None:
    """Whether the day's content fits its label; ``can``: how many eligible exercises the
    person has on each side (a side they cannot train is not owed)."""
    label = day_label(day)
    sides = [movement_side(e) for _ex, e in _resolved(day)]
    counted = [s for s in sides if s != "neutral"]
    if label == "MOBILITY" or not counted:
        if label in ("PUSH", "PULL", "LEGS", "LOWER", "UPPER", "FULL_BODY") and not counted:
            return QualityProblem(
                "label_mismatch", day.name, f"a {label} day without any {label.lower()} work"
            )
        return None
    share = Counter(counted)
    n = len(counted)

    def fits(*kinds: str) -> float:
        return sum(share[k] for k in kinds) / n

    # A pull day traditionally carries the hinge (deadlift family) as well.
    hinges = sum(
        1 for _ex, e in _resolved(day) if e.movement_pattern == "hinge" and family(e) == "strength"
    )
    if label == "PUSH" and can["push"] >= 2 and fits("push") < LABEL_SHARE:
        reason = f"only {fits('push'):.0%} of the strength work is pushing"
    elif label == "PULL" and can["pull"] >= 2 and (share["pull"] + hinges) / n < LABEL_SHARE:
        reason = f"only {(share['pull'] + hinges) / n:.0%} of the strength work is pulling"
    elif label in ("LEGS", "LOWER") and can["lower"] >= 2 and fits("lower") < LABEL_SHARE:
        reason = f"only {fits('lower'):.0%} of the strength work is lower-body"
    elif label == "UPPER" and any(not share[k] and can[k] for k in ("push", "pull")):
        reason = "an upper-body day needs both pushing and pulling"
    elif label == "UPPER" and fits("push", "pull") < LABEL_SHARE:
        reason = f"only {fits('push', 'pull'):.0%} of the strength work is upper-body"
    elif label == "FULL_BODY" and (
        (not share["lower"] and can["lower"])
        or (not (share["push"] or share["pull"]) and (can["push"] or can["pull"]))
    ):
        reason = "a full-body day needs lower-body and upper-body work"
    else:
        return None
    return QualityProblem("label_mismatch", day.name, f"{label} day: {reason}")


def _session_fit(day: PlanDay, athlete: Athlete) -> list[QualityProblem]:
    minutes = session_minutes(day)
    limit = athlete.session_length_min
    problems = []
    if minutes > limit * TIME_TOLERANCE:
        problems.append(
            QualityProblem(
                "too_long", day.name, f"about {minutes:.0f} min of work and rest for {limit} min"
            )
        )
    if day_label(day) != "MOBILITY" and len(day.exercises) < MIN_EXERCISES:
        problems.append(
            QualityProblem("too_short", day.name, f"{len(day.exercises)} exercise(s) in a session")
        )
    elif minutes < limit * MIN_TIME_SHARE and day_label(day) != "MOBILITY":
        problems.append(
            QualityProblem(
                "too_short", day.name, f"about {minutes:.0f} min of work for a {limit}-min session"
            )
        )
    return problems


def weekly_sets(plan: Plan) -> dict[str, int]:
    """Hard sets (non-timed strength work) per primary muscle in the week."""
    totals: dict[str, int] = defaultdict(int)
    for d in plan.training_days():
        for ex, e in _resolved(d):
            if family(e) == "strength" and not e.is_timed:
                totals[e.primary_muscle] += len(ex.sets)
    return dict(totals)


def side_sets(plan: Plan) -> dict[str, int]:
    totals: dict[str, int] = defaultdict(int)
    for d in plan.training_days():
        for ex, e in _resolved(d):
            totals[movement_side(e)] += len(ex.sets)
    return dict(totals)


def _volume(plan: Plan, athlete: Athlete, conservative: bool = False) -> list[QualityProblem]:
    problems = []
    per_muscle = weekly_sets(plan)
    groups = {m: per_muscle.get(m, 0) for m in MAJOR_MUSCLES}
    ceiling = MAX_WEEKLY_SETS[athlete.experience]
    for group, sets in groups.items():
        if sets > ceiling:
            problems.append(
                QualityProblem(
                    "volume_high",
                    "plan",
                    f"{sets} weekly hard sets for {group} (at most {ceiling} for "
                    f"{athlete.experience})",
                )
            )
    strength_days = sum(
        1 for d in plan.training_days() if any(family(e) == "strength" for _ex, e in _resolved(d))
    )
    trained = sum(1 for sets in groups.values() if sets > 0)
    if strength_days >= 2 and trained < MIN_GROUPS_TRAINED:
        problems.append(
            QualityProblem(
                "volume_low",
                "plan",
                f"only {trained} of the {len(groups)} major muscles get any work",
            )
        )
    floor = MIN_WEEKLY_SETS.get(athlete.goal)
    # Novices grow on far less (ACSM 2009: 1-3 sets per exercise), so no floor for them; nor
    # while a person waits for medical clearance, when the coach keeps every session easy
    # with fewer sets (at most 3 an exercise) on purpose.
    if (
        floor
        and not conservative
        and athlete.experience != "beginner"
        and strength_days >= 3
        and athlete.session_length_min >= 45
    ):
        pool = [e for e in eligible_exercises(athlete) if family(e) == "strength"]
        for group in ("chest", "back", "quads"):
            # Only where the person has real choice: injuries and kit can leave one or two
            # exercises for a muscle, and then little volume is the right call.
            choice = sum(1 for e in pool if e.primary_muscle == group and not e.is_timed)
            if 0 < groups[group] < floor and choice >= MIN_CHOICE_FOR_FLOOR:
                problems.append(
                    QualityProblem(
                        "volume_low",
                        "plan",
                        f"{groups[group]} weekly hard sets for {group} (at least {floor} for "
                        f"{athlete.goal.replace('_', ' ')})",
                    )
                )
    sides = side_sets(plan)
    push, pull = sides.get("push", 0), sides.get("pull", 0)
    # Balance is owed only where the person has the exercises for both sides.
    choice = Counter(movement_side(e) for e in eligible_exercises(athlete))
    balanceable = choice["push"] >= MIN_CHOICE_FOR_BALANCE and (
        choice["pull"] >= MIN_CHOICE_FOR_BALANCE
    )
    if push + pull >= MIN_SETS_FOR_BALANCE and balanceable:
        ratio = (push + 1) / (pull + 1)
        if ratio > MAX_PUSH_PULL_RATIO or ratio < 1 / MAX_PUSH_PULL_RATIO:
            problems.append(
                QualityProblem(
                    "push_pull_imbalance",
                    "plan",
                    f"{push} pushing against {pull} pulling sets a week",
                )
            )
    return problems


def rir_range(
    exercise: Exercise, athlete: Athlete, *, conservative: bool = False
) -> tuple[int, int]:
    """The reps in reserve a coach allows on ``exercise`` for this person: never to failure
    on loaded squats, hinges and lunges or for beginners, well short of it when blood
    pressure rules out straining, and no further from failure than the goal needs (a
    clearance case may stay further). The check below and the student's per-request
    constraint both read it."""
    low = (
        MIN_RIR_LOWER_COMPOUND
        if exercise.category == "compound" and exercise.movement_pattern in LOWER_COMPOUND_PATTERNS
        else 0
    )
    if athlete.experience == "beginner":
        low = max(low, MIN_RIR_BEGINNER)
    if "valsalva" in athlete.blocked_tags:
        low = max(low, VALSALVA_MIN_RIR)
    high = 5 if conservative else max(MAX_RIR[athlete.goal], low)
    return low, high


def _prescriptions(plan: Plan, athlete: Athlete, conservative: bool) -> list[QualityProblem]:
    problems = []
    straining = "valsalva" in athlete.blocked_tags
    for d in plan.training_days():
        for ex, e in _resolved(d):
            if family(e) != "strength" or e.is_timed:
                continue
            low, high = rir_range(e, athlete, conservative=conservative)
            for s in ex.sets:
                if straining and s.target_reps < VALSALVA_MIN_REPS:
                    problems.append(
                        QualityProblem(
                            "prescription",
                            f"{d.name}/{ex.exercise_name}",
                            f"{s.target_reps} reps: heavy straining for someone whose blood "
                            f"pressure rules it out (at least {VALSALVA_MIN_REPS})",
                        )
                    )
                    break
                if not low <= s.target_rir <= high:
                    problems.append(
                        QualityProblem(
                            "prescription",
                            f"{d.name}/{ex.exercise_name}",
                            f"RIR {s.target_rir} outside {low}-{high} for "
                            f"{athlete.goal.replace('_', ' ')} ({athlete.experience}, "
                            f"{e.category})",
                        )
                    )
                    break
                if s.target_reps <= HEAVY_REPS and s.rest_seconds < MIN_REST_HEAVY_S:
                    problems.append(
                        QualityProblem(
                            "prescription",
                            f"{d.name}/{ex.exercise_name}",
                            f"{s.rest_seconds} s rest after a heavy set of {s.target_reps}",
                        )
                    )
                    break
    return problems


def quality_problems(
    plan: Plan, athlete: Athlete, *, conservative: bool = False
) -> list[QualityProblem]:
    """Everything a coach would refuse in this plan for this person (empty: none)."""
    problems = _distinct(plan)
    can = Counter(movement_side(e) for e in eligible_exercises(athlete))
    for d in plan.training_days():
        mismatch = _label_fit(d, can)
        if mismatch is not None:
            problems.append(mismatch)
        problems += _session_fit(d, athlete)
    problems += _volume(plan, athlete, conservative)
    problems += _prescriptions(plan, athlete, conservative)
    return problems


def plan_signature(plan: Plan) -> tuple:
    """What an update must change: every day's name and exercises with their sets."""
    return tuple(
        (d.name, tuple((e.exercise_name, tuple(e.sets)) for e in d.exercises)) for d in plan.days
    )


def update_problems(
    before: Plan,
    after: Plan,
    intents: tuple[str, ...],
    requested_minutes: int | None = None,
    *,
    conservative: bool = False,
    requested_days: int | None = None,
    unwanted: tuple[str, ...] = (),
) -> list[QualityProblem]:
    """Whether an update went the way the person asked (``intents``: what the request asks
    for — too_easy, poor_recovery, less_time, fewer_days, swap): an update that changes
    nothing is not adherence; harder, easier and shorter are measured on the plan's numbers;
    fewer days on its training days (at most ``requested_days``); a swap on the exercises
    asked to go (``unwanted``: none of them may remain). A clearance case (``conservative``)
    is never made harder, whatever was asked."""
    from fitsense_core.plan_metrics import update_adherence

    if conservative:
        intents = tuple(i for i in intents if i != "too_easy")
    if not intents:
        return []
    if plan_signature(before) == plan_signature(after):
        return [
            QualityProblem(
                "update_unchanged", "plan", f"asked for {', '.join(intents)} but nothing changed"
            )
        ]
    problems = []
    for intent in intents:
        why = update_adherence(intent, before, after)
        if why is not None:
            problems.append(QualityProblem("update_direction", "plan", why))
    if "fewer_days" in intents and requested_days is not None:
        training = len(after.training_days())
        if training > requested_days:
            problems.append(
                QualityProblem(
                    "update_direction",
                    "plan",
                    f"asked for {requested_days} training days but the plan has {training}",
                )
            )
    if "swap" in intents:
        gone = {normalize_name(n) for n in unwanted}
        kept = sorted(
            {
                e.exercise_name
                for d in after.days
                for e in d.exercises
                if normalize_name(e.exercise_name) in gone
            }
        )
        if kept:
            problems.append(
                QualityProblem(
                    "update_direction",
                    "plan",
                    f"asked to swap out {', '.join(kept)} but the plan still has it",
                )
            )
    if "less_time" in intents:
        longest_before = max((session_minutes(d) for d in before.days), default=0.0)
        longest_after = max((session_minutes(d) for d in after.days), default=0.0)
        if longest_after >= longest_before:
            problems.append(
                QualityProblem(
                    "update_direction",
                    "plan",
                    f"asked for shorter sessions but the longest is still about "
                    f"{longest_after:.0f} min",
                )
            )
        elif requested_minutes and longest_after > requested_minutes * TIME_TOLERANCE:
            problems.append(
                QualityProblem(
                    "update_direction",
                    "plan",
                    f"asked for {requested_minutes}-minute sessions but the longest is about "
                    f"{longest_after:.0f} min",
                )
            )
    return problems
