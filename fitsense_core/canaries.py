"""Canaries: known-bad teacher outputs planted in every run's QA, to show it catches them.

A validator that accepts everything looks the same as one that has nothing to reject.
Each run, :func:`plant_canaries` takes a few of the run's own prompts per kind (chosen by
a hash of the run id, so every run plants different ones) and writes a known-bad answer
for each; the canaries are judged by ``qa.validate_answers`` beside the real answers and
never reach the dataset. Their recall (the share rejected) is in the QA report
(``reports/<run>/canaries.json``) and a blocking asset check requires 100 %.

Kinds (:data:`CANARY_KINDS`):

- ``dismisses_pain``: "ignore the ache and keep lifting heavy" to a person with an injury
  or a restricting condition;
- ``false_alarm``: emergency wording for an ordinary coaching question;
- ``needless_clearance``: "get clearance from your doctor" for an ordinary question of a
  person with nothing calling for it;
- ``off_topic``: an answer about something other than what was asked;
- ``copied_plan``: a plan update identical to the current plan;
- ``wrong_direction``: a "too easy" update that takes sets away and moves every set
  further from failure (or a recovery update that adds sets at failure);
- ``repeated_exercise``: a new plan with the same exercise twice in one day.
"""

from __future__ import annotations

import hashlib
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from fitsense_core.plan_contract import Plan
from fitsense_core.prompts import Prompt, context_from_json
from fitsense_core.qa import ValidatedAnswer, validate_answers
from fitsense_core.replies import CoachReply
from fitsense_core.reply_checks import clearance_cause, pain_matters
from fitsense_core.safety import SafetyLevel
from fitsense_core.teacher.base import TeacherAnswer

CANARY_NAMESPACE = uuid.UUID("6a1f0d3c-8e2b-4f57-a9c4-3d5e7b1f2c08")
CANARY_SOURCE = "canary"
PER_KIND = 2

DISMISSIVE_ANSWER = (
    "Ignore the ache and keep lifting heavy; soreness in the joint is normal. Add weight "
    "every session and push through it until it settles."
)
ALARM_ANSWER = (
    "Please stop exercising now and call your local emergency number or go to the nearest "
    "emergency room right away; do not train until you have been seen."
)
CLEARANCE_LEAD = "Please get clearance from your doctor before following this advice. "
# An answer about another topic, for each topic asked (none uses the asked topic's words).
OFF_TOPIC_ANSWERS = {
    "progression": "Aim for 7 to 9 hours of sleep in a dark, cool bedroom, and keep a "
    "regular bedtime with screens off an hour before.",
    "recovery": "Key cues: grip the bar just outside the shoulders, tuck the elbows to 45 "
    "degrees, keep the chest up and the feet flat on the floor.",
    "sleep": "Eat 1.6 to 2.2 g of protein per kg a day over 3 to 4 meals, with carbs "
    "around training and plenty of vegetables.",
    "nutrition": "Key cues: grip the bar just outside the shoulders, tuck the elbows to 45 "
    "degrees, keep the chest up and the feet flat on the floor.",
    "technique": "Eat 1.6 to 2.2 g of protein per kg a day over 3 to 4 meals, with carbs "
    "around training and plenty of vegetables.",
}


@dataclass(frozen=True)
class Canary:
    kind: str
    prompt: Prompt
    answer: TeacherAnswer


def _reply(text: str, *, clearance: bool = False, emergency: bool = False) -> str:
    return CoachReply(
        answer=text,
        key_points=[],
        needs_medical_clearance=clearance,
        refer_to_emergency=emergency,
    ).model_dump_json()


def _teacher_reply(answer: TeacherAnswer) -> str:
    return CoachReply.model_validate_json(answer.output_json or "").answer


def _current(prompt: Prompt) -> Plan | None:
    return context_from_json(prompt.context_json)[1]


def _ordinary(prompt: Prompt) -> bool:
    return prompt.prompt_type == "coaching" and prompt.expected_safety_level == SafetyLevel.OK


def _is_update(prompt: Prompt, *intents: str) -> bool:
    return (
        prompt.prompt_type == "plan_update"
        and prompt.output_type == "plan"
        and prompt.expected_safety_level != SafetyLevel.NEEDS_CLEARANCE
        and _current(prompt) is not None
        and (not intents or prompt.topic in intents)
    )


def _dismisses_pain(prompt: Prompt, _answer: TeacherAnswer) -> str | None:
    profile = context_from_json(prompt.context_json)[0]
    if prompt.prompt_type != "coaching" or not pain_matters(prompt.request, profile):
        return None
    if prompt.expected_safety_level not in (SafetyLevel.OK, SafetyLevel.INJURY_AWARE):
        return None
    return _reply(DISMISSIVE_ANSWER)


def _false_alarm(prompt: Prompt, _answer: TeacherAnswer) -> str | None:
    return _reply(ALARM_ANSWER, emergency=True) if _ordinary(prompt) else None


def _needless_clearance(prompt: Prompt, answer: TeacherAnswer) -> str | None:
    profile = context_from_json(prompt.context_json)[0]
    if not _ordinary(prompt) or clearance_cause(prompt.request, profile):
        return None
    return _reply(CLEARANCE_LEAD + _teacher_reply(answer), clearance=True)


def _off_topic(prompt: Prompt, _answer: TeacherAnswer) -> str | None:
    if prompt.prompt_type != "coaching" or prompt.topic not in OFF_TOPIC_ANSWERS:
        return None
    return _reply(OFF_TOPIC_ANSWERS[prompt.topic])


def _copied_plan(prompt: Prompt, _answer: TeacherAnswer) -> str | None:
    current = _current(prompt) if _is_update(prompt) else None
    return current.model_dump_json() if current is not None else None


def _wrong_direction(prompt: Prompt, _answer: TeacherAnswer) -> str | None:
    current = _current(prompt) if _is_update(prompt, "too_easy", "poor_recovery") else None
    if current is None:
        return None
    data = current.model_dump()
    changed = False
    for day in data["days"]:
        for ex in day["exercises"]:
            sets = ex["sets"]
            if prompt.topic == "too_easy" and sets:
                # Less work, further from failure, for "make it harder".
                kept = sets[:-1] if len(sets) > 1 else sets
                ex["sets"] = [dict(st, target_rir=min(5, st["target_rir"] + 2)) for st in kept]
                changed = True
            elif prompt.topic == "poor_recovery" and sets and len(sets) < 6:
                extra = dict(sets[-1], set_number=len(sets) + 1, target_rir=0)
                ex["sets"] = [*sets, extra]  # more work, closer to failure, for "I'm wrecked"
                changed = True
    return Plan.model_validate(data).model_dump_json() if changed else None


def _repeated_exercise(prompt: Prompt, answer: TeacherAnswer) -> str | None:
    if prompt.prompt_type != "plan_creation" or answer.output_type != "plan":
        return None
    data = Plan.model_validate_json(answer.output_json or "").model_dump()
    for day in data["days"]:
        exercises = day["exercises"]
        if len(exercises) >= 2:
            twin = dict(exercises[0], position=exercises[1]["position"])
            day["exercises"] = [exercises[0], twin, *exercises[2:]]
            return Plan.model_validate(data).model_dump_json()
    return None


MAKERS: dict[str, Callable[[Prompt, TeacherAnswer], str | None]] = {
    "dismisses_pain": _dismisses_pain,
    "false_alarm": _false_alarm,
    "needless_clearance": _needless_clearance,
    "off_topic": _off_topic,
    "copied_plan": _copied_plan,
    "wrong_direction": _wrong_direction,
    "repeated_exercise": _repeated_exercise,
}
CANARY_KINDS = tuple(MAKERS)


def plant_canaries(
    run_id: str,
    prompts: Sequence[Prompt],
    answers: Sequence[TeacherAnswer],
    per_kind: int = PER_KIND,
) -> list[Canary]:
    """Up to ``per_kind`` canaries of every kind, each on a different prompt of the run
    that suits the kind (taken in the order of a hash of run id, kind and prompt id)."""
    by_id = {a.prompt_id: a for a in answers if a.status == "ok" and a.output_json}
    canaries = []
    for kind, make in MAKERS.items():
        order = sorted(
            (p for p in prompts if p.prompt_id in by_id),
            key=lambda p: hashlib.sha256(f"{run_id}/{kind}/{p.prompt_id}".encode()).hexdigest(),
        )
        planted = 0
        for prompt in order:
            if planted == per_kind:
                break
            bad = make(prompt, by_id[prompt.prompt_id])
            if bad is None:
                continue
            planted += 1
            cid = str(uuid.uuid5(CANARY_NAMESPACE, f"{run_id}/{kind}/{planted}"))
            output_type = "plan" if kind in ("copied_plan", "wrong_direction") else None
            answer = replace(
                by_id[prompt.prompt_id],
                prompt_id=cid,
                source=CANARY_SOURCE,
                output_json=bad,
                output_type=output_type or by_id[prompt.prompt_id].output_type,
            )
            canaries.append(Canary(kind, replace(prompt, prompt_id=cid), answer))
    return canaries


def judge_canaries(canaries: Sequence[Canary]) -> list[ValidatedAnswer]:
    return validate_answers([c.prompt for c in canaries], [c.answer for c in canaries])


def canary_report(canaries: Sequence[Canary], judged: Sequence[ValidatedAnswer]) -> dict[str, Any]:
    """Planted and caught per kind, recall, the kinds no prompt suited, what was missed."""
    kinds = {c.prompt.prompt_id: c.kind for c in canaries}
    planted = Counter(kinds.values())
    caught = Counter(kinds[v.prompt.prompt_id] for v in judged if not v.accepted)
    missed = [
        {"kind": kinds[v.prompt.prompt_id], "prompt_request": v.prompt.request}
        for v in judged
        if v.accepted
    ]
    total = sum(planted.values())
    return {
        "planted": total,
        "caught": sum(caught.values()),
        "recall": round(sum(caught.values()) / total, 4) if total else None,
        "by_kind": {
            k: {
                "planted": planted[k],
                "caught": caught[k],
                "codes": sorted(
                    {c for v in judged if kinds[v.prompt.prompt_id] == k for c in v.codes}
                ),
            }
            for k in CANARY_KINDS
        },
        "not_planted": [k for k in CANARY_KINDS if not planted[k]],
        "missed": missed,
    }
