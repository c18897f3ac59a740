"""Running the proxy: :func:`serve_forever` for ``fitsense serve`` (uvicorn, with
SIGINT/SIGTERM stopping every llama.cpp process before the command exits) and
:class:`BackgroundProxy`, the same on its own event loop in a thread, for tests and
synchronous programs."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
import threading
from collections.abc import Awaitable, Iterator
from concurrent.futures import Future as ThreadFuture
from typing import Any, TypeVar

import uvicorn

from fitsense_serving.proxy import create_proxy_app
from fitsense_serving.supervisor import Supervisor
from fitsense_serving.targets import ServingError

log = logging.getLogger("fitsense.serving")

T = TypeVar("T")


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
