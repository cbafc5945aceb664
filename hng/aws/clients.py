"""Every boto3 client hng makes, from one factory, and what "the key does not exist" means.

Profiles (what a caller can afford to wait):

- `INTERACTIVE`, the API's task store: SigV4 (the only signature every region accepts for presigned
  URLs), 1 s to connect, 2 s per socket read, 2 attempts, no ``Expect: 100-continue`` (botocore waits up to
  1 s for the 100 before sending a body), and a deadline for the whole call. The socket timeouts bound a
  silent server only: one that trickles a byte every 1.5 s never trips a 2 s read timeout, so every call
  also ends after ``deadline`` seconds, whatever the server does, and the API answers 503 well inside API
  Gateway's 29 s.
- `BULK`, dataset shards and files: adaptive retries (backoff with jitter on SlowDown and 503, then
  client-side rate limiting), 10 attempts, botocore's timeouts: a 100 MB shard takes its time.
- `CONTROL`, Step Functions calls: 2 s to connect, 5 s per read, 3 attempts.

Region and endpoint come from boto3's own configuration (AWS_REGION, AWS_ENDPOINT_URL_S3, ...) unless
given, so ``hng serve``'s embedded S3 and moto reach every client alike.
"""

from __future__ import annotations

import functools
import threading
from dataclasses import dataclass
from typing import Any

# A missing key or bucket, as S3 reports it: HeadObject answers a bare 404, GetObject NoSuchKey.
MISSING_KEY_CODES = frozenset({"404", "NoSuchKey", "NotFound"})
MISSING_CODES = MISSING_KEY_CODES | {"NoSuchBucket"}
ACCESS_DENIED_CODES = frozenset({"403", "AccessDenied", "Forbidden"})


@dataclass(frozen=True)
class ClientProfile:
    connect_timeout: float | None = None
    read_timeout: float | None = None
    max_attempts: int = 3
    retry_mode: str = "standard"
    deadline: float | None = None  # seconds for a whole call, retries included; None: no deadline
    expect_continue: bool = True
    signature_version: str | None = None


S3_CONNECT_TIMEOUT = 1.0
S3_READ_TIMEOUT = 2.0
S3_MAX_ATTEMPTS = 2
# What the socket timeouts allow a call against a silent server (2 x (1 + 2) s, 1 s of backoff): the
# deadline cuts only a call that keeps receiving, so it never ends one the timeouts would have let finish.
S3_CALL_DEADLINE = S3_MAX_ATTEMPTS * (S3_CONNECT_TIMEOUT + S3_READ_TIMEOUT) + sum(
    2.0 ** (i - 1) for i in range(1, S3_MAX_ATTEMPTS)
)

INTERACTIVE = ClientProfile(
    connect_timeout=S3_CONNECT_TIMEOUT,
    read_timeout=S3_READ_TIMEOUT,
    max_attempts=S3_MAX_ATTEMPTS,
    deadline=S3_CALL_DEADLINE,
    expect_continue=False,
    signature_version="s3v4",
)
BULK = ClientProfile(max_attempts=10, retry_mode="adaptive")
CONTROL = ClientProfile(connect_timeout=2, read_timeout=5, max_attempts=3)


@functools.cache
def _deadline_exceeded() -> Any:  # a BotoCoreError subclass (botocore has no type information)
    # Built on first use: importing botocore costs about 0.1 s, which `import hng.datasets` need not pay.
    from botocore.exceptions import BotoCoreError

    class DeadlineExceeded(BotoCoreError):
        """The call did not finish within its profile's deadline (a server trickling bytes, say): a
        BotoCoreError, so that callers handle it as the timeouts botocore raises itself."""

        fmt = "{operation} did not finish within {seconds:g} s"

    return DeadlineExceeded


def __getattr__(name: str) -> Any:
    if name == "DeadlineExceeded":
        return _deadline_exceeded()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def client_config(profile: ClientProfile) -> Any:
    """The botocore Config of ``profile``."""
    from botocore.config import Config

    retries = {"mode": profile.retry_mode, "total_max_attempts": profile.max_attempts}
    options: dict[str, Any] = {"retries": retries}
    if profile.connect_timeout is not None:
        options["connect_timeout"] = profile.connect_timeout
    if profile.read_timeout is not None:
        options["read_timeout"] = profile.read_timeout
    if profile.signature_version is not None:
        options["signature_version"] = profile.signature_version
    return Config(**options)


def make_client(
    service: str,
    profile: ClientProfile,
    *,
    endpoint_url: str | None = None,
    region_name: str | None = None,
) -> Any:
    """A boto3 client for ``service`` configured by ``profile``."""
    import boto3

    config = client_config(profile)
    client = boto3.client(service, endpoint_url=endpoint_url, region_name=region_name, config=config)
    if not profile.expect_continue:
        client.meta.events.register_last(
            f"before-call.{client.meta.service_model.endpoint_prefix}", _no_expect
        )
    return client if profile.deadline is None else DeadlineClient(client, profile.deadline)


class LazyClient:
    """A client made on first use (`make_client`), once, whatever thread asks first: what a module-level
    object holds so that a cold start that never calls the service never pays for its client."""

    def __init__(self, service: str, profile: ClientProfile) -> None:
        self.service, self.profile = service, profile
        self._client: Any = None
        self._lock = threading.Lock()

    def get(self) -> Any:
        with self._lock:
            if self._client is None:
                self._client = make_client(self.service, self.profile)
            return self._client


def _no_expect(params: dict[str, Any], **kwargs: Any) -> None:
    params["headers"].pop("Expect", None)  # not a signed header


def error_code(error: Any) -> str:
    """The code of a botocore ClientError ("NoSuchKey", "404", ...), or "" for anything else."""
    response = getattr(error, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


def is_missing(error: Any) -> bool:
    """Whether a ClientError says the key does not exist."""
    return error_code(error) in MISSING_KEY_CODES


class DeadlineClient:
    """A boto3 client whose API calls end after ``deadline`` seconds: each call runs in a daemon thread
    that the caller stops waiting for (the abandoned call ends when its socket does; presigning and the
    client's other local helpers run directly)."""

    _LOCAL = frozenset({"generate_presigned_url", "generate_presigned_post", "can_paginate", "close"})

    def __init__(self, client: Any, deadline: float) -> None:
        self._client = client
        self.deadline = deadline

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._client, name)
        if name.startswith("_") or name in self._LOCAL or not callable(attribute):
            return attribute
        if name not in self._client.meta.method_to_api_mapping:
            return attribute
        return lambda *args, **kwargs: self._call(name, attribute, args, kwargs)

    def _call(self, name: str, method: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        outcome: dict[str, Any] = {}
        done = threading.Event()

        def run() -> None:
            try:
                outcome["value"] = method(*args, **kwargs)
            except BaseException as error:  # handed to the caller's thread below
                outcome["error"] = error
            finally:
                done.set()

        threading.Thread(target=run, name=f"hng-{name}", daemon=True).start()
        if not done.wait(self.deadline):
            raise _deadline_exceeded()(operation=name, seconds=self.deadline)
        if "error" in outcome:
            raise outcome["error"]
        return outcome["value"]
