"""A spec dropped under requests/ starts its dataset job and gets its result beside it, end to end in moto:
the bucket's EventBridge notifications, the template's rule into the request queue, the queue's function."""

from __future__ import annotations

import json
from typing import Any

import pytest

from hng.handlers import queue
from tests.support.api import BUCKET, FakeContext
from tests.support.events import route_to_queue
from tests.support.queue import batch, spec_dropped_pattern


@pytest.fixture
def dropping(wired):
    s3 = wired["s3"]
    s3.put_bucket_notification_configuration(
        Bucket=BUCKET, NotificationConfiguration={"EventBridgeConfiguration": {}}
    )
    route_to_queue(spec_dropped_pattern(BUCKET), wired["requests"], "spec-dropped")
    return wired


def deliver(wired) -> dict[str, Any]:
    """What the queue holds, handed to the function as one batch; its answer."""
    sqs, url = wired["sqs"], wired["requests"]
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    if not messages:
        return {"batchItemFailures": [], "delivered": 0}
    for message in messages:
        sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    event = batch(sqs, url, [m["Body"] for m in messages])
    return {**queue.lambda_handler(event, FakeContext()), "delivered": len(messages), "event": event}


def result(s3, key: str) -> dict[str, Any]:
    return json.loads(s3.get_object(Bucket=BUCKET, Key=key)["Body"].read())


def test_a_dropped_spec_starts_its_job_once_and_its_result_lands_beside_it(dropping):
    s3, engine = dropping["s3"], dropping["engine"]
    spec = {"count": 20, "shard_size": 10, "format": "yolo"}
    s3.put_object(Bucket=BUCKET, Key="requests/nightly.json", Body=json.dumps(spec).encode())
    answer = deliver(dropping)
    assert answer["delivered"] == 1 and answer["batchItemFailures"] == []
    written = result(s3, "requests/nightly.result.json")
    assert written["status"] == "RUNNING" and written["spec"] == "requests/nightly.json"
    assert engine.started == [written["datasetId"]]
    # Writing the result is itself an Object Created under requests/: delivered, and ignored.
    assert deliver(dropping)["delivered"] == 1
    assert len(engine.started) == 1
    # The same event delivered again (SQS at least once): no second job.
    queue.lambda_handler(answer["event"], FakeContext())
    assert len(engine.started) == 1


@pytest.mark.parametrize(
    ("content", "field"),
    [
        (json.dumps({"count": 0}), "count"),
        (json.dumps({"count": 10, "format": "parquet"}), "format"),
        ("{not json", "spec"),
        ("[1, 2]", "spec"),
    ],
)
def test_an_invalid_spec_starts_nothing_and_its_result_names_the_field(dropping, content, field):
    s3 = dropping["s3"]
    s3.put_object(Bucket=BUCKET, Key="requests/bad.json", Body=content.encode())
    assert deliver(dropping)["batchItemFailures"] == []
    written = result(s3, "requests/bad.result.json")
    assert written["field"] == field and written["error"], written
    assert dropping["engine"].started == []
    assert queue.dead_letters.queue_url == dropping["dead"]  # refused specs answer in S3, not the DLQ
    assert dropping["sqs"].receive_message(QueueUrl=dropping["dead"]).get("Messages") is None


def test_objects_outside_requests_or_not_json_start_nothing(dropping):
    s3 = dropping["s3"]
    s3.put_object(Bucket=BUCKET, Key="requests/notes.txt", Body=b"count: 10")
    s3.put_object(Bucket=BUCKET, Key="other/spec.json", Body=b'{"count": 10}')
    deliver(dropping)
    assert dropping["engine"].started == []
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix="requests/").get("Contents", [])]
    assert keys == ["requests/notes.txt"]
