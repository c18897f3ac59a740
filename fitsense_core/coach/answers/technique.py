"""Answers about technique: cues for the exercise asked about, or a safe substitute."""

from __future__ import annotations

from fitsense_core.coach.answers.context import Context, Draft, join, restriction
from fitsense_core.coach.technique_cues import PATTERN_CUES, TECHNIQUE_CUES, TECHNIQUE_FIXES
from fitsense_core.coach.topics import exercise_mentioned_in
from fitsense_core.programming import PATTERN_FAMILY, safe_alternative, set_scheme
from fitsense_core.reference import EQUIPMENT_BY_CODE, Exercise

_TAG_VERBS = {
    "knee_loading": "loads the knee",
    "spinal_loading": "loads the spine",
    "spinal_flexion": "rounds the spine under load",
    "overhead": "takes the arms overhead",
    "shoulder_loading": "loads the shoulder",
    "wrist_loading": "loads the wrist",
    "elbow_loading": "loads the elbow",
    "hip_loading": "loads the hip",
    "ankle_loading": "loads the ankle",
    "high_impact": "is high-impact",
    "valsalva": "invites breath-holding under heavy load",
    "supine": "is done lying on your back",
    "prone": "is done lying face down",
    "neck_loading": "loads the neck",
}


def _cues_for(exercise: Exercise) -> tuple[tuple[str, ...], str]:
    return TECHNIQUE_CUES.get(exercise.slug) or PATTERN_CUES[exercise.movement_pattern]


def _prescription(ctx: Context, exercise: Exercise) -> str:
    p = ctx.profile
    scheme, note = set_scheme(
        p.goal, p.experience, exercise, exercise.category == "compound", ctx.blocked
    )
    if note:
        return f"For your goal that's {scheme.sets} rounds, {note}."
    return (
        f"For your goal that's {scheme.sets} sets of {scheme.reps} at RIR {scheme.rir} with "
        f"{scheme.rest_seconds} s rest; warm up with 2-3 lighter sets first."
    )


def _cue_sentence(exercise: Exercise) -> str:
    cues, fault = _cues_for(exercise)
    numbered = "; ".join(f"({i}) {c}" for i, c in enumerate(cues, 1))
    return f"Key cues for the {exercise.name}: {numbered}. The fault to watch for: {fault}."


def draft(ctx: Context) -> Draft:
    p = ctx.profile
    exercise = exercise_mentioned_in(ctx.question)
    body: list[str] = []
    key_points: list[str] = []
    extras = [
        "Film one set from the side at hip height; it shows depth, back position and bar "
        "path better than a mirror.",
        "Sharp or joint pain means stop the set — pain is not a technique problem to push through.",
    ]
    if exercise is None:
        examples = [e.name for e in ctx.pool if e.slug in TECHNIQUE_CUES][:3]
        body.append(
            "I couldn't tell which exercise you mean — name it (for example "
            + join(examples or ["Plank"], "or")
            + ") and I'll give you specific cues."
        )
        body.append(
            "The rules that hold for every lift: set your position before the first rep, "
            "brace your trunk, control the lowering over 2-3 seconds, use a range you can "
            "own with a neutral spine, and end the set when form breaks, not when you fail."
        )
        key_points += [
            "Name the exercise for specific cues",
            "Control the lowering",
            "Stop when form breaks",
        ]
        return Draft(body, extras, key_points)

    bad_tags = sorted(set(exercise.contraindication_tags) & ctx.blocked)
    missing = [t for t in exercise.equipment if t not in p.equipment]
    pool_slugs = {e.slug for e in ctx.pool}
    subject = exercise
    if bad_tags:
        why = join([_TAG_VERBS[t] for t in bad_tags])
        alternative = safe_alternative(exercise, ctx.pool)
        body.append(
            f"The {exercise.name} isn't a good fit for you right now: it {why}, which isn't "
            f"safe with {restriction(ctx)}."
        )
        if alternative is not None:
            body.append(
                f"A safer option that works the same {_shared_target(alternative, exercise)} with "
                f"your equipment is the {alternative.name}."
            )
            key_points.append(f"Swap the {exercise.name} for the {alternative.name}")
            subject = alternative
        else:
            body.append(
                "None of the exercises your equipment allows trains that area without the same "
                "load, so skip it for now and ask a physiotherapist what to do instead."
            )
            key_points.append(f"Skip the {exercise.name} for now")
            extras.insert(0, "Ask a physiotherapist for a progression that fits your injury.")
            return Draft(body, extras, [*key_points, "Never train through pain"])
    elif exercise.slug not in pool_slugs:
        alternative = safe_alternative(exercise, ctx.pool)
        kit = [EQUIPMENT_BY_CODE[m].name.lower() for m in missing]
        reason = (
            f"it needs equipment you haven't listed ({join(kit)})"
            if missing
            else f"it's usually programmed for {exercise.min_experience} lifters"
        )
        body.append(f"Cues below, but note {reason}.")
        if alternative is not None:
            body.append(f"With your setup, the {alternative.name} trains the same thing.")
            key_points.append(f"Option with your kit: the {alternative.name}")
    body.append(_cue_sentence(subject))
    cues, _ = _cues_for(subject)
    key_points.append(cues[0][:1].upper() + cues[0][1:])
    for pattern, fix in TECHNIQUE_FIXES:
        # Fixes are written for the exercise asked about, not for a substitute.
        if subject is exercise and ctx.asks(pattern):
            body.append(fix)
            break
    if "valsalva" in ctx.blocked:
        body.append("Breathe out steadily through the hardest part of each rep; don't hold it.")
    elif ctx.asks(r"\bbrac(e|ing)\b|breath"):
        body.append(
            "To brace: breathe into your belly, tighten your trunk as if about to be poked, "
            "keep that tension through the rep and breathe between reps."
        )
    body.append(_prescription(ctx, subject))
    if ctx.clearance:
        body.append("Practise with light weights only, and only once your doctor has cleared you.")
    elif ctx.injury_aware and not bad_tags:
        body.append(f"This one doesn't load {restriction(ctx)}, but stop if it causes any pain.")
    key_points.append("Stop the set if anything hurts")
    return Draft(body, extras, key_points[:5])


_FAMILY_WORDS = {
    "lower": "lower-body muscles",
    "push": "pushing muscles",
    "pull": "pulling muscles",
}


def _shared_target(alternative: Exercise, original: Exercise) -> str:
    """What the substitute has in common with the exercise it replaces."""
    if alternative.primary_muscle == original.primary_muscle:
        return original.primary_muscle.replace("_", " ")
    if alternative.movement_pattern == original.movement_pattern:
        return original.movement_pattern.replace("_", " ") + " pattern"
    family = PATTERN_FAMILY.get(original.movement_pattern)
    return _FAMILY_WORDS.get(family or "", "muscles")
