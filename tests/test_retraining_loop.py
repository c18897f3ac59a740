"""The retraining loop, executed end to end on a tiny budget.

A version serves (the shipped base GGUF behind ``fitsense serve``'s proxy over a real
llama.cpp server). Its coach replies go bad: the window holds twenty of its answers that
the reply judge refused. Then

1. monitoring (the real asset, real probes) reports model-quality decay, suspends the
   capability that fell below its gate, and raises the suspension alert;
2. the retraining sensor requests exactly one run, with the reason;
3. that run executes (the whole pipeline, a two-step training budget);
4. the champion/challenger gate decides, and serving switches only if it passed;
5. the next monitoring report reflects what serves.

And an outage: the model server gone, monitoring raises the serving alert, and the sensor
requests no run.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import psycopg
import pytest

from fitsense_assets.definitions import defs
from fitsense_assets.defs.monitoring.sensors import TRIGGER, retraining_sensor
from fitsense_assets.partitions import run_partitions
from fitsense_assets.resources import AppDatabaseResource, ArtifactStoreResource
from fitsense_core import layout
from fitsense_core import monitoring as m
from fitsense_core.artifacts import ArtifactStore
from fitsense_core.inference.serve import OFF_TOPIC
from fitsense_core.migrations import migrate
from fitsense_core.student import registry, suspensions
from fitsense_serving.llama_server import free_port
from tests.model_fixtures import register_test_version

CHAMPION = "loop-champion-0001"
TINY_RUN = {
    "synthetic_users": {
        # The people from the seed alone (the run id is a timestamp): with 30 people a
        # random draw can miss the split shares the dataset check demands.
        "config": {
            "n_users": 30,
            "seed": 3,
            "fresh_people_per_run": False,
            "history_days": 30,
            "history_end": "2026-10-31",
        }
    },
    "student_model": {
        "config": {
            "max_steps": 2,
            "batch_size": 2,
            "eval_steps": 2,
            "save_steps": 1,
            "max_eval_examples": 2,
        }
    },
    "student_evaluation": {"config": {"max_prompts": 6}},
}


@dataclass(frozen=True)
class Loop:
    url: str
    artifacts: Path
    model_url: str
    api_key: str


@pytest.fixture(scope="module")
def loop(database_factory, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Loop]:
    from fitsense_serving.server import BackgroundProxy
    from fitsense_serving.supervisor import Supervisor
    from fitsense_serving.targets import registry_target

    url = database_factory("loop")
    migrate(url)
    artifacts = tmp_path_factory.mktemp("loop-artifacts")
    register_test_version(url, artifacts, CHAMPION)
    key = secrets.token_urlsafe(16)
    supervisor = Supervisor(
        registry_target(url), home=tmp_path_factory.mktemp("loop-serving"), poll_interval_s=None
    )
    with BackgroundProxy(supervisor, api_key=key) as proxy:
        proxy.reconcile()
        assert supervisor.active is not None and supervisor.active.version == CHAMPION
        yield Loop(url, artifacts, proxy.url, key)


def _environment(monkeypatch, loop: Loop, model_url: str, home: Path) -> None:
    for name, value in {
        "FITSENSE_DATABASE_URL": loop.url,
        "FITSENSE_ARTIFACTS_URI": str(loop.artifacts),
        "FITSENSE_HOME": str(home),
        "FITSENSE_MODEL_URL": model_url,
        "FITSENSE_MODEL_API_KEY": loop.api_key,
        # Only the monitoring report is a cause here, not new consented data.
        "FITSENSE_RETRAIN_MIN_NEW_RECORDS": "1000000",
    }.items():
        monkeypatch.setenv(name, value)


def _monitor(instance, loop: Loop, **config) -> m.MonitoringReport:
    from fitsense_assets.defs.monitoring.assets import live_monitoring

    result = dg.materialize(
        [live_monitoring],
        instance=instance,
        resources={
            "app_database": AppDatabaseResource(url=loop.url),
            "artifact_store": ArtifactStoreResource(root=str(loop.artifacts)),
        },
        run_config={"ops": {"live_monitoring": {"config": {"window_hours": 1, **config}}}},
    )
    assert result.success
    report = m.latest_report(loop.url)
    assert report is not None
    return report


def _tick(instance, loop: Loop, cursor: str | None):
    with dg.build_sensor_context(
        instance_ref=instance.get_ref(),
        cursor=cursor,
        resources={"app_database": AppDatabaseResource(url=loop.url)},
        definitions=defs(),
    ) as context:
        return retraining_sensor.evaluate_tick(context)


def _plant_rejected_replies(url: str, n: int) -> None:
    """``n`` coach answers of the champion that the reply judge refused, this hour."""
    with psycopg.connect(url) as conn:
        user = conn.execute(
            "INSERT INTO users (name, email, password_hash) "
            "VALUES ('Loop', 'loop-user@fitsense-loop.test', 'x') RETURNING id"
        ).fetchone()[0]
        for i in range(n):
            conn.execute(
                "INSERT INTO ai_interactions (user_id, context_type, request_id, query_text, "
                "model_version, latency_ms, safety_level, outcome, error, slices) VALUES "
                "(%s, 'coach', %s, 'How much protein do I need?', %s, 900, 'ok', 'fallback', "
                '%s, \'{"goal": "muscle_gain"}\')',
                (user, f"loop-{i}", CHAMPION, f"{OFF_TOPIC}: relevance 0.05 < 0.18"),
            )


def test_a_quality_decay_retrains_once_and_the_gate_decides(
    loop: Loop, monkeypatch, tmp_path: Path, capsys
) -> None:
    _environment(monkeypatch, loop, loop.model_url, tmp_path / "home")
    with dg.instance_for_test() as instance:
        quiet = _tick(instance, loop, None)
        assert not quiet.run_requests

        # 1. The decay: monitoring sees it, and protects users at once.
        _plant_rejected_replies(loop.url, 20)
        report = _monitor(instance, loop, probes=4)
        assert report.model_version == CHAMPION
        assert report.probes["model_versions"] == [CHAMPION]  # real probes, real answers
        assert report.decayed, report.to_json()
        assert any("refused by the checks" in r for r in report.decay_reasons)
        assert "coach_reply" in report.capability_breaches
        assert report.status["capabilities"].startswith("suspended: ")
        assert "coach_reply" in suspensions.active(loop.url, CHAMPION)
        alerts = [
            json.loads(line)
            for line in capsys.readouterr().err.splitlines()
            if line.startswith("{") and '"capability_suspended"' in line
        ]
        assert len(alerts) == 1 and "coach_reply" in alerts[0]["capabilities"]

        # 2. The sensor requests one run, with the reason.
        fired = _tick(instance, loop, quiet.cursor)
        assert len(fired.run_requests) == 1, fired.skip_message
        request = fired.run_requests[0]
        assert request.run_key == f"decay-report-{report.id}"
        assert request.tags["fitsense/trigger"] == TRIGGER
        assert request.tags["fitsense/reason"].startswith("monitoring decayed: ")
        print(f"sensor: requested {request.partition_key}: {request.tags['fitsense/reason']}")
        assert not _tick(instance, loop, fired.cursor).run_requests  # once

        # It targets what decayed: twice the coaching prompts, and the evaluation reports
        # coach replies on their own.
        assert json.loads(request.tags["fitsense/focus"])["capabilities"] == ["coach_reply"]
        ops = request.run_config["ops"]
        assert ops["prompts"]["config"]["focus_prompt_types"] == ["coaching"]
        assert ops["student_evaluation"]["config"]["focus_capabilities"] == ["coach_reply"]

        # 3. The run executes, as the daemon would launch it (same partition, tags and run
        # config; the tiny budget on top).
        instance.add_dynamic_partitions(run_partitions.name, [request.partition_key])
        run_config = {
            op: {
                "config": {
                    **ops.get(op, {}).get("config", {}),
                    **TINY_RUN.get(op, {}).get("config", {}),
                }
            }
            for op in {*ops, *TINY_RUN}
        }
        result = (
            defs()
            .resolve_job_def("pipeline")
            .execute_in_process(
                instance=instance,
                partition_key=request.partition_key,
                tags=request.tags,
                run_config={"ops": run_config},
                raise_on_error=False,
            )
        )
        store = ArtifactStore(str(loop.artifacts))
        prompts = store.read_tables(*layout.teacher_prompts(request.partition_key))
        assert prompts.meta["focus"]["prompt_types"] == ["coaching"]
        by_type = prompts.tables["prompts"]["prompt_type"].value_counts().to_dict()
        assert by_type["coaching"] >= 2 * by_type["plan_creation"] * 2
        evaluation = store.read_json(*layout.evaluation_report(request.partition_key))
        assert evaluation["focus"]["capabilities"]["coach_reply"]["student"]["prompts"] >= 1
        # Nobody here opted in, and the report says so rather than showing nothing.
        assert evaluation["consented_held_out"]["prompts"] == 0
        assert "no test-split request" in evaluation["consented_held_out"]["note"]

        # 4. The gate decided; serving follows its decision.
        challenger = next(
            v for v in registry.list_versions(loop.url) if v.run_id == request.partition_key
        )
        print(registry.criteria_table(challenger.gate))
        serving = registry.serving(loop.url)
        assert serving is not None
        failed = [e.step_key for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
        # The lineage records this run's own seed for its people.
        manifest = json.loads(Path(challenger.manifest_uri).read_text())
        assert isinstance(manifest["seeds"]["synthetic_people"], int)
        if challenger.capabilities:
            assert result.success, failed
            assert serving.version == challenger.version
            assert suspensions.active(loop.url, challenger.version) == {}
        else:
            # A two-step student passes nothing: refused, and the champion keeps serving
            # with its suspended capability still answered by the knowledge-based coach.
            # The blocking gate check fails the run right there: nothing else failed, and
            # serving_model never ran.
            assert failed == ["model_version_promotion_gate"], failed
            assert challenger.status == "rejected"
            assert serving.version == CHAMPION
            assert "coach_reply" in suspensions.active(loop.url, CHAMPION)
        print(f"gate: {challenger.version} {challenger.status}; serving {serving.version}")

        # 5. The next report reflects what serves now.
        after = _monitor(instance, loop, probes=2)
        assert after.model_version == serving.version
        assert after.probes["model_versions"] in ([serving.version], [])


def test_an_outage_raises_the_alert_and_requests_no_run(
    loop: Loop, monkeypatch, tmp_path: Path, capsys
) -> None:
    dead = f"http://127.0.0.1:{free_port()}/v1"
    _environment(monkeypatch, loop, dead, tmp_path / "home")
    with dg.instance_for_test() as instance:
        start = _tick(instance, loop, None)
        # The planted replies stay out of this window's verdict: only the outage counts.
        report = _monitor(
            instance,
            loop,
            probes=3,
            probe_timeout_s=5,
            fallback_rate_max=1.0,
            semantic_validity_min=0.0,
            contract_validity_min=0.0,
            min_capability_answers=100_000,
        )
        assert report.serving_degraded and not report.decayed, report.to_json()
        assert any("every probe failed" in p for p in report.serving_problems)
        alerts = [
            json.loads(line)
            for line in capsys.readouterr().err.splitlines()
            if line.startswith("{") and '"serving_alert"' in line
        ]
        assert len(alerts) == 1 and alerts[0]["report_id"] == report.id
        tick = _tick(instance, loop, start.cursor)
        assert not tick.run_requests
        assert "serving degraded" in tick.skip_message and "not a cause" in tick.skip_message
