"""How `fitsense` commands start and stop their child processes (fitsense_cli/processes.py):
a child's whole process group is signalled, a child that ignores SIGTERM is killed once the
grace period has passed, and a foreground child receives the signals its command gets."""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from fitsense_cli.processes import (
    ModelReady,
    ProcessGroup,
    StartupError,
    wait_for_signal_or_exit,
    wait_forwarding_signals,
)

# A child that starts a grandchild in its own session, writes the grandchild's pid,
# says "ready" once its signal handling is set, and sleeps.
CHILD = """
import signal, subprocess, sys, time
grandchild = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
open(sys.argv[1], "w").write(str(grandchild.pid))
if sys.argv[2] == "ignore":
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
elif sys.argv[2] == "exit-3-on-sigint":
    signal.signal(signal.SIGINT, lambda *_: sys.exit(3))
print("ready", flush=True)
time.sleep(60)
"""


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie (exited, not yet reaped by its parent) counts as gone.
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


def gone(pid: int, within_s: float = 5.0) -> bool:
    """``pid`` has exited, or does within ``within_s``: a grandchild gets the group's
    signal with its parent but may exit a moment after the parent is reaped (seen on a
    loaded 2-core machine)."""
    deadline = time.monotonic() + within_s
    while alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def describe(pid: int) -> str:
    """What /proc says of ``pid`` (state, parent, process group and command line), for a
    failure message: the whole-group test failed in full-suite runs with the grandchild
    still alive, and passes alone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError as exc:
        return f"pid {pid}: {exc}"
    return f"pid {pid}: state {stat[0]}, ppid {stat[1]}, pgid {stat[2]}, cmdline {cmdline!r}"


def start_child(group: ProcessGroup, tmp_path: Path, mode: str) -> tuple[int, int]:
    """(child pid, grandchild pid) once the child is ready."""
    pid_file = tmp_path / f"{mode}.pid"
    child = group.start(mode, [sys.executable, "-c", CHILD, str(pid_file), mode])
    group.wait_until(
        child,
        lambda: pid_file.exists() and "ready" in child.log_tail(),
        30,
        "its ready line",
    )
    return child.process.pid, int(pid_file.read_text())


def test_stop_takes_the_childs_whole_process_group(tmp_path: Path) -> None:
    messages: list[str] = []
    group = ProcessGroup(tmp_path / "logs", messages.append, grace_s=10)
    child, grandchild = start_child(group, tmp_path, "default")
    group.stop()
    assert not alive(child) and gone(grandchild), describe(grandchild)
    assert group.children[0].process.returncode == -signal.SIGTERM
    assert messages == [f"stopping default (pid {child})"]


def test_a_child_that_ignores_sigterm_is_killed_after_the_grace(tmp_path: Path) -> None:
    messages: list[str] = []
    group = ProcessGroup(tmp_path / "logs", messages.append, grace_s=1)
    child, grandchild = start_child(group, tmp_path, "ignore")
    started = time.monotonic()
    group.stop()
    assert 1 <= time.monotonic() - started < 10
    assert group.children[0].process.returncode == -signal.SIGKILL
    assert not alive(child) and gone(grandchild)
    assert messages[-1] == "ignore did not stop within 1 s; killing it"


def send_self(signum: int, after_s: float) -> None:
    threading.Timer(after_s, os.kill, (os.getpid(), signum)).start()


def test_a_foreground_child_gets_the_signal_and_its_exit_status_is_returned(
    tmp_path: Path,
) -> None:
    group = ProcessGroup(tmp_path / "logs", print, grace_s=10)
    start_child(group, tmp_path, "exit-3-on-sigint")
    before = signal.getsignal(signal.SIGINT)
    send_self(signal.SIGINT, 0.2)
    assert wait_forwarding_signals(group, group.children[0]) == 3
    assert signal.getsignal(signal.SIGINT) is before
    group.stop()


def test_a_foreground_child_that_ignores_the_signal_is_killed_after_the_grace(
    tmp_path: Path,
) -> None:
    messages: list[str] = []
    group = ProcessGroup(tmp_path / "logs", messages.append, grace_s=1)
    _, grandchild = start_child(group, tmp_path, "ignore")
    send_self(signal.SIGTERM, 0.2)
    assert wait_forwarding_signals(group, group.children[0]) == -signal.SIGKILL
    assert gone(grandchild)
    assert messages == ["ignore did not stop within 1 s; killing it"]


def test_a_child_that_exits_on_its_own_ends_the_wait_with_1(tmp_path: Path) -> None:
    messages: list[str] = []
    group = ProcessGroup(tmp_path / "logs", messages.append)
    group.start("short", [sys.executable, "-c", "print('bye'); raise SystemExit(4)"])
    assert wait_for_signal_or_exit(group) == 1
    assert messages[0].startswith("short exited with 4; stopping the rest.")
    assert "bye" in messages[0]


# The Authorization header of each request the /ready below received.
READY_AUTHORIZATIONS: list[str | None] = []


@pytest.fixture
def ready_endpoint() -> Iterator[tuple[str, list[tuple[int, dict]]]]:
    """A /ready that answers the last (status, body) in the list it yields."""
    answers: list[tuple[int, dict]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            READY_AUTHORIZATIONS.append(self.headers.get("Authorization"))
            status, body = answers[-1]
            payload = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", answers
    finally:
        server.shutdown()
        server.server_close()


def test_model_ready_waits_for_a_starting_version_and_lets_nothing_to_serve_settle(
    ready_endpoint: tuple[str, list[tuple[int, dict]]],
) -> None:
    root, answers = ready_endpoint
    ready = ModelReady(root, settle_s=0.5)
    answers.append((503, {"ready": False, "reason": "starting v1"}))
    assert not ready()
    answers.append((200, {"ready": True, "version": "v1"}))
    assert ready() and ready.state["version"] == "v1"

    none_to_serve = ModelReady(root, settle_s=0.5)
    answers.append((503, {"ready": False, "reason": "no model version is promoted"}))
    assert not none_to_serve()
    time.sleep(0.6)
    assert none_to_serve()
    assert none_to_serve.state["reason"] == "no model version is promoted"

    answers.append((401, {}))
    with pytest.raises(StartupError, match="answered 401 on /ready"):
        ModelReady(root)()


def test_model_ready_asks_with_the_model_key(
    ready_endpoint: tuple[str, list[tuple[int, dict]]],
) -> None:
    """Without the key fitsense serve's /ready says the status alone, not "starting vN"."""
    root, answers = ready_endpoint
    answers.append((200, {"ready": True, "version": "v1"}))
    READY_AUTHORIZATIONS.clear()
    assert ModelReady(root, "the-model-key")()
    assert READY_AUTHORIZATIONS == ["Bearer the-model-key"]


@pytest.fixture
def sigint_ignored() -> Iterator[None]:
    """SIGINT ignored, as in any command started in the background by a shell (`make run &`,
    nohup, a CI step)."""
    saved = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    yield
    for signum, handler in saved.items():
        signal.signal(signum, handler)


def _materialize_once() -> None:
    import dagster as dg

    @dg.asset
    def one() -> int:
        return 1

    assert dg.materialize([one]).success


def test_dagster_in_process_leaves_sigterm_ignored_where_sigint_is(sigint_ignored) -> None:
    # What the runner guards against: without the guard, a background `fitsense up` would
    # start its model server, API and Dagster with SIGTERM ignored.
    before = signal.getsignal(signal.SIGTERM)
    _materialize_once()
    assert before is not signal.SIG_IGN
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_IGN


def test_an_in_process_pipeline_run_keeps_sigterm_so_children_stop(
    sigint_ignored, tmp_path: Path
) -> None:
    from fitsense_assets.runner import termination_signals_kept

    before = signal.getsignal(signal.SIGTERM)
    with termination_signals_kept():
        _materialize_once()
    assert signal.getsignal(signal.SIGTERM) is before
    group = ProcessGroup(tmp_path / "logs", lambda _: None, grace_s=10)
    _, grandchild = start_child(group, tmp_path, "default")
    group.stop()
    assert group.children[0].process.returncode == -signal.SIGTERM
    assert gone(grandchild), describe(grandchild)
