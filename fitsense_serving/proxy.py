"""The ASGI app in front of the supervisor's llama.cpp servers: auth, routing to a version,
and a streaming pass-through that closes the upstream request when the client goes away.

It sends each backend one request at a time (the backend's ``turn``; see
:mod:`fitsense_serving.supervisor` for why) and names the version that answered in the
``x-fitsense-model-version`` header.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from fitsense_serving.supervisor import Backend, Supervisor
from fitsense_serving.targets import ServingError

log = logging.getLogger("fitsense.serving")

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

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


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

    ``/health`` and ``/ready`` need no key, but ``/ready`` answers only its status
    (``ready``, ``state``) without it: the versions, pids and load are for the key's
    holders. Everything under ``/v1`` needs
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
            if not authorized(scope):
                body = {"ready": body["ready"], "state": body["state"]}
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
