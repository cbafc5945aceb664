"""POST /generate and POST /datasets with an Idempotency-Key header: a retry never makes a second image or
starts a second job (hng.service.idempotency on a moto DynamoDB table)."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from hng.datasets.jobs import DatasetJobs
from hng.service.idempotency import Idempotency, create_table
from tests.support.api import BUCKET, call, json_body, stored_keys
from tests.support.aws import REGION, shared_session
from tests.support.queue import CountingEngine

TABLE = "hng-idempotency-api-test"
BODY = {"number": 42, "image_width": 56, "seed": 7}


@pytest.fixture
def keyed(api, s3, monkeypatch):
    create_table(shared_session().client("dynamodb", region_name=REGION), TABLE)
    monkeypatch.setattr(api, "replays", Idempotency(TABLE, 600))
    engine = CountingEngine()
    monkeypatch.setattr(api, "datasets", DatasetJobs(BUCKET, engine, client=s3, url_expiry=600))
    return api, engine


def post(api, path: str, body: Any, key: str | None, **headers: str) -> dict:
    if key is not None:
        headers["Idempotency-Key"] = key
    return call(api, "POST", path, body, headers=headers)


def header(response: dict, name: str) -> str:
    single = response.get("headers") or {}
    return single.get(name) or response["multiValueHeaders"][name][0]


def test_a_retried_generate_answers_the_first_task_and_stores_one_image(keyed, s3):
    api, _ = keyed
    first = post(api, "/generate", BODY, "retry-1")
    again = post(api, "/generate", BODY, None, **{"idempotency-key": "retry-1"})  # names are case-blind
    assert first["statusCode"] == again["statusCode"] == 200, again["body"]
    assert json_body(again) == json_body(first)
    task_id = json_body(first)["taskId"]
    assert [key for key in stored_keys(s3) if key.endswith(".png")] == [f"tasks/{task_id}/42.png"]
    # Without a key every request is a new one.
    assert json_body(post(api, "/generate", BODY, None))["taskId"] != task_id


def test_a_retried_png_request_answers_the_first_image(keyed, s3):
    api, _ = keyed
    first = post(api, "/generate", BODY, "png-1", Accept="image/png")
    again = post(api, "/generate", BODY, "png-1", Accept="image/png")
    assert first["statusCode"] == again["statusCode"] == 200
    assert base64.b64decode(again["body"]) == base64.b64decode(first["body"])
    assert header(again, "X-Task-Id") == header(first, "X-Task-Id")
    assert len([key for key in stored_keys(s3) if key.endswith(".png")]) == 1


def test_the_same_key_with_another_body_is_409_naming_the_header(keyed):
    api, _ = keyed
    assert post(api, "/generate", BODY, "reuse")["statusCode"] == 200
    answer = post(api, "/generate", {**BODY, "number": 43}, "reuse")
    assert answer["statusCode"] == 409
    assert "Idempotency-Key 'reuse' was first used with another request body" in json_body(answer)["message"]


def test_a_retried_dataset_request_starts_one_job(keyed):
    api, engine = keyed
    spec = {"count": 20, "shard_size": 10, "seed": 3}
    first = post(api, "/datasets", spec, "job-1")
    again = post(api, "/datasets", spec, "job-1")
    assert first["statusCode"] == again["statusCode"] == 202, first["body"]
    assert json_body(again)["datasetId"] == json_body(first)["datasetId"]
    assert engine.started == [json_body(first)["datasetId"]]
    assert post(api, "/datasets", {**spec, "count": 30}, "job-1")["statusCode"] == 409
    assert len(engine.started) == 1


def test_a_bad_key_is_400_naming_the_header(keyed):
    api, _ = keyed
    answer = post(api, "/generate", BODY, "has a space")
    assert answer["statusCode"] == 400
    assert json_body(answer)["errors"][0]["field"] == "Idempotency-Key"


def test_a_key_without_a_table_is_503(api, monkeypatch):
    monkeypatch.setattr(api, "replays", Idempotency(None, 600))
    answer = post(api, "/generate", BODY, "no-table")
    assert answer["statusCode"] == 503 and "HNG_IDEMPOTENCY_TABLE" in json_body(answer)["message"]
