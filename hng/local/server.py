"""The local API's HTTP server: each request becomes an API Gateway event for the in-process handler.

`LocalApi` serves in a background thread (tests, benchmarks); `serve` runs it in the foreground for
``hng serve``, until Ctrl-C or SIGTERM. Handler failures and malformed responses answer 502, as API
Gateway does.
"""

from __future__ import annotations

import contextlib
import errno
import json
import signal
import socket
import socketserver
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TextIO

from hng.local.context import LocalLambdaContext
from hng.local.errors import ServeError
from hng.local.events import BINARY_MEDIA_TYPES, event_response_to_http, http_to_event
from hng.local.loader import Handler, discover_resources, resolve_handler
from hng.local.storage import Storage, start_storage

DEFAULT_HANDLER = "functions.api.app.lambda_handler"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 3000
# API Gateway's own limit: 10 MB payload.
MAX_BODY_BYTES = 10 * 1024 * 1024
_HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "transfer-encoding", "content-length", "upgrade", "te", "trailer"}
)


def _header_text(text: str) -> str:
    # No CR/LF (response splitting); http.server writes headers as latin-1, so non-ASCII text goes out
    # as its UTF-8 bytes.
    text = text.replace("\r", " ").replace("\n", " ")
    return text if text.isascii() else text.encode("utf-8").decode("latin-1")


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
