"""``fitsense up``: the whole system on one machine, as child processes it owns.

The model server (``fitsense serve``), the API (``fitsense api``), the Dagster webserver and
the Dagster daemon each run in their own session, with their logs in ``$FITSENSE_HOME/logs``.
Ctrl-C or SIGTERM stops them all, newest first; a child that dies on its own stops the rest
and ``fitsense up`` exits non-zero.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated

import typer

from fitsense_cli.common import echo, fail, prepare
from fitsense_cli.pipeline import pipeline_run
from fitsense_cli.processes import (
    ProcessGroup,
    StartupError,
    executable,
    fitsense_command,
    http_ok,
    port_in_use,
    wait_for_signal_or_exit,
)
from fitsense_cli.serve import start_model_server
from fitsense_core.errors import ConfigurationError, FitSenseError
from fitsense_core.settings import REPO_ROOT, Settings

if TYPE_CHECKING:
    from fitsense_core.student.registry import ModelVersion


def prepare_model(
    url: str, pipeline: bool, run_pipeline: Callable[[], None]
) -> ModelVersion | None:
    """The version that will serve, after running the pipeline (``run_pipeline``) when
    ``pipeline`` and nothing serves — unless a registered version was rejected by its gate
    (it passed no capability): training again on every start would spend a quarter of an
    hour to be judged the same, so the knowledge-based coach serves and this says which
    version failed which criteria; ``fitsense pipeline run`` trains again on request."""
    from fitsense_core.student.registry import CAPABILITIES, failure_lines, latest_rejected, serving

    current = serving(url)
    rejected = latest_rejected(url) if current is None else None
    if current is None and rejected is None and pipeline:
        run_pipeline()
        current = serving(url)
        rejected = latest_rejected(url) if current is None else None
    if current is not None:
        missing = [c for c in CAPABILITIES if c not in current.capabilities]
        echo(
            f"serving model version: {current.version} "
            f"(capabilities: {', '.join(current.capabilities)})"
        )
        if missing:
            echo(
                f"{current.version} did not pass {', '.join(missing)} in its promotion gate: "
                "the knowledge-based coach answers those requests"
            )
    elif rejected is not None:
        echo(
            f"model version {rejected.version} was evaluated and passed no capability of its "
            "promotion gate, so it is not promoted:"
        )
        for line in failure_lines(rejected):
            echo(f"  {line}")
        echo(
            "the AI endpoints answer from the knowledge-based coach; not training again on "
            "start (run `fitsense pipeline run` to train a new version)"
        )
    else:
        echo(
            "no model version serves (--no-pipeline, or the pipeline registered none): the "
            "AI endpoints answer from the knowledge-based coach until one is promoted"
        )
    return current


def up(
    host: Annotated[str, typer.Option(help="Interface the API and the Dagster UI bind.")] = (
        "127.0.0.1"
    ),
    api_port: Annotated[int, typer.Option(help="Port of the API.", min=1, max=65535)] = 8000,
    ui_port: Annotated[int, typer.Option(help="Port of the Dagster UI.", min=1, max=65535)] = 3000,
    run_id: Annotated[
        str, typer.Option(help="Pipeline run id used when no model is promoted yet.")
    ] = "quickstart",
    users: Annotated[
        int, typer.Option(help="Synthetic users for that first pipeline run.", min=1)
    ] = 200,
    train_steps: Annotated[
        int, typer.Option(help="Training steps of that run (default: the asset's, 100).")
    ] = 0,
    pipeline: Annotated[
        bool,
        typer.Option(
            "--pipeline/--no-pipeline",
            help="Materialize the pipeline first when no model version serves and none was "
            "rejected by its promotion gate (a rejected version is reported, not retrained: "
            "`fitsense pipeline run` trains again). With --no-pipeline, or after a "
            "rejection, the API answers from the knowledge-based coach until a version is "
            "promoted.",
        ),
    ] = True,
) -> None:
    """Bring the whole system up: migrate; run the pipeline if no model version serves and
    none was rejected by its gate (data, teacher, QA, dataset, training, evaluation,
    promotion; a rejected version is reported with its failed criteria instead of being
    trained again on every start); start the model server,
    the API, the Dagster webserver and the Dagster daemon (schedules: monitoring every 15
    minutes; sensors: retraining, derived-asset freshness); print where to look. Ctrl-C or
    SIGTERM stops every process. Logs: $FITSENSE_HOME/logs/."""
    from fitsense_core.inference.endpoint import ModelEndpoint
    from fitsense_core.migrations import migrate

    timings: list[tuple[str, float]] = []
    started = time.monotonic()

    def stage(name: str, since: float) -> None:
        timings.append((name, time.monotonic() - since))
        echo(f"[{time.monotonic() - started:6.1f} s] {name}: done in {timings[-1][1]:.1f} s")

    try:
        endpoint = ModelEndpoint.from_env()
        for what, h, p in (
            ("the API", host, api_port),
            ("the Dagster UI", host, ui_port),
            ("the model server", endpoint.host, endpoint.port),
        ):
            if port_in_use(h, p):
                raise ConfigurationError(
                    f"{h}:{p}, where {what} would listen, is taken: stop what runs there "
                    "(another `fitsense up`?) or choose another port"
                )
        t = time.monotonic()
        target = prepare()
        migrate(target.url, progress=echo)
        echo(f"database: {target.describe()}")
        stage("database", t)

        def run_pipeline() -> None:
            echo(
                f"no model version is promoted: materializing the pipeline for run {run_id} "
                "(synthetic data, teacher, QA, dataset, training, golden-set evaluation, "
                "promotion: about 40 min on 2 cores)"
            )
            t = time.monotonic()
            try:
                pipeline_run(
                    run_id=run_id,
                    users=users,
                    seed=42,
                    history_days=90,
                    history_end="",
                    job="pipeline",
                    train_steps=train_steps,
                    eval_prompts=0,
                )
            except typer.Exit as exc:
                if exc.exit_code:
                    raise
            stage("pipeline", t)

        prepare_model(target.url, pipeline, run_pipeline)
    except FitSenseError as exc:
        raise fail(exc) from exc

    settings = Settings.from_env()
    group = ProcessGroup(settings.home / "logs", echo)
    fitsense = fitsense_command()
    workspace = str(REPO_ROOT / "workspace.yaml")
    api_url = f"http://{host}:{api_port}"
    ui_url = f"http://{host}:{ui_port}"
    code = 0
    try:
        t = time.monotonic()
        start_model_server(group, endpoint)
        stage("model server", t)
        t = time.monotonic()
        api_child = group.start("api", [*fitsense, "api", "--host", host, "--port", str(api_port)])
        group.wait_until(api_child, lambda: http_ok(f"{api_url}/health"), 120, "/health")
        stage("API", t)
        t = time.monotonic()
        web = group.start(
            "dagster-webserver",
            [executable("dagster-webserver"), "-w", workspace, "-h", host, "-p", str(ui_port)],
            cwd=REPO_ROOT,
        )
        daemon = group.start(
            "dagster-daemon", [executable("dagster-daemon"), "run", "-w", workspace], cwd=REPO_ROOT
        )
        group.wait_until(web, lambda: http_ok(f"{ui_url}/server_info"), 180, "/server_info")
        time.sleep(2)
        if daemon.process.poll() is not None:
            raise StartupError(
                f"dagster-daemon exited with {daemon.process.returncode}:\n{daemon.log_tail()}"
            )
        stage("Dagster webserver and daemon", t)
        total = time.monotonic() - started
        typer.echo(
            "\nFitSense is up "
            f"({total:.0f} s: " + ", ".join(f"{n} {s:.0f} s" for n, s in timings) + ")\n"
            f"  API:          {api_url}  (OpenAPI: {api_url}/schema)\n"
            f"  Dagster UI:   {ui_url}/assets  (monitoring every 15 min, retraining sensor)\n"
            f"  model server: {endpoint.base_url}  (key: FITSENSE_MODEL_API_KEY or "
            f"{settings.home / 'model_api_key'})\n"
            f"  logs:         {group.log_dir}/\n"
            "Ctrl-C stops everything."
        )
        code = wait_for_signal_or_exit(group)
    except StartupError as exc:
        typer.secho(f"error: {exc}", err=True, fg=typer.colors.RED)
        code = 1
    except KeyboardInterrupt:
        echo("interrupted: stopping every FitSense process")
    finally:
        group.stop()
    echo("every FitSense process has stopped")
    raise typer.Exit(code=code)
