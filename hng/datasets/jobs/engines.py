"""Where a dataset job runs: AWS Step Functions, or a local child process; both behind one small interface."""

from __future__ import annotations

import atexit
import json
import os
import signal

# Security (B404): the local engine runs `hng dataset resume` (no shell).
import subprocess  # nosec B404
import sys
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from hng.aws.clients import CONTROL, make_client
from hng.errors import Unavailable

STATUSES = ("RUNNING", "SUCCEEDED", "FAILED", "ABORTED")


class EngineUnavailable(Unavailable):
    """The engine could not be reached or refused the request (the API answers 503)."""


@dataclass(frozen=True)
class EngineRun:
    """One run of a job, as its engine reports it."""

    status: str  # one of STATUSES
    started_at: str | None = None
    stopped_at: str | None = None
    error: str | None = None
    cause: str | None = None


class Engine(Protocol):
    name: str

    def start(self, dataset_id: str, bucket: str, prefix: str, attempt: int) -> str:
        """Start a run; returns its reference (an execution ARN, a local run id)."""

    def describe(self, ref: str) -> EngineRun: ...

    def stop(self, ref: str, reason: str) -> None: ...


def _iso(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    return str(value)


def _now() -> str:
    return _iso(datetime.now(UTC)) or ""


class StepFunctionsEngine:
    """The stack's state machine (statemachines/dataset.asl.json); one execution per run, named by the id."""

    name = "stepfunctions"

    def __init__(self, state_machine_arn: str, client: Any = None) -> None:
        if not state_machine_arn:
            raise ValueError("a state machine ARN is required (HNG_DATASET_STATE_MACHINE_ARN)")
        self.state_machine_arn = state_machine_arn
        self._client = client

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = make_client("stepfunctions", CONTROL)
        return self._client

    def _call(self, action: str, **parameters: Any) -> dict[str, Any]:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return getattr(self.client, action)(**parameters)
        except (BotoCoreError, ClientError) as error:
            raise EngineUnavailable(f"Step Functions {action} failed: {error}") from error

    def start(self, dataset_id: str, bucket: str, prefix: str, attempt: int) -> str:
        answer = self._call(
            "start_execution",
            stateMachineArn=self.state_machine_arn,
            name=dataset_id if attempt == 1 else f"{dataset_id}-{attempt}",
            input=json.dumps({"datasetId": dataset_id, "bucket": bucket, "prefix": prefix}),
        )
        return answer["executionArn"]

    def describe(self, ref: str) -> EngineRun:
        answer = self._call("describe_execution", executionArn=ref)
        status = answer["status"]
        if status not in STATUSES:  # TIMED_OUT, PENDING_REDRIVE
            status = "FAILED"
        return EngineRun(
            status=status,
            started_at=_iso(answer.get("startDate")),
            stopped_at=_iso(answer.get("stopDate")),
            error=answer.get("error"),
            cause=answer.get("cause"),
        )

    def stop(self, ref: str, reason: str) -> None:
        self._call("stop_execution", executionArn=ref, error="DatasetStopped", cause=reason)


class LocalEngine:
    """``hng dataset resume --out s3://bucket/prefix`` in a child process: the local engine of `hng dataset`.

    The child reads the plan POST /datasets wrote and makes the shards with a process pool, in the same
    S3 keys (the embedded S3 of ``hng serve``, reached through the environment it inherits). Runs go one
    at a time, in order (each already uses every core); a queued run reports RUNNING with no shard done.
    """

    name = "local"

    def __init__(self, workers: int | None = None, python: str = sys.executable) -> None:
        self.workers, self.python = workers, python
        self._runs: dict[str, dict[str, Any]] = {}
        self._queue: list[str] = []
        self._lock = threading.Condition()
        self._dispatcher: threading.Thread | None = None
        atexit.register(self.shutdown)

    def shutdown(self) -> None:
        """Stop the running child and drop the queue (the server is stopping: nothing would read them)."""
        with self._lock:
            self._queue.clear()
            running = [
                ref for ref, run in self._runs.items() if run["process"] and run["process"].poll() is None
            ]
        for ref in running:
            self.stop(ref, "the local server stopped")

    def start(self, dataset_id: str, bucket: str, prefix: str, attempt: int) -> str:
        ref = f"local:{dataset_id}:{attempt}"
        command = [self.python, "-m", "hng.cli", "dataset", "resume", "--out", f"s3://{bucket}/{prefix}"]
        if self.workers is not None:
            command += ["--workers", str(self.workers)]
        with self._lock:
            self._runs[ref] = {"command": command, "process": None, "stderr": [], "stopped": None}
            self._queue.append(ref)
            if self._dispatcher is None:
                self._dispatcher = threading.Thread(target=self._dispatch, name="hng-local-jobs", daemon=True)
                self._dispatcher.start()
            self._lock.notify_all()
        return ref

    def _dispatch(self) -> None:
        while True:
            with self._lock:
                while not self._queue:
                    self._lock.wait()
                ref = self._queue.pop(0)
                run = self._runs[ref]
                if run["stopped"]:
                    continue
                run["started_at"] = _now()
                # Security (B603): this Python's hng CLI, no shell.
                run["process"] = subprocess.Popen(  # nosec B603
                    run["command"],
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.PIPE,
                    text=True,
                    errors="replace",
                    env=os.environ.copy(),
                )
            for line in run["process"].stderr:
                run["stderr"] = [*run["stderr"][-19:], line.rstrip("\n")]
            run["process"].wait()
            run["stopped_at"] = _now()

    def describe(self, ref: str) -> EngineRun:
        with self._lock:
            run = self._runs.get(ref)
            if run is None:
                # This server did not start it (or restarted since): its child is gone.
                return EngineRun(status="ABORTED", error="LocalRunLost", cause="the local server restarted")
            process, stopped = run["process"], run["stopped"]
            if process is None:
                if stopped:
                    return EngineRun("ABORTED", None, _now(), "DatasetStopped", stopped)
                return EngineRun(status="RUNNING")  # queued
            started_at = run["started_at"]
        if process.poll() is None or "stopped_at" not in run:
            return EngineRun(status="RUNNING", started_at=started_at)
        code = process.returncode
        if stopped:
            return EngineRun("ABORTED", started_at, run["stopped_at"], "DatasetStopped", stopped)
        if code == 0:
            return EngineRun("SUCCEEDED", started_at, run["stopped_at"])
        cause = next((line for line in reversed(run["stderr"]) if line.strip()), f"exit code {code}")
        return EngineRun("FAILED", started_at, run["stopped_at"], f"ExitCode{code}", cause)

    def stop(self, ref: str, reason: str) -> None:
        with self._lock:
            run = self._runs.get(ref)
            if run is None:
                return
            run["stopped"] = reason
            process = run["process"]
            if process is None:
                if ref in self._queue:
                    self._queue.remove(ref)
                return
        if process.poll() is not None:
            return
        process.send_signal(signal.SIGINT)  # hng dataset stops its pool cleanly on Ctrl-C
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
