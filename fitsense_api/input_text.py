"""Text the database cannot store is refused where it enters, naming its field.

PostgreSQL's ``text`` holds no NUL character and UTF-8 holds no lone surrogate (half of a
UTF-16 pair, which a JSON ``\\ud800`` escape can spell). Let through, either one fails
deep in a query with the server's own words. One rule for every request: the JSON body
(:mod:`fitsense_api.request_body` walks it here) and the query and path parameters
(:func:`check_parameters`, the app's ``before_request`` hook).
"""

from __future__ import annotations

import re
from typing import Any

from litestar import Request

from fitsense_api.errors import BadRequest, Unprocessable

# Deeper than any body the API takes (a plan is about 7 levels).
MAX_DEPTH = 32

_NUL = "\x00"
_SURROGATE = re.compile("[\ud800-\udfff]")


def text_problem(value: str) -> str | None:
    """Why ``value`` cannot be stored as text (None: it can)."""
    if _NUL in value:
        return "must not contain NUL characters (\\u0000)"
    if _SURROGATE.search(value):
        return "must not contain lone UTF-16 surrogates (\\ud800-\\udfff)"
    return None


def too_deep() -> BadRequest:
    return BadRequest(
        f"the request body is nested more than {MAX_DEPTH} levels deep",
        [{"field": "body", "message": f"nested deeper than {MAX_DEPTH} levels"}],
    )


def _child(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


def check_json_text(value: Any) -> None:
    """Raise a 422 naming the first string (or object key) of a decoded JSON value that
    cannot be stored, and a 400 when it nests deeper than :data:`MAX_DEPTH`. Iterative, so
    no body can exhaust the stack here."""
    stack: list[tuple[Any, str, int]] = [(value, "", 0)]
    while stack:
        item, path, depth = stack.pop()
        if isinstance(item, str):
            problem = text_problem(item)
            if problem:
                raise Unprocessable.field(path or "body", problem)
        elif isinstance(item, dict | list):
            if depth >= MAX_DEPTH:
                raise too_deep()
            pairs = item.items() if isinstance(item, dict) else enumerate(item)
            children = []
            for key, child in pairs:
                if isinstance(key, str) and (problem := text_problem(key)):
                    raise Unprocessable.field(_child(path, "<key>"), f"a field name {problem}")
                children.append((child, _child(path, key), depth + 1))
            stack.extend(reversed(children))


def check_parameters(request: Request) -> None:
    """The ``before_request`` hook: query and path parameters obey the same rule."""
    for name, value in request.query_params.multi_items():
        if problem := text_problem(name):
            raise Unprocessable.field("query", f"a parameter name {problem}")
        if problem := text_problem(value):
            raise Unprocessable.field(f"query.{name}", problem)
    for name, value in request.path_params.items():
        if isinstance(value, str) and (problem := text_problem(value)):
            raise Unprocessable.field(f"path.{name}", problem)
