"""The Lambda image's content without Docker: the handler run from build/bundle alone, on Python 3.12.

tools/build_bundle.py builds build/bundle/ (what functions/api/Dockerfile copies into the image; it is
reused when up to date) for x86_64, the bundle this machine can run (after `make bundle ARCH=arm64` it is
reinstalled; tests/deploy/test_bundle_platforms.py resolves every wheel for arm64). A Python 3.12
interpreter then runs the handler in isolated mode without site-packages, so its sys.path holds only the
standard library and build/bundle/task, as /var/task in the image; build/bundle/opt stands in for /opt,
and moto's server on a local port for S3. API Gateway events
from events/ go in; the answers, the presigned URL's PNG and the timings come out. The bundle's size and
the cold start (import + first request) are printed and written to build/bundle-figures.json, never
asserted on.

Each run is a fresh interpreter, i.e. a cold start. Lambda's /var/task is read-only, so Python cannot
cache bytecode there: the `source` run writes none (-B) and compiles every module it imports, as the image
would without bytecode; the `bytecode` run reads bytecode compiled beforehand by a first run into a
separate cache folder (-X pycache_prefix), as the image does with the bytecode its Dockerfile compiles; the
`bytecode_plain` run does the same with a first request that asks for no augmentation (no albumentations).
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import cv2
import numpy as np
import pytest

from tests.support.bundle import load_builder, missing_prerequisite
from tests.support.paths import REPO as ROOT

# Building the bundle installs the pinned wheels from PyPI (unless build/bundle is up to date).
pytestmark = pytest.mark.network

EVENTS = ROOT / "events"
FIGURES = ROOT / "build" / "bundle-figures.json"
PYTHON_VERSION = "3.12"
BUCKET = "hng-bundle-test"
REGION = "us-east-1"
UNKNOWN_TASK_ID = "01JDXQ5M8Z3K7W2N4P6R8T0V9X"  # the id in events/api_get_task.json: stored nowhere

# Runs inside the bundle's interpreter: standard library and the bundle only.
DRIVER = r'''
import json
import sys
import time

task_root, events_dir, result_path = sys.argv[1:4]
sys.path.insert(0, task_root)


class Context:
    """The fields of the Lambda context object that Powertools reads."""

    function_name = "hng-GeneratorFunction"
    function_version = "$LATEST"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:hng-GeneratorFunction"
    memory_limit_in_mb = 1024
    log_group_name = "/aws/lambda/hng-GeneratorFunction"
    log_stream_name = "2026/01/01/[$LATEST]bundle-test"

    def __init__(self, number):
        self.aws_request_id = f"00000000-0000-4000-8000-{number:012d}"

    def get_remaining_time_in_millis(self):
        return 30000


def load(name):
    with open(f"{events_dir}/{name}") as handle:
        return json.load(handle)


def call(name, event, number):
    started = time.perf_counter()
    answer = app.lambda_handler(event, Context(number))
    results["timings"][name] = time.perf_counter() - started
    results["answers"][name] = answer
    return answer


results = {"timings": {}, "answers": {}}
started = time.perf_counter()
import functions.api.app as app  # the image's CMD: the entry point, not the package module

results["timings"]["import"] = time.perf_counter() - started
first_event = load("api_generate.json")
if sys.argv[4:] == ["plain"]:  # the first request without augmentation, which never imports albumentations
    first_event["body"] = json.dumps({**json.loads(first_event["body"]), "augment": False})
first = call("generate", first_event, 1)
call("generate_warm", first_event, 2)
call("health", load("api_health.json"), 3)
call("get_unknown", load("api_get_task.json"), 4)
task_id = json.loads(first["body"])["taskId"]
known = load("api_get_task.json")
placeholder = known["pathParameters"]["taskId"]
known["path"] = known["path"].replace(placeholder, task_id)
known["requestContext"]["path"] = known["requestContext"]["path"].replace(placeholder, task_id)
known["pathParameters"]["taskId"] = task_id
call("get_task", known, 5)
call("generate_png", load("api_generate_png.json"), 6)
call("direct", load("direct_generate.json"), 7)
names = ("numpy", "cv2", "albumentations", "pydantic", "boto3", "aws_lambda_powertools", "aws_xray_sdk")
names += ("hng", "functions")
results["modules"] = {name: getattr(sys.modules.get(name), "__file__", None) for name in names}
results["sys_path"] = sys.path
results["version"] = list(sys.version_info[:3])
with open(result_path, "w") as handle:
    json.dump(results, handle)
'''


def find_python312() -> Path | None:
    """Python 3.12: $HNG_PYTHON312, else pyenv's 3.12.x builds, else python3.12 on PATH."""
    candidates = [os.environ.get("HNG_PYTHON312", "")]
    pyenv_root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    candidates += [str(p) for p in sorted(pyenv_root.glob("versions/3.12*/bin/python3.12"), reverse=True)]
    candidates.append(shutil.which("python3.12") or "")
    for candidate in filter(None, candidates):
        check = subprocess.run(
            [candidate, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
            check=False,
        )
        if check.returncode == 0 and check.stdout.strip() == PYTHON_VERSION:
            return Path(candidate)
    return None


@pytest.fixture(scope="module")
def python312() -> Path:
    found = find_python312()
    if found is None:
        missing_prerequisite(
            f"no Python {PYTHON_VERSION} interpreter (pyenv install 3.12, or set HNG_PYTHON312)"
        )
    return found


@pytest.fixture(scope="module")
def bundle() -> dict[str, Any]:
    builder = load_builder()
    out = ROOT / "build" / "bundle"
    try:
        sizes = builder.build_bundle(ROOT, out, arch="x86_64")
    except builder.BundleError as error:
        missing_prerequisite(f"cannot build the bundle: {error}")
    return {"out": out, "sizes": sizes, "report": builder.report(out, sizes, "x86_64")}


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    s3 = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    s3.create_bucket(Bucket=BUCKET)
    yield endpoint
    server.stop()


def lambda_environment(bundle_out: Path, endpoint: str, home: Path) -> dict[str, str]:
    """What the template and the Lambda runtime set, with moto as S3 and the bundle's opt/ as /opt."""
    task = bundle_out / "task"
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "TZ": "UTC",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ENDPOINT_URL_S3": endpoint,
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_EC2_METADATA_DISABLED": "true",
        "LAMBDA_TASK_ROOT": str(task),
        "AWS_LAMBDA_FUNCTION_NAME": "hng-GeneratorFunction",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "1024",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "_HANDLER": "functions.api.app.lambda_handler",
        "HNG_BUCKET": BUCKET,
        "HNG_URL_EXPIRES": "3600",
        "HNG_MNIST_PATH": str(bundle_out / "opt" / "mnist" / "mnist.npz"),
        "POWERTOOLS_SERVICE_NAME": "hng",
        "POWERTOOLS_METRICS_NAMESPACE": "hng",
        "POWERTOOLS_LOG_LEVEL": "INFO",
        "LOG_LEVEL": "INFO",
        # No X-Ray daemon here. The Tracer is still built, so aws_xray_sdk must import from the bundle.
        "POWERTOOLS_TRACE_DISABLED": "true",
        "NO_ALBUMENTATIONS_UPDATE": "1",
    }


def run_driver(
    python: Path,
    task: Path,
    env: dict[str, str],
    workdir: Path,
    bytecode: Path | None,
    *,
    plain: bool = False,
) -> dict:
    """One cold start: a fresh interpreter imports the handler from `task` and answers the sample events
    (the first one as it is, augmented, or with ``plain`` without augmentation)."""
    driver = workdir / "driver.py"
    driver.write_text(DRIVER)
    result = workdir / f"result-{len(list(workdir.glob('result-*')))}.json"
    # -I: no PYTHON* variables, no user site, no script folder on sys.path; -S: no site-packages at all.
    cache = ["-X", f"pycache_prefix={bytecode}"] if bytecode else ["-B"]
    command = [str(python), "-I", "-S", *cache, str(driver), str(task), str(EVENTS), str(result)]
    command += ["plain"] if plain else []
    completed = subprocess.run(command, env=env, cwd=workdir, capture_output=True, text=True, timeout=300)
    assert completed.returncode == 0, f"the bundle's handler failed:\n{completed.stdout}\n{completed.stderr}"
    return json.loads(result.read_text())


@pytest.fixture(scope="module")
def runs(python312, bundle, s3_endpoint, tmp_path_factory) -> dict[str, dict]:
    workdir = tmp_path_factory.mktemp("bundle-run")
    env = lambda_environment(bundle["out"], s3_endpoint, workdir)
    task = bundle["out"] / "task"
    source = run_driver(python312, task, env, workdir, bytecode=None)
    cache = workdir / "pycache"
    run_driver(python312, task, env, workdir, bytecode=cache)  # compiles what the requests import
    compiled = run_driver(python312, task, env, workdir, bytecode=cache)
    plain = run_driver(python312, task, env, workdir, bytecode=cache, plain=True)
    return {"source": source, "bytecode": compiled, "bytecode_plain": plain}


def body(answer: dict) -> dict:
    assert answer.get("isBase64Encoded") is not True, answer
    return json.loads(answer["body"])


def header(answer: dict, name: str) -> str | None:
    headers = {key.lower(): value for key, value in (answer.get("headers") or {}).items()}
    multi = {key.lower(): values for key, values in (answer.get("multiValueHeaders") or {}).items()}
    return headers.get(name.lower()) or (multi.get(name.lower()) or [None])[0]


def decode_png(data: bytes) -> np.ndarray:
    assert data[:8] == b"\x89PNG\r\n\x1a\n", data[:16]
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    assert image is not None
    return image


def download(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=30) as response:  # a plain GET, no AWS credentials
        assert response.status == 200
        return response.read()


def request_width() -> int:
    return json.loads(json.loads((EVENTS / "api_generate.json").read_text())["body"])["image_width"]


def test_handler_imports_only_from_the_bundle(runs, bundle):
    task = str(bundle["out"] / "task")
    for run in runs.values():
        assert run["version"][:2] == [3, 12]
        for name, origin in run["modules"].items():
            assert origin and origin.startswith(task + os.sep), f"{name} came from {origin}, not the bundle"
        assert not any("site-packages" in entry for entry in run["sys_path"]), run["sys_path"]


def test_generate_answers_a_presigned_png_url(runs):
    width = request_width()
    for run in runs.values():
        answer = run["answers"]["generate"]
        assert answer["statusCode"] == 200, answer
        result = body(answer)
        assert result["taskId"] and result["imageUrl"].startswith(("http://127.0.0.1", "https://"))
        image = decode_png(download(result["imageUrl"]))
        assert image.shape == (28, width) and image.dtype == np.uint8
        assert np.array(result["generatedImage"]).shape == (28, width)
        assert run["answers"]["generate_warm"]["statusCode"] == 200


def test_health_reports_the_full_mnist_data(runs):
    for run in runs.values():
        answer = run["answers"]["health"]
        assert answer["statusCode"] == 200, answer
        mnist = body(answer)["mnist"]
        assert mnist["loaded"] is True and mnist["canonical"] is True, mnist  # the image ships real MNIST


def test_stored_task_is_found_and_unknown_one_is_404(runs):
    width = request_width()
    for run in runs.values():
        assert run["answers"]["get_unknown"]["statusCode"] == 404, run["answers"]["get_unknown"]
        answer = run["answers"]["get_task"]
        assert answer["statusCode"] == 200, answer
        assert decode_png(download(body(answer)["imageUrl"])).shape == (28, width)


def test_accept_png_answers_the_png_itself(runs):
    width = request_width()
    for run in runs.values():
        answer = run["answers"]["generate_png"]
        assert answer["statusCode"] == 200, {k: v for k, v in answer.items() if k != "body"}
        assert answer["isBase64Encoded"] is True
        assert (header(answer, "Content-Type") or "").startswith("image/png")
        assert decode_png(base64.b64decode(answer["body"])).shape == (28, width)


def test_direct_invocation_returns_the_result_as_a_dict(runs):
    for run in runs.values():
        answer = run["answers"]["direct"]
        assert isinstance(answer, dict) and answer["taskId"] and answer["imageUrl"]
        assert "statusCode" not in answer


def test_bundle_opt_matches_where_the_code_looks_in_the_image(bundle):
    from hng.mnist.locate import DEFAULT_OPT_PATH

    relative = DEFAULT_OPT_PATH.relative_to("/opt")
    assert (bundle["out"] / "opt" / relative).is_file()


def test_report_bundle_size_and_cold_start(runs, bundle, capsys):
    figures = {
        "bundle_mb": {name: round(size.mb, 1) for name, size in bundle["sizes"].items()},
        "bundle_files": {name: size.files for name, size in bundle["sizes"].items()},
    }
    for kind, run in runs.items():
        timings = run["timings"]
        figures[f"cold_start_{kind}_s"] = {
            "import": round(timings["import"], 3),
            "first_request": round(timings["generate"], 3),
            "total": round(timings["import"] + timings["generate"], 3),
            "warm_request": round(timings["generate_warm"], 4),
        }
    FIGURES.parent.mkdir(parents=True, exist_ok=True)
    FIGURES.write_text(json.dumps(figures, indent=2) + "\n")
    with capsys.disabled():
        print(f"\n{bundle['report']}")
        for kind in runs:
            cold = figures[f"cold_start_{kind}_s"]
            first = "plain" if kind.endswith("plain") else "augmented"
            print(
                f"  cold start ({kind}): import {cold['import']:.2f} s + first POST /generate ({first}) "
                f"{cold['first_request']:.3f} s = {cold['total']:.2f} s; "
                f"warm request {cold['warm_request']:.4f} s"
            )
        print(f"  (Python {'.'.join(map(str, runs['source']['version']))}, figures in {FIGURES})")
    assert bundle["sizes"]["opt"].bytes > 50e6  # the full MNIST build, not the test sample
