"""The serving front that ``fitsense serve`` runs: a supervisor that switches model versions.

The API knows one URL and one key (:class:`~fitsense_core.inference.endpoint.ModelEndpoint`).
Behind that URL ``fitsense serve`` runs a llama.cpp server per model version, each on a free
port with its own internal key, and forwards the OpenAI-protocol requests to one of them.
A background poll reads the registry; when the serving version changes (a promotion or a
``fitsense model rollback``) it starts the new version's server beside the old one, checks
that it answers, switches new requests to it, lets the old one finish what it is doing
(drain) and stops it. So a promotion never drops a request and a failed start never takes
the working version down.

Pieces, kept apart so that tests can drive each one:

- :class:`Supervisor` (here): owns the llama.cpp processes; :meth:`Supervisor.reconcile`
  is one poll step. What it should serve comes from a source in
  :mod:`fitsense_serving.targets`.
- :func:`~fitsense_serving.proxy.create_proxy_app`: the ASGI app (auth, routing,
  streaming pass-through).
- :func:`~fitsense_serving.server.serve_forever`: uvicorn with SIGINT/SIGTERM handled so
  that every llama.cpp process is stopped before the command exits;
  :class:`~fitsense_serving.server.BackgroundProxy` runs the same in a thread for tests
  and synchronous programs.

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
import logging
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import httpx
import psycopg

from fitsense_core import layout
from fitsense_core.errors import FitSenseError
from fitsense_core.inference.endpoint import SERVED_CONTEXT_TOKENS, served_model_name
from fitsense_serving.llama_server import LlamaServer, start_llama_server
from fitsense_serving.targets import (
    NO_VERSION_MESSAGE,
    ServingError,
    ServingTarget,
    TargetSource,
    file_safe,
    resolve_gguf,
)

log = logging.getLogger("fitsense.serving")


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

    ``source`` says what should serve (see :mod:`fitsense_serving.targets`).
    ``poll_interval_s=None`` disables the background poll; the caller then drives
    :meth:`reconcile` itself (tests do). At most ``max_backends`` llama.cpp servers run at
    once (the old and the new one during a switch): on two cores
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
        n_ctx: int = SERVED_CONTEXT_TOKENS,
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
        log_path = self.home / "logs" / f"llama-{file_safe(target.version)}.log"

        def start() -> tuple[LlamaServer, Path]:
            gguf = resolve_gguf(target, layout.serving_cache(self.home))
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
