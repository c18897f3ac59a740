"""What the student reads and writes: compact prompts and targets built from the
distillation dataset, and the same rendering the server uses at inference time.

The student's prompt is a few short lines (about 60-150 tokens) instead of the teacher's
prose: every token costs training and inference time on a CPU. It carries the person's
constraints, the request, and for updates the current plan in compact form with the
logged effort against the targets.

Targets are what the student should learn to say, whole: a plan in compact form, or a
reply's body without the safety lead the server adds in front of it at serving time
(:func:`fitsense_core.inference.serve.reply_lead`), never cut mid-answer
(:func:`reply_target` raises for a body over :data:`REPLY_TARGET_CHARS`).
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Any

from fitsense_core.coach.answers import answer_body, answer_topic, grounding, safety_lead
from fitsense_core.errors import DataValidationError
from fitsense_core.plan_contract import Plan
from fitsense_core.profile import LoggedSession, UserProfile
from fitsense_core.programming import Athlete
from fitsense_core.prompts import context_from_json, one_line, slice_tags
from fitsense_core.safety import (
    CLEARANCE_NOTE,
    CRISIS_MESSAGE,
    EMERGENCY_MESSAGE,
    INJURY_NOTE,
    SafetyLevel,
    triage,
)
from fitsense_core.student.compact import Codebook, encode_plan

SYSTEM_PLAN = "FitSense coach. Reply with a compact plan."
SYSTEM_REPLY = "FitSense coach. Answer the request briefly from the facts given."
# The longest reply target: the coach's answer bodies are at most 900 characters
# (coach.answers.MAX_BODY_CHARS: a knowledge record, then the personal part), whole
# sentences; a longer one is an error, not a cut.
REPLY_TARGET_CHARS = 920
LOG_ENTRIES = 8


@dataclass(frozen=True)
class StudentTask:
    """One request as the student sees it, with what is needed to check the answer."""

    id: str
    prompt_type: str
    output_type: str
    request: str
    profile: UserProfile
    current_plan: Plan | None
    sessions: tuple[LoggedSession, ...]
    blocked_tags: frozenset[str]
    safety_level: str
    slices: dict[str, str]
    topic: str

    @property
    def athlete(self) -> Athlete:
        athlete = replace(self.profile.athlete(), blocked_tags=self.blocked_tags)
        days = self.requested_days
        return replace(athlete, days_per_week=days) if days else athlete

    @cached_property
    def requested_days(self) -> int | None:
        """The training days an update asks for when fewer than the current plan's ("I only
        have 3 days now"): the plan is then judged, and decoded, for that many days. Cached:
        ``athlete`` is read many times per judgement."""
        if self.prompt_type != "plan_update" or self.current_plan is None:
            return None
        from fitsense_core.coach.plans import fewer_days

        return fewer_days(self.request, self.current_plan)

    @property
    def conservative(self) -> bool:
        return self.safety_level == "needs_clearance"


def task_from_record(record: dict[str, Any]) -> StudentTask:
    meta = record["metadata"]
    profile, plan, sessions = context_from_json(meta["context_json"])
    return StudentTask(
        id=record["id"],
        prompt_type=meta["prompt_type"],
        output_type=meta["output_type"],
        request=meta["request"],
        profile=profile,
        current_plan=plan,
        sessions=sessions,
        blocked_tags=frozenset(meta["expected_blocked_tags"]),
        safety_level=meta["expected_safety_level"],
        slices=meta["slices"],
        topic=meta["topic"],
    )


def live_task(
    task_id: str,
    prompt_type: str,
    request: str,
    profile: UserProfile,
    current_plan: Plan | None = None,
    sessions: tuple[LoggedSession, ...] = (),
) -> StudentTask:
    """A request arriving at the API as the student sees it: triaged by the same policy
    and tagged the same way as the dataset's prompts (``build_prompts``), so that
    ``render_task`` gives the served model exactly the prompt it was trained on."""
    verdict = triage(request, profile)
    wants_plan = prompt_type in ("plan_creation", "plan_update")
    return StudentTask(
        id=task_id,
        prompt_type=prompt_type,
        output_type="plan" if wants_plan and verdict.allows_plan else "reply",
        request=request,
        profile=profile,
        current_plan=current_plan,
        sessions=sessions,
        blocked_tags=frozenset(verdict.blocked_tags),
        safety_level=str(verdict.level),
        slices=slice_tags(profile, prompt_type),
        topic="",
    )


def _log_line(task: StudentTask, codebook: Codebook) -> str:
    from fitsense_core.plan_contract import resolve_exercise

    deltas: dict[int, list[tuple[float, float]]] = defaultdict(list)
    for session in task.sessions:
        for ex in session.exercises:
            exercise = resolve_exercise(ex.exercise_name)
            if exercise is None:
                continue
            for s in ex.sets:
                if s.target_reps is not None and s.rir is not None and s.target_rir is not None:
                    deltas[codebook.exercise_number(exercise)].append(
                        (s.rir - s.target_rir, s.reps - s.target_reps)
                    )
    # Only what deviates from the targets, largest first: that is what an update acts on.
    notable = []
    for number, rows in deltas.items():
        rir = sum(r for r, _ in rows) / len(rows)
        reps = sum(p for _, p in rows) / len(rows)
        if abs(rir) >= 0.8 or abs(reps) >= 1.5:
            notable.append((abs(rir) + abs(reps) / 2, number, rir, reps))
    parts = [
        f"{number} {rir:+.1f}/{reps:+.1f}"
        for _, number, rir, reps in sorted(notable, reverse=True)[:LOG_ENTRIES]
    ]
    return ", ".join(sorted(parts, key=lambda p: int(p.split()[0]))) or "on target"


def render_task(task: StudentTask, codebook: Codebook) -> list[dict[str, str]]:
    p = task.profile
    goals = ">".join(p.goals) or "general_fitness"
    # Sorted: the set of conditions matters, not the order a source happens to list them in.
    conditions = ",".join(f"{c}:{s}" for c, s in sorted(p.conditions)) or "none"
    lines = [
        f"task: {task.prompt_type}",
        f"person: {p.age} {p.sex} {p.experience} | goals {goals} | {p.days_per_week} days x "
        f"{p.session_length_min} min | eq {' '.join(sorted(p.equipment)) or 'none'} | "
        f"avoid {' '.join(sorted(task.blocked_tags)) or 'none'} | cond {conditions}",
    ]
    if task.output_type == "reply":
        s = p.signals

        def num(value: float | None, fmt: str = ".1f") -> str:
            return "-" if value is None else format(value, fmt)

        lines.append(
            f"recent: sleep {num(s.sleep_hours)}/{num(s.sleep_target_hours)}h kcal "
            f"{num(s.calories, '.0f')}/{num(s.calorie_target, '.0f')} trend "
            f"{num(s.weight_trend_kg_per_week, '+.2f')}kg/wk sore {num(s.soreness)} "
            f"sessions {num(s.sessions_per_week)}/wk"
        )
        # The knowledge records an answer is grounded in: the student learns to answer from
        # them (the teacher's answer rests on the same records, or its topic's nearest).
        # As the API will have them: retrieved for the request alone (no composed topic).
        for hit in grounding(task.request, p):
            lines.append(f"fact {hit.record.id}: {hit.record.text}")
    if task.prompt_type == "plan_update" and task.current_plan is not None:
        lines.append(f"current: {encode_plan(task.current_plan, codebook, approximate=True)}")
        lines.append(f"log (rir/reps vs target): {_log_line(task, codebook)}")
    lines.append(f"request: {one_line(task.request)}")
    system = SYSTEM_PLAN if task.output_type == "plan" else SYSTEM_REPLY
    return [{"role": "system", "content": system}, {"role": "user", "content": "\n".join(lines)}]


class TargetError(DataValidationError):
    """A record's target is not something the student should learn as it is."""


# How a reply opens when it leads with the safety policy's words: the notes the server adds
# itself (clearance, restriction), the policy's own emergency and crisis answers.
_POLICY_OPENINGS = tuple(
    note[:40] for note in (CLEARANCE_NOTE, EMERGENCY_MESSAGE, CRISIS_MESSAGE, INJURY_NOTE)
)
_PREAMBLE = re.compile(
    r"^(?:working around\b|please stop exercising|please get clearance|"
    r"(?:call|contact) (?:your local )?emergency|see a doctor (?:before|first)|"
    r"stop (?:now|exercising))",
    re.I,
)


def safety_preamble(text: str) -> str | None:
    """The safety preamble ``text`` opens with (its first sentence), or None: the server
    adds these itself, so a reply target must not open with one."""
    opening = " ".join(text.split())
    if opening.startswith(_POLICY_OPENINGS) or _PREAMBLE.match(opening):
        return re.split(r"(?<=[.!?:])\s+", opening, maxsplit=1)[0][:120]
    return None


def reply_target(text: str, lead: str = "", limit: int = REPLY_TARGET_CHARS) -> str:
    """The teacher's answer without ``lead`` (the safety lead the server adds in front of
    the model's words), whitespace normalised, whole: a body over ``limit`` characters
    raises :class:`TargetError` rather than being cut mid-answer."""
    body = " ".join(answer_body(text, lead).split())
    if len(body) > limit:
        raise TargetError(
            f"the reply target is {len(body)} characters, over the {limit} the student "
            f"learns whole (answers are never cut): {body[:80]!r}..."
        )
    return body


def reply_lead_of(task: StudentTask) -> str:
    """The safety lead the server puts before the model's reply to ``task``."""
    verdict = triage(task.request, task.profile)
    if verdict.level == SafetyLevel.EMERGENCY:
        return ""
    topic = answer_topic(task.request, task.profile, task.topic)
    return safety_lead(task.profile, verdict, topic, task.request)


def target_text(record: dict[str, Any], codebook: Codebook) -> str:
    """What the student learns to answer ``record``: the plan in compact form, or the
    reply's body (:func:`reply_target`)."""
    content = record["messages"][-1]["content"]
    if record["metadata"]["output_type"] == "plan":
        return encode_plan(Plan.model_validate_json(content), codebook)
    return reply_target(content, reply_lead_of(task_from_record(record)))


def sft_example(record: dict[str, Any], codebook: Codebook) -> dict[str, Any]:
    """A prompt-completion example (trl computes the loss on the completion only)."""
    task = task_from_record(record)
    return {
        "id": record["id"],
        "prompt": render_task(task, codebook),
        "completion": [{"role": "assistant", "content": target_text(record, codebook)}],
    }


def teacher_plans(records: list[dict[str, Any]]) -> list[Plan]:
    plans = []
    for record in records:
        if record["metadata"]["output_type"] == "plan":
            plans.append(Plan.model_validate_json(record["messages"][-1]["content"]))
        meta_context = json.loads(record["metadata"]["context_json"])
        if meta_context.get("current_plan"):
            plans.append(Plan.model_validate(meta_context["current_plan"]))
    return plans
