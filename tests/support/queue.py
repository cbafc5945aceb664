"""The request queue tests' helpers: a dataset engine that only counts, SQS batches as Lambda gets them."""

from __future__ import annotations

import hashlib
from typing import Any

from hng.datasets.jobs.engines import EngineRun
from hng.service.spec_drops import PREFIX
from tests.support.aws import REGION


class CountingEngine:
    """A dataset engine that only counts the jobs it is asked to start."""

    name = "counting"

    def __init__(self) -> None:
        self.started: list[str] = []

    def start(self, dataset_id: str, bucket: str, prefix: str, attempt: int) -> str:
        self.started.append(dataset_id)
        return f"run-{len(self.started)}"

    def describe(self, ref: str) -> EngineRun:
        return EngineRun(status="RUNNING")

    def stop(self, ref: str, reason: str) -> None:
        pass


def batch(sqs, url: str, bodies: list[str]) -> dict[str, Any]:
    """Send the bodies, receive them, and shape them as the event source mapping hands them to Lambda."""
    for body in bodies:
        sqs.send_message(QueueUrl=url, MessageBody=body)
    records = []
    while len(records) < len(bodies):
        for message in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]:
            records.append(
                {
                    "messageId": message["MessageId"],
                    "receiptHandle": message["ReceiptHandle"],
                    "body": message["Body"],
                    "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1796700000000"},
                    "messageAttributes": {},
                    "md5OfBody": hashlib.md5(message["Body"].encode()).hexdigest(),
                    "eventSource": "aws:sqs",
                    "eventSourceARN": f"arn:aws:sqs:{REGION}:123456789012:hng-requests",
                    "awsRegion": REGION,
                }
            )
    by_body = {record["body"]: record for record in records}
    return {"Records": [by_body[body] for body in bodies]}


def spec_dropped_pattern(bucket: Any) -> dict[str, Any]:
    """template.yaml's SpecDropped rule pattern (tests/deploy/test_template.py checks the two agree)."""
    return {
        "source": ["aws.s3"],
        "detail-type": ["Object Created"],
        "detail": {"bucket": {"name": [bucket]}, "object": {"key": [{"prefix": PREFIX}]}},
    }
