"""Request bodies decoded once, bounded and strict, before any handler sees them.

Litestar decodes a JSON body without a type and then converts it to the handler's
``data`` type in lax mode, where ``"8"`` passes for an int and ``12345`` for a date-time
(seconds since 1970). :class:`StrictJsonRequest`, the app's request class, decodes the
body itself and refuses, each with a 4xx:

- a body nested deeper than :data:`~fitsense_api.input_text.MAX_DEPTH` levels (400;
  msgspec's own limit, Python's recursion limit, is a RecursionError otherwise: a 500);
- malformed JSON (400), and text the database cannot store (422, naming the field; see
  :mod:`fitsense_api.input_text`);
- a value of the wrong JSON type for the handler's declared ``data`` type (422, naming
  the field): the declared type is checked in msgspec's strict mode. Such a body is
  judged while it is read, before the caller's token; every other invalid body after it.

It returns the decoded value as Litestar's own request would, so the rest of Litestar's
validation (constraints, unknown fields) answers as before.
"""

from __future__ import annotations

import json
from functools import partial
from typing import Any

import msgspec
from litestar import Request
from litestar.exceptions import ValidationException
from litestar.serialization.msgspec_hooks import default_deserializer
from litestar.types import Empty

from fitsense_api.errors import BadRequest
from fitsense_api.input_text import check_json_text, too_deep


def _malformed(exc: Exception) -> BadRequest:
    return BadRequest(
        "the request body is not valid JSON", [{"field": "body", "message": str(exc)}]
    )


def decode_untyped(body: bytes) -> Any:
    """The JSON value of ``body``; its text checked and its depth bounded."""
    try:
        value = msgspec.json.decode(body)
    except RecursionError:
        raise too_deep() from None
    except msgspec.DecodeError as exc:
        # msgspec refuses a lone surrogate escape as malformed; the standard library reads
        # it, so that the answer can name the field that holds it.
        try:
            lenient = json.loads(body)
        except (ValueError, RecursionError):
            raise _malformed(exc) from None
        check_json_text(lenient)
        raise _malformed(exc) from None
    check_json_text(value)
    return value


def _strict_error(exc: msgspec.ValidationError) -> ValidationException:
    """msgspec's ``Expected `int`, got `str` - at `$.a[0].b``` in Litestar's shape (the
    key ``a[0].b``), so that :mod:`fitsense_api.errors` names the field as usual."""
    text = str(exc)
    message, _, at = text.partition(" - at `$")
    key = at.rstrip("`").removeprefix(".")
    return ValidationException(
        detail="Validation failed",
        extra=[{"message": message, "key": key, "source": "body"}],
    )


def check_declared_type(value: Any, annotation: Any, type_decoders: Any) -> None:
    """Raise a 422 when ``value`` is of ``annotation`` only by coercion (a string for a
    number, a number for a date-time). A body that is invalid either way is left to
    Litestar's validation, which runs after the dependencies: a request without a valid
    token still answers 401 before its body is judged."""
    if annotation is Any:
        return
    convert = partial(
        msgspec.convert,
        value,
        annotation,
        str_keys=True,
        dec_hook=partial(default_deserializer, type_decoders=type_decoders),
    )
    try:
        convert(strict=True)
    except msgspec.ValidationError as exc:
        try:
            convert(strict=False)
        except msgspec.ValidationError:
            return
        raise _strict_error(exc) from None


class StrictJsonRequest(Request):
    """The app's request class: :meth:`json` decodes as this module describes."""

    __slots__ = ("_checked_json",)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._checked_json: Any = Empty

    async def json(self) -> Any:
        if self._checked_json is Empty:
            value = decode_untyped(await self.body() or b"null")
            handler = self.route_handler
            data_field = handler.parsed_data_field
            if data_field is not None:
                check_declared_type(value, data_field.annotation, handler.resolve_type_decoders())
            self._checked_json = value
        return self._checked_json
