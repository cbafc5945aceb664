"""EventBridge in the tests (moto): a rule on the default bus whose target is an SQS queue, and the events it
delivers read back."""

from __future__ import annotations

import json
from typing import Any

from tests.support.aws import REGION, shared_session


def route_to_queue(pattern: dict[str, Any], queue_url: str, rule: str) -> None:
    """Put a rule ``rule`` with ``pattern`` on the default bus, delivering to the queue at ``queue_url``."""
    sqs = shared_session().client("sqs", region_name=REGION)
    arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events = shared_session().client("events", region_name=REGION)
    events.put_rule(Name=rule, EventPattern=json.dumps(pattern))
    events.put_targets(Rule=rule, Targets=[{"Id": "queue", "Arn": arn}])


class EventCapture:
    """The events matching ``pattern``, caught into a queue of their own; ``read`` takes what has arrived."""

    def __init__(self, pattern: dict[str, Any], name: str = "hng-events") -> None:
        self.sqs = shared_session().client("sqs", region_name=REGION)
        self.url = self.sqs.create_queue(QueueName=name)["QueueUrl"]
        route_to_queue(pattern, self.url, name)

    def read(self) -> list[dict[str, Any]]:
        caught = []
        while messages := self.sqs.receive_message(QueueUrl=self.url, MaxNumberOfMessages=10).get("Messages"):
            for message in messages:
                caught.append(json.loads(message["Body"]))
                self.sqs.delete_message(QueueUrl=self.url, ReceiptHandle=message["ReceiptHandle"])
        return caught
