"""A deployed stack's data from S3 (the template's MnistS3Uri, HNG_MNIST_S3_URI): S3 in moto.

The API handler's service is built as the Lambda container builds it (GenerationService.from_env), with
the image's baked data present at /opt (the committed sample standing in for it): a configured S3 object
wins over it, is downloaded once per container, is checked as a digit set (MNIST's layout, not its sizes),
and bad data or an unreadable object leaves the container up with /health degraded and generation
answering 503 with the source and the rule. The dataset shard worker and finalizer load the same object
and refuse a dataset planned with other data.
"""

from __future__ import annotations

import io
import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

import boto3
import numpy as np
import pytest
from botocore.config import Config
from moto import mock_aws
from moto.core import set_initial_no_auth_action_count

from hng.datasets.jobs import DatasetJobs, EngineRun
from hng.handlers.container_data import ContainerData, MnistMismatch, MnistUnavailable
from hng.handlers.step_errors import HngPermanentlyUnavailable, HngUnavailable
from hng.mnist import load as dataset
from hng.mnist import locate
from hng.mnist.load import MnistData
from hng.mnist.npzfile import mnist_content_sha256, validate_digit_set
from hng.service.image_service import GenerationService, ServiceConfig
from hng.service.task_store import TaskStore
from tests.support.api import FakeContext, api_event
from tests.support.aws import fake_aws_environment
from tests.support.paths import SAMPLE_PATH

DATA_BUCKET = "hng-digit-sets"
OUT_BUCKET = "hng-unit-test"
KEY = "sets/blocks-v1.npz"
URI = f"s3://{DATA_BUCKET}/{KEY}"
BODY = {"number": "4071", "seed": 7, "spacing_min": 2, "spacing_max": 6, "image_width": 120}


def block_digits(per_digit: tuple[int, int] = (3, 2)) -> dict[str, np.ndarray]:
    """A digit set unlike MNIST: every digit a solid upright block whose width tells the digit, labels
    int64 (any integer dtype is accepted), 3 training and 2 test samples of each digit."""
    rng = np.random.default_rng(0)
    arrays = {}
    for split, count in zip(("train", "test"), per_digit, strict=True):
        labels = np.repeat(np.arange(10, dtype=np.int64), count)
        images = np.zeros((len(labels), 28, 28), dtype=np.uint8)
        for i, digit in enumerate(labels.tolist()):
            width = 3 + digit
            left = 14 - width // 2 + int(rng.integers(-2, 3))
            images[i, 4:24, left : left + width] = 255
        arrays[f"x_{split}"], arrays[f"y_{split}"] = images, labels
    return arrays


def npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


@pytest.fixture
def aws(monkeypatch, tmp_path):
    """moto's S3 with the data and output buckets; a fresh container: empty /tmp, nothing downloaded or
    loaded in this process yet, the image's baked data at /opt, no HNG_MNIST_PATH."""
    fake_aws_environment(monkeypatch)
    monkeypatch.setenv("HNG_BUCKET", OUT_BUCKET)
    for name in ("HNG_MNIST_PATH", "HNG_MNIST_S3_URI"):
        monkeypatch.delenv(name, raising=False)
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp))
    monkeypatch.setattr(locate, "_downloaded", {})
    monkeypatch.setattr(dataset, "_loaded", {})
    baked = tmp_path / "opt" / "mnist" / "mnist.npz"
    baked.parent.mkdir(parents=True)
    shutil.copyfile(SAMPLE_PATH, baked)
    monkeypatch.setattr(locate, "DEFAULT_OPT_PATH", baked)
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)  # credentials are read afresh, and restored after
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1", config=Config(signature_version="s3v4"))
        s3.create_bucket(Bucket=DATA_BUCKET)
        s3.create_bucket(Bucket=OUT_BUCKET)
        yield s3


@pytest.fixture
def data_reads(aws) -> list[str]:
    """The GetObject requests for the data bucket, made by any client of boto3's default session."""
    reads: list[str] = []

    def count(params: dict[str, Any], **_: Any) -> None:
        if params.get("Bucket") == DATA_BUCKET:
            reads.append(params["Key"])

    boto3.setup_default_session()
    boto3.DEFAULT_SESSION.events.register("provide-client-params.s3.GetObject", count)
    return reads


@pytest.fixture
def custom(aws, monkeypatch, tmp_path) -> dict[str, np.ndarray]:
    """The block digit set uploaded at URI, and the stack configured with it (MnistS3Uri)."""
    arrays = block_digits()
    aws.put_object(Bucket=DATA_BUCKET, Key=KEY, Body=npz_bytes(arrays))
    monkeypatch.setenv("HNG_MNIST_S3_URI", URI)
    return arrays


def deploy(monkeypatch) -> Any:
    """The API handler module with its service built as a new container builds it."""
    from hng.handlers import api as app

    monkeypatch.setattr(app, "service", GenerationService.from_env())
    return app


def call(app: Any, method: str, path: str, body: Any = None) -> tuple[int, dict[str, Any]]:
    response = app.lambda_handler(api_event(method, path, body), FakeContext())
    return response["statusCode"], json.loads(response["body"])


def image_from(data: MnistData, aws: Any) -> list[list[float]]:
    """generatedImage for BODY from a service over `data` (same request, same seed)."""
    service = GenerationService(ServiceConfig(bucket=OUT_BUCKET), data, TaskStore(OUT_BUCKET, client=aws))
    from hng.service.models import GenerateRequest

    return service.generate(GenerateRequest.model_validate(BODY)).response.generatedImage


def local_copy(arrays: dict[str, np.ndarray], tmp_path: Path) -> MnistData:
    path = tmp_path / "local-copy.npz"
    path.write_bytes(npz_bytes(arrays))
    return MnistData.from_npz(path, strict=False)


# --- the configured object is served -------------------------------------------------------------------


def test_a_stack_with_an_s3_uri_serves_images_made_from_that_data(
    aws, custom, data_reads, monkeypatch, tmp_path
):
    app = deploy(monkeypatch)
    status, body = call(app, "POST", "/generate", BODY)
    assert status == 200, body
    assert body["generatedImage"] == image_from(local_copy(custom, tmp_path), aws)
    baked = MnistData.from_npz(SAMPLE_PATH, strict=False)
    assert body["generatedImage"] != image_from(baked, aws)  # not the image's /opt data
    # The stored PNG is that image too.
    png = aws.get_object(Bucket=OUT_BUCKET, Key=body["key"])["Body"].read()
    from hng.core.png import decode_png

    stored = decode_png(png)
    assert np.array_equal(stored, np.round(np.array(body["generatedImage"]) * 255).astype(np.uint8))


def test_health_reports_the_custom_data(aws, custom, data_reads, monkeypatch):
    app = deploy(monkeypatch)
    status, body = call(app, "GET", "/health")
    assert status == 200
    assert body["status"] == "ok"
    expected_sha = mnist_content_sha256(validate_digit_set(custom))
    assert body["mnist"] == {
        "loaded": True,
        "digits": 50,
        "sha256": expected_sha,
        "canonical": False,
        "source": URI,
        "error": None,
    }


def test_the_object_is_downloaded_once_per_container(aws, custom, data_reads, monkeypatch):
    app = deploy(monkeypatch)
    for _ in range(3):
        assert call(app, "POST", "/generate", BODY)[0] == 200
    assert call(app, "GET", "/health")[0] == 200
    assert data_reads == [KEY]
    # The dataset functions of the same container (process) reuse the download too.
    ContainerData().get()
    assert data_reads == [KEY]


def test_without_an_s3_uri_the_baked_data_is_used(aws, monkeypatch):
    # /opt holds hng's own build, checked as MNIST: the 1,300-sample stand-in is refused as such, which
    # shows it is /opt that was read (and that the S3 rules, which accept it, were not applied).
    app = deploy(monkeypatch)
    _, body = call(app, "GET", "/health")
    assert body["mnist"]["source"] == str(locate.DEFAULT_OPT_PATH)
    assert "x_train: must hold 60000 images" in body["mnist"]["error"]


def test_hng_mnist_path_still_wins_over_the_s3_uri(aws, custom, data_reads, monkeypatch):
    monkeypatch.setenv("HNG_MNIST_PATH", str(SAMPLE_PATH))
    app = deploy(monkeypatch)
    _, body = call(app, "GET", "/health")
    assert body["mnist"]["source"] == str(SAMPLE_PATH) and body["mnist"]["digits"] == 1300
    assert data_reads == []


# --- bad data: degraded, 503 naming the source and the rule, never a crash --------------------------------


def _with(arrays: dict[str, np.ndarray], **changes: np.ndarray) -> dict[str, np.ndarray]:
    return {**arrays, **changes}


def _bad_objects() -> dict[str, tuple[bytes, str]]:
    good = block_digits()
    no_seven = good["y_test"] != 7
    blank = good["x_train"].copy()
    blank[4] = 0
    return {
        "float images": (
            npz_bytes(_with(good, x_train=good["x_train"].astype(np.float32) / 255)),
            "x_train: dtype must be uint8, got float32",
        ),
        "label 10": (
            npz_bytes(_with(good, y_train=np.where(good["y_train"] == 9, 10, good["y_train"]))),
            "y_train: labels must lie in 0..9, found 10",
        ),
        "negative label": (
            npz_bytes(_with(good, y_test=good["y_test"] - 1)),
            "y_test: labels must lie in 0..9, found -1",
        ),
        "float labels": (
            npz_bytes(_with(good, y_train=good["y_train"].astype(np.float64))),
            "y_train: labels must be integers 0..9, got dtype float64",
        ),
        "flat images": (
            npz_bytes(_with(good, x_test=good["x_test"].reshape(20, 784))),
            "x_test: shape must be (N, 28, 28), got (20, 784)",
        ),
        "32x32 images": (
            npz_bytes(_with(good, x_train=np.zeros((30, 32, 32), np.uint8))),
            "x_train: shape must be (N, 28, 28), got (30, 32, 32)",
        ),
        "labels not matching the images": (
            npz_bytes(_with(good, y_test=good["y_test"][:-1])),
            "x_test has 20 images but y_test has 19 labels",
        ),
        "a digit missing": (
            npz_bytes(_with(good, x_test=good["x_test"][no_seven], y_test=good["y_test"][no_seven])),
            "y_test: every digit 0-9 must have at least one sample (so that any number can be drawn); no 7",
        ),
        "a blank image": (npz_bytes(_with(good, x_train=blank)), "x_train: image 4 is blank"),
        "dark ink on white": (
            npz_bytes(_with(good, x_train=255 - good["x_train"])),
            "x_train: the images' edges average 255 of 255: digits must be white ink (255)",
        ),
        "a member missing": (
            npz_bytes({k: v for k, v in good.items() if k != "y_test"}),
            "the npz must hold x_train, y_train, x_test, y_test: missing y_test "
            "(it has x_train, y_train, x_test)",
        ),
        "not an npz": (b"%PNG\r\n\x1a\n not an npz at all", "not an npz file of numpy arrays"),
        "a single array": (_npy_bytes(good["x_train"]), "not an npz file of numpy arrays"),
        "empty": (b"", "not an npz file of numpy arrays"),
    }


def _npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


BAD = _bad_objects()


def assert_degraded(app: Any, *fragments: str) -> dict[str, Any]:
    status, health = call(app, "GET", "/health")
    assert status == 200, health
    assert health["status"] == "degraded"
    mnist = health["mnist"]
    assert (mnist["loaded"], mnist["digits"], mnist["sha256"], mnist["canonical"]) == (False, 0, None, False)
    assert mnist["source"] == URI
    status, body = call(app, "POST", "/generate", BODY)
    assert status == 503, body
    for fragment in fragments:
        assert fragment in mnist["error"], mnist["error"]
        assert fragment in body["message"], body["message"]
    return body


@pytest.mark.parametrize("case", list(BAD))
def test_bad_data_degrades_the_service_naming_the_uri_and_the_rule(aws, monkeypatch, case):
    content, rule = BAD[case]
    aws.put_object(Bucket=DATA_BUCKET, Key=KEY, Body=content)
    monkeypatch.setenv("HNG_MNIST_S3_URI", URI)
    app = deploy(monkeypatch)
    body = assert_degraded(app, f"{URI}: ", rule)
    assert body["message"].startswith("the MNIST data is not available: ")
    assert not list(Path(tempfile.gettempdir()).iterdir())  # the bad copy is not kept


def test_a_missing_object_degrades_the_service(aws, monkeypatch):
    monkeypatch.setenv("HNG_MNIST_S3_URI", URI)
    app = deploy(monkeypatch)
    assert_degraded(app, f"no object at HNG_MNIST_S3_URI={URI}")


def test_a_function_without_the_grant_degrades_the_service(aws, custom, monkeypatch):
    # moto enforces IAM: the function's credentials may write its outputs but not read the data.
    iam = boto3.client("iam", region_name="us-east-1")

    def as_the_function() -> None:
        iam.create_user(UserName="generator")
        policy = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": ["s3:PutObject", "s3:GetObject"],
                    "Resource": f"arn:aws:s3:::{OUT_BUCKET}/*",
                }
            ],
        }
        iam.put_user_policy(UserName="generator", PolicyName="outputs", PolicyDocument=json.dumps(policy))
        key = iam.create_access_key(UserName="generator")["AccessKey"]
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", key["AccessKeyId"])
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", key["SecretAccessKey"])
        boto3.DEFAULT_SESSION = None
        app = deploy(monkeypatch)
        assert_degraded(
            app,
            f"access denied reading HNG_MNIST_S3_URI={URI}",
            f"s3:GetObject on arn:aws:s3:::{DATA_BUCKET}/{KEY}",
        )

    set_initial_no_auth_action_count(3)(as_the_function)()


def test_a_fixed_object_heals_a_degraded_container(aws, data_reads, monkeypatch):
    content, _ = BAD["label 10"]
    aws.put_object(Bucket=DATA_BUCKET, Key=KEY, Body=content)
    monkeypatch.setenv("HNG_MNIST_S3_URI", URI)
    app = deploy(monkeypatch)
    assert call(app, "GET", "/health")[1]["status"] == "degraded"
    assert call(app, "GET", "/health")[1]["status"] == "degraded"
    assert data_reads == [KEY]  # a degraded container does not download on every request

    aws.put_object(Bucket=DATA_BUCKET, Key=KEY, Body=npz_bytes(block_digits()))
    app.service.mnist.retry_now()  # the retry interval has passed
    _, health = call(app, "GET", "/health")
    assert health["status"] == "ok" and health["mnist"]["digits"] == 50 and health["mnist"]["error"] is None
    assert call(app, "POST", "/generate", BODY)[0] == 200
    assert data_reads == [KEY, KEY]


def test_a_bad_uri_degrades_the_service(aws, monkeypatch):
    monkeypatch.setenv("HNG_MNIST_S3_URI", f"s3://{DATA_BUCKET}/")
    app = deploy(monkeypatch)
    _, health = call(app, "GET", "/health")
    assert health["status"] == "degraded"
    assert "HNG_MNIST_S3_URI must name a bucket and an object key" in health["mnist"]["error"]


# --- the dataset functions load the same data -------------------------------------------------------------


class RecordingEngine:
    name = "test"

    def __init__(self) -> None:
        self.started: list[tuple[str, str, str]] = []

    def start(self, dataset_id: str, bucket: str, prefix: str, attempt: int) -> str:
        self.started.append((dataset_id, bucket, prefix))
        return f"test:{dataset_id}:{attempt}"

    def describe(self, ref: str) -> EngineRun:
        return EngineRun(status="RUNNING")

    def stop(self, ref: str, reason: str) -> None:
        pass


@pytest.fixture
def started(aws, custom, monkeypatch) -> dict[str, Any]:
    """POST /datasets through the API over the S3 data; the task event of shard 0."""
    app = deploy(monkeypatch)
    engine = RecordingEngine()
    monkeypatch.setattr(app, "datasets", DatasetJobs(OUT_BUCKET, engine, client=aws))
    status, body = call(app, "POST", "/datasets", {"count": 20, "shardSize": 10, "seed": 3})
    assert status == 202, body
    ((dataset_id, bucket, prefix),) = engine.started
    return {"datasetId": dataset_id, "bucket": bucket, "prefix": prefix, "shard": 0}


def test_the_shard_worker_makes_shards_from_the_planned_s3_data(aws, started, monkeypatch):
    from hng.handlers import dataset_worker as worker

    monkeypatch.setattr(worker, "mnist", ContainerData())
    monkeypatch.setattr(worker, "generator", None)
    result = worker.lambda_handler(started, FakeContext())
    assert result["made"] is True and result["images"] == 10
    assert worker.generator.data.source == URI


def test_a_worker_with_other_data_refuses_the_dataset(aws, started, monkeypatch):
    from hng.handlers import dataset_worker as worker

    monkeypatch.delenv("HNG_MNIST_S3_URI")  # a function the parameter did not reach
    monkeypatch.setenv("HNG_MNIST_PATH", str(SAMPLE_PATH))
    monkeypatch.setattr(worker, "mnist", ContainerData())
    monkeypatch.setattr(worker, "generator", None)
    # A permanent error for the state machine: never retried (hng.handlers.step_errors).
    with pytest.raises(HngPermanentlyUnavailable) as info:
        worker.lambda_handler(started, FakeContext())
    assert isinstance(info.value.__cause__, MnistMismatch)
    message = str(info.value)
    assert f"s3://{OUT_BUCKET}/{started['prefix']} was planned with the MNIST file sha256" in message
    assert f"from {SAMPLE_PATH}" in message and "one MnistS3Uri for all" in message
    listed = aws.list_objects_v2(Bucket=OUT_BUCKET, Prefix=started["prefix"]).get("Contents", [])
    assert not [o["Key"] for o in listed if "shard-" in o["Key"]]  # no shard made from the wrong data


def test_a_worker_whose_data_cannot_load_fails_the_invocation_with_the_reason(aws, started, monkeypatch):
    from hng.handlers import dataset_worker as worker

    aws.put_object(Bucket=DATA_BUCKET, Key=KEY, Body=BAD["a digit missing"][0])
    monkeypatch.setattr(locate, "_downloaded", {})
    monkeypatch.setattr(dataset, "_loaded", {})
    monkeypatch.setattr(worker, "mnist", ContainerData())  # does not raise: the container starts
    monkeypatch.setattr(worker, "generator", None)
    with pytest.raises(HngUnavailable, match=rf"not available: {URI}: y_test: every digit 0-9") as info:
        worker.lambda_handler(started, FakeContext())
    assert isinstance(info.value.__cause__, MnistUnavailable)  # retried by the state machine


def test_the_finalizer_records_a_failure_without_data_and_refuses_to_finalize_without_it(
    aws, started, monkeypatch
):
    from hng.handlers import dataset_finalizer as finalizer

    monkeypatch.setenv("HNG_MNIST_S3_URI", f"s3://{DATA_BUCKET}/missing.npz")
    monkeypatch.setattr(finalizer, "mnist", ContainerData())
    failed = {**started, "failed": True, "error": "States.TaskFailed", "cause": "a shard failed"}
    del failed["shard"]
    assert finalizer.lambda_handler(failed, FakeContext())["recorded"] is True
    record = aws.get_object(Bucket=OUT_BUCKET, Key=f"{started['prefix']}/failure.json")["Body"].read()
    assert json.loads(record) == {"error": "States.TaskFailed", "cause": "a shard failed"}

    event = {k: v for k, v in started.items() if k != "shard"}
    with pytest.raises(HngUnavailable, match=r"no object at HNG_MNIST_S3_URI=s3://hng-digit-sets/missing"):
        finalizer.lambda_handler(event, FakeContext())


def test_the_finalizer_refuses_a_dataset_planned_with_other_data(aws, started, monkeypatch):
    from hng.handlers import dataset_finalizer as finalizer

    monkeypatch.delenv("HNG_MNIST_S3_URI")
    monkeypatch.setenv("HNG_MNIST_PATH", str(SAMPLE_PATH))
    monkeypatch.setattr(finalizer, "mnist", ContainerData())
    event = {k: v for k, v in started.items() if k != "shard"}
    with pytest.raises(HngPermanentlyUnavailable, match="was planned with the MNIST file sha256") as info:
        finalizer.lambda_handler(event, FakeContext())
    assert isinstance(info.value.__cause__, MnistMismatch)
