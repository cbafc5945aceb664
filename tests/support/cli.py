"""``hng`` as users run it: ``python -m hng.cli`` in a subprocess, from the repository root by default.

The child's PYTHONPATH is the repository, so it imports this checkout's hng whatever is installed.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from tests.support.paths import REPO

TIMEOUT = 300  # seconds: only a command that hangs gets near this


def hng_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO), **(extra or {})}


def start_hng(*args: str, env: dict[str, str] | None = None, cwd: Path = REPO) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "hng.cli", *args],
        cwd=cwd,
        env=hng_env(env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(proc: subprocess.Popen) -> subprocess.CompletedProcess:
    """Wait for `proc` (killed if it outlives TIMEOUT) and return what it printed."""
    try:
        stdout, stderr = proc.communicate(timeout=TIMEOUT)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)


def run_hng(*args: str, env: dict[str, str] | None = None, cwd: Path = REPO) -> subprocess.CompletedProcess:
    return finish(start_hng(*args, env=env, cwd=cwd))


def run_together(
    *commands: Sequence[str], env: dict[str, str] | None = None
) -> list[subprocess.CompletedProcess]:
    """Run several hng commands at once (their start-up and finalize phases then share the cores)."""
    procs = [start_hng(*command, env=env) for command in commands]
    return [finish(proc) for proc in procs]


def ok(proc: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert proc.returncode == 0, f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    assert "Traceback" not in proc.stderr
    return proc


def wait_for(
    condition: Callable[[], bool], what: str, timeout: float, proc: subprocess.Popen | None = None
) -> None:
    """Poll `condition` until it holds; fail if `proc` exits first or `timeout` (a hang guard) passes."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert proc is None or proc.poll() is None, f"exited ({proc.returncode}) before {what}"
        assert time.monotonic() < deadline, f"no {what} within {timeout} s"
        time.sleep(0.02)
