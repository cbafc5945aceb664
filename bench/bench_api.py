"""API benchmarks (issue 3, section 7): prints figures, asserts nothing.

(a) Warm POST /generate through the Lambda handler in-process, S3 mocked in-process by moto (`mock_aws`):
    number "20261", width 140; per-call latency of `lambda_handler(event, context)` with a real API Gateway
    event, no augmentation and with the `mild` preset, with and without `generatedImage` in the answer.
(b) `hng serve` (a child process, embedded S3) under a small concurrent load on loopback: client threads
    with keep-alive connections; throughput and per-request latency.

Nothing is pinned (the server and the clients share the machine's cores); the machine is printed.

    .venv/bin/python bench/bench_api.py [--quick] [--json]
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from figures import machine, parse_args, summary  # noqa: E402  (bench/ is on sys.path: this script's folder)

from hng.local import (  # noqa: E402  (the checkout first, whatever is installed)
    DEFAULT_HANDLER,
    LocalLambdaContext,
    ServeProcess,
    http_to_event,
    resolve_handler,
)

NUMBER = "20261"
WIDTH = 140
BUCKET = "hng-bench"


def summary_ms(times_ms: list[float]) -> dict[str, float]:
    return summary(times_ms, "ms")


def versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for name in ("aws-lambda-powertools", "boto3", "moto", "numpy", "opencv-python-headless"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "-"
    return out


def clean_aws_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_") and k != "HNG_BUCKET"}
    env["AWS_EC2_METADATA_DISABLED"] = "true"
    return env


def in_process(calls: int, augmented_calls: int) -> dict[str, dict[str, float]]:
    """(a): the handler called directly with API Gateway events; moto's mock_aws stands in for S3."""
    os.environ.clear()
    os.environ.update(clean_aws_env())
    os.environ.update(
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION="us-east-1",
        HNG_BUCKET=BUCKET,
    )
    import boto3
    from moto import mock_aws

    figures = {}
    # The handler's Logger and Metrics write to stdout: keep their lines (and their cost) off the report.
    with open(os.devnull, "w") as devnull, contextlib.redirect_stdout(devnull), mock_aws():
        boto3.client("s3").create_bucket(Bucket=BUCKET)
        handler = resolve_handler(DEFAULT_HANDLER, ROOT)
        cases = {
            "plain": ({"augment": False}, calls),
            "plain_no_image": ({"augment": False, "includeImage": False}, calls),
            "mild": ({"augment": True, "preset": "mild"}, augmented_calls),
            "mild_no_image": ({"augment": True, "preset": "mild", "includeImage": False}, augmented_calls),
        }
        for name, (fields, count) in cases.items():
            events = [
                http_to_event(
                    "POST",
                    "/generate",
                    {"Content-Type": "application/json", "Host": "localhost"},
                    json.dumps({"number": NUMBER, "image_width": WIDTH, "seed": i, **fields}).encode(),
                )
                for i in range(count + 20)
            ]
            times = []
            for i, event in enumerate(events):
                context = LocalLambdaContext(f"bench-{name}-{i}")
                start = time.perf_counter_ns()
                response = handler(event, context)
                elapsed = (time.perf_counter_ns() - start) / 1e6
                if response["statusCode"] != 200:
                    raise RuntimeError(f"{name}: {response['statusCode']} {response['body'][:300]}")
                if i >= 20:  # the first calls warm caches (albumentations presets, boto3 clients)
                    times.append(elapsed)
            figures[name] = summary_ms(times)
    return figures


def load(url: str, method: str, path: str, body: bytes | None, threads: int, per_thread: int) -> dict:
    """(b): `threads` clients, each with one keep-alive connection, `per_thread` requests each."""
    parts = urlsplit(url)
    headers = {"Content-Type": "application/json"} if body is not None else {}
    latencies: list[float] = []
    failures: list[int] = []
    lock = threading.Lock()
    start_gate = threading.Barrier(threads + 1)

    def client() -> None:
        connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=120)
        mine, bad = [], []
        try:
            start_gate.wait()
            for _ in range(per_thread):
                start = time.perf_counter_ns()
                connection.request(method, path, body=body, headers=headers)
                response = connection.getresponse()
                response.read()
                mine.append((time.perf_counter_ns() - start) / 1e6)
                if response.status != 200:
                    bad.append(response.status)
        finally:
            connection.close()
            with lock:
                latencies.extend(mine)
                failures.extend(bad)

    workers = [threading.Thread(target=client) for _ in range(threads)]
    for worker in workers:
        worker.start()
    start_gate.wait()
    started = time.perf_counter()
    for worker in workers:
        worker.join()
    wall = time.perf_counter() - started
    return {
        **summary_ms(latencies),
        "requests_per_s": len(latencies) / wall,
        "threads": threads,
        "requests": len(latencies),
        "non_200": len(failures),
    }


def served(threads: int, per_thread: int) -> dict[str, dict]:
    generate = json.dumps({"number": NUMBER, "image_width": WIDTH, "includeImage": False}).encode()
    with ServeProcess(env=clean_aws_env()) as proc:
        load(proc.url, "POST", "/generate", generate, 2, 20)  # warm-up
        return {
            "serve_generate_1": load(proc.url, "POST", "/generate", generate, 1, per_thread),
            "serve_generate": load(proc.url, "POST", "/generate", generate, threads, per_thread),
            "serve_health": load(proc.url, "GET", "/health", None, threads, per_thread),
        }


def main() -> None:
    args = parse_args(__doc__)
    scale = 10 if args.quick else 1

    figures: dict[str, dict] = {}
    figures.update(served(threads=4, per_thread=200 // scale))
    figures.update(in_process(calls=1000 // scale, augmented_calls=1000 // scale))
    figures["machine"] = {"description": machine(), **versions()}

    if args.json:
        print(json.dumps(figures, indent=2))
        return

    print(f"hng API on {figures['machine']['description']}; nothing pinned")
    print(", ".join(f"{k} {v}" for k, v in figures["machine"].items() if k != "description"))
    print(f"POST /generate, number {NUMBER!r}, width {WIDTH}\n")
    print("(a) lambda_handler in-process, S3 mocked by moto (mock_aws), warm; per-call latency")
    print(f"{'':52}{'median':>10}{'p99':>10}{'calls':>8}")
    labels = {
        "plain": "no augmentation (answer with generatedImage)",
        "plain_no_image": 'no augmentation, "includeImage": false',
        "mild": "mild preset (answer with generatedImage)",
        "mild_no_image": 'mild preset, "includeImage": false',
    }
    for key, label in labels.items():
        row = figures[key]
        print(f"{label:52}{row['median_ms']:>7.2f} ms{row['p99_ms']:>7.2f} ms{row['calls']:>8}")
    print("\n(b) hng serve (child process, embedded moto S3) on loopback, keep-alive clients")
    print(f"{'':52}{'req/s':>10}{'median':>10}{'p99':>10}{'requests':>10}")
    for key, label in (
        ("serve_generate_1", 'POST /generate ("includeImage": false)'),
        ("serve_generate", 'POST /generate ("includeImage": false)'),
        ("serve_health", "GET /health"),
    ):
        row = figures[key]
        label = f"{label}, {row['threads']} client{'s' if row['threads'] > 1 else ''}"
        print(
            f"{label:52}{row['requests_per_s']:>10.0f}{row['median_ms']:>7.2f} ms{row['p99_ms']:>7.2f} ms"
            f"{row['requests']:>10}" + (f"  ({row['non_200']} not 200!)" if row["non_200"] else "")
        )


if __name__ == "__main__":
    main()
