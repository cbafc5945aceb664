"""hng.service.events: what is put on EventBridge, caught by a rule into SQS (moto) and checked against the
documented schemas."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import jsonschema
import pytest
from moto import mock_aws

from hng.service.events import (
    DETAIL_SCHEMAS,
    SOURCE,
    TASK_GENERATED,
    EventPublisher,
    task_generated_detail,
)
from tests.support.events import EventCapture

ANSWER = {
    "taskId": "01JDXQ5M8Z3K7W2N4P6R8T0V9X",
    "bucket": "hng-bucket",
    "key": "tasks/01JDXQ5M8Z3K7W2N4P6R8T0V9X/2026.png",
    "metadataKey": "tasks/01JDXQ5M8Z3K7W2N4P6R8T0V9X/metadata.json",
    "label": "2026",
    "seed": 7,
    "imageUrl": "https://example/presigned",
}


@pytest.fixture
def caught(aws_env) -> Iterator[Any]:
    """Reads back what a rule on the default bus (source hng) delivers to an SQS queue."""
    with mock_aws():
        yield EventCapture({"source": [SOURCE]}).read


def test_a_generated_task_is_announced_with_the_documented_detail(caught):
    assert EventPublisher("default").task_generated({**ANSWER, "maskKey": "tasks/x/2026_mask.png"}, "queue")
    (event,) = caught()
    assert event["source"] == "hng" and event["detail-type"] == TASK_GENERATED
    jsonschema.validate(event["detail"], DETAIL_SCHEMAS[TASK_GENERATED])
    assert (
        event["detail"]["s3Uri"] == f"s3://hng-bucket/{ANSWER['key']}" and event["detail"]["via"] == "queue"
    )
    assert "imageUrl" not in event["detail"]  # a presigned URL is a bearer credential, and it expires


def test_the_schemas_refuse_what_they_do_not_document():
    detail = task_generated_detail(ANSWER, "api")
    jsonschema.validate(detail, DETAIL_SCHEMAS[TASK_GENERATED])
    for broken in (
        {**detail, "extra": 1},
        {**detail, "via": "email"},
        {k: v for k, v in detail.items() if k != "key"},
    ):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(broken, DETAIL_SCHEMAS[TASK_GENERATED])


def test_without_a_bus_nothing_is_put_and_a_failed_put_is_logged_not_raised(caught, caplog):
    assert EventPublisher(None).task_generated(ANSWER, "api") is False
    with caplog.at_level(logging.ERROR, logger="hng.service.events"):
        assert EventPublisher("no-such-bus").task_generated(ANSWER, "api") is False
    assert "event not put" in caplog.text
    assert caught() == []
