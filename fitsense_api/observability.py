"""Request ids, structured JSON logs and the access log line of every request.

A request id is taken from the client's ``X-Request-ID`` header when it is well formed
(1-128 characters of letters, digits and ``._:-``), otherwise generated; it is echoed in
the response header, carried in every log line written while the request is handled, and
returned in problem details. Each request ends with one access line: method, path, route
template, status, latency, request id and an anonymized user id.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import sys
import time
import uuid
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from litestar.types import ASGIApp, Message, Receive, Scope, Send

REQUEST_ID_HEADER = b"x-request-id"
_VALID_ID = re.compile(rb"^[A-Za-z0-9._:-]{1,128}$")

_request_id: ContextVar[str | None] = ContextVar("fitsense_request_id", default=None)
_user_id: ContextVar[str | None] = ContextVar("fitsense_user_id", default=None)

access_log = logging.getLogger("fitsense_api.access")


def current_request_id() -> str | None:
    return _request_id.get()


def set_current_user(user_id: str) -> None:
    _user_id.set(user_id)


def anonymized(user_id: str | None) -> str | None:
    """A stable pseudonym for logs: correlates one user's lines without naming them."""
    if not user_id:
        return None
    return hashlib.sha256(f"fitsense-user:{user_id}".encode()).hexdigest()[:16]


class JsonFormatter(logging.Formatter):
    """One JSON object per line, with the request id of the request being handled."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "severity": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = getattr(record, "request_id", None) or _request_id.get()
        if request_id:
            entry["request_id"] = request_id
        user = _user_id.get()
        if user:
            entry["user"] = anonymized(user)
        for key in ("http", "latency_ms"):
            if hasattr(record, key):
                entry[key] = getattr(record, key)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure_logging(level: str = "INFO") -> None:
    """JSON lines on stderr for the API's loggers and uvicorn's error log."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    for name in ("fitsense_api", "uvicorn.error", "uvicorn"):
        logger = logging.getLogger(name)
        logger.handlers = [handler]
        logger.setLevel(level)
        logger.propagate = False
    # Our access line replaces uvicorn's.
    logging.getLogger("uvicorn.access").disabled = True


class RequestContextMiddleware:
    """Pure ASGI middleware around the whole app (unknown routes included)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = dict(scope["headers"]).get(REQUEST_ID_HEADER)
        request_id = (
            incoming.decode() if incoming and _VALID_ID.match(incoming) else uuid.uuid4().hex
        )
        id_token = _request_id.set(request_id)
        user_token = _user_id.set(None)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                headers.append((REQUEST_ID_HEADER, request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            latency_ms = round((time.perf_counter() - started) * 1000, 2)
            if access_log.isEnabledFor(logging.INFO):
                access_log.info(
                    "%s %s %s",
                    scope["method"],
                    scope["path"],
                    status,
                    extra={
                        "latency_ms": latency_ms,
                        "http": {
                            "method": scope["method"],
                            "path": scope["path"],
                            "route": scope.get("path_template") or None,
                            "status": status,
                        },
                    },
                )
            _request_id.reset(id_token)
            _user_id.reset(user_token)
