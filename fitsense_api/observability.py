"""Request ids, structured logs in Cloud Logging's JSON shape, and the API's own metrics.

A request id is taken from the client's ``X-Request-ID`` header when it is well formed
(1-128 characters of letters, digits and ``._:-``), otherwise generated; it is echoed in
the response header, carried in every log line written while the request is handled, and
returned in problem details.

Every line is one JSON object that Cloud Logging (Cloud Run's stdout/stderr agent, GKE's
logging agent) turns into a structured entry: ``severity``, ``message``, ``time``,
``logging.googleapis.com/labels`` (service, env) and, behind Google's front end,
``logging.googleapis.com/trace``. Lines written while a request is handled add
``request_id``, ``user`` (an anonymized id), ``endpoint`` (method and route template) and
``model_version`` once a model answered. Three kinds of line carry an ``event`` that the
log-based metrics and alert policies in ``infra/monitoring.tf`` select on:

- ``http_request``: one per request, with ``httpRequest`` (method, URL path, status,
  latency as ``"0.012s"``) and ``latency_ms``;
- ``inference``: one per audited AI request, with ``inference`` (model, outcome, tokens,
  latency, estimated ``cost_usd``);
- ``rate_limited``: one per refusal by a limit, with ``limit`` (``ai_per_minute``,
  ``ai_daily_quota``, ``login``, ``signup``, ``plan_jobs_per_person``, ``password_hashing``,
  ``coach_busy``, ``plan_queue``).

The same three feed Prometheus counters on ``/metrics`` (beside Litestar's request count and
latency histogram), for deployments that scrape instead of reading logs.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import sys
import time
import uuid
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from litestar.types import ASGIApp, Message, Receive, Scope, Send
from prometheus_client import Counter

from fitsense_core.secrets import redact

REQUEST_ID_HEADER = b"x-request-id"
TRACE_HEADER = b"x-cloud-trace-context"
_VALID_ID = re.compile(rb"^[A-Za-z0-9._:-]{1,128}$")
_TRACE_ID = re.compile(rb"^([0-9a-f]{32})(?:/([0-9]+))?")

_request_id: ContextVar[str | None] = ContextVar("fitsense_request_id", default=None)
_user_id: ContextVar[str | None] = ContextVar("fitsense_user_id", default=None)
# Per-request facts filled in while the request is handled (a dict, so that tasks the
# request spawns, which copy the context, write into the same one).
_facts: ContextVar[dict[str, Any] | None] = ContextVar("fitsense_request_facts", default=None)

access_log = logging.getLogger("fitsense_api.access")
inference_log = logging.getLogger("fitsense_api.inference")
limits_log = logging.getLogger("fitsense_api.limits")

LABELS = "logging.googleapis.com/labels"
TRACE = "logging.googleapis.com/trace"
SPAN = "logging.googleapis.com/spanId"

RATE_LIMIT_HITS = Counter(
    "fitsense_api_rate_limit_hits",
    "Requests refused by a limit (429 rate and quota, 503 saturation)",
    ["limit"],
)
INFERENCE_REQUESTS = Counter(
    "fitsense_api_inference_requests",
    "Audited AI requests by outcome (ok, fallback, refused, error)",
    ["context_type", "outcome"],
)
INFERENCE_TOKENS = Counter(
    "fitsense_api_inference_tokens", "Tokens the model read and wrote", ["kind"]
)
INFERENCE_COST = Counter(
    "fitsense_api_inference_cost_usd",
    "Estimated inference cost in USD (tokens x FITSENSE_INFERENCE_USD_PER_1K_TOKENS)",
)

_runtime: dict[str, Any] = {
    "labels": {"service": "fitsense-api", "env": "local"},
    "project": None,
    "usd_per_1k_tokens": 0.0,
}


def current_request_id() -> str | None:
    return _request_id.get()


def set_current_user(user_id: str) -> None:
    _user_id.set(user_id)


def note_model_version(version: str | None) -> None:
    """The model version that answered this request (shown on its log lines)."""
    facts = _facts.get()
    if facts is not None and version:
        facts["model_version"] = version


def anonymized(user_id: str | None) -> str | None:
    """A stable pseudonym for logs: correlates one user's lines without naming them."""
    if not user_id:
        return None
    return hashlib.sha256(f"fitsense-user:{user_id}".encode()).hexdigest()[:16]


def inference_cost_usd(prompt_tokens: int | None, completion_tokens: int | None) -> float:
    """Estimated cost of one model call: its tokens at FITSENSE_INFERENCE_USD_PER_1K_TOKENS."""
    tokens = (prompt_tokens or 0) + (completion_tokens or 0)
    return round(tokens / 1000 * _runtime["usd_per_1k_tokens"], 8)


class JsonFormatter(logging.Formatter):
    """One JSON object per line in Cloud Logging's structured shape (module docstring).

    Loaded secret values are masked in the message and the exception text."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "severity": record.levelname,
            "logger": record.name,
            "message": redact(record.getMessage()),
            LABELS: _runtime["labels"],
        }
        request_id = getattr(record, "request_id", None) or _request_id.get()
        if request_id:
            entry["request_id"] = request_id
        user = getattr(record, "user", None) or anonymized(_user_id.get())
        if user:
            entry["user"] = user
        facts = _facts.get() or {}
        endpoint = getattr(record, "endpoint", None) or facts.get("endpoint")
        scope = facts.get("scope")
        if not endpoint and scope is not None and scope.get("path_template"):
            endpoint = f"{scope['method']} {scope['path_template']}"
        if endpoint:
            entry["endpoint"] = endpoint
        model_version = getattr(record, "model_version", None) or facts.get("model_version")
        if model_version:
            entry["model_version"] = model_version
        if facts.get("trace") and _runtime["project"]:
            entry[TRACE] = f"projects/{_runtime['project']}/traces/{facts['trace']}"
            if facts.get("span"):
                entry[SPAN] = facts["span"]
        for key in ("event", "httpRequest", "latency_ms", "inference", "limit"):
            if hasattr(record, key):
                entry[key] = getattr(record, key)
        if record.exc_info:
            entry["exception"] = redact(self.formatException(record.exc_info))
        return json.dumps(entry, default=str)


def configure_logging(
    level: str = "INFO",
    *,
    environment: str = "local",
    usd_per_1k_tokens: float = 0.0,
    service: str | None = None,
) -> None:
    """JSON lines on stderr for the API's loggers and uvicorn's error log.

    ``service`` defaults to Cloud Run's ``K_SERVICE`` or ``fitsense-api``; traces are
    linked when ``GOOGLE_CLOUD_PROJECT`` names the project."""
    _runtime["labels"] = {
        "service": service or os.environ.get("K_SERVICE") or "fitsense-api",
        "env": environment,
    }
    _runtime["project"] = os.environ.get("GOOGLE_CLOUD_PROJECT") or None
    _runtime["usd_per_1k_tokens"] = usd_per_1k_tokens
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    for name in ("fitsense_api", "uvicorn.error", "uvicorn"):
        logger = logging.getLogger(name)
        logger.handlers = [handler]
        logger.setLevel(level)
        logger.propagate = False
    # Our access line replaces uvicorn's.
    logging.getLogger("uvicorn.access").disabled = True


def note_rate_limit(limit: str) -> None:
    """Count and log one refusal by a limit (call where the 429/503 is raised)."""
    RATE_LIMIT_HITS.labels(limit=limit).inc()
    limits_log.warning(
        "refused by the %s limit", limit, extra={"event": "rate_limited", "limit": limit}
    )


def log_inference(
    *,
    request_id: str,
    user_id: str | None,
    context_type: str,
    outcome: str,
    safety_level: str,
    model_name: str | None,
    model_version: str | None,
    latency_ms: int | None,
    prompt_tokens: int | None,
    completion_tokens: int | None,
) -> None:
    """One ``inference`` line and the inference counters for an audited AI request."""
    cost = inference_cost_usd(prompt_tokens, completion_tokens)
    INFERENCE_REQUESTS.labels(context_type=context_type, outcome=outcome).inc()
    if prompt_tokens:
        INFERENCE_TOKENS.labels(kind="prompt").inc(prompt_tokens)
    if completion_tokens:
        INFERENCE_TOKENS.labels(kind="completion").inc(completion_tokens)
    if cost:
        INFERENCE_COST.inc(cost)
    note_model_version(model_version)
    inference_log.info(
        "%s %s by %s",
        context_type,
        outcome,
        model_version or "no model",
        extra={
            "event": "inference",
            "request_id": request_id,
            "user": anonymized(user_id),
            "model_version": model_version,
            "inference": {
                "context_type": context_type,
                "outcome": outcome,
                "safety_level": safety_level,
                "model_name": model_name,
                "model_version": model_version,
                "latency_ms": latency_ms,
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "cost_usd": cost,
            },
        },
    )


class RequestContextMiddleware:
    """Pure ASGI middleware around the whole app (unknown routes included)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        incoming = headers.get(REQUEST_ID_HEADER)
        request_id = (
            incoming.decode() if incoming and _VALID_ID.match(incoming) else uuid.uuid4().hex
        )
        facts: dict[str, Any] = {"scope": scope}
        trace = _TRACE_ID.match(headers.get(TRACE_HEADER) or b"")
        if trace:
            facts["trace"] = trace.group(1).decode()
            if trace.group(2):
                facts["span"] = trace.group(2).decode()
        id_token = _request_id.set(request_id)
        user_token = _user_id.set(None)
        facts_token = _facts.set(facts)
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
            elapsed = time.perf_counter() - started
            route = scope.get("path_template") or None
            # Unknown paths keep one endpoint value, so they cannot swell label sets.
            facts["endpoint"] = f"{scope['method']} {route or '(unmatched)'}"
            if access_log.isEnabledFor(logging.INFO):
                access_log.info(
                    "%s %s %s",
                    scope["method"],
                    scope["path"],
                    status,
                    extra={
                        "event": "http_request",
                        "latency_ms": round(elapsed * 1000, 2),
                        "httpRequest": {
                            "requestMethod": scope["method"],
                            "requestUrl": scope["path"],
                            "status": status,
                            "latency": f"{elapsed:.6f}s",
                            "protocol": f"HTTP/{scope.get('http_version', '1.1')}",
                        },
                    },
                )
            _request_id.reset(id_token)
            _user_id.reset(user_token)
            _facts.reset(facts_token)
