"""Answers about recovery: readiness, rest days, deloads, active recovery."""

from __future__ import annotations

from fitsense_core.coach.answers.context import (
    Context,
    Draft,
    easier,
    join,
    num,
    plan_targets,
    pool_pick,
    readiness_line,
)
from fitsense_core.coach.knowledge import DELOAD_EVERY, EASY_CARDIO, EASY_MOBILITY


def draft(ctx: Context) -> Draft:
    p = ctx.profile
    s = ctx.signals
    main, accessory = plan_targets(ctx)
    body: list[str] = []
    readiness, tired = readiness_line(ctx)
    if readiness:
        body.append(readiness)
    else:
        body.append(
            "You haven't logged soreness or energy lately; rating both 0-10 each morning lets "
            "me tell normal training fatigue from a need to back off."
        )
    rest_days = 7 - p.days_per_week
    body.append(
        f"With {p.days_per_week} training days a week you have {rest_days} rest "
        f"day{'s' if rest_days != 1 else ''}; leave about 48 hours before training the same "
        "muscles hard again."
    )
    if ctx.clearance:
        body.append(
            "Until your doctor clears you, keep every session easy — RIR 3-4, fewer sets, and "
            "stop at the first sign of dizziness, unusual breathlessness or pain."
        )
    body.append(
        f"Readiness rule: on a day soreness is 7+ or energy 3 or less, drop one set per "
        f"exercise and add a rep in reserve (RIR {easier(main.rir)} instead of {main.rir} on main "
        "lifts), or swap the session for active recovery."
        if not tired
        else f"For the next week, drop one set per exercise and train at RIR {easier(main.rir)} "
        f"instead of {main.rir}; if soreness and energy haven't improved after that, take "
        "a deload week."
    )
    if s.sleep_hours is not None and s.sleep_hours < (s.sleep_target_hours or 7) - 0.4:
        body.append(
            f"Sleep is your biggest recovery lever: you're averaging {num(s.sleep_hours)} h, "
            "below what you need."
        )
    cardio = pool_pick(ctx, EASY_CARDIO, 2)
    mobility = pool_pick(ctx, EASY_MOBILITY, 2)
    active = cardio + mobility
    if cardio:
        line = (
            "Active recovery on rest days: 20-30 minutes of easy cardio such as the "
            + join([e.name for e in cardio], "or")
            + " at a conversational effort"
        )
        if mobility:
            line += ", then a few minutes of " + join([e.name for e in mobility])
        body.append(line + ".")
    deload = DELOAD_EVERY[p.experience]
    deload_line = (
        f"At your level, plan a deload every {deload} weeks: same exercises and loads, "
        "about half the sets, RIR 3-4."
    )
    if ctx.asks(r"deload|overtrain|burn"):
        body.insert(0, deload_line)
        body.insert(
            1,
            "Warning signs you need one: performance dropping for two weeks or more, "
            "soreness that won't clear, poor sleep, a raised resting heart rate or low mood.",
        )
    else:
        body.append(deload_line)
    if ctx.asks(r"foam roll|stretch"):
        body.insert(
            0,
            "Foam rolling and light stretching make you feel less stiff but barely speed "
            "repair; 5-10 minutes is plenty — sleep, food and sensible volume matter more.",
        )
    if ctx.asks(r"sign of a good|normal|ache"):
        body.insert(
            0,
            "Soreness is not a measure of a good workout; it fades as you adapt. Rising reps "
            "or load at the same RIR is the real sign of progress.",
        )
    if ctx.asks(r"in a row|same muscle"):
        body.insert(
            0,
            "Training the same muscle two days running is fine only if one of the sessions "
            "is light (RIR 4 or more); hard sessions for a muscle need about 48 hours apart.",
        )
    extras = [
        f"Eat enough protein and keep accessories at RIR {accessory.rir} rather than to "
        "failure; that alone limits soreness.",
        "Sharp or joint pain is not soreness: stop that exercise and get it checked — "
        "never train through pain.",
    ]
    key_points = [
        f"Deload every {deload} weeks",
        "Soreness 7+ or energy 3 or less: one set fewer, one more RIR",
        f"{rest_days} rest day{'s' if rest_days != 1 else ''} a week; 48 h between hard "
        "sessions for a muscle",
    ]
    if active:
        key_points.append(f"Active recovery: {active[0].name}")
    if ctx.clearance:
        key_points.insert(0, "Keep sessions easy until a doctor clears you")
    return Draft(body, extras, key_points[:5])
