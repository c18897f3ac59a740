"""QA that does not share the teacher's brain: independent reply checks, programming
quality and intent adherence on plans, canaries with 100 % recall, anomalies within
goal, and a bias report on evaluation rows that can flag a slice. Every check is shown
able to fail."""

from __future__ import annotations

import json
import random
from dataclasses import replace
from datetime import date

import pytest

from fitsense_assets.defs.qa.checks import canaries_all_caught
from fitsense_core.canaries import (
    CANARY_KINDS,
    DISMISSIVE_ANSWER,
    canary_report,
    judge_canaries,
    plant_canaries,
)
from fitsense_core.prompts import Prompt, build_prompts, context_from_json
from fitsense_core.qa import anomaly_report, validate_answers
from fitsense_core.replies import CoachReply
from fitsense_core.reply_checks import reply_problems
from fitsense_core.student.evaluation import people_bias_report
from fitsense_core.synthetic import SyntheticConfig, generate_run
from fitsense_core.synthetic.context import user_contexts
from fitsense_core.teacher import TeacherAnswer, run_teacher
from fitsense_core.teacher.offline import OfflineTeacher


@pytest.fixture(scope="module")
def run() -> tuple[list[Prompt], list[TeacherAnswer]]:
    config = SyntheticConfig(
        run_id="indep", n_users=80, seed=3, history_days=28, history_end=date(2026, 1, 4)
    )
    prompts = build_prompts("indep", user_contexts(*generate_run(config)))
    return prompts, run_teacher(prompts, OfflineTeacher()).answers


def _with(answer: TeacherAnswer, output_json: str) -> TeacherAnswer:
    return replace(answer, output_json=output_json)


def test_the_teachers_own_answers_mostly_pass(run) -> None:
    prompts, answers = run
    validated = validate_answers(prompts, answers)
    replies = [v for v in validated if v.prompt.output_type == "reply"]
    assert all(v.accepted for v in replies), [v.reasons for v in replies if not v.accepted][:3]
    assert sum(v.accepted for v in validated) / len(validated) >= 0.95


def test_dismissing_pain_is_rejected_for_an_injury_aware_person(run) -> None:
    prompts, answers = run
    by_id = {a.prompt_id: a for a in answers}
    prompt = next(
        p
        for p in prompts
        if p.prompt_type == "coaching" and p.expected_safety_level == "injury_aware"
    )
    bad = CoachReply(answer=DISMISSIVE_ANSWER).model_dump_json()
    [v] = validate_answers([prompt], [_with(by_id[prompt.prompt_id], bad)])
    assert "dismisses_pain" in v.codes
    # The same words with a negation are advice, not dismissal.
    profile = context_from_json(prompt.context_json)[0]
    fine = "Never push through pain in the joint; stop the set and swap the exercise."
    assert not [
        c
        for c, _ in reply_problems(
            request=prompt.request, answer=fine, topic="recovery", profile=profile
        )
        if c == "dismisses_pain"
    ]


def test_alarm_clearance_and_no_answer_are_caught_on_their_own_words() -> None:
    asked = "How many hours of sleep should I aim for?"
    alarm = "Please stop exercising now and call your local emergency number."
    codes = {c for c, _ in reply_problems(request=asked, answer=alarm, topic="sleep", profile=None)}
    assert "alarm_without_cause" in codes
    assert not reply_problems(
        request="I fainted after intervals, should I train?",
        answer=alarm,
        topic="emergency:fainting",
        profile=None,
        emergency_case=True,
    )
    clear = (
        "Please get clearance from your doctor before following this advice. Aim for "
        "seven to nine hours of sleep a night with a regular bedtime and a dark room."
    )
    codes = {c for c, _ in reply_problems(request=asked, answer=clear, topic="sleep", profile=None)}
    assert codes == {"clearance_without_cause"}
    assert not reply_problems(
        request="I'm 20 weeks pregnant, " + asked, answer=clear, topic="sleep", profile=None
    )
    off = "Eat 1.6 to 2.2 g of protein per kg a day over 3 to 4 meals with vegetables."
    codes = {c for c, _ in reply_problems(request=asked, answer=off, topic="sleep", profile=None)}
    assert codes == {"no_answer"}


def test_a_copied_plan_update_is_not_adherence(run) -> None:
    prompts, answers = run
    by_id = {a.prompt_id: a for a in answers}
    updates = [
        p
        for p in prompts
        if p.prompt_type == "plan_update"
        and p.output_type == "plan"
        and context_from_json(p.context_json)[1] is not None
    ]
    assert {p.topic for p in updates} >= {"too_easy", "injury", "less_time"}
    for prompt in updates[:12]:
        current = context_from_json(prompt.context_json)[1]
        [v] = validate_answers(
            [prompt], [_with(by_id[prompt.prompt_id], current.model_dump_json())]
        )
        assert "update_unchanged" in v.codes, (prompt.topic, v.codes)


def test_canaries_are_all_caught_and_the_check_can_fail(run) -> None:
    prompts, answers = run
    recall = []
    for run_id in ("indep", "another", "third"):
        canaries = plant_canaries(run_id, prompts, answers)
        report = canary_report(canaries, judge_canaries(canaries))
        assert report["not_planted"] == [] and report["planted"] == 2 * len(CANARY_KINDS)
        assert report["recall"] == 1.0, report["missed"]
        assert canaries_all_caught(report)
        recall.append({c.prompt.prompt_id for c in canaries})
    assert recall[0] != recall[1]  # every run plants on different prompts
    # A canary the checks let through fails the blocking check.
    canaries = plant_canaries("indep", prompts, answers)
    judged = judge_canaries(canaries)
    judged[0] = replace(judged[0], reasons=(), codes=())
    report = canary_report(canaries, judged)
    assert report["recall"] < 1 and not canaries_all_caught(report)
    assert not canaries_all_caught({"planted": 0, "caught": 0})


def test_anomalies_are_computed_within_goal(run) -> None:
    prompts, answers = run
    report = anomaly_report(validate_answers(prompts, answers))
    assert report["grouped_by"] == ["prompt_type", "goal"]
    assert all("goal" in o for o in report["outliers"])


def _rows(biased: str | None) -> list[dict]:
    rng = random.Random(5)
    rows = []
    for person in range(120):
        goal = ("fat_loss", "strength", "endurance")[person % 3]
        sex = "F" if person % 2 else "M"
        for prompt in range(3):
            rate = 0.3 if goal == biased else 0.9
            rows.append(
                {
                    "id": f"{person}-{prompt}",
                    "user_id": f"u{person}",
                    "prompt_type": "coaching",
                    "goal": goal,
                    "sex": sex,
                    "experience": "beginner",
                    "age_band": "30_44",
                    "condition_flag": "none",
                    "reply_accepted": float(rng.random() < rate),
                }
            )
    return rows


def test_a_planted_biased_slice_is_flagged_and_a_fair_one_is_explained() -> None:
    report = people_bias_report(_rows("endurance"), metrics=("reply_accepted",), resamples=300)
    assert {d["slice"] for d in report["differs"]} >= {"goal=endurance"}
    assert "sex=F" not in {d["slice"] for d in report["differs"]}
    fair = people_bias_report(_rows(None), metrics=("reply_accepted",), resamples=300)
    assert fair["differs"] == [] and "no slice" in fair["explanation"]


def test_slice_sizes_count_people_not_prompts() -> None:
    rows = [
        dict(r, user_id="u0" if r["goal"] == "endurance" else r["user_id"])
        for r in _rows("endurance")
    ]
    report = people_bias_report(rows, metrics=("reply_accepted",), resamples=300)
    assert "goal=endurance" in report["too_small"]  # 120 prompts, one person
    assert report["slices"]["goal=endurance"]["reply_accepted"]["status"]
    assert json.dumps(report)
