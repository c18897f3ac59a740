"""``fitsense api``: the FitSense REST API (Litestar on uvicorn), with the model server
beside it on request."""

from __future__ import annotations

import os
import signal
from typing import Annotated

import typer

from fitsense_cli.common import echo, fail
from fitsense_cli.processes import ProcessGroup, port_in_use
from fitsense_cli.serve import start_model_server
from fitsense_core.database import resolve_app_database
from fitsense_core.errors import ConfigurationError, FitSenseError
from fitsense_core.settings import Settings

# How long `fitsense serve` has to finish its requests once the API stops.
MODEL_SERVER_GRACE_S = 60.0


def api(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.", min=1, max=65535)] = 8000,
    workers: Annotated[
        int, typer.Option(help="Worker processes (each with its own pool).", min=1, max=64)
    ] = 1,
    serve_model: Annotated[
        bool,
        typer.Option(
            "--serve-model/--no-serve-model",
            help="Also run `fitsense serve` (the promoted student on the CPU server, at "
            "FITSENSE_MODEL_URL) for as long as the API runs. Without it the AI endpoints "
            "call whatever serves there, and answer from the knowledge-based coach while "
            "nothing does.",
        ),
    ] = False,
) -> None:
    """Serve the FitSense REST API (Litestar on uvicorn): migrate, then listen.

    OpenAPI at /schema, liveness /health, readiness /ready, Prometheus /metrics. Logs are
    JSON lines on stderr. Settings: FITSENSE_API_* environment variables (README)."""
    import tempfile

    from fitsense_core.migrations import migrate

    try:
        # The application database only: the API (Cloud Run's backend account included)
        # has no business with Dagster's storage. Exported for the workers and the model
        # server, which resolve the same one.
        target = resolve_app_database(Settings.from_env())
        os.environ["FITSENSE_DATABASE_URL"] = target.url
        migrate(target.url)
        from fitsense_api.app import default_settings

        default_settings()  # a bad FITSENSE_API_* setting fails here, not in a worker
    except FitSenseError as exc:
        raise fail(exc) from exc
    settings = Settings.from_env()
    if workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # Metrics summed over every worker process.
        metrics_dir = settings.home / "prometheus"
        metrics_dir.mkdir(parents=True, exist_ok=True)
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(dir=metrics_dir)
    echo(f"database: {target.describe()}")
    children = ProcessGroup(settings.home / "logs", echo, grace_s=MODEL_SERVER_GRACE_S)
    try:
        if serve_model:
            _start_model_server(children)
        echo(f"FitSense API on http://{host}:{port} (OpenAPI: http://{host}:{port}/schema)")
        # uvicorn re-raises SIGTERM once it has shut down; as an exception it lets the model
        # server be stopped too (it runs in its own session, out of the signal's reach).
        previous = signal.signal(signal.SIGTERM, _exit_on_signal)
        try:
            _run_api(host, port, workers)
        finally:
            signal.signal(signal.SIGTERM, previous)
    finally:
        children.stop()


def _start_model_server(children: ProcessGroup) -> None:
    from fitsense_core.inference.endpoint import ModelEndpoint

    endpoint = ModelEndpoint.from_env()
    try:
        if port_in_use(endpoint.host, endpoint.port):
            raise ConfigurationError(
                f"something already listens on {endpoint.host}:{endpoint.port} (another "
                "`fitsense serve`?): stop it, or run `fitsense api` without --serve-model "
                "to use it, or set FITSENSE_MODEL_URL to another port"
            )
        start_model_server(children, endpoint)
    except FitSenseError as exc:
        raise fail(exc) from exc


def _exit_on_signal(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)


def _run_api(host: str, port: int, workers: int) -> None:
    import uvicorn

    from fitsense_api.app import default_settings
    from fitsense_api.proxies import uvicorn_proxy_options

    uvicorn.run(
        "fitsense_api.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_config=None,
        access_log=False,
        server_header=False,
        # Who may say who the client is (FITSENSE_API_TRUSTED_PROXIES; none by default).
        **uvicorn_proxy_options(default_settings()),
    )
