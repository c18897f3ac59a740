"""Pipeline run reports: real ``dataset`` runs (one that succeeds, one that fails at the
synthetic data) in a real Dagster instance, reported by the run status sensors into
PostgreSQL, the artifact store and one Cloud Logging JSON line; and the severity rules."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import dagster as dg
import psycopg
import pytest
from psycopg.rows import dict_row

from fitsense_assets.definitions import defs
from fitsense_assets.defs.monitoring.run_report import (
    pipeline_run_report_canceled,
    pipeline_run_report_failure,
    pipeline_run_report_success,
)
from fitsense_assets.partitions import run_partitions
from fitsense_assets.resources import AppDatabaseResource, ArtifactStoreResource
from fitsense_core import run_report as rr
from fitsense_core.artifacts import ArtifactStore

USERS = 12
QA_ASSETS = {"teacher_output_validation", "qa_statistics", "qa_anomalies", "qa_bias_slices"}
# Fields Cloud Logging lifts from a JSON line into the entry itself.
UNREACHABLE = "postgresql://nobody@127.0.0.1:1/none"
SPECIAL = {"severity", "message", "time", "logging.googleapis.com/labels"}


def _config(history_end: str = "2026-10-31") -> dict:
    return {
        "ops": {
            "synthetic_users": {
                "config": {
                    "n_users": USERS,
                    "seed": 5,
                    "history_days": 21,
                    "history_end": history_end,
                }
            }
        }
    }


@pytest.fixture
def setup(tmp_path, fresh_migrated_db: str, monkeypatch):
    """A Dagster instance in a temp directory, the app database, the artifact store."""
    monkeypatch.setenv("FITSENSE_ARTIFACTS_URI", str(tmp_path / "artifacts"))
    monkeypatch.setenv("FITSENSE_DATABASE_URL", fresh_migrated_db)
    monkeypatch.delenv("FITSENSE_TEACHER_PROVIDER", raising=False)
    monkeypatch.delenv("FITSENSE_ENV", raising=False)
    resources = {
        "app_database": AppDatabaseResource(url=fresh_migrated_db),
        "artifact_store": ArtifactStoreResource(root=str(tmp_path / "artifacts")),
    }
    (tmp_path / "dagster").mkdir()
    with dg.instance_for_test(temp_dir=str(tmp_path / "dagster")) as instance:
        instance.add_dynamic_partitions(run_partitions.name, ["r1"])
        yield instance, fresh_migrated_db, ArtifactStore(str(tmp_path / "artifacts")), resources


def _run(instance, history_end: str = "2026-10-31"):
    return (
        defs()
        .resolve_job_def("dataset")
        .execute_in_process(
            instance=instance,
            partition_key="r1",
            run_config=_config(history_end),
            raise_on_error=False,
            tags={"fitsense/run_id": "r1", "fitsense/trigger": "test", "fitsense/reason": "why"},
        )
    )


def _rows(db: str) -> list[dict]:
    with psycopg.connect(db) as conn, conn.cursor(row_factory=dict_row) as cur:
        return cur.execute("SELECT * FROM pipeline_run_reports ORDER BY recorded_at").fetchall()


def _log_lines(err: str) -> list[dict]:
    lines = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    return [line for line in lines if line.get("event") == rr.EVENT]


def test_a_successful_run_is_reported_to_postgres_the_store_and_the_log(setup, capsys) -> None:
    instance, db, store, resources = setup
    result = _run(instance)
    assert result.success
    capsys.readouterr()

    def invoke() -> None:
        context = dg.build_run_status_sensor_context(
            sensor_name=pipeline_run_report_success.name,
            dagster_event=result.get_run_success_event(),
            dagster_instance=instance,
            dagster_run=result.dagster_run,
            resources=resources,
        )
        pipeline_run_report_success(context)

    invoke()
    [row] = _rows(db)
    assert row["dagster_run_id"] == result.run_id
    assert (row["job_name"], row["run_id"], row["status"]) == ("dataset", "r1", "SUCCESS")
    assert row["finished_at"] >= row["started_at"] and row["duration_s"] > 0
    report = row["report"]

    # The artifact holds the same report.
    parts = ("reports", "r1", "pipeline_runs", f"{result.run_id}.json")
    assert row["report_uri"] == store.uri(*parts) == report["report_uri"]
    assert store.read_json(*parts) == report

    # Every stage with its status and a positive runtime; the run's total.
    steps = {s["step_key"]: s for s in report["stages"]}
    assert {"synthetic_users", "prompts", "qa_reports", "distillation_dataset"} <= set(steps)
    assert all(s["status"] == "SUCCESS" and s["duration_s"] > 0 for s in steps.values())
    assert report["stage_summary"]["by_status"] == {"SUCCESS": len(steps)}
    assert report["duration_s"] >= report["stage_summary"]["slowest"][0]["duration_s"] > 0
    # Row counts from the assets' metadata.
    assert report["row_counts"]["synthetic_users"] == USERS
    assert report["row_counts"]["prompts"] == report["row_counts"]["teacher_outputs"] > 0
    users = next(a for a in report["assets"] if a["asset"] == "synthetic_users")
    assert users["row_counts"]["user_goals"] > 0 and users["partition"] == "r1"
    assert report["assets_not_materialized"] == [] and report["checks_not_run"] == []
    # Every check, with its severity and whether it blocks.
    checks = {(c["asset"], c["check"]): c for c in report["checks"]}
    gate = checks[("teacher_output_validation", "validation_pass_rate")]
    assert (gate["passed"], gate["severity"], gate["blocking"]) == (True, "ERROR", True)
    warn = checks[("qa_anomalies", "few_anomalies")]
    assert (warn["severity"], warn["blocking"]) == ("WARN", False)
    failed = sorted(f"{a}:{c}" for (a, c), v in checks.items() if not v["passed"])
    assert report["validation"]["failed"] == failed
    assert report["validation"]["teacher_answers"]["accepted"] > 0
    # QA anomalies by severity, as the anomaly check judged them; bias alerts.
    anomalies = report["anomalies"]
    counted = anomalies["outliers"] + anomalies["near_duplicate_pairs"]
    verdict = "info" if warn["passed"] else "warning"
    assert report["anomalies_by_severity"] == {
        "info": 0,
        "warning": 0,
        "error": 0,
        "unjudged": 0,
    } | {verdict: counted}
    bias = report["bias_alerts"]
    assert bias["check_passed"] is checks[("qa_bias_slices", "no_critical_bias")]["passed"]
    assert bias["critical"] == 0
    assert report["model"] is None  # the dataset job trains nothing
    assert (report["trigger"], report["reason"]) == ("test", "why")
    expected = "WARNING" if failed or bias["flags"] else "INFO"
    assert report["severity"] == row["severity"] == expected

    # One structured line on stderr in Cloud Logging's shape.
    [line] = _log_lines(capsys.readouterr().err)
    assert set(line) >= SPECIAL
    assert line["severity"] == expected and line["message"] == report["message"]
    assert line["message"].startswith("dataset run r1 SUCCESS in ")
    assert (line["run_id"], line["partition"], line["status"]) == ("r1", "r1", "SUCCESS")
    assert line["dagster_run_id"] == result.run_id
    assert line["duration_s"] == report["duration_s"]
    assert line["stages"]["synthetic_users"]["status"] == "SUCCESS"
    assert line["stages"]["synthetic_users"]["duration_s"] > 0
    assert line["anomalies_by_severity"] == report["anomalies_by_severity"]
    assert line["bias_alerts"] == {k: bias[k] for k in ("flags", "critical", "check_passed")}
    assert line["row_counts"]["synthetic_users"] == USERS

    # Looking at the same run again replaces the row, never adds one.
    first = row["recorded_at"]
    invoke()
    [again] = _rows(db)
    assert again["dagster_run_id"] == result.run_id and again["recorded_at"] > first
    assert again["report"]["stages"] == report["stages"]


def test_a_run_that_failed_at_the_synthetic_data_is_reported_by_the_sensor(setup) -> None:
    instance, db, store, resources = setup

    def tick(sensor, cursor):
        with dg.build_sensor_context(
            instance=instance, cursor=cursor, resources=resources
        ) as context:
            return sensor.evaluate_tick(context)

    # The first tick only places the cursor; runs that end after it are reported.
    failure = tick(pipeline_run_report_failure, None)
    success = tick(pipeline_run_report_success, None)
    result = _run(instance, history_end="31/10/2026")
    assert not result.success
    # A failed run of a job the sensors do not watch is not reported.
    unwatched = dg.define_asset_job("scratch", selection=["scratch_asset"])

    @dg.asset
    def scratch_asset() -> None:
        raise RuntimeError("not a pipeline job")

    assert (
        not dg.Definitions(assets=[scratch_asset], jobs=[unwatched])
        .resolve_job_def("scratch")
        .execute_in_process(instance=instance, raise_on_error=False)
        .success
    )

    reported = tick(pipeline_run_report_failure, failure.cursor)
    assert [r.dagster_run.run_id for r in reported.dagster_run_reactions] == [result.run_id]
    assert all(r.error is None for r in reported.dagster_run_reactions)
    assert not tick(pipeline_run_report_success, success.cursor).dagster_run_reactions
    [row] = _rows(db)
    report = row["report"]
    assert (row["dagster_run_id"], row["status"], row["severity"]) == (
        result.run_id,
        "FAILURE",
        "ERROR",
    )
    assert store.read_json("reports", "r1", "pipeline_runs", f"{result.run_id}.json") == report

    steps = {s["step_key"]: s for s in report["stages"]}
    assert steps["exercise_catalog"]["status"] == "SUCCESS"
    assert steps["synthetic_users"]["status"] == "FAILURE"
    assert steps["synthetic_users"]["duration_s"] > 0
    assert report["stage_summary"]["failed"] == ["synthetic_users"]
    # What ran before it (the catalog, the consented interactions, the knowledge base when
    # the executor got to it) has its row counts.
    assert set(report["row_counts"]) - {"knowledge_base"} == {
        "exercise_catalog",
        "consented_interactions",
    }
    assert report["row_counts"]["exercise_catalog"] > 0
    [error] = report["errors"]
    assert error["step_key"] == "synthetic_users" and "31/10/2026" in error["message"]
    # What never ran is listed; the QA sections are absent, not invented.
    assert {"synthetic_users", "prompts", "distillation_dataset"} | QA_ASSETS <= set(
        report["assets_not_materialized"]
    )
    assert "qa_bias_slices:no_critical_bias" in report["checks_not_run"]
    assert report["anomalies"] is None and report["anomalies_by_severity"] is None
    assert report["bias_alerts"] is None
    assert report["message"].startswith("dataset run r1 FAILURE in ")
    assert "failed steps: synthetic_users" in report["message"]

    # The next tick has nothing new: still one row.
    assert not tick(pipeline_run_report_failure, reported.cursor).dagster_run_reactions
    assert len(_rows(db)) == 1


def test_a_run_canceled_before_it_started_is_reported(setup, capsys) -> None:
    instance, db, _store, resources = setup
    run = instance.add_run(
        dg.DagsterRun(job_name="pipeline", run_id="canceled-run", tags={"dagster/partition": "r1"})
    )
    event = instance.report_run_canceled(run, "canceled from the UI")
    canceled = instance.get_run_by_id("canceled-run")
    assert canceled.status == dg.DagsterRunStatus.CANCELED
    context = dg.build_run_status_sensor_context(
        sensor_name=pipeline_run_report_canceled.name,
        dagster_event=event,
        dagster_instance=instance,
        dagster_run=canceled,
        resources=resources,
    )
    pipeline_run_report_canceled(context)
    [row] = _rows(db)
    assert (row["status"], row["severity"], row["run_id"]) == ("CANCELED", "WARNING", "r1")
    assert row["report"]["stages"] == [] and row["report"]["model"] is None
    [line] = _log_lines(capsys.readouterr().err)
    assert line["severity"] == "WARNING" and line["status"] == "CANCELED"


def test_reporting_errors_fail_the_tick(setup) -> None:
    """A report that cannot be recorded is an error on the sensor's tick, not silence."""
    instance, _db, _store, resources = setup
    broken = {**resources, "app_database": AppDatabaseResource(url=UNREACHABLE)}
    with dg.build_sensor_context(instance=instance, resources=broken) as context:
        cursor = pipeline_run_report_failure.evaluate_tick(context).cursor
    result = _run(instance, history_end="31/10/2026")
    with dg.build_sensor_context(instance=instance, cursor=cursor, resources=broken) as context:
        [reaction] = pipeline_run_report_failure.evaluate_tick(context).dagster_run_reactions
    assert reaction.dagster_run.run_id == result.run_id
    assert reaction.error is not None
    assert "127.0.0.1" in reaction.error.to_string()


def test_runs_of_the_cli_runner_report_themselves(setup, capsys) -> None:
    """`fitsense pipeline run` executes in-process, out of the daemon sensors' sight."""
    from fitsense_assets.runner import run_pipeline_job

    instance, db, store, _resources = setup
    result = run_pipeline_job(
        "r2",
        n_users=USERS,
        seed=5,
        history_days=21,
        history_end="2026-10-31",
        job_name="dataset",
        instance=instance,
    )
    assert result.success
    [row] = _rows(db)
    assert (row["dagster_run_id"], row["run_id"]) == (result.dagster_run_id, "r2")
    assert row["report"]["trigger"] == "cli"
    assert result.report_uri == row["report_uri"]
    parts = ("reports", "r2", "pipeline_runs", f"{result.dagster_run_id}.json")
    assert store.read_json(*parts)["row_counts"]["synthetic_users"] == USERS
    [line] = _log_lines(capsys.readouterr().err)
    assert line["dagster_run_id"] == result.dagster_run_id


# --- the rules, on facts written by hand --------------------------------------------------


def _facts(**changes) -> rr.RunFacts:
    start = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
    values = {
        "dagster_run_id": "d1",
        "job_name": "pipeline",
        "status": "SUCCESS",
        "partition": "r9",
        "tags": {"fitsense/trigger": "retraining_sensor"},
        "started_at": start,
        "finished_at": start + timedelta(seconds=90),
        "stages": [
            rr.Stage("qa_reports", "SUCCESS", start, start + timedelta(seconds=30)),
            rr.Stage(
                "serving_model",
                "SUCCESS",
                start + timedelta(seconds=31),
                start + timedelta(seconds=89),
            ),
        ],
        "materializations": [
            rr.Materialization(
                "qa_anomalies",
                "qa_reports",
                "r9",
                {"outliers": 2, "near_duplicate_pairs": 1, "exact_duplicate_share": 0.0},
            ),
            rr.Materialization(
                "qa_bias_slices",
                "qa_reports",
                "r9",
                {"flags": 0, "critical": 0, "missing_slices": {}},
            ),
            rr.Materialization(
                "model_version", "model_version", "r9", {"version": "s-1", "status": "candidate"}
            ),
            rr.Materialization(
                "serving_model", "serving_model", "r9", {"version": "s-1", "replaced": "s-0"}
            ),
        ],
        "checks": [
            rr.CheckResult("qa_anomalies", "few_anomalies", True, "WARN", False),
            rr.CheckResult("qa_bias_slices", "no_critical_bias", True, "ERROR", True),
        ],
    }
    return rr.RunFacts(**(values | changes))


def test_a_clean_run_is_info_and_names_its_promoted_model() -> None:
    report = rr.build_report(_facts())
    assert report["severity"] == "INFO"
    assert report["anomalies_by_severity"] == {"info": 3, "warning": 0, "error": 0, "unjudged": 0}
    assert report["model"] == {
        "version": "s-1",
        "registered": True,
        "registry_status": "candidate",
        "promoted": True,
        "replaced": "s-0",
    }
    assert report["duration_s"] == 90.0
    assert [s["step_key"] for s in report["stage_summary"]["slowest"]] == [
        "serving_model",
        "qa_reports",
    ]
    assert report["message"].endswith("model s-1 promoted")
    assert rr.artifact_parts(report) == ("reports", "r9", "pipeline_runs", "d1.json")
    entry = rr.log_entry(report, environment="dev")
    assert (
        entry["model_version"] == "s-1" and entry["logging.googleapis.com/labels"]["env"] == "dev"
    )


def test_severity_follows_bias_anomalies_checks_and_status() -> None:
    facts = _facts()
    bias = facts.materializations[1]
    flagged = bias.__class__(bias.asset, bias.step_key, bias.partition, {"flags": 3, "critical": 0})
    critical = bias.__class__(
        bias.asset, bias.step_key, bias.partition, {"flags": 3, "critical": 1}
    )
    others = [m for m in facts.materializations if m is not bias]
    assert rr.build_report(_facts(materializations=[*others, flagged]))["severity"] == "WARNING"
    assert rr.build_report(_facts(materializations=[*others, critical]))["severity"] == "ERROR"
    warned = [rr.CheckResult("qa_anomalies", "few_anomalies", False, "WARN", False)]
    report = rr.build_report(_facts(checks=warned))
    assert report["severity"] == "WARNING"
    assert report["anomalies_by_severity"]["warning"] == 3
    assert report["bias_alerts"]["check_passed"] is None  # the bias check did not run
    gate = [rr.CheckResult("model_version", "promotion_gate", False, "ERROR", True)]
    assert rr.build_report(_facts(checks=gate))["severity"] == "ERROR"
    unjudged = rr.build_report(_facts(checks=[]))
    assert unjudged["anomalies_by_severity"]["unjudged"] == 3 and unjudged["severity"] == "INFO"
    assert rr.build_report(_facts(status="FAILURE"))["severity"] == "ERROR"
    assert rr.build_report(_facts(status="CANCELED"))["severity"] == "WARNING"
    with pytest.raises(ValueError, match="has not finished"):
        rr.build_report(_facts(status="STARTED"))


def test_the_log_line_has_what_the_infra_alert_reads() -> None:
    """infra/monitoring.tf's pipeline_run_problems policy matches the line as written."""
    import re
    from pathlib import Path

    terraform = (Path(__file__).resolve().parents[1] / "infra" / "monitoring.tf").read_text()
    block = terraform[terraform.index('"pipeline_run_problems"') :]
    block = block[: block.index("\nresource ") if "\nresource " in block else len(block)]
    line = json.loads(json.dumps(rr.log_entry(rr.build_report(_facts(status="FAILURE")))))
    payload = {k: v for k, v in line.items() if k not in SPECIAL}
    assert line["severity"] == "ERROR"
    for field in re.findall(r"jsonPayload\.([a-z_]+)", block):
        assert field in payload, field
    assert f'jsonPayload.event=\\"{payload["event"]}\\"' in block
