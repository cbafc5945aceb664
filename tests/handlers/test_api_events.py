"""POST /generate announces each stored image on EventBridge ("Task Generated"), read back through a rule
whose target is an SQS queue (moto)."""

from __future__ import annotations

import jsonschema

from hng.service.events import DETAIL_SCHEMAS, TASK_GENERATED, EventPublisher
from tests.support.api import call, json_body
from tests.support.events import EventCapture


def test_a_generated_image_is_announced_once_with_where_it_is(api, monkeypatch):
    caught = EventCapture({"source": ["hng"], "detail-type": [TASK_GENERATED]})
    monkeypatch.setattr(api, "events", EventPublisher("default"))

    answer = json_body(call(api, "POST", "/generate", {"number": 2026, "seed": 5}))
    assert call(api, "POST", "/generate", {"number": "x"})["statusCode"] == 400  # nothing stored: no event
    (event,) = caught.read()
    detail = event["detail"]
    jsonschema.validate(detail, DETAIL_SCHEMAS[TASK_GENERATED])
    assert (detail["taskId"], detail["key"], detail["seed"]) == (answer["taskId"], answer["key"], 5)
    assert detail["via"] == "api" and detail["label"] == "2026"
