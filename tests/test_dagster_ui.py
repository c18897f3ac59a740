"""`dagster-webserver` and `dagster dev` (through `fitsense ui`) serve the FitSense code
location from the repository root on the PostgreSQL-backed instance."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ASSET_QUERY = "{ assetNodes { assetKey { path } groupName } }"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _graphql(port: int, query: str) -> dict:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql",
        data=json.dumps({"query": query}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def _wait_for_assets(port: int, process: subprocess.Popen, timeout: float = 120) -> set[str]:
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"server exited with {process.returncode}")
        try:
            nodes = _graphql(port, ASSET_QUERY)["data"]["assetNodes"]
            if nodes:
                return {"/".join(n["assetKey"]["path"]) for n in nodes}
        except Exception as exc:  # not up yet
            last_error = exc
        time.sleep(1)
    raise AssertionError(f"no asset graph after {timeout}s: {last_error}")


def _stop(process: subprocess.Popen, sig: int = signal.SIGTERM) -> int:
    process.send_signal(sig)
    try:
        return process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        raise


def test_webserver_from_repository_root_shows_cli_materializations(
    isolated_env: dict[str, str], repo_root: Path
) -> None:
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "fitsense_core.cli",
            "pipeline",
            "run",
            "--run-id",
            "ui-run",
            "--users",
            "10",
            "--history-end",
            "2026-10-31",
            "--job",
            "dataset",
        ],
        cwd=repo_root,
        env=isolated_env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    port = _free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "dagster_webserver",
            "-w",
            "workspace.yaml",
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
        ],
        cwd=repo_root,
        env=isolated_env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        assets = _wait_for_assets(port, process)
        assert {"synthetic_users", "synthetic_app_tables", "exercise_catalog"} <= assets
        nodes = _graphql(
            port,
            "{ assetNodes { assetKey { path } groupName "
            "assetMaterializations(limit: 1) { partition } } }",
        )["data"]["assetNodes"]
        # The dataset job covers these groups; training onwards was not asked for.
        ran = {"synthetic", "teacher", "qa", "distill"}
        latest = {
            n["assetKey"]["path"][0]: n["assetMaterializations"]
            for n in nodes
            if n["groupName"] in ran
        }
        assert len(latest) >= 10, latest
        assert all(m == [{"partition": "ui-run"}] for m in latest.values()), latest
        untouched = [n for n in nodes if n["groupName"] not in ran]
        assert untouched and all(not n["assetMaterializations"] for n in untouched)
    finally:
        _stop(process)


def test_fitsense_ui_runs_dagster_dev_and_stops_on_sigterm(
    isolated_env: dict[str, str], repo_root: Path
) -> None:
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "fitsense_core.cli", "ui", "--port", str(port)],
        cwd=repo_root,
        env=isolated_env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        assets = _wait_for_assets(port, process)
        assert "synthetic_workouts" in assets
    finally:
        _stop(process)
    with socket.socket() as s:  # the port is free again: nothing was left running
        assert s.connect_ex(("127.0.0.1", port)) != 0
