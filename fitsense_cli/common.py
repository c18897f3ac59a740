"""What every command group shares: messages, how an error ends a command, and the
databases resolved (and exported) for Dagster."""

from __future__ import annotations

import os
from pathlib import Path

import typer

from fitsense_core.database import DatabaseTarget, export_environment, resolve_database
from fitsense_core.errors import FitSenseError
from fitsense_core.settings import REPO_ROOT, Settings


def echo(message: str) -> None:
    """A progress message, on stderr (stdout carries what a command answers)."""
    typer.echo(message, err=True)


def fail(exc: FitSenseError) -> typer.Exit:
    typer.secho(f"error: {exc}", err=True, fg=typer.colors.RED)
    return typer.Exit(code=1)


def dagster_home() -> str:
    home = os.environ.get("DAGSTER_HOME") or str(REPO_ROOT / "dagster_home")
    return str(Path(home).absolute())


def prepare() -> DatabaseTarget:
    """Resolve the databases and export them (and DAGSTER_HOME) for Dagster."""
    target = resolve_database(Settings.from_env())
    export_environment(target, dagster_home())
    return target


def registry_url() -> str:
    """The application database, migrated: where the model registry lives."""
    from fitsense_core.migrations import migrate

    target = prepare()
    migrate(target.url)
    return target.url
