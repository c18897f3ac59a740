"""HEALTHCHECK of the Dagster image, which runs one of three commands.

The container's command line (PID 1; under tini, what follows ``--``) says which:

- ``dagster-webserver … -p PORT``: ``GET /server_info`` on 127.0.0.1:PORT (3000);
- ``dagster-daemon run``: ``dagster-daemon liveness-check`` (recent heartbeats in storage);
- ``dagster code-server start … -p PORT`` or ``dagster api grpc … -p PORT``:
  ``dagster api grpc-health-check -p PORT`` (4000).

Standard library only; exit status 0 means healthy.
"""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.request
from pathlib import Path

WEBSERVER_PORT = 3000
CODE_SERVER_PORT = 4000


def _option(argv: list[str], names: tuple[str, ...]) -> str | None:
    for i, arg in enumerate(argv):
        if arg in names and i + 1 < len(argv):
            return argv[i + 1]
        for name in names:
            if name.startswith("--") and arg.startswith(name + "="):
                return arg.split("=", 1)[1]
    return None


def command(argv: list[str]) -> list[str]:
    """The container's own command, without an init process in front of it."""
    if "--" in argv and Path(argv[0]).name in {"tini", "tini-static", "docker-init"}:
        argv = argv[argv.index("--") + 1 :]
    # A console script run by its interpreter: python /opt/venv/bin/dagster-webserver …
    if argv and Path(argv[0]).name.startswith("python") and len(argv) > 1:
        argv = argv[1:]
    return argv


def check(argv: list[str], environ: dict[str, str] | None = None) -> tuple[str, object]:
    """("http", url) or ("run", argv) for the command ``argv`` runs."""
    env = os.environ if environ is None else environ
    argv = command(argv)
    program = Path(argv[0]).name if argv else ""
    if program == "dagster-daemon":
        return "run", ["dagster-daemon", "liveness-check"]
    if program == "dagster" and argv[1:3] in (["code-server", "start"], ["api", "grpc"]):
        port = _option(argv, ("-p", "--port")) or str(CODE_SERVER_PORT)
        return "run", ["dagster", "api", "grpc-health-check", "-p", port]
    port = (
        _option(argv, ("-p", "--port")) or env.get("DAGSTER_WEBSERVER_PORT") or str(WEBSERVER_PORT)
    )
    prefix = _option(argv, ("-l", "--path-prefix")) or env.get("DAGSTER_WEBSERVER_PATH_PREFIX", "")
    return "http", f"http://127.0.0.1:{port}{prefix.rstrip('/')}/server_info"


def main() -> int:
    argv = Path("/proc/1/cmdline").read_bytes().rstrip(b"\0").decode().split("\0")
    kind, target = check(argv)
    try:
        if kind == "http":
            with urllib.request.urlopen(str(target), timeout=10) as response:
                return 0 if response.status == 200 else 1
        return subprocess.run(target, timeout=25, check=False).returncode  # type: ignore[arg-type]
    except Exception as exc:  # unhealthy, whatever the reason
        print(f"unhealthy: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
