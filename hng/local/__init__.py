"""`hng serve`: the local API. HTTP requests become API Gateway REST proxy events for a Lambda handler.

Each request is translated into the event API Gateway (REST API, Lambda proxy integration, payload format
1.0) would send, the handler is called in-process with a Lambda-like context, and its proxy response is
turned back into HTTP, so the local API runs the very code that is deployed. Storage is an embedded S3 (moto's
server, in-process, on a free loopback port) unless a real bucket and AWS credentials are configured.

This package imports nothing from ``functions/``: the handler is passed in, or named by a dotted path that
is imported only once the storage environment is set (module-level boto3 clients then point at it).

    with LocalApi(handler) as api:          # programmatic use (tests, benchmarks)
        urllib.request.urlopen(api.url + "/health")

Modules: events (HTTP <-> API Gateway events, pure), context (the Lambda context), storage (embedded or
real S3), loader (importing the handler, its resources), server (the HTTP server, LocalApi, serve),
process (ServeProcess: ``hng serve`` as a child process), errors (ServeError).
"""

from hng.local.context import FUNCTION_TIMEOUT_MS, LocalLambdaContext
from hng.local.errors import ServeError
from hng.local.events import (
    BINARY_MEDIA_TYPES,
    MalformedResponse,
    event_response_to_http,
    http_to_event,
    match_resource,
)
from hng.local.loader import Handler, discover_resources, find_project_root, resolve_handler
from hng.local.process import ServeProcess
from hng.local.server import (
    DEFAULT_HANDLER,
    DEFAULT_HOST,
    DEFAULT_PORT,
    MAX_BODY_BYTES,
    LocalApi,
    example_curl,
    serve,
)
from hng.local.storage import DEFAULT_BUCKET, Storage, start_storage

__all__ = [
    "BINARY_MEDIA_TYPES",
    "DEFAULT_BUCKET",
    "DEFAULT_HANDLER",
    "DEFAULT_HOST",
    "DEFAULT_PORT",
    "FUNCTION_TIMEOUT_MS",
    "MAX_BODY_BYTES",
    "Handler",
    "LocalApi",
    "LocalLambdaContext",
    "MalformedResponse",
    "ServeError",
    "ServeProcess",
    "Storage",
    "discover_resources",
    "event_response_to_http",
    "example_curl",
    "find_project_root",
    "http_to_event",
    "match_resource",
    "resolve_handler",
    "serve",
    "start_storage",
]
