"""`hng serve` answers POST/GET/DELETE /datasets: the job runs on the local engine of `hng dataset` (a child
process) in the embedded S3, and its shards are byte-identical to `hng dataset`'s for the same spec."""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from hng.local import ServeProcess
from tests.support.paths import REPO

pytestmark = [pytest.mark.full_data, pytest.mark.slow]  # slow: `hng serve` and `hng dataset` as subprocesses

SPEC = {"count": 300, "shardSize": 100, "digits": [2, 5], "seed": 11, "format": "webdataset"}


def request(method: str, url: str, body: Any = None) -> tuple[int, dict[str, Any]]:
    data = None if body is None else json.dumps(body).encode()
    headers = {"Content-Type": "application/json"} if data is not None else {}
    req = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=60) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        with error:
            return error.code, json.load(error)


def wait(url: str, timeout: float = 300) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status, body = request("GET", url)
        assert status == 200, body
        if body["status"] != "RUNNING":
            return body
        time.sleep(0.3)
    raise AssertionError(f"{url} still running after {timeout} s")


@pytest.fixture(scope="module")
def served(full_mnist):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_") and k != "HNG_BUCKET"}
    env["AWS_EC2_METADATA_DISABLED"] = "true"
    with ServeProcess(env=env) as proc:
        yield proc


def test_a_dataset_made_through_the_local_api_equals_hng_dataset(served, tmp_path):
    status, started = request("POST", f"{served.url}/datasets", SPEC)
    assert status == 202, started
    assert started["statusUrl"] == f"{served.url}/datasets/{started['datasetId']}"
    done = wait(started["statusUrl"])
    assert done["status"] == "SUCCEEDED", done
    assert (done["shardsDone"], done["imagesDone"], done["missingShards"]) == (3, 300, [])

    local = tmp_path / "cli"
    options = shlex.split(
        "--count 300 --shard-size 100 --digits 2-5 --seed 11 --format webdataset --workers 1"
    )
    cli = subprocess.run(
        [sys.executable, "-m", "hng.cli", "dataset", "--out", str(local), *options],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert cli.returncode == 0, cli.stderr
    for shard in done["shards"]:
        with urllib.request.urlopen(shard["url"], timeout=60) as response:
            data = response.read()
        name = shard["key"].rsplit("/", 1)[1]
        assert data == (local / name).read_bytes(), name
        assert hashlib.sha256(data).hexdigest() == shard["sha256"]
    with urllib.request.urlopen(done["manifestUrl"], timeout=60) as response:
        manifest = json.load(response)
    assert manifest["spec"] == json.loads((local / "manifest.json").read_text())["spec"]


def wait_for_pause(marker: Path, url: str, timeout: float = 300) -> None:
    """Until the job at `url` pauses (its run writes `marker`); fails at once if the job stops running."""
    deadline = time.monotonic() + timeout
    while not marker.exists():
        status, body = request("GET", url)
        assert status == 200 and body["status"] == "RUNNING", body
        assert time.monotonic() < deadline, f"no pause within {timeout} s"
        time.sleep(0.05)


PAUSE_AFTER = 2  # shards each run of the job makes before it pauses (HNG_TEST_PAUSE_AFTER_SHARDS)


def test_delete_stops_a_running_job_and_a_restart_finishes_it(full_mnist, tmp_path):
    # The job's `hng dataset` child pauses after PAUSE_AFTER shards (the engine's test-only hook, inherited
    # through hng serve's environment): DELETE then stops a job that is surely running, however fast
    # the machine, and the restart is released by removing the marker when it pauses in turn.
    paused = tmp_path / "paused"
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_") and k != "HNG_BUCKET"}
    env["AWS_EC2_METADATA_DISABLED"] = "true"
    env["HNG_TEST_PAUSE_AFTER_SHARDS"] = f"{PAUSE_AFTER}:{paused}"
    spec = {"count": 4000, "shardSize": 100, "preset": "mild", "seed": 3}
    with ServeProcess(env=env) as served:
        _, started = request("POST", f"{served.url}/datasets", spec)
        url = started["statusUrl"]
        wait_for_pause(paused, url)
        status, stopped = request("DELETE", url)
        assert status == 202 and stopped["status"] == "ABORTED", stopped
        aborted = wait(url)
        assert aborted["status"] == "ABORTED" and aborted["error"] == "DatasetStopped"
        assert aborted["shardsDone"] == PAUSE_AFTER < 40
        paused.unlink()
        status, restarted = request("POST", url)
        assert status == 202, restarted
        assert request("POST", url)[0] == 409  # running: no second run
        wait_for_pause(paused, url)  # the second run paused after its first PAUSE_AFTER shards
        paused.unlink()
        done = wait(url)
    assert done["status"] == "SUCCEEDED" and done["runs"] == 2 and done["imagesDone"] == 4000, done


def test_bad_specs_and_unknown_ids(served):
    status, answer = request("POST", f"{served.url}/datasets", {"count": 10, "digits": [9, 3]})
    assert status == 400 and answer["errors"][0]["field"] == "digits", answer
    assert request("GET", f"{served.url}/datasets/01ARZ3NDEKTSV4RRFFQ69G5FAV")[0] == 404
    assert request("POST", f"{served.url}/datasets", [{"count": 10}])[0] == 400
