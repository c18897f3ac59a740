"""The ``fitsense`` command: the one entry point for everything a user does."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shlex
import shutil
import signal
import subprocess
import sys
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from fitsense_core.database import (
    DatabaseTarget,
    describe_url,
    export_environment,
    redact_url,
    resolve_app_database,
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
        raise _fail(exc) from exc
    if workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # Metrics summed over every worker process.
        metrics_dir = Settings.from_env().home / "prometheus"
        metrics_dir.mkdir(parents=True, exist_ok=True)
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(dir=metrics_dir)
    _echo(f"database: {target.describe()}")
    model_server = _start_model_server() if serve_model else None
    _echo(f"FitSense API on http://{host}:{port} (OpenAPI: http://{host}:{port}/schema)")
    # uvicorn re-raises SIGTERM once it has shut down; as an exception it lets the model
    # server below be stopped too (it runs in its own session, out of the signal's reach).
    previous = signal.signal(signal.SIGTERM, _exit_on_signal)
    try:
        _run_api(host, port, workers)
    finally:
        signal.signal(signal.SIGTERM, previous)
        if model_server is not None:
            _stop_child(model_server)


def _exit_on_signal(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)


def _start_model_server() -> subprocess.Popen:
    """``fitsense serve`` as a child process; returns once its proxy answers."""
    import time
    import urllib.error
    import urllib.request

    from fitsense_core.inference.endpoint import ModelEndpoint

    endpoint = ModelEndpoint.from_env()
    import socket

    with socket.socket() as probe:
        if probe.connect_ex((endpoint.host, endpoint.port)) == 0:
            raise _fail(
                ConfigurationError(
                    f"something already listens on {endpoint.host}:{endpoint.port} (another "
                    "`fitsense serve`?): stop it, or run `fitsense api` without --serve-model "
                    "to use it, or set FITSENSE_MODEL_URL to another port"
                )
            )
    log_dir = Settings.from_env().home / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / "serve.log"
    child = subprocess.Popen(
        [sys.executable, "-m", "fitsense_core.cli", "serve"],
        stdout=log_path.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    root = endpoint.base_url.removesuffix("/v1")
    deadline = time.monotonic() + 180
    unready_since: float | None = None
    while time.monotonic() < deadline:
        if child.poll() is not None:
            tail = log_path.read_text(errors="replace")[-1500:]
            raise _fail(FitSenseError(f"fitsense serve exited with {child.returncode}:\n{tail}"))
        try:
            with urllib.request.urlopen(f"{root}/ready", timeout=2) as response:
                state = json.loads(response.read())
                _echo(
                    f"model server on {endpoint.base_url}: {state.get('version')} (log {log_path})"
                )
                return child
        except urllib.error.HTTPError as exc:
            if exc.code != 503:
                _stop_child(child)
                raise _fail(FitSenseError(f"fitsense serve answered {exc.code} on /ready")) from exc
            reason = json.loads(exc.read() or b"{}").get("reason", "")
            unready_since = unready_since or time.monotonic()
            # Up but not serving: wait while a version starts; with none to serve, go on
            # (the API falls back to the knowledge-based coach until one is promoted).
            if not reason.startswith("starting") and time.monotonic() - unready_since > 15:
                _echo(f"model server on {endpoint.base_url}: {reason} (log {log_path})")
                return child
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.5)
    _stop_child(child)
    raise _fail(FitSenseError(f"fitsense serve did not answer within 180 s (log {log_path})"))


def _stop_child(child: subprocess.Popen) -> None:
    if child.poll() is None:
        child.send_signal(signal.SIGTERM)
        try:
            child.wait(timeout=60)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


def _run_api(host: str, port: int, workers: int) -> None:
    import uvicorn

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


class ServeBackend(StrEnum):
    llama_cpp = "llama-cpp"
    vllm = "vllm"


class VllmMode(StrEnum):
    merged = "merged"
    lora = "lora"


@app.command("serve")
def serve(
    backend: Annotated[
        ServeBackend,
        typer.Option(
            help="llama-cpp: the CPU server behind FitSense's switching proxy (here). "
            "vllm: the production GPU server (`vllm serve`; GPU hosts only)."
        ),
    ] = ServeBackend.llama_cpp,
    host: Annotated[
        str,
        typer.Option(
            help="Interface to bind. Default: the host of FITSENSE_MODEL_URL (127.0.0.1)."
        ),
    ] = "",
    port: Annotated[
        int,
        typer.Option(
            help="Port to listen on. Default: the port of FITSENSE_MODEL_URL (8090).",
            min=0,
            max=65535,
            show_default=False,
        ),
    ] = 0,
    version: Annotated[
        str,
        typer.Option(
            help="Serve this registry version, whatever the registry promotes "
            "(default: follow the registry's serving version, switching blue/green)."
        ),
    ] = "",
    gguf: Annotated[
        Path | None,
        typer.Option(
            help="Serve this GGUF file without the registry (development); needs --name.",
            exists=True,
            dir_okay=False,
        ),
    ] = None,
    name: Annotated[
        str, typer.Option(help="Version name for --gguf: served as fitsense-student-NAME.")
    ] = "",
    poll_interval: Annotated[
        float, typer.Option(help="Seconds between registry checks.", min=0.1)
    ] = 5.0,
    drain_timeout: Annotated[
        float,
        typer.Option(
            help="Seconds an old version may finish its requests after a switch or at shutdown.",
            min=0,
        ),
    ] = 120.0,
    vllm_mode: Annotated[
        VllmMode,
        typer.Option(
            help="vllm only. merged: the merged weights; lora: the base model with this "
            "version's adapter as a named LoRA module."
        ),
    ] = VllmMode.merged,
    base_model: Annotated[
        str,
        typer.Option(
            help="vllm --vllm-mode lora only: the dense base model (directory or hub id). "
            "Default: the copy the pipeline stored under models/base/<digest>/."
        ),
    ] = "",
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run",
            help="Print what would be served (vllm: the command, with the key as "
            "$FITSENSE_MODEL_API_KEY) and exit.",
        ),
    ] = False,
) -> None:
    """Serve the student model where the API calls it (FITSENSE_MODEL_URL).

    The key is FITSENSE_MODEL_API_KEY, else $FITSENSE_HOME/model_api_key.
    With llama-cpp, a proxy on that address runs a llama.cpp server for the
    registry's serving version and follows the registry: after a promotion or
    `fitsense model rollback` it starts the new version beside the old one,
    switches once it answers, and stops the old one when its requests are done.
    /health and /ready need no key; /v1/* does. Ctrl-C or SIGTERM lets
    requests finish and stops every model server."""
    from fitsense_core.inference.endpoint import ModelEndpoint, served_model_name

    if gguf is not None and not name:
        raise _fail(ConfigurationError("--gguf needs --name (the version name to serve it as)"))
    if name and gguf is None:
        raise _fail(ConfigurationError("--name goes with --gguf"))
    if gguf is not None and version:
        raise _fail(ConfigurationError("use either --gguf or --version, not both"))
    try:
        endpoint = ModelEndpoint.from_env()
        host = host or endpoint.host
        port = port or endpoint.port
        if backend is ServeBackend.vllm:
            _serve_vllm(
                version, host, port, vllm_mode.value, base_model, dry_run, endpoint.api_key, gguf
            )
            return
        from fitsense_serving.server import serve_forever
        from fitsense_serving.supervisor import Supervisor
        from fitsense_serving.targets import (
            NO_VERSION_MESSAGE,
            gguf_target,
            pinned_target,
            registry_target,
        )

        settings = Settings.from_env()
        if gguf is not None:
            source = gguf_target(gguf, name)
            mode = "--gguf, no registry"
        elif version:
            source = pinned_target(_registry_url(), version)
            mode = "pinned with --version"
        else:
            source = registry_target(_registry_url())
            mode = "following the registry's serving version"
        target = source()
        if target is None:
            what = f"nothing yet ({NO_VERSION_MESSAGE}); {mode}"
        else:
            what = f"{target.version} as {served_model_name(target.version)} ({mode})"
        if dry_run:
            typer.echo(f"would serve {what} on http://{host}:{port}/v1")
            if target is not None:
                typer.echo(f"  gguf: {target.gguf_uri}")
            return
        logging.basicConfig(
            level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", stream=sys.stderr
        )
        logging.getLogger("httpx").setLevel(logging.WARNING)
        supervisor = Supervisor(
            source,
            home=settings.home,
            poll_interval_s=poll_interval,
            drain_timeout_s=drain_timeout,
        )
        _echo(f"model endpoint: http://{host}:{port}/v1 (Ctrl-C stops it)")
        _echo(f"serving {what}")
        serve_forever(supervisor, host=host, port=port, api_key=endpoint.api_key)
    except FitSenseError as exc:
        raise _fail(exc) from exc


def _serve_vllm(
    version: str,
    host: str,
    port: int,
    mode: str,
    base_model: str,
    dry_run: bool,
    api_key: str,
    gguf: Path | None,
) -> None:
    """`fitsense serve --backend vllm`: print or exec the GPU server's command."""
    from fitsense_core.artifacts import ArtifactStore
    from fitsense_core.student.registry import RegistryError, get, serving
    from fitsense_serving.targets import NO_VERSION_MESSAGE
    from fitsense_serving.vllm import (
        exec_vllm,
        fetch_model_dir,
        is_remote,
        printable_command,
        vllm_command,
    )

    if gguf is not None:
        raise ConfigurationError("--gguf serves with llama-cpp only; vLLM serves registry versions")
    url = _registry_url()
    chosen = get(url, version) if version else serving(url)
    if chosen is None:
        raise RegistryError(NO_VERSION_MESSAGE)
    settings = Settings.from_env()
    local_dir = settings.home / "serving" / chosen.version
    downloads: list[tuple[str, Path]] = []
    if mode == "lora" and not base_model:
        store = ArtifactStore(settings.artifact_root)
        parts = ("models", "base", chosen.base_model_digest[:16])
        if store.exists(*parts, "config.json"):
            base_model = store.uri(*parts)
            if is_remote(base_model):
                downloads.append((base_model, local_dir / "base"))
                base_model = str(local_dir / "base")
    files_uri = chosen.merged_uri if mode == "merged" else chosen.adapter_uri
    model_path = None
    if is_remote(files_uri):
        model_path = str(local_dir / mode)
        downloads.append((files_uri, local_dir / mode))
    argv = vllm_command(
        chosen,
        mode=mode,  # type: ignore[arg-type]
        host=host,
        port=port,
        base_model=base_model or None,
        model_path=model_path,
    )
    for uri, dest in downloads:
        _echo(f"{uri} is downloaded to {dest} first")
    if dry_run:
        typer.echo(printable_command(argv))
        return
    if shutil.which("vllm") is None:
        exec_vllm(argv, api_key=api_key)  # raises the GPU-hosts-only error with the command
    for uri, dest in downloads:
        fetch_model_dir(uri, dest)
    _echo(f"vLLM serving {chosen.version} on http://{host}:{port}/v1")
    exec_vllm(argv, api_key=api_key)


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

    stopping = {"since": 0.0}

    def forward(signum: int, _frame: object) -> None:
        import time

        process.send_signal(signal.SIGTERM if signum == signal.SIGTERM else signal.SIGINT)
        stopping["since"] = stopping["since"] or time.monotonic()

    signal.signal(signal.SIGINT, forward)
    signal.signal(signal.SIGTERM, forward)
    raise typer.Exit(code=_wait_or_kill_session(process, stopping, grace_s=30))


def _wait_or_kill_session(process: subprocess.Popen, stopping: dict, grace_s: float) -> int:
    """Wait for ``process``; once asked to stop, give it ``grace_s`` seconds, then SIGKILL
    its whole session (dagster dev has been seen not to finish shutting down)."""
    import time

    while True:
        try:
            return process.wait(timeout=0.5)
        except subprocess.TimeoutExpired:
            if stopping["since"] and time.monotonic() - stopping["since"] > grace_s:
                _echo(f"dagster dev did not stop within {grace_s:.0f} s; killing it")
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(process.pid, signal.SIGKILL)
                return process.wait()


@app.command("up")
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
        int, typer.Option(help="Training steps of that run (default: the asset's, 60).")
    ] = 0,
    pipeline: Annotated[
        bool,
        typer.Option(
            "--pipeline/--no-pipeline",
            help="Materialize the pipeline first when no model version is promoted (with "
            "--no-pipeline the API answers from the knowledge-based coach until one is).",
        ),
    ] = True,
) -> None:
    """Bring the whole system up: migrate; run the pipeline if no promoted model exists
    (data, teacher, QA, dataset, training, evaluation, promotion); start the model server,
    the API, the Dagster webserver and the Dagster daemon (schedules: monitoring every 15
    minutes; sensors: retraining, derived-asset freshness); print where to look. Ctrl-C or
    SIGTERM stops every process. Logs: $FITSENSE_HOME/logs/."""
    import time

    from fitsense_core.migrations import migrate
    from fitsense_core.student.registry import serving
    from fitsense_core.up import (
        ProcessGroup,
        StartupError,
        executable,
        http_ok,
        model_ready,
        port_in_use,
        wait_for_signal_or_exit,
    )
    from fitsense_core.inference.endpoint import ModelEndpoint

    timings: list[tuple[str, float]] = []
    started = time.monotonic()

    def stage(name: str, since: float) -> None:
        timings.append((name, time.monotonic() - since))
        _echo(f"[{time.monotonic() - started:6.1f} s] {name}: done in {timings[-1][1]:.1f} s")

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
        target = _prepare()
        migrate(target.url, progress=_echo)
        _echo(f"database: {target.describe()}")
        stage("database", t)
        current = serving(target.url)
        if current is None and pipeline:
            _echo(
                f"no model version is promoted: materializing the pipeline for run {run_id} "
                "(synthetic data, teacher, QA, dataset, training ~15 min on 2 cores, "
                "evaluation, promotion)"
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
            current = serving(target.url)
        if current is None:
            _echo(
                "no model version serves (the gate did not pass, or --no-pipeline): the AI "
                "endpoints answer from the knowledge-based coach until one is promoted"
            )
        else:
            _echo(f"serving model version: {current.version}")
    except FitSenseError as exc:
        raise _fail(exc) from exc

    settings = Settings.from_env()
    group = ProcessGroup(settings.home / "logs", _echo)
    cli = [sys.executable, "-m", "fitsense_core.cli"]
    workspace = str(REPO_ROOT / "workspace.yaml")
    api_url = f"http://{host}:{api_port}"
    ui_url = f"http://{host}:{ui_port}"
    code = 0
    try:
        t = time.monotonic()
        model = group.start("serve", [*cli, "serve"])
        group.wait_until(model, model_ready(endpoint.base_url.removesuffix("/v1")), 180, "/ready")
        stage("model server", t)
        t = time.monotonic()
        api_child = group.start("api", [*cli, "api", "--host", host, "--port", str(api_port)])
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
        _echo("interrupted: stopping every FitSense process")
    finally:
        group.stop()
    _echo("every FitSense process has stopped")
    raise typer.Exit(code=code)


@app.callback()
def _resolve_secret_settings() -> None:
    """Resolve NAME_FILE and sm:// secret settings once, before any command reads them
    (its children inherit the values)."""
    from fitsense_core.secrets import load_secrets

    try:
        load_secrets()
    except FitSenseError as exc:
        raise _fail(exc) from exc


def main() -> None:
    app()


if __name__ == "__main__":
    main()
