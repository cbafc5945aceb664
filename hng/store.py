"""S3 storage of generated images: keys grouped by task id, PNG first, metadata after it, no orphans.

    tasks/{taskId}/{number}.png
    tasks/{taskId}/metadata.json

An S3 PutObject is atomic, so the PNG is stored whole or not at all. The metadata is written only after
its image; if that write fails, the image is deleted again, so a reader never finds an image without
metadata. boto3's default client honours AWS_ENDPOINT_URL_S3, which is how ``hng serve`` points it at
its embedded S3.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass
from typing import Any

from hng.ids import is_task_id

PREFIX = "tasks/"
MAX_URL_EXPIRY = 7 * 24 * 3600  # SigV4 presigned URLs cannot live longer
DEFAULT_URL_EXPIRY = 3600


class StorageError(RuntimeError):
    """S3 could not be reached or refused the operation."""


class TaskNotFound(LookupError):
    """No task with this id is stored."""


@dataclass(frozen=True)
class StoredImage:
    bucket: str
    key: str
    metadata_key: str


def image_key(task_id: str, label: str) -> str:
    return f"{PREFIX}{task_id}/{label}.png"


def metadata_key(task_id: str) -> str:
    return f"{PREFIX}{task_id}/metadata.json"


def check_url_expiry(seconds: int) -> int:
    if isinstance(seconds, bool) or not isinstance(seconds, int):
        raise TypeError(f"URL expiry must be an integer number of seconds, got {seconds!r}")
    if not 1 <= seconds <= MAX_URL_EXPIRY:
        raise ValueError(f"URL expiry must be between 1 and {MAX_URL_EXPIRY} seconds (7 days), got {seconds}")
    return seconds


class TaskStore:
    """Generated images and their metadata in one bucket."""

    def __init__(self, bucket: str, client: Any = None) -> None:
        if not bucket:
            raise ValueError("bucket name is required (set HNG_BUCKET)")
        self.bucket = bucket
        self._client = client

    @property
    def client(self) -> Any:
        if self._client is None:
            import boto3
            from botocore.config import Config

            # Signature v4 always: the only kind of presigned URL every region accepts.
            self._client = boto3.client(
                "s3", config=Config(signature_version="s3v4", retries={"mode": "standard"})
            )
        return self._client

    def save(self, task_id: str, label: str, png: bytes, metadata: dict[str, Any]) -> StoredImage:
        from botocore.exceptions import BotoCoreError, ClientError

        stored = StoredImage(self.bucket, image_key(task_id, label), metadata_key(task_id))
        try:
            self.client.put_object(Bucket=self.bucket, Key=stored.key, Body=png, ContentType="image/png")
        except (BotoCoreError, ClientError) as error:
            raise StorageError(
                f"could not store the image in s3://{self.bucket}: {_reason(error)}"
            ) from error
        document = json.dumps({**metadata, "bucket": self.bucket, "key": stored.key}, indent=2).encode()
        try:
            self.client.put_object(
                Bucket=self.bucket, Key=stored.metadata_key, Body=document, ContentType="application/json"
            )
        except (BotoCoreError, ClientError) as error:
            self._delete_quietly(stored.key)
            raise StorageError(
                f"could not store the metadata in s3://{self.bucket}: {_reason(error)}"
            ) from error
        return stored

    def load_metadata(self, task_id: str) -> dict[str, Any]:
        from botocore.exceptions import BotoCoreError, ClientError

        if not is_task_id(task_id):
            raise TaskNotFound(task_id)
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=metadata_key(task_id))
        except ClientError as error:
            # 403 too: without s3:ListBucket, S3 answers a missing key with AccessDenied.
            if error.response.get("Error", {}).get("Code") in ("NoSuchKey", "404", "AccessDenied", "403"):
                raise TaskNotFound(task_id) from error
            raise StorageError(f"could not read task {task_id}: {_reason(error)}") from error
        except BotoCoreError as error:
            raise StorageError(f"could not read task {task_id}: {_reason(error)}") from error
        return json.loads(response["Body"].read())

    def presign(self, key: str, expires_in: int) -> str:
        return self.client.generate_presigned_url(
            "get_object", Params={"Bucket": self.bucket, "Key": key}, ExpiresIn=check_url_expiry(expires_in)
        )

    def _delete_quietly(self, key: str) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        # Best effort; the bucket's lifecycle rule expires anything left under tasks/.
        with contextlib.suppress(BotoCoreError, ClientError):
            self.client.delete_object(Bucket=self.bucket, Key=key)


def _reason(error: Exception) -> str:
    from botocore.exceptions import ClientError

    if isinstance(error, ClientError):
        details = error.response.get("Error", {})
        return f"{details.get('Code', 'error')}: {details.get('Message', '')}".strip()
    return str(error)
