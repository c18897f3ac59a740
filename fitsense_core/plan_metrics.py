"""Numbers that describe a plan, and whether an update did what was asked.

Shared by post-validation of teacher outputs, the QA statistics and (later) the student
evaluation, so "too easy → more work" means the same thing everywhere.
"""

from __future__ import annotations

from statistics import mean

from fitsense_core.plan_contract import Plan, resolve_exercise
from fitsense_core.programming import family


def _hard_sets(plan: Plan) -> list[tuple[int, int]]:
    """(target_reps, target_rir) of every non-timed set."""
    out = []
    for day in plan.days:
        for ex in day.exercises:
            exercise = resolve_exercise(ex.exercise_name)
            if exercise is not None and family(exercise) != "strength":
                continue
            out += [(s.target_reps, s.target_rir) for s in ex.sets]
    return out


def weekly_hard_sets(plan: Plan) -> int:
    return len(_hard_sets(plan))


def weekly_target_reps(plan: Plan) -> int:
    return sum(reps for reps, _ in _hard_sets(plan))


def mean_target_rir(plan: Plan) -> float | None:
    sets = _hard_sets(plan)
    return round(mean(rir for _, rir in sets), 3) if sets else None


def plan_stats(plan: Plan) -> dict[str, float | int | None]:
    exercises = [ex for d in plan.days for ex in d.exercises]
    sets = [s for ex in exercises for s in ex.sets]
    return {
        "days": len(plan.days),
        "training_days": len(plan.training_days()),
        "exercises": len(exercises),
        "exercises_per_training_day": round(len(exercises) / max(1, len(plan.training_days())), 2),
        "weekly_hard_sets": weekly_hard_sets(plan),
        "mean_target_reps": round(mean(s.target_reps for s in sets), 2) if sets else None,
        "mean_target_rir": mean_target_rir(plan),
        "mean_rest_seconds": round(mean(s.rest_seconds for s in sets), 1) if sets else None,
    }


def update_adherence(intent: str, before: Plan, after: Plan) -> str | None:
    """None when the updated plan does what the request asked, else why not.

    too_easy: more hard sets, more weekly target reps, or fewer reps in reserve;
    poor_recovery: the opposite; other intents have no direction to check here (injuries
    are checked as contraindications, less time as plan length)."""
    sets_before, sets_after = weekly_hard_sets(before), weekly_hard_sets(after)
    reps_before, reps_after = weekly_target_reps(before), weekly_target_reps(after)
    rir_before, rir_after = mean_target_rir(before), mean_target_rir(after)
    rir_known = rir_before is not None and rir_after is not None
    change = (
        f"hard sets {sets_before}->{sets_after}, weekly target reps "
        f"{reps_before}->{reps_after}, mean RIR {rir_before}->{rir_after}"
    )
    if intent == "too_easy":
        harder = (
            sets_after > sets_before
            or reps_after > reps_before
            or (rir_known and rir_after < rir_before)
        )
        if not harder:
            return f"asked for harder training but {change}"
    if intent == "poor_recovery":
        easier = (
            sets_after < sets_before
            or reps_after < reps_before
            or (rir_known and rir_after > rir_before)
        )
        if not easier:
            return f"asked for easier training but {change}"
    if intent == "less_time":
        longest = max((len(d.exercises) for d in after.days), default=0)
        before_longest = max((len(d.exercises) for d in before.days), default=0)
        if longest > before_longest:
            return f"asked for shorter sessions but the longest day grew to {longest} exercises"
    return None
