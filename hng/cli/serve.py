"""``hng serve``: the API locally: the packaged Lambda handler behind an HTTP server and an embedded S3."""

from __future__ import annotations

import argparse

from hng.local.server import DEFAULT_HANDLER


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"port must be an integer in 0-65535, got {text!r}") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"port must be in 0-65535 (0 picks a free port), got {port}")
    return port


def add_parser(commands: argparse._SubParsersAction) -> None:
    srv = commands.add_parser(
        "serve",
        help="run the HTTP API locally (embedded S3, no AWS needed)",
        description=(
            "Run the API locally: each HTTP request becomes an API Gateway (REST, proxy) event for the "
            "Lambda handler, called in-process. Storage is an embedded S3 (moto, in memory) unless a bucket "
            "is configured (--bucket or $HNG_BUCKET) and AWS credentials are found: then real S3 is used. "
            "Ctrl-C stops it."
        ),
    )
    srv.add_argument(
        "--host",
        default="127.0.0.1",
        help="address the API and the embedded S3 listen on (default 127.0.0.1; 0.0.0.0: every address)",
    )
    srv.add_argument("--port", type=_port, default=3000, help="port (default 3000; 0 picks a free one)")
    srv.add_argument(
        "--public-url",
        default=None,
        metavar="URL",
        help="the address clients use, e.g. http://192.168.1.5:3000: the printed URL, and the host of "
        "presigned URLs (on the embedded S3's port); default: --host, or for 0.0.0.0 this machine's "
        "primary address",
    )
    srv.add_argument(
        "--log-format",
        choices=("line", "json"),
        default="line",
        help="line (default): one access-log line per request; json: the access log as JSON and the "
        "handler's own Powertools logs and metrics, as on Lambda",
    )
    srv.add_argument(
        "--bucket", default=None, help="S3 bucket (default $HNG_BUCKET, else hng-local in the embedded S3)"
    )
    srv.add_argument(
        "--embedded-s3",
        action="store_true",
        help="always use the embedded S3, even with a bucket and AWS credentials configured",
    )
    srv.add_argument(
        "--handler",
        dest="handler_path",
        default=DEFAULT_HANDLER,
        metavar="DOTTED.PATH",
        help=f"the Lambda handler to call, importable from sys.path (default {DEFAULT_HANDLER})",
    )
    srv.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    import contextlib
    import faulthandler
    import signal
    import sys

    from hng.local import serve

    # `kill -USR1` prints every thread's stack on stderr: how a server that does not stop is diagnosed
    # (hng.local.process.ServeProcess asks for it before killing one).
    if hasattr(signal, "SIGUSR1"):
        with contextlib.suppress(AttributeError, ValueError, OSError):  # a stderr without a file descriptor
            faulthandler.register(signal.SIGUSR1, file=sys.stderr, all_threads=True)
    return serve(
        args.handler_path,
        args.host,
        args.port,
        public_url=args.public_url,
        bucket=args.bucket,
        embedded_s3=True if args.embedded_s3 else None,
        log_format=args.log_format,
    )
