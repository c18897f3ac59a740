"""``fitsense model``: student model versions: list, inspect, promote, roll back, and lift
a capability monitoring suspended."""

from __future__ import annotations

from typing import Annotated

import typer

from fitsense_cli.common import fail, registry_url
from fitsense_core.errors import FitSenseError

model_app = typer.Typer(
    help="Student model versions: list, inspect, promote, roll back.", no_args_is_help=True
)


@model_app.command("list")
def model_list() -> None:
    """Every registered version, newest first, with status, key metrics, gate verdict and
    the capabilities it passed (it serves only those); below it, each failed criterion and
    each capability monitoring suspended."""
    from fitsense_core.student.registry import failure_lines, list_versions, summary_line
    from fitsense_core.student.suspensions import active

    try:
        url = registry_url()
        versions = list_versions(url)
        suspended = {v.version: active(url, v.version) for v in versions}
    except FitSenseError as exc:
        raise fail(exc) from exc
    if not versions:
        typer.echo("no model versions yet: run `fitsense pipeline run`")
    for version in versions:
        typer.echo(summary_line(version))
        for line in failure_lines(version):
            typer.echo(f"    {line}")
        for capability, s in sorted(suspended[version.version].items()):
            typer.echo(
                f"    suspended {capability} since {s.suspended_at:%Y-%m-%d %H:%M} UTC "
                f"(monitoring report {s.report_id}): {s.reason}"
            )


@model_app.command("show")
def model_show(
    version: Annotated[str, typer.Argument(help="Version name; 'serving' for the current one.")],
) -> None:
    """A version's full record as JSON: lineage, training config, metrics, gate, file
    locations, the capabilities it passed and why the others failed."""
    from fitsense_core.student.registry import RegistryError, dumps, get, serving

    try:
        url = registry_url()
        if version == "serving":
            current = serving(url)
            if current is None:
                raise RegistryError("no version is serving")
        else:
            current = get(url, version)
    except FitSenseError as exc:
        raise fail(exc) from exc
    typer.echo(dumps(current))


@model_app.command("promote")
def model_promote(
    version: Annotated[str, typer.Argument(help="Version to serve.")],
    reason: Annotated[str, typer.Option(help="Recorded with the promotion.")] = "manual promotion",
) -> None:
    """Serve VERSION (atomic; refused when it passed no capability in its promotion gate;
    it serves only the capabilities it passed)."""
    from fitsense_core.student.registry import promote

    try:
        previous = promote(registry_url(), version, reason)
    except FitSenseError as exc:
        raise fail(exc) from exc
    typer.echo(f"{version} now serves" + (f" (was {previous})" if previous else ""))


@model_app.command("rollback")
def model_rollback(
    reason: Annotated[str, typer.Option(help="Recorded with the rollback.")] = "manual rollback",
) -> None:
    """Serve again the version that served before the current one (atomic)."""
    from fitsense_core.student.registry import rollback

    try:
        current, previous = rollback(registry_url(), reason)
    except FitSenseError as exc:
        raise fail(exc) from exc
    typer.echo(f"{previous} serves again (was {current})")


@model_app.command("resume")
def model_resume(
    version: Annotated[str, typer.Argument(help="The version whose capability was suspended.")],
    capability: Annotated[
        str,
        typer.Argument(help="plan_creation, plan_update, plan_adaptation or coach_reply."),
    ],
    reason: Annotated[str, typer.Option(help="Why it may serve again (recorded).")],
) -> None:
    """Lift a suspension monitoring put on CAPABILITY of VERSION: the model answers it
    again (the API notices within seconds). Monitoring suspends it again if its live
    quality is still below the gate."""
    from fitsense_core.student.registry import CAPABILITIES, RegistryError
    from fitsense_core.student.suspensions import lift

    try:
        if capability not in CAPABILITIES:
            raise RegistryError(
                f"unknown capability {capability!r}: one of {', '.join(CAPABILITIES)}"
            )
        lifted = lift(registry_url(), version, capability, reason)
    except FitSenseError as exc:
        raise fail(exc) from exc
    if not lifted:
        raise fail(RegistryError(f"{capability} of {version} is not suspended"))
    typer.echo(f"{capability} of {version} serves from the model again")
