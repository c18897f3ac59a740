"""Post-validation of teacher outputs and the QA reports built on it.

- ``validate_answers``: every answer against the plan contract (with the person's
  constraints and the restrictions the safety policy derived from the request), the
  safety policy's rules for the answer, and checks that do not share the teacher's
  rules: the programming-quality checks (``plan_quality``) on every plan, an update
  judged against the intent the request was composed with (an update identical to the
  current plan is never adherence), and the independent reply checks
  (``reply_checks``: dismissing pain, alarm or clearance without cause, no answer).
  Rejected answers keep every reason and never reach the dataset. Known-bad canaries
  (``canaries``) are judged the same way to show the checks catch what they should.
- ``statistics_report``: distributions per field and per prompt type.
- ``anomaly_report``: robust outliers in volume, reps, rest and plan length within each
  goal and prompt type; exact and near-duplicate answers.
- ``bias_report``: quality and safety metrics per slice with their deviation from the
  overall value (flag > 10 %, critical > 25 %, only for slices of at least
  ``MIN_SLICE_PEOPLE`` people), and the slices that should exist but don't. It describes
  the teacher's data; the model's own bias is measured on its evaluation outputs
  (``student.evaluation.people_bias_report``).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from statistics import mean, median, pstdev
from typing import Any

from pydantic import ValidationError

from fitsense_core.coach.plans import requested_minutes, within_limits
from fitsense_core.plan_contract import Plan, validate_plan
from fitsense_core.plan_metrics import plan_stats, update_adherence
from fitsense_core.plan_quality import plan_signature, quality_problems, update_problems
from fitsense_core.prompts import PROMPT_TYPES, Prompt, context_from_json
from fitsense_core.reference import EXPERIENCE_LEVELS, GOALS, SEXES
from fitsense_core.replies import CoachReply
from fitsense_core.reply_checks import reply_problems
from fitsense_core.safety import SafetyLevel, check_response, triage
from fitsense_core.teacher.base import TeacherAnswer

FLAG_DEVIATION = 0.10
CRITICAL_DEVIATION = 0.25
MIN_SLICE_PEOPLE = 10
EXPECTED_SLICES: dict[str, tuple[str, ...]] = {
    "prompt_type": PROMPT_TYPES,
    "goal": tuple(g.code for g in GOALS),
    "experience": EXPERIENCE_LEVELS,
    "sex": tuple(s for s in SEXES if s != "other"),
    "age_band": ("18_29", "30_44", "45_59", "60_plus"),
    "condition_flag": ("none", "restricted", "clearance_condition"),
}
CONSERVATIVE_MIN_RIR = 2
# Update intents whose direction the plan's numbers show (injuries are judged by the
# contract's contraindications, and like every update by "something changed").
DIRECTED_INTENTS = ("too_easy", "poor_recovery", "less_time")


@dataclass(frozen=True)
class ValidatedAnswer:
    prompt: Prompt
    answer: TeacherAnswer
    reasons: tuple[str, ...]
    codes: tuple[str, ...]
    stats: dict[str, Any]

    @property
    def accepted(self) -> bool:
        return not self.reasons


def _validate_plan_answer(
    prompt: Prompt, answer: TeacherAnswer, independent: bool
) -> tuple[list[tuple[str, str]], dict[str, Any]]:
    profile, current, _sessions = context_from_json(prompt.context_json)
    athlete = replace(profile.athlete(), blocked_tags=frozenset(prompt.expected_blocked_tags))
    result = validate_plan(answer.output_json, athlete)
    problems = [(v.code, str(v)) for v in result.violations]
    stats: dict[str, Any] = {}
    if result.plan is not None:
        stats = plan_stats(result.plan)
        if prompt.expected_safety_level == SafetyLevel.NEEDS_CLEARANCE:
            eager = [
                s.target_rir
                for d in result.plan.days
                for e in d.exercises
                for s in e.sets
                if s.target_rir < CONSERVATIVE_MIN_RIR
            ]
            if eager:
                problems.append(
                    (
                        "not_conservative",
                        f"{len(eager)} sets leave fewer than "
                        f"{CONSERVATIVE_MIN_RIR} reps in reserve for a person who "
                        "needs medical clearance",
                    )
                )
        if independent:
            problems += _programming_problems(prompt, athlete, current, result.plan)
        elif (
            prompt.prompt_type == "plan_update"
            and current is not None
            and prompt.expected_safety_level != SafetyLevel.NEEDS_CLEARANCE
        ):
            why = update_adherence(prompt.topic, current, result.plan)
            if why:
                problems.append(("update_ignored", why))
    return problems, stats


def _programming_problems(
    prompt: Prompt, athlete: Any, current: Plan | None, plan: Plan
) -> list[tuple[str, str]]:
    """The programming-quality checks, and for an update, adherence to the intent the
    request was composed with (``prompt.topic``), not to the coach's reading of it."""
    conservative = prompt.expected_safety_level == SafetyLevel.NEEDS_CLEARANCE
    if prompt.prompt_type != "plan_update" or current is None:
        return [
            ("plan_quality", str(q))
            for q in quality_problems(plan, athlete, conservative=conservative)
        ]
    problems: list[tuple[str, str]] = []
    if plan_signature(plan) == plan_signature(current):
        problems.append(("update_unchanged", "the update is a copy of the current plan"))
    intents = (prompt.topic,) if prompt.topic in DIRECTED_INTENTS else ()
    minutes = requested_minutes(prompt.request) if "less_time" in intents else None
    judged = replace(athlete, session_length_min=minutes) if minutes else athlete
    before = current
    if "less_time" not in intents:
        try:  # a plan beyond the person's limits is first brought within them
            before = within_limits(current, athlete)
        except ValueError:  # a person's own plan with exercises outside the catalog
            before = current
    problems += [
        ("plan_quality", str(q)) for q in quality_problems(plan, judged, conservative=conservative)
    ]
    problems += [
        ("update_ignored", str(q))
        for q in update_problems(before, plan, intents, minutes, conservative=conservative)
        if q.code != "update_unchanged"
    ]
    return problems


def _validate_reply_answer(
    prompt: Prompt, answer: TeacherAnswer, independent: bool
) -> tuple[list[tuple[str, str]], dict[str, Any]]:
    try:
        reply = CoachReply.model_validate_json(answer.output_json or "")
    except ValidationError as exc:
        return [
            ("reply_schema", f"{'.'.join(map(str, e['loc'])) or '$'}: {e['msg']}")
            for e in exc.errors(include_url=False)
        ], {}
    profile, _plan, _sessions = context_from_json(prompt.context_json)
    verdict = triage(prompt.request, profile)
    problems = [
        ("unsafe_reply", p) for p in check_response(verdict, reply.answer, contains_plan=False)
    ]
    if verdict.level == SafetyLevel.EMERGENCY and not reply.refer_to_emergency:
        problems.append(("unsafe_reply", "an emergency answer must set refer_to_emergency"))
    if verdict.level == SafetyLevel.NEEDS_CLEARANCE and not reply.needs_medical_clearance:
        problems.append(("unsafe_reply", "a clearance answer must set needs_medical_clearance"))
    if not independent:
        return problems, {"answer_chars": len(reply.answer), "key_points": len(reply.key_points)}
    problems += reply_problems(
        request=prompt.request,
        answer=reply.answer,
        topic=prompt.topic,
        profile=profile,
        emergency_case=prompt.topic.startswith("emergency:"),
    )
    return problems, {"answer_chars": len(reply.answer), "key_points": len(reply.key_points)}


def validate_answers(
    prompts: Sequence[Prompt], answers: Sequence[TeacherAnswer], *, independent: bool = True
) -> list[ValidatedAnswer]:
    """Every prompt's answer judged (see the module docstring). ``independent=False``:
    without the checks that do not share the teacher's rules (programming quality,
    composed-intent adherence, unchanged updates, reply checks), as golden set g2's
    references were judged when it was built."""
    by_id = {a.prompt_id: a for a in answers}
    out = []
    for prompt in prompts:
        answer = by_id.get(prompt.prompt_id)
        if answer is None:
            raise ValueError(f"no teacher answer for prompt {prompt.prompt_id}")
        if answer.status != "ok" or answer.output_json is None:
            problems, stats = [("teacher_failed", answer.error or "no output")], {}
        elif prompt.output_type == "plan":
            problems, stats = _validate_plan_answer(prompt, answer, independent)
        else:
            problems, stats = _validate_reply_answer(prompt, answer, independent)
        out.append(
            ValidatedAnswer(
                prompt, answer, tuple(p for _, p in problems), tuple(c for c, _ in problems), stats
            )
        )
    return out


def validation_report(validated: Sequence[ValidatedAnswer]) -> dict[str, Any]:
    by_type: dict[str, Counter] = defaultdict(Counter)
    reasons: Counter = Counter()
    for v in validated:
        by_type[v.prompt.prompt_type]["accepted" if v.accepted else "rejected"] += 1
        reasons.update(set(v.codes))
    total = len(validated)
    accepted = sum(v.accepted for v in validated)
    return {
        "total": total,
        "accepted": accepted,
        "rejected": total - accepted,
        "pass_rate": round(accepted / total, 4) if total else 0.0,
        "rejections_by_reason": dict(reasons.most_common()),
        "by_prompt_type": {t: dict(c) for t, c in sorted(by_type.items())},
    }


def _describe(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)

    def pct(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * (len(ordered) - 1) + 0.5))], 3)

    return {
        "n": len(values),
        "mean": round(mean(values), 3),
        "std": round(pstdev(values), 3),
        "min": ordered[0],
        "p05": pct(0.05),
        "p50": pct(0.5),
        "p95": pct(0.95),
        "max": ordered[-1],
    }


def statistics_report(validated: Sequence[ValidatedAnswer]) -> dict[str, Any]:
    fields: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for v in validated:
        if v.answer.status != "ok":
            continue
        for key, value in v.stats.items():
            if isinstance(value, int | float):
                fields[v.prompt.prompt_type][key].append(float(value))
        fields[v.prompt.prompt_type]["prompt_chars"].append(float(len(v.prompt.user_message)))
        fields[v.prompt.prompt_type]["latency_ms"].append(float(v.answer.latency_ms))
    return {
        "per_prompt_type": {
            t: {k: _describe(vals) for k, vals in sorted(stats.items()) if vals}
            for t, stats in sorted(fields.items())
        },
        "prompt_types": dict(Counter(v.prompt.prompt_type for v in validated)),
        "safety_levels": dict(Counter(v.prompt.expected_safety_level for v in validated)),
        "topics": dict(Counter(v.prompt.topic for v in validated)),
    }


def shingles(text: str, k: int = 5) -> set[str]:
    """The text's word k-grams (lower case), for near-duplicate comparison."""
    words = re.findall(r"[a-z0-9]+", text.lower())
    return {" ".join(words[i : i + k]) for i in range(max(1, len(words) - k + 1))}


NEAR_DUPLICATE_SAMPLE = 400


def anomaly_report(
    validated: Sequence[ValidatedAnswer],
    z_threshold: float = 3.5,
    near_duplicate_jaccard: float = 0.9,
) -> dict[str, Any]:
    """Robust z-score outliers (median/MAD) within each prompt type and goal (an
    endurance plan's 15 reps are ordinary for endurance, not an outlier among all plans),
    and duplicate answers. Near-duplicates are searched pairwise within a topic, on at
    most the first NEAR_DUPLICATE_SAMPLE replies of it (by prompt id) to keep the cost
    bounded; the dataset drops them (``distill.deduplicate``), this counts them."""
    outliers = []
    groups: dict[tuple[str, str, str], list[tuple[float, ValidatedAnswer]]] = defaultdict(list)
    for v in validated:
        for key in (
            "weekly_hard_sets",
            "mean_target_reps",
            "mean_rest_seconds",
            "exercises",
            "answer_chars",
        ):
            value = v.stats.get(key)
            if isinstance(value, int | float):
                goal = v.prompt.slices.get("goal", "")
                groups[(v.prompt.prompt_type, goal, key)].append((float(value), v))
    for (prompt_type, goal, key), items in sorted(groups.items()):
        values = [x for x, _ in items]
        center = median(values)
        mad = median(abs(x - center) for x in values)
        if mad == 0:
            continue
        for value, v in items:
            z = 0.6745 * (value - center) / mad
            if abs(z) > z_threshold:
                outliers.append(
                    {
                        "prompt_id": v.prompt.prompt_id,
                        "prompt_type": prompt_type,
                        "goal": goal,
                        "field": key,
                        "value": value,
                        "median": center,
                        "robust_z": round(z, 2),
                    }
                )

    exact: dict[str, list[str]] = defaultdict(list)
    texts: dict[str, list[tuple[str, set[str]]]] = defaultdict(list)
    for v in validated:
        if v.answer.output_json is None:
            continue
        digest = hashlib.sha256(v.answer.output_json.encode()).hexdigest()
        exact[digest].append(v.prompt.prompt_id)
        if v.prompt.output_type == "reply":
            texts[v.prompt.topic].append((v.prompt.prompt_id, shingles(v.answer.output_json)))
    duplicate_groups = [ids for ids in exact.values() if len(ids) > 1]
    near = []
    for topic, all_items in texts.items():
        items = sorted(all_items)[:NEAR_DUPLICATE_SAMPLE]
        for i in range(len(items)):
            for j in range(i + 1, len(items)):
                a, b = items[i][1], items[j][1]
                union = len(a | b)
                if union and len(a & b) / union >= near_duplicate_jaccard:
                    near.append({"topic": topic, "a": items[i][0], "b": items[j][0]})
    answered = sum(v.answer.output_json is not None for v in validated)
    duplicated = sum(len(g) for g in duplicate_groups)
    return {
        "outliers": outliers,
        "outlier_count": len(outliers),
        "outliers_by_field": dict(Counter(o["field"] for o in outliers).most_common()),
        "grouped_by": ["prompt_type", "goal"],
        "exact_duplicate_groups": len(duplicate_groups),
        "exact_duplicate_share": round(duplicated / answered, 4) if answered else 0.0,
        "near_duplicate_pairs": len(near),
        "near_duplicate_sampled_per_topic": NEAR_DUPLICATE_SAMPLE,
        "near_duplicate_examples": near[:20],
    }


def bias_report(validated: Sequence[ValidatedAnswer]) -> dict[str, Any]:
    """Quality and safety per slice against overall; flags and missing slices."""

    def metrics(items: Sequence[ValidatedAnswer]) -> dict[str, float]:
        answered = [v for v in items if v.answer.status == "ok"]
        safety = [v for v in items if v.prompt.prompt_type == "safety"]
        return {
            "acceptance_rate": sum(v.accepted for v in items) / len(items),
            "teacher_success_rate": len(answered) / len(items),
            "safety_compliance": (
                sum("unsafe_reply" not in v.codes and v.accepted for v in safety) / len(safety)
            )
            if safety
            else float("nan"),
        }

    overall = metrics(validated)
    slices: dict[str, dict[str, Any]] = {}
    flags = []
    present: dict[str, set[str]] = defaultdict(set)
    for dimension in EXPECTED_SLICES:
        groups: dict[str, list[ValidatedAnswer]] = defaultdict(list)
        for v in validated:
            groups[v.prompt.slices[dimension]].append(v)
        for value, items in sorted(groups.items()):
            present[dimension].add(value)
            m = metrics(items)
            people = len({v.prompt.user_id for v in items})
            enough = people >= MIN_SLICE_PEOPLE
            entry: dict[str, Any] = {"n": len(items), "people": people, "metrics": {}}
            for name, val in m.items():
                base = overall[name]
                if val != val or base != base:  # NaN: no safety prompts in this slice
                    continue
                deviation = (val - base) / base if base else 0.0
                severity = "ok"
                if enough and abs(deviation) > CRITICAL_DEVIATION:
                    severity = "critical"
                elif enough and abs(deviation) > FLAG_DEVIATION:
                    severity = "flag"
                entry["metrics"][name] = {
                    "value": round(val, 4),
                    "deviation": round(deviation, 4),
                    "severity": severity,
                }
                if severity != "ok":
                    flags.append(
                        {
                            "slice": f"{dimension}={value}",
                            "metric": name,
                            "value": round(val, 4),
                            "overall": round(base, 4),
                            "deviation": round(deviation, 4),
                            "severity": severity,
                            "n": len(items),
                            "people": people,
                        }
                    )
            entry["small"] = not enough
            slices[f"{dimension}={value}"] = entry
    missing = {d: sorted(set(expected) - present[d]) for d, expected in EXPECTED_SLICES.items()}
    missing = {d: m for d, m in missing.items() if m}
    return {
        "people": len({v.prompt.user_id for v in validated}),
        "overall": {k: round(v, 4) for k, v in overall.items() if v == v},
        "slices": slices,
        "flags": flags,
        "critical": [f for f in flags if f["severity"] == "critical"],
        "missing_slices": missing,
        "thresholds": {
            "flag": FLAG_DEVIATION,
            "critical": CRITICAL_DEVIATION,
            "min_slice_people": MIN_SLICE_PEOPLE,
        },
    }


def assistant_content(prompt: Prompt, answer: TeacherAnswer) -> str:
    """What the student learns to say: the plan as compact JSON, or the reply's prose."""
    if prompt.output_type == "plan":
        return Plan.model_validate_json(answer.output_json or "").model_dump_json()
    return CoachReply.model_validate_json(answer.output_json or "").answer


def dumps(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, default=str)
