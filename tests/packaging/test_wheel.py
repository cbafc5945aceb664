"""The wheel on its own: built from the checkout, installed with the `local` extra into a fresh virtual
environment, and run from an empty folder with no checkout in sight: `hng data fetch`, `hng serve`,
GET /health, POST /generate (the image downloaded from its presigned URL) and a small dataset job.

Installing the extra's packages needs PyPI (the `network` tier); requirements.txt pins them, as for the
Lambda image, so the resolution is the same on every machine.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
import zipfile
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from hng.local.process import ServeProcess

pytestmark = [pytest.mark.full_data, pytest.mark.network]  # pip installs hng[local] from PyPI

REPO = Path(__file__).resolve().parents[2]


def run(command: list[str], cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    proc = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=1200)
    assert proc.returncode == 0, f"{command}\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}"
    return proc


def http(method: str, url: str, body: dict[str, Any] | None = None) -> tuple[int, dict[str, Any]]:
    data = None if body is None else json.dumps(body).encode()
    headers = {"Content-Type": "application/json"} if data is not None else {}
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        with error:
            return error.code, json.loads(error.read())


@pytest.fixture(scope="module")
def installed(tmp_path_factory, full_mnist) -> dict[str, Path]:
    """The wheel, a virtual environment with hng[local] from it, and an empty folder to run in."""
    root = tmp_path_factory.mktemp("wheel")
    dist = root / "dist"
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(dist), str(REPO)], cwd=root)
    (wheel,) = dist.glob("hng-*.whl")
    venv = root / "venv"
    run([sys.executable, "-m", "venv", str(venv)], cwd=root)
    python = venv / "bin" / "python"
    install = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    run([*install, "-c", str(REPO / "requirements.txt"), f"{wheel}[local]"], cwd=root)
    empty = root / "empty"
    empty.mkdir()
    return {"wheel": wheel, "python": python, "bin": venv / "bin", "empty": empty, "root": root}


def wheel_env(installed: dict[str, Path]) -> dict[str, str]:
    """No checkout on any path, no AWS settings: the embedded S3, and a cache of the wheel user's own."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AWS_", "HNG_", "PYTHON", "VIRTUAL_ENV", "XDG_CACHE_HOME"))
    }
    env.update(
        AWS_EC2_METADATA_DISABLED="true",
        XDG_CACHE_HOME=str(installed["root"] / "cache"),
        HNG_CACHE_DIR=str(installed["root"] / "hng-cache"),
        PATH=f"{installed['bin']}{os.pathsep}{env.get('PATH', '')}",
    )
    return env


def test_the_wheel_holds_the_package_and_its_pages_but_no_checkout(installed):
    names = zipfile.ZipFile(installed["wheel"]).namelist()
    assert "hng/handlers/api.py" in names and "hng/http/playground.html" in names
    assert any(name.startswith("hng/http/docs/") for name in names)
    assert not [name for name in names if name.startswith(("functions/", "tests/", "layers/"))]
    where = run(
        [str(installed["python"]), "-c", "import hng, hng.handlers.api; print(hng.__file__)"],
        cwd=installed["empty"],
        env={**wheel_env(installed), "HNG_MNIST_PATH": str(REPO / "layers/mnist/mnist/mnist.npz")},
    )
    location = where.stdout.strip().splitlines()[-1]  # after the handler's JSON log of the data it loaded
    assert "site-packages" in location and str(REPO) not in location


def test_data_fetch_serve_generate_and_a_dataset_from_an_empty_folder(installed, full_mnist):
    env = wheel_env(installed)
    fetched = run(["hng", "data", "fetch", "--source", str(full_mnist.path)], cwd=installed["empty"], env=env)
    built = installed["root"] / "cache" / "hng" / "mnist.npz"  # an installed hng's default place
    assert built.is_file() and "canonical MNIST" in fetched.stdout, fetched.stdout

    with ServeProcess(python=str(installed["python"]), cwd=installed["empty"], env=env) as served:
        status, health = http("GET", f"{served.url}/health")
        assert status == 200 and health["mnist"]["loaded"] is True and health["mnist"]["canonical"] is True
        assert health["mnist"]["source"] == str(built)

        status, answer = http(
            "POST", f"{served.url}/generate", {"number": "2026", "image_width": 140, "seed": 7}
        )
        assert status == 200, answer
        with urllib.request.urlopen(answer["imageUrl"], timeout=60) as response:
            png = response.read()
        image = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_UNCHANGED)
        assert image.shape == (28, 140) and image.dtype == np.uint8

        status, started = http("POST", f"{served.url}/datasets", {"count": 20, "shardSize": 10, "seed": 3})
        assert status == 202, started
        deadline = time.monotonic() + 300  # a bound on a hang; the job takes seconds
        while True:
            status, job = http("GET", started["statusUrl"])
            assert status == 200, job
            if job["status"] != "RUNNING" or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert job["status"] == "SUCCEEDED", job
        assert job["imagesDone"] == 20 and len(job["shards"]) == 2
    assert served.returncode == 0, served.stderr[-2000:]
    assert not list(installed["empty"].iterdir())  # nothing written where it ran
