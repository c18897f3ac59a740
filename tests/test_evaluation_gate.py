"""The evaluation can tell a good student from a bad one, and the promotion gate can fail,
per capability.

No model server runs here: the "models" are scripted stand-ins (:func:`scripted`) that
answer each rendered prompt with a text the test chose — the teacher's own plan for a good
student, the random-valid policy's answer for a planted bad one. What is under test is the
evaluation's measures and the gate's decisions on those answers, on a small synthetic
population answered by the offline teacher (the same path the pipeline's dataset takes).
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import date
from typing import Any

import pytest

from fitsense_core.distill import build_records
from fitsense_core.inference import serve
from fitsense_core.plan_contract import Plan
from fitsense_core.prompts import build_prompts
from fitsense_core.qa import validate_answers
from fitsense_core.student import evaluation as ev
from fitsense_core.student.compact import Codebook, build_codebook, encode_plan, random_valid_plan
from fitsense_core.student.data import target_text, task_from_record, teacher_plans
from fitsense_core.synthetic import SyntheticConfig, generate_run
from fitsense_core.synthetic.context import user_contexts
from fitsense_core.teacher import run_teacher
from fitsense_core.teacher.offline import OfflineTeacher

CONFIG = ev.EvalConfig()
# Fewer resamples than the report's 1000 where a test only needs the decision: the same
# percentile bootstrap, a quarter of the time.
FAST = {"resamples": 250}
GATE_KEYS = {"passed", "failures", "capabilities", "criteria"}
CRITERION_KEYS = {"capability", "name", "value", "ci", "threshold", "passed"}


@pytest.fixture(scope="module")
def population() -> tuple[list[dict[str, Any]], Codebook]:
    """Dataset records for 40 people answered by the offline teacher, updates split into
    requested changes and adaptations to logged training (as the golden set marks them)."""
    config = SyntheticConfig(
        run_id="gate", n_users=40, seed=5, history_days=28, history_end=date(2026, 1, 4)
    )
    prompts = build_prompts("gate", user_contexts(*generate_run(config)))
    report = run_teacher(prompts, OfflineTeacher())
    accepted = [v for v in validate_answers(prompts, report.answers) if v.accepted]
    records = [json.loads(r.to_json()) for r in build_records(accepted)]
    for r in records:
        if r["metadata"]["prompt_type"] == "plan_update" and r["metadata"]["topic"] in (
            "too_easy",
            "poor_recovery",
        ):
            r["metadata"]["capability"] = "plan_adaptation"
    return records, build_codebook(teacher_plans(records))


def _content(record: dict[str, Any], codebook: Codebook) -> str:
    task = task_from_record(record)
    return serve.model_request(task, codebook, None).messages[-1]["content"]


def scripted(answers: dict[str, str | None]) -> ev.Generate:
    """A scripted stand-in for a model server: the answer set for each rendered prompt."""

    def generate(messages: list[dict[str, str]], _extra: dict, _max_tokens: int) -> ev.Generation:
        return ev.Generation(answers.get(messages[-1]["content"]), 0.01, 12)

    return generate


def teacher_answers(records: list[dict[str, Any]], codebook: Codebook) -> dict[str, str]:
    """The good student: the teacher's plan in compact form, the teacher's reply body (the
    server adds the safety lead)."""
    out = {}
    for r in records:
        reference = r["messages"][-1]["content"]
        if r["metadata"]["output_type"] == "plan":
            out[_content(r, codebook)] = encode_plan(
                Plan.model_validate_json(reference), codebook, approximate=True
            )
        else:
            out[_content(r, codebook)] = target_text(r, codebook)
    return out


def random_answers(records: list[dict[str, Any]], codebook: Codebook) -> dict[str, str | None]:
    """The planted bad student: exactly the random-valid policy's plans, no replies."""
    out: dict[str, str | None] = {}
    for r in records:
        task = task_from_record(r)
        if task.output_type == "plan":
            out[_content(r, codebook)] = random_valid_plan(
                codebook,
                task.athlete,
                ev.prompt_rng(task.id, CONFIG.seed),
                conservative=task.conservative,
                update=serve.is_update(task),
            )
        else:
            out[_content(r, codebook)] = None
    return out


def rows_of(
    records: list[dict[str, Any]],
    codebook: Codebook,
    student: dict[str, str | None],
    champion: dict[str, str | None] | None = None,
) -> list[dict[str, Any]]:
    rows = ev.run_system("student", records, codebook, scripted(student), CONFIG, backend=None)
    rows += ev.run_system("teacher", records, codebook, None, CONFIG, backend=None)
    rows += ev.run_random_valid(records, codebook, CONFIG)
    rows += ev.run_system(
        "base", records, codebook, scripted({}), CONFIG, backend=None
    )  # an untrained model that answers nothing
    if champion is not None:
        rows += ev.run_system(
            "champion", records, codebook, scripted(champion), CONFIG, backend=None
        )
    return rows


def _good_plan_creation(records: list[dict[str, Any]], codebook: Codebook) -> list[dict]:
    """Plan-creation records whose teacher plan, as a compact plan, passes the coach's
    checks (a golden set holds such references; the offline coach fails a few)."""
    rows = ev.run_system(
        "teacher_compact",
        [r for r in records if r["metadata"]["prompt_type"] == "plan_creation"],
        codebook,
        scripted(teacher_answers(records, codebook)),
        CONFIG,
        backend=None,
    )
    good = {r["id"] for r in rows if r.get("quality_valid")}
    return [r for r in records if r["id"] in good]


def _criteria(gate: dict[str, Any], capability: str) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in gate["criteria"] if c["capability"] == capability}


def test_a_random_valid_student_is_refused_every_plan_capability_with_reasons(
    population,
) -> None:
    records, codebook = population
    rows = rows_of(
        records,
        codebook,
        student=random_answers(records, codebook),
        champion=teacher_answers(records, codebook),
    )
    gate = ev.promotion_gate(rows, **FAST)
    assert set(gate) == GATE_KEYS and all(set(c) == CRITERION_KEYS for c in gate["criteria"])
    assert not gate["passed"]
    assert gate["capabilities"] == dict.fromkeys(ev.CAPABILITIES, False)
    for capability in ev.PLAN_CAPABILITIES:
        criteria = _criteria(gate, capability)
        assert criteria["prompts"]["passed"], capability  # enough prompts: refused on merit
        for name in (
            "quality_vs_random_valid",
            "slot_agreement_vs_random_valid",
            "quality_vs_champion",
        ):
            assert not criteria[name]["passed"], (capability, name)
            assert any(f.startswith(f"{capability}: {name} ") for f in gate["failures"]), (
                capability,
                name,
                gate["failures"],
            )
        # The same answers as random-valid: the paired difference is exactly nothing.
        assert criteria["quality_vs_random_valid"]["ci"] == [0.0, 0.0]
        assert criteria["quality_vs_champion"]["ci"][1] < 0
    # Measures met by construction cannot tell the two apart; the new ones can.
    summary = {
        s: ev.summarize([r for r in rows if r["system"] == s], **FAST)
        for s in ("student", "champion")
    }
    assert summary["student"]["contract_validity"] == summary["champion"]["contract_validity"]
    assert summary["student"]["slot_agreement"] < 0.3 < 0.9 < summary["champion"]["slot_agreement"]
    assert summary["student"]["volume_error"] > summary["champion"]["volume_error"]


def test_a_good_student_passes_plan_creation(population) -> None:
    records, codebook = population
    chosen = _good_plan_creation(records, codebook)
    assert len(chosen) >= ev.MIN_CAPABILITY_PROMPTS
    rows = rows_of(chosen, codebook, student=teacher_answers(chosen, codebook))
    gate = ev.promotion_gate(rows, champion_absent="no version serves", **FAST)
    criteria = _criteria(gate, "plan_creation")
    assert gate["capabilities"]["plan_creation"], gate["failures"]
    assert gate["passed"]
    assert criteria["quality_vs_random_valid"]["ci"][0] > 0
    assert criteria["slot_agreement_vs_random_valid"]["ci"][0] > 0
    assert criteria["served_quality"]["value"] == 1.0
    champion = criteria["quality_vs_champion"]
    assert champion["passed"] and champion["value"] is None
    assert "vacuously" in champion["threshold"] and "no version serves" in champion["threshold"]
    # The capabilities it had no prompts for fail on that alone.
    assert not gate["capabilities"]["plan_update"]
    assert list(_criteria(gate, "plan_update")) == ["prompts"]

    # A champion as good as the student does not block it: no worse beyond the noise.
    rows += ev.run_system(
        "champion",
        chosen,
        codebook,
        scripted(teacher_answers(chosen, codebook)),
        CONFIG,
        backend=None,
    )
    again = ev.promotion_gate(rows, **FAST)
    assert again["capabilities"]["plan_creation"], again["failures"]
    assert _criteria(again, "plan_creation")["quality_vs_champion"]["ci"] == [0.0, 0.0]


def test_bootstrap_interval_contains_the_mean_and_narrows_with_more_prompts() -> None:
    widths = []
    for n in (40, 400, 4000):
        values = [1.0 if i % 10 < 3 else 0.0 for i in range(n)]  # a rate of 0.3
        lo, hi = ev.bootstrap_ci(values)
        assert lo <= 0.3 <= hi
        widths.append(hi - lo)
        assert ev.bootstrap_ci(values) == (lo, hi)  # a fixed seed: reproducible
    assert widths[0] > widths[1] > widths[2]
    assert widths[1] < 0.12  # about ±1.96·sqrt(0.21/400) ≈ ±0.045
    assert ev.bootstrap_ci([]) is None
    assert ev.bootstrap_ci([0.5] * 7) == (0.5, 0.5)

    a = [{"id": str(i), "x": 1.0 if i % 2 else 0.0} for i in range(50)]
    b = [{"id": str(i), "x": 0.0} for i in range(50)]
    better = ev.paired_difference(a, b, "x")
    assert better["value"] == 0.5 and better["ci"][0] > 0 and better["n"] == 50
    assert ev.paired_difference(a, a, "x")["ci"] == [0.0, 0.0]


def test_slot_agreement_and_volume_error_tell_the_teacher_from_a_planted_bad_plan(
    population,
) -> None:
    records, codebook = population
    plans = [r for r in records if r["metadata"]["output_type"] == "plan"]
    teacher = ev.run_system("teacher", plans, codebook, None, CONFIG, backend=None)
    assert {r["slot_agreement"] for r in teacher} == {1.0}
    assert {r["volume_error"] for r in teacher} == {0.0}

    reference = Plan.model_validate_json(plans[0]["messages"][-1]["content"])
    assert ev.slot_agreement(reference, reference) == 1.0
    assert ev.volume_error(reference, reference) == 0.0
    # "Hammer Curl ×3" on every training day: contract-valid in form, useless in content.
    curls = reference.model_dump()
    for day in curls["days"]:
        for exercise in day["exercises"]:
            exercise["exercise_name"] = "Hammer Curl"
    curls = Plan.model_validate(curls)
    assert ev.slot_agreement(curls, reference) < 0.2
    assert ev.volume_error(curls, reference) > 1.0
    # One training day fewer shares no day with the teacher's week.
    shorter = reference.model_dump()
    next(d for d in reversed(shorter["days"]) if d["exercises"])["exercises"] = []
    assert ev.slot_agreement(Plan.model_validate(shorter), reference) == 0.0
    assert ev.slot_agreement(None, reference) == 0.0
    assert ev.volume_error(None, reference) > 0.0


def test_a_capability_with_too_few_prompts_fails_on_that_alone(population) -> None:
    records, codebook = population
    few = _good_plan_creation(records, codebook)[: ev.MIN_CAPABILITY_PROMPTS - 5]
    rows = rows_of(few, codebook, student=teacher_answers(few, codebook))
    gate = ev.promotion_gate(rows, **FAST)
    assert not gate["capabilities"]["plan_creation"] and not gate["passed"]
    criteria = _criteria(gate, "plan_creation")
    assert list(criteria) == ["prompts"]
    assert criteria["prompts"]["value"] == len(few)
    assert any(f.startswith("plan_creation: prompts ") for f in gate["failures"])


def test_the_report_shows_every_system_with_intervals_and_the_criteria(population) -> None:
    records, codebook = population
    chosen = _good_plan_creation(records, codebook)
    rows = rows_of(chosen, codebook, student=teacher_answers(chosen, codebook))
    summary = {
        s: ev.summarize([r for r in rows if r["system"] == s], **FAST)
        for s in ev.SYSTEMS
        if any(r["system"] == s for r in rows)
    }
    gate = ev.promotion_gate(rows, **FAST)
    text = ev.markdown_summary(summary, gate, {"champion": "no version serves"})
    header = text.splitlines()[0]
    assert header == "| metric | student | teacher | base | random_valid |"
    assert "champion: absent (no version serves)." in text
    assert "| contract_validity † |" in text  # met by construction, marked as such
    quality = next(line for line in text.splitlines() if line.startswith("| programming_quality |"))
    # Every system a value with its interval: student, teacher, base, random_valid.
    assert quality == (
        "| programming_quality | 1.000 [1.000, 1.000] | 1.000 [1.000, 1.000] | "
        "0.000 [0.000, 0.000] | " + quality.split("| ")[-1]
    )
    assert quality.count("[") == 4
    assert "| capability | criterion | value | threshold | result |" in text
    assert "| plan_creation | quality_vs_random_valid |" in text


def test_update_adherence_is_reported_by_intent(population) -> None:
    records, codebook = population
    updates = [r for r in records if r["metadata"]["prompt_type"] == "plan_update"]
    rows = ev.run_random_valid(updates, codebook, CONFIG)
    by_intent = ev.summarize(rows, **FAST)["update_adherence_by_intent"]
    topics = Counter(r["metadata"]["topic"] for r in updates)
    assert set(by_intent) <= set(topics) and {"injury", "too_easy"} <= set(by_intent)
    for entry in by_intent.values():
        assert entry["ci"][0] <= entry["value"] <= entry["ci"][1]


def test_cached_generations_are_reused_without_asking_the_model(population) -> None:
    records, codebook = population
    some = records[:12]
    cache: dict[str, dict] = {}
    first = ev.run_system(
        "base",
        some,
        codebook,
        scripted(teacher_answers(some, codebook)),
        CONFIG,
        backend=None,
        cache=cache,
    )
    asked = [r for r in first if r.get("model_called")]
    assert len(cache) == len(asked) > 0

    def refuse(*_args: Any) -> ev.Generation:
        raise AssertionError("a cached prompt went to the model")

    second = ev.run_system("base", some, codebook, refuse, CONFIG, backend=None, cache=cache)
    assert all(r["cached"] for r in second if r.get("model_called"))
    strip = {"cached"}
    assert [{k: v for k, v in r.items() if k not in strip} for r in second] == [
        {k: v for k, v in r.items() if k not in strip} for r in first
    ]


def test_slices_too_small_are_reported_not_compared(population) -> None:
    records, codebook = population
    rows = ev.run_random_valid(records, codebook, CONFIG)
    report = ev.slice_report(rows, min_people=15, **FAST)
    small = [s for s in report["slices"].values() if s.get("status") == ev.TOO_SMALL]
    compared = [s for s in report["slices"].values() if "status" not in s]
    assert small and compared
    assert all(s["people"] < 15 or s["n"] < ev.MIN_SLICE_SIZE for s in small)
    flagged = {f["slice"] for f in report["flags"]}
    assert not flagged & {k for k, s in report["slices"].items() if s.get("status")}


def test_the_generations_cache_is_named_by_what_shapes_an_answer(population) -> None:
    _records, codebook = population
    key = ev.generations_cache_key("a" * 64, "g1", CONFIG, codebook)
    assert key == ev.generations_cache_key("a" * 64, "g1", ev.EvalConfig(max_prompts=9), codebook)
    for other in (
        ev.generations_cache_key("b" * 64, "g1", CONFIG, codebook),
        ev.generations_cache_key("a" * 64, "g2", CONFIG, codebook),
        ev.generations_cache_key("a" * 64, "g1", ev.EvalConfig(max_tokens_plan=100), codebook),
        ev.generations_cache_key(
            "a" * 64, "g1", CONFIG, Codebook(codebook.exercises[:-1], codebook.schemes)
        ),
    ):
        assert other != key


def test_the_report_samples_the_coach_answers_a_person_would_read() -> None:
    from fitsense_core.student.evaluation import reply_samples

    rows = [
        {"system": "student", "capability": "plan_creation"},
        *(
            {
                "system": system,
                "question": f"q{i}",
                "reply_text": f"a{i}",
                "reply_accepted": i % 2 == 0,
                "reply_reason": None if i % 2 == 0 else "model answer does not answer",
            }
            for i in range(30)
            for system in ("student", "base")
        ),
    ]
    sample = reply_samples(rows)
    assert len(sample) == 20 and sample[0] == {
        "question": "q0",
        "answer": "a0",
        "accepted": True,
        "reason": None,
    }
    assert sample[1]["reason"] == "model answer does not answer"
    assert reply_samples(rows, "teacher") == []
