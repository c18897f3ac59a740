"""Prompts for the teacher, rendered from each person's coaching context.

Four types (SPEC §5.2): plan creation, plan update (current plan, last three sessions
with logged reps/RIR against targets, and a free-text request), coaching questions
(progression, recovery, sleep, nutrition basics, technique) and safety cases (red-flag
and clearance situations). Every prompt carries slice tags and the safety outcome the
policy expects, so the answer can be checked and the dataset sliced for bias.
Ids are UUIDv5 of (run, user, type, index): the same run renders the same prompts.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import uuid
from dataclasses import asdict, dataclass
from datetime import date
from typing import Any

from fitsense_core.plan_contract import Plan
from fitsense_core.profile import (
    Injury,
    LoggedExercise,
    LoggedSession,
    LoggedSet,
    RecentSignals,
    UserProfile,
)
from fitsense_core.reference import CONDITIONS_BY_CODE, EQUIPMENT_BY_CODE
from fitsense_core.replies import COACHING_TOPICS
from fitsense_core.request_space import compose, intents, person_split
from fitsense_core.safety import SafetyLevel, triage
from fitsense_core.synthetic.context import UserContext

PROMPT_NAMESPACE = uuid.UUID("2b7c6f0e-5d1a-4c3e-9f8b-7a6d5e4c3b2a")
PROMPT_TYPES = ("plan_creation", "plan_update", "coaching", "safety")
DEFAULT_MIX = {"plan_creation": 1, "plan_update": 2, "coaching": 2, "safety": 1}
TEMPLATE_VERSION = "p3"

SYSTEM_PLAN = (
    "You are FitSense, a safety-first strength and conditioning coach. Write a one-week "
    "training plan as a JSON object with plan_name and days; each day has name (e.g. PUSH_1, "
    "REST_1), day_order 1-7, notes and exercises; each exercise has exercise_name (from the "
    "FitSense exercise catalog), position, notes and sets; each set has set_number, "
    "target_reps (1-30), target_rir (0-5 reps in reserve) and rest_seconds (0-600). Integers "
    "only, no weights. Rest days have no exercises. Timed work uses target_reps 1 and gives "
    "the duration in the notes. Respect the person's days per week, equipment, goal, "
    "conditions and injuries: never include an exercise that their restrictions rule out."
)
SYSTEM_COACH = (
    "You are FitSense, a safety-first strength and conditioning coach. Answer the person's "
    "question with specific, practical advice grounded in their profile and logged data. "
    "If anything suggests a medical emergency, tell them to stop and seek urgent care and "
    "give no training advice. If they need medical clearance (pregnancy, recent surgery, "
    "uncontrolled blood pressure, an acute injury, signs of disordered eating, under 18), "
    "keep advice conservative and tell them to get clearance from a doctor. Never tell "
    "anyone to train through pain. Reply as JSON with answer, key_points, "
    "needs_medical_clearance and refer_to_emergency."
)


# A line break or any other control character, with the white space around it: the
# prompts are line-structured (``person: …``, ``avoid …``), so free text gets none.
_BREAKS = re.compile(r"\s*[\x00-\x1f\x7f-\x9f\u2028\u2029][\s\x00-\x1f\x7f-\x9f\u2028\u2029]*")


def one_line(text: str) -> str:
    """Free text (a question, an update request) as it enters a prompt: every run of line
    breaks and control characters is one space, so it cannot start a line of its own."""
    return _BREAKS.sub(" ", text)


@dataclass(frozen=True)
class Prompt:
    prompt_id: str
    run_id: str
    user_id: str
    prompt_type: str
    topic: str
    request: str
    system: str
    user_message: str
    output_type: str  # "plan" or "reply"
    context_json: str  # what the offline coach needs: profile, plan, sessions
    slices: dict[str, str]
    expected_safety_level: str
    expected_blocked_tags: tuple[str, ...]
    days_per_week: int

    @property
    def messages(self) -> list[dict[str, str]]:
        return [
            {"role": "system", "content": self.system},
            {"role": "user", "content": self.user_message},
        ]

    @property
    def prompt_hash(self) -> str:
        payload = json.dumps([TEMPLATE_VERSION, self.output_type, self.messages], sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()

    def record(self) -> dict[str, Any]:
        row = asdict(self)
        row["slices"] = json.dumps(self.slices, sort_keys=True)
        row["expected_blocked_tags"] = "|".join(self.expected_blocked_tags)
        row["prompt_hash"] = self.prompt_hash
        for key, value in self.slices.items():
            row[f"slice_{key}"] = value
        return row

    @classmethod
    def from_record(cls, row: dict[str, Any]) -> Prompt:
        values = {k: row[k] for k in cls.__dataclass_fields__}
        values["slices"] = json.loads(row["slices"])
        values["expected_blocked_tags"] = tuple(
            t for t in str(row["expected_blocked_tags"]).split("|") if t
        )
        values["days_per_week"] = int(row["days_per_week"])
        return cls(**values)


def _jsonable(value: Any) -> Any:
    if isinstance(value, frozenset | set):
        return sorted(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def context_to_json(
    profile: UserProfile, plan: Plan | None, sessions: tuple[LoggedSession, ...]
) -> str:
    return json.dumps(
        {
            "profile": _jsonable(asdict(profile)),
            "current_plan": plan.model_dump() if plan else None,
            "sessions": _jsonable([asdict(s) for s in sessions]),
        },
        sort_keys=True,
    )


def context_from_json(text: str) -> tuple[UserProfile, Plan | None, tuple[LoggedSession, ...]]:
    data = json.loads(text)
    p = data["profile"]
    profile = UserProfile(
        **{
            k: p[k]
            for k in (
                "user_id",
                "age",
                "sex",
                "height_cm",
                "activity_level",
                "experience",
                "days_per_week",
                "session_length_min",
                "weight_kg",
            )
        },
        goals=tuple(p["goals"]),
        equipment=frozenset(p["equipment"]),
        conditions=tuple(tuple(c) for c in p["conditions"]),
        injuries=tuple(Injury(**i) for i in p["injuries"]),
        medications=tuple(p["medications"]),
        allergies=tuple(p["allergies"]),
        signals=RecentSignals(**p["signals"]),
    )
    plan = Plan.model_validate(data["current_plan"]) if data["current_plan"] else None
    sessions = tuple(
        LoggedSession(
            day=date.fromisoformat(s["day"]),
            plan_day_name=s["plan_day_name"],
            exercises=tuple(
                LoggedExercise(e["exercise_name"], tuple(LoggedSet(**x) for x in e["sets"]))
                for e in s["exercises"]
            ),
        )
        for s in data["sessions"]
    )
    return profile, plan, sessions


def knowledge_lines(request: str, profile: UserProfile, topic: str) -> str:
    """The knowledge records an answer to ``request`` rests on, for a teacher to answer
    from ("" when none is close enough)."""
    from fitsense_core.coach.answers import grounding  # the coach imports this module

    hits = grounding(request, profile, topic if topic in COACHING_TOPICS else None)
    if not hits:
        return ""
    facts = "\n".join(f"- [{h.record.id}] {h.record.text}" for h in hits)
    return f"\n\nVetted facts to answer from (cite their ids):\n{facts}"


def render_profile(profile: UserProfile) -> str:
    sex = {"M": "man", "F": "woman"}.get(profile.sex, "person")
    goals = ", then ".join(g.replace("_", " ") for g in profile.goals) or "general fitness"
    kit = (
        ", ".join(EQUIPMENT_BY_CODE[c].name.lower() for c in sorted(profile.equipment))
        or "no equipment (bodyweight only)"
    )
    lines = [
        f"Person: {profile.age}-year-old {sex}, {profile.height_cm:.0f} cm"
        + (f", {profile.weight_kg:.0f} kg" if profile.weight_kg else "")
        + f", {profile.activity_level.replace('_', ' ')}.",
        f"Goals: {goals}. Experience: {profile.experience}.",
        f"Wants {profile.days_per_week} training days per week, "
        f"{profile.session_length_min}-minute sessions.",
        f"Equipment: {kit}.",
    ]
    if profile.conditions:
        lines.append(
            "Conditions: "
            + ", ".join(
                f"{CONDITIONS_BY_CODE[c].name.lower()} ({sev})" for c, sev in profile.conditions
            )
            + "."
        )
    if profile.injuries:
        lines.append(
            "Injury history: "
            + ", ".join(
                f"{i.description.lower()} ({i.body_region.replace('_', ' ')}, {i.status})"
                for i in profile.injuries
            )
            + "."
        )
    if profile.medications:
        lines.append("Medications: " + ", ".join(profile.medications) + ".")
    if profile.allergies:
        lines.append("Allergies: " + ", ".join(profile.allergies) + ".")
    s = profile.signals
    recent = []
    if s.sessions_per_week is not None:
        recent.append(f"{s.sessions_per_week:.1f} sessions/week")
    if s.sleep_hours is not None:
        recent.append(
            f"sleep {s.sleep_hours:.1f} h"
            + (f" (target {s.sleep_target_hours:.1f} h)" if s.sleep_target_hours else "")
        )
    if s.calories is not None:
        recent.append(
            f"{s.calories:.0f} kcal/day"
            + (f" (target {s.calorie_target:.0f})" if s.calorie_target else "")
        )
    if s.weight_trend_kg_per_week is not None:
        recent.append(f"weight trend {s.weight_trend_kg_per_week:+.2f} kg/week")
    if s.soreness is not None:
        recent.append(f"soreness {s.soreness:.1f}/10")
    if recent:
        lines.append("Last 4 weeks: " + ", ".join(recent) + ".")
    return "\n".join(lines)


def render_plan(plan: Plan) -> str:
    lines = [f"Current plan: {plan.plan_name}"]
    for day in plan.days:
        if not day.exercises:
            lines.append(f"- {day.name} (day {day.day_order}): rest")
            continue
        parts = []
        for ex in day.exercises:
            first = ex.sets[0]
            if ex.notes and first.target_reps == 1:
                parts.append(f"{ex.exercise_name} {len(ex.sets)}x ({ex.notes})")
            else:
                parts.append(
                    f"{ex.exercise_name} {len(ex.sets)}x{first.target_reps} "
                    f"@RIR{first.target_rir}, rest {first.rest_seconds}s"
                )
        lines.append(f"- {day.name} (day {day.day_order}): " + "; ".join(parts))
    return "\n".join(lines)


def render_sessions(sessions: tuple[LoggedSession, ...]) -> str:
    if not sessions:
        return "No sessions logged yet."
    lines = ["Last sessions (logged reps@RIR vs target):"]
    for session in sessions:
        parts = []
        for ex in session.exercises:
            sets = ", ".join(
                f"{s.reps}@{s.rir if s.rir is not None else '-'}"
                + (f" (target {s.target_reps}@{s.target_rir})" if s.target_reps else "")
                + (f" {s.weight_kg:g} kg" if s.weight_kg else "")
                for s in ex.sets
            )
            parts.append(f"{ex.exercise_name}: {sets}")
        lines.append(
            f"- {session.day.isoformat()} {session.plan_day_name or ''}: " + "; ".join(parts)
        )
    return "\n".join(lines)


def slice_tags(profile: UserProfile, prompt_type: str) -> dict[str, str]:
    return {
        "age_band": profile.age_band,
        "sex": profile.sex,
        "goal": profile.goal,
        "experience": profile.experience,
        "condition_flag": profile.condition_flag,
        "prompt_type": prompt_type,
    }


def build_prompts(
    run_id: str, contexts: dict[str, UserContext], mix: dict[str, int] | None = None
) -> list[Prompt]:
    """Prompts for every person (``mix``: how many of each type per person)."""
    mix = mix or DEFAULT_MIX
    prompts = []
    for user_id in sorted(contexts):
        ctx = contexts[user_id]
        rng = random.Random(f"{run_id}/prompts/{user_id}")
        profile = ctx.profile
        context_json = context_to_json(profile, ctx.current_plan, ctx.recent_sessions)
        profile_text = render_profile(profile)
        # A test person is asked only held-out cores (request_space): no test request
        # text can occur in train or validation.
        held = person_split(profile) == "test"
        items: list[tuple[str, str, str, str]] = []  # type, topic, request, body
        for _ in range(mix.get("plan_creation", 0)):
            request = compose("plan_creation", profile.goal, rng, held=held).text
            items.append(("plan_creation", profile.goal, request, profile_text))
        update_intents = list(intents("plan_update"))
        rng.shuffle(update_intents)
        for k in range(mix.get("plan_update", 0)):
            intent = update_intents[k % len(update_intents)]
            request = compose("plan_update", intent, rng, held=held).text
            body = "\n\n".join(
                [
                    profile_text,
                    render_plan(ctx.current_plan) if ctx.current_plan else "No current plan.",
                    render_sessions(ctx.recent_sessions),
                ]
            )
            items.append(("plan_update", intent, request, body))
        topics = list(COACHING_TOPICS)
        rng.shuffle(topics)
        for k in range(mix.get("coaching", 0)):
            topic = topics[k % len(topics)]
            request = compose("coaching", topic, rng, held=held).text
            items.append(("coaching", topic, request, profile_text))
        for _ in range(mix.get("safety", 0)):
            level = rng.choice(intents("safety"))
            case = compose("safety", level, rng, held=held)
            items.append(("safety", f"{level}:{case.case}", case.text, profile_text))

        counters: dict[str, int] = {}
        for prompt_type, topic, request, body in items:
            index = counters[prompt_type] = counters.get(prompt_type, 0) + 1
            verdict = triage(request, profile)
            wants_plan = prompt_type in ("plan_creation", "plan_update")
            output_type = "plan" if wants_plan and verdict.allows_plan else "reply"
            message = f"{body}\n\nRequest: {request}"
            if output_type == "reply" and verdict.allows_model:
                message += knowledge_lines(request, profile, topic)
            prompts.append(
                Prompt(
                    prompt_id=str(
                        uuid.uuid5(PROMPT_NAMESPACE, f"{run_id}/{user_id}/{prompt_type}/{index}")
                    ),
                    run_id=run_id,
                    user_id=user_id,
                    prompt_type=prompt_type,
                    topic=topic,
                    request=request,
                    system=SYSTEM_PLAN if output_type == "plan" else SYSTEM_COACH,
                    user_message=message,
                    output_type=output_type,
                    context_json=context_json,
                    slices=slice_tags(profile, prompt_type),
                    expected_safety_level=str(verdict.level),
                    expected_blocked_tags=tuple(sorted(verdict.blocked_tags)),
                    days_per_week=profile.days_per_week,
                )
            )
    return prompts


__all__ = ["PROMPT_TYPES", "Prompt", "SafetyLevel", "build_prompts", "context_from_json"]
