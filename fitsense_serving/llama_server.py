"""Running llama-cpp-python's OpenAI-compatible server on a local GGUF model.

This module starts a server bound to 127.0.0.1 with an API key, waiting until it answers.
The key goes in through the server's environment (``API_KEY``, read by its pydantic
settings), not its command line: any user on the host can read a process's arguments, only
its owner its environment.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from fitsense_core.errors import FitSenseError


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServerStartError(FitSenseError):
    """The model server did not come up."""


@dataclass
class LlamaServer:
    """A running llama-cpp-python server process."""

    process: subprocess.Popen
    base_url: str
    api_key: str
    model_alias: str
    log_path: Path

    def stop(self, timeout_s: float = 15) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


# What a bearer token may hold (RFC 6750's b64token), non-empty: an empty key would leave
# the server open.
_KEY = re.compile(r"[A-Za-z0-9\-._~+/]+=*")


# Variables the server's entry point reads over its command line (``CONFIG_FILE`` replaces
# every setting, ``HOST``/``PORT`` the address): a PORT set for this process (Cloud Run
# sets one) must not move the model server off the port it was given.
_OVERRIDES = ("CONFIG_FILE", "HOST", "PORT")


def _server_environment(api_key: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k.upper() not in _OVERRIDES}
    return {**env, "API_KEY": api_key}


def _ready(base_url: str, api_key: str) -> bool:
    request = urllib.request.Request(
        f"{base_url}/models", headers={"Authorization": f"Bearer {api_key}"}
    )
    try:
        with urllib.request.urlopen(request, timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def start_llama_server(
    model_path: Path,
    *,
    model_alias: str,
    api_key: str,
    log_path: Path,
    port: int | None = None,
    n_ctx: int = 4096,
    n_threads: int | None = None,
    startup_timeout_s: float = 120,
) -> LlamaServer:
    """Start the server on 127.0.0.1 and wait until ``/v1/models`` answers."""
    if not _KEY.fullmatch(api_key):
        raise ServerStartError(
            "the model server's API key must be a non-empty bearer token "
            "(letters, digits and -._~+/)"
        )
    port = port or free_port()
    command = [
        sys.executable,
        "-m",
        "llama_cpp.server",
        "--model",
        str(model_path),
        f"--model_alias={model_alias}",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--n_ctx",
        str(n_ctx),
        "--n_threads",
        str(n_threads or max(1, os.cpu_count() or 1)),
    ]
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log = log_path.open("ab")
    process = subprocess.Popen(
        command,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        env=_server_environment(api_key),
    )
    server = LlamaServer(process, f"http://127.0.0.1:{port}/v1", api_key, model_alias, log_path)
    deadline = time.monotonic() + startup_timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = log_path.read_text(errors="replace")[-2000:]
            raise ServerStartError(f"llama-cpp server exited with {process.returncode}:\n{tail}")
        if _ready(server.base_url, api_key):
            return server
        time.sleep(0.3)
    server.stop()
    raise ServerStartError(f"llama-cpp server did not answer within {startup_timeout_s}s")


@contextmanager
def llama_server(model_path: Path, **kwargs) -> Iterator[LlamaServer]:
    server = start_llama_server(model_path, **kwargs)
    try:
        yield server
    finally:
        server.stop()
