"""``fitsense pipeline``: run the Dagster pipeline from the command line."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Annotated

import typer

from fitsense_cli.common import echo, fail, prepare
from fitsense_core.database import describe_url, redact_url
from fitsense_core.errors import ConfigurationError, FitSenseError
from fitsense_core.settings import Settings

pipeline_app = typer.Typer(
    help="Run the Dagster pipeline from the command line.", no_args_is_help=True
)


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
        int, typer.Option(help="Student training steps (default: the asset's default, 100).")
    ] = 0,
    eval_prompts: Annotated[
        int,
        typer.Option(
            help="Cap on the evaluation prompts per system (default: every golden-set "
            "plan prompt and 40 coaching questions)."
        ),
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
        target = prepare()
        echo(f"database: {target.describe()}")
        echo(f"dagster storage: {describe_url(target.dagster_url)}")
        migrate(target.url, progress=echo)
        echo(f"materializing job {job} for run {run_id} ({users} users)...")
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
        raise fail(exc) from exc
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
