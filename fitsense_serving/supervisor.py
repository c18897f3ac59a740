"""The serving front that ``fitsense serve`` runs: a proxy that switches model versions.

The API knows one URL and one key (:class:`~fitsense_core.inference.endpoint.ModelEndpoint`).
Behind that URL this module runs a llama.cpp server per model version, each on a free
port with its own internal key, and forwards the OpenAI-protocol requests to one of them.
A background poll reads the registry; when the serving version changes (a promotion or a
``fitsense model rollback``) it starts the new version's server beside the old one, checks
that it answers, switches new requests to it, lets the old one finish what it is doing
(drain) and stops it. So a promotion never drops a request and a failed start never takes
the working version down.

Pieces, kept apart so that tests can drive each one:

- :class:`Supervisor`: owns the llama.cpp processes; :meth:`Supervisor.reconcile` is one
  poll step.
- :func:`create_proxy_app`: the ASGI app (auth, routing, streaming pass-through).
- :func:`serve_forever`: uvicorn with SIGINT/SIGTERM handled so that every llama.cpp
  process is stopped before the command exits; :class:`BackgroundProxy` runs the same in
  a thread for tests and synchronous programs.

llama.cpp's Python server answers one request at a time, and by default a second request
*interrupts* a running stream (its ``interrupt_requests`` setting). The proxy therefore
sends one request at a time and queues the rest itself: concurrent users wait their turn
instead of cutting each other off. By default that turn is shared by all backends, old and
new: on two cores, two llama.cpp servers generating at once thrash (measured: 256 tokens
took 12.6 s instead of 3.8 s while the other server wrote 8), so during a drain the new
version waits for the old one's answer rather than both slowing down.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import os
import re
import secrets
import signal
import socket
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import Future as ThreadFuture
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar

import httpx
import psycopg
import uvicorn

from fitsense_core.artifacts import ArtifactStore, file_sha256
from fitsense_core.errors import FitSenseError
from fitsense_core.student import registry
from fitsense_core.student.registry import ModelVersion
from fitsense_core.inference.endpoint import served_model_name
from fitsense_serving.llama_server import LlamaServer, start_llama_server

log = logging.getLogger("fitsense.serving")

NO_VERSION_MESSAGE = (
    "no model version serves: run `fitsense pipeline run` or `fitsense model promote <version>`"
)
MAX_BODY_BYTES = 8 * 1024 * 1024
# Headers that describe one hop of the connection, not the answer (RFC 9110 §7.6.1).
HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-authenticate",
        b"proxy-authorization",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
        b"server",
        b"date",
    }
)
FORWARDED_REQUEST_HEADERS = frozenset({b"content-type", b"accept", b"x-request-id"})
VERSION_HEADER = b"x-fitsense-model-version"

T = TypeVar("T")
Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


class ServingError(FitSenseError):
    """A model version cannot be served, or the proxy cannot listen."""


@dataclass(frozen=True)
class ServingTarget:
    """What should be served: a version name and where its GGUF file is."""

    version: str
    gguf_uri: str
    gguf_sha256: str | None = None

    @classmethod
    def of(cls, version: ModelVersion) -> ServingTarget:
        return cls(version.version, version.gguf_uri, version.gguf_sha256 or None)


TargetSource = Callable[[], "ServingTarget | None"]
"""Called (in a worker thread) on every poll: what should serve now, or None."""


def registry_target(database_url: str) -> TargetSource:
    """Follow the registry: whatever version has status ``serving``."""

    def current() -> ServingTarget | None:
        version = registry.serving(database_url)
        return ServingTarget.of(version) if version else None

    return current


def pinned_target(database_url: str, version: str) -> TargetSource:
    """Always one registry version, whatever the registry serves (``--version``)."""

    def pinned() -> ServingTarget:
        return ServingTarget.of(registry.get(database_url, version))

    return pinned


def gguf_target(path: Path, name: str) -> TargetSource:
    """Any GGUF file under a version name of one's choosing, no registry (``--gguf``)."""
    target = ServingTarget(name, str(path.absolute()))
    return lambda: target


def _file_safe(version: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", version)


def resolve_gguf(target: ServingTarget, cache_dir: Path) -> Path:
    """A local file for ``target``'s GGUF: a local path as it is; a ``gs://`` object
    downloaded once to ``cache_dir/<version>.gguf`` and checked against the registry's
    digest, so a changed or corrupted file is never served under the version's name."""
    uri = target.gguf_uri
    if uri.startswith("gs://"):
        dest = cache_dir / f"{_file_safe(target.version)}.gguf"
        if dest.is_file() and target.gguf_sha256 in (None, file_sha256(dest)):
            return dest
        parent, name = uri.rsplit("/", 1)
        data = ArtifactStore(parent).read_bytes(name)
        digest = hashlib.sha256(data).hexdigest()
        if target.gguf_sha256 and digest != target.gguf_sha256:
            raise ServingError(
                f"{uri} has sha256 {digest}, but the registry records {target.gguf_sha256} "
                f"for version {target.version}: the file changed or is corrupted; not serving it"
            )
        dest.parent.mkdir(parents=True, exist_ok=True)
        partial = dest.with_name(dest.name + ".partial")
        partial.write_bytes(data)
        os.replace(partial, dest)
        log.info("downloaded %s to %s (%.1f MB)", uri, dest, len(data) / 1e6)
        return dest
    if "://" in uri and not uri.startswith("file://"):
        raise ServingError(
            f"the GGUF of version {target.version} is at {uri}: only local paths and gs:// "
            "URIs can be served"
        )
    path = Path(uri.removeprefix("file://"))
    if not path.is_file():
        raise ServingError(f"the GGUF file of version {target.version} is missing: {path}")
    return path


@dataclass(eq=False)
class Backend:
    """One llama.cpp server for one version, with the proxy's view of its load."""

    version: str
    server: LlamaServer
    gguf: Path
    state: Literal["active", "draining", "stopped"] = "active"
    in_flight: int = 0
    served: int = 0
    exit_reported: bool = False
    # One request at a time (shared between backends by default): see the module docstring.
    turn: asyncio.Lock = field(default_factory=asyncio.Lock)

    @property
    def alias(self) -> str:
        return self.server.model_alias

    @property
    def pid(self) -> int:
        return self.server.process.pid

    @property
    def alive(self) -> bool:
        return self.server.process.poll() is None

    @property
    def exit_code(self) -> int | None:
        return self.server.process.poll()

    def describe(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "model": self.alias,
            "state": self.state,
            "pid": self.pid,
            "alive": self.alive,
            "in_flight": self.in_flight,
            "served": self.served,
        }


class Supervisor:
    """Keeps the right model version served and owns every llama.cpp process it starts.

    ``source`` says what should serve (see :func:`registry_target`, :func:`pinned_target`,
    :func:`gguf_target`). ``poll_interval_s=None`` disables the background poll; the
    caller then drives :meth:`reconcile` itself (tests do). At most ``max_backends``
    llama.cpp servers run at once (the old and the new one during a switch): on two cores
    a third would only slow the other two down. ``concurrent_backends=True`` lets
    backends generate at the same time (each still one request at a time): only worth it
    with cores enough for every backend's ``n_threads``.
    """

    def __init__(
        self,
        source: TargetSource,
        *,
        home: Path,
        poll_interval_s: float | None = 5.0,
        drain_timeout_s: float = 120.0,
        retry_backoff_s: float = 60.0,
        n_ctx: int = 2048,
        n_threads: int | None = None,
        startup_timeout_s: float = 120.0,
        upstream_timeout_s: float = 300.0,
        max_backends: int = 2,
        concurrent_backends: bool = False,
    ) -> None:
        self.source = source
        self.home = home
        self.poll_interval_s = poll_interval_s
        self.drain_timeout_s = drain_timeout_s
        self.retry_backoff_s = retry_backoff_s
        self.n_ctx = n_ctx
        self.n_threads = n_threads
        self.startup_timeout_s = startup_timeout_s
        self.upstream_timeout_s = upstream_timeout_s
        self.max_backends = max_backends
        self.concurrent_backends = concurrent_backends
        self._shared_turn = asyncio.Lock()
        self.active: Backend | None = None
        self.backends: list[Backend] = []
        self.started_pids: list[int] = []
        self.starting: str | None = None
        self._failure: tuple[str, float] | None = None
        self._last_notice: str | None = None
        self._reconcile_lock = asyncio.Lock()
        self._poll_task: asyncio.Task[None] | None = None
        self._drain_tasks: set[asyncio.Task[None]] = set()
        self._pending_start: asyncio.Future[tuple[LlamaServer, Path]] | None = None
        self._http: httpx.AsyncClient | None = None
        self._closing = False
        self._closed = False

    # --- lifecycle --------------------------------------------------------------------

    async def start(self) -> None:
        """Start the background poll (its first step runs at once)."""
        if self.poll_interval_s is not None and self._poll_task is None:
            self._poll_task = asyncio.create_task(self._poll(), name="fitsense-serving-poll")

    async def _poll(self) -> None:
        assert self.poll_interval_s is not None
        while True:
            try:
                await self.reconcile()
            except Exception:
                # reconcile reports the failures it expects; anything else is a bug, but
                # stopping the poll would freeze serving on the current version silently.
                log.exception("serving poll failed; trying again in %ss", self.poll_interval_s)
            await asyncio.sleep(self.poll_interval_s)

    async def close(self) -> None:
        """Stop polling, wait for a start in progress, and stop every backend."""
        if self._closed:
            return
        self._closing = True
        if self._poll_task is not None:
            self._poll_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._poll_task
        pending = self._pending_start
        if pending is not None:
            try:
                server, _ = await pending
            except (FitSenseError, OSError) as exc:
                log.warning("a backend start in progress at shutdown did not finish: %s", exc)
            else:
                await asyncio.to_thread(server.stop)
        for task in list(self._drain_tasks):
            task.cancel()
        for task in list(self._drain_tasks):
            with contextlib.suppress(asyncio.CancelledError):
                await task
        busy = [b for b in self.backends if b.in_flight]
        if busy:
            log.warning(
                "stopping with requests still in flight: %s",
                ", ".join(f"{b.version} ({b.in_flight})" for b in busy),
            )
        await asyncio.gather(*(self._stop(b) for b in list(self.backends)))
        self.active = None
        if self._http is not None:
            await self._http.aclose()
        self._closed = True

    def stop_all_now(self) -> None:
        """Synchronous last resort (the event loop is gone): stop what is still running."""
        self._closing = True
        for backend in list(self.backends):
            backend.server.stop()
            backend.state = "stopped"
        self.backends.clear()
        self.active = None

    # --- one poll step ----------------------------------------------------------------

    async def reconcile(self) -> None:
        """Make the served version match the source: start, switch, restart, or nothing."""
        async with self._reconcile_lock:
            if self._closing:
                return
            self._report_exits()
            try:
                target = await asyncio.to_thread(self.source)
            except (FitSenseError, psycopg.Error) as exc:
                still = self._still_serving()
                self._notice(logging.ERROR, f"cannot find what to serve: {exc}; {still}")
                return
            if target is None:
                extra = f" ({self._still_serving()})" if self.active else ""
                self._notice(logging.WARNING, NO_VERSION_MESSAGE + extra)
                return
            if self._failure and self._failure[0] != target.version:
                self._failure = None
            active = self.active
            if active is not None and active.version == target.version and active.alive:
                self._failure = None
                self._last_notice = None
                return
            draining = next(
                (
                    b
                    for b in self.backends
                    if b.version == target.version and b.state == "draining" and b.alive
                ),
                None,
            )
            if draining is not None:
                self._reactivate(draining)
                return
            await self._bring_up(target)

    def _still_serving(self) -> str:
        active = self.active
        if active is not None and active.alive:
            return f"still serving {active.version}"
        return "nothing is served"

    def _notice(self, level: int, message: str) -> None:
        """Log a condition once, not on every poll while it lasts."""
        if message != self._last_notice:
            log.log(level, message)
            self._last_notice = message

    def _report_exits(self) -> None:
        for backend in list(self.backends):
            if backend.alive or backend.exit_reported:
                continue
            backend.exit_reported = True
            what = "it is restarted" if backend is self.active else "it was draining"
            log.error(
                "the llama.cpp server of %s (pid %s) exited with code %s; %s (log: %s)",
                backend.version,
                backend.pid,
                backend.exit_code,
                what,
                backend.server.log_path,
            )
            if backend is not self.active:
                backend.state = "stopped"
                self.backends.remove(backend)

    async def _bring_up(self, target: ServingTarget) -> None:
        if self._failure and time.monotonic() - self._failure[1] < self.retry_backoff_s:
            return
        running = [b for b in self.backends if b.alive]
        if len(running) >= self.max_backends:
            self._notice(
                logging.INFO,
                f"waiting for {', '.join(b.version for b in running if b is not self.active)} "
                f"to drain before starting {target.version} "
                f"(at most {self.max_backends} llama.cpp servers at once)",
            )
            return
        previous = self.active
        self.starting = target.version
        try:
            backend = await self._start_backend(target)
        except (FitSenseError, OSError) as exc:
            self._failure = (target.version, time.monotonic())
            log.error(
                "could not start version %s: %s -- %s; next try in %.0fs or when the "
                "serving version changes",
                target.version,
                exc,
                self._still_serving(),
                self.retry_backoff_s,
            )
            return
        finally:
            self.starting = None
        self.active = backend
        self._failure = None
        self._last_notice = None
        if previous is None:
            log.info("serving %s as %s", backend.version, backend.alias)
        elif previous.version == backend.version:
            log.info("restarted %s (pid %s)", backend.version, backend.pid)
        else:
            log.info("switched: %s serves now (was %s)", backend.version, previous.version)
        if previous is not None:
            self._retire(previous)

    async def _start_backend(self, target: ServingTarget) -> Backend:
        log_path = self.home / "logs" / f"llama-{_file_safe(target.version)}.log"

        def start() -> tuple[LlamaServer, Path]:
            gguf = resolve_gguf(target, self.home / "serving")
            server = start_llama_server(
                gguf,
                model_alias=served_model_name(target.version),
                api_key=secrets.token_urlsafe(24),
                log_path=log_path,
                n_ctx=self.n_ctx,
                n_threads=self.n_threads,
                startup_timeout_s=self.startup_timeout_s,
            )
            if self._closing:
                # Shut down while this thread was starting it: nobody else will stop it.
                server.stop()
                raise ServingError(f"shut down while {target.version} was starting")
            return server, gguf

        future = asyncio.ensure_future(asyncio.to_thread(start))
        self._pending_start = future
        try:
            # Cancelling reconcile (shutdown) must not abandon the thread's result: close()
            # awaits _pending_start and stops the server it produced.
            server, gguf = await asyncio.shield(future)
        finally:
            if future.done():
                self._pending_start = None
        turn = asyncio.Lock() if self.concurrent_backends else self._shared_turn
        backend = Backend(target.version, server, gguf, turn=turn)
        self.backends.append(backend)
        self.started_pids.append(backend.pid)
        log.info(
            "started llama.cpp for %s (pid %s, %s, log %s)",
            target.version,
            backend.pid,
            gguf,
            log_path,
        )
        return backend

    def _reactivate(self, backend: Backend) -> None:
        previous = self.active
        backend.state = "active"
        self.active = backend
        self._last_notice = None
        log.info("switched back: %s serves again (its server was still draining)", backend.version)
        if previous is not None:
            self._retire(previous)

    def _retire(self, backend: Backend) -> None:
        if not backend.alive:
            backend.state = "stopped"
            if backend in self.backends:
                self.backends.remove(backend)
            return
        backend.state = "draining"
        task = asyncio.create_task(self._drain(backend), name=f"drain-{backend.version}")
        self._drain_tasks.add(task)
        task.add_done_callback(self._drain_done)

    def _drain_done(self, task: asyncio.Task[None]) -> None:
        self._drain_tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("draining failed", exc_info=task.exception())

    async def _drain(self, backend: Backend) -> None:
        began = time.monotonic()
        deadline = began + self.drain_timeout_s
        waited = backend.in_flight
        while (
            backend.state == "draining"
            and backend.in_flight
            and backend.alive
            and time.monotonic() < deadline
        ):
            await asyncio.sleep(0.05)
        if backend.state != "draining":
            return
        if not backend.alive:
            log.error(
                "the llama.cpp server of %s exited with code %s while draining",
                backend.version,
                backend.exit_code,
            )
            backend.exit_reported = True
        elif backend.in_flight:
            log.warning(
                "%s still had %s request(s) after the %.0fs drain timeout; stopping it",
                backend.version,
                backend.in_flight,
                self.drain_timeout_s,
            )
        else:
            log.info(
                "drained %s in %.1fs (%s request(s) were in flight at the switch)",
                backend.version,
                time.monotonic() - began,
                waited,
            )
        await self._stop(backend)

    async def _stop(self, backend: Backend) -> None:
        backend.state = "stopped"
        await asyncio.to_thread(backend.server.stop)
        if backend in self.backends:
            self.backends.remove(backend)
        log.info(
            "stopped %s (pid %s, exit code %s)", backend.version, backend.pid, backend.exit_code
        )

    async def wait_drained(self, timeout_s: float | None = None) -> None:
        """Wait until every draining backend has been stopped."""
        tasks = list(self._drain_tasks)
        if tasks:
            await asyncio.wait_for(asyncio.gather(*tasks), timeout_s)

    # --- what the proxy asks ----------------------------------------------------------

    def route(self, model: str | None) -> Backend | None:
        """The backend for a request naming ``model``: that version while its server is
        still up (active or draining), else the active one."""
        if model:
            for backend in self.backends:
                if backend.alias == model and backend.state != "stopped" and backend.alive:
                    return backend
        return self.active

    @property
    def http(self) -> httpx.AsyncClient:
        if self._http is None:
            self._http = httpx.AsyncClient(
                timeout=httpx.Timeout(self.upstream_timeout_s, connect=5.0),
                limits=httpx.Limits(max_keepalive_connections=8),
            )
        return self._http

    async def readiness(self) -> tuple[int, dict[str, Any]]:
        """(HTTP status, body) for ``/ready``: 200 when the active backend answers."""
        active = self.active
        draining = [b.version for b in self.backends if b.state == "draining"]
        if active is None:
            if self.starting:
                reason = f"starting {self.starting}"
            else:
                reason = self._last_notice or NO_VERSION_MESSAGE
            return 503, {"ready": False, "state": "unavailable", "reason": reason}
        if not active.alive:
            reason = f"the llama.cpp server of {active.version} exited with code {active.exit_code}"
            return 503, {
                "ready": False,
                "state": "unavailable",
                "version": active.version,
                "reason": reason,
            }
        body: dict[str, Any] = {
            "ready": True,
            "version": active.version,
            "model": active.alias,
            "in_flight": active.in_flight,
            "draining": draining,
            "backends": [b.describe() for b in self.backends],
        }
        if active.in_flight or active.turn.locked():
            # A request is being answered; a probe would only queue behind it.
            return 200, {**body, "state": "busy"}
        try:
            async with active.turn:
                response = await self.http.get(
                    f"{active.server.base_url}/models",
                    headers={"Authorization": f"Bearer {active.server.api_key}"},
                    timeout=5.0,
                )
        except httpx.HTTPError as exc:
            reason = f"the llama.cpp server of {active.version} does not answer: {exc!r}"
            return 503, {**body, "ready": False, "state": "unavailable", "reason": reason}
        if response.status_code != 200:
            reason = f"the llama.cpp server of {active.version} answered {response.status_code}"
            return 503, {**body, "ready": False, "state": "unavailable", "reason": reason}
        return 200, {**body, "state": "idle"}


# --- the proxy --------------------------------------------------------------------------


def _error(message: str, kind: str, status: int) -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "code": status}}


async def _send_json(
    send: Send,
    status: int,
    body: dict[str, Any],
    headers: list[tuple[bytes, bytes]] | None = None,
) -> None:
    data = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(data)).encode()),
                *(headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": data, "more_body": False})


class _BodyTooLarge(Exception):
    pass


async def _read_body(receive: Receive, limit: int) -> bytes | None:
    """The request body, or None when the client went away before sending all of it."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise _BodyTooLarge
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


async def _until_disconnect(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


def create_proxy_app(
    supervisor: Supervisor, *, api_key: str, max_body_bytes: int = MAX_BODY_BYTES
) -> Callable[[Scope, Receive, Send], Awaitable[None]]:
    """The ASGI app in front of the supervisor's backends.

    ``/health`` and ``/ready`` need no key; everything under ``/v1`` needs
    ``Authorization: Bearer <api_key>``. ``GET /v1/models`` is answered here; every other
    ``POST /v1/...`` is forwarded to the backend chosen by the body's ``model`` field, the
    ``model`` rewritten to that backend's served name so that the answer names the version
    that really wrote it. The ASGI lifespan starts and closes the supervisor.
    """
    expected = f"Bearer {api_key}".encode()

    def authorized(scope: Scope) -> bool:
        for name, value in scope["headers"]:
            if name == b"authorization":
                scheme, _, token = value.partition(b" ")
                return scheme.lower() == b"bearer" and secrets.compare_digest(
                    b"Bearer " + token.strip(), expected
                )
        return False

    async def lifespan(receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await supervisor.start()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await supervisor.close()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def models(send: Send) -> None:
        active = supervisor.active
        if active is None or not active.alive:
            await _send_json(send, 503, {"object": "list", "data": []})
            return
        entry = {
            "id": active.alias,
            "object": "model",
            "owned_by": "fitsense",
            "version": active.version,
        }
        await _send_json(
            send,
            200,
            {"object": "list", "data": [entry]},
            [(VERSION_HEADER, active.version.encode())],
        )

    async def forward(scope: Scope, receive: Receive, send: Send) -> None:
        try:
            body = await _read_body(receive, max_body_bytes)
        except _BodyTooLarge:
            message = f"the request body is larger than {max_body_bytes} bytes"
            await _send_json(send, 413, _error(message, "invalid_request_error", 413))
            return
        if body is None:
            return
        try:
            document = json.loads(body) if body else None
        except ValueError:
            document = None
        model = document.get("model") if isinstance(document, dict) else None
        backend = supervisor.route(model if isinstance(model, str) else None)
        if backend is None:
            _, ready = await supervisor.readiness()
            await _send_json(send, 503, _error(ready["reason"], "model_unavailable", 503))
            return
        if isinstance(document, dict):
            document["model"] = backend.alias
            body = json.dumps(document).encode()
        backend.in_flight += 1
        try:
            await _relay_until_disconnect(supervisor, backend, scope, body, receive, send)
        finally:
            backend.in_flight -= 1
            backend.served += 1

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        path: str = scope["path"]
        method: str = scope["method"]
        if path == "/health":
            await _send_json(send, 200, {"status": "ok"})
        elif path == "/ready":
            status, body = await supervisor.readiness()
            await _send_json(send, status, body)
        elif path == "/v1" or path.startswith("/v1/"):
            if not authorized(scope):
                await _send_json(
                    send,
                    401,
                    _error(
                        "missing or wrong API key: send Authorization: Bearer <key> "
                        "(FITSENSE_MODEL_API_KEY or $FITSENSE_HOME/model_api_key)",
                        "authentication_error",
                        401,
                    ),
                    [(b"www-authenticate", b"Bearer")],
                )
            elif path == "/v1/models" and method == "GET":
                await models(send)
            elif method == "POST":
                await forward(scope, receive, send)
            else:
                message = f"{method} {path} is not supported: use POST (GET for /v1/models)"
                await _send_json(send, 405, _error(message, "invalid_request_error", 405))
        else:
            message = f"no such endpoint {path}: the model API is under /v1"
            await _send_json(send, 404, _error(message, "invalid_request_error", 404))

    return app


async def _relay_until_disconnect(
    supervisor: Supervisor,
    backend: Backend,
    scope: Scope,
    body: bytes,
    receive: Receive,
    send: Send,
) -> None:
    """Relay one request; if the client goes away first, close the upstream request so
    that llama.cpp stops generating for nobody."""
    answered = asyncio.Event()
    relay = asyncio.create_task(_relay(supervisor, backend, scope, body, send, answered))
    watcher = asyncio.create_task(_until_disconnect(receive))
    try:
        await asyncio.wait({relay, watcher}, return_when=asyncio.FIRST_COMPLETED)
        if not relay.done() and answered.is_set():
            # The whole answer is out (the server reports that as a disconnect too): let
            # the relay finish closing the upstream response.
            await asyncio.wait({relay})
    finally:
        # Also when this request's own task is cancelled (graceful-shutdown timeout).
        relay.cancel()
        watcher.cancel()
        await asyncio.wait({relay, watcher})
    if relay.cancelled():
        log.info("client went away: closed its request to %s", backend.version)
        return
    relay.result()


async def _relay(
    supervisor: Supervisor,
    backend: Backend,
    scope: Scope,
    body: bytes,
    send: Send,
    answered: asyncio.Event,
) -> None:
    version = backend.version.encode()
    headers = {
        name.decode("latin-1"): value.decode("latin-1")
        for name, value in scope["headers"]
        if name in FORWARDED_REQUEST_HEADERS
    }
    headers["authorization"] = f"Bearer {backend.server.api_key}"
    headers.setdefault("content-type", "application/json")
    url = backend.server.base_url + scope["path"].removeprefix("/v1")
    if scope.get("query_string"):
        url += "?" + scope["query_string"].decode("latin-1")
    async with backend.turn:
        if not backend.alive:
            message = (
                f"the model server of {backend.version} is down (exit code "
                f"{backend.exit_code}); it is restarted on the next poll"
            )
            await _send_json(
                send, 502, _error(message, "backend_unavailable", 502), [(VERSION_HEADER, version)]
            )
            return
        request = supervisor.http.build_request("POST", url, headers=headers, content=body)
        try:
            response = await supervisor.http.send(request, stream=True)
        except httpx.HTTPError as exc:
            log.error("the llama.cpp server of %s did not answer: %r", backend.version, exc)
            message = f"the model server of {backend.version} did not answer: {exc!r}"
            await _send_json(
                send, 502, _error(message, "backend_unavailable", 502), [(VERSION_HEADER, version)]
            )
            return
        try:
            out_headers = [
                (name.lower(), value)
                for name, value in response.headers.raw
                if name.lower() not in HOP_BY_HOP
            ]
            out_headers.append((VERSION_HEADER, version))
            await send(
                {
                    "type": "http.response.start",
                    "status": response.status_code,
                    "headers": out_headers,
                }
            )
            try:
                async for chunk in response.aiter_raw():
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
            except httpx.HTTPError as exc:
                log.error(
                    "the llama.cpp server of %s broke off an answer: %r", backend.version, exc
                )
                if "content-length" in response.headers:
                    # A truncated body under a Content-Length would read as a complete,
                    # broken answer: abort the connection instead.
                    raise ServingError(
                        f"the model server of {backend.version} broke off its answer"
                    ) from exc
                event = _error(
                    f"the model server of {backend.version} broke off its answer: {exc!r}",
                    "backend_unavailable",
                    502,
                )
                data = f"data: {json.dumps(event)}\n\n".encode()
                await send({"type": "http.response.body", "body": data, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
            answered.set()
        finally:
            await response.aclose()


# --- running it -------------------------------------------------------------------------


def bind_socket(host: str, port: int) -> socket.socket:
    """Bind before anything starts, so that a taken port is one clear error and no
    llama.cpp process is left behind by a server that could not listen."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ServingError(
            f"cannot listen on {host}:{port}: {exc.strerror or exc} (another `fitsense serve`? "
            "choose another port with --port or FITSENSE_MODEL_URL)"
        ) from exc
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling: it re-raises a caught SIGTERM after
    shutting down, which would end the process before the backends are stopped."""

    def capture_signals(self) -> contextlib.AbstractContextManager[None]:  # type: ignore[override]
        return contextlib.nullcontext()


def _config(app: Any, supervisor: Supervisor) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        lifespan="on",
        log_config=None,
        log_level="warning",
        access_log=False,
        server_header=False,
        timeout_graceful_shutdown=int(supervisor.drain_timeout_s),
    )


def serve_forever(supervisor: Supervisor, *, host: str, port: int, api_key: str) -> None:
    """Serve until SIGINT/SIGTERM: stop accepting, let requests finish (up to the drain
    timeout), stop every llama.cpp process. A second Ctrl-C skips the wait."""
    sock = bind_socket(host, port)
    server = _Server(_config(create_proxy_app(supervisor, api_key=api_key), supervisor))

    def on_signal(signum: int) -> None:
        if server.should_exit and signum == signal.SIGINT:
            log.warning("second interrupt: not waiting for requests to finish")
            server.force_exit = True
            return
        log.info(
            "received %s: finishing requests (up to %.0fs), then stopping the model servers",
            signal.Signals(signum).name,
            supervisor.drain_timeout_s,
        )
        server.should_exit = True

    async def main() -> None:
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, on_signal, signum)
        try:
            await server.serve(sockets=[sock])
        finally:
            await supervisor.close()

    try:
        asyncio.run(main())
    finally:
        supervisor.stop_all_now()
        sock.close()


class BackgroundProxy:
    """The proxy and its supervisor on their own event loop in a thread, for tests and for
    synchronous programs. ``with BackgroundProxy(supervisor, api_key=...) as proxy:``
    then ``proxy.url`` is the OpenAI base URL and ``proxy.call(coroutine)`` runs a
    coroutine (``supervisor.reconcile()``, say) on the proxy's loop."""

    def __init__(
        self, supervisor: Supervisor, *, api_key: str, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        self.supervisor = supervisor
        self.api_key = api_key
        self._sock = bind_socket(host, port)
        self.host = host
        self.port: int = self._sock.getsockname()[1]
        self._server = _Server(_config(create_proxy_app(supervisor, api_key=api_key), supervisor))
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="fitsense-proxy", daemon=True)
        self._error: BaseException | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    @property
    def root(self) -> str:
        return f"http://{self.host}:{self.port}"

    def _run(self) -> None:
        async def main() -> None:
            self._loop = asyncio.get_running_loop()
            serving = asyncio.create_task(self._server.serve(sockets=[self._sock]))
            while not self._server.started and not serving.done():
                await asyncio.sleep(0.01)
            self._ready.set()
            try:
                await serving
            finally:
                await self.supervisor.close()

        try:
            asyncio.run(main())
        except BaseException as exc:
            self._error = exc
            raise
        finally:
            self.supervisor.stop_all_now()
            self._ready.set()

    def start(self) -> BackgroundProxy:
        self._thread.start()
        self._ready.wait(timeout=30)
        if self._error is not None or not self._server.started:
            self.close()
            raise ServingError(f"the proxy did not start: {self._error!r}")
        return self

    def call(self, coroutine: Awaitable[T], timeout_s: float = 180) -> T:
        assert self._loop is not None, "start() first"
        future: ThreadFuture[T] = asyncio.run_coroutine_threadsafe(coroutine, self._loop)  # type: ignore[arg-type]
        return future.result(timeout_s)

    def reconcile(self, timeout_s: float = 180) -> None:
        self.call(self.supervisor.reconcile(), timeout_s)

    def close(self, timeout_s: float = 60) -> None:
        if self._loop is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(setattr, self._server, "should_exit", True)
        if self._thread.is_alive():
            self._thread.join(timeout_s)
        self.supervisor.stop_all_now()
        self._sock.close()

    def __enter__(self) -> BackgroundProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()


@contextlib.contextmanager
def background_proxy(supervisor: Supervisor, *, api_key: str) -> Iterator[BackgroundProxy]:
    """:class:`BackgroundProxy` as a context manager that always stops everything."""
    proxy = BackgroundProxy(supervisor, api_key=api_key)
    proxy.start()
    try:
        yield proxy
    finally:
        proxy.close()
