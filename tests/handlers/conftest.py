"""The API handler (hng.handlers.api) over the committed MNIST sample, with S3 in moto."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from botocore.config import Config
from moto import mock_aws

from hng.datasets.jobs import DatasetJobs
from hng.handlers import queue
from hng.service.dead_letters import DeadLetters
from hng.service.idempotency import Idempotency, create_table
from hng.service.image_service import GenerationService, ServiceConfig
from hng.service.task_store import TaskStore
from tests.support.api import BUCKET
from tests.support.aws import REGION, shared_session
from tests.support.queue import CountingEngine


@pytest.fixture
def s3(aws_env) -> Iterator[Any]:
    """A moto S3 client and the handler's bucket (tests.support.api.BUCKET)."""
    with mock_aws():
        client = shared_session().client("s3", region_name=REGION, config=Config(signature_version="s3v4"))
        client.create_bucket(Bucket=BUCKET)
        yield client


@pytest.fixture
def api(s3, sample_data, monkeypatch):
    """The handler module, its service over the committed MNIST sample and the moto bucket."""
    from hng.handlers import api as module

    store = TaskStore(BUCKET, client=s3)
    service = GenerationService(ServiceConfig(bucket=BUCKET, url_expiry=600), sample_data, store)
    monkeypatch.setattr(module, "service", service)
    return module


@pytest.fixture
def wired(api, s3, monkeypatch):
    """The API module wired for the request queue: moto SQS queues, the idempotency table, a counting
    dataset engine and the queue function's dead-letter queue."""

    sqs = shared_session().client("sqs", region_name=REGION)
    requests = sqs.create_queue(QueueName="hng-requests")["QueueUrl"]
    dead = sqs.create_queue(QueueName="hng-requests-dlq")["QueueUrl"]
    create_table(shared_session().client("dynamodb", region_name=REGION), "hng-queue-idempotency")
    monkeypatch.setattr(api, "replays", Idempotency("hng-queue-idempotency", 600))
    engine = CountingEngine()
    monkeypatch.setattr(api, "datasets", DatasetJobs(BUCKET, engine, client=s3, url_expiry=600))
    monkeypatch.setattr(queue, "dead_letters", DeadLetters(dead))
    return {"sqs": sqs, "requests": requests, "dead": dead, "engine": engine, "s3": s3, "api": api}
