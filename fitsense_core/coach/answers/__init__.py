"""The knowledge-based coach's answers to coaching questions.

Deterministic and offline: the API falls back to it when the model server is down, and
the teacher's offline provider uses it to write coaching examples. Every answer is built
from the person's own data (goal, experience, equipment, logged sleep, calories, weight,
soreness, energy and sessions) and from the same training rules that write their plans,
and it obeys the safety triage: emergencies get only the urgent-care message, clearance
cases get a conservative answer with the clearance note, and nothing contraindicated is
ever recommended. Each topic's module drafts the body; this one adds the safety lead and
fits the answer to its length.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from fitsense_core.coach.answers import nutrition, progression, recovery, sleep, technique
from fitsense_core.coach.answers.context import Context, Draft, restriction_note
from fitsense_core.coach.topics import classify_topic
from fitsense_core.profile import UserProfile
from fitsense_core.programming import eligible_exercises
from fitsense_core.replies import COACHING_TOPICS, CoachReply
from fitsense_core.safety import CLEARANCE_NOTE, EMERGENCY_MESSAGE, SafetyLevel, Triage

MIN_ANSWER_CHARS = 300
MAX_ANSWER_CHARS = 1500


_BUILDERS: dict[str, Callable[[Context], Draft]] = {
    "progression": progression.draft,
    "recovery": recovery.draft,
    "sleep": sleep.draft,
    "nutrition": nutrition.draft,
    "technique": technique.draft,
}

_FALLBACK_EXTRAS = (
    "Consistency over weeks matters far more than any single session.",
    "Log your sessions, sleep and food so the advice can get more specific to you.",
)


def _compose(lead: list[str], draft: Draft) -> str:
    """Lead (safety) first, then the body, then extras while they fit the length limit."""
    lead_text = " ".join(lead)
    body = list(draft.body)

    def text(parts: list[str]) -> str:
        joined = " ".join(parts)
        return f"{lead_text}\n\n{joined}" if lead_text else joined

    while len(body) > 1 and len(text(body)) > MAX_ANSWER_CHARS:
        body.pop()
    for extra in [*draft.extras, *_FALLBACK_EXTRAS]:
        if len(text(body)) >= MIN_ANSWER_CHARS and extra in _FALLBACK_EXTRAS:
            break
        if len(text([*body, extra])) <= MAX_ANSWER_CHARS:
            body.append(extra)
    return text(body)


def answer_question(
    question: str, profile: UserProfile, triage: Triage, topic: str | None = None
) -> CoachReply:
    """A coaching answer for one person, or only the urgent-care message in an emergency."""
    if triage.level == SafetyLevel.EMERGENCY:
        return CoachReply(
            answer=triage.message or EMERGENCY_MESSAGE, key_points=[], refer_to_emergency=True
        )
    topic = topic or classify_topic(question)
    if topic not in COACHING_TOPICS:
        raise ValueError(f"unknown coaching topic {topic!r}; expected one of {COACHING_TOPICS}")
    blocked = frozenset(profile.blocked_tags | triage.blocked_tags)
    athlete = replace(profile.athlete(), blocked_tags=blocked)
    ctx = Context(
        question=question.lower(),
        profile=profile,
        triage=triage,
        blocked=blocked,
        pool=tuple(eligible_exercises(athlete)),
        clearance=triage.level == SafetyLevel.NEEDS_CLEARANCE,
        injury_aware=triage.level == SafetyLevel.INJURY_AWARE or bool(blocked),
    )
    draft = _BUILDERS[topic](ctx)
    lead = []
    if ctx.clearance:
        lead.append(CLEARANCE_NOTE)
    note = restriction_note(ctx)
    if note:
        lead.append(note)
    key_points = list(dict.fromkeys(draft.key_points))
    if ctx.clearance:
        key_points = ["See a doctor for clearance first", *key_points]
    while len(key_points) < 2:
        key_points.append(_FALLBACK_EXTRAS[len(key_points) % 2].rstrip("."))
    return CoachReply(
        answer=_compose(lead, draft),
        key_points=key_points[:5],
        needs_medical_clearance=ctx.clearance,
    )
