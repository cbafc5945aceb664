"""Where the handler's S3 calls go: an embedded S3 or a real bucket.

The embedded S3 is moto's server, in-process, on a free port of the API's host; a real bucket is used when
one is configured and AWS credentials are found. `start_storage` sets the environment the handler reads
(bucket, endpoint, credentials), `Storage.stop()` restores it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from hng.local.context import _REGION
from hng.local.net import advertised_host, url_host
from hng.local.serve_error import ServeError

DEFAULT_BUCKET = "hng-local"

# Security (B105): moto accepts any credentials; this dummy one signs requests to it only.
_MOTO_SECRET = "testing"  # nosec B105


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


def start_storage(
    bucket: str | None = None,
    *,
    embedded: bool | None = None,
    host: str = "127.0.0.1",
    public_host: str | None = None,
) -> Storage:
    """Set up the handler's S3 and the environment it reads (HNG_BUCKET, AWS_ENDPOINT_URL_S3, credentials).

    `bucket` defaults to $HNG_BUCKET, then "hng-local". With `embedded` None, real S3 is used only when a
    bucket is configured (argument or $HNG_BUCKET) and boto3 finds credentials; otherwise moto's server
    starts on a free port of `host` with that bucket created. Its endpoint, which the handler uses and signs
    presigned URLs for, is on `public_host` (default: `host`, or the machine's primary address when `host`
    is a wildcard such as 0.0.0.0), so the URLs work for clients that reach that address. Raises
    `ServeError` when moto's server is not installed. `Storage.stop()` undoes it all.
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

    try:  # lazily: ~1 s to import, only the embedded S3 needs it
        from moto.moto_server.werkzeug_app import MotoRequestHandler
        from moto.server import ThreadedMotoServer
    except ImportError as exc:
        raise ServeError(
            f"the embedded S3 needs moto's server ({exc.name or exc} is missing): pip install 'hng[local]'"
        ) from None

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto's per-request access log
    # werkzeug writes a response's head and body separately; with Nagle's algorithm on, the client's
    # delayed ACK adds ~40 ms to every S3 call on a keep-alive connection.
    MotoRequestHandler.disable_nagle_algorithm = True
    # The API's server has bound `host` already, so this bind (in moto's thread, unreported) succeeds.
    server = ThreadedMotoServer(ip_address=host, port=0, verbose=False)
    server.start()
    port = server.get_host_and_port()[1]
    endpoint = f"http://{url_host(public_host or advertised_host(host))}:{port}"
    storage = Storage(name, endpoint, embedded=True, _server=server)
    table = f"{name}-idempotency"
    environment: dict[str, str | None] = {
        "AWS_ENDPOINT_URL_S3": endpoint,
        # Idempotency-Key answers in the same moto server, in the table the stack would create.
        "AWS_ENDPOINT_URL_DYNAMODB": endpoint,
        "HNG_IDEMPOTENCY_TABLE": table,
        # Task Generated events on the server's default bus (no rule: they go nowhere unless one is added).
        "AWS_ENDPOINT_URL_EVENTBRIDGE": endpoint,  # botocore names it by the service id, EventBridge
        "HNG_EVENT_BUS": "default",
        "AWS_DEFAULT_REGION": _REGION,
        "AWS_REGION": _REGION,
        "HNG_BUCKET": name,
        "AWS_PROFILE": None,
        "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": None,
    }
    environment.update(AWS_ACCESS_KEY_ID=_MOTO_SECRET, AWS_SECRET_ACCESS_KEY=_MOTO_SECRET)
    # A real session token must not leak into requests signed for moto (and with AWS_PROFILE, boto3
    # would ignore AWS_ENDPOINT_URL_S3).
    environment.update(dict.fromkeys(("AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN")))
    storage._saved_env = _set_env(environment)
    try:
        import boto3

        from hng.service.idempotency import create_table

        boto3.client("s3", endpoint_url=endpoint, region_name=_REGION).create_bucket(Bucket=name)
        create_table(boto3.client("dynamodb", endpoint_url=endpoint, region_name=_REGION), table)
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
