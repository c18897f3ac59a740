"""Answers about sleep: logged hours against the target, the goal's stake, habits."""

from __future__ import annotations

from fitsense_core.coach.answers.context import (
    Context,
    Draft,
    easier,
    num,
    plan_targets,
    readiness_line,
)
from fitsense_core.coach.knowledge import GOAL_SLEEP_LINK
from fitsense_core.coach.physiology import recommended_sleep


def draft(ctx: Context) -> Draft:
    p = ctx.profile
    s = ctx.signals
    lo, hi = recommended_sleep(p.age)
    target = s.sleep_target_hours
    avg = s.sleep_hours
    main, _ = plan_targets(ctx)
    body: list[str] = []
    key_points: list[str] = []
    if avg is not None and target is not None:
        gap = target - avg
        line = f"You averaged {num(avg)} h of sleep against your {num(target)} h target"
        if gap >= 1:
            line += (
                f" — about {num(gap * 7, 0)} h short over a week, enough to blunt strength, "
                "recovery and appetite control."
            )
        elif gap >= 0.3:
            line += f" — about {num(gap * 60, 0)} minutes short a night."
        else:
            line += " — you're meeting it, so protect that routine."
        body.append(line)
        key_points.append(f"{num(avg)} h average vs {num(target)} h target")
    elif avg is not None:
        verdict = "within" if lo <= avg <= hi else "outside"
        body.append(
            f"You averaged {num(avg)} h of sleep, {verdict} the {num(lo)}-{num(hi)} h "
            "range recommended for your age; set a sleep target so I can track it."
        )
        key_points.append(f"{num(avg)} h average; aim for {num(lo)}-{num(hi)} h")
    else:
        goal_hours = target if target is not None else (lo + hi) / 2
        body.append(
            f"You haven't logged sleep recently; aim for {num(goal_hours)} h "
            f"(the recommended range for your age is {num(lo)}-{num(hi)} h) and log it "
            "for two weeks so I can compare."
        )
        key_points.append(f"Aim for {num(goal_hours)} h a night")
    body.append(GOAL_SLEEP_LINK[p.goal])
    readiness, _ = readiness_line(ctx)
    if readiness:
        body.append(readiness)
    short_night = (target or lo) - 1.5
    body.append(
        f"After a night under {num(short_night)} h, still train but add one rep in reserve "
        f"(RIR {easier(main.rir)} instead of {main.rir}) and don't chase new loads."
    )
    if ctx.clearance:
        body.append("Keep sessions light until your doctor has cleared you to train normally.")
    if ctx.asks(r"\bnaps?\b|napping"):
        body.insert(
            1,
            "Naps help: 20-30 minutes before about 3 pm tops up recovery without hurting the "
            "night's sleep.",
        )
    if ctx.asks(r"caffeine|coffee"):
        body.insert(
            1,
            "Caffeine lingers for 6-8 hours: for a 10 pm bedtime, have the last coffee by "
            "about 2 pm.",
        )
    if ctx.asks(r"evening|after (my )?workout|fall asleep"):
        body.insert(
            1,
            "Finish hard training at least 2 hours before bed and cool down with 5 minutes "
            "of easy walking and slow breathing.",
        )
    if ctx.asks(r"screen"):
        body.insert(1, "Dim screens and lights for the last 30-60 minutes before bed.")
    if ctx.asks(r"waking|wake up|tired all day|in bed for"):
        body.insert(
            1,
            "If you wake often or feel unrefreshed despite enough time in bed — especially "
            "with snoring or gasping — ask your doctor about a sleep disorder.",
        )
    extras = [
        "Keep the same wake-up time every day, weekends included, and move bedtime 15-30 "
        "minutes earlier each week until you reach the target.",
        "Keep the bedroom dark, quiet and cool (about 18 °C), skip alcohol close to bed and "
        "finish large meals 2-3 hours before sleep.",
    ]
    key_points += [
        "Same wake time every day",
        f"Short night: train at RIR {easier(main.rir)}, no new loads",
        "Caffeine cut-off 8 h before bed",
    ]
    return Draft(body, extras, key_points[:5])
