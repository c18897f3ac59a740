"""The ``fitsense`` app: every command group assembled, and the secrets resolved first."""

from __future__ import annotations

import typer

from fitsense_cli.api import api
from fitsense_cli.common import fail
from fitsense_cli.db import db_app, env
from fitsense_cli.model import model_app
from fitsense_cli.pipeline import pipeline_app
from fitsense_cli.serve import serve
from fitsense_cli.ui import ui
from fitsense_cli.up import up
from fitsense_core.errors import FitSenseError

app = typer.Typer(
    help="FitSense: an open AI fitness coach and the Dagster pipeline that builds it.\n\n"
    "Without FITSENSE_DATABASE_URL every command uses the PostgreSQL server on "
    "127.0.0.1:5432 if one answers, otherwise an embedded server in ./.fitsense/pgdata.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(db_app, name="db")
app.add_typer(pipeline_app, name="pipeline")
app.add_typer(model_app, name="model")
app.command("env")(env)
app.command("api")(api)
app.command("serve")(serve)
app.command("ui")(ui)
app.command("up")(up)


@app.callback()
def _resolve_secret_settings() -> None:
    """Resolve NAME_FILE and sm:// secret settings once, before any command reads them
    (its children inherit the values)."""
    from fitsense_core.secrets import load_secrets

    try:
        load_secrets()
    except FitSenseError as exc:
        raise fail(exc) from exc


def main() -> None:
    app()
