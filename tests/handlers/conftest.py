"""The API handler (hng.handlers.api) over the committed MNIST sample, with S3 in moto."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from botocore.config import Config
from moto import mock_aws

from hng.service.image_service import GenerationService, ServiceConfig
from hng.service.task_store import TaskStore
from tests.support.api import BUCKET
from tests.support.aws import REGION, shared_session


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
