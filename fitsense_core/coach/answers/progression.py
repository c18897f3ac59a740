"""Answers about progression: rep ranges, when and how much to add, stalls, consistency."""

from __future__ import annotations

from fitsense_core.coach.answers.context import (
    Context,
    Draft,
    easier,
    goal_name,
    num,
    plan_targets,
    readiness_line,
)
from fitsense_core.coach.knowledge import DOUBLE_PROGRESSION_REPS, LOADABLE_KIT, UNDULATING_REPS
from fitsense_core.programming import GOAL_REP_RANGES


def _load_step(equipment: frozenset[str]) -> tuple[str, str]:
    """How much to add at a time with this equipment: the full phrase and a short one."""
    if equipment & {"barbell", "smith_machine"}:
        return "2.5 kg on upper-body barbell lifts or 5 kg on lower-body ones", "2.5-5 kg"
    if equipment & {"dumbbell", "kettlebell"}:
        return (
            "the next dumbbell or kettlebell size (usually 1-2 kg per hand)",
            "the next dumbbell size",
        )
    machines = {
        "cable_machine",
        "lat_pulldown_machine",
        "leg_press_machine",
        "leg_extension_machine",
        "leg_curl_machine",
    }
    if equipment & machines:
        return "one pin on the stack (about 2.5-5 kg)", "one pin"
    if "resistance_band" in equipment:
        return "a stronger band or a slower 3-second lowering", "a stronger band"
    return "a harder variation or a slower 3-second lowering", "a harder variation"


def _consistency(ctx: Context) -> str | None:
    done = ctx.signals.sessions_per_week
    planned = ctx.profile.days_per_week
    if done is None:
        return None
    ratio = done / planned
    head = f"You've averaged {num(done)} sessions a week against {planned} planned"
    if ratio > 1.15:
        return (
            f"{head} — more than the plan, so make sure the extra sessions are easy ones; "
            "progress comes from recovering between hard days."
        )
    if ratio >= 0.85:
        return f"{head}, which is consistent enough for steady progress."
    if ratio >= 0.6:
        return (
            f"{head}; missed sessions are the first thing that stalls progress, so on the "
            "days you do train, do the main lifts first."
        )
    realistic = max(2, round(done + 0.49))
    return (
        f"{head} — consistency is the bottleneck. A {realistic}-day plan you complete will "
        f"progress faster than {planned} planned days you miss."
    )


def draft(ctx: Context) -> Draft:
    p = ctx.profile
    goal, experience = p.goal, p.experience
    main, accessory = plan_targets(ctx)
    lo, hi = GOAL_REP_RANGES[goal]
    band_lo, band_hi = DOUBLE_PROGRESSION_REPS[goal]
    straining = "valsalva" in ctx.blocked
    if straining:
        band_lo, band_hi = max(band_lo, 8), max(band_hi, 12)
    step, short_step = _load_step(p.equipment)
    body = [
        f"For {goal_name(goal)}, keep working sets in the {lo}-{hi} rep range; your plan "
        f"has main lifts at {main.sets} × {main.reps} with {main.rir} reps in reserve (RIR) "
        f"and accessories at {accessory.sets} × {accessory.reps} at RIR {accessory.rir}."
    ]
    if ctx.clearance:
        body.append(
            "Until your doctor clears you, hold your current loads: no weight increases and no "
            "max attempts. Keep every set at RIR 3-4 and, if a movement feels easy and "
            "pain-free, add one rep rather than weight."
        )
    elif experience == "beginner":
        body.append(
            f"As a beginner, progress linearly: when you complete "
            f"{'both' if main.sets == 2 else f'all {main.sets}'} sets of "
            f"{main.reps} with at least {main.rir} reps left in the tank, add {step} next "
            "session. Miss reps two sessions running? Repeat the session; after a third stall, "
            + (
                "drop about 10% and build back up."
                if p.equipment & LOADABLE_KIT
                else "go back to an easier variation for a week and build back up."
            )
        )
    elif experience == "intermediate":
        body.append(
            f"As an intermediate, use double progression in a {band_lo}-{band_hi} rep band: "
            f"start with a weight you can lift for {band_lo} reps at RIR {main.rir}, add reps "
            f"from week to week, and when you reach {band_hi} reps at RIR {main.rir} on all "
            f"sets, add {step} and drop back to {band_lo}."
        )
    else:
        (h_lo, h_hi), (m_lo, m_hi), (v_lo, v_hi) = UNDULATING_REPS[goal]
        if straining and h_lo < 8:
            (h_lo, h_hi), (m_lo, m_hi), (v_lo, v_hi) = (8, 10), (10, 12), (12, 15)
        body.append(
            f"As an advanced lifter, undulate within the week — a heavy day of {h_lo}-{h_hi} "
            f"reps at RIR {max(main.rir, 1)}, a medium day of {m_lo}-{m_hi} at RIR "
            f"{max(main.rir, 2)} and a volume day of {v_lo}-{v_hi} at RIR {easier(main.rir)} — "
            "and run 4-week blocks, adding about 2.5% load "
            + ("or one rep" if straining else "or taking RIR down by one")
            + " each week, then a deload week with half the sets at the same loads."
        )
    if straining:
        body.append(
            "Because straining is off-limits for you, stay at 8+ reps and RIR 3 or more, "
            "breathe out through every rep and never hold your breath to grind one out."
        )
    extras: list[str] = []
    consistency = _consistency(ctx)
    if consistency:
        body.append(consistency)
    readiness, tired = readiness_line(ctx)
    if tired and readiness:
        body.append(readiness + " Hold loads this week and add weight only once it settles.")
    if ctx.asks(r"one rep max|\b1 ?rm\b|\btest\b"):
        body.insert(
            1,
            "Skip true one-rep-max tests: a set of 3-5 at RIR 1-2 estimates it with far less risk."
            if not ctx.clearance
            else "No max testing until a doctor has cleared you.",
        )
    if ctx.asks(r"plateau|stall|stuck"):
        body.insert(
            1,
            "A stall of two to three weeks is usually recovery or consistency, not the "
            "program: check sleep, food and missed sessions first, then take about 10% off "
            "and rebuild.",
        )
    if ctx.asks(r"reps or weight|reps first|weight first"):
        body.insert(1, "Add reps first, then weight — that order is safer and easier to judge.")
    if ctx.asks(r"push.?ups?|at home|bodyweight"):
        extras.append(
            "For bodyweight moves, progress reps up to the top of the range, then slow the "
            "lowering to 3 seconds, then move to a harder variation."
        )
    if goal == "endurance":
        extras.append("For cardio, add no more than about 10% duration per week.")
    extras.append(
        "Log every set's reps and RIR; the log, not how a session felt, tells you when "
        + ("you are ready for more once you're cleared." if ctx.clearance else "to add weight.")
    )
    key_points = [
        f"Work in the {lo}-{hi} rep range for {goal_name(goal)}",
        f"Main lifts at RIR {main.rir}, accessories at RIR {accessory.rir}",
        "No load increases until cleared — add a rep at most"
        if ctx.clearance
        else f"Add {short_step} at the top of the range",
    ]
    if consistency and ctx.signals.sessions_per_week is not None:
        key_points.append(
            f"{num(ctx.signals.sessions_per_week)} of {p.days_per_week} planned sessions/week"
        )
    return Draft(body, extras, key_points)
