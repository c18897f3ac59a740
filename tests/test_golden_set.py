"""The golden evaluation set: fixed for a version, broad enough to score every capability,
readable by the evaluation, and disjoint from what the student trains on."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from pathlib import Path

import dagster as dg
import pytest

from fitsense_assets.defs.evaluation.golden import golden_eval_set, golden_eval_set_valid
from fitsense_assets.partitions import run_partitions
from fitsense_assets.resources import ArtifactStoreResource
from fitsense_core import layout
from fitsense_core.artifacts import ArtifactStore
from fitsense_core.coach.plans import INTENTS, detect_intents
from fitsense_core.distill import build_records
from fitsense_core.errors import DataValidationError
from fitsense_core.prompts import build_prompts
from fitsense_core.qa import validate_answers
from fitsense_core.reference import BODY_REGION_TAGS, CONDITIONS, EXPERIENCE_LEVELS, GOALS
from fitsense_core.student.data import task_from_record
from fitsense_core.student.golden import (
    CAPABILITIES,
    GOLDEN_SET_VERSION,
    GOLDEN_USER_PREFIX,
    Week,
    adaptation_request,
    build_golden_set,
    contaminated_requests,
    golden_problems,
    golden_seed,
    golden_summary,
    overlapping_users,
    read_golden_set,
    recipe_problems,
    update_intents,
    write_golden_set,
)
from fitsense_core.synthetic import SyntheticConfig, generate_run
from fitsense_core.synthetic.context import user_contexts
from fitsense_core.teacher.offline import OfflineTeacher, offline_answer


@pytest.fixture(scope="module")
def records() -> list[dict]:
    return build_golden_set(GOLDEN_SET_VERSION)


@pytest.fixture(scope="module")
def training_split() -> list[dict]:
    """A small run's training split, made by the pipeline's own code (generator, prompts,
    offline teacher, post-validation, user-grouped split) with the default seed."""
    config = SyntheticConfig(run_id="probe", n_users=24, history_days=30)
    contexts = user_contexts(*generate_run(config))
    prompts = build_prompts(config.run_id, contexts)
    teacher = OfflineTeacher()
    answers = [
        offline_answer(p, teacher)
        for p in prompts
        if p.output_type == "reply" or p.expected_safety_level != "emergency"
    ]
    answered = {a.prompt_id for a in answers}
    prompts = [p for p in prompts if p.prompt_id in answered]
    accepted = [v for v in validate_answers(prompts, answers) if v.accepted]
    train = [json.loads(r.to_json()) for r in build_records(accepted) if r.split == "train"]
    assert train
    return train


def test_the_same_version_builds_the_same_set(records) -> None:
    again = build_golden_set(GOLDEN_SET_VERSION)
    assert json.dumps(again, sort_keys=True) == json.dumps(records, sort_keys=True)
    assert {r["metadata"]["golden_set_version"] for r in records} == {GOLDEN_SET_VERSION}


def test_every_capability_and_intent_is_there_in_numbers(records) -> None:
    summary = golden_summary(records)
    assert summary["plan_prompts"] >= 200
    assert all(summary["by_capability"][c] >= 20 for c in CAPABILITIES)
    replies = [r for r in records if r["metadata"]["capability"] == "coach_reply"]
    assert sum(r["metadata"]["prompt_type"] == "coaching" for r in replies) >= 60
    assert sum(r["metadata"]["prompt_type"] == "safety" for r in replies) >= 6
    # Every intent the coach acts on, each in several wordings.
    assert set(update_intents()) == set(INTENTS) | {"injury"}
    wordings: dict[str, set[str]] = defaultdict(set)
    for r in records:
        if r["metadata"]["capability"] == "plan_update":
            wordings[r["metadata"]["topic"]].add(r["metadata"]["golden"]["paraphrase"])
    assert {i: len(w) >= 4 for i, w in wordings.items()} == {i: True for i in update_intents()}
    for r in records:
        m = r["metadata"]
        if m["capability"] == "plan_update" and m["topic"] in INTENTS:
            assert m["topic"] in detect_intents(m["request"]), m["request"]
    # Adaptations come in each kind, their requests built from the logged week.
    kinds = Counter(
        r["metadata"]["golden"]["adaptation"]
        for r in records
        if r["metadata"]["capability"] == "plan_adaptation"
    )
    assert set(kinds) == {"low_readiness", "low_adherence", "on_track"}
    assert min(kinds.values()) >= 10


def test_people_cover_the_slices(records) -> None:
    slices = golden_summary(records)["slices"]
    creation = [r["metadata"] for r in records if r["metadata"]["capability"] == "plan_creation"]
    grid = Counter(
        (m["slices"]["goal"], m["slices"]["experience"], m["golden"]["days_per_week"])
        for m in creation
    )
    assert set(grid) == {
        (g.code, e, d) for g in GOALS for e in EXPERIENCE_LEVELS for d in range(1, 8)
    }
    assert {m["golden"]["equipment"] for m in creation} >= {"bodyweight", "full_gym"}
    assert len({m["golden"]["session_length_min"] for m in creation}) >= 6
    assert set(slices["age_band"]) == {"under_18", "18_29", "30_44", "45_59", "60_plus"}
    assert all(n["people"] >= 10 for n in slices["age_band"].values())
    assert max(m["golden"]["age"] for m in creation) >= 70
    assert set(golden_summary(records)["conditions"]) == {c.code for c in CONDITIONS}
    regions = {
        i["body_region"]
        for r in records
        for i in json.loads(r["metadata"]["context_json"])["profile"]["injuries"]
        if i["status"] != "resolved"
    }
    assert regions == set(BODY_REGION_TAGS)
    assert set(slices["subject"]) >= {
        "training",
        "nutrition",
        "supplements",
        "recovery",
        "sleep",
        "technique",
        "safety",
    }
    assert set(slices["style"]) == {"plain", "slang", "typo"}


def test_records_have_the_dataset_shape_and_read_as_tasks(records) -> None:
    for r in records:
        assert set(r) == {"id", "messages", "metadata"}
        assert [m["role"] for m in r["messages"]] == ["system", "user", "assistant"]
        assert r["metadata"]["capability"] in CAPABILITIES
        task = task_from_record(r)
        assert task.request == r["metadata"]["request"]
        if r["metadata"]["capability"] != "plan_creation":
            continue
        assert task.current_plan is None
    for r in records:
        if r["metadata"]["capability"] in ("plan_update", "plan_adaptation"):
            assert task_from_record(r).current_plan is not None


def test_requests_are_written_for_the_set_not_taken_from_training(records) -> None:
    assert recipe_problems() == []
    assert contaminated_requests(records) == []


def test_golden_people_never_train(records, training_split) -> None:
    ids = {r["metadata"]["user_id"] for r in records}
    assert all(i.startswith(f"{GOLDEN_USER_PREFIX}{GOLDEN_SET_VERSION}-") for i in ids)
    assert golden_seed(GOLDEN_SET_VERSION) >= 1 << 63  # no training seed comes near
    assert golden_seed(GOLDEN_SET_VERSION) != SyntheticConfig(run_id="x").seed
    assert overlapping_users(records, training_split) == set()
    assert golden_problems(records, {"probe": training_split}) == []


def test_a_golden_person_in_training_is_caught(records, training_split) -> None:
    leaked = json.loads(json.dumps(training_split[0]))
    leaked["metadata"]["user_id"] = records[0]["metadata"]["user_id"]
    problems = golden_problems(records, {"leaky": [*training_split, leaked]})
    assert problems and "run leaky's training split" in problems[0]


def test_thin_or_broken_sets_fail(records) -> None:
    no_injury = [r for r in records if r["metadata"]["topic"] != "injury"]
    assert any("intent injury" in p for p in golden_problems(no_injury))
    few = [r for r in records if r["metadata"]["capability"] != "plan_creation"]
    problems = golden_problems(few)
    assert any("plan prompts" in p for p in problems)
    assert any("plan_creation prompts" in p for p in problems)
    broken = json.loads(json.dumps(records[:1]))
    broken[0]["metadata"]["context_json"] = "{}"
    broken[0]["metadata"]["user_id"] = "0000"
    problems = golden_problems(broken)
    assert any("cannot read" in p for p in problems)
    assert any("without a golden id" in p for p in problems)


def test_adaptation_follows_the_apis_rules() -> None:
    from fitsense_api.ai import adapt

    assert (adapt.HIGH_SORENESS, adapt.LOW_ENERGY, adapt.SLEEP_DEFICIT_H, adapt.LOW_ADHERENCE) == (
        6.5,
        3.5,
        1.0,
        0.5,
    )
    for week in (
        Week(3, 6.0, 8.0, 7.0, 3.0),
        Week(3, 7.5, 8.0, 3.0, 6.0),
        Week(0, None, None, None, None),
    ):
        row = {
            "sleep": week.sleep,
            "sleep_target": week.sleep_target,
            "soreness": week.soreness,
            "energy": week.energy,
        }
        _kind, _request, problems = adaptation_request(week, 4)
        assert problems == adapt._readiness_problems(row)
    kind, request, _ = adaptation_request(Week(1, 6.0, 8.0, 7.0, 3.0), 4)
    assert kind == "low_readiness" and detect_intents(request) == ("poor_recovery",)
    kind, request, _ = adaptation_request(Week(1, 7.5, 8.0, 3.0, 6.0), 4)
    assert kind == "low_adherence" and "1 of 4 planned sessions" in request
    assert adaptation_request(Week(3, 7.5, 8.0, 3.0, 6.0), 4)[0] == "on_track"


def test_stored_set_reads_back_and_detects_tampering(records, tmp_path: Path) -> None:
    store = ArtifactStore(str(tmp_path))
    with pytest.raises(DataValidationError, match="materialize golden_eval_set"):
        read_golden_set(store)
    write_golden_set(store, GOLDEN_SET_VERSION, records)
    assert read_golden_set(store) == (GOLDEN_SET_VERSION, records)
    store.write_bytes(b"{}\n", *layout.golden_set_records(GOLDEN_SET_VERSION))
    with pytest.raises(DataValidationError, match="does not match"):
        read_golden_set(store)


def _materialize(root: Path, instance: dg.DagsterInstance) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [golden_eval_set, golden_eval_set_valid],
        instance=instance,
        resources={"artifact_store": ArtifactStoreResource(root=str(root))},
        raise_on_error=False,
    )


def _check(result: dg.ExecuteInProcessResult):
    return next(
        e.asset_check_evaluation_data
        for e in result.all_events
        if e.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION
    )


def test_asset_and_blocking_check(records, training_split, tmp_path: Path) -> None:
    store = ArtifactStore(str(tmp_path))
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions(run_partitions.name, ["clean", "no-dataset-yet"])
    store.write_bytes(
        "".join(json.dumps(r) + "\n" for r in training_split).encode(),
        *layout.distillation_split("clean", "train"),
    )
    result = _materialize(tmp_path, instance)
    assert result.success
    metadata = result.asset_materializations_for_node("golden_eval_set")[0].metadata
    assert metadata["reused"].value is False
    assert read_golden_set(store) == (GOLDEN_SET_VERSION, records)  # what the fixture built
    assert metadata["plan_prompts"].value >= 200
    assert metadata["people"].value == len({r["metadata"]["user_id"] for r in records})
    assert "| slice | prompts | people |" in metadata["slices"].value
    assert "too_easy" in metadata["intents"].value
    check = _check(result)
    assert check.passed and "1 run(s)" in check.description

    # A run whose training split holds a golden person: the blocking check fails.
    leaked = json.loads(json.dumps(training_split[0]))
    leaked["metadata"]["user_id"] = records[-1]["metadata"]["user_id"]
    instance.add_dynamic_partitions(run_partitions.name, ["leaky"])
    store.write_bytes(
        (json.dumps(leaked) + "\n").encode(), *layout.distillation_split("leaky", "train")
    )
    result = _materialize(tmp_path, instance)
    metadata = result.asset_materializations_for_node("golden_eval_set")[0].metadata
    assert metadata["reused"].value is True  # built once per version, then read back
    check = _check(result)
    assert not check.passed and "leaky" in check.description


def test_the_knowledge_based_coach_serves_a_sound_plan_for_every_golden_plan_prompt(
    records,
) -> None:
    """What serves when the student's plan is refused must itself pass the checks the
    student is refused by. It once did not, for two people: a 30-minute mobility day that
    held a 30-minute walk after its stretches, and a 75-minute push day of 13 minutes for a
    61-year-old beginner with no equipment (two push exercises were all they had)."""
    from fitsense_core.inference.serve import plan_quality, serve_plan
    from fitsense_core.safety import triage

    failing, served = [], 0
    for r in records:
        if r["metadata"]["capability"] == "coach_reply":
            continue
        task = task_from_record(r)
        verdict = triage(task.request, task.profile, model=None)
        if not verdict.allows_plan:
            continue
        plan = serve_plan(task, verdict, None, "model_unavailable").plan
        served += 1
        problems = plan_quality(plan, task)
        if problems:
            failing.append((r["id"], r["metadata"]["capability"], [str(q) for q in problems]))
    assert served >= 200
    assert not failing, failing[:5]
