"""``fitsense serve``: the student model where the API calls it (FITSENSE_MODEL_URL), on the
CPU server behind the switching proxy or on vLLM; and ``start_model_server``, the same
server as a child of another command."""

from __future__ import annotations

import logging
import shutil
import sys
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from fitsense_cli.common import echo, fail, registry_url
from fitsense_cli.processes import Child, ModelReady, ProcessGroup, fitsense_command
from fitsense_core.errors import ConfigurationError, FitSenseError
from fitsense_core.settings import Settings

if TYPE_CHECKING:
    from fitsense_core.inference.endpoint import ModelEndpoint


class ServeBackend(StrEnum):
    llama_cpp = "llama-cpp"
    vllm = "vllm"


class VllmMode(StrEnum):
    merged = "merged"
    lora = "lora"


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
        raise fail(ConfigurationError("--gguf needs --name (the version name to serve it as)"))
    if name and gguf is None:
        raise fail(ConfigurationError("--name goes with --gguf"))
    if gguf is not None and version:
        raise fail(ConfigurationError("use either --gguf or --version, not both"))
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
            source = pinned_target(registry_url(), version)
            mode = "pinned with --version"
        else:
            source = registry_target(registry_url())
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
        echo(f"model endpoint: http://{host}:{port}/v1 (Ctrl-C stops it)")
        echo(f"serving {what}")
        serve_forever(supervisor, host=host, port=port, api_key=endpoint.api_key)
    except FitSenseError as exc:
        raise fail(exc) from exc


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
    from fitsense_core import layout
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
    url = registry_url()
    chosen = get(url, version) if version else serving(url)
    if chosen is None:
        raise RegistryError(NO_VERSION_MESSAGE)
    settings = Settings.from_env()
    local_dir = layout.serving_cache(settings.home) / chosen.version
    downloads: list[tuple[str, Path]] = []
    if mode == "lora" and not base_model:
        store = ArtifactStore(settings.artifact_root)
        parts = layout.base_model(chosen.base_model_digest)
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
        echo(f"{uri} is downloaded to {dest} first")
    if dry_run:
        typer.echo(printable_command(argv))
        return
    if shutil.which("vllm") is None:
        exec_vllm(argv, api_key=api_key)  # raises the GPU-hosts-only error with the command
    for uri, dest in downloads:
        fetch_model_dir(uri, dest)
    echo(f"vLLM serving {chosen.version} on http://{host}:{port}/v1")
    exec_vllm(argv, api_key=api_key)


def start_model_server(group: ProcessGroup, endpoint: ModelEndpoint) -> Child:
    """``fitsense serve`` as a child of ``group``, for as long as the group runs; returns
    once a version serves or the server has none to serve, and says which."""
    child = group.start("serve", [*fitsense_command(), "serve"])
    ready = ModelReady(endpoint.base_url.removesuffix("/v1"), endpoint.api_key)
    group.wait_until(child, ready, 180, "/ready")
    serving = ready.state.get("version") if ready.state.get("ready") else ready.state.get("reason")
    group.echo(f"model server on {endpoint.base_url}: {serving} (log {child.log_path})")
    return child
