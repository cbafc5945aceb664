"""`hng serve`: the local API. HTTP requests become API Gateway REST proxy events for a Lambda handler.

Each request is translated into the event API Gateway (REST API, Lambda proxy integration, payload format
1.0) would send, the handler is called in-process with a Lambda-like context, and its proxy response is
turned back into HTTP, so the local API runs the very code that is deployed. Storage is an embedded S3 (moto's
server, in-process, on a free loopback port) unless a real bucket and AWS credentials are configured.

This module imports nothing from ``functions/``: the handler is passed in, or named by a dotted path that
is imported only once the storage environment is set (module-level boto3 clients then point at it).

    with LocalApi(handler) as api:          # programmatic use (tests, benchmarks)
        urllib.request.urlopen(api.url + "/health")
"""

from __future__ import annotations

import base64
import contextlib
import errno
import importlib
import json
import os
import re
import signal
import socket
import socketserver
import subprocess
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import parse_qsl, unquote, urlsplit

Handler = Callable[[dict[str, Any], Any], Any]

DEFAULT_HANDLER = "functions.api.app.lambda_handler"
DEFAULT_BUCKET = "hng-local"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 3000
# API Gateway's own limits: 10 MB payload, 29 s integration timeout (the function's context says 30 s).
MAX_BODY_BYTES = 10 * 1024 * 1024
FUNCTION_TIMEOUT_MS = 30_000
# Content types whose request body reaches the handler base64-encoded: template.yaml's BinaryMediaTypes.
BINARY_MEDIA_TYPES = ("image/png",)
_HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "transfer-encoding", "content-length", "upgrade", "te", "trailer"}
)
_ACCOUNT_ID = "123456789012"
_REGION = "us-east-1"


class ServeError(Exception):
    """The local API could not start (port in use, bad address, handler not importable): one-line message."""


# --- event translation ----------------------------------------------------------------------------------


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
    split = urlsplit(raw_path_with_query)
    path = unquote(split.path) or "/"

    pairs = _header_pairs(headers)
    single_headers: dict[str, str] = {}
    multi_headers: dict[str, list[str]] = {}
    canonical: dict[str, str] = {}  # lower-case name -> the spelling first sent
    for name, value in pairs:
        name = canonical.setdefault(name.lower(), name)
        single_headers[name] = value
        multi_headers.setdefault(name, []).append(value)

    query = parse_qsl(split.query, keep_blank_values=True)
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


def _header_text(text: str) -> str:
    # No CR/LF (response splitting); http.server writes headers as latin-1, so non-ASCII text goes out
    # as its UTF-8 bytes.
    text = text.replace("\r", " ").replace("\n", " ")
    return text if text.isascii() else text.encode("utf-8").decode("latin-1")


def _header_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# --- the Lambda context -----------------------------------------------------------------------------------


@dataclass
class LocalLambdaContext:
    """What the Lambda runtime passes as `context`, for the handler and Powertools (Logger reads it)."""

    aws_request_id: str
    function_name: str = "hng-local"
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 1024
    timeout_ms: int = FUNCTION_TIMEOUT_MS
    log_group_name: str = "/aws/lambda/hng-local"
    log_stream_name: str = "local"
    identity: Any = None
    client_context: Any = None
    tenant_id: str | None = None
    _deadline: float = field(default=0.0, repr=False)

    def __post_init__(self) -> None:
        self._deadline = time.monotonic() + self.timeout_ms / 1000

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:{_REGION}:{_ACCOUNT_ID}:function:{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


# --- storage ----------------------------------------------------------------------------------------------


def _has_aws_credentials() -> bool:
    import boto3
    from botocore.exceptions import BotoCoreError

    try:
        return boto3.Session().get_credentials() is not None
    except BotoCoreError:  # e.g. AWS_PROFILE names no profile: no usable credentials
        return False


@dataclass
class Storage:
    """Where the handler's S3 calls go: the embedded moto server or a real bucket."""

    bucket: str
    endpoint: str | None
    embedded: bool
    _server: Any = field(default=None, repr=False)
    _saved_env: dict[str, str | None] = field(default_factory=dict, repr=False)

    def describe(self) -> str:
        if self.embedded:
            return f"embedded (moto, in memory: lost when the server stops), bucket {self.bucket}"
        region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "default region"
        where = self.endpoint or f"AWS, {region}"
        return f"real S3 ({where}), bucket {self.bucket}"

    def stop(self) -> None:
        """Stop the embedded server and restore the environment variables it set."""
        server, self._server = self._server, None
        if server is not None:
            server.stop()
        for name, value in self._saved_env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        self._saved_env = {}


def start_storage(bucket: str | None = None, *, embedded: bool | None = None) -> Storage:
    """Set up the handler's S3 and the environment it reads (HNG_BUCKET, AWS_ENDPOINT_URL_S3, credentials).

    `bucket` defaults to $HNG_BUCKET, then "hng-local". With `embedded` None, real S3 is used only when a
    bucket is configured (argument or $HNG_BUCKET) and boto3 finds credentials; otherwise moto's server
    starts on a free 127.0.0.1 port with that bucket created. `Storage.stop()` undoes it all.
    """
    configured = bucket or os.environ.get("HNG_BUCKET")
    if embedded is None:
        embedded = not (configured and _has_aws_credentials())
    name = configured or DEFAULT_BUCKET
    if not embedded:
        storage = Storage(name, os.environ.get("AWS_ENDPOINT_URL_S3") or None, embedded=False)
        storage._saved_env = _set_env({"HNG_BUCKET": name})
        return storage

    import logging

    from moto.moto_server.werkzeug_app import MotoRequestHandler
    from moto.server import ThreadedMotoServer  # lazily: ~1 s to import, only the embedded S3 needs it

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto's per-request access log
    # werkzeug writes a response's head and body separately; with Nagle's algorithm on, the client's
    # delayed ACK adds ~40 ms to every S3 call on a keep-alive connection.
    MotoRequestHandler.disable_nagle_algorithm = True
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    storage = Storage(name, endpoint, embedded=True, _server=server)
    storage._saved_env = _set_env(
        {
            "AWS_ENDPOINT_URL_S3": endpoint,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": _REGION,
            "AWS_REGION": _REGION,
            "HNG_BUCKET": name,
            # A real session token or profile must not leak into requests signed for moto, and this
            # setting would make boto3 ignore AWS_ENDPOINT_URL_S3.
            "AWS_SESSION_TOKEN": None,
            "AWS_SECURITY_TOKEN": None,
            "AWS_PROFILE": None,
            "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": None,
        }
    )
    try:
        import boto3

        boto3.client("s3", endpoint_url=endpoint, region_name=_REGION).create_bucket(Bucket=name)
    except BaseException:
        storage.stop()
        raise
    return storage


def _set_env(values: Mapping[str, str | None]) -> dict[str, str | None]:
    saved = {name: os.environ.get(name) for name in values}
    for name, value in values.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    return saved


# --- resolving the handler --------------------------------------------------------------------------------


def find_project_root(package: str = "functions", start: Path | None = None) -> Path | None:
    """The checkout root holding `package`/: the current directory or a parent, else the one holding hng/."""
    start = (start or Path.cwd()).resolve()
    for candidate in (start, *start.parents, Path(__file__).resolve().parents[1]):
        if (candidate / package).is_dir():
            return candidate
    return None


def resolve_handler(dotted: str, project_root: Path | None = None) -> Handler:
    """Import ``package.module.attribute`` (or ``package.module:attribute``) with the project root first on
    sys.path, so the checkout's functions/ wins over anything installed under the same name."""
    module_name, sep, attribute = dotted.rpartition(":") if ":" in dotted else dotted.rpartition(".")
    if not sep or not module_name or not attribute:
        raise ServeError(f"--handler must look like package.module.function, got {dotted!r}")
    root = project_root or find_project_root(module_name.split(".", 1)[0])
    if root is not None and str(root) not in sys.path:
        sys.path.insert(0, str(root))
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and (module_name == exc.name or module_name.startswith(exc.name + ".")):
            where = f" (looked in {root} and sys.path)" if root else ""
            raise ServeError(f"cannot import the handler module {module_name!r}{where}") from exc
        raise
    handler = getattr(module, attribute, None)
    if not callable(handler):
        raise ServeError(f"{module_name} has no callable {attribute!r}")
    return handler


def discover_resources(handler: Handler, openapi_path: str = "/openapi.json") -> list[str] | None:
    """The API's resource templates, read from the handler's own OpenAPI document (None if unavailable)."""
    event = http_to_event("GET", openapi_path, {"Host": "localhost"}, None)
    try:
        status, _, payload = event_response_to_http(handler(event, LocalLambdaContext(str(uuid.uuid4()))))
        paths = json.loads(payload).get("paths") if status == 200 else None
    except Exception:
        return None
    return sorted(paths) if isinstance(paths, dict) and paths else None


# --- the HTTP server --------------------------------------------------------------------------------------


class _BadRequest(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "hng-local"
    # Headers and body go out in separate writes: with Nagle's algorithm on, the client's delayed ACK
    # holds each keep-alive response back by ~40 ms.
    disable_nagle_algorithm = True
    server: _Server

    def version_string(self) -> str:
        return self.server_version

    def __getattr__(self, name: str) -> Any:
        # BaseHTTPRequestHandler dispatches to do_<METHOD>: every method, known or not, goes to the handler.
        if name.startswith("do_"):
            return self._forward
        raise AttributeError(name)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        # http.server's own rejections (malformed request line, URI too long...) answer JSON like the rest.
        short = self.responses.get(code, ("Error",))[0]
        body = json.dumps({"message": message or short}).encode()
        self.close_connection = True
        self.send_response(code, short)
        self.send_header("Connection", "close")
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        self.log_message("%d %s", code, message or short)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass  # _forward writes one line per request, with its duration

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.access_log is not None:
            self.server.access_log.write(f"{self.address_string()} {format % args}\n")

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._read_chunked()
        length_header = self.headers.get("Content-Length")
        if length_header is None:
            return b""
        try:
            length = int(length_header)
            if length < 0:
                raise ValueError
        except ValueError:
            raise _BadRequest(400, "Invalid Content-Length") from None
        if length > MAX_BODY_BYTES:
            raise _BadRequest(413, "Request Too Long")
        return self.rfile.read(length)

    def _read_chunked(self) -> bytes:
        chunks, total = [], 0
        while True:
            line = self.rfile.readline(65537)
            try:
                size = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                raise _BadRequest(400, "Invalid chunked encoding") from None
            if size == 0:
                while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return b"".join(chunks)
            total += size
            if total > MAX_BODY_BYTES:
                raise _BadRequest(413, "Request Too Long")
            chunks.append(self.rfile.read(size))
            self.rfile.readline()

    def _forward(self) -> None:
        started = time.perf_counter()
        request_id = str(uuid.uuid4())
        extra: list[tuple[str, str]] = []
        try:
            body = self._read_body()
        except _BadRequest as exc:
            self.close_connection = True
            status, headers, payload = exc.status, [], json.dumps({"message": str(exc)}).encode()
            headers.append(("Content-Type", "application/json"))
        else:
            status, headers, payload = self._invoke(body, request_id)
            if status == 502:
                extra.append(("x-amzn-ErrorType", "InternalServerErrorException"))

        names = {name.lower() for name, _ in headers}
        if "x-amzn-requestid" not in names:
            extra.append(("x-amzn-RequestId", request_id))
        self.send_response(status)
        for name, value in [*headers, *extra]:
            if name.lower() not in _HOP_BY_HOP:
                self.send_header(_header_text(name), _header_text(value))
        self.send_header("Content-Length", str(len(payload)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD" and status not in (204, 304):
            self.wfile.write(payload)
        if self.server.access_log is not None:
            elapsed_ms = (time.perf_counter() - started) * 1000
            self.server.access_log.write(
                f'{self.client_address[0]} "{self.command} {self.path}" {status} {elapsed_ms:.1f} ms\n'
            )

    def _invoke(self, body: bytes, request_id: str) -> tuple[int, list[tuple[str, str]], bytes]:
        server = self.server
        event = http_to_event(
            self.command,
            self.path,
            self.headers.items(),
            body,
            stage=server.stage,
            request_id=request_id,
            source_ip=self.client_address[0],
            resources=server.resources,
            binary_media_types=server.binary_media_types,
        )
        context = LocalLambdaContext(request_id)
        try:
            if server.invoke_lock is not None:
                with server.invoke_lock:
                    response = server.handler(event, context)
            else:
                response = server.handler(event, context)
            # The Lambda runtime hands API Gateway the JSON serialization of the result: what does not
            # serialize fails there (Runtime.MarshalError), and an IntEnum status becomes a plain number.
            return event_response_to_http(json.loads(json.dumps(response)))
        except (Exception, SystemExit):
            # API Gateway's answer to a failed or malformed invocation; the details go to the log only.
            sys.stderr.write(
                f"hng serve: request {request_id} failed in the handler:\n{traceback.format_exc()}"
            )
            sys.stderr.flush()
            return 502, [("Content-Type", "application/json")], b'{"message": "Internal server error"}'


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    allow_reuse_port = False  # two servers must never share a port silently
    request_queue_size = 128  # socketserver's 5 resets bursts of concurrent clients

    handler: Handler
    stage: str
    resources: Sequence[str] | None
    binary_media_types: Sequence[str]
    invoke_lock: threading.Lock | None
    access_log: TextIO | None

    def server_bind(self) -> None:
        # HTTPServer.server_bind calls socket.getfqdn (a DNS lookup); the name is not needed here.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), port


class _Server6(_Server):
    address_family = socket.AF_INET6


def _bind(host: str, port: int) -> _Server:
    server_class = _Server6 if ":" in host else _Server
    try:
        return server_class((host, port), _RequestHandler)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise ServeError(
                f"port {port} on {host} is already in use: stop what runs there, or pick another with --port "
                "(--port 0 picks a free one)"
            ) from None
        raise ServeError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None


class LocalApi:
    """The local API, started in a background thread: ``with LocalApi(handler) as api: ... api.url``.

    `handler` is a callable or a dotted name imported after the storage is set up. `storage`: None sets one
    up with `start_storage(bucket, embedded=embedded_s3)` (and stops it with the server), False uses none
    (the handler's environment is left alone), or a `Storage` you own. Handler calls are serialized by
    default (`serialize`): one warm Lambda container handles one event at a time, and Powertools keeps the
    current event, Logger keys and Metrics on module-level objects that concurrent calls would share.
    """

    def __init__(
        self,
        handler: Handler | str,
        host: str = DEFAULT_HOST,
        port: int = 0,
        *,
        bucket: str | None = None,
        embedded_s3: bool | None = None,
        storage: Storage | bool | None = None,
        stage: str = "local",
        resources: Sequence[str] | None = None,
        discover: bool = False,
        serialize: bool = True,
        binary_media_types: Sequence[str] = BINARY_MEDIA_TYPES,
        access_log: TextIO | None = None,
        project_root: Path | None = None,
    ) -> None:
        self._handler_spec = handler
        self.host, self.port = host, port
        self._bucket, self._embedded_s3 = bucket, embedded_s3
        self._storage_spec = storage
        self._owns_storage = storage is None
        self.storage: Storage | None = storage if isinstance(storage, Storage) else None
        self.stage, self.resources, self._discover = stage, resources, discover
        self._serialize, self._binary_media_types = serialize, binary_media_types
        self._access_log, self._project_root = access_log, project_root
        self.handler: Handler | None = None
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the local API is not running")
        host = self.host if self.host not in ("", "0.0.0.0", "::") else "127.0.0.1"
        return f"http://{f'[{host}]' if ':' in host else host}:{self.port}"

    @property
    def s3_endpoint(self) -> str | None:
        return self.storage.endpoint if self.storage is not None else None

    def start(self) -> str:
        """Bind, set up storage, resolve the handler, serve in a daemon thread; returns the base URL."""
        server = _bind(self.host, self.port)
        try:
            if self._storage_spec is None:
                self.storage = start_storage(self._bucket, embedded=self._embedded_s3)
            spec = self._handler_spec
            self.handler = resolve_handler(spec, self._project_root) if isinstance(spec, str) else spec
            if self.resources is None and self._discover:
                self.resources = discover_resources(self.handler)
        except BaseException:
            server.server_close()
            self._stop_storage()
            raise
        server.handler = self.handler
        server.stage = self.stage
        server.resources = self.resources
        server.binary_media_types = self._binary_media_types
        server.invoke_lock = threading.Lock() if self._serialize else None
        server.access_log = self._access_log
        self._server, self.port = server, server.server_port
        # A short poll interval makes stop() quick (serve_forever checks for shutdown between polls).
        self._thread = threading.Thread(
            target=server.serve_forever, args=(0.05,), name="hng-serve", daemon=True
        )
        self._thread.start()
        return self.url

    def stop(self) -> None:
        """Stop serving (in-flight requests on daemon threads are abandoned), then stop the storage."""
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        self._stop_storage()

    def _stop_storage(self) -> None:
        if self._owns_storage and self.storage is not None:
            self.storage.stop()
            self.storage = None

    def __enter__(self) -> LocalApi:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def example_curl(url: str) -> list[str]:
    body = '{"augment": "true", "number": 42, "spacing_min": 5, "spacing_max": 10, "image_width": 56}'
    return [
        f"curl -s {url}/health",
        f"curl -s -X POST {url}/generate -H 'Content-Type: application/json' -d '{body}'",
        f"curl -s -X POST {url}/generate -H 'Content-Type: application/json' -H 'Accept: image/png' "
        f"-d '{body}' -o 42.png",
    ]


class _Stop(Exception):
    pass


def serve(
    handler: Handler | str = DEFAULT_HANDLER,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    *,
    bucket: str | None = None,
    embedded_s3: bool | None = None,
    out: TextIO | None = None,
    access_log: TextIO | None = None,
    project_root: Path | None = None,
    stop: threading.Event | None = None,
) -> int:
    """Run the local API until Ctrl-C (SIGINT), SIGTERM or `stop` is set; returns the exit code (0).

    Prints the API URL, the S3 endpoint and example requests to `out` (stdout); logs one line per request
    to `access_log` (stderr). Raises `ServeError` when it cannot start. Signals are handled only when
    called from the main thread; elsewhere pass `stop`.
    """
    out = out or sys.stdout
    api = LocalApi(
        handler,
        host,
        port,
        bucket=bucket,
        embedded_s3=embedded_s3,
        discover=True,
        access_log=access_log or sys.stderr,
        project_root=project_root,
    )
    in_main_thread = threading.current_thread() is threading.main_thread()
    previous_term: Any = None
    previous_int: Any = None
    if in_main_thread:

        def on_signal(signum: int, frame: Any) -> None:
            raise _Stop

        previous_term = signal.signal(signal.SIGTERM, on_signal)
        # Explicitly, not through KeyboardInterrupt: a shell starts background jobs with SIGINT ignored,
        # and Python then never installs its Ctrl-C handler.
        previous_int = signal.signal(signal.SIGINT, on_signal)
    try:
        try:
            api.start()
        except _Stop:
            return 0
        storage = api.storage
        lines = [f"hng serve: API at {api.url}  (handler: {_handler_name(api.handler)})"]
        if storage is not None:
            lines.append(f"  S3: {storage.describe()}")
            if storage.endpoint:
                lines.append(f"  S3 endpoint: {storage.endpoint}")
        lines += ["  try:", *(f"    {line}" for line in example_curl(api.url)), "  Ctrl-C stops the server."]
        with contextlib.suppress(KeyboardInterrupt, _Stop):
            print("\n".join(lines), file=out, flush=True)
            (stop or threading.Event()).wait()  # until set, or a signal handler raises
        print("hng serve: stopping", file=out, flush=True)
        return 0
    finally:
        # Signals during the shutdown itself must not leave moto or the socket half-stopped.
        if in_main_thread:
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
        try:
            api.stop()
        finally:
            if in_main_thread:
                signal.signal(signal.SIGINT, previous_int or signal.SIG_DFL)
                signal.signal(signal.SIGTERM, previous_term or signal.SIG_DFL)


def _handler_name(handler: Any) -> str:
    module = getattr(handler, "__module__", None)
    name = getattr(handler, "__qualname__", None) or type(handler).__name__
    return f"{module}.{name}" if module else name


class ServeProcess:
    """``hng serve`` as a child process, for tests and benchmarks: ``with ServeProcess() as proc: proc.url``.

    Starts ``python -m hng.cli serve --port 0 [args]``, drains its output in threads (the handler's JSON logs
    must never fill a pipe), and waits for the printed API URL. `stop()` sends SIGINT and returns the exit
    code; a process that does not stop within `stop_timeout` seconds is killed.
    """

    def __init__(
        self,
        *args: str,
        cwd: Path | None = None,
        env: Mapping[str, str] | None = None,
        python: str = sys.executable,
        startup_timeout: float = 120.0,
        stop_timeout: float = 30.0,
    ) -> None:
        root = Path(__file__).resolve().parents[1]  # the child runs this very hng
        self.cwd = cwd or (root if (root / "functions").is_dir() else Path.cwd())
        base = dict(os.environ if env is None else env)
        base["PYTHONPATH"] = os.pathsep.join(p for p in (str(root), base.get("PYTHONPATH")) if p)
        self.env = base
        self.command = [python, "-m", "hng.cli", "serve", "--port", "0", *args]
        self.startup_timeout, self.stop_timeout = startup_timeout, stop_timeout
        self.url: str | None = None
        self.s3_endpoint: str | None = None
        self.returncode: int | None = None
        self._stdout: list[str] = []
        self._stderr: list[str] = []
        self._ready = threading.Event()
        self._process: subprocess.Popen[str] | None = None
        self._readers: list[threading.Thread] = []

    @property
    def stdout(self) -> str:
        return "".join(self._stdout)

    @property
    def stderr(self) -> str:
        return "".join(self._stderr)

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def _read(self, stream: TextIO, sink: list[str], watch: bool) -> None:
        for line in stream:
            sink.append(line)
            if watch and self.url is None and "API at " in line:
                self.url = line.split("API at ", 1)[1].split()[0]
            elif watch and "S3 endpoint: " in line:
                self.s3_endpoint = line.split("S3 endpoint: ", 1)[1].split()[0]
            elif watch and "Ctrl-C" in line:
                self._ready.set()
        self._ready.set()  # the process ended: wake start()

    def start(self) -> str:
        self._process = subprocess.Popen(
            self.command,
            cwd=self.cwd,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
            errors="replace",
        )
        for stream, sink, watch in (
            (self._process.stdout, self._stdout, True),
            (self._process.stderr, self._stderr, False),
        ):
            reader = threading.Thread(target=self._read, args=(stream, sink, watch), daemon=True)
            reader.start()
            self._readers.append(reader)
        self._ready.wait(self.startup_timeout)
        if self.url is None or self._process.poll() is not None:
            self.stop()
            raise RuntimeError(
                f"hng serve did not start (exit code {self.returncode}):\n{self.stderr[-4000:]}"
            )
        return self.url

    def stop(self, sig: int = signal.SIGINT) -> int:
        process = self._process
        if process is None:
            return self.returncode if self.returncode is not None else 0
        if process.poll() is None:
            process.send_signal(sig)
            try:
                process.wait(self.stop_timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for reader in self._readers:
            reader.join()
        self.returncode = process.returncode
        return self.returncode

    def __enter__(self) -> ServeProcess:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
