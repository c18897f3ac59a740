"""``fitsense up``: the whole system on one machine, as child processes it owns.

The model server (``fitsense serve``), the API (``fitsense api``), the Dagster webserver and
the Dagster daemon each run in their own session (a Dagster process started from a
non-interactive shell ignores SIGINT/SIGTERM otherwise, see STACK.md), with their logs in
``$FITSENSE_HOME/logs``. Ctrl-C or SIGTERM stops them all, newest first; a child that dies
on its own stops the rest and ``fitsense up`` exits non-zero.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from fitsense_core.errors import FitSenseError

STOP_TIMEOUT_S = 30.0


class StartupError(FitSenseError):
    """A process did not come up."""


@dataclass
class Child:
    name: str
    process: subprocess.Popen
    log_path: Path
    url: str = ""

    def log_tail(self, chars: int = 2000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return "(no log)"


def port_in_use(host: str, port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(1)
        return probe.connect_ex((host, port)) == 0


def executable(name: str) -> str:
    """A console script of this environment (next to the running Python)."""
    path = Path(sys.executable).parent / name
    if not path.exists():
        raise StartupError(f"{name} is not installed next to {sys.executable}: run `make setup`")
    return str(path)


@dataclass
class ProcessGroup:
    """The children ``fitsense up`` started, stopped together."""

    log_dir: Path
    echo: Callable[[str], None]
    children: list[Child] = field(default_factory=list)

    def start(self, name: str, argv: list[str], *, cwd: Path | None = None) -> Child:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log_path = self.log_dir / f"{name}.log"
        log = log_path.open("ab")
        try:
            process = subprocess.Popen(
                argv,
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        finally:
            log.close()
        child = Child(name, process, log_path)
        self.children.append(child)
        return child

    def wait_until(
        self,
        child: Child,
        ready: Callable[[], bool],
        timeout_s: float,
        what: str,
    ) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if child.process.poll() is not None:
                raise StartupError(
                    f"{child.name} exited with {child.process.returncode} before {what}; "
                    f"the end of {child.log_path}:\n{child.log_tail()}"
                )
            if ready():
                return
            time.sleep(0.5)
        raise StartupError(
            f"{child.name}: no {what} within {timeout_s:.0f} s; the end of {child.log_path}:\n"
            f"{child.log_tail()}"
        )

    def exited(self) -> Child | None:
        return next((c for c in self.children if c.process.poll() is not None), None)

    def stop(self) -> None:
        """SIGTERM to every child's process group, newest first; SIGKILL after a timeout."""
        for child in reversed(self.children):
            if child.process.poll() is None:
                self.echo(f"stopping {child.name} (pid {child.process.pid})")
                _signal_group(child.process, signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT_S
        for child in reversed(self.children):
            remaining = max(0.1, deadline - time.monotonic())
            try:
                child.process.wait(timeout=remaining)
            except subprocess.TimeoutExpired:
                self.echo(f"{child.name} did not stop within {STOP_TIMEOUT_S:.0f} s; killing it")
                _signal_group(child.process, signal.SIGKILL)
                child.process.wait()
            # Whatever the child left behind in its session goes too.
            _signal_group(child.process, signal.SIGKILL)


def _signal_group(process: subprocess.Popen, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signum)


def http_ok(url: str, *, accept: tuple[int, ...] = (200,)) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status in accept
    except urllib.error.HTTPError as exc:
        return exc.code in accept
    except (urllib.error.URLError, OSError, TimeoutError):
        return False


def model_ready(root: str) -> Callable[[], bool]:
    """The proxy answers /ready: 200 once a version serves, 503 with a reason otherwise
    (no version promoted yet: the API falls back to the knowledge-based coach)."""

    def ready() -> bool:
        try:
            with urllib.request.urlopen(f"{root}/ready", timeout=2):
                return True
        except urllib.error.HTTPError as exc:
            if exc.code != 503:
                return False
            reason = json.loads(exc.read() or b"{}").get("reason", "")
            return not reason.startswith("starting")
        except (urllib.error.URLError, OSError, TimeoutError):
            return False

    return ready


def wait_for_signal_or_exit(group: ProcessGroup) -> int:
    """Block until SIGINT/SIGTERM (0) or until a child exits on its own (1)."""
    stop = {"signal": 0}

    def handler(signum: int, _frame: object) -> None:
        stop["signal"] = signum

    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        while not stop["signal"]:
            dead = group.exited()
            if dead is not None:
                group.echo(
                    f"{dead.name} exited with {dead.process.returncode}; stopping the rest. "
                    f"The end of {dead.log_path}:\n{dead.log_tail()}"
                )
                return 1
            time.sleep(0.5)
        group.echo(f"{signal.Signals(stop['signal']).name}: stopping every FitSense process")
        return 0
    finally:
        for signum, handler_before in previous.items():
            signal.signal(signum, handler_before)
