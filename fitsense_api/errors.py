"""One exception hierarchy, mapped centrally to RFC 9457 problem details.

Every error answer is ``application/problem+json``::

    {"type": "https://fitsense.dev/problems/validation", "title": "Unprocessable content",
     "status": 422, "detail": "...", "instance": "/workouts", "request_id": "...",
     "errors": [{"field": "exercises[0].sets[1].reps", "message": "..."}]}

Services raise :class:`ApiError` subclasses; Litestar's own errors (validation, 404 for
unknown routes, 405, 413) and database errors that reach the top (constraint
violations, bad values) are translated here too, so no handler needs a try/except for
them and nothing answers 500 for a client's mistake.
"""

from __future__ import annotations

import logging
import re
from typing import Any

import asyncpg
from litestar import Request, Response
from litestar.exceptions import (
    HTTPException,
    NotAuthorizedException,
    PermissionDeniedException,
    ValidationException,
)
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR

from fitsense_api.observability import current_request_id

log = logging.getLogger("fitsense_api.errors")

PROBLEM_JSON = "application/problem+json"
PROBLEM_BASE = "https://fitsense.dev/problems/"

TITLES = {
    400: "Bad request",
    401: "Not authenticated",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Request body too large",
    415: "Unsupported media type",
    422: "Unprocessable content",
    429: "Too many requests",
    500: "Internal server error",
    503: "Service unavailable",
}
TYPES = {
    400: "bad-request",
    401: "not-authenticated",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    409: "conflict",
    413: "payload-too-large",
    415: "unsupported-media-type",
    422: "validation",
    429: "rate-limited",
    500: "internal",
    503: "unavailable",
}


class ApiError(Exception):
    """An error the client can act on; ``errors`` name the failing fields."""

    status = 400

    def __init__(
        self,
        detail: str,
        errors: list[dict[str, str]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors or []
        self.headers = headers or {}


class BadRequest(ApiError):
    status = 400


class Unauthorized(ApiError):
    status = 401

    def __init__(self, detail: str = "a valid bearer token is required") -> None:
        super().__init__(detail, headers={"WWW-Authenticate": 'Bearer realm="fitsense"'})


class Forbidden(ApiError):
    status = 403


class NotFound(ApiError):
    """Also what a user gets for another user's ids: existence is not revealed."""

    status = 404


class Conflict(ApiError):
    status = 409


class Unprocessable(ApiError):
    status = 422

    @classmethod
    def field(cls, field: str, message: str) -> Unprocessable:
        return cls(f"{field}: {message}", [{"field": field, "message": message}])


class TooManyRequests(ApiError):
    status = 429

    def __init__(self, detail: str, retry_after_s: int) -> None:
        super().__init__(detail, headers={"Retry-After": str(max(1, retry_after_s))})


class Unavailable(ApiError):
    status = 503


def problem(
    request: Request,
    status: int,
    detail: str,
    errors: list[dict[str, str]] | None = None,
    headers: dict[str, str] | None = None,
) -> Response[dict[str, Any]]:
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + TYPES.get(status, "error"),
        "title": TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
        "instance": request.url.path,
        "request_id": current_request_id(),
    }
    if errors:
        body["errors"] = errors
    return Response(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


_NAMED_FIELD = re.compile(r"(?:unknown|missing required) field `([^`]+)`")


def _field_of(key: str, message: str) -> str:
    """The failing field: Litestar's ``exercises[0].reps``-style key, a parameter name, or
    for an unknown or missing field, that field inside the object at ``key``."""
    base = "" if key in ("", "data") else key
    named = _NAMED_FIELD.search(message)
    if named:
        return f"{base}.{named.group(1)}" if base else named.group(1)
    return base or "body"


def _validation_errors(exc: ValidationException) -> list[dict[str, str]]:
    out = []
    for item in exc.extra or []:
        if isinstance(item, dict):
            message = str(item.get("message", "invalid value"))
            field = _field_of(str(item.get("key", "")), message)
            source = getattr(item.get("source"), "value", item.get("source"))
            if source and source != "body":
                field = f"{source}.{field}"
            out.append({"field": field, "message": message})
        else:
            out.append({"field": "body", "message": str(item)})
    return out


def handle_api_error(request: Request, exc: ApiError) -> Response:
    return problem(request, exc.status, exc.detail, exc.errors, exc.headers)


_MISSING_PARAMETER = re.compile(r"Missing required (\w+) parameter '([^']+)'")


def handle_http_exception(request: Request, exc: HTTPException) -> Response:
    status = exc.status_code
    if isinstance(exc, ValidationException):
        errors = _validation_errors(exc)
        if errors == [{"field": "body", "message": "'data'"}]:
            # Litestar's KeyError for a handler whose body never arrived.
            return problem(request, 400, "a JSON request body is required")
        missing = _MISSING_PARAMETER.search(str(exc.detail))
        if missing and not errors:
            field = f"{missing.group(1)}.{missing.group(2)}"
            return problem(
                request,
                422,
                f"{field}: is required",
                [{"field": field, "message": "is required"}],
            )
        malformed = any("malformed" in e["message"].lower() for e in errors) or (
            "malformed" in str(exc.detail).lower()
        )
        if malformed:
            return problem(request, 400, "the request body is not valid JSON", errors)
        summary = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:5])
        return problem(request, 422, summary or str(exc.detail), errors)
    if isinstance(exc, NotAuthorizedException):
        return problem(
            request, 401, str(exc.detail), headers={"WWW-Authenticate": 'Bearer realm="fitsense"'}
        )
    if isinstance(exc, PermissionDeniedException):
        return problem(request, 403, str(exc.detail))
    if status >= 500:
        log.error("server error %s: %s", status, exc.detail)
        return problem(request, status, TITLES.get(status, "server error"))
    detail = str(exc.detail) if exc.detail else TITLES.get(status, "error")
    return problem(request, status, detail, headers=dict(exc.headers or {}))


_KEY_DETAIL = re.compile(r"Key \((?P<cols>[^)]*)\)=\((?P<vals>.*)\)")


def _constraint_field(exc: asyncpg.PostgresError) -> str:
    detail = getattr(exc, "detail", None) or ""
    match = _KEY_DETAIL.search(detail)
    if match:
        return match.group("cols").split(",")[0].strip()
    column = getattr(exc, "column_name", None)
    return column or getattr(exc, "constraint_name", None) or "body"


def handle_database_error(request: Request, exc: asyncpg.PostgresError) -> Response:
    """Database rules are the last line of defence; a violation is the client's 4xx."""
    constraint = getattr(exc, "constraint_name", None) or ""
    if isinstance(exc, asyncpg.UniqueViolationError):
        return problem(
            request,
            409,
            "this conflicts with something already stored",
            [{"field": _constraint_field(exc), "message": f"already exists ({constraint})"}],
        )
    if isinstance(exc, asyncpg.ForeignKeyViolationError):
        return problem(
            request,
            422,
            "a referenced item does not exist",
            [{"field": _constraint_field(exc), "message": "no such item"}],
        )
    if isinstance(exc, asyncpg.CheckViolationError | asyncpg.NotNullViolationError):
        return problem(
            request,
            422,
            "a value is out of range",
            [{"field": _constraint_field(exc), "message": f"violates {constraint or 'a rule'}"}],
        )
    if isinstance(exc, asyncpg.DataError):
        reason = str(exc.args[0] if exc.args else exc)
        if reason.startswith("invalid input for query argument"):
            # asyncpg refused to encode what our own code passed: a server bug.
            return handle_internal_error(request, exc)
        # PostgreSQL refused a value that validation let through: the client's 4xx, but
        # logged because it marks a gap in validation. The server's words stay in the log.
        log.warning("value refused by PostgreSQL on %s: %s", request.url.path, reason)
        return problem(request, 422, "a value is not acceptable to the database")
    if isinstance(exc, asyncpg.SerializationError | asyncpg.DeadlockDetectedError):
        return problem(request, 409, "a concurrent change collided with this one; retry")
    return handle_internal_error(request, exc)


def handle_internal_error(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return problem(
        request,
        HTTP_500_INTERNAL_SERVER_ERROR,
        "the server could not answer this request; the request id identifies it in the logs",
    )


EXCEPTION_HANDLERS = {
    ApiError: handle_api_error,
    HTTPException: handle_http_exception,
    asyncpg.PostgresError: handle_database_error,
    Exception: handle_internal_error,
}

__all__ = [
    "EXCEPTION_HANDLERS",
    "PROBLEM_JSON",
    "ApiError",
    "BadRequest",
    "Conflict",
    "Forbidden",
    "NotFound",
    "TooManyRequests",
    "Unauthorized",
    "Unavailable",
    "Unprocessable",
]
