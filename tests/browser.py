"""Drive headless Chromium from tests: open a page, wait for what a person would see,
save a screenshot and tell which network requests it made.

Chromium runs with a temporary profile and ``--remote-debugging-port``; the helper talks
the Chrome DevTools Protocol over a websocket (the ``websockets`` package) instead of using
``--dump-dom``, whose virtual time budget does not wait for a JavaScript app's fetches.
Every host but 127.0.0.1 resolves to nothing, so a page that needs the internet shows it:
its requests to other hosts are listed in :attr:`Page.external_requests`.

    with Browser() as browser:
        page = browser.open(url, expect=["FitSense API"], screenshot=path)
        assert not page.external_requests

Start servers on 127.0.0.1 (not ``localhost``) for the pages to load. The Dagster
webserver helpers at the end start one on a free port and wait for its asset graph.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from websockets.sync.client import ClientConnection, connect

LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}
HEADLESS_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--no-first-run",
    "--no-default-browser-check",
    "--hide-scrollbars",
    "--mute-audio",
    "--lang=en-US",
    # Nothing but this machine: a CDN or font host fails to resolve instead of loading.
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
]


def find_chromium() -> str | None:
    """The Chromium binary: ``$CHROMIUM`` if set, else the first of ``chromium``,
    ``chromium-browser`` on PATH; None when there is none."""
    if configured := os.environ.get("CHROMIUM"):
        return shutil.which(configured) or (configured if Path(configured).is_file() else None)
    for name in ("chromium", "chromium-browser"):
        if found := shutil.which(name):
            return found
    return None


class BrowserError(AssertionError):
    """The browser did not start, answer, or show what was expected in time."""


@dataclass
class Request:
    url: str
    failure: str | None = None  # Chromium's error text, e.g. net::ERR_NAME_NOT_RESOLVED

    @property
    def external(self) -> bool:
        parts = urlsplit(self.url)
        return parts.scheme in ("http", "https", "ws", "wss") and parts.hostname not in LOCAL_HOSTS


@dataclass
class Page:
    """What a page rendered: the text of its DOM (``document.body.innerText``) and the
    requests made while it loaded, in order."""

    url: str
    text: str
    requests: list[Request] = field(default_factory=list)

    @property
    def failed_requests(self) -> list[Request]:
        return [r for r in self.requests if r.failure]

    @property
    def external_requests(self) -> list[Request]:
        return [r for r in self.requests if r.external]


class _DevTools:
    """A minimal CDP session on one page target: commands answered in order, events kept."""

    def __init__(self, websocket: ClientConnection) -> None:
        self._ws = websocket
        self._next_id = 0
        self.events: list[dict[str, Any]] = []

    def call(self, method: str, timeout: float = 30, **params: Any) -> dict[str, Any]:
        self._next_id += 1
        message_id = self._next_id
        self._ws.send(json.dumps({"id": message_id, "method": method, "params": params}))
        deadline = time.monotonic() + timeout
        while True:
            message = self._receive(deadline, f"no answer to {method} within {timeout}s")
            if message.get("id") == message_id:
                if "error" in message:
                    raise BrowserError(f"{method} failed: {message['error']}")
                return message.get("result", {})

    def wait_for(self, event: str, since: int, timeout: float = 30) -> dict[str, Any]:
        """The first ``event`` among the events from index ``since`` on, waiting for it."""
        deadline = time.monotonic() + timeout
        seen = since
        while True:
            for message in self.events[seen:]:
                if message["method"] == event:
                    return message
            seen = len(self.events)
            self._receive(deadline, f"no {event} within {timeout}s")

    def _receive(self, deadline: float, error: str) -> dict[str, Any]:
        """The next message; an event is also kept in :attr:`events`."""
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise BrowserError(error)
        try:
            message = json.loads(self._ws.recv(timeout=remaining))
        except TimeoutError:
            raise BrowserError(error) from None
        if "method" in message:
            self.events.append(message)
        return message


class Browser:
    """One headless Chromium process, used as a context manager; each :meth:`open` loads a
    page in its tab. On exit Chromium's whole process group is killed and its temporary
    profile removed."""

    def __init__(
        self,
        binary: str | None = None,
        *,
        width: int = 1600,
        height: int = 1000,
        timezone: str = "UTC",
    ) -> None:
        binary = binary or find_chromium()
        if binary is None:
            raise BrowserError("no Chromium: set CHROMIUM or put chromium on PATH")
        self.binary = binary
        self.size = (width, height)
        self.timezone = timezone  # pages show times in it, whatever the machine's is
        self._stack = contextlib.ExitStack()
        self._devtools: _DevTools | None = None

    def __enter__(self) -> Browser:
        with self._stack as stack:  # undone at once if starting fails
            profile = Path(
                stack.enter_context(
                    tempfile.TemporaryDirectory(
                        prefix="fitsense-chromium-", ignore_cleanup_errors=True
                    )
                )
            )
            self._stderr_path = profile / "stderr.log"
            stderr = stack.enter_context(self._stderr_path.open("wb"))
            process = subprocess.Popen(
                [
                    self.binary,
                    *HEADLESS_FLAGS,
                    f"--user-data-dir={profile / 'profile'}",
                    "--remote-debugging-address=127.0.0.1",
                    "--remote-debugging-port=0",
                    f"--window-size={self.size[0]},{self.size[1]}",
                    "about:blank",
                ],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
                start_new_session=True,  # its own process group, killed whole at the end
            )
            stack.callback(_kill_group, process)
            port = self._wait_for_port(process, profile / "profile" / "DevToolsActivePort")
            # A screenshot arrives as one message of several MB: no size limit. After some
            # pages Chromium leaves the closing handshake unanswered; it is killed next anyway.
            websocket = stack.enter_context(
                connect(self._page_websocket(port), max_size=None, open_timeout=10, close_timeout=1)
            )
            self._devtools = devtools = _DevTools(websocket)
            devtools.call("Network.enable")
            devtools.call("Page.enable")
            # The viewport, and so every screenshot, is exactly this size (a headless window
            # comes out shorter than --window-size).
            devtools.call(
                "Emulation.setDeviceMetricsOverride",
                width=self.size[0],
                height=self.size[1],
                deviceScaleFactor=1,
                mobile=False,
            )
            devtools.call("Emulation.setTimezoneOverride", timezoneId=self.timezone)
            self._stack = stack.pop_all()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._devtools = None
        self._stack.close()

    def _wait_for_port(
        self, process: subprocess.Popen[bytes], active_port_file: Path, timeout: float = 30
    ) -> int:
        """Chromium writes the port it chose for ``--remote-debugging-port=0`` here."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if process.poll() is not None:
                log = self._stderr_path.read_text(errors="replace")[-2000:]
                raise BrowserError(f"chromium exited with {process.returncode}:\n{log}")
            lines = active_port_file.read_text().split() if active_port_file.exists() else []
            if lines:
                return int(lines[0])
            time.sleep(0.1)
        raise BrowserError(f"chromium opened no debugging port in {timeout}s")

    @staticmethod
    def _page_websocket(port: int) -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as r:
            targets = json.loads(r.read())
        pages = [t for t in targets if t.get("type") == "page"]
        if not pages:
            raise BrowserError(f"chromium has no page target: {targets}")
        return pages[0]["webSocketDebuggerUrl"]

    def open(
        self,
        url: str,
        *,
        expect: Sequence[str | re.Pattern[str]] = (),
        screenshot: Path | None = None,
        timeout: float = 60,
        settle: float = 0.5,
    ) -> Page:
        """Load ``url`` and wait until the page's text contains each string of ``expect``
        (or matches it, for a compiled pattern: ``re.search``), then wait ``settle`` seconds
        more for what is still arriving, save a PNG of the viewport to ``screenshot`` if
        given, and return what was rendered.

        Raises :class:`BrowserError` after ``timeout`` seconds, showing the missing strings,
        the text rendered so far and the requests that failed (the screenshot is saved all
        the same, to see what went wrong)."""
        devtools = self._devtools
        if devtools is None:
            raise BrowserError("use Browser as a context manager")
        first_event = len(devtools.events)
        deadline = time.monotonic() + timeout
        devtools.call("Page.navigate", url=url)
        # Until the new document has loaded, the text read could still be the last page's.
        devtools.wait_for("Page.loadEventFired", since=first_event, timeout=timeout)
        text = ""
        while True:
            text = self._text()
            missing = [e for e in expect if not _shows(text, e)]
            if not missing:
                break
            if time.monotonic() > deadline:
                if screenshot is not None:
                    self._screenshot(screenshot)
                page = self._page(url, text, first_event)
                failed = "\n".join(f"  {r.url}: {r.failure}" for r in page.failed_requests)
                raise BrowserError(
                    f"{url} did not show {missing} within {timeout}s.\n"
                    f"Failed requests:\n{failed or '  none'}\n"
                    f"Rendered text:\n{text[-3000:] or '(empty)'}"
                )
            time.sleep(0.25)
        if settle:
            time.sleep(settle)
            text = self._text()
        if screenshot is not None:
            self._screenshot(screenshot)
        return self._page(url, text, first_event)

    def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression in the page (JSON-serializable)."""
        assert self._devtools is not None
        result = self._devtools.call(
            "Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True
        )
        if "exceptionDetails" in result:
            raise BrowserError(f"{expression!r} raised: {result['exceptionDetails']}")
        return result["result"].get("value")

    def _text(self) -> str:
        return self.evaluate("document.body ? document.body.innerText : ''") or ""

    def _screenshot(self, path: Path) -> None:
        assert self._devtools is not None
        data = self._devtools.call("Page.captureScreenshot", format="png")["data"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(data))

    def _page(self, url: str, text: str, first_event: int) -> Page:
        assert self._devtools is not None
        self._devtools.call("Runtime.evaluate", expression="0")  # collect the latest events
        requests: list[Request] = []
        by_id: dict[str, Request] = {}  # a redirect reuses the id: the latest hop fails
        for event in self._devtools.events[first_event:]:
            params = event.get("params", {})
            if event["method"] == "Network.requestWillBeSent":
                by_id[params["requestId"]] = request = Request(params["request"]["url"])
                requests.append(request)
            elif event["method"] == "Network.loadingFailed" and params["requestId"] in by_id:
                by_id[params["requestId"]].failure = params.get("errorText") or "failed"
        return Page(url=url, text=text, requests=requests)


def _shows(text: str, expected: str | re.Pattern[str]) -> bool:
    if isinstance(expected, re.Pattern):
        return expected.search(text) is not None
    return expected in text


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM Chromium's process group (its zygote, GPU and renderer processes), then
    SIGKILL whatever is left after a few seconds."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=10)
    # Children may outlive the main process a moment; the group goes in any case.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=10)


# --- the Dagster webserver whose pages the tests open -----------------------------------

ASSET_QUERY = "{ assetNodes { assetKey { path } groupName } }"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def graphql(port: int, query: str) -> dict[str, Any]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql",
        data=json.dumps({"query": query}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def wait_for_assets(port: int, process: subprocess.Popen, timeout: float = 120) -> set[str]:
    """The asset keys the webserver on ``port`` serves, once it serves any."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"server exited with {process.returncode}")
        try:
            nodes = graphql(port, ASSET_QUERY)["data"]["assetNodes"]
            if nodes:
                return {"/".join(n["assetKey"]["path"]) for n in nodes}
        except Exception as exc:  # not up yet
            last_error = exc
        time.sleep(1)
    raise AssertionError(f"no asset graph after {timeout}s: {last_error}")


def stop(process: subprocess.Popen, sig: int = signal.SIGTERM) -> int:
    """Stop a server started with ``start_new_session=True``; SIGKILL its group if it hangs."""
    process.send_signal(sig)
    try:
        return process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        raise


@dataclass
class Webserver:
    port: int
    asset_keys: set[str]  # what its asset graph held when it came up

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@contextlib.contextmanager
def dagster_webserver(env: Mapping[str, str], cwd: Path) -> Iterator[Webserver]:
    """``dagster-webserver`` on ``cwd``'s workspace.yaml and the instance of
    ``env["DAGSTER_HOME"]``, from the moment its asset graph is loaded; stopped after.
    If it never loads, the error ends with the webserver's log."""
    port = free_port()
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(
            [
                *(sys.executable, "-m", "dagster_webserver", "-w", "workspace.yaml"),
                *("-h", "127.0.0.1", "-p", str(port)),
            ],
            cwd=cwd,
            env=dict(env),
            start_new_session=True,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            try:
                asset_keys = wait_for_assets(port, process)
            except AssertionError as exc:
                log.seek(0)
                tail = log.read().decode(errors="replace")[-3000:]
                raise AssertionError(f"{exc}\ndagster-webserver's log:\n{tail}") from None
            yield Webserver(port, asset_keys)
        finally:
            stop(process)
