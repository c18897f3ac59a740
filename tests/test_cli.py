"""The `fitsense` command as a user runs it, in a subprocess, against real services."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from fitsense_core.synthetic.load import count_run_rows

FITSENSE = [sys.executable, "-m", "fitsense_cli"]


def _run(
    args: list[str], env: dict[str, str], cwd: Path, timeout: int = 300
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*FITSENSE, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout
    )


def test_help_explains_every_command(repo_root: Path) -> None:
    out = _run(["--help"], dict(os.environ), repo_root)
    assert out.returncode == 0
    for command in ("db", "pipeline", "model", "env", "ui"):
        assert command in out.stdout
    out = _run(["db", "--help"], dict(os.environ), repo_root)
    for command in ("migrate", "status", "stop"):
        assert command in out.stdout
    out = _run(["pipeline", "run", "--help"], dict(os.environ), repo_root)
    for option in (
        "--run-id",
        "--users",
        "--seed",
        "--history-days",
        "--history-end",
        "--job",
        "--train-steps",
        "--eval-prompts",
    ):
        assert option in out.stdout


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("mysql://root@localhost/x", "FITSENSE_DATABASE_URL must be a PostgreSQL URL"),
        (
            "postgresql://postgres@127.0.0.1:1/fitsense",
            "cannot connect to PostgreSQL at 127.0.0.1:1/fitsense",
        ),
    ],
)
def test_bad_database_setting_gives_one_clear_message(
    url: str, message: str, repo_root: Path, tmp_path: Path
) -> None:
    env = {**os.environ, "FITSENSE_DATABASE_URL": url, "FITSENSE_HOME": str(tmp_path)}
    out = _run(["db", "migrate"], env, repo_root, timeout=60)
    assert out.returncode == 1
    assert message in out.stderr
    assert "Traceback" not in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1


def test_migrate_status_and_env(isolated_env: dict[str, str], repo_root: Path) -> None:
    out = _run(["db", "migrate"], isolated_env, repo_root)
    assert out.returncode == 0, out.stderr
    from fitsense_core.migrations import discover

    assert f"applied {len(discover())} migration(s)" in out.stderr
    out = _run(["db", "migrate"], isolated_env, repo_root)
    assert "schema up to date" in out.stderr
    out = _run(["db", "status"], isolated_env, repo_root)
    assert "pending" not in out.stdout and "applied  0001_identity.sql" in out.stdout
    out = _run(["env"], isolated_env, repo_root)
    assert f"export DAGSTER_HOME={isolated_env['DAGSTER_HOME']}" in out.stdout
    assert "export FITSENSE_DAGSTER_STORAGE_URL=" in out.stdout


@pytest.mark.slow
def test_pipeline_run_twice_does_no_harm(isolated_env: dict[str, str], repo_root: Path) -> None:
    args = [
        "pipeline",
        "run",
        "--run-id",
        "cli-run",
        "--users",
        "30",
        "--history-end",
        "2026-10-31",
        "--job",
        "dataset",
    ]
    first = _run(args, isolated_env, repo_root)
    assert first.returncode == 0, first.stderr[-3000:]
    assert "run cli-run: materialized 15 assets" in first.stdout
    assert "SFT records" in first.stdout
    assert "synthetic_app_tables" in first.stderr  # progress is shown
    with psycopg.connect(isolated_env["FITSENSE_DATABASE_URL"]) as conn:
        counts = count_run_rows(conn, "cli-run")
    assert counts["users"] == 30

    manifest_path = (
        Path(isolated_env["FITSENSE_HOME"])
        / "artifacts"
        / "datasets"
        / "distillation"
        / "cli-run"
        / "manifest.json"
    )
    first_manifest = json.loads(manifest_path.read_text())

    second = _run(args, isolated_env, repo_root)
    assert second.returncode == 0, second.stderr[-3000:]
    second_manifest = json.loads(manifest_path.read_text())
    assert second_manifest["records"] == first_manifest["records"]
    # Every prompt is accounted for: kept, withheld from train and val (an emergency: the
    # policy answers it), rejected by QA, or dropped (a duplicate target, a test request
    # seen in training).
    dropped = second_manifest["dropped"]
    accounted = (
        second_manifest["records"]
        + second_manifest["withheld"]["count"]
        + second_manifest["rejected"]
        + dropped["duplicates"]["candidates"]
        - dropped["duplicates"]["kept"]
        + dropped["test_requests_seen_in_train"]
    )
    assert accounted >= 30 * 6
    assert second_manifest["records"] >= 30 * 6 * 0.75
    assert second_manifest["content_sha256"] == first_manifest["content_sha256"]
    with psycopg.connect(isolated_env["FITSENSE_DATABASE_URL"]) as conn:
        assert count_run_rows(conn, "cli-run") == counts

    # Both runs are in the PostgreSQL-backed Dagster instance, with the partition's data.
    with psycopg.connect(isolated_env["FITSENSE_DAGSTER_STORAGE_URL"]) as conn:
        assert conn.execute("SELECT count(*) FROM runs WHERE status = 'SUCCESS'").fetchone()[0] == 2
        keys = {
            r[0]
            for r in conn.execute(
                "SELECT DISTINCT asset_key FROM event_logs "
                "WHERE dagster_event_type = 'ASSET_MATERIALIZATION'"
            )
        }
    assert {json.loads(k)[0] for k in keys} == {
        "exercise_catalog",
        "synthetic_users",
        "synthetic_plans",
        "synthetic_workouts",
        "synthetic_daily_signals",
        "synthetic_app_tables",
        "consented_interactions",
        "knowledge_base",
        "prompts",
        "teacher_outputs",
        "teacher_output_validation",
        "qa_statistics",
        "qa_anomalies",
        "qa_bias_slices",
        "distillation_dataset",
    }
    # Each run reported itself (the daemon's sensors do not see in-process runs).
    with psycopg.connect(isolated_env["FITSENSE_DATABASE_URL"]) as conn:
        reports = conn.execute(
            "SELECT run_id, status, report->'row_counts'->>'synthetic_users' "
            "FROM pipeline_run_reports"
        ).fetchall()
    assert reports == [("cli-run", "SUCCESS", "30")] * 2
    assert '"event": "pipeline_run_report"' in first.stderr

    listed = subprocess.run(
        [sys.executable, "-m", "dagster", "asset", "list", "-m", "fitsense_assets.definitions"],
        env=isolated_env,
        cwd=repo_root,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert listed.returncode == 0, listed.stderr
    assert "synthetic_app_tables" in listed.stdout


def test_model_commands(isolated_env: dict[str, str], repo_root: Path) -> None:
    from fitsense_core.migrations import migrate
    from fitsense_core.student.registry import register
    from tests.test_student import _version

    url = isolated_env["FITSENSE_DATABASE_URL"]
    migrate(url)
    out = _run(["model", "list"], isolated_env, repo_root)
    assert out.returncode == 0 and "no model versions yet" in out.stdout
    register(url, _version("student-x-0001", True))
    register(url, _version("student-x-0002", True))
    register(url, _version("student-x-0003", False))
    assert (
        "student-x-0001 now serves"
        in _run(["model", "promote", "student-x-0001"], isolated_env, repo_root).stdout
    )
    assert (
        "was student-x-0001"
        in _run(["model", "promote", "student-x-0002"], isolated_env, repo_root).stdout
    )
    refused = _run(["model", "promote", "student-x-0003"], isolated_env, repo_root)
    assert refused.returncode == 1 and "failed its promotion gate" in refused.stderr
    listed = _run(["model", "list"], isolated_env, repo_root).stdout
    assert "student-x-0002" in listed and "serving" in listed and "gate=FAIL" in listed
    shown = json.loads(_run(["model", "show", "serving"], isolated_env, repo_root).stdout)
    assert shown["version"] == "student-x-0002" and shown["gate"]["passed"]
    back = _run(["model", "rollback", "--reason", "test"], isolated_env, repo_root)
    assert "student-x-0001 serves again" in back.stdout

    # A capability monitoring suspended: listed under its version, lifted by an operator.
    import psycopg

    from fitsense_core.student.suspensions import suspend

    with psycopg.connect(url) as conn:
        suspend(conn, "student-x-0001", "coach_reply", "live acceptance 40% of 20")
    listed = _run(["model", "list"], isolated_env, repo_root).stdout
    assert "suspended coach_reply since" in listed and "live acceptance 40% of 20" in listed
    unknown = _run(
        ["model", "resume", "student-x-0001", "coaching", "--reason", "x"], isolated_env, repo_root
    )
    assert unknown.returncode == 1 and "unknown capability 'coaching'" in unknown.stderr
    resumed = _run(
        ["model", "resume", "student-x-0001", "coach_reply", "--reason", "fixed the server"],
        isolated_env,
        repo_root,
    )
    assert resumed.returncode == 0 and "serves from the model again" in resumed.stdout
    again = _run(
        ["model", "resume", "student-x-0001", "coach_reply", "--reason", "x"],
        isolated_env,
        repo_root,
    )
    assert again.returncode == 1 and "is not suspended" in again.stderr
    assert "suspended coach_reply" not in _run(["model", "list"], isolated_env, repo_root).stdout
