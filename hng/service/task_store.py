"""S3 storage of generated images: keys grouped by task id, PNG first, metadata after it, no orphans.

    tasks/{taskId}/{number}.png
    tasks/{taskId}/metadata.json

An S3 PutObject is atomic, so the PNG is stored whole or not at all. The metadata is written only after
its image; if that write fails, the image (and the metadata, in case the write landed after all) is
deleted again, so a reader never finds an image without metadata. When that clean-up fails too, the
StorageError names the image left behind (``orphan_key``); the bucket's lifecycle rule expires it.

The client fails fast (``client_config``): a stalled S3 raises StorageError well inside the Lambda
function's 30 s timeout and API Gateway's 29 s, rather than after boto3's default 60 s timeouts.
boto3's default client honours AWS_ENDPOINT_URL_S3, which is how ``hng serve`` points it at its
embedded S3.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from hng.aws.clients import (
    ACCESS_DENIED_CODES,
    INTERACTIVE,
    S3_CALL_DEADLINE,
    error_code,
    is_missing,
)
from hng.aws.clients import client_config as aws_client_config
from hng.aws.clients import make_client as make_aws_client
from hng.core.ids import is_task_id
from hng.errors import InvalidInput, NotFound, Unavailable

if TYPE_CHECKING:
    from botocore.config import Config

PREFIX = "tasks/"
MAX_URL_EXPIRY = 7 * 24 * 3600  # SigV4 presigned URLs cannot live longer
DEFAULT_URL_EXPIRY = 3600

# Timeouts and retries of every S3 request (seconds; attempts include the first one).
#
# One request takes at most S3_MAX_ATTEMPTS × (connect + read) plus botocore's jittered backoff between
# attempts (standard mode: at most 2^(i-1) s before attempt i+1 after throttling, 50 ms × 2^(i-1) after
# a timeout or a 5xx):
#     2 × (1 + 2) + 1 = 7 s                                    (S3_REQUEST_WORST_CASE)
# load_metadata() is one request: ≤ 7 s. save() is at most three: the PNG PUT, the metadata PUT and, if
# that failed, one DeleteObjects clean-up: ≤ 21 s (SAVE_WORST_CASE); against an S3 that stalls from the
# start the PNG PUT fails and save() gives up after ≤ 7 s (measured: ~4 s). That leaves ≥ 8 s of API
# Gateway's 29 s for a cold start and the generation (and 9 s of the function's 30 s). The read timeout
# follows AWS's advice for small objects (retry a GET or PUT under 512 KB after 2 s, on a new
# connection: botocore opens one after a timeout); metadata.json is a few KB, a PNG at most about
# 115 KB (28 × 4096 pixels). Not counted: botocore's 1 s wait for "100 Continue" (switched off, see
# hng.aws.clients), a retry delay S3 itself asks for (x-amz-retry-after: an answer, not a stall).
# The connect timeout applies to each address DNS returns and the read timeout to each socket read, so
# these bound a stalled server, not one trickling bytes: for that one, each call also ends at this same
# bound (hng.aws.clients.DeadlineClient), so the figures hold whatever the server does.
S3_REQUEST_WORST_CASE = S3_CALL_DEADLINE
SAVE_WORST_CASE = 3 * S3_REQUEST_WORST_CASE
LOAD_WORST_CASE = S3_REQUEST_WORST_CASE


class StorageError(Unavailable):
    """S3 could not be reached or refused the operation.

    ``orphan_key`` is set only when save() stored an image, failed to store its metadata and then
    failed to delete the image: the key of the image left in the bucket without metadata.
    """

    def __init__(self, message: str, *, orphan_key: str | None = None, retryable: bool = True) -> None:
        super().__init__(message, retryable=retryable)
        self.orphan_key = orphan_key


class CorruptTaskMetadata(StorageError):
    """A task's stored metadata.json is not what save() writes (not JSON, not an object, no usable key)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, retryable=False)


class TaskNotFound(NotFound):
    """No task with this id is stored."""

    def __init__(self, task_id: str) -> None:
        super().__init__("task", task_id)


@dataclass(frozen=True)
class StoredImage:
    bucket: str
    key: str
    metadata_key: str
    mask_key: str | None = None


def image_key(task_id: str, label: str, suffix: str = ".png", group: str = "") -> str:
    return f"{PREFIX}{group}{task_id}/{label}{suffix}"


def mask_key(task_id: str, label: str, group: str = "") -> str:
    return f"{PREFIX}{group}{task_id}/{label}_mask.png"


_GROUP = re.compile(r"(?:[A-Za-z0-9_-][A-Za-z0-9._-]*/){1,8}")
MAX_GROUP = 200


def check_key_group(value: Any, field: str = "keyPrefix") -> str:
    """A task group: path segments under tasks/ that a queue request's objects go in (``run-42/``), each
    of letters, digits, ``.``, ``_`` and ``-`` (not starting with ``.``), each ending in ``/``."""
    if not isinstance(value, str) or len(value) > MAX_GROUP or not _GROUP.fullmatch(value):
        raise InvalidInput(
            field,
            f"{field} must be 1 to 8 path segments of letters, digits, '.', '_' or '-' (not starting "
            f"with '.'), each ending in '/', at most {MAX_GROUP} characters, got {str(value)[:60]!r}",
        )
    return value


_MEDIA_TYPES = {".png": "image/png", ".jpg": "image/jpeg"}


def metadata_key(task_id: str) -> str:
    return f"{PREFIX}{task_id}/metadata.json"


def check_url_expiry(seconds: int) -> int:
    if isinstance(seconds, bool) or not isinstance(seconds, int):
        raise TypeError(f"URL expiry must be an integer number of seconds, got {seconds!r}")
    if not 1 <= seconds <= MAX_URL_EXPIRY:
        raise ValueError(f"URL expiry must be between 1 and {MAX_URL_EXPIRY} seconds (7 days), got {seconds}")
    return seconds


def client_config() -> Config:
    """The botocore Config of the store's S3 client (hng.aws.clients.INTERACTIVE): SigV4, fast timeouts."""
    return aws_client_config(INTERACTIVE)


def make_client(endpoint_url: str | None = None) -> Any:
    """The store's S3 client; without `endpoint_url`, boto3's (AWS_ENDPOINT_URL_S3 or AWS). Each call ends
    within S3_CALL_DEADLINE seconds, even against a server that trickles bytes."""
    return make_aws_client("s3", INTERACTIVE, endpoint_url=endpoint_url)


class TaskStore:
    """Generated images and their metadata in one bucket."""

    def __init__(self, bucket: str, client: Any = None) -> None:
        if not bucket:
            raise ValueError("bucket name is required (set HNG_BUCKET)")
        self.bucket = bucket
        self._client = client

    @classmethod
    def from_endpoint(cls, bucket: str, endpoint_url: str) -> TaskStore:
        """A store whose client (the default config) talks to `endpoint_url` instead of AWS."""
        return cls(bucket, client=make_client(endpoint_url))

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = make_client()
        return self._client

    def save(
        self,
        task_id: str,
        label: str,
        image: bytes,
        metadata: dict[str, Any],
        mask_png: bytes | None = None,
        *,
        suffix: str = ".png",
        group: str = "",
    ) -> StoredImage:
        """Store the image (``suffix`` .png or .jpg) and its mask, if given, then the metadata that points
        at them: a task whose metadata exists has all its objects; on a failure what was stored is
        deleted. ``group`` (`check_key_group`) puts them under ``tasks/{group}{taskId}/``: such a task is
        found by its keys, not by ``load_metadata``."""
        from botocore.exceptions import BotoCoreError, ClientError

        stored = StoredImage(
            self.bucket,
            image_key(task_id, label, suffix, group),
            f"{PREFIX}{group}{task_id}/metadata.json",
            None if mask_png is None else mask_key(task_id, label, group),
        )
        try:
            self.client.put_object(
                Bucket=self.bucket, Key=stored.key, Body=image, ContentType=_MEDIA_TYPES[suffix]
            )
        except (BotoCoreError, ClientError) as error:
            raise StorageError(
                f"could not store the image in s3://{self.bucket}: {_reason(error)}"
            ) from error
        pointers: dict[str, Any] = {"bucket": self.bucket, "key": stored.key}
        if mask_png is not None and stored.mask_key is not None:
            try:
                self.client.put_object(
                    Bucket=self.bucket, Key=stored.mask_key, Body=mask_png, ContentType="image/png"
                )
            except (BotoCoreError, ClientError) as error:
                raise self._undo_save(stored, "mask", error) from error
            pointers["maskKey"] = stored.mask_key
        document = json.dumps({**metadata, **pointers}, indent=2).encode()
        try:
            self.client.put_object(
                Bucket=self.bucket, Key=stored.metadata_key, Body=document, ContentType="application/json"
            )
        except (BotoCoreError, ClientError) as error:
            raise self._undo_save(stored, "metadata", error) from error
        return stored

    def _undo_save(self, stored: StoredImage, what: str, error: Exception) -> StorageError:
        """Delete what a failed save stored; the error to raise, naming what is left behind."""
        message = f"could not store the {what} in s3://{self.bucket}: {_reason(error)}"
        left = self._delete_task_objects(stored)
        if left:
            kept = "; ".join(f"s3://{self.bucket}/{key} ({reason})" for key, reason in left.items())
            message += f"; the clean-up could not delete {kept}: left for the bucket's lifecycle rule"
        return StorageError(message, orphan_key=stored.key if stored.key in left else None)

    def load_metadata(self, task_id: str) -> dict[str, Any]:
        """The task's stored metadata, checked: TaskNotFound if absent, StorageError if unreadable."""
        from botocore.exceptions import BotoCoreError, ClientError

        if not is_task_id(task_id):
            raise TaskNotFound(task_id)
        key = metadata_key(task_id)
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=key)
            raw = response["Body"].read()
        except ClientError as error:
            if is_missing(error):
                raise TaskNotFound(task_id) from error
            if error_code(error) in ACCESS_DENIED_CODES:
                # With s3:ListBucket (the template grants it on tasks/*) a missing key is a 404, so a 403
                # means the function may not read its own bucket: a broken policy, not an unknown task.
                raise StorageError(
                    f"could not read task {task_id}: access denied to s3://{self.bucket}/{key} "
                    "(check the IAM policy: s3:GetObject on tasks/*, s3:ListBucket on the bucket)"
                ) from error
            raise StorageError(f"could not read task {task_id}: {_reason(error)}") from error
        except BotoCoreError as error:
            raise StorageError(f"could not read task {task_id}: {_reason(error)}") from error
        return _checked_metadata(task_id, f"s3://{self.bucket}/{key}", raw)

    def read_object(self, key: str) -> bytes:
        """A stored object's bytes (an image a replayed request answers with); StorageError if it cannot
        be read, the lifecycle rule's expiry included."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return bytes(self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read())
        except (ClientError, BotoCoreError) as error:
            raise StorageError(f"could not read s3://{self.bucket}/{key}: {_reason(error)}") from error

    def write_object(self, key: str, body: bytes, content_type: str) -> None:
        """Store ``body`` at ``key`` (a dropped spec's result file); StorageError if it cannot be written."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.client.put_object(Bucket=self.bucket, Key=key, Body=body, ContentType=content_type)
        except (ClientError, BotoCoreError) as error:
            raise StorageError(f"could not write s3://{self.bucket}/{key}: {_reason(error)}") from error

    def presign(self, key: str, expires_in: int) -> str:
        from botocore.exceptions import BotoCoreError

        expires_in = check_url_expiry(expires_in)
        try:
            return self.client.generate_presigned_url(
                "get_object", Params={"Bucket": self.bucket, "Key": key}, ExpiresIn=expires_in
            )
        except BotoCoreError as error:  # e.g. no credentials to sign with
            raise StorageError(f"could not presign s3://{self.bucket}/{key}: {_reason(error)}") from error

    def url_origin(self) -> str | None:
        """scheme://host[:port] of this store's presigned URLs (what a page's CSP must admit for its
        images), or None when no URL can be signed (no credentials)."""
        from urllib.parse import urlsplit

        try:
            url = self.presign(f"{PREFIX}origin", 60)
        except StorageError:
            return None
        parts = urlsplit(url)
        return f"{parts.scheme}://{parts.netloc}"

    def _delete_task_objects(self, stored: StoredImage) -> dict[str, str]:
        """Delete the image and the metadata in one request; the keys that may remain, with the reason."""
        from botocore.exceptions import BotoCoreError, ClientError

        keys = tuple(key for key in (stored.key, stored.mask_key, stored.metadata_key) if key is not None)
        try:
            response = self.client.delete_objects(
                Bucket=self.bucket, Delete={"Objects": [{"Key": key} for key in keys], "Quiet": True}
            )
        except (BotoCoreError, ClientError) as error:
            return dict.fromkeys(keys, _reason(error))
        # Deleting a key that does not exist succeeds, so only real failures are listed.
        return {
            item["Key"]: f"{item.get('Code', 'error')}: {item.get('Message', '')}".strip()
            for item in response.get("Errors", [])
            if item.get("Key") in keys
        }


_JSON_TYPES = {
    list: "array",
    str: "string",
    int: "number",
    float: "number",
    bool: "boolean",
    type(None): "null",
}


def _checked_metadata(task_id: str, where: str, raw: bytes) -> dict[str, Any]:
    """The parsed metadata document, or CorruptTaskMetadata naming the task and what is wrong."""

    def corrupt(problem: str) -> CorruptTaskMetadata:
        return CorruptTaskMetadata(f"task {task_id}: the stored metadata {where} {problem}")

    try:
        document = json.loads(raw)
    except (UnicodeDecodeError, ValueError, RecursionError) as error:
        raise corrupt(f"is not valid JSON ({error})") from None
    if not isinstance(document, dict):
        raise corrupt(f"is a JSON {_JSON_TYPES.get(type(document), 'value')}, not an object")
    key = document.get("key")
    if not isinstance(key, str):
        raise corrupt(f'has no string "key" (got {key!r:.80})')
    task_prefix = f"{PREFIX}{task_id}/"
    name = key.removeprefix(task_prefix)
    stem, _, suffix = name.rpartition(".")
    if not key.startswith(task_prefix) or f".{suffix}" not in _MEDIA_TYPES or "/" in name or not stem:
        raise corrupt(f"names the image {key!r:.200}, not a .png or .jpg under {task_prefix}")
    return document


def _reason(error: Exception) -> str:
    from botocore.exceptions import ClientError

    if isinstance(error, ClientError):
        details = error.response.get("Error", {})
        return f"{details.get('Code', 'error')}: {details.get('Message', '')}".strip()
    return str(error)
