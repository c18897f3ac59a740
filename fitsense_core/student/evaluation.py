"""Evaluating the student against the teacher, the base model, a random-valid policy and
the serving champion on the same prompts, and the per-capability promotion gate.

Why these systems: a gate that compares the student only with an untrained base model,
on measures that are 1.0 by construction under the grammar, passes anything that decodes
(it passed a model that wrote three days of hammer curls). So every model answer is set
beside

- ``teacher``: the dataset's reference answers (the knowledge-based coach, no model): the
  ceiling the student is distilled towards;
- ``base``: the untrained base model under the same constraint;
- ``random_valid``: uniform random choices under the same per-request constraint as the
  model (:func:`fitsense_core.student.compact.random_valid_plan`, seeded per prompt id):
  the floor. Anything the grammar guarantees, it scores too; what the student learned is
  the difference. It gives no coach replies, and reply measures are not computed for it;
- ``champion``: the version serving now, through the same server path as the student
  (absent when nothing serves, and the report says so).

Models run behind the real CPU inference server with the request the API sends
(:func:`~fitsense_core.inference.serve.model_request`), and every answer is judged and
served by the one inference path the API uses (:mod:`fitsense_core.inference.serve`).

Measures, per system, each with a percentile-bootstrap 95 % interval over prompts:

- plans: JSON, contract and semantic validity (by construction under the grammar: see
  :data:`DETERMINISTIC_BY_CONSTRUCTION`); programming quality of the model's own plan
  (``judge_plan(...).quality_valid``, before any fallback) and of the plan served (after
  the post-check and fallback); slot agreement with the teacher (same exercise at the same
  day and position); per-muscle weekly-volume error against the teacher; Jaccard agreement
  of the exercises chosen; update adherence by intent (``too_easy``, ``injury``, ...);
- replies: acceptance of the model's raw text by the one inference path's
  :func:`~fitsense_core.inference.serve.judge_reply`, ROUGE-L F1 against the teacher,
  served and model-only safety on the safety prompts;
- latency p50/p95 and completion tokens per second.

Per slice of people (age band, sex, goal, experience, condition) a slice is compared only
when it holds enough prompts *and* enough distinct people; a gap is critical only when it
is large and the slice's own interval excludes the overall value.

The gate (:func:`promotion_gate`) decides per capability (plan creation, plan update,
plan adaptation, coach replies) on paired differences between systems on the same
prompts: the student must clearly beat random-valid, be no worse than the champion beyond
the noise, serve only plans that pass the quality checks, and show no critical bias.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import re
import statistics
import time
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from fitsense_core.coach.answers import answer_body
from fitsense_core.inference import serve
from fitsense_core.inference.serve import TOKEN_LIMITS, TokenLimits
from fitsense_core.plan_contract import Plan, normalize_name, resolve_exercise
from fitsense_core.plan_metrics import update_adherence
from fitsense_core.plan_quality import MAJOR_MUSCLES, weekly_sets
from fitsense_core.safety import check_response, triage
from fitsense_core.student.compact import Codebook
from fitsense_core.student.data import StudentTask, reply_lead_of, task_from_record

# Groups of people; prompt types are strata, not groups, and are reported separately.
SLICE_DIMENSIONS = ("goal", "experience", "sex", "age_band", "condition_flag")
SYSTEMS = ("student", "teacher", "base", "random_valid", "champion")
MODEL_SYSTEMS = ("student", "base", "champion")
CAPABILITIES = ("plan_creation", "plan_update", "plan_adaptation", "coach_reply")
PLAN_CAPABILITIES = CAPABILITIES[:3]
PLAN_TYPES = ("plan_creation", "plan_update")

# Percentile bootstrap over prompts: 1000 resamples is the usual floor for 95 % percentile
# intervals (Efron & Tibshirani 1993, ch. 13); a fixed seed makes a report reproducible.
BOOTSTRAP_RESAMPLES = 1000
BOOTSTRAP_SEED = 20_240_601
CONFIDENCE = 0.95

# Slices: a deviation from overall is flagged above 10 % and critical above 25 % (and only
# when the slice's interval excludes the overall value). A slice is compared only with
# enough prompts and enough distinct people: eight prompts from two people say something
# about two people, not about a group.
FLAG_DEVIATION = 0.10
CRITICAL_DEVIATION = 0.25
MIN_SLICE_SIZE = 8
MIN_SLICE_PEOPLE = 5
TOO_SMALL = "too small to mean anything"
SLICE_METRICS = (
    "semantic_valid",
    "quality_valid",
    "quality_served",
    "slot_agreement",
    "agreement",
    "adherent",
    "rouge_l",
    "reply_accepted",
    "reply_relevant",
    "reply_grounded",
    "safety_served",
    "safety_model",
)
# Outcomes every person is owed; a critical gap in one of these fails the capability.
# Similarity to the teacher (slot agreement, Jaccard, ROUGE-L) is reported, not gated per
# slice: it mostly reflects how varied the plans a slice's people get are.
GATED_METRICS = (
    "semantic_valid",
    "quality_valid",
    "quality_served",
    "adherent",
    "reply_accepted",
    "safety_served",
    "safety_model",
)

# The gate's thresholds.
MIN_CAPABILITY_PROMPTS = 20  # fewer and a bootstrap interval is too wide to decide on
SERVED_QUALITY_REQUIRED = 1.0  # what a person receives passes the coach's checks, always
MIN_REPLY_ACCEPTANCE = 0.8  # the judge falls back to the rules coach for the rest
# Model-only safety: the raw text before the policy leads it and before the post-check
# replaces it. What is served is safe whatever the model writes (the policy answers
# emergencies, the clearance note leads, an unsafe reply is replaced), so this measures
# the model, not the product: 0.9 tolerates the odd reply missing a required phrase (then
# replaced, at the cost of a fallback) but refuses a model that learned unsafe habits.
MIN_MODEL_SAFETY = 0.9

# Measures a constrained decoder (and the random-valid policy) meets by construction: the
# grammar admits only well-formed compact plans with this person's day count, eligible
# exercises and fitting prescriptions. They show the constraint works, not that the model
# learned anything; only truncation at the token limit can lower them.
DETERMINISTIC_BY_CONSTRUCTION = {
    "json_validity": "the grammar admits only JSON compact plans",
    "contract_validity": "every compact plan under the grammar expands to a contract-valid plan",
    "semantic_validity": "the grammar encodes the person's days, equipment, "
    "contraindications, goal rep ranges and the clearance effort floor",
}

# Summary metric -> row key; ``volume_error`` is lower-is-better, the rest higher.
ROW_METRICS = {
    "json_validity": "json_valid",
    "contract_validity": "contract_valid",
    "semantic_validity": "semantic_valid",
    "programming_quality": "quality_valid",
    "programming_quality_served": "quality_served",
    "slot_agreement": "slot_agreement",
    "volume_error": "volume_error",
    "teacher_agreement": "agreement",
    "update_adherence": "adherent",
    "reply_acceptance": "reply_accepted",
    "reply_relevance": "reply_relevant",
    "reply_groundedness": "reply_grounded",
    "reply_rouge_l": "rouge_l",
    "safety_compliance": "safety_served",
    "safety_compliance_model_only": "safety_model",
}
LOWER_IS_BETTER = frozenset({"volume_error"})
CAPABILITY_METRICS = {
    "plan_creation": (
        "programming_quality",
        "programming_quality_served",
        "slot_agreement",
        "volume_error",
    ),
    "plan_update": (
        "programming_quality",
        "programming_quality_served",
        "slot_agreement",
        "volume_error",
        "update_adherence",
    ),
    "plan_adaptation": (
        "programming_quality",
        "programming_quality_served",
        "slot_agreement",
        "volume_error",
        "update_adherence",
    ),
    "coach_reply": (
        "reply_acceptance",
        "reply_relevance",
        "reply_groundedness",
        "reply_rouge_l",
        "safety_compliance_model_only",
    ),
}
TEST_SPLIT_PROMPTS = 40
# Update intents whose direction update adherence measures (an injury: its contraindicated
# exercises are gone; these: volume or effort moved the way asked). Other intents (an
# adaptation from logged weeks) are judged by the programming-quality checks of updates.
VOLUME_INTENTS = ("too_easy", "poor_recovery", "less_time")


@dataclass(frozen=True)
class EvalConfig:
    """``max_prompts``: a cap on the prompts per system (0: none; the test split, which
    has no golden set's plan/coaching division, is then sampled to
    :data:`TEST_SPLIT_PROMPTS`); ``coaching_prompts``: the stratified sample of coaching
    and safety prompts taken from a golden set (all its plan prompts are taken)."""

    max_prompts: int = 0
    coaching_prompts: int = 40
    max_tokens_plan: int = TOKEN_LIMITS.plan
    max_tokens_reply: int = TOKEN_LIMITS.reply
    temperature: float = 0.0
    seed: int = 7

    @property
    def limits(self) -> TokenLimits:
        return TokenLimits(plan=self.max_tokens_plan, reply=self.max_tokens_reply)


@dataclass(frozen=True)
class Generation:
    text: str | None
    latency_s: float
    completion_tokens: int
    error: str | None = None


# (messages, extra request body, max_tokens) -> Generation
Generate = Callable[[list[dict[str, str]], dict[str, Any], int], Generation]
# (codebook, athlete, rng, *, conservative, update) -> a compact plan's JSON
RandomPolicy = Callable[..., str]


# --- prompts ---------------------------------------------------------------------------------


def capability_of(record: dict[str, Any]) -> str:
    """The capability a record exercises: the prompt type, with updates split by the
    record's ``metadata["capability"]`` (adaptation to logged training vs a requested
    change); coaching and safety questions are coach replies."""
    meta = record["metadata"]
    if meta["prompt_type"] == "plan_creation":
        return "plan_creation"
    if meta["prompt_type"] == "plan_update":
        return "plan_adaptation" if meta.get("capability") == "plan_adaptation" else "plan_update"
    return "coach_reply"


def _prompt_type(record: dict[str, Any]) -> str:
    return record["metadata"]["prompt_type"]


def select_records(
    records: Sequence[dict[str, Any]],
    max_prompts: int,
    seed: int,
    key: Callable[[dict[str, Any]], str] = _prompt_type,
) -> list[dict[str, Any]]:
    """A deterministic sample stratified by ``key`` (round-robin over its values; by
    default the prompt type)."""
    by_key: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in sorted(
        records, key=lambda r: hashlib.sha256(f"{seed}/{r['id']}".encode()).hexdigest()
    ):
        by_key[key(r)].append(r)
    chosen: list[dict[str, Any]] = []
    while len(chosen) < max_prompts and any(by_key.values()):
        for stratum in sorted(by_key):
            if by_key[stratum] and len(chosen) < max_prompts:
                chosen.append(by_key[stratum].pop(0))
    return chosen


def select_eval_records(
    records: Sequence[dict[str, Any]], config: EvalConfig, *, golden: bool
) -> list[dict[str, Any]]:
    """The prompts every system answers. From a golden set: all its plan prompts (the gate
    decides on them, so none is left out) and a sample of ``coaching_prompts`` questions
    stratified by type and topic; from the test split: a sample stratified by prompt type.
    ``max_prompts`` caps either, stratified by capability."""
    if not golden:
        return select_records(records, config.max_prompts or TEST_SPLIT_PROMPTS, config.seed)
    plans = sorted((r for r in records if _prompt_type(r) in PLAN_TYPES), key=lambda r: r["id"])
    questions = select_records(
        [r for r in records if _prompt_type(r) not in PLAN_TYPES],
        config.coaching_prompts,
        config.seed,
        key=lambda r: f"{_prompt_type(r)}/{r['metadata'].get('topic', '')}",
    )
    chosen = plans + questions
    if config.max_prompts:
        chosen = select_records(chosen, config.max_prompts, config.seed, key=capability_of)
    return chosen


# --- measures of one answer ------------------------------------------------------------------


def rouge_l(candidate: str, reference: str) -> float:
    """ROUGE-L F1 over lower-cased words."""
    a = re.findall(r"[a-z0-9]+", candidate.lower())
    b = re.findall(r"[a-z0-9]+", reference.lower())
    if not a or not b:
        return 0.0
    previous = [0] * (len(b) + 1)
    for x in a:
        current = [0]
        for j, y in enumerate(b, start=1):
            current.append(previous[j - 1] + 1 if x == y else max(previous[j], current[-1]))
        previous = current
    lcs = previous[-1]
    if lcs == 0:
        return 0.0
    precision, recall = lcs / len(a), lcs / len(b)
    return 2 * precision * recall / (precision + recall)


def _exercise_set(plan: Plan) -> set[str]:
    return {e.exercise_name for d in plan.days for e in d.exercises}


def _exercise_key(name: str) -> str:
    exercise = resolve_exercise(name)
    return exercise.slug if exercise is not None else normalize_name(name)


def _slots(plan: Plan) -> list[list[str]]:
    return [
        [_exercise_key(e.exercise_name) for e in sorted(d.exercises, key=lambda e: e.position)]
        for d in sorted(plan.training_days(), key=lambda d: d.day_order)
    ]


def slot_agreement(plan: Plan | None, reference: Plan) -> float:
    """The share of exercise slots (training day × position) holding the teacher's
    exercise; a slot only one plan has counts as a miss, and plans with different numbers
    of training days share no day and score 0. Unlike the Jaccard overlap of exercise sets
    this rewards the teacher's *programming* (what goes on which day, in which order), which
    random valid choices do not reproduce."""
    if plan is None:
        return 0.0
    ours, theirs = _slots(plan), _slots(reference)
    if len(ours) != len(theirs):
        return 0.0
    slots = matched = 0
    for a, b in zip(ours, theirs, strict=True):
        slots += max(len(a), len(b))
        matched += sum(1 for x, y in zip(a, b, strict=False) if x == y)
    return matched / slots if slots else 1.0


def volume_error(plan: Plan | None, reference: Plan) -> float:
    """Mean absolute difference of weekly hard sets per major muscle against the teacher
    (:func:`fitsense_core.plan_quality.weekly_sets`); no plan counts as an empty week."""
    ours = weekly_sets(plan) if plan is not None else {}
    theirs = weekly_sets(reference)
    return statistics.fmean(abs(ours.get(m, 0) - theirs.get(m, 0)) for m in MAJOR_MUSCLES)


def served_answer(task: StudentTask, text: str | None, codebook: Codebook) -> str:
    """What a person receives for ``task`` when the model answered ``text`` (None: it was
    not asked), composed by the API's own inference path: a plan's JSON, or the reply."""
    verdict = triage(task.request, task.profile)
    if not serve.calls_model(task, verdict):
        return serve.policy_reply(verdict).text
    if task.output_type == "plan":
        judgement = None if text is None else serve.judge_plan(text, codebook, task)
        return serve.serve_plan(task, verdict, judgement).plan.model_dump_json()
    return serve.serve_reply(task, verdict, text).text


def _served_plan_quality(
    task: StudentTask, judgement: serve.PlanJudgement, codebook: Codebook
) -> dict[str, Any]:
    """Whether the plan a person receives (the model's when it passed the post-check,
    else the knowledge-based coach's) passes the programming-quality checks."""
    verdict = triage(task.request, task.profile)
    if not serve.calls_model(task, verdict):
        return {}
    try:
        served = serve.serve_plan(task, verdict, judgement)
    except RuntimeError as exc:  # the fallback itself broke the contract: nothing to serve
        return {"quality_served": False, "served_source": "none", "served_error": str(exc)[:300]}
    if served.source == "student":  # it passed the post-check, quality included
        return {"quality_served": judgement.quality_valid, "served_source": served.source}
    fallback = serve.judge_plan(served.plan.model_dump_json(), codebook, task, compact=False)
    return {"quality_served": fallback.quality_valid, "served_source": served.source}


def score(
    task: StudentTask, text: str | None, reference: str, codebook: Codebook, *, compact: bool
) -> dict[str, Any]:
    """Metrics of one answer; ``compact`` when the text is a compact plan to expand. Plans
    are judged, and replies served, by the one inference path the API uses."""
    row: dict[str, Any] = {"id": task.id, "prompt_type": task.prompt_type, **task.slices}
    # What was answered, kept with its measures (None: the model was not asked).
    row["generated_text"] = text
    if task.output_type == "plan":
        judgement = serve.judge_plan(text, codebook, task, compact=compact)
        row.update(
            json_valid=judgement.json_valid,
            contract_valid=judgement.contract_valid,
            semantic_valid=judgement.semantic_valid,
            quality_valid=judgement.quality_valid,
        )
        if judgement.error is not None and text is not None:
            row["error"] = judgement.error
        plan = judgement.plan
        reference_plan = Plan.model_validate_json(reference)
        row["slot_agreement"] = slot_agreement(plan, reference_plan)
        row["volume_error"] = volume_error(plan, reference_plan)
        if task.prompt_type == "plan_update":
            row["intent"] = task.topic
        if plan is not None:
            row["violations"] = list(judgement.violations[:5])
            row["quality_problems"] = list(judgement.quality[:5])
            ours, theirs = _exercise_set(plan), _exercise_set(reference_plan)
            row["agreement"] = len(ours & theirs) / len(ours | theirs) if ours | theirs else 1.0
            if task.prompt_type == "plan_update" and task.current_plan is not None:
                if task.topic == "injury":
                    row["adherent"] = not any(
                        set(resolve_exercise(e.exercise_name).contraindication_tags)
                        & task.blocked_tags
                        for d in plan.days
                        for e in d.exercises
                        if resolve_exercise(e.exercise_name) is not None
                    )
                elif task.topic in VOLUME_INTENTS and not task.conservative:
                    row["adherent"] = update_adherence(task.topic, task.current_plan, plan) is None
        else:
            row["agreement"] = 0.0
            if task.prompt_type == "plan_update" and (
                task.topic == "injury" or (task.topic in VOLUME_INTENTS and not task.conservative)
            ):
                row["adherent"] = False  # measured where a plan would have been
        row.update(_served_plan_quality(task, judgement, codebook))
        return row
    verdict = triage(task.request, task.profile)
    called = serve.calls_model(task, verdict)
    # A prompt the model is never asked (an emergency: the policy answers) says nothing
    # about the model; its reply measures are left out rather than counted as failures.
    asked = called or text is not None
    # Against the reference's body: the model writes the body, the server adds the lead.
    body = answer_body(reference, reply_lead_of(task))
    row["rouge_l"] = rouge_l(text or "", body) if asked else None
    if called:
        judged = serve.judge_reply(verdict, text, task)
        row["reply_accepted"] = judged.reason is None
        # Of the judge's reasons, the two issue 18 asks for on their own: the reply answers
        # the question (relevant and on topic), and its numbers are grounded.
        reason = judged.reason or ""
        row["reply_relevant"] = not reason.startswith(serve.OFF_TOPIC)
        row["reply_grounded"] = not reason.startswith(serve.UNGROUNDED_REPLY)
        # Kept for the report's sample of answers a person can read.
        row["question"] = task.request
        row["reply_text"] = text or ""
        row["reply_reason"] = judged.reason
    if task.prompt_type == "safety":
        served = served_answer(task, text, codebook)
        row["safety_served"] = not check_response(verdict, served, contains_plan=False)
        row["safety_model"] = (
            not check_response(verdict, text or "", contains_plan=False) if asked else None
        )
    return row


# --- systems ---------------------------------------------------------------------------------


def _request_digest(request: serve.ModelRequest) -> str:
    payload = json.dumps([request.messages, request.extra_body, request.max_tokens], sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()


REPLY_SAMPLE_SIZE = 20


def reply_samples(
    rows: Sequence[dict[str, Any]], system: str = "student", n: int = REPLY_SAMPLE_SIZE
) -> list[dict[str, Any]]:
    """The first ``n`` coach answers ``system`` gave, as a person would read them: the
    question, the model's words, and whether the judge let them through (and why not)."""
    return [
        {
            "question": r["question"],
            "answer": r["reply_text"],
            "accepted": r["reply_accepted"],
            "reason": r["reply_reason"],
        }
        for r in rows
        if r["system"] == system and "reply_text" in r
    ][:n]


def _progress_line(name: str, i: int, n: int, started: float) -> str:
    elapsed = time.perf_counter() - started
    left = elapsed / i * (n - i)
    return f"{name}: {i}/{n} prompts, {elapsed:.0f} s, about {left:.0f} s left"


def _base_row(record: dict[str, Any], name: str) -> dict[str, Any]:
    return {
        "system": name,
        "user_id": record["metadata"].get("user_id"),
        "capability": capability_of(record),
    }


def run_system(
    name: str,
    records: Sequence[dict[str, Any]],
    codebook: Codebook,
    generate: Generate | None,
    config: EvalConfig,
    *,
    backend: str | None,
    progress: Callable[[str], None] = lambda _m: None,
    cache: dict[str, dict[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    """Ask one system every prompt and score the answers (``generate`` None: the teacher's
    own references are scored; ``backend`` None: plans are decoded unconstrained, else the
    request carries the constraint in that backend's form). ``cache`` maps a request's
    digest to an earlier generation for it: a hit is reused (a model file and a request
    that did not change give the same answer at temperature 0), a miss is added."""
    rows = []
    started = time.perf_counter()
    for i, record in enumerate(records, start=1):
        task = task_from_record(record)
        reference = record["messages"][-1]["content"]
        if generate is None:
            row = score(task, reference, reference, codebook, compact=False)
            row.update(latency_s=None, completion_tokens=None)
        elif not serve.calls_model(task, triage(task.request, task.profile)):
            # Served path: the policy answers, no model is called.
            row = score(task, None, reference, codebook, compact=False)
            row.update(latency_s=0.0, completion_tokens=0, model_called=False)
        else:
            request = serve.model_request(task, codebook, backend, config.limits)
            digest = _request_digest(request)
            hit = cache.get(digest) if cache is not None else None
            if hit is not None:
                generation = Generation(**hit)
            else:
                generation = generate(request.messages, request.extra_body, request.max_tokens)
                if cache is not None and generation.error is None:
                    cache[digest] = asdict(generation)
            row = score(task, generation.text, reference, codebook, compact=True)
            row.update(
                latency_s=generation.latency_s,
                completion_tokens=generation.completion_tokens,
                generation_error=generation.error,
                model_called=True,
                cached=hit is not None,
            )
        row.update(_base_row(record, name))
        rows.append(row)
        if i % 10 == 0 or i == len(records):
            progress(_progress_line(name, i, len(records), started))
    return rows


def prompt_rng(prompt_id: str, seed: int) -> random.Random:
    """The random-valid policy's generator for one prompt: seeded from the prompt id, so
    a prompt gets the same random answer in every run and in any order."""
    return random.Random(f"random_valid/{seed}/{prompt_id}")


def run_random_valid(
    records: Sequence[dict[str, Any]],
    codebook: Codebook,
    config: EvalConfig,
    *,
    policy: RandomPolicy | None = None,
    progress: Callable[[str], None] = lambda _m: None,
) -> list[dict[str, Any]]:
    """The floor: each plan prompt answered by uniform random choices under the same
    per-request constraint as the model (``policy``, by default
    :func:`fitsense_core.student.compact.random_valid_plan`), scored like a model's compact
    plan. Coach replies get no answer and no reply measures."""
    if policy is None:
        from fitsense_core.student.compact import random_valid_plan

        policy = random_valid_plan
    rows = []
    started = time.perf_counter()
    for i, record in enumerate(records, start=1):
        task = task_from_record(record)
        if task.output_type != "plan":
            row: dict[str, Any] = {
                "id": task.id,
                "prompt_type": task.prompt_type,
                **task.slices,
                "answered": False,
            }
        else:
            text = policy(
                codebook,
                task.athlete,
                prompt_rng(task.id, config.seed),
                conservative=task.conservative,
                update=serve.is_update(task),
            )
            row = score(task, text, record["messages"][-1]["content"], codebook, compact=True)
            row.update(latency_s=None, completion_tokens=None, model_called=False)
        row.update(_base_row(record, "random_valid"))
        rows.append(row)
        if i % 50 == 0 or i == len(records):
            progress(_progress_line("random_valid", i, len(records), started))
    return rows


def generations_cache_key(
    model_sha256: str, dataset_version: str, config: EvalConfig, codebook: Codebook
) -> str:
    """Names a cache of one model's generations: its file, the prompt set's version, the
    settings that shape an answer (token limits, temperature; not the sample size, so a
    larger sample reuses a smaller one's answers) and the codebook the prompts are rendered
    with. Entries are also keyed by each request's digest, so a stale one is never reused."""
    settings = [config.max_tokens_plan, config.max_tokens_reply, config.temperature]
    payload = json.dumps(
        [model_sha256, dataset_version, settings, codebook.to_json()], sort_keys=True
    )
    return hashlib.sha256(payload.encode()).hexdigest()[:24]


# --- statistics ------------------------------------------------------------------------------


def _quantile(ordered: Sequence[float], q: float) -> float:
    """Linear interpolation between the closest ranks of a sorted sequence."""
    position = q * (len(ordered) - 1)
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def bootstrap_ci(
    values: Sequence[float],
    *,
    resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = BOOTSTRAP_SEED,
    confidence: float = CONFIDENCE,
) -> tuple[float, float] | None:
    """Percentile-bootstrap interval of the mean of ``values`` (prompts resampled with
    replacement, ``resamples`` times, with a fixed seed so a report is reproducible).
    None when there are no values."""
    data = [float(v) for v in values]
    if not data:
        return None
    if min(data) == max(data):
        return (round(data[0], 4), round(data[0], 4))
    rng = random.Random(seed)
    n = len(data)
    means = sorted(math.fsum(rng.choices(data, k=n)) / n for _ in range(resamples))
    tail = (1 - confidence) / 2
    return (round(_quantile(means, tail), 4), round(_quantile(means, 1 - tail), 4))


def _values(rows: Sequence[dict[str, Any]], key: str) -> list[float]:
    return [float(r[key]) for r in rows if r.get(key) is not None]


def estimate(
    rows: Sequence[dict[str, Any]],
    key: str,
    *,
    resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = BOOTSTRAP_SEED,
) -> dict[str, Any]:
    """The mean of ``key`` over the rows that have it, with its interval and count."""
    values = _values(rows, key)
    ci = bootstrap_ci(values, resamples=resamples, seed=seed)
    return {
        "value": round(statistics.fmean(values), 4) if values else None,
        "ci": list(ci) if ci else None,
        "n": len(values),
    }


def paired_difference(
    rows_a: Sequence[dict[str, Any]],
    rows_b: Sequence[dict[str, Any]],
    key: str,
    *,
    resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = BOOTSTRAP_SEED,
) -> dict[str, Any]:
    """Mean of ``a − b`` over the prompts both systems answered, with its bootstrap
    interval. Pairing by prompt removes the prompts' own difficulty from the comparison,
    so a real difference shows with fewer prompts than comparing two rates would need."""
    other = {r["id"]: float(r[key]) for r in rows_b if r.get(key) is not None}
    diffs = [
        float(r[key]) - other[r["id"]]
        for r in rows_a
        if r.get(key) is not None and r["id"] in other
    ]
    ci = bootstrap_ci(diffs, resamples=resamples, seed=seed)
    return {
        "value": round(statistics.fmean(diffs), 4) if diffs else None,
        "ci": list(ci) if ci else None,
        "n": len(diffs),
    }


def _rate(rows: Sequence[dict[str, Any]], key: str) -> float | None:
    values = _values(rows, key)
    return round(sum(values) / len(values), 4) if values else None


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * (len(ordered) - 1) + 0.5))], 3)


# --- summaries -------------------------------------------------------------------------------


def summarize(
    rows: list[dict[str, Any]],
    *,
    intervals: bool = True,
    resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = BOOTSTRAP_SEED,
) -> dict[str, Any]:
    """One system's measures: each as a flat value (what the registry and monitoring
    read), with ``intervals`` also its bootstrap interval (``ci``) and count (``n``),
    update adherence by intent and the key measures per capability."""
    plans = [r for r in rows if r["prompt_type"] in PLAN_TYPES]
    replies = [r for r in rows if r.get("rouge_l") is not None]
    served = [r for r in rows if r.get("model_called")]
    plan_latency = [
        r["latency_s"]
        for r in served
        if r["prompt_type"] in PLAN_TYPES and r.get("latency_s") is not None
    ]
    latency = [r["latency_s"] for r in served if r.get("latency_s") is not None]
    tokens = sum(r.get("completion_tokens") or 0 for r in served)
    seconds = sum(latency)
    metrics: dict[str, Any] = {"prompts": len(rows), "plans": len(plans), "replies": len(replies)}
    metrics.update({name: _rate(rows, key) for name, key in ROW_METRICS.items()})
    metrics.update(
        latency_p50_s=percentile(latency, 0.5),
        latency_p95_s=percentile(latency, 0.95),
        plan_latency_p50_s=percentile(plan_latency, 0.5),
        plan_latency_p95_s=percentile(plan_latency, 0.95),
        tokens_per_second=round(tokens / seconds, 1) if seconds else None,
    )
    parts = [
        metrics[k]
        for k in (
            "semantic_validity",
            "programming_quality",
            "update_adherence",
            "teacher_agreement",
            "reply_rouge_l",
        )
        if metrics[k] is not None
    ]
    metrics["quality_score"] = round(statistics.mean(parts), 4) if parts else 0.0
    if not intervals:
        return metrics

    def est(items: Sequence[dict[str, Any]], key: str) -> dict[str, Any]:
        return estimate(items, key, resamples=resamples, seed=seed)

    metrics["ci"], metrics["n"] = {}, {}
    for name, key in ROW_METRICS.items():
        e = est(rows, key)
        metrics["ci"][name], metrics["n"][name] = e["ci"], e["n"]
    intents: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        if r.get("intent"):
            intents[r["intent"]].append(r)
    metrics["update_adherence_by_intent"] = {
        intent: est(items, "adherent")
        for intent, items in sorted(intents.items())
        if any(r.get("adherent") is not None for r in items)
    }
    metrics["by_capability"] = {}
    for capability, names in CAPABILITY_METRICS.items():
        items = [r for r in rows if r.get("capability") == capability]
        if items:
            metrics["by_capability"][capability] = {
                "prompts": len(items),
                **{name: est(items, ROW_METRICS[name]) for name in names},
            }
    return metrics


def slice_report(
    rows: list[dict[str, Any]],
    *,
    min_prompts: int = MIN_SLICE_SIZE,
    min_people: int = MIN_SLICE_PEOPLE,
    resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = BOOTSTRAP_SEED,
) -> dict[str, Any]:
    """Every measure per slice of people, against overall. A slice with fewer than
    ``min_prompts`` prompts or ``min_people`` distinct people (when rows name their
    person) is reported as too small and not compared. A gap is a flag above
    :data:`FLAG_DEVIATION`, critical above :data:`CRITICAL_DEVIATION` when the slice's own
    bootstrap interval also excludes the overall value (a large gap inside the noise of a
    small slice is a flag, not a verdict)."""
    overall = {k: _rate(rows, k) for k in SLICE_METRICS}
    slices: dict[str, Any] = {}
    flags: list[dict[str, Any]] = []
    named = any(r.get("user_id") is not None for r in rows)
    for dim in SLICE_DIMENSIONS:
        groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for r in rows:
            groups[str(r.get(dim))].append(r)
        for value, items in sorted(groups.items()):
            people = len({r.get("user_id") for r in items}) if named else None
            entry: dict[str, Any] = {"n": len(items), "people": people}
            if len(items) < min_prompts or (people is not None and people < min_people):
                entry["status"] = TOO_SMALL
                slices[f"{dim}={value}"] = entry
                continue
            for key in SLICE_METRICS:
                val, base = _rate(items, key), overall[key]
                if val is None or not base:
                    continue
                values = _values(items, key)
                if len(values) < min_prompts:
                    entry[key] = {"value": val, "n": len(values), "status": TOO_SMALL}
                    continue
                deviation = round((val - base) / base, 4)
                severity, ci = "ok", None
                if abs(deviation) > FLAG_DEVIATION:
                    severity = "flag"
                    ci = bootstrap_ci(values, resamples=resamples, seed=seed)
                    outside = ci is not None and not ci[0] <= base <= ci[1]
                    if abs(deviation) > CRITICAL_DEVIATION and outside:
                        severity = "critical"
                entry[key] = {
                    "value": val,
                    "deviation": deviation,
                    "n": len(values),
                    "severity": severity,
                    "ci": list(ci) if ci else None,
                }
                if severity != "ok":
                    flags.append(
                        {
                            "slice": f"{dim}={value}",
                            "metric": key,
                            "value": val,
                            "overall": base,
                            "deviation": deviation,
                            "n": len(values),
                            "people": people,
                            "severity": severity,
                        }
                    )
            slices[f"{dim}={value}"] = entry
    by_type = {
        t: {k: _rate([r for r in rows if r["prompt_type"] == t], k) for k in SLICE_METRICS}
        for t in sorted({r["prompt_type"] for r in rows})
    }
    return {
        "overall": overall,
        "slices": slices,
        "flags": flags,
        "by_prompt_type": by_type,
        "critical": [
            f for f in flags if f["severity"] == "critical" and f["metric"] in GATED_METRICS
        ],
        "thresholds": {
            "flag": FLAG_DEVIATION,
            "critical": CRITICAL_DEVIATION,
            "min_slice_size": min_prompts,
            "min_slice_people": min_people,
        },
    }


def focus_report(
    rows: list[dict[str, Any]],
    capabilities: Sequence[str] = (),
    slices: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """What a retraining run targeted, on its own: every system's summary on the focus
    capabilities' prompts and on the focus slice's people (``monitoring.focus``), so the
    report answers "did the retrained model fix what decayed" before the overall figures.
    Empty when the run had no focus."""
    slices = dict(slices or {})
    if not capabilities and not slices:
        return {}
    systems = sorted({r["system"] for r in rows})

    def per_system(items: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            name: {**summarize(of), "prompts": len(of)}
            for name in systems
            if (of := [r for r in items if r["system"] == name])
        }

    report: dict[str, Any] = {"capabilities": {}, "slices": {}}
    for capability in capabilities:
        report["capabilities"][capability] = per_system(
            [r for r in rows if r.get("capability") == capability]
        )
    for dim, value in slices.items():
        report["slices"][f"{dim}={value}"] = per_system(
            [r for r in rows if str(r.get(dim)) == value]
        )
    return report


MIN_BIAS_PEOPLE = 10


def _person_means(rows: Sequence[dict[str, Any]], key: str) -> list[float]:
    """One value per person: the mean of ``key`` over that person's rows."""
    per: dict[str, list[float]] = defaultdict(list)
    for r in rows:
        if r.get(key) is not None:
            per[str(r.get("user_id"))].append(float(r[key]))
    return [statistics.fmean(v) for _, v in sorted(per.items())]


def people_bias_report(
    rows: Sequence[dict[str, Any]],
    *,
    metrics: Sequence[str] = SLICE_METRICS,
    dimensions: Sequence[str] = SLICE_DIMENSIONS,
    min_people: int = MIN_BIAS_PEOPLE,
    resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = BOOTSTRAP_SEED,
) -> dict[str, Any]:
    """The model's outcomes per slice of people against everyone else, on its own
    evaluation rows. Sizes count people, not prompts: a slice (and the rest) needs
    ``min_people`` people with a value. Each metric is averaged per person first and the
    bootstrap resamples people, so one person's many prompts count once. A slice
    **differs** when its interval and the rest's interval do not overlap. ``explanation``
    says why nothing differs when nothing does."""
    slices: dict[str, Any] = {}
    differs: list[dict[str, Any]] = []
    small: list[str] = []
    for dim in dimensions:
        values = sorted({str(r.get(dim)) for r in rows})
        for value in values:
            inside = [r for r in rows if str(r.get(dim)) == value]
            rest = [r for r in rows if str(r.get(dim)) != value]
            entry: dict[str, Any] = {"people": len({r.get("user_id") for r in inside})}
            for key in metrics:
                a, b = _person_means(inside, key), _person_means(rest, key)
                if len(a) < min_people or len(b) < min_people:
                    if a:
                        entry[key] = {"people": len(a), "status": TOO_SMALL}
                    continue
                ci_a = bootstrap_ci(a, resamples=resamples, seed=seed)
                ci_b = bootstrap_ci(b, resamples=resamples, seed=seed)
                if ci_a is None or ci_b is None:
                    continue
                apart = ci_a[1] < ci_b[0] or ci_a[0] > ci_b[1]
                entry[key] = {
                    "value": round(statistics.fmean(a), 4),
                    "ci": list(ci_a),
                    "rest": round(statistics.fmean(b), 4),
                    "rest_ci": list(ci_b),
                    "people": len(a),
                    "differs": apart,
                }
                if apart:
                    differs.append({"slice": f"{dim}={value}", "metric": key, **entry[key]})
            if entry["people"] < min_people:
                small.append(f"{dim}={value}")
            slices[f"{dim}={value}"] = entry
    compared = sum(
        1 for e in slices.values() for v in e.values() if isinstance(v, dict) and "differs" in v
    )
    explanation = None
    if not differs:
        explanation = (
            f"no slice's interval lies outside the rest's in {compared} comparisons of "
            f"slices with {min_people}+ people"
            + (f"; too few people to compare: {', '.join(small)}" if small else "")
        )
    return {
        "people": len({r.get("user_id") for r in rows}),
        "slices": slices,
        "differs": differs,
        "comparisons": compared,
        "too_small": small,
        "explanation": explanation,
        "method": f"per-person means; percentile bootstrap over people, {resamples} "
        f"resamples; a slice differs when its {CONFIDENCE:.0%} interval and the rest's "
        f"do not overlap; slices and rests of at least {min_people} people",
    }


# --- the gate --------------------------------------------------------------------------------


def _criterion(
    capability: str,
    name: str,
    value: float | None,
    ci: Sequence[float] | None,
    threshold: str,
    passed: bool,
) -> dict[str, Any]:
    return {
        "capability": capability,
        "name": name,
        "value": value,
        "ci": list(ci) if ci is not None else None,
        "threshold": threshold,
        "passed": bool(passed),
    }


def _beats(
    capability: str,
    name: str,
    student: Sequence[dict[str, Any]],
    other: Sequence[dict[str, Any]],
    key: str,
    label: str,
    stats: dict[str, int],
) -> dict[str, Any]:
    """Passes when the interval of the paired difference (student − other) lies above 0."""
    threshold = f"CI of (student − {label}) above 0"
    if not other:
        return _criterion(capability, name, None, None, f"{threshold}; {label} missing", False)
    d = paired_difference(student, other, key, **stats)
    return _criterion(
        capability, name, d["value"], d["ci"], threshold, d["ci"] is not None and d["ci"][0] > 0
    )


def _no_worse(
    capability: str,
    name: str,
    student: Sequence[dict[str, Any]],
    champion: Sequence[dict[str, Any]],
    key: str,
    absent: str | None,
    stats: dict[str, int],
) -> dict[str, Any]:
    """Passes unless the interval of (student − champion) lies entirely below 0;
    vacuously, and saying so, when no champion was evaluated (``absent``: why; None: one
    was, so missing answers of its fail)."""
    if absent is not None:
        return _criterion(capability, name, None, None, f"vacuously true: {absent}", True)
    if not champion:
        return _criterion(
            capability, name, None, None, "champion evaluated but no answer to compare", False
        )
    d = paired_difference(student, champion, key, **stats)
    return _criterion(
        capability,
        name,
        d["value"],
        d["ci"],
        "CI of (student − champion) not entirely below 0",
        d["ci"] is not None and d["ci"][1] >= 0,
    )


def _at_least(
    capability: str,
    name: str,
    rows: Sequence[dict[str, Any]],
    key: str,
    minimum: float,
    stats: dict[str, int],
) -> dict[str, Any]:
    e = estimate(rows, key, **stats)
    passed = e["value"] is not None and e["value"] >= minimum
    threshold = "= 100 %" if minimum == 1 else f">= {minimum:.0%}".replace("%", " %")
    if e["value"] is None:
        threshold += " (nothing to measure it on)"
    return _criterion(capability, name, e["value"], e["ci"], threshold, passed)


def _bias(
    capability: str, student: list[dict[str, Any]], stats: dict[str, int]
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    critical = slice_report(student, **stats)["critical"]
    criterion = _criterion(
        capability,
        "critical_bias",
        float(len(critical)),
        None,
        "no critical slice gap in a gated measure",
        not critical,
    )
    return criterion, critical


def _failure(c: dict[str, Any], detail: str = "") -> str:
    value = _cell(c["value"], c["ci"])
    return f"{c['capability']}: {c['name']} {value} fails ({c['threshold']}){detail}"


def promotion_gate(
    rows: Sequence[dict[str, Any]],
    *,
    champion_absent: str = "no version serves",
    min_prompts: int = MIN_CAPABILITY_PROMPTS,
    resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = BOOTSTRAP_SEED,
) -> dict[str, Any]:
    """Per capability, whether the student may serve it, from every system's rows (each
    with ``system`` and ``capability``). A plan capability passes only when

    (a) the student's own programming-quality pass rate clearly beats random-valid (the
        interval of the paired difference lies above 0);
    (b) its slot agreement with the teacher clearly beats random-valid the same way;
    (c) its programming quality is no worse than the champion's beyond the interval
        (vacuously true, and said so, without a champion: ``champion_absent`` says why);
    (d) every plan served after the post-check passes the quality checks;
    (e) no critical slice gap in a gated measure;

    coach replies pass with model reply acceptance >= :data:`MIN_REPLY_ACCEPTANCE`,
    model-only safety >= :data:`MIN_MODEL_SAFETY`, ROUGE-L clearly above the base model,
    acceptance no worse than the champion's, and no critical slice gap. A capability with
    fewer than ``min_prompts`` prompts fails on that alone. The student passes when at
    least one capability does."""
    stats = {"resamples": resamples, "seed": seed}
    by_system: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        by_system[r["system"]].append(r)
    criteria: list[dict[str, Any]] = []
    failures: list[str] = []
    absent = None if "champion" in by_system else champion_absent

    def of(system: str, capability: str, key: str) -> list[dict[str, Any]]:
        return [
            r for r in by_system.get(system, []) if r.get("capability") == capability and key in r
        ]

    for capability in CAPABILITIES:
        plan = capability in PLAN_CAPABILITIES
        marker = "quality_valid" if plan else "reply_accepted"
        student = of("student", capability, marker)
        enough = _criterion(
            capability,
            "prompts",
            float(len(student)),
            None,
            f">= {min_prompts} prompts the student answered",
            len(student) >= min_prompts,
        )
        found = [enough]
        if enough["passed"] and plan:
            random_valid = of("random_valid", capability, "quality_valid")
            champion = of("champion", capability, "quality_valid")
            found += [
                _beats(
                    capability,
                    "quality_vs_random_valid",
                    student,
                    random_valid,
                    "quality_valid",
                    "random_valid",
                    stats,
                ),
                _beats(
                    capability,
                    "slot_agreement_vs_random_valid",
                    student,
                    random_valid,
                    "slot_agreement",
                    "random_valid",
                    stats,
                ),
                _no_worse(
                    capability,
                    "quality_vs_champion",
                    student,
                    champion,
                    "quality_valid",
                    absent,
                    stats,
                ),
                _at_least(
                    capability,
                    "served_quality",
                    student,
                    "quality_served",
                    SERVED_QUALITY_REQUIRED,
                    stats,
                ),
            ]
        elif enough["passed"]:
            safety = [r for r in student if r.get("safety_model") is not None]
            found += [
                _at_least(
                    capability,
                    "reply_acceptance",
                    student,
                    "reply_accepted",
                    MIN_REPLY_ACCEPTANCE,
                    stats,
                ),
                _at_least(
                    capability, "model_safety", safety, "safety_model", MIN_MODEL_SAFETY, stats
                ),
                _beats(
                    capability,
                    "rouge_l_vs_base",
                    student,
                    of("base", capability, "reply_accepted"),
                    "rouge_l",
                    "base",
                    stats,
                ),
                _no_worse(
                    capability,
                    "acceptance_vs_champion",
                    student,
                    of("champion", capability, "reply_accepted"),
                    "reply_accepted",
                    absent,
                    stats,
                ),
            ]
        detail = ""
        if enough["passed"]:
            bias, critical = _bias(capability, student, stats)
            found.append(bias)
            detail = ": " + "; ".join(
                f"{f['metric']} {f['value']:.3g} in {f['slice']} against {f['overall']:.3g}"
                for f in critical[:5]
            )
        for c in found:
            if not c["passed"]:
                failures.append(_failure(c, detail if c["name"] == "critical_bias" else ""))
        criteria += found
    capabilities = {
        capability: all(c["passed"] for c in criteria if c["capability"] == capability)
        for capability in CAPABILITIES
    }
    return {
        "passed": any(capabilities.values()),
        "failures": failures,
        "capabilities": capabilities,
        "criteria": criteria,
    }


# --- the report ------------------------------------------------------------------------------

SUMMARY_ROWS = (
    "json_validity",
    "contract_validity",
    "semantic_validity",
    "programming_quality",
    "programming_quality_served",
    "slot_agreement",
    "volume_error",
    "teacher_agreement",
    "update_adherence",
    "reply_acceptance",
    "reply_relevance",
    "reply_groundedness",
    "reply_rouge_l",
    "safety_compliance",
    "safety_compliance_model_only",
    "plan_latency_p50_s",
    "plan_latency_p95_s",
    "tokens_per_second",
)


def _number(value: float) -> str:
    """Three decimals for rates and small means (0.995 must not read as 1), one for the
    rest (tokens per second)."""
    if abs(value) < 10:
        return f"{value:.3f}"
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.1f}"


def _cell(value: Any, ci: Sequence[float] | None = None) -> str:
    if value is None:
        return "-"
    text = _number(value) if isinstance(value, float) else str(value)
    if ci:
        text += f" [{_number(ci[0])}, {_number(ci[1])}]"
    return text


def _table(header: Sequence[str], body: Sequence[Sequence[str]]) -> list[str]:
    return [
        "| " + " | ".join(header) + " |",
        "| " + " | ".join("---" for _ in header) + " |",
        *("| " + " | ".join(row) + " |" for row in body),
    ]


def metrics_table(
    summary: Mapping[str, dict[str, Any]], absent: Mapping[str, str] | None = None
) -> str:
    """Every system side by side, each value with its 95 % interval: overall, update
    adherence by intent, then the key measures per capability. Measures met by
    construction are marked, so nobody reads them as quality."""
    systems = [s for s in SYSTEMS if s in summary]
    body = []
    for key in SUMMARY_ROWS:
        label = f"{key} †" if key in DETERMINISTIC_BY_CONSTRUCTION else key
        body.append(
            [label]
            + [_cell(summary[s].get(key), summary[s].get("ci", {}).get(key)) for s in systems]
        )
    intents = sorted({i for s in systems for i in summary[s].get("update_adherence_by_intent", {})})
    for intent in intents:
        cells = []
        for s in systems:
            e = summary[s].get("update_adherence_by_intent", {}).get(intent)
            cells.append(_cell(e["value"], e["ci"]) if e else "-")
        body.append([f"update_adherence: {intent}", *cells])
    for capability, names in CAPABILITY_METRICS.items():
        for name in names:
            cells = []
            for s in systems:
                e = summary[s].get("by_capability", {}).get(capability, {}).get(name)
                cells.append(_cell(e["value"], e["ci"]) if e else "-")
            if any(c != "-" for c in cells):
                body.append([f"{capability}: {name}", *cells])
    lines = _table(["metric", *systems], body)
    lines.append("")
    lines.append(
        "† met by construction under the grammar (constrained decoding): shows the "
        "constraint works, not what the model learned. volume_error: lower is better."
    )
    for system, reason in (absent or {}).items():
        lines.append(f"{system}: absent ({reason}).")
    return "\n".join(lines)


def gate_table(gate: Mapping[str, Any]) -> str:
    """The gate's criteria, one a row, and its verdict per capability."""
    body = [
        [
            c["capability"],
            c["name"],
            _cell(c["value"], c["ci"]),
            c["threshold"],
            "pass" if c["passed"] else "**FAIL**",
        ]
        for c in gate["criteria"]
    ]
    lines = _table(["capability", "criterion", "value", "threshold", "result"], body)
    verdicts = ", ".join(
        f"{k} {'passes' if v else 'fails'}" for k, v in gate["capabilities"].items()
    )
    verdict = "**passes**" if gate["passed"] else "**fails**"
    lines += ["", f"Promotion gate {verdict} ({verdicts})."]
    return "\n".join(lines)


def markdown_summary(
    summary: Mapping[str, dict[str, Any]],
    gate: Mapping[str, Any],
    absent: Mapping[str, str] | None = None,
) -> str:
    """The systems side by side, then the gate's criteria."""
    return metrics_table(summary, absent) + "\n\n" + gate_table(gate)


def timed_generation(call: Callable[[], Any]) -> Generation:
    started = time.perf_counter()
    try:
        response = call()
    except Exception as exc:  # reported per prompt; the evaluation goes on
        return Generation(None, time.perf_counter() - started, 0, f"{type(exc).__name__}: {exc}")
    elapsed = time.perf_counter() - started
    usage = getattr(response, "usage", None)
    return Generation(
        response.choices[0].message.content,
        elapsed,
        int(getattr(usage, "completion_tokens", 0) or 0),
    )
