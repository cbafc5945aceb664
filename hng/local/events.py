"""HTTP requests to API Gateway REST proxy events (payload format 1.0), Lambda proxy responses to HTTP.

Pure translation, no I/O: `http_to_event` builds the event API Gateway would send for one request (with
`match_resource` picking the resource template), `event_response_to_http` builds the HTTP answer from the
handler's proxy response, or raises `MalformedResponse` where API Gateway would answer 502.
"""

from __future__ import annotations

import base64
import re
import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from hng.local.context import _ACCOUNT_ID

# Content types whose request body reaches the handler base64-encoded: template.yaml's BinaryMediaTypes.
BINARY_MEDIA_TYPES = ("image/png", "image/jpeg")


def _header_pairs(headers: Mapping[str, str] | Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    items = headers.items() if isinstance(headers, Mapping) else headers
    return [(str(name), str(value)) for name, value in items]


def _is_binary(content_type: str | None, binary_media_types: Sequence[str]) -> bool:
    if not content_type:
        return False
    media = content_type.split(";", 1)[0].strip().lower()
    for pattern in binary_media_types:
        pattern = pattern.lower()
        if pattern == "*/*" or pattern == media:
            return True
        if pattern.endswith("/*") and media.startswith(pattern[:-1]):
            return True
    return False


def _template_regex(template: str) -> re.Pattern[str]:
    parts = []
    for piece in re.split(r"(\{[^}]+\})", template):
        if piece.startswith("{") and piece.endswith("}"):
            name = piece[1:-1]
            greedy = name.endswith("+")
            name = name.rstrip("+")
            parts.append(f"(?P<{name}>.+)" if greedy else f"(?P<{name}>[^/]+)")
        else:
            parts.append(re.escape(piece))
    return re.compile("^" + "".join(parts) + "$")


def match_resource(path: str, resources: Sequence[str]) -> tuple[str, dict[str, str] | None] | None:
    """The API resource template `path` falls under and its path parameters, as API Gateway picks it:
    a literal resource beats a templated one, a greedy ``{proxy+}`` comes last. None if nothing matches."""

    def rank(template: str) -> tuple[int, int, int]:
        return ("+}" in template, template.count("{"), -len(template))

    for template in sorted(resources, key=rank):
        found = _template_regex(template).match(path)
        if found:
            params = {name: value for name, value in found.groupdict().items() if name}
            return template, params or None
    return None


def split_target(target: str) -> tuple[str, str]:
    """(path, query) of a request target as sent. A path is taken as it is: ``//generate`` is the path
    ``//generate`` (a path with an empty segment, which matches no resource), where ``urlsplit`` would read
    ``generate`` as a host name and leave the path empty. An absolute-form target (``http://host/path``)
    gives its path."""
    if not target.startswith("/"):
        split = urlsplit(target)
        return split.path, split.query
    path, _, query = target.partition("#")[0].partition("?")
    return path, query


def http_to_event(
    method: str,
    raw_path_with_query: str,
    headers: Mapping[str, str] | Iterable[tuple[str, str]],
    body: bytes | None,
    *,
    stage: str = "local",
    request_id: str | None = None,
    source_ip: str = "127.0.0.1",
    resources: Sequence[str] | None = None,
    binary_media_types: Sequence[str] = BINARY_MEDIA_TYPES,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The API Gateway REST proxy event (payload format 1.0) for one HTTP request.

    `headers` keep their names as sent. Repeated headers and query keys are all in the ``multiValue*``
    fields, the last value in the single-value ones; both query fields are None when there is no query,
    as API Gateway does. A body whose content type is one of `binary_media_types` (the API's
    binaryMediaTypes; ``*/*`` and ``type/*`` patterns work) is base64 with ``isBase64Encoded``; any other
    is text, its invalid UTF-8 bytes replaced by U+FFFD as API Gateway does; an empty body is None.
    With `resources` (the API's resource templates, e.g. ``/generate/{taskId}``) the matched template
    fills ``resource`` and ``pathParameters``; otherwise ``resource`` is the path and ``pathParameters``
    None.
    """
    request_id = request_id or str(uuid.uuid4())
    now = now or datetime.now(UTC)
    raw_path, raw_query = split_target(raw_path_with_query)
    path = unquote(raw_path) or "/"

    pairs = _header_pairs(headers)
    single_headers: dict[str, str] = {}
    multi_headers: dict[str, list[str]] = {}
    canonical: dict[str, str] = {}  # lower-case name -> the spelling first sent
    for name, value in pairs:
        name = canonical.setdefault(name.lower(), name)
        single_headers[name] = value
        multi_headers.setdefault(name, []).append(value)

    query = parse_qsl(raw_query, keep_blank_values=True)
    single_query: dict[str, str] | None = None
    multi_query: dict[str, list[str]] | None = None
    if query:
        single_query, multi_query = {}, {}
        for key, value in query:
            single_query[key] = value
            multi_query.setdefault(key, []).append(value)

    content_type = next((v for k, v in single_headers.items() if k.lower() == "content-type"), None)
    text: str | None = None
    is_base64 = False
    if body:
        if _is_binary(content_type, binary_media_types):
            text, is_base64 = base64.b64encode(body).decode("ascii"), True
        else:
            text = body.decode("utf-8", errors="replace")

    resource, path_parameters = path, None
    if resources:
        matched = match_resource(path, resources)
        if matched:
            resource, path_parameters = matched

    host = next((v for k, v in single_headers.items() if k.lower() == "host"), "localhost")
    user_agent = next((v for k, v in single_headers.items() if k.lower() == "user-agent"), None)
    identity = dict.fromkeys(
        (
            "cognitoIdentityPoolId",
            "accountId",
            "cognitoIdentityId",
            "caller",
            "accessKey",
            "cognitoAuthenticationType",
            "cognitoAuthenticationProvider",
            "userArn",
            "user",
        )
    )
    identity.update(sourceIp=source_ip, userAgent=user_agent)
    return {
        "resource": resource,
        "path": path,
        "httpMethod": method,
        "headers": single_headers or None,
        "multiValueHeaders": multi_headers or None,
        "queryStringParameters": single_query,
        "multiValueQueryStringParameters": multi_query,
        "pathParameters": path_parameters,
        "stageVariables": None,
        "requestContext": {
            "accountId": _ACCOUNT_ID,
            "apiId": "local",
            "resourceId": "local",
            "resourcePath": resource,
            "httpMethod": method,
            "path": f"/{stage}{path}",
            "stage": stage,
            "requestId": request_id,
            "extendedRequestId": request_id,
            "requestTime": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "requestTimeEpoch": int(now.timestamp() * 1000),
            "identity": identity,
            "protocol": "HTTP/1.1",
            "domainName": host,
            "domainPrefix": host.split(".", 1)[0],
        },
        "body": text,
        "isBase64Encoded": is_base64,
    }


class MalformedResponse(ValueError):
    """The handler's answer is not a valid Lambda proxy response (API Gateway answers 502)."""


def event_response_to_http(response: Mapping[str, Any]) -> tuple[int, list[tuple[str, str]], bytes]:
    """(status, headers, body bytes) from a Lambda proxy response, as API Gateway builds the HTTP answer.

    Keys in ``multiValueHeaders`` win over the same key in ``headers`` (case-insensitively); a base64 body
    (``isBase64Encoded``) is decoded. Raises `MalformedResponse` for anything API Gateway would reject.
    """
    if not isinstance(response, Mapping):
        raise MalformedResponse(f"the response must be a dict, got {type(response).__name__}")
    status = response.get("statusCode", 200)
    if isinstance(status, str) and status.isdigit():
        status = int(status)
    if not isinstance(status, int) or isinstance(status, bool) or not 100 <= status <= 599:
        raise MalformedResponse(f"statusCode must be an HTTP status code, got {status!r}")

    multi = response.get("multiValueHeaders") or {}
    single = response.get("headers") or {}
    if not isinstance(multi, Mapping) or not isinstance(single, Mapping):
        raise MalformedResponse("headers and multiValueHeaders must be objects")
    headers: list[tuple[str, str]] = []
    multi_names = {str(name).lower() for name in multi}
    for name, values in multi.items():
        if not isinstance(values, list | tuple):
            raise MalformedResponse(f"multiValueHeaders[{name!r}] must be a list")
        headers.extend((str(name), _header_value(value)) for value in values if value is not None)
    for name, value in single.items():
        if str(name).lower() not in multi_names and value is not None:
            headers.append((str(name), _header_value(value)))

    body = response.get("body")
    if body is None:
        payload = b""
    elif not isinstance(body, str):
        raise MalformedResponse(f"body must be a string, got {type(body).__name__}")
    elif response.get("isBase64Encoded"):
        try:
            payload = base64.b64decode(body, validate=True)
        except ValueError as exc:
            raise MalformedResponse(f"isBase64Encoded is set but the body is not base64: {exc}") from exc
    else:
        payload = body.encode("utf-8")
    return int(status), headers, payload


def _header_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
