"""Property-based: no input makes the served API answer 5xx.

Schemathesis reads the OpenAPI document that `hng serve` (a subprocess, the real handler, embedded S3)
serves at /openapi.json and generates valid and invalid requests for every operation (bounded and
deterministic: twice the Hypothesis profile's examples per operation and mode, derandomized; the "ci"
profile raises it). tests/handlers/test_api_properties.py runs thousands more cases in-process, where each
costs far less.
Hand-written negatives cover what a schema-driven generator does not send: broken JSON, other content
types, encodings, sizes and methods.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import APIOperation, GenerationMode
from schemathesis.checks import not_a_server_error

from hng.local import ServeProcess
from tests.support.hypothesis import examples

pytestmark = [pytest.mark.full_data, pytest.mark.slow]  # slow: fuzzing over HTTP against `hng serve`

FUZZ = examples(2)  # per operation and mode: 200 under the default profile
MAX_EXAMPLES = FUZZ.max_examples


@pytest.fixture(scope="module")
def served(full_mnist):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_") and k != "HNG_BUCKET"}
    env["AWS_EC2_METADATA_DISABLED"] = "true"
    # Valid POST /datasets cases start real local jobs (one at a time): keep each one small.
    env["HNG_MAX_DATASET_IMAGES"] = "200"
    proc = ServeProcess(env=env)
    try:
        proc.start()
        yield proc
    finally:
        proc.stop()


@pytest.fixture(scope="module")
def operations(served) -> list[APIOperation]:
    config = schemathesis.Config()
    config.projects.default.update(base_url=served.url, request_timeout=120)
    schema = schemathesis.openapi.from_url(f"{served.url}/openapi.json", config=config, timeout=60)
    return [result.ok() for result in schema.get_all_operations()]  # .ok() raises on a broken operation


# schemathesis' own pytest integration (schema.parametrize with a lazily loaded schema) breaks on pytest 9
# (it sets Node._nodeid); driving its strategies with hypothesis directly is the same generation.
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=lambda m: m.value)
def test_no_generated_request_gets_a_5xx(served, operations, mode):
    fuzzed = []
    sent = [0]
    session = requests.Session()
    try:
        for operation in operations:

            @settings(FUZZ, suppress_health_check=list(HealthCheck))
            @given(case=operation.as_strategy(generation_mode=mode))
            def no_server_error(case):
                sent[0] += 1
                case.call_and_validate(base_url=served.url, session=session, checks=[not_a_server_error])

            try:
                no_server_error()
            except Unsatisfiable:
                # No invalid input exists for an operation without constrained parameters or body
                # (GET /health; an unconstrained string path parameter).
                if mode is GenerationMode.POSITIVE:
                    raise
                continue
            fuzzed.append(operation.label)
    finally:
        session.close()
    with urllib.request.urlopen(f"{served.url}/openapi.json", timeout=60) as response:
        document = json.load(response)
    documented = {f"{method.upper()} {path}" for path, item in document["paths"].items() for method in item}
    assert {"GET /health", "POST /generate", "GET /generate/{task_id}"} <= documented
    if mode is GenerationMode.POSITIVE:
        assert set(fuzzed) == documented  # every documented operation got valid requests
    else:
        assert "POST /generate" in fuzzed
    assert sent[0] >= MAX_EXAMPLES  # the examples were really sent, not only generated


def send(url: str, method: str, body: bytes | None, headers: dict[str, str]) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=body, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, error.read()


JSON = {"Content-Type": "application/json"}
VALID = {"number": 42, "image_width": 56}

NEGATIVES = {
    "malformed JSON": ("POST", "/generate", b'{"number": 42,', JSON),
    "truncated JSON string": ("POST", "/generate", b'{"number": "4', JSON),
    "JSON array": ("POST", "/generate", b"[42]", JSON),
    "JSON null": ("POST", "/generate", b"null", JSON),
    "JSON string": ("POST", "/generate", b'"42"', JSON),
    "NaN literal": ("POST", "/generate", b'{"number": 42, "image_width": NaN}', JSON),
    "deeply nested JSON": ("POST", "/generate", b'{"number": ' + b"[" * 5000 + b"]" * 5000 + b"}", JSON),
    "empty body": ("POST", "/generate", b"", JSON),
    "no body, no content type": ("POST", "/generate", None, {}),
    "text/plain": ("POST", "/generate", json.dumps(VALID).encode(), {"Content-Type": "text/plain"}),
    "form encoded": (
        "POST",
        "/generate",
        b"number=42&image_width=56",
        {"Content-Type": "application/x-www-form-urlencoded"},
    ),
    "binary content type": (
        "POST",
        "/generate",
        json.dumps(VALID).encode(),
        {"Content-Type": "application/octet-stream"},
    ),
    "JSON as image/png": ("POST", "/generate", json.dumps(VALID).encode(), {"Content-Type": "image/png"}),
    "not UTF-8": ("POST", "/generate", b'{"number": "\xff\xfe"}', JSON),
    "UTF-16 JSON": ("POST", "/generate", json.dumps(VALID).encode("utf-16"), JSON),
    "huge image_width": ("POST", "/generate", json.dumps({"number": 1, "image_width": 10**9}).encode(), JSON),
    "image_width 2**64": (
        "POST",
        "/generate",
        json.dumps({"number": 1, "image_width": 2**64}).encode(),
        JSON,
    ),
    "image_width 1e400": ("POST", "/generate", b'{"number": 1, "image_width": 1e400}', JSON),
    "image_width 0": ("POST", "/generate", json.dumps({"number": 1, "image_width": 0}).encode(), JSON),
    "image_width float": ("POST", "/generate", json.dumps({"number": 1, "image_width": 56.5}).encode(), JSON),
    "100 digits": ("POST", "/generate", json.dumps({"number": "9" * 100}).encode(), JSON),
    "number 10**100": ("POST", "/generate", json.dumps({"number": 10**100}).encode(), JSON),
    "negative number": ("POST", "/generate", json.dumps({"number": -5}).encode(), JSON),
    "Arabic-Indic digits": ("POST", "/generate", json.dumps({"number": "٤٢"}).encode(), JSON),
    "spacing_min > spacing_max": (
        "POST",
        "/generate",
        json.dumps({"number": 42, "spacing_min": 9, "spacing_max": 2}).encode(),
        JSON,
    ),
    "negative seed": ("POST", "/generate", json.dumps({"number": 42, "seed": -1}).encode(), JSON),
    "seed 2**70": ("POST", "/generate", json.dumps({"number": 42, "seed": 2**70}).encode(), JSON),
    "unknown preset": ("POST", "/generate", json.dumps({"number": 42, "preset": "wild"}).encode(), JSON),
    "augment 2": ("POST", "/generate", json.dumps({"number": 42, "augment": 2}).encode(), JSON),
    "body over the limit": ("POST", "/generate", b'{"number": 1, "x": "' + b"a" * 100_000 + b'"}', JSON),
    "PNG wanted, bad body": ("POST", "/generate", b"{", {**JSON, "Accept": "image/png"}),
    "odd Accept": ("POST", "/generate", json.dumps(VALID).encode(), {**JSON, "Accept": "*/*;q=x, ,;"}),
    "DELETE /generate": ("DELETE", "/generate", None, {}),
    "PUT /health": ("PUT", "/health", b"{}", JSON),
    "POST /generate/{id}": ("POST", "/generate/01ABC", b"{}", JSON),
    "PATCH /openapi.json": ("PATCH", "/openapi.json", None, {}),
    "unknown method": ("BREW", "/generate", None, {}),
    "unknown route": ("GET", "/generate/a/b/c", None, {}),
    "task id with odd characters": ("GET", "/generate/..%2F..%2Fetc%2Fpasswd", None, {}),
    "very long task id": ("GET", "/generate/" + "A" * 5000, None, {}),
    "query junk": ("GET", "/health?%ff=%fe&a&&=", None, {}),
}


# The documented answer of each (README, "HTTP API"): not only "no 5xx".
EXPECTED_STATUS = {
    **dict.fromkeys(
        [
            "malformed JSON",
            "truncated JSON string",
            "JSON array",
            "JSON null",
            "JSON string",
            "NaN literal",
            "deeply nested JSON",
            "empty body",
            "no body, no content type",
            "not UTF-8",
            "UTF-16 JSON",
            "huge image_width",
            "image_width 2**64",
            "image_width 1e400",
            "image_width 0",
            "image_width float",
            "100 digits",
            "number 10**100",
            "negative number",
            "Arabic-Indic digits",
            "spacing_min > spacing_max",
            "negative seed",
            "seed 2**70",
            "unknown preset",
            "augment 2",
            "PNG wanted, bad body",
        ],
        400,
    ),
    **dict.fromkeys(["text/plain", "form encoded", "binary content type", "JSON as image/png"], 415),
    "body over the limit": 413,
    "odd Accept": 200,
    **dict.fromkeys(["DELETE /generate", "PUT /health", "POST /generate/{id}", "PATCH /openapi.json"], 405),
    "unknown method": 405,
    **dict.fromkeys(["unknown route", "task id with odd characters", "very long task id"], 404),
    "query junk": 200,
}


def test_every_negative_has_its_documented_status():
    assert set(EXPECTED_STATUS) == set(NEGATIVES)


@pytest.mark.parametrize("name", NEGATIVES)
def test_hand_written_negatives_get_their_documented_answer(served, name):
    method, path, body, headers = NEGATIVES[name]
    status, answer = send(f"{served.url}{path}", method, body, headers)
    assert status == EXPECTED_STATUS[name], f"{name}: {status} {answer[:500]!r}"
    if status >= 400 and method != "HEAD":
        assert isinstance(json.loads(answer), dict)  # errors are JSON


def test_a_valid_request_still_works_after_the_fuzzing(served):
    status, answer = send(f"{served.url}/generate", "POST", json.dumps(VALID).encode(), JSON)
    assert status == 200 and json.loads(answer)["image_width"] == 56
