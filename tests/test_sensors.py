"""The retraining sensor (``build_sensor_context(...)`` and ``evaluate_tick``) and the
declarative automation that keeps the derived assets fresh."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import dagster as dg
import psycopg
import pytest

from fitsense_assets.definitions import defs
from fitsense_assets.defs.monitoring.sensors import TRIGGER, retraining_sensor
from fitsense_assets.resources import AppDatabaseResource
from fitsense_core import monitoring as m


def _report(
    db: str,
    reasons: list[str],
    serving: list[str] | None = None,
    drift: dict | None = None,
    live: dict | None = None,
) -> int:
    now = datetime.now(UTC)
    report = m.MonitoringReport(
        window_start=now - timedelta(hours=1),
        window_end=now,
        model_version=None,
        probes={"probes": 8},
        live=live or {"requests": 30},
        drift=drift or {"status": "stable"},
        thresholds=m.Thresholds(),
        decay_reasons=reasons,
        serving_problems=serving or [],
    )
    with psycopg.connect(db) as conn:
        return m.store_report(conn, report).id


def _tick(instance, db: str, cursor: str | None):
    # With a ref (partitioned run requests are resolved against it) the context opens its
    # own instance; closing the context disposes of it.
    with dg.build_sensor_context(
        instance_ref=instance.get_ref(),
        cursor=cursor,
        resources={"app_database": AppDatabaseResource(url=db)},
        definitions=defs(),
    ) as context:
        return retraining_sensor.evaluate_tick(context)


@pytest.fixture
def instance():
    with dg.instance_for_test() as instance:
        yield instance


def test_a_decayed_report_requests_one_retraining_run(
    fresh_migrated_db: str, instance, monkeypatch
) -> None:
    monkeypatch.setenv("FITSENSE_RETRAIN_MIN_NEW_RECORDS", "1000")
    first = _tick(instance, fresh_migrated_db, None)
    assert not first.run_requests and "nothing to do" in first.skip_message
    report_id = _report(
        fresh_migrated_db, ["model answers refused by the checks 40% > 5% (live, 30 requests)"]
    )
    fired = _tick(instance, fresh_migrated_db, first.cursor)
    assert len(fired.run_requests) == 1
    request = fired.run_requests[0]
    assert request.run_key == f"decay-report-{report_id}"
    assert request.partition_key.startswith("retrain-")
    assert request.tags["fitsense/trigger"] == TRIGGER
    assert request.tags["fitsense/reason"] == (
        "monitoring decayed: model answers refused by the checks 40% > 5% (live, 30 requests)"
    )
    assert request.tags["fitsense/run_id"] == request.partition_key
    [added] = fired.dynamic_partitions_requests
    assert list(added.partition_keys) == [request.partition_key]
    # The same report never fires again (cursor), nor does a healthy one.
    again = _tick(instance, fresh_migrated_db, fired.cursor)
    assert not again.run_requests
    _report(fresh_migrated_db, [])
    healthy = _tick(instance, fresh_migrated_db, again.cursor)
    assert not healthy.run_requests and "healthy" in healthy.skip_message
    # A new decay is a new cause.
    newer = _report(fresh_migrated_db, ["semantic validity 70% < 90% (probes)"])
    refired = _tick(instance, fresh_migrated_db, healthy.cursor)
    assert [r.run_key for r in refired.run_requests] == [f"decay-report-{newer}"]


def test_a_serving_outage_raises_no_retraining_run(
    fresh_migrated_db: str, instance, monkeypatch
) -> None:
    """Latency, no answers, an outage: a new model on the same server would be no better.
    The monitoring asset raises the alert (tests/test_monitoring.py); the sensor says why
    it does nothing."""
    monkeypatch.setenv("FITSENSE_RETRAIN_MIN_NEW_RECORDS", "1000")
    _report(
        fresh_migrated_db,
        [],
        ["every probe failed: model unavailable: connection refused", "p95 latency 21 s > 8 s"],
    )
    result = _tick(instance, fresh_migrated_db, None)
    assert not result.run_requests
    assert "serving degraded" in result.skip_message
    assert "not a cause for retraining" in result.skip_message


def test_broad_drift_requests_a_run_and_a_warning_alone_does_not(
    fresh_migrated_db: str, instance, monkeypatch
) -> None:
    monkeypatch.setenv("FITSENSE_RETRAIN_MIN_NEW_RECORDS", "1000")
    # Drift past the warning only (no retrain reason: too few people, or PSI below the
    # retraining threshold): reported, no run.
    _report(fresh_migrated_db, [], drift={"status": "drift", "retrain_reason": None})
    warned = _tick(instance, fresh_migrated_db, None)
    assert not warned.run_requests and "drift drift" in warned.skip_message
    reason = "drift: age_band PSI 1.20 > 0.5 (240 requests from 31 people)"
    report_id = _report(fresh_migrated_db, [], drift={"status": "drift", "retrain_reason": reason})
    fired = _tick(instance, fresh_migrated_db, warned.cursor)
    assert [r.run_key for r in fired.run_requests] == [f"drift-report-{report_id}"]
    assert fired.run_requests[0].tags["fitsense/reason"] == f"monitoring {reason}"


def test_a_run_targets_what_decayed_and_what_drifted(
    fresh_migrated_db: str, instance, monkeypatch
) -> None:
    monkeypatch.setenv("FITSENSE_RETRAIN_MIN_NEW_RECORDS", "1000")
    start = _tick(instance, fresh_migrated_db, None)
    _report(
        fresh_migrated_db,
        ["model answers refused by the checks 60% > 5% (live, 30 requests)"],
        live={"requests": 30, "capability_breaches": {"coach_reply": "live acceptance 40%"}},
        drift={
            "status": "drift",
            "retrain_reason": "drift: age_band PSI 1.20 > 0.5 (240 requests from 31 people)",
            "slices": {
                "age_band": {
                    "psi": 1.2,
                    "training": {"18-29": 0.4, "30-44": 0.4, "65+": 0.2},
                    "live": {"18-29": 0.1, "30-44": 0.2, "65+": 0.7},
                },
                "goal": {"psi": 0.1, "training": {"strength": 1.0}, "live": {"strength": 1.0}},
            },
        },
    )
    [request] = _tick(instance, fresh_migrated_db, start.cursor).run_requests
    focus = json.loads(request.tags["fitsense/focus"])
    assert focus == {
        "capabilities": ["coach_reply"],
        "prompt_types": ["coaching"],
        "slices": {"age_band": "65+"},
    }
    prompts = request.run_config["ops"]["prompts"]["config"]
    assert prompts == {
        "focus_prompt_types": ["coaching"],
        "focus_slices": {"age_band": "65+"},
        "focus_factor": 2,
    }
    evaluation = request.run_config["ops"]["student_evaluation"]["config"]
    assert evaluation == {
        "focus_capabilities": ["coach_reply"],
        "focus_slices": {"age_band": "65+"},
    }
    # The config is valid for the pipeline job as it stands.
    job = defs().resolve_job_def("pipeline")
    assert dg.validate_run_config(job, request.run_config)


def test_a_decay_of_plan_validity_targets_the_plan_capabilities() -> None:
    from fitsense_core.monitoring.focus import focus_run_config, retraining_focus

    now = datetime.now(UTC)
    report = m.MonitoringReport(
        window_start=now,
        window_end=now,
        model_version="v1",
        probes={},
        live={},
        drift={"status": "drift", "slices": {"age_band": {"psi": 0.3}}},  # a warning only
        thresholds=m.Thresholds(),
        decay_reasons=["semantic validity 70% < 90% (probes)"],
    )
    focus = retraining_focus(report)
    assert focus["capabilities"] == ["plan_creation", "plan_update", "plan_adaptation"]
    assert focus["prompt_types"] == ["plan_creation", "plan_update"] and focus["slices"] == {}
    healthy = m.MonitoringReport(
        window_start=now,
        window_end=now,
        model_version="v1",
        probes={},
        live={},
        drift={},
        thresholds=m.Thresholds(),
    )
    assert focus_run_config(retraining_focus(healthy)) == {}


def test_no_second_run_while_a_retraining_run_is_in_progress(
    fresh_migrated_db: str, instance, monkeypatch
) -> None:
    monkeypatch.setenv("FITSENSE_RETRAIN_MIN_NEW_RECORDS", "1000")
    instance.add_run(
        dg.DagsterRun(
            job_name="pipeline",
            run_id="running-retrain",
            tags={"fitsense/trigger": TRIGGER},
            status=dg.DagsterRunStatus.STARTED,
        )
    )
    _report(fresh_migrated_db, ["contract validity 90% < 100% (probes)"])
    result = _tick(instance, fresh_migrated_db, None)
    assert not result.run_requests
    assert "running-retrain is still in progress" in result.skip_message
    # That decay counts as answered by the running retraining.
    assert not _tick(instance, fresh_migrated_db, result.cursor).run_requests


def _consented_answers(db: str, n: int, *, consent: bool = True) -> None:
    with psycopg.connect(db) as conn:
        user = conn.execute(
            "INSERT INTO users (name, email, password_hash, training_consent, "
            "training_consent_changed_at) VALUES ('C', %s, 'x', %s, now()) RETURNING id",
            (f"c-{datetime.now(UTC).timestamp()}@example.com", consent),
        ).fetchone()[0]
        for _ in range(n):
            conn.execute(
                "INSERT INTO ai_interactions (user_id, context_type, request_id, query_text, "
                "model_version, safety_level, outcome) "
                "VALUES (%s, 'coach', 'r', 'how do I squat?', 'v1', 'ok', 'ok')",
                (user,),
            )


def test_enough_new_consented_data_requests_one_run(
    fresh_migrated_db: str, instance, monkeypatch
) -> None:
    monkeypatch.setenv("FITSENSE_RETRAIN_MIN_NEW_RECORDS", "3")
    _consented_answers(fresh_migrated_db, 5, consent=False)  # never counts
    _consented_answers(fresh_migrated_db, 2)
    quiet = _tick(instance, fresh_migrated_db, None)
    assert not quiet.run_requests and "2 new consented records (< 3)" in quiet.skip_message
    _consented_answers(fresh_migrated_db, 1)
    fired = _tick(instance, fresh_migrated_db, quiet.cursor)
    [request] = fired.run_requests
    assert request.run_key == "new-data-start"
    assert request.tags["fitsense/reason"].startswith("3 new consented records since start")
    # Counting starts again from the request: the same data never fires twice.
    again = _tick(instance, fresh_migrated_db, fired.cursor)
    assert not again.run_requests and "0 new consented records" in again.skip_message
    _consented_answers(fresh_migrated_db, 3)
    refired = _tick(instance, fresh_migrated_db, again.cursor)
    [request] = refired.run_requests
    assert request.run_key.startswith("new-data-2") and request.run_key != "new-data-start"


# --- declarative automation ---------------------------------------------------------------

RUN_CONFIG = {
    "ops": {
        "synthetic_users": {
            "config": {"n_users": 12, "seed": 5, "history_days": 21, "history_end": "2026-10-31"}
        }
    }
}
QA = {"teacher_output_validation", "qa_statistics", "qa_anomalies", "qa_bias_slices"}


def _requested(result) -> set[str]:
    return {
        r.key.to_user_string()
        for r in result.results
        if r.true_subset.size and r.key.to_user_string() != "live_monitoring"
    }


def test_derived_assets_follow_new_teacher_answers_once_blocking_checks_pass(
    tmp_path, fresh_migrated_db: str, monkeypatch
) -> None:
    from fitsense_assets.partitions import run_partitions

    monkeypatch.setenv("FITSENSE_ARTIFACTS_URI", str(tmp_path))
    monkeypatch.setenv("FITSENSE_DATABASE_URL", fresh_migrated_db)
    monkeypatch.delenv("FITSENSE_TEACHER_PROVIDER", raising=False)
    with dg.instance_for_test() as instance:
        loaded = defs()
        instance.add_dynamic_partitions(run_partitions.name, ["auto"])
        job = loaded.resolve_job_def("dataset")
        assert job.execute_in_process(
            instance=instance, partition_key="auto", run_config=RUN_CONFIG
        ).success
        settled = dg.evaluate_automation_conditions(defs=loaded, instance=instance)
        assert _requested(settled) == set()
        # New teacher answers for the run: its QA reports and dataset follow.
        teacher = loaded.resolve_implicit_global_asset_job_def().get_subset(
            asset_selection={dg.AssetKey("teacher_outputs")}
        )
        assert teacher.execute_in_process(instance=instance, partition_key="auto").success
        followed = dg.evaluate_automation_conditions(
            defs=loaded, instance=instance, cursor=settled.cursor
        )
        assert _requested(followed) == QA | {"distillation_dataset"}
        for r in followed.results:
            if r.true_subset.size:
                assert r.true_subset.expensively_compute_partition_keys() == {"auto"}
        # Training and promotion never start on their own.
        assert not _requested(followed) & {"student_model", "model_version", "serving_model"}

        # The daemon runs what was requested; then answers arrive again, but the prompts'
        # blocking check has failed since: nothing follows.
        derived = loaded.resolve_implicit_global_asset_job_def().get_subset(
            asset_selection={dg.AssetKey(k) for k in QA | {"distillation_dataset"}}
        )
        assert derived.execute_in_process(instance=instance, partition_key="auto").success
        followed = dg.evaluate_automation_conditions(
            defs=loaded, instance=instance, cursor=followed.cursor
        )
        assert _requested(followed) == set()
        assert teacher.execute_in_process(instance=instance, partition_key="auto").success
        instance.report_runless_asset_event(
            dg.AssetCheckEvaluation(
                asset_key=dg.AssetKey("prompts"),
                check_name="prompts_cover_every_person",
                passed=False,
                partition="auto",
            )
        )
        blocked = dg.evaluate_automation_conditions(
            defs=loaded, instance=instance, cursor=followed.cursor
        )
        assert not _requested(blocked) & QA


def test_the_focus_weights_prompt_types_and_people() -> None:
    from fitsense_assets.defs.teacher.assets import PromptsConfig

    plain = PromptsConfig()
    assert plain.mix() == {
        "plan_creation": 1,
        "plan_update": 2,
        "coaching": 2,
        "safety": 1,
    }
    focused = PromptsConfig(focus_prompt_types=["coaching"], focus_slices={"age_band": "65+"})
    assert focused.mix() == {"plan_creation": 1, "plan_update": 2, "coaching": 4, "safety": 1}
    assert focused.focus_mix() == {"plan_creation": 2, "plan_update": 4, "coaching": 4, "safety": 2}
    assert PromptsConfig(focus_prompt_types=["coaching"], focus_factor=50).mix()["coaching"] == 10
    with pytest.raises(ValueError, match="unknown focus prompt types"):
        PromptsConfig(focus_prompt_types=["poems"]).mix()


def test_the_evaluation_reports_the_focus_on_its_own() -> None:
    from fitsense_core.student.evaluation import focus_report

    rows = [
        {
            "system": s,
            "capability": c,
            "age_band": a,
            "prompt_type": "coaching",
            "reply_accepted": ok,
        }
        for s in ("student", "champion")
        for c, a, ok in (
            ("coach_reply", "65+", s == "student"),
            ("coach_reply", "30-44", True),
            ("plan_creation", "65+", True),
        )
    ]
    assert focus_report(rows) == {}
    report = focus_report(rows, ["coach_reply"], {"age_band": "65+"})
    assert report["capabilities"]["coach_reply"]["student"]["prompts"] == 2
    assert report["slices"]["age_band=65+"]["champion"]["prompts"] == 2
    assert report["capabilities"]["coach_reply"]["student"]["reply_acceptance"] == 1.0
    assert report["capabilities"]["coach_reply"]["champion"]["reply_acceptance"] == 0.5
