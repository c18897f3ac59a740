"""`dagster-webserver` and `dagster dev` (through `fitsense ui`) serve the FitSense code
location from the repository root on the PostgreSQL-backed instance."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.browser import dagster_webserver, free_port, graphql, stop, wait_for_assets

pytestmark = pytest.mark.slow


def test_webserver_from_repository_root_shows_cli_materializations(
    isolated_env: dict[str, str], repo_root: Path
) -> None:
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "fitsense_cli",
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
    with dagster_webserver(isolated_env, repo_root) as webserver:
        assert {"synthetic_users", "synthetic_app_tables", "exercise_catalog"} <= (
            webserver.asset_keys
        )
        nodes = graphql(
            webserver.port,
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


def test_fitsense_ui_runs_dagster_dev_and_stops_on_sigterm(
    isolated_env: dict[str, str], repo_root: Path
) -> None:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "fitsense_cli", "ui", "--port", str(port)],
        cwd=repo_root,
        env=isolated_env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        assets = wait_for_assets(port, process)
        assert "synthetic_workouts" in assets
    finally:
        stop(process)
    with socket.socket() as s:  # the port is free again: nothing was left running
        assert s.connect_ex(("127.0.0.1", port)) != 0
