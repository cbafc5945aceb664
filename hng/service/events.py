"""Events out: what hng tells Amazon EventBridge, with the JSON Schema of each event's detail.

Every event has the source ``hng`` and one of three detail types:

- ``Task Generated``: an image was stored (put by the function that made it, through the API or a
  queue): its task id, where it is, and the label and seed that made it;
- ``Dataset Job Succeeded`` and ``Dataset Job Failed``: put by the dataset state machine itself (an
  EventBridge PutEvents task after its finalizer, or after it records a failure), so that they fire
  however the job was started. Their details are built in ``statemachines/dataset.asl.json``; the
  schemas below are what it builds, and the tests check each event against them.

The events go to the bus named by ``HNG_EVENT_BUS`` (the stack's default bus); without it none are put.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

from hng.aws.clients import CONTROL, LazyClient

SOURCE = "hng"
TASK_GENERATED = "Task Generated"
DATASET_SUCCEEDED = "Dataset Job Succeeded"
DATASET_FAILED = "Dataset Job Failed"

_ID = {"type": "string", "minLength": 1}
_S3_URI = {"type": "string", "pattern": "^s3://[^/]+/.+"}
DETAIL_SCHEMAS: dict[str, dict[str, Any]] = {
    TASK_GENERATED: {
        "type": "object",
        "required": ["taskId", "bucket", "key", "s3Uri", "metadataKey", "label", "seed", "via"],
        "properties": {
            "taskId": _ID,
            "bucket": _ID,
            "key": _ID,
            "s3Uri": _S3_URI,
            "metadataKey": _ID,
            "maskKey": _ID,
            "label": {"type": "string", "pattern": "^[0-9]+$"},
            "seed": {"type": "integer", "minimum": 0},
            "via": {"enum": ["api", "queue"]},
        },
        "additionalProperties": False,
    },
    DATASET_SUCCEEDED: {
        "type": "object",
        "required": [
            "datasetId",
            "bucket",
            "prefix",
            "manifestUri",
            "manifestSha256",
            "images",
            "missingShards",
        ],
        "properties": {
            "datasetId": _ID,
            "bucket": _ID,
            "prefix": _ID,
            "manifestUri": _S3_URI,
            "manifestSha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
            "images": {"type": "integer", "minimum": 0},
            "missingShards": {"type": "array", "items": {"type": "integer", "minimum": 0}},
        },
        "additionalProperties": False,
    },
    DATASET_FAILED: {
        "type": "object",
        "required": ["datasetId", "bucket", "prefix", "error", "cause"],
        "properties": {
            "datasetId": _ID,
            "bucket": _ID,
            "prefix": _ID,
            "error": {"type": "string"},
            "cause": {"type": "string"},
        },
        "additionalProperties": False,
    },
}

logger = logging.getLogger(__name__)


def task_generated_detail(answer: Mapping[str, Any], via: str) -> dict[str, Any]:
    """The ``Task Generated`` detail of a POST /generate answer (``via``: ``api`` or ``queue``)."""
    detail = {
        "taskId": answer["taskId"],
        "bucket": answer["bucket"],
        "key": answer["key"],
        "s3Uri": f"s3://{answer['bucket']}/{answer['key']}",
        "metadataKey": answer["metadataKey"],
        "label": answer["label"],
        "seed": answer["seed"],
        "via": via,
    }
    if answer.get("maskKey"):
        detail["maskKey"] = answer["maskKey"]
    return detail


class EventPublisher:
    """Puts hng's events on the bus ``bus_name`` (None: puts nothing). A failed put is logged, never
    raised: the image it announces is stored, and the request that made it has succeeded."""

    def __init__(self, bus_name: str | None) -> None:
        self.bus_name = bus_name
        self._events = LazyClient("events", CONTROL)

    def task_generated(self, answer: Mapping[str, Any], via: str) -> bool:
        """Announce a generated task; whether EventBridge took the event."""
        return self.put(TASK_GENERATED, task_generated_detail(answer, via))

    def put(self, detail_type: str, detail: Mapping[str, Any]) -> bool:
        if self.bus_name is None:
            return False
        from botocore.exceptions import BotoCoreError, ClientError

        entry = {
            "Source": SOURCE,
            "DetailType": detail_type,
            "Detail": json.dumps(detail, separators=(",", ":")),
            "EventBusName": self.bus_name,
        }
        try:
            answer = self._events.get().put_events(Entries=[entry])
        except (BotoCoreError, ClientError) as error:
            logger.error("event not put", extra={"detail_type": detail_type, "reason": str(error)})
            return False
        if answer.get("FailedEntryCount"):
            reason = answer["Entries"][0].get("ErrorMessage", "")
            logger.error("event not put", extra={"detail_type": detail_type, "reason": reason})
            return False
        return True
