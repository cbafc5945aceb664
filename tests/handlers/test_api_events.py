"""POST /generate announces each stored image on EventBridge ("Task Generated"), read back through a rule
whose target is an SQS queue (moto)."""

from __future__ import annotations

import json

import jsonschema

from hng.service.events import DETAIL_SCHEMAS, TASK_GENERATED, EventPublisher
from tests.support.api import call, json_body
from tests.support.aws import REGION, shared_session


def test_a_generated_image_is_announced_once_with_where_it_is(api, monkeypatch):
    sqs = shared_session().client("sqs", region_name=REGION)
    url = sqs.create_queue(QueueName="hng-events")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events = shared_session().client("events", region_name=REGION)
    events.put_rule(Name="hng", EventPattern=json.dumps({"source": ["hng"], "detail-type": [TASK_GENERATED]}))
    events.put_targets(Rule="hng", Targets=[{"Id": "queue", "Arn": arn}])
    monkeypatch.setattr(api, "events", EventPublisher("default"))

    answer = json_body(call(api, "POST", "/generate", {"number": 2026, "seed": 5}))
    assert call(api, "POST", "/generate", {"number": "x"})["statusCode"] == 400  # nothing stored: no event
    (message,) = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    detail = json.loads(message["Body"])["detail"]
    jsonschema.validate(detail, DETAIL_SCHEMAS[TASK_GENERATED])
    assert (detail["taskId"], detail["key"], detail["seed"]) == (answer["taskId"], answer["key"], 5)
    assert detail["via"] == "api" and detail["label"] == "2026"
