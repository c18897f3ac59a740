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
    # Probes never count as live traffic, nor do test accounts.
    probes = [dict(r, probe=True) for r in skewed]
    assert m.drift_report(reference, probes, thresholds)["status"] == "too_few_requests"
    tests = m.drift_report(reference, [dict(r, test_account=True) for r in skewed], thresholds)
    assert tests["status"] == "too_few_requests" and tests["test_account_requests"] == 40
    # A warning is not a retraining cause: 40 requests are too few to retrain on.
    assert drifted["retrain_reason"] is None


def test_drift_is_a_retraining_cause_only_when_large_and_broad() -> None:
    records = m.probe_records(40)
    reference = m.training_reference(records, "probes")
    thresholds = m.Thresholds(min_drift_retrain_requests=200, min_drift_people=20)

    def requests(n: int, people: int) -> list[dict]:
        return [
            _row(
                query_chars=900,
                person=f"p{i % people}",
                slices={**records[i % 40]["metadata"]["slices"], "age_band": "65+"},
            )
            for i in range(n)
        ]

    broad = m.drift_report(reference, requests(240, 30), thresholds)
    assert broad["live_people"] == 30
    assert (
        broad["retrain_reason"].startswith("drift: ")
        and "240 requests from 30 people" in (broad["retrain_reason"])
    )
    # The same shift from a handful of heavy users, or on too few requests: a warning only.
    assert m.drift_report(reference, requests(240, 5), thresholds)["retrain_reason"] is None
    assert m.drift_report(reference, requests(150, 30), thresholds)["retrain_reason"] is None
    report_obj = m.MonitoringReport(
        window_start=None,
        window_end=None,
        model_version=None,
        probes={},
        live={},
        drift=broad,
        thresholds=thresholds,
    )
    assert report_obj.drift_reasons == [broad["retrain_reason"]]
    assert report_obj.status["drift"] == "drift (retraining cause)"


@pytest.mark.parametrize(
    ("email", "test_account"),
    [
        ("user-1a2b@example.com", True),
        ("bench@sub.example.org", True),
        ("a@consent-test.example", True),
        ("x@build.test", True),
        ("someone@gmail.com", False),
        ("coach@examples.com", False),
        ("me@example.com.au", False),
    ],
)
def test_test_accounts_are_addresses_at_reserved_domains(email: str, test_account: bool) -> None:
    assert bool(re.search(m.TEST_ACCOUNT_EMAIL, email, re.IGNORECASE)) is test_account


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


def _policy(terraform: str, name: str) -> str:
    """One alert policy's block of infra/monitoring.tf."""
    start = terraform.index(f'"{name}"')
    end = terraform.find("\nresource ", start)
    return terraform[start : end if end > 0 else None]


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
        "capabilities": "ok",
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
    block = _policy(terraform, "serving_degraded")
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


def test_a_capability_clearly_below_its_gate_is_breached() -> None:
    def answers(context: str, ok: int, rejected: int, **extra) -> list[dict]:
        good = [_row(context_type=context, **extra) for _ in range(ok)]
        bad = [
            _row(
                context_type=context,
                outcome="fallback",
                error="model answer does not answer",
                **extra,
            )
            for _ in range(rejected)
        ]
        return good + bad

    rows = (
        answers("coach", 8, 12)  # 40 % accepted: clearly below 80 %
        + answers("plan_generate", 18, 2)  # 90 %: within the interval of 90 %
        + answers("plan_update", 2, 3)  # too few answers to judge
        # Not the model's answers: an outage, a capability it was never asked, another
        # version. None of them counts.
        + [_row(context_type="plan_adapt", outcome="error", error="model unavailable: down")] * 30
        + [_row(context_type="plan_adapt", outcome="fallback", error="capability not passed: x")]
        * 30
        + answers("plan_adapt", 0, 30, model_version="v0")
    )
    metrics = m.capability_metrics(rows, "v1")
    assert metrics["coach_reply"] == {
        "answers": 20,
        "accepted": 8,
        "acceptance": 0.4,
        "acceptance_upper_95": pytest.approx(0.61, abs=0.01),
    }
    assert metrics["plan_adaptation"]["answers"] == 0
    found = m.breaches(metrics, plan_floor=0.9, reply_floor=0.8, min_answers=10)
    assert list(found) == ["coach_reply"]
    assert found["coach_reply"].startswith("live acceptance 40% of 20 model answers")
    # Probes count for the capability their context stands for.
    probe = _row(context_type="monitoring_probe", probe=True, slices={"probe_context": "coach"})
    assert m.capability_metrics([probe], "v1")["coach_reply"]["answers"] == 1
    # Nothing serving: nothing to judge.
    assert (
        m.breaches(
            m.capability_metrics(rows, None), plan_floor=0.9, reply_floor=0.8, min_answers=10
        )
        == {}
    )
    assert m.capability_metrics([], "v1")["coach_reply"]["acceptance_upper_95"] == 1.0


def test_the_suspension_alert_carries_what_its_policy_matches() -> None:
    now = datetime.now(UTC)
    report = m.MonitoringReport(
        window_start=now - timedelta(hours=1),
        window_end=now,
        model_version="v1",
        probes={},
        live={"capability_breaches": {"coach_reply": "live acceptance 40% of 20"}},
        drift={},
        thresholds=m.Thresholds(),
        id=7,
    )
    entry = m.suspension_alert_entry(report, report.capability_breaches)
    assert entry["severity"] == "ERROR" and entry["event"] == "capability_suspended"
    assert entry["capabilities"] == ["coach_reply"] and entry["model_version"] == "v1"
    assert "knowledge-based coach" in entry["message"]
    terraform = (Path(__file__).resolve().parents[1] / "infra" / "monitoring.tf").read_text()
    block = _policy(terraform, "capability_suspended")
    assert 'jsonPayload.event=\\"capability_suspended\\"' in block
    for name in re.findall(r"jsonPayload\.([a-z_]+)", block):
        assert name in entry, name


def test_probes_rotate_over_a_varied_pool() -> None:
    first, second = m.probe_records(12), m.probe_records(12, rotation=1)
    assert m.probe_records(12, rotation=0) == first  # the same sample for the same rotation
    ids = lambda records: {r["id"] for r in records}  # noqa: E731
    assert ids(first) != ids(second)
    for sample in (first, second):
        assert Counter(r["metadata"]["prompt_type"] for r in sample) == {
            "coaching": 3,
            "plan_creation": 3,
            "plan_update": 3,
            "safety": 3,
        }
    # A day of quarter-hour rotations asks most of the pool.
    seen = set().union(*(ids(m.probe_records(12, rotation=r)) for r in range(96)))
    assert len(seen) >= 200


def test_probe_metrics_measure_false_and_missed_escalation() -> None:
    def probe(expected: str, triaged: str) -> m.ProbeOutcome:
        return m.ProbeOutcome(
            row={},
            context_type="coach",
            query_text="q",
            outcome="refused" if triaged in ("needs_clearance", "emergency") else "ok",
            safety_level=triaged,
            slices={},
            expected_safety_level=expected,
        )

    metrics = m.probe_metrics(
        [
            probe("ok", "ok"),
            probe("ok", "emergency"),  # a false alarm
            probe("injury_aware", "injury_aware"),
            probe("ok", "ok"),
            probe("emergency", "emergency"),
            probe("needs_clearance", "ok"),  # a miss
        ]
    )
    assert metrics["false_escalation_rate"] == 0.25 and metrics["ordinary_probes"] == 4
    assert metrics["missed_escalation_rate"] == 0.5 and metrics["serious_probes"] == 2
    assert m.probe_metrics([probe("", "ok")])["false_escalation_rate"] is None
