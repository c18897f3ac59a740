"""The one inference path: what the model is asked for a task, how its answer is judged,
and what the person receives.

Every caller goes through here — the API, the monitoring probes, the evaluation, the
offline teacher's plans and the benchmarks — so what evaluation and monitoring measure is
exactly what users are served. The steps, for a task already triaged:

1. :func:`model_request`: the prompt (``render_task``), the token limit and, for plans,
   the per-person constraint in the form the backend takes (a GBNF grammar for llama.cpp,
   an OpenAI-style JSON Schema elsewhere). :func:`calls_model` says whether the model may
   be asked at all (never for an emergency: the policy answers).
2. :func:`judge_plan` / :func:`judge_reply`: decode and check the answer — the plan
   contract, the person's constraints (days, equipment, contraindications, the
   conservative effort floor of a clearance case), the programming quality
   (:mod:`fitsense_core.plan_quality`) and, for replies, the safety policy.
3. :func:`serve_plan` / :func:`serve_reply`: what is shown — the model's answer when it
   passed, else the knowledge-based coach's, with the reason; the clearance note leads a
   clearance answer; an emergency gets the policy's message and nothing else.

Nothing here does I/O except :class:`Codebooks`, which reads a version's codebook from
the registry once.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from fitsense_core.coach import reply_judge
from fitsense_core.coach.answers import (
    LEAD_SEPARATOR,
    answer_question,
    answer_topic,
    safety_lead,
)
from fitsense_core.coach.knowledge_base import KB_TOPICS
from fitsense_core.coach.plans import (
    create_plan,
    plan_intents,
    requested_minutes,
    swapped_out,
    update_plan,
    within_limits,
)
from fitsense_core.plan_contract import Plan, validate_plan
from fitsense_core.plan_quality import QualityProblem, quality_problems, update_problems
from fitsense_core.profile import LoggedSession, UserProfile
from fitsense_core.prompts import one_line
from fitsense_core.replies import COACHING_TOPICS
from fitsense_core.reply_checks import reply_problems
from fitsense_core.safety import CLEARANCE_NOTE, SafetyLevel, Triage, check_response
from fitsense_core.student.compact import (
    CONSERVATIVE_MIN_RIR,
    Codebook,
    CompactFormatError,
    compact_grammar,
    compact_schema,
    decode_plan,
)
from fitsense_core.student.data import StudentTask, render_task

# Why a model answer was not shown; monitoring counts outcomes by these prefixes.
INVALID_PLAN = "model answer is not a valid plan"
VIOLATING_PLAN = "model plan violates the person's constraints"
POOR_PLAN = "model plan fails the programming-quality checks"
UNSAFE_REPLY = "model answer broke the safety policy"
EMPTY_REPLY = "the model answered nothing"
NOT_PROSE = "model answer is not a prose answer"
ALARMING_REPLY = "model answer carries safety language the triage did not call for"
OFF_TOPIC = "model answer does not answer the question"
UNGROUNDED_REPLY = "model answer states numbers nothing retrieved supports"
NO_MODEL_ANSWER = "no model answer"
# Alarm wording on a question the triage found ordinary scares people without cause.
_ALARM = re.compile(
    r"\b(stop exercising|medical emergency|emergency (?:number|room|services)|call 911|"
    r"urgent care|get clearance|clearance from your doctor|before following this advice)\b",
    re.I,
)
MIN_REPLY_WORDS = 6
# A line of the reply prompt (student.data.render_task) copied into the reply: its labels
# (task, person, recent, fact <id>, current, log, request), a knowledge record's id used as
# a label, or the person line's "| goals" field. Read through the API, the base model
# answered "Is cardio going to kill my gains?" with its own prompt's person, recent and
# request lines, and the judge accepted it.
_PROMPT_ECHO = re.compile(
    r"^\s*(?:task|person|recent|current|request|log \(rir[^)]*\)|fact [\w.-]+"
    rf"|(?:{'|'.join(KB_TOPICS)})\.[a-z0-9-]+):|\|\s*goals\s",
    re.IGNORECASE | re.MULTILINE,
)
UNAVAILABLE = "model unavailable"
# The serving version did not pass this request's capability in its promotion gate: the
# model is not asked and the knowledge-based coach answers (serve_plan / serve_reply with
# this as the reason the model gave no answer).
NOT_CAPABLE = "capability not passed"


def not_capable(version: str, capability: str) -> str:
    """The reason for a request the serving ``version`` may not answer."""
    return f"{NOT_CAPABLE}: model version {version} did not pass its {capability} gate"


# Monitoring suspended this capability of the serving version: its live quality fell
# below its gate (``student.suspensions``). Answered like NOT_CAPABLE, model not asked.
SUSPENDED = "capability suspended"


def suspended(version: str, capability: str, reason: str) -> str:
    """The reason for a request whose capability monitoring suspended."""
    return f"{SUSPENDED}: monitoring suspended {capability} of model version {version}: {reason}"


@dataclass(frozen=True)
class TokenLimits:
    """Completion tokens a task may use: a compact plan, or a short reply."""

    plan: int = 360
    reply: int = 220

    def for_task(self, task: StudentTask) -> int:
        return self.plan if task.output_type == "plan" else self.reply


TOKEN_LIMITS = TokenLimits()

# The request was not sent: the person's words may not fit the model's context (below).
REQUEST_TOO_LONG = "request too long for the model"
# The server refused the request as invalid (a 4xx); not a failure of the server.
REQUEST_REFUSED = "model refused the request"
# Tokens of a prompt besides the person's words: at most ~430 measured (a plan update with
# its current plan, in SmolLM2's chat template); kept with room to spare.
PROMPT_FRAME_TOKENS = 600


def request_budget_bytes(context_tokens: int, max_tokens: int) -> int:
    """UTF-8 bytes of free text that surely fit a context of ``context_tokens`` beside the
    prompt's frame and an answer of ``max_tokens``: every token of the student's byte-level
    vocabulary holds at least one byte (a 2,000-character question of emoji is ~6,000
    tokens; of English prose ~450)."""
    return context_tokens - max_tokens - PROMPT_FRAME_TOKENS


def too_long_for_model(task: StudentTask, context_tokens: int) -> str | None:
    """Why ``task``'s request is not sent to a model with this context (None: it fits)."""
    budget = request_budget_bytes(context_tokens, TOKEN_LIMITS.for_task(task))
    size = len(one_line(task.request).encode())
    if size <= budget:
        return None
    return (
        f"{REQUEST_TOO_LONG}: the request is {size} bytes of UTF-8; at most {budget} surely "
        f"fit the model's {context_tokens}-token context"
    )


@dataclass(frozen=True)
class ModelRequest:
    """What is sent to an OpenAI-compatible server for one task."""

    messages: list[dict[str, str]]
    max_tokens: int
    extra_body: dict[str, Any] = field(default_factory=dict)


def is_update(task: StudentTask) -> bool:
    """Updates keep the current plan's structure, so their constraint is per day's label
    rather than per place (:func:`~fitsense_core.student.compact.day_rules`)."""
    return task.prompt_type == "plan_update" and task.current_plan is not None


def llama_cpp_constraint(codebook: Codebook, task: StudentTask) -> dict[str, Any]:
    """llama.cpp: the prefix-factored GBNF grammar (much faster than its JSON-Schema path)."""
    return {
        "grammar": compact_grammar(
            codebook, task.athlete, conservative=task.conservative, update=is_update(task)
        )
    }


def json_schema_constraint(codebook: Codebook, task: StudentTask) -> dict[str, Any]:
    """OpenAI-style structured output (vLLM and others): the per-request JSON Schema."""
    return {
        "response_format": {
            "type": "json_schema",
            "json_schema": {
                "name": "compact_plan",
                "strict": True,
                "schema": compact_schema(
                    codebook, task.athlete, conservative=task.conservative, update=is_update(task)
                ),
            },
        }
    }


def plan_constraint(codebook: Codebook, task: StudentTask, backend: str) -> dict[str, Any]:
    """The per-person plan constraint in the form ``backend`` takes."""
    if backend == "llama-cpp":
        return llama_cpp_constraint(codebook, task)
    return json_schema_constraint(codebook, task)


def calls_model(task: StudentTask, verdict: Triage) -> bool:
    """Whether the model may be asked at all: never for an emergency (the policy answers)."""
    return verdict.allows_plan if task.output_type == "plan" else verdict.allows_model


def model_request(
    task: StudentTask,
    codebook: Codebook,
    backend: str | None,
    limits: TokenLimits = TOKEN_LIMITS,
) -> ModelRequest:
    """The request for ``task``; ``backend`` None asks for a plan without a constraint
    (the evaluation's unconstrained student)."""
    extra = (
        plan_constraint(codebook, task, backend)
        if task.output_type == "plan" and backend is not None
        else {}
    )
    return ModelRequest(render_task(task, codebook), limits.for_task(task), extra)


# --- plans ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlanJudgement:
    """A plan answer, decoded and checked for the person."""

    plan: Plan | None
    json_valid: bool
    contract_valid: bool
    semantic_valid: bool
    violations: tuple[str, ...] = ()
    error: str | None = None
    quality: tuple[str, ...] = ()  # what a coach would refuse (plan_quality)

    @property
    def quality_valid(self) -> bool:
        return self.semantic_valid and not self.quality

    @property
    def reason(self) -> str | None:
        """Why the plan may not be shown (None: it may)."""
        if not self.contract_valid:
            return f"{INVALID_PLAN}: {self.error or '; '.join(self.violations[:3])}"[:400]
        if not self.semantic_valid:
            return f"{VIOLATING_PLAN}: " + "; ".join(self.violations[:3])
        if self.quality:
            return f"{POOR_PLAN}: " + "; ".join(self.quality[:3])
        return None


def plan_problems(plan: Plan, task: StudentTask) -> list[str]:
    """Why a plan may not be shown to this person (empty: it may): the contract, the
    person's constraints, and a clearance case's conservative effort floor."""
    problems = [str(v) for v in validate_plan(plan, task.athlete).violations]
    if task.conservative:
        problems += [
            f"{d.name}/{e.exercise_name}: RIR {s.target_rir} below {CONSERVATIVE_MIN_RIR}"
            for d in plan.days
            for e in d.exercises
            for s in e.sets
            if s.target_rir < CONSERVATIVE_MIN_RIR
        ][:3]
    return problems


def judge_plan(
    text: str | None, codebook: Codebook, task: StudentTask, *, compact: bool = True
) -> PlanJudgement:
    """Decode ``text`` (a compact plan, or with ``compact`` False a full plan's JSON) and
    check it for the person."""
    if text is None:
        return PlanJudgement(None, False, False, False, error="no answer")
    try:
        plan = (
            decode_plan(text, codebook, task.athlete) if compact else Plan.model_validate_json(text)
        )
    except CompactFormatError as exc:
        json_valid = not str(exc).startswith("not JSON")
        return PlanJudgement(None, json_valid, False, False, error=str(exc)[:300])
    except ValueError as exc:
        return PlanJudgement(None, _is_json(text), False, False, error=str(exc)[:300])
    structural = validate_plan(plan)
    problems = plan_problems(plan, task)
    return PlanJudgement(
        plan,
        json_valid=True,
        contract_valid=structural.valid,
        semantic_valid=structural.valid and not problems,
        violations=tuple(problems),
        quality=tuple(str(q) for q in plan_quality(plan, task)),
    )


def plan_quality(plan: Plan, task: StudentTask) -> list[QualityProblem]:
    """What a coach would refuse in ``plan`` for this task: the programming, and for an
    update whether it went the way the request asked."""
    athlete = task.athlete
    if task.prompt_type != "plan_update" or task.current_plan is None:
        return quality_problems(plan, athlete, conservative=task.conservative)
    intents = plan_intents(task.request, task.current_plan)
    minutes = requested_minutes(task.request) if "less_time" in intents else None
    if minutes:  # sessions are judged against the time the person now has
        athlete = replace(athlete, session_length_min=minutes)
    current = task.current_plan
    if "less_time" not in intents:  # shorter is judged against the plan as it was
        try:
            # Judged against the current plan as the coach must first mend it (a plan
            # over the person's limits is brought within them before it is made harder).
            current = within_limits(task.current_plan, task.athlete)
        except ValueError:  # a person's own plan with exercises outside the catalog
            current = task.current_plan
    return quality_problems(plan, athlete, conservative=task.conservative) + update_problems(
        current,
        plan,
        intents,
        minutes,
        conservative=task.conservative,
        requested_days=task.requested_days,
        unwanted=swapped_out(task.request, task.current_plan),
    )


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
        return True
    except json.JSONDecodeError:
        return False


def knowledge_plan(
    prompt_type: str,
    request: str,
    profile: UserProfile,
    current_plan: Plan | None,
    sessions: tuple[LoggedSession, ...],
    verdict: Triage,
) -> Plan:
    """The knowledge-based coach's plan: an update of the current plan when one is asked
    for and there is one, else a new plan; conservative for a clearance case."""
    conservative = verdict.level == SafetyLevel.NEEDS_CLEARANCE
    if prompt_type == "plan_update" and current_plan is not None:
        plan, _summary = update_plan(
            profile,
            current_plan,
            sessions,
            request,
            extra_blocked=verdict.blocked_tags,
            conservative=conservative,
        )
        return plan
    return create_plan(profile, extra_blocked=verdict.blocked_tags, conservative=conservative)


@dataclass(frozen=True)
class ServedPlan:
    """The plan a person receives, where it came from, and the note that goes with it."""

    plan: Plan
    source: str  # student | rules
    fallback_reason: str | None
    message: str | None

    @property
    def outcome(self) -> str:
        return "ok" if self.source == "student" else "fallback"


def clearance_message(verdict: Triage) -> str | None:
    return CLEARANCE_NOTE if verdict.level == SafetyLevel.NEEDS_CLEARANCE else None


def serve_plan(
    task: StudentTask,
    verdict: Triage,
    judgement: PlanJudgement | None,
    unavailable: str | None = None,
) -> ServedPlan:
    """The model's plan when its judgement passed; otherwise the knowledge-based coach's,
    with the reason (``unavailable``: why the model gave no answer). The caller has checked
    :func:`calls_model` (no plan is served for an emergency)."""
    if judgement is not None and judgement.plan is not None and judgement.reason is None:
        return ServedPlan(judgement.plan, "student", None, clearance_message(verdict))
    reason = unavailable or (judgement.reason if judgement is not None else None)
    plan = knowledge_plan(
        task.prompt_type, task.request, task.profile, task.current_plan, task.sessions, verdict
    )
    if task.prompt_type == "plan_update" and plan_quality(plan, task):
        # An update of a plan the coach cannot mend (a person's own plan, a day an injury
        # emptied): a fresh plan for the person as they are now, when that one passes.
        fresh = knowledge_plan(
            "plan_creation", task.request, task.profile, None, task.sessions, verdict
        )
        if not plan_quality(fresh, task):
            plan = fresh
    problems = plan_problems(plan, task)
    if problems:  # the safety net of the safety net: never serve a violating plan
        raise RuntimeError(f"knowledge-based plan violates the contract: {problems[:3]}")
    return ServedPlan(plan, "rules", reason or NO_MODEL_ANSWER, clearance_message(verdict))


# --- replies -------------------------------------------------------------------------------


def _composed_topic(task: StudentTask) -> str | None:
    return task.topic if task.topic in COACHING_TOPICS else None


def reply_lead(verdict: Triage, task: StudentTask) -> str:
    """What leads every reply to this request for this triage, with the blank line after
    it ("" when nothing does): the knowledge-based coach's own safety lead for the topic the
    answer is on (:func:`~fitsense_core.coach.answers.safety_lead`), streamed before the
    model's words. The student is trained on answer bodies without it
    (``student.data.reply_target``)."""
    if verdict.level == SafetyLevel.EMERGENCY:
        return ""
    topic = answer_topic(task.request, task.profile, _composed_topic(task))
    lead = safety_lead(task.profile, verdict, topic, task.request)
    return lead + LEAD_SEPARATOR if lead else ""


def compose_reply(verdict: Triage, model_text: str, task: StudentTask) -> str:
    """The model's reply as shown: the safety lead, then the model's words (which are not
    led twice when the model wrote the lead itself)."""
    text = model_text.strip()
    lead = reply_lead(verdict, task)
    if lead and not text.startswith(lead.strip()):
        return lead + text
    return text


@dataclass(frozen=True)
class ReplyJudgement:
    shown: str  # the reply as it would be shown
    reason: str | None  # why it may not be shown (None: it may)
    citations: tuple[str, ...] = ()  # the records the reply is judged against


def judge_reply(verdict: Triage, model_text: str | None, task: StudentTask) -> ReplyJudgement:
    """The reply as it would be shown, and why it may not be (None: it may): empty, not
    prose, safety language the triage did not call for, not relevant to the question, on
    another topic than the question, a number no retrieved fact or personal datum states
    (:mod:`fitsense_core.coach.reply_judge`), or against the safety policy."""
    raw = model_text or ""
    shown = compose_reply(verdict, raw, task)
    if not raw.strip():
        return ReplyJudgement(shown, EMPTY_REPLY)
    if raw.lstrip()[:1] in "[{" or len(raw.split()) < MIN_REPLY_WORDS:
        return ReplyJudgement(shown, NOT_PROSE)
    echo = _PROMPT_ECHO.search(raw)
    if echo:
        line = raw[raw.rfind("\n", 0, echo.start()) + 1 :].split("\n", 1)[0].strip()
        return ReplyJudgement(shown, f"{NOT_PROSE}: it copies its prompt ({line[:60]!r})")
    if verdict.level in (SafetyLevel.OK, SafetyLevel.INJURY_AWARE) and _ALARM.search(raw):
        return ReplyJudgement(shown, ALARMING_REPLY)
    topic = _composed_topic(task)
    grounded = answer_question(task.request, task.profile, verdict, topic)
    citations = tuple(grounded.citations)
    alarm = [
        reason
        for code, reason in reply_problems(
            request=task.request, answer=raw, topic="", profile=task.profile
        )
        if code in ("alarm_without_cause", "clearance_without_cause")
    ]
    if alarm and verdict.level != SafetyLevel.NEEDS_CLEARANCE:
        return ReplyJudgement(shown, f"{ALARMING_REPLY}: {alarm[0]}", citations)
    verdict_of_judge = reply_judge.judge(
        task.request,
        raw,
        profile=task.profile,
        grounded_answer=grounded.answer,
        topic=answer_topic(task.request, task.profile, topic),
    )
    for code, reason in verdict_of_judge.problems:
        label = {
            reply_judge.IRRELEVANT: OFF_TOPIC,
            reply_judge.OFF_TOPIC: OFF_TOPIC,
            reply_judge.UNGROUNDED_NUMBER: UNGROUNDED_REPLY,
        }[code]
        return ReplyJudgement(shown, f"{label}: {reason}", citations)
    problems = check_response(verdict, shown, contains_plan=False)
    if problems:
        return ReplyJudgement(shown, f"{UNSAFE_REPLY}: " + "; ".join(problems[:3]), citations)
    return ReplyJudgement(shown, None, citations)


@dataclass(frozen=True)
class ServedReply:
    """The answer a person receives and where it came from."""

    text: str
    outcome: str  # ok | fallback | refused
    source: str  # model | rules | policy
    fallback_reason: str | None = None
    key_points: tuple[str, ...] = ()
    needs_medical_clearance: bool = False
    refer_to_emergency: bool = False
    citations: tuple[str, ...] = ()  # knowledge-base record ids the answer rests on


def policy_reply(verdict: Triage) -> ServedReply:
    """The policy's own answer to an emergency; no model is called."""
    return ServedReply(verdict.message or "", "refused", "policy", refer_to_emergency=True)


def knowledge_reply(task: StudentTask, verdict: Triage, reason: str | None) -> ServedReply:
    """The knowledge-based coach's grounded answer."""
    reply = answer_question(task.request, task.profile, verdict, _composed_topic(task))
    return ServedReply(
        reply.answer,
        "fallback",
        "rules",
        reason,
        tuple(reply.key_points),
        reply.needs_medical_clearance,
        citations=tuple(reply.citations),
    )


def serve_reply(
    task: StudentTask,
    verdict: Triage,
    model_text: str | None,
    unavailable: str | None = None,
) -> ServedReply:
    """What the person receives for a reply task given the model's text (None: the model
    was not asked or gave no answer, ``unavailable`` says why)."""
    if not verdict.allows_model:
        return policy_reply(verdict)
    if model_text is None:
        return knowledge_reply(task, verdict, unavailable or EMPTY_REPLY)
    judgement = judge_reply(verdict, model_text, task)
    if judgement.reason is not None:
        return knowledge_reply(task, verdict, judgement.reason)
    return ServedReply(
        judgement.shown,
        "ok",
        "model",
        needs_medical_clearance=CLEARANCE_NOTE in judgement.shown,
        citations=judgement.citations,
    )


# --- codebooks -----------------------------------------------------------------------------


class Codebooks:
    """The compact-plan codebook each served version was trained with, read once per
    version through ``codebook_uri`` (the registry's record of the version)."""

    def __init__(self, codebook_uri: Callable[[str], str]) -> None:
        self._uri = codebook_uri
        self._cache: dict[str, Codebook] = {}

    def get(self, version: str) -> Codebook:
        if version not in self._cache:
            from fitsense_core.artifacts import ArtifactStore

            data = ArtifactStore(self._uri(version)).read_bytes()
            self._cache[version] = Codebook.from_json(data.decode())
        return self._cache[version]


def registry_codebooks(database_url: str) -> Codebooks:
    """Codebooks looked up in the model registry at ``database_url``."""
    from fitsense_core.student import registry

    return Codebooks(lambda version: registry.get(database_url, version).codebook_uri)
