"""The local API's HTTP layer: a WSGI app turning each request into an API Gateway event, served by waitress.

waitress does the HTTP/1.1 work (request lines, headers, chunked bodies, keep-alive, limits, timeouts); it
reads a whole request before a worker thread sees it, so a slow or stalled client holds no thread. The few
subclasses here answer its errors in JSON like the rest of the API, refuse request lines that are not
HTTP/1.0 or HTTP/1.1 as soon as the line is complete, and keep the request headers as sent (name case and
repeats, which WSGI's environ loses) for the event. Imported only by `LocalApi.start`: waitress is in the
``local`` extra.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import socket
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any, Literal, TextIO

from waitress import wasyncore
from waitress.adjustments import Adjustments
from waitress.channel import HTTPChannel
from waitress.parser import HTTPRequestParser, first_line_re, get_header_lines
from waitress.rfc7230 import HEADER_FIELD_RE
from waitress.server import TcpWSGIServer
from waitress.task import ErrorTask, ThreadedTaskDispatcher, WSGITask, hop_by_hop
from waitress.utilities import BadRequest, Error, RequestEntityTooLarge

from hng.local.context import LocalLambdaContext
from hng.local.events import event_response_to_http, http_to_event
from hng.local.loader import Handler

LogFormat = Literal["line", "json"]
# A WSGI application may not send these (waitress refuses them); the server sets its own framing.
_HOP_BY_HOP = frozenset(hop_by_hop) | {"content-length", "keep-alive", "trailer"}
_BARE_LF = re.compile(rb"(?<!\r)\n")
_TASK_ID = re.compile(rb'"taskId"\s*:\s*"([^"\\]{1,200})"')
_MAX_HEADER_BYTES = 65536


def _header_text(text: str) -> str:
    # No CR/LF (response splitting); headers go out as latin-1, so non-ASCII text goes out as its UTF-8
    # bytes.
    text = text.replace("\r", " ").replace("\n", " ")
    return text if text.isascii() else text.encode("utf-8").decode("latin-1")


@dataclass(frozen=True)
class AccessRecord:
    """One answered request, as the access log shows it."""

    source_ip: str
    method: str
    target: str
    status: int
    elapsed_ms: float
    request_id: str
    task_id: str | None = None

    def line(self) -> str:
        task = f" task {self.task_id}" if self.task_id else ""
        request = f"{self.method} {self.target}".strip()
        return f'{self.source_ip} "{request}" {self.status} {self.elapsed_ms:.1f} ms{task}'

    def json(self) -> str:
        record = {
            "level": "INFO",
            "location": "hng.local",
            "message": "request",
            "timestamp": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "method": self.method,
            "path": self.target,
            "status": self.status,
            "duration_ms": round(self.elapsed_ms, 1),
            "request_id": self.request_id,
            "source_ip": self.source_ip,
        }
        if self.task_id:
            record["task_id"] = self.task_id
        return json.dumps(record)


class AccessLog:
    """Writes one line per answered request to `stream`: plain text, or one JSON object (`fmt` "json")."""

    def __init__(self, stream: TextIO | None, fmt: LogFormat = "line") -> None:
        self.stream, self.fmt = stream, fmt
        self._lock = threading.Lock()

    def write(self, record: AccessRecord) -> None:
        if self.stream is None:
            return
        text = record.json() if self.fmt == "json" else record.line()
        with self._lock:
            self.stream.write(text + "\n")
            self.stream.flush()


def task_id_of(headers: Iterable[tuple[str, str]], payload: bytes) -> str | None:
    """The task id an answer carries: its X-Task-Id header, else a JSON body's ``taskId``."""
    content_type = ""
    for name, value in headers:
        lower = name.lower()
        if lower == "x-task-id" and value:
            return value
        if lower == "content-type":
            content_type = value
    if "json" in content_type.lower():
        found = _TASK_ID.search(payload)
        if found:
            return found.group(1).decode("utf-8", errors="replace")
    return None


class ApiApp:
    """The WSGI application: request → API Gateway event → `handler` → HTTP answer (502 when it fails)."""

    def __init__(
        self,
        handler: Handler,
        *,
        stage: str,
        resources: Sequence[str] | None,
        binary_media_types: Sequence[str],
        invoke_lock: threading.Lock | None,
        access_log: AccessLog,
    ) -> None:
        self.handler, self.stage, self.resources = handler, stage, resources
        self.binary_media_types, self.invoke_lock = binary_media_types, invoke_lock
        self.access_log = access_log

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        started = time.perf_counter()
        request_id = str(uuid.uuid4())
        method = environ["REQUEST_METHOD"]
        target = environ.get("REQUEST_URI") or environ.get("PATH_INFO", "/")
        source_ip = environ.get("REMOTE_ADDR") or "127.0.0.1"
        # waitress has read the whole body (chunked ones decoded) before calling the app, within its limit.
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length > 0 else b""
        event = http_to_event(
            method,
            target,
            environ.get("hng.raw_headers") or _environ_headers(environ),
            body,
            stage=self.stage,
            request_id=request_id,
            source_ip=source_ip,
            resources=self.resources,
            binary_media_types=self.binary_media_types,
        )
        status, headers, payload = self._invoke(event, request_id)
        extra = [("x-amzn-ErrorType", "InternalServerErrorException")] if status == 502 else []
        if "x-amzn-requestid" not in {name.lower() for name, _ in headers}:
            extra.append(("x-amzn-RequestId", request_id))
        out = [
            (_header_text(name), _header_text(value))
            for name, value in [*headers, *extra]
            if name.lower() not in _HOP_BY_HOP
        ]
        out.append(("Content-Length", str(len(payload))))
        try:
            phrase = HTTPStatus(status).phrase
        except ValueError:
            phrase = "Unknown"
        start_response(f"{status} {phrase}", out)
        elapsed_ms = (time.perf_counter() - started) * 1000
        self.access_log.write(
            AccessRecord(
                source_ip, method, target, status, elapsed_ms, request_id, task_id_of(headers, payload)
            )
        )
        return [] if method == "HEAD" or status in (204, 304) else [payload]

    def _invoke(self, event: dict[str, Any], request_id: str) -> tuple[int, list[tuple[str, str]], bytes]:
        context = LocalLambdaContext(request_id)
        try:
            if self.invoke_lock is not None:
                with self.invoke_lock:
                    response = self.handler(event, context)
            else:
                response = self.handler(event, context)
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


def _environ_headers(environ: dict[str, Any]) -> list[tuple[str, str]]:
    headers = []
    for key, value in environ.items():
        if key.startswith("HTTP_"):
            headers.append((key[5:].replace("_", "-").title(), value))
        elif key in ("CONTENT_TYPE", "CONTENT_LENGTH") and value:
            headers.append((key.replace("_", "-").title(), value))
    return headers


# --- waitress, adapted --------------------------------------------------------------------------------------


class _VersionNotSupported(Error):
    code = 505
    reason = "HTTP Version Not Supported"


def _request_line_problem(line: bytes) -> Error | None:
    """Why a request line cannot become an API Gateway event, or None. API Gateway answers these itself:
    the handler never sees a method that is not a word (``G-E-T``) nor a target that is not a path
    (``*``, ``host:port``)."""
    found = first_line_re.fullmatch(line)
    if found is None:
        shown = line[:100].decode("latin-1")
        return BadRequest(f"the request line must be 'METHOD TARGET HTTP/1.1', got {shown!r}")
    version = found["version"]
    if version is None:
        return BadRequest("HTTP/0.9 requests (no HTTP version on the request line) are not supported")
    if version not in (b"1.0", b"1.1"):
        return _VersionNotSupported(f"HTTP/{version.decode()} is not supported: use HTTP/1.1 or HTTP/1.0")
    method, target = found["method"], found["uri"]
    if not method.isalpha():
        shown = method[:40].decode("latin-1")
        return BadRequest(f"the method must be letters only (GET, POST, ...), got {shown!r}")
    if not target.startswith(b"/") and _ABSOLUTE_TARGET.match(target) is None:
        shown = target[:100].decode("latin-1")
        return BadRequest(f"the request target must be a path starting with '/', got {shown!r}")
    return None


# An absolute-form target (what a client talking to a proxy sends) carries its path after the host.
_ABSOLUTE_TARGET = re.compile(rb"https?://[^/?#]+(?:[/?]|$)", re.IGNORECASE)


class _Parser(HTTPRequestParser):
    raw_headers: list[tuple[str, str]] | None = None
    completed: bool  # set by waitress's parser; declared for the type checker

    def received(self, data: bytes) -> int:
        # waitress reads a request line and its headers up to the blank line before it looks at them; a
        # bad request line (HTTP/0.9 has no headers nor blank line) is answered as soon as it is complete,
        # and so is a line ending in a bare LF: waitress would wait for a CRLF CRLF that never comes.
        if self.body_rcv is None and not self.completed:
            pending = (self.header_plus + data).lstrip()
            end = pending.find(b"\n")
            line = pending[:end].rstrip(b"\r")
            problem = _request_line_problem(line) if end >= 0 else None
            head_end = pending.find(b"\r\n\r\n")
            if problem is None and _BARE_LF.search(pending if head_end < 0 else pending[:head_end]):
                problem = BadRequest("every line of the request must end in CRLF; a bare LF was sent")
            if problem is not None:
                super().parse_header(b"GET / HTTP/1.1\r\n")  # fills the fields the error answer reads
                self.first_line = line if end >= 0 else pending[:100]
                self.error, self.completed = problem, True
                return len(data)
            return super().received(data)
        consumed = super().received(data)
        # A chunk announcing more than the body limit is refused when its size line arrives, not after the
        # client has streamed the limit's worth (or stalled, holding the connection until the timeout).
        receiver = self.body_rcv
        chunk = getattr(receiver, "chunk_remainder", 0) if self.chunked else 0
        if receiver is not None and chunk and not self.completed:
            limit = self.adj.max_request_body_size
            if len(receiver) + chunk >= limit:
                self.error = RequestEntityTooLarge(f"a chunk of {chunk} bytes exceeds max_body of {limit}")
                self.completed = True
        return consumed

    def parse_header(self, header_plus: bytes) -> None:
        super().parse_header(header_plus)
        pairs = []
        for line in get_header_lines(header_plus.partition(b"\r\n")[2]):
            field = HEADER_FIELD_RE.match(line)
            if field:
                name, value = field.group("name", "value")
                pairs.append((name.decode("latin-1"), value.strip(b" \t").decode("latin-1")))
        self.raw_headers = pairs


class _Task(WSGITask):
    def get_environment(self) -> dict[str, Any]:
        environ = super().get_environment()
        environ["hng.raw_headers"] = self.request.raw_headers
        return environ


class _ErrorTask(ErrorTask):
    """waitress' own refusals (bad request line or chunk, headers or body too large) in the API's JSON."""

    def execute(self) -> None:
        error = self.request.error
        # API Gateway's own words for a payload over its limit.
        message = "Request Too Long" if error.code == 413 else f"{error.reason}: {error.body}"
        body = json.dumps({"message": message}).encode()
        request_id = str(uuid.uuid4())
        self.version = "1.1"  # whatever the client sent, the status line is HTTP/1.1
        self.status = f"{error.code} {error.reason}"
        self.response_headers.extend([("Content-Type", "application/json"), ("x-amzn-RequestId", request_id)])
        self.set_close_on_finish()
        self.content_length = len(body)
        self.write(body)
        server = self.channel.server
        if isinstance(server, _Server):
            method, _, target = (self.request.first_line or b"-").decode("latin-1")[:200].partition(" ")
            elapsed_ms = (time.time() - self.start_time) * 1000
            record = AccessRecord(self.channel.addr[0], method, target, error.code, elapsed_ms, request_id)
            server.access_log.write(record)


class _Channel(HTTPChannel):
    task_class = _Task
    error_task_class = _ErrorTask
    parser_class = _Parser

    def handle_close(self) -> None:
        # After an error answer the client may have sent bytes never read (the rest of what was refused);
        # closing on unread data sends a reset, which can destroy the answer before the client reads it.
        # So: FIN first, then discard what has already arrived (the socket is non-blocking), then close.
        if self.connected and self.socket is not None:
            with contextlib.suppress(OSError):
                self.socket.shutdown(socket.SHUT_WR)
                for _ in range(64):
                    if not self.socket.recv(65536):
                        break
        super().handle_close()


class _Server(TcpWSGIServer):
    channel_class = _Channel
    access_log: AccessLog


class _Dispatcher(ThreadedTaskDispatcher):
    # waitress warns "Task queue depth is N" whenever a request waits for a thread: with handler calls
    # serialized, that is every concurrent request.
    queue_logger = logging.getLogger("hng.local.queue")
    queue_logger.addHandler(logging.NullHandler())
    queue_logger.propagate = False


class HttpServer:
    """waitress serving `app` on one address; `serve_forever` in a thread, `stop` from another."""

    def __init__(
        self,
        app: ApiApp,
        host: str,
        port: int,
        *,
        read_timeout: int,
        max_body_bytes: int,
        threads: int = 4,
    ) -> None:
        adj = Adjustments(
            host=host,
            port=port,
            threads=threads,
            ident="hng-local",
            # Inactivity, including a request's body that stops arriving half-way: the connection is closed.
            channel_timeout=read_timeout,
            cleanup_interval=max(1, min(30, read_timeout)),
            # waitress refuses a body of its limit or more; chunked bodies are counted as they arrive.
            max_request_body_size=max_body_bytes + 1,
            max_request_header_size=_MAX_HEADER_BYTES,
            backlog=128,
            clear_untrusted_proxy_headers=False,  # the handler sees every header, as behind API Gateway
        )
        self._map: dict[int, Any] = {}
        self._dispatcher = _Dispatcher()
        try:
            self._server = _Server(
                app, self._map, dispatcher=self._dispatcher, adj=adj, sockinfo=adj.listen[0]
            )
        except BaseException:
            wasyncore.close_all(self._map, ignore_all=True)
            raise
        self._server.access_log = app.access_log
        self._dispatcher.set_thread_count(threads)
        self.port = int(self._server.effective_port)

    def serve_forever(self) -> None:
        self._server.run()

    def stop(self) -> None:
        """Make `serve_forever` return: the listening socket and every connection close in waitress' loop."""
        with contextlib.suppress(OSError):  # the loop is gone already
            self._server.trigger.pull_trigger(self._close_in_loop)

    def _close_in_loop(self) -> None:
        trigger = self._server.trigger
        try:
            for fd, dispatcher in list(self._map.items()):
                if dispatcher is trigger:
                    continue
                # A channel caught mid-request may fail to close with any error; waitress' trigger would
                # swallow it and leave the loop (and `stop`) waiting forever on that channel.
                with contextlib.suppress(Exception):
                    dispatcher.close()
                self._map.pop(fd, None)
        finally:
            # The loop ends when its map is empty. The trigger's pipe stays open until `close`: another
            # thread may be writing to it right now (a request that just finished wakes the loop through it).
            trigger.del_channel()

    def close(self) -> None:
        """After `serve_forever` has returned (or never ran): release what is left, stop the threads."""
        wasyncore.close_all(self._map, ignore_all=True)
        self._server.trigger.close()
        self._dispatcher.shutdown(timeout=1)
