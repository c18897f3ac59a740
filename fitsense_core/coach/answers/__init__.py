"""The knowledge-based coach's answers to coaching questions.

Deterministic and offline: the API falls back to it when the model's answer is rejected or
the model cannot answer, and the teacher's offline provider uses it to write coaching
examples. An answer is grounded in the vetted knowledge base (:mod:`..knowledge_base`): the
closest record that applies to the person (:mod:`..retrieval`) opens it and is cited; the
personalised builder of its topic adds the person's own data (goal, experience, equipment,
logged sleep, calories, weight, soreness, energy and sessions) and the same training rules
that write their plans. It obeys the safety triage: emergencies get only the urgent-care
message, clearance cases get a conservative answer with the clearance note, the note on
what the answer works around leads only advice that touches it, and nothing
contraindicated is ever recommended. Without a close enough record the answer says so
rather than guess.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from fitsense_core.coach import retrieval
from fitsense_core.coach.answers import nutrition, progression, recovery, sleep, technique
from fitsense_core.coach.answers.context import Context, Draft, num, restriction_note
from fitsense_core.coach.answers.nutrition import allergy_sentence
from fitsense_core.coach.knowledge import diet_exclusions
from fitsense_core.coach.knowledge_base import Record
from fitsense_core.coach.topics import classify_topic, exercise_mentioned_in
from fitsense_core.profile import UserProfile
from fitsense_core.programming import eligible_exercises
from fitsense_core.reference import BODY_REGION_TAGS
from fitsense_core.replies import COACHING_TOPICS, CoachReply
from fitsense_core.reply_checks import pain_matters
from fitsense_core.safety import CLEARANCE_NOTE, EMERGENCY_MESSAGE, SafetyLevel, Triage
from fitsense_core.safety.matching import normalise
from fitsense_core.safety.rules import REGION_MENTION

MIN_BODY_CHARS = 300
# What the student learns to write (student.data.REPLY_TARGET_CHARS leaves a little room).
MAX_BODY_CHARS = 900
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


# Which personalised builder adds the person's own numbers to an answer on each
# knowledge-base topic (the others are answered from the records alone).
BUILDER_FOR: dict[str, str] = {
    "training": "progression",
    "progression": "progression",
    "recovery": "recovery",
    "sleep": "sleep",
    "nutrition": "nutrition",
    "technique": "technique",
}
# The knowledge-base topics a question composed as a coaching topic may be answered from.
KB_TOPICS_FOR: dict[str, tuple[str, ...]] = {
    "progression": ("progression", "training"),
    "recovery": ("recovery", "injury"),
    "sleep": ("sleep",),
    "nutrition": ("nutrition", "supplements"),
    "technique": ("technique", "injury"),
}
# Advice about these moves the body: an injury or condition note belongs in front of it.
MOVEMENT_TOPICS = frozenset(
    {"training", "progression", "recovery", "technique", "injury", "cardio"}
)
# Answers on these name foods: a person's food allergies are acknowledged.
FOOD_TOPICS = frozenset({"nutrition", "supplements"})
# A second record joins the first when it is on the same topic and nearly as close.
SECOND_RECORD_MARGIN = 0.08


def _touches_restriction(ctx: Context, topic: str) -> bool:
    """Whether advice on ``topic`` for this question touches what the person must work
    around: it moves the body and is about technique or an injury, or the question names
    an exercise, speaks of pain, or names the restricted part of the body."""
    if topic not in MOVEMENT_TOPICS:
        return False
    if topic in ("technique", "injury") or exercise_mentioned_in(ctx.question) is not None:
        return True
    if pain_matters(ctx.question, None):
        return True
    question = normalise(ctx.question)
    return any(
        pattern.search(question)
        for region, pattern in REGION_MENTION.items()
        if set(BODY_REGION_TAGS.get(region, ())) & ctx.blocked
    )


def _lead(ctx: Context, topic: str | None = None) -> str:
    """The clearance note for a clearance case (whatever is asked: the safety policy
    wants the advice to see a doctor in every answer to such a person), and the note on
    what the answer works around only where the advice touches it
    (:func:`_touches_restriction`; ``topic`` None: always)."""
    parts = [CLEARANCE_NOTE] if ctx.clearance else []
    note = restriction_note(ctx) if topic is None or _touches_restriction(ctx, topic) else None
    if note:
        parts.append(note)
    return " ".join(parts)


def safety_lead(
    profile: UserProfile, triage: Triage, topic: str | None = None, question: str = ""
) -> str:
    """What leads an answer on ``topic`` (a knowledge-base topic; None: any) to
    ``question`` from this person for this triage ("" when nothing does): the clearance
    note for a clearance case, then the note on what the answer works around where the
    advice touches it. Emergencies get none: the policy's message is the whole answer."""
    if triage.level == SafetyLevel.EMERGENCY:
        return ""
    return _lead(_context(question, profile, triage, pool=False), topic)


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


def grounding(question: str, profile: UserProfile, topic: str | None = None) -> list[retrieval.Hit]:
    """The knowledge records an answer to ``question`` for this person rests on, best
    first: the closest record that applies to them (at least :data:`retrieval.MIN_SCORE`),
    and a second on the same topic when it is nearly as close. ``topic``: the coaching
    topic the question was composed as (records of its knowledge-base topics only).
    Empty when no record is close enough."""
    hits = retrieval.retrieve(question, profile, k=8)
    # A diet the question states rules out records the base keeps from people allergic to
    # what it leaves out (whey and casein for "I'm vegan").
    diet = diet_exclusions(question)
    if diet:
        hits = [h for h in hits if not h.record.applies.allergens_none & diet]
    if topic is not None:
        hits = [h for h in hits if h.record.topic in KB_TOPICS_FOR[topic]]
    hits = [h for h in hits if h.score >= retrieval.MIN_SCORE]
    if not hits:
        return []
    best = hits[0]
    chosen = [best]
    for h in hits[1:]:
        if h.record.topic == best.record.topic and h.score >= best.score - SECOND_RECORD_MARGIN:
            chosen.append(h)
            break
    return chosen


def personal_lines(records: list[Record], profile: UserProfile) -> list[str]:
    """The records' per-kg figures worked out for this person's body weight."""
    lines = []
    for r in records:
        if r.personalise != "per_kg_body_weight":
            continue
        for key, (lo, hi) in r.quantities.items():
            if not key.endswith("_per_kg"):
                continue
            what, _, unit = key[: -len("_per_kg")].rpartition("_")
            what = what.replace("_", " ")
            if profile.weight_kg is None:
                lines.append(f"Log your body weight and I'll work out your own {what} figure.")
                continue
            w = profile.weight_kg
            low, high = round(lo * w), round(hi * w)
            amount = f"{low}" if low == high else f"{low}-{high}"
            lines.append(f"At your {num(w)} kg that is about {amount} {unit} of {what}.")
    return list(dict.fromkeys(lines))


def _kb_topic(question: str, hits: list[retrieval.Hit], topic: str | None) -> str:
    if hits:
        return hits[0].record.topic
    return KB_TOPICS_FOR[topic or classify_topic(question)][0]


def answer_topic(question: str, profile: UserProfile, topic: str | None = None) -> str:
    """The knowledge-base topic an answer to ``question`` is on (what its notes depend
    on): its closest record's, else the coaching topic's. ``topic`` as in
    :func:`answer_question`; anything but a coaching topic counts as none."""
    topic = topic if topic in COACHING_TOPICS else None
    return _kb_topic(question, grounding(question, profile, topic), topic)


NO_RECORD = (
    "I don't have a vetted answer to that in my knowledge base, so I won't guess. I can "
    "help with training, progression, recovery, sleep, nutrition, supplements, technique, "
    "injuries, cardio and motivation: ask me about one of those."
)


def _draft(ctx: Context, kb_topic: str, hits: list[retrieval.Hit], topic: str | None) -> Draft:
    """The records' facts first, then what the personalised builder adds (the person's own
    logs and prescriptions) when the question is about what that builder covers, else the
    records' per-kg figures worked out for the person. Without a record close enough: an
    honest 'not in my knowledge base' (the teacher's composed topics keep their builder)."""
    records = [h.record for h in hits]
    facts = [r.text for r in records]
    named = kb_topic in ("technique", "injury") and exercise_mentioned_in(ctx.question) is not None
    # A named exercise gets its own cues, or a safe alternative where it is ruled out.
    builder = "technique" if named else BUILDER_FOR.get(kb_topic)
    asked = topic or classify_topic(ctx.question)
    if builder is not None and (builder == asked or named) and (records or topic):
        personal = _BUILDERS[builder](replace(ctx, stated=frozenset(r.id for r in records[:1])))
        # One record beside the builder's part: room for the person's own numbers.
        facts = facts[:1]
        if named:  # its cues or its safe alternative open the answer, the record next
            body = [*personal.body[:1], *facts, *personal.body[1:]]
        else:
            body = [*facts, *personal.body]
        essential = (*personal.essential, *facts)
        return Draft(body, personal.extras, personal.key_points, essential, tuple(records[:1]))
    if not records:
        return Draft([NO_RECORD], [], ["Ask about training, food, sleep or recovery"], (NO_RECORD,))
    facts += personal_lines(records, ctx.profile)
    essential = tuple(facts[:1])
    allergies = allergy_sentence(ctx.profile) if kb_topic in FOOD_TOPICS else None
    if allergies:  # the records that reach them avoid their allergens (Applies)
        facts.append(allergies)
        essential += (allergies,)
    return Draft(facts, [], [r.title for r in records], essential, tuple(records))


def answer_question(
    question: str, profile: UserProfile, triage: Triage, topic: str | None = None
) -> CoachReply:
    """A coaching answer for one person grounded in the knowledge records it cites, or only
    the urgent-care message in an emergency. ``topic``: the coaching topic the question was
    composed as (the teacher's prompts), else it is found from the question."""
    if triage.level == SafetyLevel.EMERGENCY:
        return CoachReply(
            answer=triage.message or EMERGENCY_MESSAGE, key_points=[], refer_to_emergency=True
        )
    if topic is not None and topic not in COACHING_TOPICS:
        raise ValueError(f"unknown coaching topic {topic!r}; expected one of {COACHING_TOPICS}")
    hits = grounding(question, profile, topic)
    kb_topic = _kb_topic(question, hits, topic)
    ctx = _context(question, profile, triage, pool=True)
    draft = _draft(ctx, kb_topic, hits, topic)
    body = _fit_body(draft)
    lead = _lead(ctx, kb_topic)
    clearance = CLEARANCE_NOTE in lead
    key_points = list(dict.fromkeys(draft.key_points))
    if clearance:
        key_points = ["See a doctor for clearance first", *key_points]
    while len(key_points) < 2:
        key_points.append(_FALLBACK_EXTRAS[len(key_points) % 2].rstrip("."))
    return CoachReply(
        answer=with_lead(lead, body),
        key_points=key_points[:5],
        needs_medical_clearance=clearance,
        citations=[r.id for r in draft.records if r.text in body],
    )
