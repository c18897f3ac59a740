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

MIN_BODY_CHARS = 300
# What the student learns to write (student.data.REPLY_TARGET_CHARS leaves a little room).
MAX_BODY_CHARS = 700
LEAD_SEPARATOR = "\n\n"


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


def _fit_body(draft: Draft) -> str:
    """The body: the draft's sentences while they fit :data:`MAX_BODY_CHARS` (the last
    ones that are not essential go first), then extras until it reaches
    :data:`MIN_BODY_CHARS` (the draft's own extras while they fit)."""
    body = list(draft.body)

    def text(parts: list[str]) -> str:
        return " ".join(parts)

    while len(text(body)) > MAX_BODY_CHARS:
        optional = [i for i in range(1, len(body)) if body[i] not in draft.essential]
        if not optional:
            break
        body.pop(optional[-1])
    for extra in [*draft.extras, *_FALLBACK_EXTRAS]:
        if len(text(body)) >= MIN_BODY_CHARS and extra in _FALLBACK_EXTRAS:
            break
        if len(text([*body, extra])) <= MAX_BODY_CHARS:
            body.append(extra)
    if len(text(body)) > MAX_BODY_CHARS:
        raise ValueError(
            f"the answer's first part alone is {len(text(body))} characters, over "
            f"{MAX_BODY_CHARS}: {text(body)[:80]!r}..."
        )
    return text(body)


def _context(question: str, profile: UserProfile, triage: Triage, *, pool: bool) -> Context:
    blocked = frozenset(profile.blocked_tags | triage.blocked_tags)
    athlete = replace(profile.athlete(), blocked_tags=blocked)
    return Context(
        question=question.lower(),
        profile=profile,
        triage=triage,
        blocked=blocked,
        pool=tuple(eligible_exercises(athlete)) if pool else (),
        clearance=triage.level == SafetyLevel.NEEDS_CLEARANCE,
        injury_aware=triage.level == SafetyLevel.INJURY_AWARE or bool(blocked),
    )


def _lead(ctx: Context) -> str:
    parts = [CLEARANCE_NOTE] if ctx.clearance else []
    note = restriction_note(ctx)
    if note:
        parts.append(note)
    return " ".join(parts)


def safety_lead(profile: UserProfile, triage: Triage) -> str:
    """What leads every answer to this person for this triage ("" when nothing does): the
    clearance note for a clearance case, then the note on what the answer works around.
    Emergencies get none: the policy's message is the whole answer."""
    if triage.level == SafetyLevel.EMERGENCY:
        return ""
    return _lead(_context("", profile, triage, pool=False))


def with_lead(lead: str, body: str) -> str:
    """An answer as shown: the lead, a blank line, the body (the body alone without one)."""
    body = body.strip()
    return f"{lead}{LEAD_SEPARATOR}{body}" if lead else body


def answer_body(answer: str, lead: str) -> str:
    """The body of an answer that :func:`with_lead` composed with ``lead`` (the answer
    itself, stripped, when it does not open with that lead)."""
    if lead and answer.startswith(lead):
        return answer[len(lead) :].strip()
    return answer.strip()


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
    ctx = _context(question, profile, triage, pool=True)
    draft = _BUILDERS[topic](ctx)
    key_points = list(dict.fromkeys(draft.key_points))
    if ctx.clearance:
        key_points = ["See a doctor for clearance first", *key_points]
    while len(key_points) < 2:
        key_points.append(_FALLBACK_EXTRAS[len(key_points) % 2].rstrip("."))
    return CoachReply(
        answer=with_lead(_lead(ctx), _fit_body(draft)),
        key_points=key_points[:5],
        needs_medical_clearance=ctx.clearance,
    )
