"""What kind of event reached the function, and whether its envelope is sound.

API Gateway always sends well-formed REST proxy events (payload format 1.0), but the function is also
invoked directly (Step Functions, EventBridge, other Lambdas, tests), where anything can arrive. An
event that carries API Gateway's envelope keys is held to that envelope's types here, so a malformed one
is refused with `InvalidEvent` naming the key, never with a ``KeyError`` deep inside the router.
"""

from __future__ import annotations

import base64
import binascii
import enum
from collections.abc import Mapping
from typing import Any

from hng.errors import InvalidInput
from hng.http.body import BodyError, parse_json_object
from hng.http.media import is_json_media_type, parse_media_type


class InvalidEvent(InvalidInput):
    """A directly invoked event broke a rule; the message names each key or field."""

    def __init__(self, message: str, field: str = "event") -> None:
        super().__init__(field, message)


class EventKind(enum.Enum):
    REST = "rest"  # API Gateway REST API, Lambda proxy integration (payload format 1.0)
    DIRECT = "direct"  # a plain object with the request fields


# Keys only API Gateway's envelopes carry; no request field of the API has these names.
_ENVELOPE_KEYS = frozenset({"httpMethod", "requestContext", "resource", "path", "multiValueHeaders"})
_HTTP_API_KEYS = frozenset({"routeKey", "rawPath", "rawQueryString"})


def _string_map(event: Mapping[str, Any], key: str, *, lists: bool = False) -> str | None:
    value = event.get(key)
    if value is None:
        return None
    if not isinstance(value, dict):
        return f"{key} must be an object or null, got {type(value).__name__}"
    for name, item in value.items():
        if not isinstance(name, str):
            return f"{key} keys must be strings"
        if lists:
            if not isinstance(item, list) or not all(isinstance(v, str) for v in item):
                return f"{key}[{name!r}] must be a list of strings"
        elif not isinstance(item, str):
            return f"{key}[{name!r}] must be a string, got {type(item).__name__}"
    return None


def classify_event(event: Any) -> EventKind:
    """REST for an API Gateway REST proxy event, DIRECT for a plain object; `InvalidEvent` otherwise."""
    if not isinstance(event, dict):
        raise InvalidEvent(f"event must be a JSON object with the request fields, got {type(event).__name__}")
    if event.get("version") == "2.0" or _HTTP_API_KEYS & event.keys():
        raise InvalidEvent(
            "HTTP API (payload format 2.0) events are not served: this function answers a REST API "
            "(payload format 1.0, see template.yaml), or a direct invocation with the request fields"
        )
    if not _ENVELOPE_KEYS & event.keys():
        return EventKind.DIRECT
    problems = []
    method = event.get("httpMethod")
    if not isinstance(method, str) or not method.isalpha():
        problems.append(f"httpMethod must be an HTTP method name such as GET, got {method!r}")
    path = event.get("path")
    if not isinstance(path, str) or not path.startswith("/"):
        problems.append(f"path must be a string starting with '/', got {path!r}")
    if not isinstance(event.get("requestContext"), dict):
        problems.append("requestContext must be an object")
    for key in ("headers", "queryStringParameters", "pathParameters", "stageVariables"):
        problem = _string_map(event, key)
        if problem:
            problems.append(problem)
    for key in ("multiValueHeaders", "multiValueQueryStringParameters"):
        problem = _string_map(event, key, lists=True)
        if problem:
            problems.append(problem)
    body = event.get("body")
    if body is not None and not isinstance(body, str):
        problems.append(f"body must be a string or null, got {type(body).__name__}")
    encoded = event.get("isBase64Encoded")
    if encoded is not None and not isinstance(encoded, bool):
        problems.append(f"isBase64Encoded must be true or false, got {encoded!r}")
    if problems:
        raise InvalidEvent("invalid API Gateway event: " + "; ".join(problems))
    return EventKind.REST


def request_body(event: Mapping[str, Any]) -> bytes:
    """The body's bytes as the client sent them (base64 decoded); `InvalidEvent` for invalid base64."""
    body = event.get("body") or ""
    if not event.get("isBase64Encoded"):
        return body.encode("utf-8", "surrogatepass")
    try:
        return base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidEvent(
            "invalid API Gateway event: isBase64Encoded is true but body is not base64"
        ) from None


def header(event: Mapping[str, Any], name: str) -> str | None:
    """A header of a REST event, by case-insensitive name (``name`` in lower case)."""
    for key, value in (event.get("headers") or {}).items():
        if key.lower() == name:
            return value
    return None


def with_json_body(event: Mapping[str, Any], *, required: str, max_bytes: int) -> dict[str, Any]:
    """The REST event of a route that takes a JSON object, checked: its body decoded to plain text and a
    canonical Content-Type, or `BodyError` (413 over ``max_bytes``, 415 for another media type or charset,
    400 for anything but a JSON object). A missing Content-Type is read as JSON.

    The event returned is what Powertools' own body parsing accepts as is: it re-parses a body that is
    known to be a JSON object within the limits, and sees no content type but application/json.
    """
    raw = request_body(event)
    content_type = header(event, "content-type")
    if content_type is not None:
        media = parse_media_type(content_type)
        charset = (media[1].get("charset") or "utf-8").lower() if media else None
        if media is None or not is_json_media_type(media[0]) or charset not in ("utf-8", "utf8"):
            raise BodyError(
                415,
                f"Content-Type must be application/json (UTF-8), got {content_type[:100]!r}",
                field="Content-Type",
                kind="unsupported_media_type",
            )
    parse_json_object(raw, max_bytes=max_bytes, required=required)
    headers = {k: v for k, v in (event.get("headers") or {}).items() if k.lower() != "content-type"}
    multi = {k: v for k, v in (event.get("multiValueHeaders") or {}).items() if k.lower() != "content-type"}
    return {
        **event,
        "body": raw.decode("utf-8"),
        "isBase64Encoded": False,
        "headers": {**headers, "Content-Type": "application/json"},
        "multiValueHeaders": {**multi, "Content-Type": ["application/json"]},
    }


def check_context(context: Any) -> None:
    """The Lambda context must carry at least ``aws_request_id`` and ``function_name``."""
    missing = [name for name in ("aws_request_id", "function_name") if not hasattr(context, name)]
    if missing:
        raise TypeError(
            f"context must be the Lambda context object (missing {', '.join(missing)}), "
            f"got {type(context).__name__}"
        )
