"""The HTTP request rules every entry point shares: event envelopes, bodies, media types.

`hng.handlers.api` applies them before Powertools routes a request, so an API Gateway event, a direct
invocation and ``hng serve`` meet the same rules in one place:

- `event`: which kind of event arrived (REST proxy, HTTP API 2.0, direct) and whether its envelope is sound;
- `body`: the request body as a JSON object, counted in bytes after base64 decoding;
- `media`: Content-Type parsing and Accept negotiation (q-values).
"""

from hng.http.body import BodyError, parse_json_object
from hng.http.event import (
    EventKind,
    InvalidEvent,
    check_context,
    classify_event,
    header,
    request_body,
    with_json_body,
)
from hng.http.media import is_json_media_type, negotiate, parse_media_type

__all__ = [
    "BodyError",
    "EventKind",
    "InvalidEvent",
    "check_context",
    "classify_event",
    "header",
    "is_json_media_type",
    "negotiate",
    "parse_json_object",
    "parse_media_type",
    "request_body",
    "with_json_body",
]
