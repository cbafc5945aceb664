"""`hng serve` as a subprocess over real loopback HTTP: the real Lambda handler, the embedded S3, signals.

The tests marked `full_data` run functions.api.app.lambda_handler with the full MNIST build (skipped locally
without it, failing in CI, as tests/conftest.py says). The others use a tiny fake handler so the process
lifecycle (printed URLs, SIGINT/SIGTERM, port in use) is checked everywhere, quickly.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import boto3
import cv2
import numpy as np
import pytest

from hng.local import ServeProcess, advertised_host
from tests.support.paths import REPO

pytestmark = pytest.mark.slow  # every test starts `hng serve` as a subprocess

README_BODY = {"augment": "true", "number": 42, "spacing_min": 5, "spacing_max": 10, "image_width": 56}
CONCURRENT = 50

FAKE_HANDLER = """
import json

def lambda_handler(event, context):
    body = {"path": event["path"], "method": event["httpMethod"], "requestId": context.aws_request_id}
    return {"statusCode": 200, "headers": {"Content-Type": "application/json"}, "body": json.dumps(body)}
"""


FAKE_POWERTOOLS_HANDLER = """
import json

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

logger = Logger(service="fake")
metrics = Metrics(namespace="fake", service="fake")


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event, context):
    metrics.add_metric(name="Calls", unit=MetricUnit.Count, value=1)
    logger.info("handled", extra={"path": event["path"]})
    if event["path"] == "/png":
        return {"statusCode": 200, "headers": {"Content-Type": "image/png", "X-Task-Id": "01FAKEPNG"},
                "body": "iVBORw==", "isBase64Encoded": True}
    return {"statusCode": 200, "headers": {"Content-Type": "application/json"},
            "body": json.dumps({"taskId": "01FAKEJSON", "path": event["path"]})}
"""


def clean_env(**extra: str) -> dict[str, str]:
    """The test's environment without real AWS settings: the server must choose its embedded S3."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_") and k != "HNG_BUCKET"}
    env.update(AWS_EC2_METADATA_DISABLED="true", **extra)
    return env


def http(method: str, url: str, body: dict | bytes | None = None, headers: dict | None = None):
    data = json.dumps(body).encode() if isinstance(body, dict) else body
    headers = {"Content-Type": "application/json", **(headers or {})} if data is not None else headers or {}
    req = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=120) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, error.headers, error.read()


def download(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=60) as response:  # a plain GET: no AWS signing here
        assert response.status == 200
        return response.read()


def decode_png(data: bytes) -> np.ndarray:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    assert image is not None and image.dtype == np.uint8
    return image


# --- process lifecycle with a fake handler (no MNIST data needed) ------------------------------------------


@pytest.fixture
def fake_handler_env(tmp_path):
    (tmp_path / "hng_fake_app.py").write_text(FAKE_HANDLER)
    return clean_env(PYTHONPATH=str(tmp_path))


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_serve_prints_urls_answers_and_stops_cleanly_on_signal(fake_handler_env, sig):
    proc = ServeProcess("--handler", "hng_fake_app.lambda_handler", env=fake_handler_env)
    try:
        url = proc.start()
        assert url.startswith("http://127.0.0.1:") and not url.endswith(":0")
        assert proc.s3_endpoint and proc.s3_endpoint.startswith("http://127.0.0.1:")
        assert f"curl -s {url}/health" in proc.stdout
        status, headers, body = http("GET", f"{url}/anything?x=1")
        assert status == 200
        assert json.loads(body)["requestId"] == headers["x-amzn-RequestId"]
        # The embedded S3 answers too (the bucket exists).
        s3 = boto3.client(
            "s3", endpoint_url=proc.s3_endpoint, region_name="us-east-1",
            aws_access_key_id="testing", aws_secret_access_key="testing",
        )  # fmt: skip
        assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == ["hng-local"]
    finally:
        code = proc.stop(sig)
    assert code == 0, proc.stderr
    assert "hng serve: stopping" in proc.stdout and "Traceback" not in proc.stderr


def test_ctrl_c_stops_a_server_started_with_sigint_ignored(fake_handler_env):
    """A shell starts background jobs (`hng serve &`) with SIGINT ignored; kill -INT must still stop it."""
    root = REPO
    env = {**fake_handler_env, "PYTHONPATH": os.pathsep.join([str(root), fake_handler_env["PYTHONPATH"]])}
    process = subprocess.Popen(
        [sys.executable, "-m", "hng.cli", "serve", "--port", "0", "--handler", "hng_fake_app.lambda_handler"],
        cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    )  # fmt: skip
    try:
        for line in process.stdout:
            if "Ctrl-C" in line:
                break
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == 0, process.stderr.read()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        process.stdout.close()
        process.stderr.close()


def test_serve_on_a_busy_port_exits_1_with_one_line(fake_handler_env):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "hng.cli", "serve", "--port", str(port)],
            cwd=REPO,
            env={**fake_handler_env, "PYTHONPATH": str(REPO)},
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert result.returncode == 1
    assert "already in use" in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.fixture
def powertools_handler_env(tmp_path):
    (tmp_path / "hng_fake_powertools.py").write_text(FAKE_POWERTOOLS_HANDLER)
    env = clean_env(PYTHONPATH=str(tmp_path))
    for name in ("POWERTOOLS_METRICS_DISABLED", "POWERTOOLS_LOG_LEVEL", "POWERTOOLS_DEV"):
        env.pop(name, None)
    return env


def test_default_console_is_one_access_line_per_request(powertools_handler_env):
    proc = ServeProcess("--handler", "hng_fake_powertools.lambda_handler", env=powertools_handler_env)
    try:
        url = proc.start()
        assert http("POST", f"{url}/generate", {"number": 1})[0] == 200
        assert http("GET", f"{url}/png")[0] == 200
        assert http("GET", f"{url}/health")[0] == 200
    finally:
        assert proc.stop() == 0, proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 3, proc.stderr
    assert '"POST /generate" 200 ' in lines[0] and lines[0].endswith(" ms task 01FAKEJSON")
    assert '"GET /png" 200 ' in lines[1] and lines[1].endswith(" ms task 01FAKEPNG")
    assert '"GET /health" 200 ' in lines[2] and " ms" in lines[2]
    # Neither the handler's INFO logs nor its CloudWatch metrics (EMF) reach the console.
    assert "handled" not in proc.stdout and "_aws" not in proc.stdout
    assert not [line for line in proc.stdout.splitlines() if line.startswith("{")]


def test_log_format_json_shows_the_lambdas_logs_and_metrics(powertools_handler_env):
    proc = ServeProcess(
        "--handler", "hng_fake_powertools.lambda_handler", "--log-format", "json", env=powertools_handler_env
    )
    try:
        url = proc.start()
        assert http("POST", f"{url}/generate", {"number": 1})[0] == 200
    finally:
        assert proc.stop() == 0, proc.stderr
    records = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    # At start the server also asks the handler for GET /openapi.json (its resource templates).
    logs = [r for r in records if r.get("message") == "handled" and r["path"] == "/generate"]
    emf = [r for r in records if "_aws" in r]
    assert len(logs) == 1 and logs[0]["function_name"] == "hng-local"
    assert emf and all(r["Calls"] == [1.0] and r["_aws"]["CloudWatchMetrics"] for r in emf)
    (access,) = [json.loads(line) for line in proc.stderr.splitlines()]
    assert access["method"] == "POST" and access["path"] == "/generate" and access["status"] == 200
    assert access["task_id"] == "01FAKEJSON" and access["request_id"] == logs[0]["function_request_id"]


def test_all_addresses_advertise_the_primary_address(fake_handler_env):
    proc = ServeProcess("--host", "0.0.0.0", "--handler", "hng_fake_app.lambda_handler", env=fake_handler_env)
    try:
        url = proc.start()
        host = advertised_host("0.0.0.0")  # this machine's primary address, or 127.0.0.1 without one
        port = url.rsplit(":", 1)[1]
        assert url == f"http://{host}:{port}" and proc.s3_endpoint.startswith(f"http://{host}:")
        assert f"listening on 0.0.0.0:{port}" in proc.stdout
        # Bound to every address: loopback answers too (no traffic leaves this machine in tests).
        assert http("GET", f"http://127.0.0.1:{port}/x")[0] == 200
    finally:
        assert proc.stop() == 0, proc.stderr


SITECUSTOMIZE = "import sys\nsys.modules[{module!r}] = None  # as if not installed\n"


@pytest.mark.parametrize("module", ["moto", "waitress"])
def test_serve_without_the_local_extra_exits_1_saying_what_to_install(fake_handler_env, tmp_path, module):
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(SITECUSTOMIZE.format(module=module))
    env = {
        **fake_handler_env,
        "PYTHONPATH": os.pathsep.join([str(site), str(REPO), fake_handler_env["PYTHONPATH"]]),
    }
    result = subprocess.run(
        [sys.executable, "-m", "hng.cli", "serve", "--port", "0", "--handler", "hng_fake_app.lambda_handler"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert module in result.stderr and "pip install 'hng[local]'" in result.stderr


def test_serve_bad_port_is_a_usage_error():
    result = subprocess.run(
        [sys.executable, "-m", "hng.cli", "serve", "--port", "99999"],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1


# --- the real handler ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def served(full_mnist):
    """`hng serve` with functions.api.app.lambda_handler and the embedded S3, shared by the module's tests."""
    proc = ServeProcess(env=clean_env())
    try:
        proc.start()
        status, _, _ = http("GET", f"{proc.url}/health")
        assert status == 200, proc.stderr
        yield proc
    finally:
        proc.stop()


def s3_client(proc: ServeProcess):
    return boto3.client(
        "s3",
        endpoint_url=proc.s3_endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


@pytest.mark.full_data
def test_health(served):
    status, headers, body = http("GET", f"{served.url}/health")
    answer = json.loads(body)
    assert status == 200 and headers["Content-Type"].startswith("application/json")
    # A degraded service also says "Running" (for the old clients): the new fields tell.
    assert answer["status"] == "ok" and answer["Status"] == "Running"
    assert answer["mnist"]["loaded"] is True and answer["mnist"]["digits"] == 70_000


@pytest.mark.full_data
def test_the_banner_names_the_pages_and_both_are_served(served):
    assert f"in a browser: {served.url}/ (the playground), {served.url}/docs (the API docs)" in served.stdout
    for path in ("/", "/docs"):
        status, headers, body = http("GET", f"{served.url}{path}")
        assert status == 200 and headers["Content-Type"] == "text/html; charset=utf-8"
        assert body.lower().startswith(b"<!doctype html>")


@pytest.mark.full_data
def test_generate_readme_body_then_download_the_presigned_png(served):
    status, _, body = http("POST", f"{served.url}/generate", README_BODY)
    assert status == 200, body
    answer = json.loads(body)
    for name, value in README_BODY.items():
        assert answer[name] == value
    assert answer["imageUrl"].startswith(f"{served.s3_endpoint}/")
    image = decode_png(download(answer["imageUrl"]))
    assert image.shape == (28, README_BODY["image_width"])
    # generatedImage is the same picture as floats in [0, 1], as the old service answered.
    floats = np.asarray(answer["generatedImage"], dtype=np.float64)
    assert floats.shape == image.shape and floats.min() >= 0 and floats.max() <= 1
    assert np.abs(floats * 255 - image).max() <= 1
    assert len(answer["boxes"]) == 2 and isinstance(answer["seed"], int)


@pytest.mark.full_data
def test_task_lookup_gives_metadata_and_a_fresh_url(served):
    _, _, body = http("POST", f"{served.url}/generate", {**README_BODY, "seed": 7, "includeImage": False})
    created = json.loads(body)
    assert "generatedImage" not in created
    status, _, body = http("GET", f"{served.url}/generate/{created['taskId']}")
    assert status == 200, body
    task = json.loads(body)
    assert task["taskId"] == created["taskId"] and task["key"] == created["key"]
    assert task["metadata"]["seed"] == 7
    assert download(task["imageUrl"]) == download(created["imageUrl"])


@pytest.mark.full_data
def test_unknown_task_is_404(served):
    status, _, body = http("GET", f"{served.url}/generate/01ZZZZZZZZZZZZZZZZZZZZZZZZ")
    assert status == 404 and json.loads(body)["message"]


@pytest.mark.full_data
def test_accept_png_answers_the_png_itself(served):
    status, headers, body = http(
        "POST", f"{served.url}/generate", {"number": "007", "image_width": 90}, {"Accept": "image/png"}
    )
    assert status == 200 and headers["Content-Type"] == "image/png"
    assert decode_png(body).shape == (28, 90)


@pytest.mark.full_data
def test_concurrent_requests_all_succeed_with_distinct_tasks_and_objects(served):
    bodies = [
        {"number": str(1000 + k), "seed": k, "image_width": 100 + k, "includeImage": False, "augment": k % 2}
        for k in range(CONCURRENT)
    ]
    with ThreadPoolExecutor(CONCURRENT) as pool:
        results = list(pool.map(lambda b: http("POST", f"{served.url}/generate", b), bodies))
    assert [status for status, _, _ in results] == [200] * CONCURRENT
    answers = [json.loads(body) for _, _, body in results]
    # Each answer belongs to its own request (no event crossed over between concurrent calls).
    assert [(a["label"], a["seed"], a["image_width"]) for a in answers] == [
        (b["number"], b["seed"], b["image_width"]) for b in bodies
    ]
    task_ids = {a["taskId"] for a in answers}
    assert len(task_ids) == CONCURRENT

    listed = s3_client(served).list_objects_v2(Bucket=answers[0]["bucket"], MaxKeys=1000)["Contents"]
    keys = {item["Key"] for item in listed}
    assert {a["key"] for a in answers} <= keys
    assert len({a["key"] for a in answers}) == CONCURRENT

    with ThreadPoolExecutor(8) as pool:
        images = list(pool.map(lambda a: decode_png(download(a["imageUrl"])), answers))
    assert [image.shape for image in images] == [(28, b["image_width"]) for b in bodies]


@pytest.mark.full_data
@pytest.mark.full_data
def test_an_idempotency_key_replays_the_first_answer_from_the_embedded_table(served):
    headers = {"Idempotency-Key": "serve-retry-1"}
    first = http("POST", f"{served.url}/generate", README_BODY, headers)
    again = http("POST", f"{served.url}/generate", README_BODY, headers)
    assert first[0] == again[0] == 200
    assert json.loads(again[2])["taskId"] == json.loads(first[2])["taskId"]
    status, _, body = http("POST", f"{served.url}/generate", {**README_BODY, "number": 43}, headers)
    assert status == 409 and "another request body" in json.loads(body)["message"]


def test_client_mistakes_are_4xx(served):
    assert http("POST", f"{served.url}/generate", b"{not json")[0] == 400
    status, _, body = http("POST", f"{served.url}/generate", {"number": "4x2"})
    answer = json.loads(body)  # the documented 400 (the OpenAPI document lists no 422), naming the field
    assert status == 400 and answer["statusCode"] == 400 and answer["message"] == "invalid request"
    assert [error["field"] for error in answer["errors"]] == ["number"]
    assert http("DELETE", f"{served.url}/health")[0] == 405
    assert http("GET", f"{served.url}/nowhere")[0] == 404


@pytest.mark.full_data
def test_the_real_handler_at_the_edges_in_line_mode(full_mnist):
    # What a hostile probe found: each refused by the server as API Gateway would, in JSON, and the
    # console (line mode) shows access lines only, never the handler's EMF metrics.
    proc = ServeProcess(env=clean_env())
    try:
        url = proc.start()
        assert http("POST", f"{url}/generate", README_BODY)[0] == 200
        assert http("POST", f"{url}/generate", {"number": "4x2"})[0] == 400
        assert http("GET", f"{url}//generate")[0] == 404  # not the playground
        for raw in (b"G-E-T /health HTTP/1.1\r\n", b"OPTIONS * HTTP/1.1\r\n"):
            with socket.create_connection(("127.0.0.1", int(url.rsplit(":", 1)[1])), timeout=30) as sock:
                sock.sendall(raw + b"Host: x\r\n\r\n")
                reply = b""
                while chunk := sock.recv(65536):
                    reply += chunk
            head, _, body = reply.partition(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 400 ") and json.loads(body)["message"], reply[:300]
    finally:
        assert proc.stop() == 0, proc.stderr
    assert "_aws" not in proc.stdout and "Traceback" not in proc.stderr
    assert not [line for line in proc.stdout.splitlines() if line.startswith("{")]
    assert " 502 " not in proc.stderr


@pytest.mark.full_data
def test_all_addresses_with_a_public_url_serve_and_sign_urls_for_that_host(full_mnist):
    # The workplace allows traffic to loopback only, so the address clients use here is 127.0.0.2: this
    # machine, but not an address a server bound to 127.0.0.1 (the API or its S3) would accept.
    proc = ServeProcess("--host", "0.0.0.0", "--public-url", "http://127.0.0.2", env=clean_env())
    try:
        url = proc.start()
        assert url.startswith("http://127.0.0.2:") and proc.s3_endpoint.startswith("http://127.0.0.2:")
        status, _, body = http("POST", f"{url}/generate", README_BODY)
        assert status == 200, body
        answer = json.loads(body)
        assert answer["imageUrl"].startswith(f"{proc.s3_endpoint}/")
        assert decode_png(download(answer["imageUrl"])).shape == (28, README_BODY["image_width"])
    finally:
        assert proc.stop() == 0, proc.stderr


@pytest.mark.full_data
def test_sigint_stops_the_real_server_with_exit_code_0(full_mnist):
    proc = ServeProcess(env=clean_env())
    try:
        url = proc.start()
        status, _, _ = http("POST", f"{url}/generate", README_BODY)
        assert status == 200
    finally:
        code = proc.stop(signal.SIGINT)
    assert code == 0, proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_server_that_does_not_stop_prints_its_stacks_before_it_is_killed(fake_handler_env):
    # SIGCONT is not a stop signal: the server keeps running, as a hung one would.
    proc = ServeProcess("--handler", "hng_fake_app.lambda_handler", env=fake_handler_env, stop_timeout=1.0)
    proc.start()
    assert proc.stop(signal.SIGCONT) == -signal.SIGKILL
    assert "(most recent call first)" in proc.stderr and "hng/local/server.py" in proc.stderr
