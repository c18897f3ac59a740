"""Live monitoring: the drift statistics, the window's figures, the decay verdict, and the
asset against a real served model and against a model server that is down."""

from __future__ import annotations

import json
import random
import re
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import psycopg
import pytest

from fitsense_core import monitoring as m
from fitsense_serving.llama_server import free_port

pytest_plugins = ["tests.ai_fixtures"]


# --- statistics ------------------------------------------------------------------------


def test_psi_is_zero_for_the_same_distribution_and_large_for_a_shift() -> None:
    same = Counter({"a": 50, "b": 30, "c": 20})
    assert m.psi(same, Counter({"a": 500, "b": 300, "c": 200})) == 0
    shifted = m.psi(same, Counter({"a": 10, "b": 30, "c": 60}))
    assert shifted > 0.25
    # A category the training data never had still gives a finite, large value.
    assert 0.25 < m.psi(same, Counter({"d": 10})) < 100
    with pytest.raises(ValueError):
        m.psi(same, Counter())


def test_ks_statistic_and_p_value() -> None:
    rng = random.Random(1)
    a = [rng.gauss(0, 1) for _ in range(400)]
    b = [rng.gauss(0, 1) for _ in range(400)]
    d, p = m.ks_two_sample(a, b)
    assert d < 0.1 and p > 0.05
    d, p = m.ks_two_sample(a, [x + 2 for x in b])
    assert d > 0.6 and p < 0.001
    assert m.ks_two_sample([1, 2, 3], [10, 11]) == (1.0, pytest.approx(0.0, abs=0.1))


def _row(**values) -> dict:
    row = {
        "context_type": "coach",
        "outcome": "ok",
        "safety_level": "ok",
        "model_version": "v1",
        "latency_ms": 1000,
        "error": None,
        "query_chars": 40,
        "slices": None,
        "probe": False,
    }
    row.update(values)
    return row


def test_drift_compares_live_requests_with_the_training_data() -> None:
    records = m.probe_records(40)
    reference = m.training_reference(records, "probes")
    thresholds = m.Thresholds(min_drift_requests=20)
    # Live traffic shaped like the reference: stable.
    alike = [
        _row(query_chars=len(r["metadata"]["request"]), slices=r["metadata"]["slices"])
        for r in records
    ]
    stable = m.drift_report(reference, alike, thresholds)
    assert stable["status"] == "stable", stable
    assert stable["request_length"]["ks"] == 0
    # Everyone is a 65+ beginner asking very long questions: drift.
    skewed = [
        _row(
            query_chars=900,
            slices={**r["metadata"]["slices"], "age_band": "65+", "experience": "beginner"},
        )
        for r in records
    ]
    drifted = m.drift_report(reference, skewed, thresholds)
    assert drifted["status"] == "drift"
    assert drifted["slices"]["age_band"]["psi"] > 0.25
    assert drifted["request_length"]["psi"] > 0.25 and drifted["request_length"]["ks"] > 0.9
    assert m.drift_report(reference, skewed[:5], thresholds)["status"] == "too_few_requests"
    assert m.drift_report(None, skewed, thresholds)["status"] == "no_reference"
    # Probes never count as live traffic.
    probes = [dict(r, probe=True) for r in skewed]
    assert m.drift_report(reference, probes, thresholds)["status"] == "too_few_requests"


def test_live_metrics_and_decay_reasons() -> None:
    rows = (
        [_row(context_type="plan_generate") for _ in range(16)]
        + [
            _row(
                context_type="plan_generate",
                outcome="fallback",
                error="model answer is not a valid plan: bad",
            ),
            _row(
                context_type="plan_update",
                outcome="fallback",
                error="model plan violates the person's constraints: x",
            ),
            _row(outcome="fallback", model_version=None, error="model unavailable: down"),
            _row(outcome="refused", model_version=None, latency_ms=0, safety_level="emergency"),
        ]
        + [_row(latency_ms=9000)]
    )
    live = m.live_metrics(rows)
    assert live["requests"] == 21 and live["model_plans"] == 18
    assert live["contract_validity"] == round(17 / 18, 4)
    assert live["semantic_validity"] == round(16 / 18, 4)
    assert live["fallback_rate"] == round(3 / 20, 4)
    assert live["refusal_rate"] == round(1 / 21, 4)
    # Two answers the checks refused (the model's quality), one request the model never
    # answered (serving's problem).
    assert live["rejected_rate"] == round(2 / 20, 4) and live["no_answer_rate"] == round(1 / 20, 4)
    reasons = m.decay_reasons({}, live, m.Thresholds())
    assert [r.split(" ")[0] for r in reasons] == ["contract", "semantic", "model"]
    assert m.serving_problems({}, live, m.Thresholds()) == []  # 1 of 20 unanswered: 5 %
    # A plan the model was never asked for (its version did not pass plan updates) says
    # nothing about the model's plans.
    not_asked = _row(
        context_type="plan_update",
        outcome="fallback",
        model_version=None,
        error="capability not passed: model version v1 did not pass its plan_update gate",
    )
    assert m.live_metrics([*rows, not_asked])["model_plans"] == 18
    # Nor is it a fallback that retraining could fix: with many such requests (a version
    # that serves updates but not new plans, seen starting retraining runs under `make run`)
    # the fallback rate is that of the requests the model was asked.
    gated = m.live_metrics([*rows, *[not_asked] * 50])
    assert gated["fallback_rate"] == live["fallback_rate"] and gated["not_capable"] == 50
    only_gated = m.live_metrics([_row(context_type="plan_generate")] * 5 + [not_asked] * 20)
    assert only_gated["fallback_rate"] == 0.0
    assert m.decay_reasons({}, only_gated, m.Thresholds()) == []
    healthy = m.live_metrics([_row(context_type="plan_generate") for _ in range(10)])
    assert m.decay_reasons({}, healthy, m.Thresholds()) == []
    # Slow serving and a model server that does not answer are serving problems: an
    # alert, never model decay (no retraining fixes them).
    slow = m.live_metrics([_row(latency_ms=9500) for _ in range(10)])
    assert m.decay_reasons({}, slow, m.Thresholds()) == []
    assert m.serving_problems({}, slow, m.Thresholds())[0].startswith("p95 latency 9.5 s > 8 s")
    down = m.live_metrics(
        [_row(outcome="fallback", model_version=None, error="model unavailable: down")] * 10
    )
    assert m.decay_reasons({}, down, m.Thresholds()) == []
    assert m.serving_problems({}, down, m.Thresholds())[0].startswith(
        "no model answer for 100% of requests"
    )
    assert m.serving_problems({}, healthy, m.Thresholds()) == []
    # Too few requests: shown, not judged; the probes are always judged.
    few = m.live_metrics(rows[-4:])
    assert m.decay_reasons({}, few, m.Thresholds()) == []
    assert m.decay_reasons({"contract_validity": 0.5}, few, m.Thresholds())


# --- the asset ---------------------------------------------------------------------------


def _materialize(db: str, artifacts, **config) -> dg.MaterializeResult:
    from fitsense_assets.defs.monitoring.assets import live_monitoring
    from fitsense_assets.resources import AppDatabaseResource, ArtifactStoreResource

    with dg.instance_for_test() as instance:
        result = dg.materialize(
            [live_monitoring],
            instance=instance,
            resources={
                "app_database": AppDatabaseResource(url=db),
                "artifact_store": ArtifactStoreResource(root=str(artifacts)),
            },
            run_config={"ops": {"live_monitoring": {"config": config}}},
        )
        assert result.success
        return result.asset_materializations_for_node("live_monitoring")[0]


def _probe_rows(db: str) -> list[tuple]:
    with psycopg.connect(db) as conn:
        return conn.execute(
            "SELECT outcome, error, model_version FROM ai_interactions "
            "WHERE context_type = 'monitoring_probe' ORDER BY created_at"
        ).fetchall()


def test_a_model_server_that_is_down_is_a_monitored_failure(
    fresh_migrated_db: str, tmp_path, monkeypatch, capsys
) -> None:
    monkeypatch.setenv("FITSENSE_MODEL_URL", f"http://127.0.0.1:{free_port()}/v1")
    monkeypatch.setenv("FITSENSE_MODEL_API_KEY", "k")
    materialization = _materialize(
        fresh_migrated_db, tmp_path, probes=4, probe_timeout_s=5, min_requests=3
    )
    meta = materialization.metadata
    # An outage is serving's problem: an alert, not model decay (no retraining run).
    assert meta["decayed"].value is False, meta["decay_reasons"].value
    assert meta["serving_degraded"].value is True
    assert "every probe failed" in meta["serving_problems"].value
    report = m.latest_report(fresh_migrated_db)
    assert report is not None and report.id == meta["report_id"].value
    assert report.status == {
        "model_quality": "ok",
        "serving": "degraded",
        "drift": report.drift["status"],
    }
    assert report.probes["outcomes"]["error"] >= 3  # the safety probe may be the policy's
    assert report.live["fallback_rate"] == 1.0 and report.live["error_rate"] == 1.0
    assert any(r.startswith("no model answer for 100%") for r in report.serving_problems)
    assert not report.decay_reasons
    # The alert: one structured ERROR line on stderr, with every field the alert policy in
    # infra/monitoring.tf matches on and extracts.
    alerts = [
        json.loads(line)
        for line in capsys.readouterr().err.splitlines()
        if line.startswith("{") and '"serving_alert"' in line
    ]
    assert len(alerts) == 1, alerts
    [entry] = alerts
    assert entry["severity"] == "ERROR" and entry["event"] == "serving_alert"
    assert entry["report_id"] == report.id and entry["problems"] == report.serving_problems
    terraform = (Path(__file__).resolve().parents[1] / "infra" / "monitoring.tf").read_text()
    block = terraform[terraform.index('"serving_degraded"') :]
    for name in re.findall(r"jsonPayload\.([a-z_]+)", block):
        assert name in entry, name
    assert 'jsonPayload.event=\\"serving_alert\\"' in block
    rows = _probe_rows(fresh_migrated_db)
    assert len(rows) == 4 and all(
        r[1].startswith("model unavailable") for r in rows if r[0] == "error"
    )
    assert (tmp_path / "reports" / "monitoring").is_dir()
    assert meta["plot"].value.startswith("![monitoring](data:image/png;base64,")


def test_monitoring_probes_the_served_model_and_reads_the_window(
    api_db: str, model_server, tmp_path, monkeypatch
) -> None:
    monkeypatch.setenv("FITSENSE_MODEL_URL", model_server.base_url)
    monkeypatch.setenv("FITSENSE_MODEL_API_KEY", model_server.api_key)
    with psycopg.connect(api_db) as conn:
        user = conn.execute(
            "INSERT INTO users (name, email, password_hash) VALUES ('M', %s, 'x') RETURNING id",
            (f"monitor-{datetime.now(UTC).timestamp()}@example.com",),
        ).fetchone()[0]
        for outcome, error in (("ok", None), ("fallback", "model answer is not a valid plan: x")):
            conn.execute(
                "INSERT INTO ai_interactions (user_id, context_type, request_id, query_text, "
                "model_version, latency_ms, safety_level, outcome, error, slices) VALUES "
                "(%s, 'plan_generate', 'r', 'a plan please', 'test-base-0001', 1200, 'ok', %s, "
                '%s, \'{"goal": "strength"}\')',
                (user, outcome, error),
            )
    before = len(_probe_rows(api_db))
    started = datetime.now(UTC) - timedelta(seconds=1)
    meta = _materialize(api_db, tmp_path, probes=4, window_hours=1).metadata
    report = m.latest_report(api_db)
    assert report.created_at >= started and report.model_version == "test-base-0001"
    assert report.probes["probes"] == 4
    assert report.probes["model_versions"] == ["test-base-0001"]
    assert report.probes["plans"] == 2 and report.probes["json_validity"] is not None
    # The plan probes are decoded under the per-request grammar: always contract-valid.
    assert report.probes["contract_validity"] == 1.0
    assert report.live["user_requests"] >= 2 and report.live["probe_requests"] >= 4
    assert report.live["by_context"]["plan_generate"] >= 2
    assert report.live["contract_validity"] < 1.0  # the planted invalid plan
    assert any(r.startswith("contract validity") for r in report.decay_reasons)
    assert len(_probe_rows(api_db)) == before + 4
    assert meta["requests"].value == report.live["requests"]
