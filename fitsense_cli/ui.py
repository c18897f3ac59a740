"""``fitsense ui``: the Dagster UI and daemon (``dagster dev``) on this project's instance."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from fitsense_cli.common import echo, fail, prepare
from fitsense_cli.processes import ProcessGroup, wait_forwarding_signals
from fitsense_core.errors import FitSenseError
from fitsense_core.settings import REPO_ROOT

# dagster dev has been seen not to finish shutting down.
STOP_GRACE_S = 30.0


def ui(
    port: Annotated[int, typer.Option(help="Port of the Dagster web UI.")] = 3000,
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
) -> None:
    """Start the Dagster UI and daemon (dagster dev) on this project's instance."""
    try:
        prepare()
    except FitSenseError as exc:
        raise fail(exc) from exc
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
    echo(f"Dagster UI on http://{host}:{port} (Ctrl-C stops it)")
    # Its output stays on this terminal; Ctrl-C and SIGTERM are passed on to it.
    group = ProcessGroup(None, echo, grace_s=STOP_GRACE_S)
    try:
        code = wait_forwarding_signals(group, group.start("dagster dev", command, cwd=REPO_ROOT))
    finally:
        group.stop()
    raise typer.Exit(code=code)
