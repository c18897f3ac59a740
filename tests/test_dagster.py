"""The Dagster code location: its contract, in-process materialization, blocking checks,
and the PostgreSQL-backed instance of dagster_home/dagster.yaml."""

from __future__ import annotations

import shutil
from pathlib import Path

import dagster as dg
import psycopg
import pytest

from fitsense_assets.definitions import defs
from fitsense_assets.defs.synthetic import assets as synthetic_assets
from fitsense_assets.defs.synthetic import checks as synthetic_checks
from fitsense_assets.partitions import run_partitions
from fitsense_assets.resources import AppDatabaseResource, ArtifactStoreResource
from fitsense_core.artifacts import ArtifactStore
from fitsense_core.distill import read_split
from fitsense_core.reference import exercises_by_slug
from fitsense_core.synthetic.load import count_run_rows

SYNTHETIC_ASSETS = {
    "exercise_catalog": set(),
    "synthetic_users": {"exercise_catalog"},
    "synthetic_plans": {"synthetic_users"},
    "synthetic_workouts": {"synthetic_users", "synthetic_plans"},
    "synthetic_daily_signals": {"synthetic_users", "synthetic_workouts"},
    "synthetic_app_tables": {
        "synthetic_users",
        "synthetic_plans",
        "synthetic_workouts",
        "synthetic_daily_signals",
    },
}
CHECKS = {
    "exercise_catalog": "exercise_catalog_coverage",
    "synthetic_users": "synthetic_users_valid",
    "synthetic_plans": "synthetic_plans_safe_and_valid",
    "synthetic_workouts": "synthetic_workouts_valid",
    "synthetic_daily_signals": "synthetic_daily_signals_valid",
    "synthetic_app_tables": "synthetic_app_tables_match_artifacts",
}
DATASET_ASSETS = {
    "consented_interactions": (set(), "teacher"),
    "knowledge_base": (set(), "teacher"),
    "prompts": (
        {
            "synthetic_users",
            "synthetic_plans",
            "synthetic_workouts",
            "synthetic_daily_signals",
            "consented_interactions",
            "knowledge_base",
        },
        "teacher",
    ),
    "teacher_outputs": ({"prompts"}, "teacher"),
    "teacher_output_validation": ({"prompts", "teacher_outputs"}, "qa"),
    "qa_statistics": ({"prompts", "teacher_outputs"}, "qa"),
    "qa_anomalies": ({"prompts", "teacher_outputs"}, "qa"),
    "qa_bias_slices": ({"prompts", "teacher_outputs"}, "qa"),
    "distillation_dataset": (
        {"prompts", "teacher_outputs", "teacher_output_validation", "qa_bias_slices"},
        "distill",
    ),
}
MODEL_ASSETS = {
    "base_model": (set(), "training"),
    "student_training_set": ({"distillation_dataset", "base_model"}, "training"),
    "student_model": ({"student_training_set", "base_model"}, "training"),
    "student_export": ({"student_model"}, "training"),
    "student_evaluation": (
        {"student_export", "base_model", "distillation_dataset", "golden_eval_set"},
        "evaluation",
    ),
    "model_version": ({"student_export", "student_evaluation"}, "registry"),
    "serving_model": ({"model_version"}, "registry"),
}
DATASET_CHECKS = {
    ("consented_interactions", "consented_interactions_anonymized", True),
    ("knowledge_base", "knowledge_base_valid", True),
    ("prompts", "prompts_cover_every_person", True),
    ("teacher_outputs", "teacher_failure_rate", False),
    ("teacher_output_validation", "validation_pass_rate", True),
    ("teacher_output_validation", "canaries_caught", True),
    ("qa_anomalies", "few_anomalies", False),
    ("qa_bias_slices", "no_critical_bias", True),
    ("distillation_dataset", "distillation_dataset_integrity", True),
    ("student_training_set", "student_training_set_fit", True),
    ("distillation_dataset", "distillation_dataset_duplicates", True),
    ("model_version", "promotion_gate", True),
    ("golden_eval_set", "golden_eval_set_valid", True),
    ("triage_model", "triage_recall_target", True),
}
RUN_CONFIG = {
    "ops": {
        "synthetic_users": {
            "config": {"n_users": 25, "seed": 11, "history_days": 30, "history_end": "2026-10-31"}
        }
    }
}


def test_definitions_contract() -> None:
    """Catches accidental changes to the asset graph."""
    loaded = defs()
    graph = loaded.resolve_asset_graph()
    keys = {k.to_user_string() for k in graph.get_all_asset_keys()}
    assert keys == set(SYNTHETIC_ASSETS) | set(DATASET_ASSETS) | set(MODEL_ASSETS) | {
        "live_monitoring",
        "golden_eval_set",
        "triage_model",
    }
    # The triage model is one per corpus (data version = corpus hash), not a run's partition.
    triage = graph.get(dg.AssetKey("triage_model"))
    assert triage.partitions_def is None and triage.group_name == "safety"
    assert triage.code_version and not triage.parent_keys
    # The golden set is built once per golden-set version and shared by every run.
    golden = graph.get(dg.AssetKey("golden_eval_set"))
    assert golden.partitions_def is None and golden.group_name == "evaluation"
    assert golden.code_version
    # Monitoring is one timeline across runs, not a run's partition.
    monitoring = graph.get(dg.AssetKey("live_monitoring"))
    assert monitoring.partitions_def is None and monitoring.group_name == "monitoring"
    assert {p.to_user_string() for p in monitoring.parent_keys} == {"serving_model"}
    expected = {k: (parents, "synthetic") for k, parents in SYNTHETIC_ASSETS.items()}
    expected |= DATASET_ASSETS | MODEL_ASSETS
    for key, (parents, group) in expected.items():
        node = graph.get(dg.AssetKey(key))
        assert {p.to_user_string() for p in node.parent_keys} == parents, key
        assert node.partitions_def == run_partitions, key
        assert node.group_name == group, key
        assert node.description, key
    checks = {
        (c.asset_key.to_user_string(), c.name, graph.get_check_spec(c).blocking)
        for c in graph.asset_check_keys
    }
    assert checks == {(a, c, True) for a, c in CHECKS.items()} | DATASET_CHECKS | {
        ("live_monitoring", "monitoring_within_thresholds", False),
        ("live_monitoring", "monitoring_serving_healthy", False),
        ("live_monitoring", "monitoring_capabilities_within_gate", False),
        ("live_monitoring", "monitoring_drift", False),
    }
    assert set(loaded.resources) == {"artifact_store", "app_database", "teacher"}
    for key in (
        "base_model",
        "student_training_set",
        "student_model",
        "student_export",
        "student_evaluation",
    ):
        assert graph.get(dg.AssetKey(key)).code_version, key
    for job_name in ("synthetic_data", "dataset", "pipeline"):
        assert loaded.resolve_job_def(job_name).partitions_def == run_partitions
    assert {s.name for s in loaded.sensors} == {
        "retraining_sensor",
        "keep_derived_assets_fresh",
        "pipeline_run_report_success",
        "pipeline_run_report_failure",
        "pipeline_run_report_canceled",
    }
    assert [s.name for s in loaded.schedules] == ["monitoring_every_15_minutes"]
    # Only cheap derived assets refresh on their own; training and promotion never do.
    automated = {
        k.to_user_string() for k in graph.get_all_asset_keys() if graph.get(k).automation_condition
    }
    assert automated == {
        "teacher_output_validation",
        "qa_statistics",
        "qa_anomalies",
        "qa_bias_slices",
        "distillation_dataset",
    }


def _materialize(
    tmp_path: Path, db_url: str, run_id: str, *, instance=None, raise_on_error: bool = True
) -> dg.ExecuteInProcessResult:
    instance = instance or dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions(run_partitions.name, [run_id])
    return dg.materialize(
        [
            *(getattr(synthetic_assets, k) for k in SYNTHETIC_ASSETS),
            *(getattr(synthetic_checks, c) for c in CHECKS.values()),
        ],
        partition_key=run_id,
        instance=instance,
        resources={
            "artifact_store": ArtifactStoreResource(root=str(tmp_path)),
            "app_database": AppDatabaseResource(url=db_url),
        },
        run_config=RUN_CONFIG,
        raise_on_error=raise_on_error,
    )


def test_materialize_in_process_loads_postgres_and_passes_checks(
    tmp_path: Path, fresh_migrated_db: str
) -> None:
    result = _materialize(tmp_path, fresh_migrated_db, "inproc")
    assert result.success
    materialized = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    assert materialized == set(SYNTHETIC_ASSETS)
    evaluations = [
        e.asset_check_evaluation_data
        for e in result.all_events
        if e.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION
    ]
    assert len(evaluations) == len(CHECKS) and all(ev.passed for ev in evaluations)

    users_md = result.asset_materializations_for_node("synthetic_users")[0].metadata
    assert users_md["dagster/row_count"].value == 25
    assert "| id | name | email" in users_md["preview"].value
    assert {c.name for c in users_md["dagster/column_schema"].value.columns} >= {"id", "email"}

    loaded = result.asset_materializations_for_node("synthetic_app_tables")[0].metadata
    with psycopg.connect(fresh_migrated_db) as conn:
        counts = count_run_rows(conn, "inproc")
    assert counts["users"] == 25
    assert loaded["dagster/row_count"].value == sum(counts.values())


def test_materialization_is_deterministic_for_a_seed(
    tmp_path: Path, fresh_migrated_db: str
) -> None:
    digests = []
    for name in ("a", "b"):
        root = tmp_path / name
        assert _materialize(root, fresh_migrated_db, "det").success
        store = ArtifactStore(str(root))
        digests.append(
            {
                stage: {
                    t: e["sha256"]
                    for t, e in store.read_json(
                        "datasets", "synthetic", "det", stage, "manifest.json"
                    )["tables"].items()
                }
                for stage in SYNTHETIC_ASSETS
                if stage != "synthetic_app_tables"
            }
        )
    assert digests[0] == digests[1]


def test_unsafe_plan_blocks_the_load(
    tmp_path: Path, fresh_migrated_db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = synthetic_assets.generate_plans
    squat = exercises_by_slug()["barbell_back_squat"].id

    def unsafe_plans(users):
        plans = real(users)
        pe = plans["plan_exercises"]
        pe["exercise_id"] = pe["exercise_id"].astype(object)
        pe["exercise_id"] = squat  # unsafe for anyone with a knee or back restriction
        return plans

    monkeypatch.setattr(synthetic_assets, "generate_plans", unsafe_plans)
    result = _materialize(tmp_path, fresh_migrated_db, "unsafe", raise_on_error=False)
    assert not result.success
    materialized = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    assert "synthetic_app_tables" not in materialized
    failed = [
        e.asset_check_evaluation_data
        for e in result.all_events
        if e.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION
        and not e.asset_check_evaluation_data.passed
    ]
    assert [f.check_name for f in failed] == ["synthetic_plans_safe_and_valid"]
    assert "contraindicated" in failed[0].description
    with psycopg.connect(fresh_migrated_db) as conn:
        assert count_run_rows(conn, "unsafe")["users"] == 0


def test_postgres_instance_from_dagster_yaml(
    tmp_path: Path,
    repo_root: Path,
    database_factory,
    fresh_migrated_db: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(repo_root / "dagster_home" / "dagster.yaml", home / "dagster.yaml")
    storage_url = database_factory("dagster")
    monkeypatch.setenv("FITSENSE_DAGSTER_STORAGE_URL", storage_url)
    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        assert type(instance.event_log_storage).__name__ == "PostgresEventLogStorage"
        assert type(instance.schedule_storage).__name__ == "PostgresScheduleStorage"
        assert _materialize(
            tmp_path / "artifacts", fresh_migrated_db, "pg-instance", instance=instance
        ).success
        event = instance.get_latest_materialization_event(dg.AssetKey("synthetic_app_tables"))
        assert event is not None
    with psycopg.connect(storage_url) as conn:
        assert conn.execute("SELECT count(*) FROM runs").fetchone()[0] == 1
        assert conn.execute("SELECT count(*) FROM event_logs").fetchone()[0] > 10


def test_dataset_job_builds_the_dataset_with_the_offline_teacher(
    tmp_path: Path, fresh_migrated_db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FITSENSE_ARTIFACTS_URI", str(tmp_path))
    monkeypatch.setenv("FITSENSE_DATABASE_URL", fresh_migrated_db)
    monkeypatch.delenv("FITSENSE_TEACHER_PROVIDER", raising=False)
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions(run_partitions.name, ["full"])
    result = (
        defs()
        .resolve_job_def("dataset")
        .execute_in_process(instance=instance, partition_key="full", run_config=RUN_CONFIG)
    )
    assert result.success
    materialized = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    assert materialized == set(SYNTHETIC_ASSETS) | set(DATASET_ASSETS)
    dataset = result.asset_materializations_for_node("distillation_dataset")[0].metadata
    # Emergencies are withheld from train and val (the policy answers them), and counted.
    withheld = dataset["withheld_emergencies"].value
    assert withheld > 0
    store = ArtifactStore(str(tmp_path))
    manifest = store.read_json("datasets", "distillation", "full", "manifest.json")
    # Every prompt is in the dataset unless rejected or dropped as a duplicate.
    dropped = manifest["dropped"]
    duplicates = dropped["duplicates"]["candidates"] - dropped["duplicates"]["kept"]
    assert (
        manifest["records"]
        + manifest["withheld"]["count"]
        + manifest["rejected"]
        + duplicates
        + dropped["test_requests_seen_in_train"]
        >= 25 * 6
    )
    assert manifest["rejected"] <= 0.05 * 25 * 6
    canaries = store.read_json("reports", "full", "canaries.json")
    assert canaries["planted"] > 0 and canaries["recall"] == 1.0
    assert manifest["records"] == dataset["dagster/row_count"].value
    assert manifest["withheld"]["count"] == withheld
    for split in ("train", "val"):
        assert not [
            r
            for r in read_split(store, "full", split)
            if r["metadata"]["expected_safety_level"] == "emergency"
        ]
    assert manifest["teachers"] and all(k.startswith("offline/") for k in manifest["teachers"])
    for report in ("validation", "statistics", "anomalies", "bias"):
        assert store.exists("reports", "full", f"{report}.json")
    evaluations = {
        e.asset_check_evaluation_data.check_name: e.asset_check_evaluation_data.passed
        for e in result.all_events
        if e.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION
    }
    assert evaluations["validation_pass_rate"] and evaluations["distillation_dataset_integrity"]
    assert evaluations["canaries_caught"] and evaluations["distillation_dataset_duplicates"]


def test_outside_local_development_synthetic_people_never_reach_the_app_tables(
    tmp_path: Path, fresh_migrated_db: str, monkeypatch
) -> None:
    """A run in dev, stage or prod (here FITSENSE_ENV=prod) keeps the application's users
    table as it was; its check fails if a run's synthetic people are in it all the same."""

    def users() -> int:
        with psycopg.connect(fresh_migrated_db) as conn:
            return conn.execute("SELECT count(*) FROM users").fetchone()[0]

    before = users()
    monkeypatch.setenv("FITSENSE_ENV", "prod")
    monkeypatch.delenv("FITSENSE_SYNTHETIC_TO_APP_DB", raising=False)
    result = _materialize(tmp_path, fresh_migrated_db, "prodlike")
    assert result.success
    loaded = result.asset_materializations_for_node("synthetic_app_tables")[0].metadata
    assert loaded["loaded"].value is False and "FITSENSE_ENV=prod" in loaded["reason"].value
    assert users() == before
    # Loading is an explicit choice there...
    monkeypatch.setenv("FITSENSE_SYNTHETIC_TO_APP_DB", "true")
    instance = dg.DagsterInstance.ephemeral()
    assert _materialize(tmp_path, fresh_migrated_db, "prodlike", instance=instance).success
    assert users() == before + 25
    # ...and the check catches a run's people in the tables where they must not be.
    monkeypatch.delenv("FITSENSE_SYNTHETIC_TO_APP_DB")
    caught = _materialize(
        tmp_path, fresh_migrated_db, "prodlike", instance=instance, raise_on_error=False
    )
    [evaluation] = [
        e.asset_check_evaluation_data
        for e in caught.all_events
        if e.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION
        and e.asset_check_evaluation_data.check_name == "synthetic_app_tables_match_artifacts"
    ]
    assert not evaluation.passed
