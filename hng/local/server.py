"""The local API's server: each HTTP request becomes an API Gateway event for the in-process handler.

`LocalApi` serves in a background thread (tests, benchmarks); `serve` runs it in the foreground for
``hng serve``, until Ctrl-C or SIGTERM. Handler failures and malformed responses answer 502, as API
Gateway does. The HTTP layer (hng.local.wsgi) is a WSGI app served by waitress.
"""

from __future__ import annotations

import contextlib
import errno
import math
import signal
import sys
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal, TextIO

from hng.local.events import BINARY_MEDIA_TYPES
from hng.local.loader import Handler, discover_resources, resolve_handler
from hng.local.net import WILDCARD_HOSTS, advertised_host, parse_public_url, url_host
from hng.local.serve_error import ServeError
from hng.local.storage import Storage, _set_env, start_storage

if TYPE_CHECKING:
    from hng.local.wsgi import ApiApp, HttpServer

DEFAULT_HANDLER = "hng.handlers.api.lambda_handler"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 3000
# API Gateway's own limit: 10 MB payload.
MAX_BODY_BYTES = 10 * 1024 * 1024
# Seconds a connection may stay silent (idle keep-alive, or a body that stops arriving) before it closes.
DEFAULT_READ_TIMEOUT = 10
LOG_FORMATS = ("line", "json")
INSTALL_HINT = "pip install 'hng[local]'"
# What the handler's Powertools Logger and Metrics read at import (set before it, restored at stop): with
# the one-line access log, only its warnings and errors; with json, its logs and EMF metrics as on Lambda.
_POWERTOOLS_ENV: dict[str, dict[str, str | None]] = {
    "line": {"POWERTOOLS_METRICS_DISABLED": "true", "POWERTOOLS_LOG_LEVEL": "WARNING"},
    "json": {"POWERTOOLS_METRICS_DISABLED": "false"},
}


class LocalApi:
    """The local API, started in a background thread: ``with LocalApi(handler) as api: ... api.url``.

    `handler` is a callable or a dotted name imported after the storage is set up. `storage`: None sets one
    up with `start_storage(bucket, embedded=embedded_s3)` on the API's host (and stops it with the server),
    False uses none (the handler's environment is left alone), or a `Storage` you own. Handler calls are
    serialized by default (`serialize`): one warm Lambda container handles one event at a time, and
    Powertools keeps the current event, Logger keys and Metrics on module-level objects that concurrent
    calls would share.

    `public_url` (``http://HOST[:PORT]``) is the address clients use: the API's URL and the host the
    embedded S3's presigned URLs point at (on the S3's own port); without it, `host`, or for a wildcard
    host (0.0.0.0) the machine's primary address. `log_format` "line" writes one access-log line per
    request to `access_log` and quiets the handler's Powertools logs (warnings and errors only) and
    metrics; "json" writes the access log as JSON and leaves the handler's logs and metrics on. A connection
    silent for `read_timeout` seconds (idle, or a body that stops arriving) is closed.
    """

    def __init__(
        self,
        handler: Handler | str,
        host: str = DEFAULT_HOST,
        port: int = 0,
        *,
        public_url: str | None = None,
        bucket: str | None = None,
        embedded_s3: bool | None = None,
        storage: Storage | bool | None = None,
        stage: str = "local",
        resources: Sequence[str] | None = None,
        discover: bool = False,
        serialize: bool = True,
        binary_media_types: Sequence[str] = BINARY_MEDIA_TYPES,
        access_log: TextIO | None = None,
        log_format: Literal["line", "json"] = "line",
        read_timeout: float = DEFAULT_READ_TIMEOUT,
    ) -> None:
        if log_format not in LOG_FORMATS:
            raise ValueError(f"log_format must be one of {', '.join(LOG_FORMATS)}, got {log_format!r}")
        if not (isinstance(read_timeout, int | float) and math.isfinite(read_timeout) and read_timeout > 0):
            raise ValueError(f"read_timeout must be a positive number of seconds, got {read_timeout!r}")
        self._public = parse_public_url(public_url) if public_url is not None else None
        self._handler_spec = handler
        self.host, self.port = host, port
        self._bucket, self._embedded_s3 = bucket, embedded_s3
        self._storage_spec = storage
        self._owns_storage = storage is None
        self.storage: Storage | None = storage if isinstance(storage, Storage) else None
        self.stage, self.resources, self._discover = stage, resources, discover
        self._serialize, self._binary_media_types = serialize, binary_media_types
        self._access_log, self.log_format = access_log, log_format
        self.read_timeout = max(1, math.ceil(read_timeout))  # waitress counts whole seconds
        self.handler: Handler | None = None
        self._http: HttpServer | None = None
        self._thread: threading.Thread | None = None
        self._saved_env: dict[str, str | None] = {}

    @property
    def public_host(self) -> str:
        """The host clients use for the API and the embedded S3 (see `public_url`)."""
        return self._public[1] if self._public else advertised_host(self.host)

    @property
    def url(self) -> str:
        if self._http is None:
            raise RuntimeError("the local API is not running")
        if self._public:
            scheme, host, port = self._public
            return f"{scheme}://{url_host(host)}:{port or self.port}"
        return f"http://{url_host(self.public_host)}:{self.port}"

    @property
    def s3_endpoint(self) -> str | None:
        return self.storage.endpoint if self.storage is not None else None

    def start(self) -> str:
        """Bind, set up storage, resolve the handler, serve in a daemon thread; returns the base URL."""
        try:
            from hng.local.wsgi import AccessLog, ApiApp, HttpServer
        except ImportError as exc:
            missing = exc.name or exc
            raise ServeError(f"hng serve needs waitress ({missing} is missing): {INSTALL_HINT}") from None
        app = ApiApp(
            _not_ready,
            stage=self.stage,
            resources=self.resources,
            binary_media_types=self._binary_media_types,
            invoke_lock=threading.Lock() if self._serialize else None,
            access_log=AccessLog(self._access_log, self.log_format),
        )
        http = _bind(app, self.host, self.port, self.read_timeout, HttpServer)
        # Dataset jobs (POST /datasets) run on the local engine of `hng dataset`, not Step Functions.
        self._saved_env = _set_env({**_POWERTOOLS_ENV[self.log_format], "HNG_DATASET_ENGINE": "local"})
        try:
            if self._storage_spec is None:
                self.storage = start_storage(
                    self._bucket, embedded=self._embedded_s3, host=self.host, public_host=self.public_host
                )
            spec = self._handler_spec
            self.handler = resolve_handler(spec) if isinstance(spec, str) else spec
            if self.resources is None and self._discover:
                self.resources = discover_resources(self.handler)
        except BaseException:
            http.close()
            self._stop_storage()
            self._restore_env()
            raise
        _ready(app, self.handler, self.resources)
        self._http, self.port = http, http.port
        self._thread = threading.Thread(target=http.serve_forever, name="hng-serve", daemon=True)
        self._thread.start()
        return self.url

    def stop(self) -> None:
        """Stop serving (in-flight requests on daemon threads are abandoned), then stop the storage."""
        http, self._http = self._http, None
        if http is not None:
            http.stop()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if http is not None:
            http.close()
        self._stop_storage()
        self._restore_env()

    def _stop_storage(self) -> None:
        if self._owns_storage and self.storage is not None:
            self.storage.stop()
            self.storage = None

    def _restore_env(self) -> None:
        saved, self._saved_env = self._saved_env, {}
        _set_env(saved)

    def __enter__(self) -> LocalApi:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def _not_ready(event: dict[str, Any], context: Any) -> Any:
    raise RuntimeError("the handler is not loaded yet")


def _ready(app: ApiApp, handler: Handler, resources: Sequence[str] | None) -> None:
    app.handler, app.resources = handler, resources


def _bind(app: ApiApp, host: str, port: int, read_timeout: int, server_class: type[HttpServer]) -> HttpServer:
    try:
        return server_class(app, host, port, read_timeout=read_timeout, max_body_bytes=MAX_BODY_BYTES)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise ServeError(
                f"port {port} on {host} is already in use: stop what runs there, or pick another with --port "
                "(--port 0 picks a free one)"
            ) from None
        raise ServeError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    except ValueError as exc:  # waitress' check of the address
        raise ServeError(f"cannot listen on {host}:{port}: {exc}") from None


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
    public_url: str | None = None,
    bucket: str | None = None,
    embedded_s3: bool | None = None,
    log_format: Literal["line", "json"] = "line",
    read_timeout: float = DEFAULT_READ_TIMEOUT,
    out: TextIO | None = None,
    access_log: TextIO | None = None,
    stop: threading.Event | None = None,
) -> int:
    """Run the local API until Ctrl-C (SIGINT), SIGTERM or `stop` is set; returns the exit code (0).

    Prints the API URL, the S3 endpoint and example requests to `out` (stdout); logs one line per request
    to `access_log` (stderr), in `log_format` (see `LocalApi`). Raises `ServeError` when it cannot start,
    ValueError for a bad `public_url`. Signals are handled only when called from the main thread;
    elsewhere pass `stop`.
    """
    out = out or sys.stdout
    api = LocalApi(
        handler,
        host,
        port,
        public_url=public_url,
        bucket=bucket,
        embedded_s3=embedded_s3,
        discover=True,
        access_log=access_log or sys.stderr,
        log_format=log_format,
        read_timeout=read_timeout,
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
        if api.host in WILDCARD_HOSTS:
            # Security (B104): printed; --host chose all addresses.
            host = url_host(api.host or "0.0.0.0")  # nosec B104
            lines.append(f"  listening on {host}:{api.port} (all addresses)")
        if storage is not None:
            lines.append(f"  S3: {storage.describe()}")
            if storage.endpoint:
                lines.append(f"  S3 endpoint: {storage.endpoint}")
        if _handler_name(api.handler) == DEFAULT_HANDLER:
            lines.append(f"  in a browser: {api.url}/ (the playground), {api.url}/docs (the API docs)")
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
