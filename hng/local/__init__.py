"""`hng serve`: the local API. HTTP requests become API Gateway REST proxy events for a Lambda handler.

Each request is translated into the event API Gateway (REST API, Lambda proxy integration, payload format
1.0) would send, the handler is called in-process with a Lambda-like context, and its proxy response is
turned back into HTTP, so the local API runs the very code that is deployed. Storage is an embedded S3 (moto's
server, in-process, on a free port of the API's host) unless a real bucket and AWS credentials are configured.
HTTP is served by waitress (hng.local.wsgi); it and moto are the ``local`` extra (pip install 'hng[local]').

The handler is passed in, or named by a dotted path (``hng.handlers.api.lambda_handler`` by default) that
is imported only once the storage environment is set (module-level boto3 clients then point at it).

    with LocalApi(handler) as api:          # programmatic use (tests, benchmarks)
        urllib.request.urlopen(api.url + "/health")

Modules: events (HTTP <-> API Gateway events, pure), context (the Lambda context), storage (embedded or
real S3), loader (importing the handler, its resources), wsgi (the WSGI app and waitress), server (LocalApi,
serve), net (the address clients use), process (ServeProcess: ``hng serve`` as a child process), errors
(ServeError).
"""

from hng.local.context import FUNCTION_TIMEOUT_MS, LocalLambdaContext
from hng.local.events import (
    BINARY_MEDIA_TYPES,
    MalformedResponse,
    event_response_to_http,
    http_to_event,
    match_resource,
)
from hng.local.loader import Handler, discover_resources, resolve_handler
from hng.local.net import advertised_host, parse_public_url, primary_address
from hng.local.process import ServeProcess
from hng.local.serve_error import ServeError
from hng.local.server import (
    DEFAULT_HANDLER,
    DEFAULT_HOST,
    DEFAULT_PORT,
    DEFAULT_READ_TIMEOUT,
    LOG_FORMATS,
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
    "DEFAULT_READ_TIMEOUT",
    "FUNCTION_TIMEOUT_MS",
    "LOG_FORMATS",
    "MAX_BODY_BYTES",
    "Handler",
    "LocalApi",
    "LocalLambdaContext",
    "MalformedResponse",
    "ServeError",
    "ServeProcess",
    "Storage",
    "advertised_host",
    "discover_resources",
    "event_response_to_http",
    "example_curl",
    "http_to_event",
    "match_resource",
    "parse_public_url",
    "primary_address",
    "resolve_handler",
    "serve",
    "start_storage",
]
