"""A request body as a JSON object: counted in bytes, strict UTF-8 JSON, every failure a 4xx naming the body
or the field.

Python's ``json`` module needs help on three points: it accepts ``NaN`` and ``Infinity`` (not JSON),
raises a bare ``ValueError`` for an integer literal past the int-string limit (4,300 digits), and a
``RecursionError`` for deep nesting. Each becomes a `BodyError` here, so no caller sees them.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from hng.errors import InvalidInput


class BodyError(InvalidInput):
    """The body broke a rule: ``status`` (400, 413 or 415), the ``field`` it concerns and the rule."""

    def __init__(self, status: int, message: str, field: str = "body", kind: str = "json_invalid") -> None:
        super().__init__(field, message)
        self.status = status
        self.kind = kind


class _LongInteger:
    """An integer literal too long to convert; found and reported with its field after parsing."""

    __slots__ = ("digits",)

    def __init__(self, digits: int) -> None:
        self.digits = digits


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _find_long_integer(document: Any) -> tuple[str, _LongInteger] | None:
    # Iterative: a document nested just under the parser's recursion limit must not overflow here.
    stack: list[tuple[str, Any]] = [("", document)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, _LongInteger):
            return path or "body", value
        if isinstance(value, dict):
            stack.extend(
                (f"{path}.{key}" if path else str(key), item) for key, item in reversed(value.items())
            )
        elif isinstance(value, list):
            stack.extend((f"{path}[{i}]", item) for i, item in reversed(list(enumerate(value))))
    return None


def parse_json_object(raw: bytes, *, max_bytes: int, required: str = "") -> dict[str, Any]:
    """The body as a dict, or `BodyError`: 413 over ``max_bytes``, 400 for anything but a JSON object.

    ``required`` completes the message for an empty or ``null`` body, e.g. "with at least `number`".
    """
    if len(raw) > max_bytes:
        raise BodyError(
            413, f"request body is {len(raw)} bytes; the limit is {max_bytes} bytes", kind="too_large"
        )
    wanted = f"the body must be a JSON object{' ' + required if required else ''}"
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise BodyError(400, f"malformed JSON: the body is not UTF-8 (byte {error.start})") from None
    if not text.strip(" \t\r\n"):
        raise BodyError(400, f"{wanted}; it is empty", kind="missing")
    limit = sys.get_int_max_str_digits()
    long_integers: list[_LongInteger] = []

    def parse_int(literal: str) -> int | _LongInteger:
        digits = len(literal) - literal.startswith("-")
        if limit and digits > limit:
            long_integers.append(_LongInteger(digits))
            return long_integers[-1]
        return int(literal)

    try:
        value = json.loads(text, parse_int=parse_int, parse_constant=_refuse_constant)
    except RecursionError:
        raise BodyError(400, "malformed JSON: nested too deeply") from None
    except json.JSONDecodeError as error:
        raise BodyError(
            400, f"malformed JSON: {error.msg} (line {error.lineno}, column {error.colno})"
        ) from None
    except ValueError as error:
        raise BodyError(400, f"malformed JSON: {error}") from None
    if value is None:
        raise BodyError(400, f"{wanted}; it is null", kind="missing")
    if not isinstance(value, dict):
        kind = {list: "an array", str: "a string", bool: "a boolean"}.get(type(value), "a number")
        raise BodyError(400, f"{wanted}; it is {kind}", kind="type_error")
    long_integer = _find_long_integer(value) if long_integers else None
    if long_integer is not None:
        field, found = long_integer
        raise BodyError(
            400,
            f"integer literal of {found.digits} digits is too long (at most {limit})",
            field=field,
            kind="int_too_long",
        )
    return value
