"""POST /datasets on AWS, executed: the repository's state machine runs in moto's States Language
interpreter, its Lambda tasks call the real worker and finalizer handlers in-process, S3 is moto's.

The definition is statemachines/dataset.asl.json with its DefinitionSubstitutions filled in, created in
moto and started by the API's own code path (POST /datasets through the Lambda handler). Faults are
injected in the Lambda layer: a worker that fails once, one that always fails on a shard.
"""

from __future__ import annotations

import hashlib
import io
import json
import sys
import threading
import time
import zipfile
from typing import Any

import boto3
import jsonschema
import pytest
from botocore.config import Config
from moto import mock_aws
from moto.awslambda_simple.models import LambdaSimpleBackend

from hng.datasets import make_dataset
from hng.datasets.jobs import DatasetJobs, StepFunctionsEngine
from hng.handlers.container_data import ContainerData
from hng.handlers.step_errors import HngUnavailable
from hng.service.events import DATASET_FAILED, DATASET_SUCCEEDED, DETAIL_SCHEMAS, SOURCE
from hng.service.image_service import GenerationService, ServiceConfig
from hng.service.task_store import TaskStore
from hng.settings import load_settings
from tests.support.api import FakeContext
from tests.support.events import EventCapture
from tests.support.paths import REPO

pytestmark = [pytest.mark.full_data, pytest.mark.slow]  # slow: whole Step Functions executions in moto

BUCKET = "hng-datasets-test"
REGION = "us-east-1"
API_DOMAIN = "abc123.execute-api.us-east-1.amazonaws.com"
SPEC = {"count": 450, "shardSize": 100, "digits": [2, 4], "seed": 7, "image_width": 84}


def rest_event(method: str, path: str, body: Any = None) -> dict[str, Any]:
    return {
        "resource": path,
        "path": path,
        "httpMethod": method,
        "headers": {"Content-Type": "application/json", "Host": API_DOMAIN},
        "multiValueHeaders": None,
        "queryStringParameters": None,
        "pathParameters": None,
        "requestContext": {"requestId": "r", "stage": "test", "domainName": API_DOMAIN},
        "body": None if body is None else json.dumps(body),
        "isBase64Encoded": False,
    }


class Lambdas:
    """The real handlers behind moto's simple Lambda backend, with faults to inject per shard."""

    def __init__(self, worker: Any, finalizer: Any) -> None:
        self.handlers = {"hng-worker": worker.lambda_handler, "hng-finalizer": finalizer.lambda_handler}
        self.fail_once: set[int] = set()
        self.fail_always: set[int] = set()
        self.made: list[int] = []
        self.calls: list[tuple[str, Any]] = []
        self.lock = threading.Lock()

    def invoke(self, backend, function_name, qualifier, body, headers, response_headers) -> bytes:
        name = function_name.rsplit(":", 1)[-1]
        event = json.loads(body)
        shard = event.get("shard")
        with self.lock:
            self.calls.append((name, shard))
            failing = shard in self.fail_always or shard in self.fail_once
            self.fail_once.discard(shard)
        try:
            if name == "hng-worker" and failing:
                # What the worker raises when S3 fails it (hng.handlers.step_errors): worth a retry.
                raise HngUnavailable(f"injected fault on shard {shard}")
            result = self.handlers[name](event, FakeContext())
        except Exception as error:  # what the Lambda service reports for an unhandled error
            response_headers["x-amz-function-error"] = "Unhandled"
            return json.dumps({"errorMessage": str(error), "errorType": type(error).__name__}).encode()
        if name == "hng-worker" and result.get("made"):
            with self.lock:
                self.made.append(shard)
        return json.dumps(result).encode()


@pytest.fixture
def aws(aws_env, monkeypatch, full_mnist):
    monkeypatch.setenv("HNG_MNIST_PATH", str(full_mnist.path))
    config = {"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}
    with mock_aws(config=config):
        yield


def _function_arn(name: str) -> str:
    client = boto3.client("lambda", region_name=REGION)
    role = boto3.client("iam", region_name=REGION).create_role(
        RoleName=f"{name}-role", AssumeRolePolicyDocument="{}"
    )["Role"]["Arn"]
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("handler.py", "def lambda_handler(event, context):\n    return event\n")
    return client.create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=role,
        Handler="handler.lambda_handler",
        Code={"ZipFile": archive.getvalue()},
    )["FunctionArn"]


def definition(worker_arn: str, finalizer_arn: str, tolerated: float, concurrency: int = 4) -> str:
    text = (REPO / "statemachines" / "dataset.asl.json").read_text()
    substitutions = {
        "ShardWorkerFunctionArn": worker_arn,
        "FinalizerFunctionArn": finalizer_arn,
        "BucketName": BUCKET,
        "MaxConcurrency": str(concurrency),
        "ToleratedFailurePercentage": repr(float(tolerated)),  # moto's parser wants a float literal
        "EventBusName": "default",
    }
    for name, value in substitutions.items():
        text = text.replace("${" + name + "}", value)
    assert "${" not in text
    return text


@pytest.fixture
def stack(aws, monkeypatch, full_mnist):
    """The API handler wired to a state machine in moto; the Lambda tasks run the real handlers."""
    s3 = boto3.client("s3", region_name=REGION, config=Config(signature_version="s3v4"))
    s3.create_bucket(Bucket=BUCKET)
    from hng.handlers import api as app
    from hng.handlers import dataset_finalizer as finalizer
    from hng.handlers import dataset_worker as worker

    # The handlers' container data as this test's environment gives it (HNG_MNIST_PATH: the full build),
    # whatever environment imported the modules first.
    for module in (worker, finalizer):
        monkeypatch.setattr(module, "mnist", ContainerData())
    monkeypatch.setattr(worker, "generator", None)
    lambdas = Lambdas(worker, finalizer)
    monkeypatch.setattr(LambdaSimpleBackend, "invoke", lambda backend, *args: lambdas.invoke(backend, *args))
    worker_arn, finalizer_arn = _function_arn("hng-worker"), _function_arn("hng-finalizer")
    sfn = boto3.client("stepfunctions", region_name=REGION)

    def machine(tolerated: float) -> str:
        return sfn.create_state_machine(
            name=f"hng-datasets-{int(tolerated * 10)}",
            definition=definition(worker_arn, finalizer_arn, tolerated),
            roleArn="arn:aws:iam::123456789012:role/hng-states",
            type="STANDARD",
        )["stateMachineArn"]

    def use(tolerated: float) -> None:
        engine = StepFunctionsEngine(machine(tolerated), client=sfn)
        monkeypatch.setattr(app, "datasets", DatasetJobs(BUCKET, engine, client=s3, url_expiry=600))

    store = TaskStore(BUCKET, client=s3)
    monkeypatch.setattr(app, "service", GenerationService(ServiceConfig(bucket=BUCKET), full_mnist, store))
    use(0.0)
    return {
        "app": app,
        "s3": s3,
        "lambdas": lambdas,
        "use": use,
        "events": EventCapture({"source": [SOURCE]}),
    }


def assert_detail(event: dict[str, Any], detail_type: str) -> dict[str, Any]:
    assert event["source"] == SOURCE and event["detail-type"] == detail_type, event
    jsonschema.validate(event["detail"], DETAIL_SCHEMAS[detail_type])
    return event["detail"]


def call(app, method: str, path: str, body: Any = None) -> tuple[int, dict[str, Any]]:
    response = app.lambda_handler(rest_event(method, path, body), FakeContext())
    return response["statusCode"], json.loads(response["body"])


def wait(app, dataset_id: str, timeout: float = 300) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status, body = call(app, "GET", f"/datasets/{dataset_id}")
        assert status == 200, body
        if body["status"] != "RUNNING":
            return body
        time.sleep(0.2)
    raise AssertionError(f"dataset {dataset_id} still running after {timeout} s")


def s3_bytes(s3, key: str) -> bytes:
    return s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()


def test_the_state_machine_makes_the_same_shards_as_hng_dataset(stack, tmp_path, full_mnist):
    app, s3 = stack["app"], stack["s3"]
    status, started = call(app, "POST", "/datasets", SPEC)
    assert status == 202, started
    dataset_id = started["datasetId"]
    assert started["status"] == "RUNNING" and started["shardsTotal"] == 5 and started["imagesTotal"] == 450
    assert started["statusUrl"] == f"https://{API_DOMAIN}/test/datasets/{dataset_id}"
    assert started["prefix"] == f"s3://{BUCKET}/datasets/{dataset_id}/"
    items = json.loads(s3_bytes(s3, f"datasets/{dataset_id}/items.json"))
    assert items == [{"shard": k} for k in range(5)]

    done = wait(app, dataset_id)
    assert done["status"] == "SUCCEEDED", done
    assert (done["shardsDone"], done["imagesDone"]) == (5, 450)
    assert done["missingShards"] == []
    assert sorted(stack["lambdas"].made) == [0, 1, 2, 3, 4]

    local = tmp_path / "local"
    make_dataset(SPEC, local, workers=1, data=full_mnist)
    manifest = json.loads(s3_bytes(s3, f"datasets/{dataset_id}/manifest.json"))
    assert manifest["images"] == 450 and manifest["complete"] is True
    local_manifest = json.loads((local / "manifest.json").read_text())
    assert [s["sha256"] for s in manifest["shards"]] == [s["sha256"] for s in local_manifest["shards"]]
    for shard, listed in zip(done["shards"], manifest["shards"], strict=True):
        data = s3_bytes(s3, shard["key"])
        assert data == (local / listed["name"]).read_bytes()  # byte-identical to hng dataset's
        assert hashlib.sha256(data).hexdigest() == listed["sha256"] == shard["sha256"]
        assert "X-Amz-Signature=" in shard["url"]
    assert "X-Amz-Signature=" in done["manifestUrl"]
    for name in ("README.md", "contact_sheet.png", "plan.json", "job.json"):
        s3.head_object(Bucket=BUCKET, Key=f"datasets/{dataset_id}/{name}")
    # The state machine announced it: one event, as documented, naming the manifest as stored.
    (event,) = stack["events"].read()
    detail = assert_detail(event, DATASET_SUCCEEDED)
    stored = s3_bytes(s3, f"datasets/{dataset_id}/manifest.json")
    assert detail["manifestUri"] == f"s3://{BUCKET}/datasets/{dataset_id}/manifest.json"
    assert detail["manifestSha256"] == hashlib.sha256(stored).hexdigest()
    assert (detail["datasetId"], detail["images"], detail["missingShards"]) == (dataset_id, 450, [])


def test_a_worker_that_fails_once_is_retried(stack):
    app, lambdas = stack["app"], stack["lambdas"]
    lambdas.fail_once = {2}
    _, started = call(app, "POST", "/datasets", SPEC)
    done = wait(app, started["datasetId"])
    assert done["status"] == "SUCCEEDED", done
    assert [c for c in lambdas.calls if c == ("hng-worker", 2)] == [("hng-worker", 2)] * 2
    assert done["shardsDone"] == 5


def test_a_permanent_error_is_not_retried_and_fails_the_dataset(stack, monkeypatch):
    # Workers that loaded other MNIST data than the plan names: no retry can fix that
    # (HngPermanentlyUnavailable), so each shard is tried once and the dataset fails, recording why.
    import hng.handlers.container_data as container_data

    app, lambdas = stack["app"], stack["lambdas"]
    monkeypatch.setattr(container_data, "mnist_sha256", lambda data: "0" * 64)
    _, started = call(app, "POST", "/datasets", SPEC)
    failed = wait(app, started["datasetId"])
    assert failed["status"] == "FAILED", failed
    worker_calls = sorted(shard for name, shard in lambdas.calls if name == "hng-worker")
    assert worker_calls and worker_calls == sorted(set(worker_calls))  # none retried
    assert lambdas.made == [] and failed["shardsDone"] == 0
    assert failed["error"] and failed["cause"], failed


def test_a_shard_that_always_fails_within_the_tolerance_is_recorded_missing(stack, monkeypatch):
    # moto's interpreter parses the Map's ToleratedFailurePercentage but ignores it (it logs so) and lets
    # the Map succeed; the finalizer checks the same percentage (the template passes it to both).
    app, lambdas = stack["app"], stack["lambdas"]
    monkeypatch.setenv("HNG_TOLERATED_FAILURE_PERCENTAGE", "20")
    finalizer = sys.modules["hng.handlers.dataset_finalizer"]
    monkeypatch.setattr(finalizer, "settings", load_settings())  # as a container started with it reads it
    stack["use"](20.0)
    lambdas.fail_always = {3}
    _, started = call(app, "POST", "/datasets", SPEC)
    done = wait(app, started["datasetId"])
    assert done["status"] == "SUCCEEDED", done
    assert done["missingShards"] == [3]
    assert (done["shardsDone"], done["imagesDone"]) == (4, 350)
    assert [s["index"] for s in done["shards"]] == [0, 1, 2, 4]
    assert [c for c in lambdas.calls if c == ("hng-worker", 3)] == [("hng-worker", 3)] * 3  # 2 retries


def test_beyond_the_tolerance_the_dataset_fails_with_its_cause_and_a_rerun_makes_only_the_rest(stack):
    app, lambdas, s3 = stack["app"], stack["lambdas"], stack["s3"]
    lambdas.fail_always = {3}
    _, started = call(app, "POST", "/datasets", SPEC)
    dataset_id = started["datasetId"]
    failed = wait(app, dataset_id)
    assert failed["status"] == "FAILED", failed
    assert failed["error"] and "shards 3" in (failed["cause"] or ""), failed
    assert failed["shardsDone"] == 4 and failed["shards"] is None
    failure = json.loads(s3_bytes(s3, f"datasets/{dataset_id}/failure.json"))
    assert "more than the 0 % tolerated" in failure["cause"]
    s3.head_object(Bucket=BUCKET, Key=f"datasets/{dataset_id}/plan.json")
    assert "manifest.json" not in [
        o["Key"].rsplit("/", 1)[1]
        for o in s3.list_objects_v2(Bucket=BUCKET, Prefix=f"datasets/{dataset_id}/")["Contents"]
    ]

    lambdas.fail_always, lambdas.made = set(), []
    status, restarted = call(app, "POST", f"/datasets/{dataset_id}")
    assert status == 202, restarted
    done = wait(app, dataset_id)
    assert done["status"] == "SUCCEEDED" and done["runs"] == 2, done
    assert lambdas.made == [3]  # the other four were found made and kept
    assert done["shardsDone"] == 5 and done["missingShards"] == [] and done["error"] is None
    assert call(app, "POST", f"/datasets/{dataset_id}")[0] == 409  # complete: nothing to run again


def test_a_finalizer_fault_is_caught_recorded_and_fails_the_execution(stack, monkeypatch):
    app, lambdas = stack["app"], stack["lambdas"]
    finalize = lambdas.handlers["hng-finalizer"]

    def broken(event, context):
        if not event.get("failed"):
            raise OSError("injected: the finalizer lost its disk")
        return finalize(event, context)

    lambdas.handlers["hng-finalizer"] = broken
    _, started = call(app, "POST", "/datasets", SPEC)
    failed = wait(app, started["datasetId"])
    assert failed["status"] == "FAILED"
    assert "the finalizer lost its disk" in failed["cause"] and failed["shardsDone"] == 5
    (event,) = stack["events"].read()
    detail = assert_detail(event, DATASET_FAILED)
    assert detail["datasetId"] == started["datasetId"] and "the finalizer lost its disk" in detail["cause"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"count": 20_000_001}, "count"),
        ({"count": 0}, "count"),
        ({"count": 10, "spacing_min": 9, "spacing_max": 2}, "spacing_min"),
        ({"count": 10, "format": "parquet"}, "format"),
        ({"count": 10, "shardSize": 0}, "shardSize"),
        ({"count": 10_000_000, "shardSize": 1}, "shardSize"),
        ({"count": 10, "bogus": 1}, "bogus"),
    ],
)
def test_bad_specs_are_400_naming_the_field(stack, body, field):
    status, answer = call(stack["app"], "POST", "/datasets", body)
    assert status == 400, answer
    assert field in {error["field"] for error in answer["errors"]}, answer


def test_unknown_dataset_is_404(stack):
    for method in ("GET", "DELETE", "POST"):
        assert call(stack["app"], method, "/datasets/01ARZ3NDEKTSV4RRFFQ69G5FAV")[0] == 404
        assert call(stack["app"], method, "/datasets/nope")[0] == 404


def test_direct_invocation_starts_and_describes_a_dataset(stack):
    app = stack["app"]
    event = json.loads((REPO / "events" / "direct_start_dataset.json").read_text())
    event["dataset"] = SPEC
    started = app.lambda_handler(event, FakeContext())
    assert started["status"] == "RUNNING" and started["shardsTotal"] == 5
    done = app.lambda_handler({"datasetId": started["datasetId"]}, FakeContext())
    assert done["datasetId"] == started["datasetId"]
    deadline = time.monotonic() + 300
    while done["status"] == "RUNNING" and time.monotonic() < deadline:
        time.sleep(0.2)
        done = app.lambda_handler({"datasetId": started["datasetId"]}, FakeContext())
    assert done["status"] == "SUCCEEDED" and done["imagesDone"] == 450


@pytest.mark.parametrize(
    ("event", "words"),
    [
        ({"dataset": {"count": 0}}, "dataset.count"),
        ({"dataset": {"count": 10, "format": "zip"}}, "dataset.format"),
        ({"dataset": {"count": 10**9}}, "dataset.count"),
        ({"dataset": 5}, "a dataset event is"),
        ({"dataset": {"count": 10}, "number": 4}, "a dataset event is"),
        ({"datasetId": 7}, "datasetId must be a string"),
    ],
)
def test_bad_direct_dataset_events_are_invalid_events(stack, event, words):
    from hng.http import InvalidEvent

    with pytest.raises(InvalidEvent, match=words.replace(".", r"\.")):
        stack["app"].lambda_handler(event, FakeContext())


def test_a_trainer_format_through_the_state_machine_writes_its_root_files(stack, tmp_path, full_mnist):
    # coco: folder shards made by the worker Lambdas, and the merged instances file the finalizer writes.
    app, s3 = stack["app"], stack["s3"]
    spec = {**SPEC, "format": "coco", "objects": "both"}
    status, started = call(app, "POST", "/datasets", spec)
    assert status == 202, started
    done = wait(app, started["datasetId"])
    assert done["status"] == "SUCCEEDED", done
    prefix = f"datasets/{started['datasetId']}/"
    manifest = json.loads(s3_bytes(s3, prefix + "manifest.json"))
    assert manifest["format"]["files"] == ["annotations/instances_train.json"]
    local = tmp_path / "local"
    local_manifest = make_dataset(spec, local, workers=1, data=full_mnist)
    assert [s["sha256"] for s in manifest["shards"]] == [s["sha256"] for s in local_manifest["shards"]]
    merged = s3_bytes(s3, prefix + "annotations/instances_train.json")
    assert merged == (local / "annotations" / "instances_train.json").read_bytes()
    assert "register_coco_instances" in s3_bytes(s3, prefix + "README.md").decode()
