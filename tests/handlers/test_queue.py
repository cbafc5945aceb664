"""The request queue's function (hng.handlers.queue) on moto SQS: mixed batches answer exactly the messages to
retry, refused messages reach the dead-letter queue with their reason, redeliveries do nothing twice."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

from hng.handlers import queue
from hng.service.dead_letters import REASON_ATTRIBUTE, DeadLetters
from hng.service.task_store import StorageError
from tests.support.api import BUCKET, FakeContext, stored_keys
from tests.support.queue import batch


def dead_letters(sqs, url: str) -> list[dict[str, Any]]:
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"])
    return messages.get("Messages", [])


def pngs(s3) -> list[str]:
    return [key for key in stored_keys(s3) if key.endswith(".png")]


def test_a_mixed_batch_reports_only_what_may_succeed_later_and_moves_the_rest_aside(wired, monkeypatch):
    sqs, s3 = wired["sqs"], wired["s3"]
    save = wired["api"].service.store.save

    def flaky_save(task_id, label, *args, **kwargs):
        if label == "999":
            raise StorageError("injected: S3 is slow down")
        return save(task_id, label, *args, **kwargs)

    monkeypatch.setattr(wired["api"].service.store, "save", flaky_save)
    bodies = [
        json.dumps({"number": 2026, "seed": 1}),  # good
        json.dumps({"number": "4x2"}),  # a field that breaks a rule: never succeeds
        "not json",  # never succeeds
        json.dumps({"dataset": {"count": 20, "shard_size": 10}}),  # good: a dataset job
        json.dumps({"number": 999}),  # storage fails: retry later
        json.dumps({"datasetId": "01JDXQ5M8Z3K7W2N4P6R8T0V9X"}),  # a status request: not a queue request
    ]
    event = batch(sqs, wired["requests"], bodies)
    answer = queue.lambda_handler(event, FakeContext())
    ids = [record["messageId"] for record in event["Records"]]
    assert answer == {"batchItemFailures": [{"itemIdentifier": ids[4]}]}
    assert len(pngs(s3)) == 1 and len(wired["engine"].started) == 1
    moved = dead_letters(sqs, wired["dead"])
    reasons = {m["Body"]: m["MessageAttributes"][REASON_ATTRIBUTE]["StringValue"] for m in moved}
    assert set(reasons) == {bodies[1], bodies[2], bodies[5]}
    assert "number" in reasons[bodies[1]] and "not JSON" in reasons[bodies[2]]
    assert "datasetId" in reasons[bodies[5]]


def test_a_redelivered_message_and_a_repeated_key_are_carried_out_once(wired):
    sqs, s3 = wired["sqs"], wired["s3"]
    event = batch(sqs, wired["requests"], [json.dumps({"number": 42, "seed": 3})])
    assert queue.lambda_handler(event, FakeContext()) == {"batchItemFailures": []}
    assert queue.lambda_handler(event, FakeContext()) == {"batchItemFailures": []}  # SQS delivered it again
    assert len(pngs(s3)) == 1
    # Two messages naming one idempotencyKey: one dataset job.
    body = {"dataset": {"count": 20, "shard_size": 10}, "idempotencyKey": "nightly-2026-12-08"}
    event = batch(
        sqs,
        wired["requests"],
        [json.dumps(body), json.dumps({**body, "idempotencyKey": body["idempotencyKey"]}) + " "],
    )
    assert queue.lambda_handler(event, FakeContext()) == {"batchItemFailures": []}
    assert len(wired["engine"].started) == 1
    assert dead_letters(sqs, wired["dead"]) == []


def test_without_a_dead_letter_queue_a_refused_message_is_left_to_the_redrive_policy(wired, monkeypatch):
    monkeypatch.setattr(queue, "dead_letters", DeadLetters(None))
    bodies = [json.dumps({"number": "4x2"}), json.dumps({"number": 7})]
    event = batch(wired["sqs"], wired["requests"], bodies)
    answer = queue.lambda_handler(event, FakeContext())
    assert answer == {"batchItemFailures": [{"itemIdentifier": event["Records"][0]["messageId"]}]}
    # A batch whose every message fails fails the invocation (Powertools' default), and SQS retries it.
    with pytest.raises(BatchProcessingError):
        queue.lambda_handler(batch(wired["sqs"], wired["requests"], [bodies[0] + " "]), FakeContext())


def test_a_key_prefix_places_the_images_objects_and_is_checked(wired):
    sqs, s3 = wired["sqs"], wired["s3"]
    bodies = [
        json.dumps({"number": 12, "seed": 2, "keyPrefix": "run-42/night/"}),
        json.dumps({"number": 12, "keyPrefix": "../escape/"}),
        json.dumps({"dataset": {"count": 20}, "keyPrefix": "run-42/"}),
    ]
    event = batch(sqs, wired["requests"], bodies)
    assert queue.lambda_handler(event, FakeContext()) == {"batchItemFailures": []}
    (image,) = pngs(s3)
    assert image.startswith("tasks/run-42/night/") and image.endswith("/12.png")
    metadata = image.rsplit("/", 1)[0] + "/metadata.json"
    assert json.loads(s3.get_object(Bucket=BUCKET, Key=metadata)["Body"].read())["key"] == image
    moved = dead_letters(sqs, wired["dead"])
    reasons = sorted(m["MessageAttributes"][REASON_ATTRIBUTE]["StringValue"] for m in moved)
    assert len(reasons) == 2 and all("keyPrefix" in reason for reason in reasons), reasons
    assert wired["engine"].started == []
