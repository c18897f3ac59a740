"""The ``fitsense`` command: the one entry point for everything a user does."""

from __future__ import annotations

import logging
import os
import shlex
import signal
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from fitsense_core.database import (
    DatabaseTarget,
    describe_url,
    export_environment,
    redact_url,
    resolve_database,
)
from fitsense_core.errors import ConfigurationError, FitSenseError
from fitsense_core.settings import REPO_ROOT, Settings

app = typer.Typer(
    help="FitSense: an open AI fitness coach and the Dagster pipeline that builds it.\n\n"
    "Without FITSENSE_DATABASE_URL every command uses the PostgreSQL server on "
    "127.0.0.1:5432 if one answers, otherwise an embedded server in ./.fitsense/pgdata.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(
    help="The application database: where it is, migrations, the embedded server.",
    no_args_is_help=True,
)
pipeline_app = typer.Typer(
    help="Run the Dagster pipeline from the command line.", no_args_is_help=True
)
model_app = typer.Typer(
    help="Student model versions: list, inspect, promote, roll back.", no_args_is_help=True
)
app.add_typer(db_app, name="db")
app.add_typer(pipeline_app, name="pipeline")
app.add_typer(model_app, name="model")


def _echo(message: str) -> None:
    typer.echo(message, err=True)


def _fail(exc: FitSenseError) -> typer.Exit:
    typer.secho(f"error: {exc}", err=True, fg=typer.colors.RED)
    return typer.Exit(code=1)


def dagster_home() -> str:
    home = os.environ.get("DAGSTER_HOME") or str(REPO_ROOT / "dagster_home")
    return str(Path(home).absolute())


def _prepare() -> DatabaseTarget:
    """Resolve the databases and export them (and DAGSTER_HOME) for Dagster."""
    target = resolve_database(Settings.from_env())
    export_environment(target, dagster_home())
    return target


@db_app.command("migrate")
def db_migrate() -> None:
    """Apply pending SQL migrations from sql/ and seed the reference data (idempotent)."""
    from fitsense_core.migrations import migrate

    try:
        target = _prepare()
        _echo(f"database: {target.describe()}")
        report = migrate(target.url, progress=_echo)
    except FitSenseError as exc:
        raise _fail(exc) from exc
    if report.applied:
        _echo(f"applied {len(report.applied)} migration(s): {', '.join(report.applied)}")
    else:
        _echo(f"schema up to date ({len(report.already_applied)} migrations applied earlier)")
    _echo("reference data: " + ", ".join(f"{v} {k}" for k, v in report.reference_rows.items()))


@db_app.command("status")
def db_status() -> None:
    """Show which database is used and which migrations are applied or pending."""
    from fitsense_core.migrations import applied_versions, discover

    try:
        target = _prepare()
        applied = set(applied_versions(target.url))
        migrations = discover()
    except FitSenseError as exc:
        raise _fail(exc) from exc
    typer.echo(f"database: {target.describe()}")
    for m in migrations:
        typer.echo(f"  {'applied' if m.version in applied else 'pending'}  {m.path.name}")


@db_app.command("stop")
def db_stop() -> None:
    """Stop the embedded PostgreSQL server, if this project started one."""
    from fitsense_core.database import stop_embedded_server

    stopped = stop_embedded_server(Settings.from_env())
    _echo("embedded PostgreSQL stopped" if stopped else "no embedded PostgreSQL is running")


@app.command("env")
def env() -> None:
    """Print shell exports for the resolved databases and DAGSTER_HOME.

    Use it to run Dagster's own tools by hand: eval "$(fitsense env)"; dagster dev
    """
    try:
        values = export_environment(resolve_database(Settings.from_env()), dagster_home())
    except FitSenseError as exc:
        raise _fail(exc) from exc
    for key, value in values.items():
        typer.echo(f"export {key}={shlex.quote(value)}")


def _default_run_id() -> str:
    return datetime.now(UTC).strftime("run-%Y%m%d-%H%M%S")


@pipeline_app.command("run")
def pipeline_run(
    run_id: Annotated[
        str,
        typer.Option(
            help="Pipeline run id (the Dagster partition). "
            "Re-running an id replaces its data. Default: run-<UTC time>."
        ),
    ] = "",
    users: Annotated[
        int, typer.Option(help="Synthetic users to generate.", min=1, max=100_000)
    ] = 200,
    seed: Annotated[int, typer.Option(help="Random seed; same seed, same data.")] = 42,
    history_days: Annotated[
        int, typer.Option(help="Days of history per user.", min=14, max=730)
    ] = 90,
    history_end: Annotated[
        str, typer.Option(help="Last day of history, YYYY-MM-DD (default: today, UTC).")
    ] = "",
    job: Annotated[
        str,
        typer.Option(
            help="pipeline: everything through training, evaluation and promotion; "
            "dataset: up to the distillation dataset; synthetic_data: the synthetic stage."
        ),
    ] = "pipeline",
    train_steps: Annotated[
        int, typer.Option(help="Student training steps (default: the asset's default, 60).")
    ] = 0,
    eval_prompts: Annotated[
        int, typer.Option(help="Test prompts per system in the evaluation (default 40).")
    ] = 0,
) -> None:
    """Materialize the pipeline for one run: migrate; generate, check and load the synthetic
    data; render prompts; get the teacher's answers (the offline knowledge-based coach unless
    FITSENSE_TEACHER_PROVIDER=openai); validate them; write the QA reports and the
    distillation dataset; train, export and evaluate the student; register it and promote it
    when the gate passes. Progress is logged; every asset and check shows in the Dagster UI."""
    from fitsense_core.migrations import migrate

    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    run_id = run_id or _default_run_id()
    try:
        from fitsense_assets.runner import JOBS, run_pipeline_job

        if job not in JOBS:
            raise ConfigurationError(f"unknown job {job!r}: use one of {', '.join(JOBS)}")
        target = _prepare()
        _echo(f"database: {target.describe()}")
        _echo(f"dagster storage: {describe_url(target.dagster_url)}")
        migrate(target.url, progress=_echo)
        _echo(f"materializing job {job} for run {run_id} ({users} users)...")
        result = run_pipeline_job(
            run_id,
            n_users=users,
            seed=seed,
            history_days=history_days,
            history_end=history_end,
            job_name=job,
            ops_config={
                **({"student_model": {"max_steps": train_steps}} if train_steps else {}),
                **({"student_evaluation": {"max_prompts": eval_prompts}} if eval_prompts else {}),
            },
        )
    except FitSenseError as exc:
        raise _fail(exc) from exc
    if not result.success:
        for failure in result.failed_checks:
            typer.secho(f"failed check: {failure}", err=True, fg=typer.colors.RED)
        typer.secho(
            f"pipeline run {run_id} failed (Dagster run {result.dagster_run_id}); "
            "see the log above",
            err=True,
            fg=typer.colors.RED,
        )
        raise typer.Exit(code=1)
    loaded = result.metadata.get("synthetic_app_tables", {})
    settings = Settings.from_env()
    typer.echo(
        f"\nrun {run_id}: materialized {len(result.materialized)} assets "
        f"(Dagster run {result.dagster_run_id})"
    )
    typer.echo(f"  PostgreSQL: {loaded.get('dagster/row_count', 0):,} rows in {target.describe()}")
    typer.echo(f"  artifacts:  {settings.artifact_root}")
    dataset = result.metadata.get("distillation_dataset")
    if dataset:
        typer.echo(
            f"  dataset:    {dataset.get('dagster/row_count', 0):,} SFT records "
            f"({dataset.get('rejected', 0):,} teacher answers rejected) in {dataset.get('uri')}"
        )
    registered = result.metadata.get("model_version")
    if registered:
        state = "serving" if result.metadata.get("serving_model") else registered.get("status")
        typer.echo(f"  student:    {registered.get('version')} ({state})")
    if result.failed_checks:
        typer.echo(f"  warnings:   {'; '.join(result.failed_checks)}")
    typer.echo("  Dagster UI: `fitsense ui`, then open http://127.0.0.1:3000/assets")
    typer.echo(f"  SQL:        psql '{redact_url(target.url)}' -c 'select count(*) from users'")


def _registry_url() -> str:
    from fitsense_core.migrations import migrate

    target = _prepare()
    migrate(target.url)
    return target.url


@model_app.command("list")
def model_list() -> None:
    """Every registered version, newest first, with status, key metrics and gate verdict."""
    from fitsense_core.student.registry import list_versions, summary_line

    try:
        versions = list_versions(_registry_url())
    except FitSenseError as exc:
        raise _fail(exc) from exc
    if not versions:
        typer.echo("no model versions yet: run `fitsense pipeline run`")
    for version in versions:
        typer.echo(summary_line(version))


@model_app.command("show")
def model_show(
    version: Annotated[str, typer.Argument(help="Version name; 'serving' for the current one.")],
) -> None:
    """A version's full record: lineage, training config, metrics, gate, file locations."""
    from fitsense_core.student.registry import RegistryError, dumps, get, serving

    try:
        url = _registry_url()
        if version == "serving":
            current = serving(url)
            if current is None:
                raise RegistryError("no version is serving")
        else:
            current = get(url, version)
    except FitSenseError as exc:
        raise _fail(exc) from exc
    typer.echo(dumps(current))


@model_app.command("promote")
def model_promote(
    version: Annotated[str, typer.Argument(help="Version to serve.")],
    reason: Annotated[str, typer.Option(help="Recorded with the promotion.")] = "manual promotion",
) -> None:
    """Serve VERSION (atomic; refused when its promotion gate failed)."""
    from fitsense_core.student.registry import promote

    try:
        previous = promote(_registry_url(), version, reason)
    except FitSenseError as exc:
        raise _fail(exc) from exc
    typer.echo(f"{version} now serves" + (f" (was {previous})" if previous else ""))


@model_app.command("rollback")
def model_rollback(
    reason: Annotated[str, typer.Option(help="Recorded with the rollback.")] = "manual rollback",
) -> None:
    """Serve again the version that served before the current one (atomic)."""
    from fitsense_core.student.registry import rollback

    try:
        current, previous = rollback(_registry_url(), reason)
    except FitSenseError as exc:
        raise _fail(exc) from exc
    typer.echo(f"{previous} serves again (was {current})")


@app.command("api")
def api(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.", min=1, max=65535)] = 8000,
    workers: Annotated[
        int, typer.Option(help="Worker processes (each with its own pool).", min=1, max=64)
    ] = 1,
) -> None:
    """Serve the FitSense REST API (Litestar on uvicorn): migrate, then listen.

    OpenAPI at /schema, liveness /health, readiness /ready, Prometheus /metrics. Logs are
    JSON lines on stderr. Settings: FITSENSE_API_* environment variables (README)."""
    import tempfile

    import uvicorn

    from fitsense_core.migrations import migrate

    try:
        target = _prepare()
        migrate(target.url)
        from fitsense_api.app import default_settings

        default_settings()  # a bad FITSENSE_API_* setting fails here, not in a worker
    except FitSenseError as exc:
        raise _fail(exc) from exc
    if workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # Metrics summed over every worker process.
        metrics_dir = Settings.from_env().home / "prometheus"
        metrics_dir.mkdir(parents=True, exist_ok=True)
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(dir=metrics_dir)
    _echo(f"database: {target.describe()}")
    _echo(f"FitSense API on http://{host}:{port} (OpenAPI: http://{host}:{port}/schema)")
    uvicorn.run(
        "fitsense_api.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_config=None,
        access_log=False,
        server_header=False,
    )


@app.command("ui")
def ui(
    port: Annotated[int, typer.Option(help="Port of the Dagster web UI.")] = 3000,
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
) -> None:
    """Start the Dagster UI and daemon (dagster dev) on this project's instance."""
    try:
        _prepare()
    except FitSenseError as exc:
        raise _fail(exc) from exc
    command = [
        sys.executable,
        "-m",
        "dagster",
        "dev",
        "-w",
        str(REPO_ROOT / "workspace.yaml"),
        "-h",
        host,
        "-p",
        str(port),
    ]
    _echo(f"Dagster UI on http://{host}:{port} (Ctrl-C stops it)")
    # Its own session, so that Ctrl-C/SIGTERM reach dagster dev and its children reliably.
    process = subprocess.Popen(command, cwd=REPO_ROOT, start_new_session=True)

    def forward(signum: int, _frame: object) -> None:
        process.send_signal(signal.SIGTERM if signum == signal.SIGTERM else signal.SIGINT)

    signal.signal(signal.SIGINT, forward)
    signal.signal(signal.SIGTERM, forward)
    raise typer.Exit(code=process.wait())


def main() -> None:
    app()


if __name__ == "__main__":
    main()
