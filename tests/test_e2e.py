"""The whole system end to end, as `fitsense up` runs it: a real model server, the API, the
Dagster webserver and daemon as separate processes on their own ports.

A person signs up, onboards, gets a plan, logs a week of workouts, has the next week
adapted and streams a coach answer. Monitoring then sees those interactions; a forced
decay (the model server unreachable from the probes) makes the daemon's retraining sensor
request a pipeline run, with the reason on the run. The run is held in the queue by this
test's instance (a tag concurrency limit of 0), so no training starts. Finally SIGTERM
stops every process.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import httpx
import pytest

from fitsense_cli.processes import port_in_use
from fitsense_core.migrations import migrate
from fitsense_core.plan_contract import validate_plan
from fitsense_serving.llama_server import free_port
from tests.api_helpers import ONBOARDING, sse_events
from tests.model_fixtures import register_test_version

pytestmark = pytest.mark.slow

VERSION = "e2e-base-0001"
INSTANCE_YAML = """
storage:
  postgres:
    postgres_url:
      env: FITSENSE_DAGSTER_STORAGE_URL
run_coordinator:
  module: dagster.core.run_coordinator
  class: QueuedRunCoordinator
  config:
    tag_concurrency_limits:
      - key: fitsense/trigger
        value: retraining_sensor
        limit: 0
telemetry:
  enabled: false
"""


@pytest.fixture
def system(tmp_path: Path, database_factory, repo_root: Path):
    app_db, dagster_db = database_factory("e2e"), database_factory("e2e_dagster")
    migrate(app_db)
    artifacts = tmp_path / "artifacts"
    register_test_version(app_db, artifacts, VERSION)
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text(INSTANCE_YAML)
    ports = {"api": free_port(), "ui": free_port(), "model": free_port()}
    env = {
        **os.environ,
        "FITSENSE_DATABASE_URL": app_db,
        "FITSENSE_DAGSTER_STORAGE_URL": dagster_db,
        "FITSENSE_HOME": str(tmp_path / "home"),
        "FITSENSE_ARTIFACTS_URI": str(artifacts),
        "DAGSTER_HOME": str(home),
        "FITSENSE_MODEL_URL": f"http://127.0.0.1:{ports['model']}/v1",
        "FITSENSE_MODEL_API_KEY": secrets.token_urlsafe(16),
        "FITSENSE_MODEL_TIMEOUT_S": "60",
        "FITSENSE_RETRAIN_SENSOR_INTERVAL_S": "5",
        "FITSENSE_RETRAIN_MIN_NEW_RECORDS": "100000",
        "FITSENSE_API_PASSWORD_HASH": "argon2-fast",
        "FITSENSE_API_LOG_LEVEL": "WARNING",
        "FITSENSE_API_AI_RATE_PER_MINUTE": "1000",
        "HF_HUB_OFFLINE": "1",
    }
    log = tmp_path / "up.log"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "fitsense_cli",
            "up",
            "--no-pipeline",
            "--api-port",
            str(ports["api"]),
            "--ui-port",
            str(ports["ui"]),
        ],
        cwd=repo_root,
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    deadline = time.monotonic() + 300
    while "FitSense is up" not in log.read_text(errors="replace"):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"fitsense up did not come up:\n{log.read_text(errors='replace')[-4000:]}")
        time.sleep(1)
    try:
        yield {"env": env, "ports": ports, "process": process, "log": log, "db": app_db}
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=90)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)


def _monitor(env: dict[str, str], monkeypatch, **config) -> dict:
    """Materialize the monitoring job in this process, on the system's Dagster instance."""
    from fitsense_assets.definitions import defs
    from fitsense_core.monitoring import latest_report

    for key in (
        "FITSENSE_DATABASE_URL",
        "FITSENSE_DAGSTER_STORAGE_URL",
        "FITSENSE_HOME",
        "FITSENSE_ARTIFACTS_URI",
        "DAGSTER_HOME",
        "FITSENSE_MODEL_URL",
        "FITSENSE_MODEL_API_KEY",
    ):
        monkeypatch.setenv(key, env[key])
    instance = dg.DagsterInstance.get()
    result = (
        defs()
        .resolve_job_def("monitoring")
        .execute_in_process(
            instance=instance, run_config={"ops": {"live_monitoring": {"config": config}}}
        )
    )
    assert result.success
    return latest_report(env["FITSENSE_DATABASE_URL"])


def test_the_running_system_end_to_end(system, monkeypatch) -> None:
    api = f"http://127.0.0.1:{system['ports']['api']}"
    text = system["log"].read_text()
    assert f"API:          {api}" in text and "Dagster UI:" in text
    with httpx.Client(base_url=api, timeout=120) as client:
        # Sign up and onboard.
        r = client.post(
            "/auth/signup",
            json={"name": "E2E", "email": "e2e@example.com", "password": "a-long-password"},
        )
        assert r.status_code == 201, r.text
        auth = {"Authorization": f"Bearer {r.json()['token']}"}
        assert client.put("/onboarding", json=ONBOARDING, headers=auth).status_code == 200

        # A plan from the served model (or, if its answer fails the checks, the rules).
        r = client.post("/plans/generate?wait=90", json={}, headers=auth)
        assert r.status_code == 201, r.text
        plan = r.json()["plan"]
        assert validate_plan(plan["plan"]).valid

        # A week of workouts: every planned day, every set two reps in reserve easier.
        ids: dict[str, str] = {}
        for offset in range(0, 1000, 200):  # the whole catalog, a page at a time
            page = client.get("/exercises", params={"limit": 200, "offset": offset}).json()
            ids |= {e["name"]: e["id"] for e in page["items"]}
            if len(page["items"]) < 200:
                break
        training_days = [d for d in plan["plan"]["days"] if d["exercises"]]
        start = datetime.now(UTC) - timedelta(days=7)
        for i, day in enumerate(training_days):
            began = start + timedelta(days=2 * i, hours=18)
            workout = {
                "plan_id": plan["id"],
                "started_at": began.isoformat(),
                "ended_at": (began + timedelta(hours=1)).isoformat(),
                "exercises": [
                    {
                        "exercise_id": ids[e["exercise_name"]],
                        "sets": [
                            {
                                "reps": s["target_reps"],
                                "rir": min(5, s["target_rir"] + 2),
                                "weight_kg": 20,
                            }
                            for s in e["sets"]
                        ],
                    }
                    for e in day["exercises"]
                ],
            }
            r = client.post("/workouts", json=workout, headers=auth)
            assert r.status_code == 201, r.text

        # Next week, adapted from the logged RIR against the targets.
        r = client.post("/plans/adapt-next-week?wait=90", headers=auth)
        assert r.status_code == 201, r.text
        adaptation = r.json()["result"]["adaptation"]
        assert adaptation["sessions_done"] == len(training_days)

        # A streamed coach answer.
        r = client.get(
            "/coach/stream", params={"q": "How should I warm up before squats?"}, headers=auth
        )
        assert r.status_code == 200
        events = sse_events(r.text)
        assert events[0][0] == "meta" and events[-1][0] == "done", events[:3]
        assert events[0][1]["model_version"] == VERSION

    # Monitoring sees those interactions (thresholds relaxed: this run is not the decay).
    relaxed = {
        "window_hours": 1,
        "contract_validity_min": 0.0,
        "semantic_validity_min": 0.0,
        "fallback_rate_max": 1.0,
        "latency_p95_max_s": 600.0,
    }
    report = _monitor(system["env"], monkeypatch, **relaxed)
    assert report.model_version == VERSION
    assert report.live["user_requests"] >= 3
    assert {"plan_generate", "plan_adapt", "coach"} <= set(report.live["by_context"])
    assert report.probes["model_versions"] == [VERSION]
    assert not report.decayed, report.decay_reasons

    # An outage: the probes cannot reach the model server. Serving is degraded (an alert),
    # the model's quality is not: the sensor requests no run (retraining cannot fix it).
    dead = dict(system["env"], FITSENSE_MODEL_URL=f"http://127.0.0.1:{free_port()}/v1")
    # Thresholds relaxed as above, so only the outage itself could count.
    outage = _monitor(dead, monkeypatch, **relaxed, probe_timeout_s=5)
    assert not outage.decayed, outage.decay_reasons
    assert any("every probe failed" in r for r in outage.serving_problems)
    assert outage.status["serving"] == "degraded"
    instance = dg.DagsterInstance.get()
    time.sleep(12)  # two sensor ticks
    assert not instance.get_runs(
        filters=dg.RunsFilter(tags={"fitsense/trigger": "retraining_sensor"})
    ), "an outage started a retraining run"

    # A quality decay: a semantic-validity floor no model meets stands in for a model whose
    # plans got worse.
    decayed = _monitor(system["env"], monkeypatch, window_hours=1, semantic_validity_min=1.01)
    assert decayed.decayed and any("semantic validity" in r for r in decayed.decay_reasons)

    # The daemon's retraining sensor requests exactly one pipeline run, with the reason.
    deadline = time.monotonic() + 120
    runs = []
    while time.monotonic() < deadline and not runs:
        runs = instance.get_runs(
            filters=dg.RunsFilter(tags={"fitsense/trigger": "retraining_sensor"})
        )
        time.sleep(2)
    assert len(runs) == 1, "the retraining sensor requested no run within 120 s"
    run = runs[0]
    assert run.job_name == "pipeline"
    assert run.tags["dagster/partition"].startswith("retrain-")
    assert "semantic validity" in run.tags["fitsense/reason"]
    # Requested (NOT_STARTED), then submitted to the queue, where this instance's limit
    # holds it: it never starts.
    deadline = time.monotonic() + 30
    while run.status == dg.DagsterRunStatus.NOT_STARTED and time.monotonic() < deadline:
        time.sleep(1)
        run = instance.get_run_by_id(run.run_id)
    assert run.status == dg.DagsterRunStatus.QUEUED
    time.sleep(12)  # two more sensor ticks: the same report never fires twice
    assert (
        len(
            instance.get_runs(filters=dg.RunsFilter(tags={"fitsense/trigger": "retraining_sensor"}))
        )
        == 1
    )

    # SIGTERM stops every process and frees every port.
    process = system["process"]
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=90) == 0
    for name, port in system["ports"].items():
        assert not port_in_use("127.0.0.1", port), f"{name} still listens on {port}"
    assert "every FitSense process has stopped" in system["log"].read_text()
