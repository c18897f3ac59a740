"""``fitsense db``: where the application database is, its migrations, the embedded
server; and ``fitsense env``, the resolved databases as shell exports."""

from __future__ import annotations

import shlex

import typer

from fitsense_cli.common import dagster_home, echo, fail, prepare
from fitsense_core.database import export_environment, resolve_database
from fitsense_core.errors import FitSenseError
from fitsense_core.settings import Settings

db_app = typer.Typer(
    help="The application database: where it is, migrations, the embedded server.",
    no_args_is_help=True,
)


@db_app.command("migrate")
def db_migrate() -> None:
    """Apply pending SQL migrations from sql/ and seed the reference data (idempotent)."""
    from fitsense_core.migrations import migrate

    try:
        target = prepare()
        echo(f"database: {target.describe()}")
        report = migrate(target.url, progress=echo)
    except FitSenseError as exc:
        raise fail(exc) from exc
    if report.applied:
        echo(f"applied {len(report.applied)} migration(s): {', '.join(report.applied)}")
    else:
        echo(f"schema up to date ({len(report.already_applied)} migrations applied earlier)")
    echo("reference data: " + ", ".join(f"{v} {k}" for k, v in report.reference_rows.items()))


@db_app.command("status")
def db_status() -> None:
    """Show which database is used and which migrations are applied or pending."""
    from fitsense_core.migrations import applied_versions, discover

    try:
        target = prepare()
        applied = set(applied_versions(target.url))
        migrations = discover()
    except FitSenseError as exc:
        raise fail(exc) from exc
    typer.echo(f"database: {target.describe()}")
    for m in migrations:
        typer.echo(f"  {'applied' if m.version in applied else 'pending'}  {m.path.name}")


@db_app.command("stop")
def db_stop() -> None:
    """Stop the embedded PostgreSQL server, if this project started one."""
    from fitsense_core.database import stop_embedded_server

    stopped = stop_embedded_server(Settings.from_env())
    echo("embedded PostgreSQL stopped" if stopped else "no embedded PostgreSQL is running")


def env() -> None:
    """Print shell exports for the resolved databases and DAGSTER_HOME.

    Use it to run Dagster's own tools by hand: eval "$(fitsense env)"; dagster dev
    """
    try:
        values = export_environment(resolve_database(Settings.from_env()), dagster_home())
    except FitSenseError as exc:
        raise fail(exc) from exc
    for key, value in values.items():
        typer.echo(f"export {key}={shlex.quote(value)}")
