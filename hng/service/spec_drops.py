"""A dataset spec dropped in the bucket under ``requests/`` starts that dataset job.

The bucket sends its "Object Created" events to EventBridge; a rule (template.yaml, ``SpecDropped``)
puts those under ``requests/`` and ending in ``.json`` on the request queue, whose function
(hng.handlers.queue) hands them here. For ``requests/NAME.json`` the result lands beside it in
``requests/NAME.result.json``: the ``POST /datasets`` answer (``datasetId``, ``status``, ...), or
``{"error": ..., "field": ...}`` naming the field and its rule, in which case no work was started.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

PREFIX = "requests/"
SPEC_SUFFIX = ".json"
RESULT_SUFFIX = ".result.json"


@dataclass(frozen=True)
class DroppedSpec:
    bucket: str
    key: str
    etag: str

    @property
    def result_key(self) -> str:
        return self.key.removesuffix(SPEC_SUFFIX) + RESULT_SUFFIX

    @property
    def request_id(self) -> str:
        """The drop's idempotency key: a redelivered event is the same request, a new upload a new one."""
        return f"{self.key}#{self.etag}"


def dropped_spec(message: Mapping[str, Any]) -> DroppedSpec | None:
    """The spec an S3 "Object Created" event (as EventBridge delivers it) announces, or None when the
    message is not such an event, or names another object (a result file, another prefix)."""
    if message.get("source") != "aws.s3" or message.get("detail-type") != "Object Created":
        return None
    detail = message.get("detail")
    if not isinstance(detail, Mapping):
        return None
    bucket = (detail.get("bucket") or {}).get("name")
    obj = detail.get("object") or {}
    key, etag = obj.get("key"), obj.get("eTag") or ""
    if not isinstance(bucket, str) or not isinstance(key, str) or not isinstance(etag, str):
        return None
    if not key.startswith(PREFIX) or not key.endswith(SPEC_SUFFIX) or key.endswith(RESULT_SUFFIX):
        return None
    return DroppedSpec(bucket, key, etag)


def read_spec(raw: bytes) -> dict[str, Any]:
    """The dropped file's spec: a JSON object (the ``POST /datasets`` fields); ValueError otherwise."""
    try:
        spec = json.loads(raw)
    except ValueError as error:
        raise ValueError(f"the spec file is not JSON: {error}") from None
    if not isinstance(spec, dict):
        raise ValueError("the spec file must hold a JSON object: the POST /datasets fields")
    return spec


def result_body(answer: Mapping[str, Any]) -> bytes:
    return (json.dumps(dict(answer), indent=2) + "\n").encode()


def error_body(message: str, field: str) -> bytes:
    return result_body({"error": message, "field": field})
