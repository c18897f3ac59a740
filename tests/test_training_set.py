"""What the student trains on: whole answer bodies without the safety lead the server adds,
no emergencies, a stored and hashed training set that loses nothing silently, and a
registry manifest with relative URIs and a hash for every artifact.

Each failure kind the audit found is planted here and stopped by a check: a reply target
with a safety preamble, an emergency record in train, an over-long example, a group that
loses more than 10 % of its examples to max_length."""

from __future__ import annotations

import hashlib
import json
from datetime import date
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from fitsense_core import layout
from fitsense_core.artifacts import ArtifactStore, path_sha256
from fitsense_core.coach.answers import MAX_BODY_CHARS
from fitsense_core.distill import (
    LEARNED_SPLITS,
    SPLITS,
    DatasetRecord,
    build_records,
    withhold_policy_answers,
    write_dataset,
)
from fitsense_core.errors import DataValidationError
from fitsense_core.inference import serve
from fitsense_core.prompts import build_prompts
from fitsense_core.qa import validate_answers
from fitsense_core.safety import EMERGENCY_MESSAGE, triage
from fitsense_core.student.compact import Codebook, build_codebook
from fitsense_core.student.data import (
    REPLY_TARGET_CHARS,
    TargetError,
    reply_lead_of,
    reply_target,
    safety_preamble,
    sft_example,
    target_text,
    task_from_record,
    teacher_plans,
)
from fitsense_core.student.training_set import (
    MAX_GROUP_LOSS,
    TOO_LONG,
    assert_trainable,
    build_training_set,
    problems,
    read_training_set,
    tokenizer_counter,
    write_training_set,
)
from fitsense_core.synthetic import SyntheticConfig, generate_run
from fitsense_core.synthetic.context import user_contexts
from fitsense_core.teacher.offline import OfflineTeacher, offline_answer

RUN = "ts"


@pytest.fixture(scope="module")
def records() -> dict[str, list[dict[str, Any]]]:
    """A run's distillation records by split (offline teacher, 24 people), emergencies
    withheld from train and val as the distillation asset does."""
    config = SyntheticConfig(
        run_id=RUN, n_users=24, seed=9, history_days=21, history_end=date(2026, 1, 4)
    )
    prompts = build_prompts(RUN, user_contexts(*generate_run(config)))
    teacher = OfflineTeacher()
    answers = [offline_answer(p, teacher) for p in prompts]
    accepted = [v for v in validate_answers(prompts, answers) if v.accepted]
    kept, _withheld = withhold_policy_answers(build_records(accepted))
    by_split: dict[str, list[dict[str, Any]]] = {s: [] for s in SPLITS}
    for r in kept:
        by_split[r.split].append(json.loads(r.to_json()))
    return by_split


@pytest.fixture(scope="module")
def codebook(records) -> Codebook:
    return build_codebook(teacher_plans([r for rs in records.values() for r in rs]))


def _copy(records: dict[str, list[dict[str, Any]]]) -> dict[str, list[dict[str, Any]]]:
    return json.loads(json.dumps(records))


def _counter(long_prompts: frozenset[str] = frozenset()):
    """A stand-in tokenizer: about four characters a token; the planted prompts are long."""

    def count(messages: list[dict[str, str]]) -> int:
        if messages[1]["content"] in long_prompts:
            return 5000
        return sum(len(m["content"]) for m in messages) // 4

    return count


# --- the targets ----------------------------------------------------------------------------


def test_reply_targets_are_whole_bodies_and_the_server_adds_the_lead(records, codebook) -> None:
    replies = [
        {**r, "split": split}
        for split, rs in records.items()
        for r in rs
        if r["metadata"]["output_type"] == "reply"
    ]
    led = 0
    for record in replies:
        task = task_from_record(record)
        verdict = triage(task.request, task.profile)
        if not serve.calls_model(task, verdict):
            assert record["metadata"]["expected_safety_level"] == "emergency"
            assert record["split"] == "test"  # the policy answers; withheld from training
            continue
        reference = record["messages"][-1]["content"]
        target = target_text(record, codebook)
        assert safety_preamble(target) is None, (record["id"], target[:120])
        assert len(target) <= MAX_BODY_CHARS <= REPLY_TARGET_CHARS
        lead = reply_lead_of(task)
        led += bool(lead)
        # What a person is served when the model writes the target: the teacher's answer.
        assert serve.compose_reply(verdict, target, task) == reference
    assert led >= 5  # clearance and injury answers are among them


def test_a_target_too_long_to_learn_whole_raises_instead_of_being_cut() -> None:
    sentence = "Keep two reps in reserve on every working set this week. "
    with pytest.raises(TargetError, match="never cut"):
        reply_target(sentence * 20)
    assert reply_target(sentence * 5) == (sentence * 5).strip()


def test_a_reply_that_opens_with_the_policy_words_is_a_preamble() -> None:
    assert safety_preamble(EMERGENCY_MESSAGE)
    assert safety_preamble("Please get clearance from your doctor first. Then squat.")
    assert safety_preamble("Working around your knee strain: nothing here loads the knee.")
    assert safety_preamble("Add one rep per set each week until you reach 12.") is None


def test_emergencies_are_withheld_from_train_and_val_and_counted(records) -> None:
    config = SyntheticConfig(
        run_id="em", n_users=10, seed=4, history_days=14, history_end=date(2026, 1, 4)
    )
    prompts = build_prompts("em", user_contexts(*generate_run(config)))
    answers = [offline_answer(p) for p in prompts]
    accepted = [v for v in validate_answers(prompts, answers) if v.accepted]
    every = build_records(accepted)
    kept, withheld = withhold_policy_answers(every)
    emergencies = [r for r in every if r.metadata["expected_safety_level"] == "emergency"]
    learned = [r for r in emergencies if r.split in LEARNED_SPLITS]
    assert learned and withheld["count"] == len(learned)
    assert sum(n for t in withheld["by_split_and_type"].values() for n in t.values()) == len(
        learned
    )
    assert not [
        r
        for r in kept
        if r.split in LEARNED_SPLITS and r.metadata["expected_safety_level"] == "emergency"
    ]
    # The test split keeps them: the evaluation measures what an emergency is served.
    assert {r.id for r in kept if r.split == "test"} >= {
        r.id for r in emergencies if r.split == "test"
    }


# --- the training set -----------------------------------------------------------------------


def _written(tmp_path: Path, built, records) -> tuple[ArtifactStore, dict[str, Any]]:
    store = ArtifactStore(str(tmp_path))
    manifest = write_training_set(store, RUN, built, dataset_sha256="d" * 64, base_digest="b" * 64)
    return store, manifest


def test_a_clean_training_set_is_stored_hashed_and_fit(tmp_path: Path, records, codebook) -> None:
    built = build_training_set(records, codebook, _counter(), max_length=1024)
    store, manifest = _written(tmp_path, built, records)
    examples, stored_codebook, read = read_training_set(store, RUN)
    assert read == manifest and stored_codebook.to_json() == codebook.to_json()
    assert problems(examples, manifest) == []
    assert manifest["dropped"]["count"] == 0 and manifest["groups_over_limit"] == []
    assert manifest["kept"] == {s: len(records[s]) for s in LEARNED_SPLITS}
    for split in LEARNED_SPLITS:
        data = store.read_bytes(*layout.student_training_split(RUN, split))
        assert hashlib.sha256(data).hexdigest() == manifest["files"][split]["sha256"]
        assert manifest["tokens"][split]["max"] <= 1024
    assert set(manifest["groups"]) == {row["group"] for rs in examples.values() for row in rs}
    assert_trainable(manifest)
    # The same examples training reads: sft_example's prompt and completion.
    first = records["train"][0]
    assert examples["train"][0]["completion"] == sft_example(first, codebook)["completion"]


def test_a_planted_safety_preamble_is_refused(tmp_path: Path, records, codebook) -> None:
    planted = _copy(records)
    reply = next(r for r in planted["train"] if r["metadata"]["output_type"] == "reply")
    body = target_text(reply, codebook)
    reply["messages"][-1]["content"] = (
        "Please stop exercising now and call your local emergency number. " + body[:300]
    )
    built = build_training_set(planted, codebook, _counter())
    store, manifest = _written(tmp_path, built, planted)
    found = problems(read_training_set(store, RUN)[0], manifest)
    assert any("safety preamble" in p and reply["id"] in p for p in found), found


def test_a_planted_emergency_in_train_is_refused(tmp_path: Path, records, codebook) -> None:
    planted = _copy(records)
    reply = next(r for r in planted["train"] if r["metadata"]["output_type"] == "reply")
    reply["metadata"]["expected_safety_level"] = "emergency"
    reply["messages"][-1]["content"] = EMERGENCY_MESSAGE
    built = build_training_set(planted, codebook, _counter())
    store, manifest = _written(tmp_path, built, planted)
    found = problems(read_training_set(store, RUN)[0], manifest)
    assert any("emergency" in p and reply["id"] in p for p in found), found


def test_an_over_long_example_is_dropped_recorded_and_a_large_loss_refused(
    tmp_path: Path, records, codebook
) -> None:
    group = sft_example(records["train"][0], codebook)
    meta = records["train"][0]["metadata"]
    same = [
        r
        for s in LEARNED_SPLITS
        for r in records[s]
        if r["metadata"]["prompt_type"] == meta["prompt_type"]
        and r["metadata"]["days_per_week"] == meta["days_per_week"]
    ]
    assert len(same) >= 3, "the group needs a few examples"
    # One example of the group too long: recorded with its reason, group loss measured.
    one = frozenset({group["prompt"][1]["content"]})
    built = build_training_set(records, codebook, _counter(one), max_length=1024)
    _store, manifest = _written(tmp_path / "one", built, records)
    [dropped] = manifest["dropped"]["examples"]
    assert dropped["id"] == group["id"] and dropped["reason"] == TOO_LONG
    assert manifest["dropped"]["by_reason"] == {TOO_LONG: 1}
    name = dropped["group"]
    assert manifest["groups"][name]["dropped"] == 1
    assert (name in manifest["groups_over_limit"]) == (
        manifest["groups"][name]["loss"] > MAX_GROUP_LOSS
    )
    # Most of the group too long: the check and training both refuse the set.
    many = frozenset(sft_example(r, codebook)["prompt"][1]["content"] for r in same)
    built = build_training_set(records, codebook, _counter(many), max_length=1024)
    store, manifest = _written(tmp_path / "many", built, records)
    assert manifest["groups_over_limit"] == [name]
    found = problems(read_training_set(store, RUN)[0], manifest)
    assert any(p.startswith(f"{name} lost") for p in found), found
    with pytest.raises(DataValidationError, match="lost more than 10%"):
        assert_trainable(manifest)


def test_an_example_over_max_length_in_the_stored_set_is_refused(
    tmp_path: Path, records, codebook
) -> None:
    built = build_training_set(records, codebook, _counter(), max_length=1024)
    store, manifest = _written(tmp_path, built, records)
    examples = read_training_set(store, RUN)[0]
    examples["val"][0]["tokens"] = 4096
    found = problems(examples, manifest)
    assert any("over max_length 1024" in p for p in found), found
    # And a file changed after it was written no longer reads.
    store.write_bytes(b"{}\n", *layout.student_training_split(RUN, "val"))
    with pytest.raises(DataValidationError, match="does not match"):
        read_training_set(store, RUN)


# --- with the base model's own tokenizer, and through Dagster ----------------------------


@pytest.fixture(scope="module")
def tokenizer_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shipped base model's tokenizer and chat template, on their own."""
    from transformers import AutoTokenizer

    from fitsense_core.student.base_model import base_model_gguf

    gguf = base_model_gguf()
    out = tmp_path_factory.mktemp("tokenizer")
    AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name).save_pretrained(out)
    return out


def test_every_example_fits_the_default_max_length(records, codebook, tokenizer_dir) -> None:
    built = build_training_set(records, codebook, tokenizer_counter(tokenizer_dir))
    assert built.dropped == []
    longest = max(row["tokens"] for rows in built.offered.values() for row in rows)
    assert 200 < longest <= built.max_length


def _pipeline_store(root: Path, records, tokenizer_dir: Path) -> ArtifactStore:
    """A run's dataset and a base model (tokenizer only: enough to measure) in a store."""
    store = ArtifactStore(str(root))
    rows = [
        DatasetRecord(r["id"], split, r["messages"], r["metadata"])
        for split, rs in records.items()
        for r in rs
    ]
    write_dataset(store, RUN, rows, teachers={}, rejected=0)
    digest = "c" * 64
    store.upload_dir(tokenizer_dir, *layout.base_model(digest))
    store.write_json(
        {"source": "test", "digest": digest, "uri": layout.relative(*layout.base_model(digest))},
        *layout.base_model_of_run(RUN),
    )
    return store


def _materialize(root: Path, config: dict | None = None) -> dg.ExecuteInProcessResult:
    from fitsense_assets.defs.training.assets import (
        student_model,
        student_training_set,
        student_training_set_fit,
    )
    from fitsense_assets.partitions import run_partitions
    from fitsense_assets.resources import ArtifactStoreResource

    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions(run_partitions.name, [RUN])
    return dg.materialize(
        [student_training_set, student_training_set_fit, student_model],
        partition_key=RUN,
        instance=instance,
        resources={"artifact_store": ArtifactStoreResource(root=str(root))},
        run_config={"ops": {"student_training_set": {"config": config or {}}}},
        raise_on_error=False,
    )


def _check(result: dg.ExecuteInProcessResult) -> dg.AssetCheckEvaluation:
    [evaluation] = [
        e.asset_check_evaluation_data
        for e in result.all_events
        if e.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION
    ]
    return evaluation


def _trained(result: dg.ExecuteInProcessResult) -> bool:
    return any(
        e.asset_key.to_user_string() == "student_model"
        for e in result.get_asset_materialization_events()
    )


def test_the_blocking_check_stops_training_on_a_planted_preamble(
    tmp_path: Path, records, codebook, tokenizer_dir
) -> None:
    planted = _copy(records)
    reply = next(r for r in planted["train"] if r["metadata"]["output_type"] == "reply")
    reply["messages"][-1]["content"] = (
        "Please get clearance from your doctor before you train. "
        + target_text(reply, codebook)[:400]
    )
    _pipeline_store(tmp_path, planted, tokenizer_dir)
    result = _materialize(tmp_path)
    check = _check(result)
    assert not check.passed and "safety preamble" in check.description
    assert not _trained(result)


def test_the_blocking_check_stops_training_when_a_group_loses_too_much(
    tmp_path: Path, records, tokenizer_dir
) -> None:
    store = _pipeline_store(tmp_path, records, tokenizer_dir)
    result = _materialize(tmp_path, {"max_length": 300})
    check = _check(result)
    assert not check.passed and "to max_length 300" in check.description
    assert not _trained(result)
    manifest = store.read_json(*layout.student_training_manifest(RUN))
    assert manifest["dropped"]["count"] > 0 and manifest["groups_over_limit"]
    assert sum(manifest["dropped"]["by_group"].values()) == manifest["dropped"]["count"]
    # Training itself refuses the stored set too, check or no check.
    with pytest.raises(DataValidationError, match="lost more than 10%"):
        assert_trainable(manifest)


def test_the_check_passes_a_clean_set(tmp_path: Path, records, tokenizer_dir) -> None:
    from fitsense_assets.defs.training.assets import student_training_set, student_training_set_fit
    from fitsense_assets.partitions import run_partitions
    from fitsense_assets.resources import ArtifactStoreResource

    _pipeline_store(tmp_path, records, tokenizer_dir)
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions(run_partitions.name, [RUN])
    result = dg.materialize(
        [student_training_set, student_training_set_fit],
        partition_key=RUN,
        instance=instance,
        resources={"artifact_store": ArtifactStoreResource(root=str(tmp_path))},
    )
    assert result.success and _check(result).passed
    metadata = result.asset_materializations_for_node("student_training_set")[0].metadata
    assert metadata["dropped"].value == 0 and metadata["max_length"].value == 1024


def test_training_refuses_an_example_over_max_length(tmp_path: Path, tokenizer_dir) -> None:
    from fitsense_core.student.training import (
        BaseModel,
        TrainingConfig,
        TrainingError,
        train_student,
    )

    row = {
        "id": "short",
        "prompt": [{"role": "user", "content": "How many sets?"}],
        "completion": [{"role": "assistant", "content": "Three sets of eight."}],
    }
    long = {**row, "id": "long", "completion": [{"role": "assistant", "content": "rep " * 600}]}
    base = BaseModel(tokenizer_dir, "0" * 64, "test")
    with pytest.raises(TrainingError, match=r"1 examples are longer than max_length 256: long"):
        train_student(
            TrainingConfig(max_length=256), base, [row] * 8 + [long], [row], tmp_path / "out"
        )


# --- the registry manifest and the evaluation rows ------------------------------------------


def _version_store(root: Path) -> tuple[ArtifactStore, str]:
    store = ArtifactStore(str(root))
    version = "student-ts-0123456789"
    prefix = layout.student_model(version)
    store.write_json(
        {
            "version": version,
            "training_key": "k" * 16,
            "dataset_sha256": "d" * 64,
            "training_set_sha256": "t" * 64,
            "training_config": {"seed": 42, "max_length": 1024},
            "code_version": "student-v3",
        },
        *layout.student_model_of_run(RUN),
    )
    store.write_json(
        {"source": "shipped", "digest": "b" * 64, "uri": str(root / "absolute")},
        *layout.base_model_of_run(RUN),
    )
    store.write_json(
        {
            "content_sha256": "d" * 64,
            "split_rule": "profile hash",
            "records": 9,
            "withheld": {"count": 2},
        },
        *layout.distillation_manifest(RUN),
    )
    store.write_json(
        {
            "content_sha256": "t" * 64,
            "max_length": 1024,
            "kept": {"train": 7, "val": 1},
            "dropped": {"count": 1, "by_reason": {TOO_LONG: 1}, "by_group": {"g": 1}},
            "groups_over_limit": [],
        },
        *layout.student_training_manifest(RUN),
    )
    store.write_json(
        {"prompts": 24, "prompt_set": {"source": "golden"}, "config": {"seed": 7}, "summary": {}}
        | {"gate": {"passed": True}},
        *layout.evaluation_report(RUN),
    )
    for name in ("validation", "statistics", "anomalies", "bias"):
        store.write_json({"report": name}, *layout.qa_report(RUN, name))
    store.write_bytes(b"GGUF....", *prefix, layout.STUDENT_GGUF)
    store.write_bytes(b"{}", *prefix, layout.CODEBOOK)
    store.write_bytes(b"lora", *prefix, layout.ADAPTER, "adapter_model.safetensors")
    store.write_bytes(b"{}", *prefix, layout.ADAPTER, "adapter_config.json")
    store.write_bytes(b"weights", *prefix, layout.MERGED, "model.safetensors")
    return store, version


def _uris(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [u for k, v in value.items() for u in ([v] if k == "uri" else _uris(v))]
    if isinstance(value, list):
        return [u for v in value for u in _uris(v)]
    return []


def test_the_version_manifest_is_complete_with_relative_uris(tmp_path: Path) -> None:
    from fitsense_core.student.registry import version_manifest

    store, version = _version_store(tmp_path)
    assert version_manifest(store, RUN, version, commit="abc")["seeds"]["synthetic_people"] is None
    # The run's people were drawn from their own seed: the lineage records it.
    store.write_json(
        {"tables": {}, "meta": {"config": {"seed": 123456789}}},
        *layout.synthetic_tables(RUN, "synthetic_users"),
        "manifest.json",
    )
    manifest = version_manifest(store, RUN, version, commit="abc")
    assert manifest["training_key"] == "k" * 16
    assert manifest["seeds"] == {"synthetic_people": 123456789, "training": 42, "evaluation": 7}
    assert manifest["split_rule"] == "profile hash"
    assert manifest["evaluation"]["sample_size"] == 24
    assert manifest["training_set"]["dropped"]["count"] == 1
    assert manifest["dataset"]["withheld"] == {"count": 2}
    uris = _uris(manifest)
    assert len(uris) >= 12
    for uri in uris:
        assert not uri.startswith("/") and "://" not in uri and str(tmp_path) not in uri, uri
    assert str(tmp_path) not in json.dumps(manifest)
    local = tmp_path / layout.relative(*layout.student_model(version))
    for name, part in (
        ("gguf", layout.STUDENT_GGUF),
        ("adapter", layout.ADAPTER),
        ("merged", layout.MERGED),
        ("codebook", layout.CODEBOOK),
    ):
        entry = manifest["files"][name]
        assert (tmp_path / entry["uri"]).exists()
        assert entry["sha256"] == path_sha256(local / part)
    for entry in [*manifest["qa_reports"].values(), manifest["evaluation"]]:
        data = (tmp_path / entry["uri"]).read_bytes()
        assert entry["sha256"] == hashlib.sha256(data).hexdigest()
    for entry in (manifest["dataset"]["manifest"], manifest["training_set"]["manifest"]):
        assert entry["sha256"] == hashlib.sha256((tmp_path / entry["uri"]).read_bytes()).hexdigest()


def test_the_version_manifest_refuses_a_missing_artifact(tmp_path: Path) -> None:
    from fitsense_core.student.registry import RegistryError, version_manifest

    store, version = _version_store(tmp_path)
    (tmp_path / layout.relative(*layout.qa_report(RUN, "bias"))).unlink()
    with pytest.raises(RegistryError, match=r"bias\.json is missing"):
        version_manifest(store, RUN, version, commit="abc")
    store, version = _version_store(tmp_path / "again")
    merged = tmp_path / "again" / layout.relative(*layout.student_model(version), layout.MERGED)
    (merged / "model.safetensors").unlink()
    merged.rmdir()
    with pytest.raises(RegistryError, match="merged is missing"):
        version_manifest(store, RUN, version, commit="abc")


def test_evaluation_rows_keep_the_generated_text(records, codebook) -> None:
    from fitsense_core.student.evaluation import score

    reply = next(r for r in records["test"] if r["metadata"]["output_type"] == "reply")
    text = "Add one rep to each set every week, then add weight when you reach the top."
    row = score(
        task_from_record(reply), text, reply["messages"][-1]["content"], codebook, compact=True
    )
    assert row["generated_text"] == text
    plan = next(r for r in records["test"] if r["metadata"]["output_type"] == "plan")
    row = score(
        task_from_record(plan), "[[1", plan["messages"][-1]["content"], codebook, compact=True
    )
    assert row["generated_text"] == "[[1"


def test_the_dataset_check_refuses_an_emergency_in_train(tmp_path: Path, records) -> None:
    import pandas as pd

    from fitsense_assets.defs.distill.checks import distillation_dataset_integrity
    from fitsense_assets.resources import ArtifactStoreResource
    from fitsense_core.synthetic import TableSet

    store = ArtifactStore(str(tmp_path))
    planted = _copy(records)
    reply = next(r for r in planted["train"] if r["metadata"]["prompt_type"] == "safety")
    reply["metadata"]["expected_safety_level"] = "emergency"
    rows = [
        DatasetRecord(r["id"], split, r["messages"], r["metadata"])
        for split, rs in planted.items()
        for r in rs
    ]
    write_dataset(store, RUN, rows, teachers={}, rejected=0)
    validated = pd.DataFrame({"prompt_id": [r.id for r in rows], "accepted": [True] * len(rows)})
    store.write_tables(
        TableSet({"validated": validated}, {"run_id": RUN}), *layout.validation_tables(RUN)
    )
    context = dg.build_op_context(partition_key=RUN)
    result = distillation_dataset_integrity(
        context, artifact_store=ArtifactStoreResource(root=str(tmp_path))
    )
    assert not result.passed and "1 emergencies in train" in result.description
