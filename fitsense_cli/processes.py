"""Child processes of a ``fitsense`` command: the one way any command starts and stops them.

Each child runs in its own session (a Dagster process started from a non-interactive shell
ignores SIGINT/SIGTERM otherwise), so a signal meant for it goes to its whole process group,
and whatever it started goes with it. Stopping is SIGTERM, then SIGKILL
once the group's grace period has passed.
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
from typing import Any

from fitsense_core.errors import FitSenseError

STOP_TIMEOUT_S = 30.0


class StartupError(FitSenseError):
    """A process did not come up."""


@dataclass
class Child:
    name: str
    process: subprocess.Popen
    log_path: Path | None  # None: its output goes to this command's terminal
    url: str = ""

    def log_tail(self, chars: int = 2000) -> str:
        if self.log_path is None:
            return "(its output is above)"
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return "(no log)"


def fitsense_command() -> list[str]:
    """``fitsense`` as a child process runs it: this environment's Python."""
    return [sys.executable, "-m", "fitsense_cli"]


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
    """The children a command started, stopped together.

    With a ``log_dir`` each child's output goes to ``<log_dir>/<name>.log``; without one,
    to this command's own stdout and stderr. ``grace_s`` is how long a child has to exit
    after SIGTERM (or a forwarded signal) before its process group is killed."""

    log_dir: Path | None
    echo: Callable[[str], None]
    grace_s: float = STOP_TIMEOUT_S
    children: list[Child] = field(default_factory=list)

    def start(self, name: str, argv: list[str], *, cwd: Path | None = None) -> Child:
        log_path = None
        output: Any = None
        if self.log_dir is not None:
            self.log_dir.mkdir(parents=True, exist_ok=True)
            log_path = self.log_dir / f"{name}.log"
            output = log_path.open("ab")
        try:
            process = subprocess.Popen(
                argv,
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT if output is not None else None,
                start_new_session=True,
            )
        finally:
            if output is not None:
                output.close()
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

    def signal(self, signum: int) -> None:
        """Send ``signum`` to every running child's process group, newest first."""
        for child in reversed(self.children):
            if child.process.poll() is None:
                _signal_group(child.process, signum)

    def stop(self) -> None:
        """SIGTERM to every child's process group, newest first; SIGKILL after the grace."""
        for child in reversed(self.children):
            if child.process.poll() is None:
                self.echo(f"stopping {child.name} (pid {child.process.pid})")
        self.signal(signal.SIGTERM)
        deadline = time.monotonic() + self.grace_s
        for child in reversed(self.children):
            remaining = max(0.1, deadline - time.monotonic())
            try:
                child.process.wait(timeout=remaining)
            except subprocess.TimeoutExpired:
                self.kill(child)
            # Whatever the child left behind in its session goes too.
            _signal_group(child.process, signal.SIGKILL)

    def kill(self, child: Child) -> int:
        """SIGKILL ``child``'s process group, its grace being over; its exit status."""
        self.echo(f"{child.name} did not stop within {self.grace_s:.0f} s; killing it")
        _signal_group(child.process, signal.SIGKILL)
        return child.process.wait()


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


@dataclass
class ModelReady:
    """``fitsense serve``'s /ready as a readiness test: true once a version serves, or once
    the proxy has said for ``settle_s`` that it has none to serve (the API then answers from
    the knowledge-based coach until one is promoted). A version still starting is waited
    for; the settling covers the moment before the proxy's first look at the registry.
    ``state`` is the last body /ready answered; it names versions and reasons only to the
    holder of the model API key (``api_key``), else it is the status alone."""

    root: str
    api_key: str | None = field(default=None, repr=False)
    settle_s: float = 15.0
    state: dict[str, Any] = field(default_factory=dict)
    unready_since: float | None = None

    def __call__(self) -> bool:
        try:
            request = urllib.request.Request(f"{self.root}/ready")
            if self.api_key:
                request.add_header("Authorization", f"Bearer {self.api_key}")
            with urllib.request.urlopen(request, timeout=2) as response:
                self.state = json.loads(response.read() or b"{}")
                return True
        except urllib.error.HTTPError as exc:
            if exc.code != 503:
                raise StartupError(f"fitsense serve answered {exc.code} on /ready") from exc
            self.state = json.loads(exc.read() or b"{}")
        except (urllib.error.URLError, OSError, TimeoutError):
            return False
        if str(self.state.get("reason", "")).startswith("starting"):
            return False
        self.unready_since = self.unready_since or time.monotonic()
        return time.monotonic() - self.unready_since >= self.settle_s


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


def wait_forwarding_signals(group: ProcessGroup, child: Child) -> int:
    """Wait for ``child`` to exit and return its exit status. SIGINT and SIGTERM received
    meanwhile go on to its process group; from the first one it has the group's grace
    period, then its process group is killed."""
    stopping = {"since": 0.0}

    def forward(signum: int, _frame: object) -> None:
        _signal_group(child.process, signum)
        stopping["since"] = stopping["since"] or time.monotonic()

    previous = {s: signal.signal(s, forward) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        while True:
            try:
                return child.process.wait(timeout=0.5)
            except subprocess.TimeoutExpired:
                if stopping["since"] and time.monotonic() - stopping["since"] > group.grace_s:
                    return group.kill(child)
    finally:
        for signum, handler_before in previous.items():
            signal.signal(signum, handler_before)
