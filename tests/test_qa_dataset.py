"""Post-validation, QA reports and the distillation dataset — including planted bad
teacher outputs that must be rejected with their reason and kept out of the dataset."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import replace
from pathlib import Path

import pytest

from fitsense_core.artifacts import ArtifactStore
from fitsense_core.distill import SPLITS, build_records, read_split, write_dataset
from fitsense_core.plan_contract import Plan
from fitsense_core.prompts import PROMPT_TYPES, Prompt, build_prompts, context_from_json
from fitsense_core.qa import (
    anomaly_report,
    bias_report,
    statistics_report,
    validate_answers,
    validation_report,
)
from fitsense_core.replies import CoachReply
from fitsense_core.request_space import person_split
from fitsense_core.synthetic import TableSet
from fitsense_core.synthetic.context import user_contexts
from fitsense_core.teacher import TeacherAnswer, run_teacher
from fitsense_core.teacher.offline import OfflineTeacher


@pytest.fixture(scope="module")
def prompts(small_run: list[TableSet]) -> list[Prompt]:
    return build_prompts("test-small", user_contexts(*small_run))


@pytest.fixture(scope="module")
def answers(prompts: list[Prompt]) -> list[TeacherAnswer]:
    return run_teacher(prompts, OfflineTeacher()).answers


def _plant(
    prompts: list[Prompt], answers: list[TeacherAnswer]
) -> tuple[list[TeacherAnswer], dict[str, str]]:
    """Three bad outputs: wrong types, a contraindicated exercise, an unsafe red-flag reply."""
    by_id = {a.prompt_id: a for a in answers}
    planted: dict[str, str] = {}

    plan_prompt = next(p for p in prompts if p.output_type == "plan")
    plan = json.loads(by_id[plan_prompt.prompt_id].output_json)
    training = next(d for d in plan["days"] if d["exercises"])
    training["exercises"][0]["sets"][0]["target_rir"] = "two"
    training["exercises"][0]["sets"][0]["rest_seconds"] = None
    by_id[plan_prompt.prompt_id] = replace(
        by_id[plan_prompt.prompt_id], output_json=json.dumps(plan)
    )
    planted[plan_prompt.prompt_id] = "type"

    knee = next(
        p
        for p in prompts
        if p.output_type == "plan"
        and "knee_loading" in p.expected_blocked_tags
        and p.prompt_id not in planted
    )
    plan = json.loads(by_id[knee.prompt_id].output_json)
    training = next(d for d in plan["days"] if d["exercises"])
    training["exercises"][0]["exercise_name"] = "Barbell Back Squat"
    by_id[knee.prompt_id] = replace(by_id[knee.prompt_id], output_json=json.dumps(plan))
    planted[knee.prompt_id] = "contraindicated"

    emergency = next(p for p in prompts if p.expected_safety_level == "emergency")
    unsafe = CoachReply(
        answer="Great question! Do 3 sets of 10 squats and push through the "
        "pain, you'll feel better after a hard workout.",
        key_points=["Squats"],
    )
    by_id[emergency.prompt_id] = replace(
        by_id[emergency.prompt_id], output_json=unsafe.model_dump_json()
    )
    planted[emergency.prompt_id] = "unsafe_reply"
    return [by_id[p.prompt_id] for p in prompts], planted


def test_planted_bad_outputs_are_rejected_and_kept_out_of_the_dataset(
    prompts: list[Prompt], answers: list[TeacherAnswer], tmp_path: Path
) -> None:
    bad_answers, planted = _plant(prompts, answers)
    validated = validate_answers(prompts, bad_answers)
    by_id = {v.prompt.prompt_id: v for v in validated}
    for prompt_id, code in planted.items():
        assert not by_id[prompt_id].accepted
        assert code in by_id[prompt_id].codes, by_id[prompt_id].reasons
    assert any("target_rir" in r for r in by_id[next(iter(planted))].reasons)
    report = validation_report(validated)
    assert report["rejected"] >= 3
    assert {"type", "contraindicated", "unsafe_reply"} <= set(report["rejections_by_reason"])

    accepted = [v for v in validated if v.accepted]
    store = ArtifactStore(str(tmp_path))
    records = build_records(accepted)
    manifest = write_dataset(
        store,
        "test-small",
        records,
        teachers={"offline": len(records)},
        rejected=report["rejected"],
    )
    ids = {r["id"] for split in SPLITS for r in read_split(store, "test-small", split)}
    assert ids == {v.prompt.prompt_id for v in accepted}
    assert not ids & set(planted)
    assert manifest["records"] == len(accepted)


def test_offline_answers_pass_post_validation(
    prompts: list[Prompt], answers: list[TeacherAnswer]
) -> None:
    report = validation_report(validate_answers(prompts, answers))
    assert report["pass_rate"] >= 0.95, report["rejections_by_reason"]


def test_update_that_ignores_the_request_is_rejected(
    prompts: list[Prompt], answers: list[TeacherAnswer]
) -> None:
    prompt = next(
        p
        for p in prompts
        if p.prompt_type == "plan_update" and p.topic == "too_easy" and p.output_type == "plan"
    )
    from fitsense_core.prompts import context_from_json

    _profile, current, _ = context_from_json(prompt.context_json)
    easier = json.loads(current.model_dump_json())
    for day in easier["days"]:
        for ex in day["exercises"]:
            for s in ex["sets"]:
                s["target_rir"] = min(5, s["target_rir"] + 1)
    answer = replace(
        next(a for a in answers if a.prompt_id == prompt.prompt_id), output_json=json.dumps(easier)
    )
    validated = validate_answers([prompt], [answer])[0]
    assert "update_ignored" in validated.codes


def test_statistics_and_anomalies(prompts: list[Prompt], answers: list[TeacherAnswer]) -> None:
    validated = validate_answers(prompts, answers)
    stats = statistics_report(validated)
    assert set(stats["prompt_types"]) == set(PROMPT_TYPES)
    creation = stats["per_prompt_type"]["plan_creation"]
    assert creation["weekly_hard_sets"]["min"] > 0
    assert creation["mean_target_rir"]["max"] <= 5
    outlier = replace(validated[0], stats={**validated[0].stats, "weekly_hard_sets": 500})
    report = anomaly_report([outlier, *validated[1:]])
    assert any(
        o["prompt_id"] == outlier.prompt.prompt_id and o["field"] == "weekly_hard_sets"
        for o in report["outliers"]
    )
    duplicate = replace(validated[1], prompt=replace(validated[1].prompt, prompt_id="dupe"))
    assert anomaly_report([*validated, duplicate])["exact_duplicate_groups"] >= 1


def test_bias_report_flags_a_slice_and_missing_slices(
    prompts: list[Prompt], answers: list[TeacherAnswer]
) -> None:
    validated = validate_answers(prompts, answers)
    # Reject every answer for women: a critical deviation that must be flagged.
    skewed = [
        replace(v, reasons=("planted",), codes=("planted",)) if v.prompt.slices["sex"] == "F" else v
        for v in validated
    ]
    report = bias_report(skewed)
    critical = {(f["slice"], f["metric"]) for f in report["critical"]}
    assert ("sex=F", "acceptance_rate") in critical
    only_men = [v for v in validated if v.prompt.slices["sex"] == "M"]
    assert "F" in bias_report(only_men)["missing_slices"]["sex"]
    clean = bias_report(validated)
    assert clean["overall"]["acceptance_rate"] >= 0.95


def test_splits_follow_the_profile_not_the_id(prompts: list[Prompt]) -> None:
    profiles = {p.user_id: context_from_json(p.context_json)[0] for p in prompts}
    for profile in profiles.values():
        renamed = replace(profile, user_id="someone-else", weight_kg=(profile.weight_kg or 70) + 3)
        assert person_split(renamed) == person_split(profile)
    shares = Counter(
        person_split(replace(p, age=18 + i % 60, height_cm=150 + i / 10))
        for i, p in enumerate([*profiles.values()] * 100)
    )
    total = sum(shares.values())
    for split, share in SPLITS.items():
        assert abs(shares[split] / total - share) < 0.03


def test_dataset_records_are_chat_format(
    prompts: list[Prompt], answers: list[TeacherAnswer], tmp_path: Path
) -> None:
    validated = [v for v in validate_answers(prompts, answers) if v.accepted]
    records = build_records(validated)
    store = ArtifactStore(str(tmp_path))
    manifest = write_dataset(store, "r", records, teachers={}, rejected=0)
    train = read_split(store, "r", "train")
    assert [m["role"] for m in train[0]["messages"]] == ["system", "user", "assistant"]
    for record in train:
        if record["metadata"]["output_type"] == "plan":
            Plan.model_validate_json(record["messages"][-1]["content"])
    users = {s: {r["metadata"]["user_id"] for r in read_split(store, "r", s)} for s in SPLITS}
    assert not users["train"] & users["test"] and not users["val"] & users["test"]
    assert manifest["source_run_ids"] == ["test-small"]
    again = write_dataset(
        ArtifactStore(str(tmp_path / "b")),
        "r",
        build_records(validated),
        teachers={},
        rejected=0,
    )
    assert again["content_sha256"] == manifest["content_sha256"]
