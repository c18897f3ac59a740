"""The student: compact plan form, constrained-decoding schema, evaluation measures,
registry and promotion — and (slow) a real tiny training run through export, the CPU
server, evaluation, registration and promotion."""

from __future__ import annotations

import json
import random
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest

from fitsense_core.coach.plans import create_plan
from fitsense_core.errors import DataValidationError
from fitsense_core.plan_contract import resolve_exercise, validate_plan
from fitsense_core.plan_quality import quality_problems
from fitsense_core.programming import Athlete
from fitsense_core.reference import EQUIPMENT_BY_CODE, exercises_by_slug
from fitsense_core.student.compact import (
    CompactFormatError,
    build_codebook,
    compact_schema,
    constraint_problem,
    day_rules,
    decode_plan,
    encode_plan,
    kind_of,
    random_valid_plan,
)
from fitsense_core.student.evaluation import rouge_l, select_records
from fitsense_core.student.registry import (
    ModelVersion,
    RegistryError,
    history,
    promote,
    register,
    rollback,
    serving,
)
from fitsense_core.student.training import TrainingConfig, TrainingError, train_student
from fitsense_core.synthetic import TableSet
from fitsense_core.synthetic.context import user_contexts

GYM = frozenset(EQUIPMENT_BY_CODE)


@pytest.fixture(scope="module")
def profiles(small_run: list[TableSet]):
    return [c.profile for c in user_contexts(*small_run).values()]


@pytest.fixture(scope="module")
def codebook(profiles):
    return build_codebook(create_plan(p) for p in profiles)


def test_compact_round_trip_keeps_every_decision(profiles, codebook) -> None:
    for profile in profiles:
        plan = create_plan(profile)
        athlete = profile.athlete()
        text = encode_plan(plan, codebook)
        assert " " not in text and len(text) < len(plan.model_dump_json()) / 5
        decoded = decode_plan(text, codebook, athlete)
        assert validate_plan(decoded, athlete).valid
        for original, back in zip(plan.training_days(), decoded.training_days(), strict=True):
            assert original.day_order == back.day_order
            assert [
                (
                    e.exercise_name,
                    [s.model_dump() for s in e.sets],
                    e.notes if kind_of(resolve_exercise(e.exercise_name)) != "strength" else None,
                )
                for e in original.exercises
            ] == [
                (e.exercise_name, [s.model_dump() for s in e.sets], e.notes) for e in back.exercises
            ]


def _random_instance(schema: dict, rng: random.Random) -> object:
    """A random instance of a compact-plan JSON Schema, read from the schema itself (an
    independent reading of what :func:`compact_schema` allows)."""
    if "anyOf" in schema:
        return _random_instance(rng.choice(schema["anyOf"]), rng)
    if "enum" in schema:
        return rng.choice(schema["enum"])
    prefix = schema.get("prefixItems", [])
    count = rng.randint(schema["minItems"], schema["maxItems"])
    return [
        _random_instance(prefix[i] if i < len(prefix) else schema["items"], rng)
        for i in range(count)
    ]


@pytest.mark.parametrize(
    "blocked",
    [
        frozenset(),
        frozenset({"knee_loading", "high_impact"}),
        frozenset({"spinal_loading", "overhead", "valsalva"}),
    ],
)
@pytest.mark.parametrize("kit", ["none", "dumbbells", "gym"])
@pytest.mark.parametrize("update", [False, True])
def test_anything_the_schema_allows_is_a_valid_plan(codebook, blocked, kit, update) -> None:
    """Constrained decoding makes invalid plans impossible: every instance of the schema
    expands to a plan that passes the contract and the person's constraints, and the
    Python reading of the constraint accepts it. A new plan under the per-place
    constraint never repeats an exercise in a day or on a third day, and every day's
    content fits its label."""
    equipment = {"none": frozenset(), "dumbbells": frozenset({"dumbbell", "bench"}), "gym": GYM}[
        kit
    ]
    rng = random.Random(5)
    for goal in ("strength", "fat_loss", "endurance"):
        for days in (2, 4, 6):
            athlete = Athlete(goal, "intermediate", days, 60, equipment, blocked)
            conservative = goal == "fat_loss"
            schema = compact_schema(codebook, athlete, conservative=conservative, update=update)
            for _ in range(5):
                text = json.dumps(_random_instance(schema, rng))
                assert (
                    constraint_problem(
                        text, codebook, athlete, conservative=conservative, update=update
                    )
                    is None
                )
                plan = decode_plan(text, codebook, athlete)
                result = validate_plan(plan, athlete)
                assert result.valid, [str(v) for v in result.violations]
                if not update:
                    codes = {p.code for p in quality_problems(plan, athlete)}
                    assert not codes & {"duplicate_in_day", "repeated_in_week", "label_mismatch"}
                if goal == "fat_loss":
                    assert all(
                        s.target_rir >= 2 for d in plan.days for e in d.exercises for s in e.sets
                    )


def test_schema_excludes_what_the_person_cannot_do(codebook) -> None:
    athlete = Athlete("strength", "advanced", 3, 60, GYM, frozenset({"knee_loading"}))
    allowed = set()
    for update in (False, True):
        for rule in day_rules(codebook, athlete, update=update):
            for place in (*rule.places, *([rule.finisher] if rule.finisher else [])):
                allowed.update(n for _kind, ex, _sc in place.options for n in ex)
    squat = codebook.exercise_number(exercises_by_slug()["barbell_back_squat"])
    bench = codebook.exercise_number(exercises_by_slug()["barbell_bench_press"])
    assert squat not in allowed and bench in allowed


def test_random_valid_policy_stays_inside_the_schema_and_grammar(codebook) -> None:
    """The random-valid baseline and the constrained model see one constraint: its plans
    validate against the JSON Schema, the Python reading accepts them, and the GBNF text
    parses in llama.cpp's own grammar parser."""
    import jsonschema_rs
    from llama_cpp import LlamaGrammar

    from fitsense_core.student.compact import compact_grammar

    rng = random.Random(11)
    for kit in (frozenset(), frozenset({"dumbbell", "bench"}), GYM):
        for days in (1, 3, 5, 7):
            for update in (False, True):
                athlete = Athlete("fat_loss", "beginner", days, 45, kit, frozenset())
                validator = jsonschema_rs.validator_for(
                    compact_schema(codebook, athlete, update=update)
                )
                LlamaGrammar.from_string(compact_grammar(codebook, athlete, update=update))
                for _ in range(5):
                    text = random_valid_plan(codebook, athlete, rng, update=update)
                    validator.validate(json.loads(text))
                    assert constraint_problem(text, codebook, athlete, update=update) is None


def test_the_constraint_allows_no_straining_when_blood_pressure_rules_it_out(codebook) -> None:
    athlete = Athlete("strength", "advanced", 4, 60, GYM, frozenset({"valsalva"}))
    for rule in day_rules(codebook, athlete):
        for place in rule.places:
            for kind, _ex, schemes in place.options:
                for number in schemes:
                    scheme = codebook.scheme(number)
                    if kind in ("strength", "plyometric"):
                        assert scheme.rir >= 3, scheme
                    if kind == "strength":
                        assert scheme.reps >= 8, scheme


def test_the_constraint_refuses_what_it_should(codebook) -> None:
    """Planted: a PULL day of hammer curls, a repeated exercise, a wrong day count."""
    athlete = Athlete("muscle_gain", "intermediate", 3, 60, GYM, frozenset())
    curl = codebook.exercise_number(exercises_by_slug()["hammer_curl"])
    good = random_valid_plan(codebook, athlete, random.Random(1))
    assert constraint_problem(good, codebook, athlete) is None
    days = json.loads(good)
    scheme = days[1][0][1]
    curls = json.dumps([days[0], [[curl, scheme]] * 3, days[2]])
    assert "day 2" in constraint_problem(curls, codebook, athlete)
    repeated = json.dumps([days[0] + [days[0][0]], days[1], days[2]])
    assert constraint_problem(repeated, codebook, athlete) is not None
    assert "3 training days" in constraint_problem(json.dumps(days[:2]), codebook, athlete)


def test_the_teachers_new_plans_are_inside_the_constraint(profiles) -> None:
    """What the student is trained on is what its grammar can write: every plan the
    knowledge-based coach creates follows the per-place constraint."""
    plans = [create_plan(p) for p in profiles[:60]]
    codebook = build_codebook(plans)
    for profile, plan in zip(profiles, plans, strict=False):
        text = encode_plan(plan, codebook)
        assert constraint_problem(text, codebook, profile.athlete()) is None, profile


@pytest.mark.parametrize(
    "text",
    ["not json", "[]", "[[[1]]]", "[[[9999,1]]]", "[[[1,9999]]]", '[[["a",1]]]', "[[[1,1]]]" * 1],
)
def test_malformed_compact_plans_are_reported(codebook, text) -> None:
    athlete = Athlete("strength", "intermediate", 3, 60, GYM, frozenset())
    if text == "[[[1,1]]]":  # well formed, but one day where three were asked
        plan = decode_plan(text, codebook, athlete)
        assert "days_per_week" in validate_plan(plan, athlete).codes()
        return
    with pytest.raises(CompactFormatError):
        decode_plan(text, codebook, athlete)


def test_rouge_l() -> None:
    assert rouge_l("sleep seven hours a night", "sleep seven hours a night") == 1.0
    assert rouge_l("eat more protein", "sleep longer") == 0.0
    assert 0 < rouge_l("aim for seven hours of sleep", "sleep at least seven hours") < 1


def test_eval_sample_is_stratified_and_deterministic() -> None:
    records = [
        {"id": f"{t}-{i}", "metadata": {"prompt_type": t}}
        for t in ("plan_creation", "plan_update", "coaching", "safety")
        for i in range(20)
    ]
    sample = select_records(records, 12, seed=3)
    assert sample == select_records(records, 12, seed=3)
    assert {r["metadata"]["prompt_type"] for r in sample} == {
        "plan_creation",
        "plan_update",
        "coaching",
        "safety",
    }
    assert len(sample) == 12


def test_training_refuses_a_tiny_dataset(tmp_path: Path) -> None:
    from fitsense_core.student.training import BaseModel

    rows = [
        {
            "prompt": [{"role": "user", "content": "x"}],
            "completion": [{"role": "assistant", "content": "y"}],
        }
    ] * 3
    with pytest.raises(TrainingError, match="at least 8 are needed"):
        train_student(TrainingConfig(), BaseModel(tmp_path, "0" * 64, "x"), rows, rows, tmp_path)


def _version(name: str, passed: bool) -> ModelVersion:
    digest = "a" * 64
    return ModelVersion(
        version=name,
        status="candidate" if passed else "rejected",
        run_id="r",
        base_model="shipped",
        base_model_digest=digest,
        dataset_run_id="r",
        dataset_sha256=digest,
        git_commit="abc",
        training_config={"max_steps": 1},
        metrics={"student": {}},
        gate={"passed": passed, "failures": [] if passed else ["semantic validity 50 % < 90 %"]},
        manifest_uri="m",
        eval_report_uri="e",
        gguf_uri="g",
        gguf_sha256=digest,
        adapter_uri="a",
        merged_uri="m",
        codebook_uri="c",
    )


def test_registry_promotes_atomically_and_refuses_failed_gates(fresh_migrated_db: str) -> None:
    url = fresh_migrated_db
    register(url, _version("student-a-0001", True))
    register(url, _version("student-b-0002", True))
    register(url, _version("student-c-0003", False))
    assert promote(url, "student-a-0001") is None
    assert promote(url, "student-b-0002") == "student-a-0001"
    assert serving(url).version == "student-b-0002"
    with pytest.raises(RegistryError, match="failed its promotion gate: semantic validity"):
        promote(url, "student-c-0003")
    assert serving(url).version == "student-b-0002"
    assert rollback(url) == ("student-b-0002", "student-a-0001")
    assert serving(url).version == "student-a-0001"
    assert [h["action"] for h in history(url)] == ["promote", "promote", "rollback"]
    assert register(url, _version("student-a-0001", True)).status == "serving"  # same files
    changed = _version("student-a-0001", True)
    changed = ModelVersion(**{**changed.__dict__, "gguf_sha256": "b" * 64})
    with pytest.raises(RegistryError, match="has served and cannot be replaced"):
        register(url, changed)
    with psycopg.connect(url) as conn, pytest.raises(psycopg.errors.UniqueViolation):
        conn.execute(
            "UPDATE model_versions SET status = 'serving', promoted_at = now() "
            "WHERE version = 'student-b-0002'"
        )


# --- a real (tiny) training run, end to end --------------------------------------------

TINY = {"max_steps": 2, "batch_size": 2, "eval_steps": 2, "save_steps": 1, "max_eval_examples": 2}


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory, database_factory):
    """The whole pipeline on 30 people with a two-step training budget."""
    import os

    import dagster as dg

    from fitsense_assets.definitions import defs
    from fitsense_assets.partitions import run_partitions

    root = tmp_path_factory.mktemp("student")
    db = database_factory("student")
    env = {
        "FITSENSE_ARTIFACTS_URI": str(root / "artifacts"),
        "FITSENSE_DATABASE_URL": db,
        "FITSENSE_HOME": str(root / "home"),
    }
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        instance = dg.DagsterInstance.ephemeral()
        instance.add_dynamic_partitions(run_partitions.name, ["tiny"])
        result = (
            defs()
            .resolve_job_def("pipeline")
            .execute_in_process(
                instance=instance,
                partition_key="tiny",
                raise_on_error=False,
                run_config={
                    "ops": {
                        "synthetic_users": {
                            "config": {
                                "n_users": 30,
                                "seed": 3,
                                "history_days": 30,
                                "history_end": "2026-10-31",
                            }
                        },
                        "student_model": {"config": TINY},
                        "student_evaluation": {"config": {"max_prompts": 6}},
                    }
                },
            )
        )
        yield result, root, db
    finally:
        for key, value in old.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _student_dir(root: Path) -> Path:
    pointer = json.loads(next((root / "artifacts/models/student/runs").glob("*.json")).read_text())
    return root / "artifacts/models/student" / pointer["version"]


@pytest.mark.slow
def test_tiny_training_changes_only_the_adapter(trained) -> None:
    from safetensors.torch import load_file

    result, root, _db = trained
    assert any(
        e.asset_key.to_user_string() == "student_model"
        for e in result.get_asset_materialization_events()
    )
    base_info = json.loads((root / "artifacts/models/base/runs/tiny.json").read_text())
    base_dir = root / "artifacts/models/base" / base_info["digest"][:16]
    from fitsense_core.student.training import directory_digest

    assert directory_digest(base_dir) == base_info["digest"]  # base weights untouched
    adapter = load_file(_student_dir(root) / "adapter" / "adapter_model.safetensors")
    lora_b = [t for name, t in adapter.items() if "lora_B" in name]
    assert lora_b and any(t.abs().sum() > 0 for t in lora_b)  # B starts at zero: it moved
    base = load_file(base_dir / "model.safetensors")
    merged = load_file(_student_dir(root) / "merged" / "model.safetensors")
    q_proj = next(k for k in base if k.endswith("layers.0.self_attn.q_proj.weight"))
    norm = next(k for k in base if k.endswith("layers.0.input_layernorm.weight"))
    assert not (merged[q_proj] == base[q_proj]).all()
    assert (merged[norm] == base[norm]).all()
    curves = _student_dir(root) / "training_curves.png"
    assert curves.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.slow
def test_exported_gguf_serves_a_contract_valid_plan(trained, profiles, small_run) -> None:
    from openai import OpenAI

    from fitsense_core.student.compact import Codebook
    from fitsense_core.student.data import StudentTask, render_task
    from fitsense_serving.llama_server import llama_server

    _result, root, _db = trained
    student = _student_dir(root)
    codebook = Codebook.from_json((student / "codebook.json").read_text())
    profile = profiles[0]
    task = StudentTask(
        "t",
        "plan_creation",
        "plan",
        "Make me a plan.",
        profile,
        None,
        (),
        profile.blocked_tags,
        "ok",
        {},
        profile.goal,
    )
    with llama_server(
        student / "student-q8_0.gguf",
        model_alias="student",
        api_key="k",
        log_path=root / "serve.log",
    ) as server:
        client = OpenAI(base_url=server.base_url, api_key="k", max_retries=0)
        response = client.chat.completions.create(
            model="student",
            messages=render_task(task, codebook),
            max_tokens=360,
            temperature=0,
            extra_body={
                "response_format": {
                    "type": "json_object",
                    "schema": compact_schema(codebook, task.athlete),
                }
            },
        )
    plan = decode_plan(response.choices[0].message.content, codebook, task.athlete)
    result = validate_plan(plan, task.athlete)
    assert result.valid, [str(v) for v in result.violations]


@pytest.mark.slow
def test_version_is_registered_with_a_complete_manifest(trained) -> None:
    from fitsense_core.student.registry import get

    result, root, db = trained
    student = _student_dir(root)
    manifest = json.loads((student / "manifest.json").read_text())
    for key in (
        "dataset",
        "base_model",
        "git_commit",
        "training_config",
        "metrics",
        "gate",
        "eval_report_uri",
        "files",
    ):
        assert manifest[key], key
    assert manifest["dataset"]["sha256"] and len(manifest["base_model"]["digest"]) == 64
    assert manifest["training_config"]["max_steps"] == TINY["max_steps"]
    assert {"student", "base", "teacher", "random_valid"} <= set(manifest["metrics"])
    version = get(db, manifest["version"])
    report = json.loads((root / "artifacts/reports/tiny/evaluation.json").read_text())
    assert report["summary"]["student"]["contract_validity"] == 1.0
    # A reader's sample of the coach answers each model gave, with the judge's verdict.
    assert set(report["reply_samples"]) == {"student", "champion", "base"}
    for sample in report["reply_samples"]["student"]:
        assert set(sample) == {"question", "answer", "accepted", "reason"}
    if version.gate_passed:
        assert result.success and version.status == "serving"
    else:
        # The blocking gate stopped the run before promotion.
        assert version.status == "rejected" and not result.success
        with pytest.raises(RegistryError):
            promote(db, version.version)


@pytest.mark.slow
def test_interrupted_training_resumes_from_its_checkpoint(trained, tmp_path: Path) -> None:
    """Kill a training run after its first checkpoint; the next run resumes from it."""
    _result, root, _db = trained
    base_info = json.loads((root / "artifacts/models/base/runs/tiny.json").read_text())
    base_dir = root / "artifacts/models/base" / base_info["digest"][:16]
    script = f"""
import json, sys
from pathlib import Path
from fitsense_core.distill import read_split
from fitsense_core.artifacts import ArtifactStore
from fitsense_core.student.compact import Codebook
from fitsense_core.student.data import sft_example
from fitsense_core.student.training import BaseModel, TrainingConfig, train_student
store = ArtifactStore({str(root / "artifacts")!r})
codebook = Codebook.from_json(Path({str(_student_dir(root) / "codebook.json")!r}).read_text())
rows = [sft_example(r, codebook) for r in read_split(store, "tiny", "train")]
val = [sft_example(r, codebook) for r in read_split(store, "tiny", "val")]
base = BaseModel(Path({str(base_dir)!r}), {base_info["digest"]!r}, "shipped")
config = TrainingConfig(max_steps=int(sys.argv[1]), batch_size=2, save_steps=1, eval_steps=50,
                        max_eval_examples=2)
result = train_student(config, base, rows, val, Path({str(tmp_path)!r}))
print(json.dumps({{"steps": result.steps, "resumed_from": result.resumed_from}}))
"""
    process = subprocess.Popen(
        [sys.executable, "-c", script, "3"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    checkpoint = tmp_path / "checkpoints" / "checkpoint-1"
    deadline = time.monotonic() + 600
    while not (checkpoint / "trainer_state.json").exists():
        assert process.poll() is None, "training ended before its first checkpoint"
        assert time.monotonic() < deadline
        time.sleep(0.5)
    process.kill()
    process.wait()
    finished = subprocess.run(
        [sys.executable, "-c", script, "3"], capture_output=True, text=True, timeout=900
    )
    assert finished.returncode == 0, finished.stderr[-2000:]
    outcome = json.loads(finished.stdout.strip().splitlines()[-1])
    assert outcome["steps"] == 3
    resumed = outcome["resumed_from"]
    assert resumed and int(resumed.rsplit("-", 1)[1]) in (1, 2), resumed


def test_gguf_conversion_failure_is_clear(tmp_path: Path) -> None:
    from fitsense_core.student.export import convert_to_gguf

    fake = tmp_path / "converter.py"
    fake.write_text("import sys; sys.stderr.write('ValueError: no model weights'); sys.exit(1)")
    with pytest.raises(TrainingError, match="GGUF conversion failed: ValueError: no model"):
        convert_to_gguf(tmp_path, tmp_path / "out.gguf", fake)
    assert not (tmp_path / "out.gguf").exists()


def test_unreadable_base_model_is_clear(tmp_path: Path) -> None:
    from fitsense_core.errors import ConfigurationError
    from fitsense_core.student.training import prepare_base_model

    (tmp_path / "model").mkdir()
    with pytest.raises(ConfigurationError, match=r"has no config\.json"):
        prepare_base_model(str(tmp_path / "model"), tmp_path / "cache")
    with pytest.raises(ConfigurationError, match="neither the shipped model"):
        prepare_base_model("nobody/no-such-model", tmp_path / "cache")


def test_encode_refuses_unknown_prescriptions(codebook) -> None:
    bad = json.loads(create_plan(_a_profile()).model_dump_json())
    day = next(d for d in bad["days"] if d["exercises"])
    ex = next(e for e in day["exercises"] if e["notes"] is None)
    for s in ex["sets"]:
        s["target_reps"] = 29
    from fitsense_core.plan_contract import Plan

    with pytest.raises(DataValidationError, match="not in the codebook"):
        encode_plan(Plan.model_validate(bad), codebook)
    assert encode_plan(Plan.model_validate(bad), codebook, approximate=True)


def _a_profile():
    from fitsense_core.profile import UserProfile

    return UserProfile(
        "u", 30, "F", 165, "moderately_active", ("muscle_gain",), "intermediate", 4, 60, GYM
    )


def test_corrupt_base_model_file_is_clear(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import fitsense_core.student.base_model as base_model_module
    from fitsense_core.student.training import prepare_base_model

    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"GGUF" + b"\x00" * 64)
    monkeypatch.setattr(base_model_module, "base_model_gguf", lambda: broken)
    with pytest.raises(TrainingError, match=r"the base model .*broken\.gguf cannot be read"):
        prepare_base_model("", tmp_path / "cache")
    assert not (tmp_path / "cache" / "shipped-smollm2-135m-instruct").exists()
