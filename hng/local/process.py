"""ServeProcess: ``hng serve`` as a child process, for tests and benchmarks."""

from __future__ import annotations

import contextlib
import os
import signal

# Security (B404): starts `hng serve` with a fixed argument list (no shell).
import subprocess  # nosec B404
import sys
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import TextIO

STACK_DUMP_SECONDS = 2.0  # how long a server that did not stop gets to print its stacks


class ServeProcess:
    """``hng serve`` as a child process, for tests and benchmarks: ``with ServeProcess() as proc: proc.url``.

    Starts ``python -m hng.cli serve --port 0 [args]``, drains its output in threads (the handler's JSON logs
    must never fill a pipe), and waits for the printed API URL. `stop()` sends SIGINT and returns the exit
    code; a process that does not stop within `stop_timeout` seconds is killed.
    """

    def __init__(
        self,
        *args: str,
        cwd: Path | None = None,
        env: Mapping[str, str] | None = None,
        python: str = sys.executable,
        startup_timeout: float = 120.0,
        stop_timeout: float = 30.0,
    ) -> None:
        self.cwd = cwd or Path.cwd()
        base = dict(os.environ if env is None else env)
        if python == sys.executable:
            # The child runs this very hng; another interpreter (a wheel's virtual environment) its own.
            root = Path(__file__).resolve().parents[2]
            base["PYTHONPATH"] = os.pathsep.join(p for p in (str(root), base.get("PYTHONPATH")) if p)
        self.env = base
        self.command = [python, "-m", "hng.cli", "serve", "--port", "0", *args]
        self.startup_timeout, self.stop_timeout = startup_timeout, stop_timeout
        self.url: str | None = None
        self.s3_endpoint: str | None = None
        self.returncode: int | None = None
        self._stdout: list[str] = []
        self._stderr: list[str] = []
        self._ready = threading.Event()
        self._process: subprocess.Popen[str] | None = None
        self._readers: list[threading.Thread] = []

    @property
    def stdout(self) -> str:
        return "".join(self._stdout)

    @property
    def stderr(self) -> str:
        return "".join(self._stderr)

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def _read(self, stream: TextIO, sink: list[str], watch: bool) -> None:
        for line in stream:
            sink.append(line)
            if watch and self.url is None and "API at " in line:
                self.url = line.split("API at ", 1)[1].split()[0]
            elif watch and "S3 endpoint: " in line:
                self.s3_endpoint = line.split("S3 endpoint: ", 1)[1].split()[0]
            elif watch and "Ctrl-C" in line:
                self._ready.set()
        self._ready.set()  # the process ended: wake start()

    def start(self) -> str:
        # Security (B603): this Python's hng serve, no shell.
        self._process = subprocess.Popen(  # nosec B603
            self.command,
            cwd=self.cwd,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
            errors="replace",
        )
        for stream, sink, watch in (
            (self._process.stdout, self._stdout, True),
            (self._process.stderr, self._stderr, False),
        ):
            reader = threading.Thread(target=self._read, args=(stream, sink, watch), daemon=True)
            reader.start()
            self._readers.append(reader)
        self._ready.wait(self.startup_timeout)
        if self.url is None or self._process.poll() is not None:
            self.stop()
            raise RuntimeError(
                f"hng serve did not start (exit code {self.returncode}):\n{self.stderr[-4000:]}"
            )
        return self.url

    def stop(self, sig: int = signal.SIGINT) -> int:
        process = self._process
        if process is None:
            return self.returncode if self.returncode is not None else 0
        if process.poll() is None:
            process.send_signal(sig)
            try:
                process.wait(self.stop_timeout)
            except subprocess.TimeoutExpired:
                self._dump_stacks(process)
                process.kill()
                process.wait()
        for reader in self._readers:
            reader.join()
        self.returncode = process.returncode
        return self.returncode

    @staticmethod
    def _dump_stacks(process: subprocess.Popen[str]) -> None:
        """Ask a server that did not stop for its threads' stacks (``hng serve`` prints them on SIGUSR1),
        so that its stderr, which a failing test shows, says where it hung."""
        if not hasattr(signal, "SIGUSR1"):
            return
        with contextlib.suppress(OSError):
            process.send_signal(signal.SIGUSR1)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(STACK_DUMP_SECONDS)  # it does not exit: this only gives it time to write

    def __enter__(self) -> ServeProcess:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
