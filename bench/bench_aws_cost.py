"""What a dataset job costs on AWS, from shard times measured here: prints figures, asserts nothing.

Measured on this machine, the way the Step Functions shard worker runs a shard:

- one shard of 10,000 images (random 5-digit numbers, width 140, seed 1), made by
  ``hng.datasets.engine.run_shard(plan, output, generator, k, staging)`` into a local folder (a
  ``LocalOutput``: the same making, writing, hashing and record as on S3, without the upload), in this
  one process with OpenCV on one thread (a 2048 MB Lambda has about 1.2 vCPU): plain npz, plain
  webdataset, mild npz and mild webdataset, and the README's job (mild webdataset, 3- to 8-digit
  numbers at the default width 224); the median of 3 shards each (k = 0, 1, 2), after a warm-up that
  builds the column bank or the preset, so the figures are warm shard times; wall and CPU time (the
  machine is shared: the model takes the CPU time, ``--shard-time wall`` the other);
- the worker's cold start: a fresh interpreter that imports the worker's handler module
  ``functions.datasets.worker`` (powertools, the X-Ray SDK, hng; it loads the MNIST data and makes the
  Generator at import), makes its S3 client, and builds the column bank (plain) or imports
  albumentations and builds the preset (mild), as its first shard does; median of 3;
- the finalizer: ``finalize_dataset`` over 10 and 100 plain npz shards of 10,000 images in a fresh
  interpreter that imported ``functions.datasets.finalizer``, with an empty classifier cache (a new
  Lambda's /tmp is empty: the fidelity classifier is fitted each time), and once more with the cache
  warm; 1,000 shards are extrapolated from the two.

Then a cost and wall-time model for 10^6 and 10^7 images (100 and 1,000 shards) with every assumption
printed: Lambda GB-seconds and requests, Step Functions state transitions, S3 requests and storage,
and the wall time at MaxConcurrency 100 and 1,000. Prices are us-east-1 list prices (2024).

    .venv/bin/python bench/bench_aws_cost.py [--quick] [--json FILE] [--out-dir DIR] [--setup-workers J]
                                             [--shard-time cpu|wall] [--cpu-factor F] [--memory-mb M]
                                             [--lambda-init-s S] [--upload-mb-per-s R] [--s3-request-ms L]

--quick: one shard each, and the finalizer over 10 and 20 shards (about 1.5 minutes); the full run
takes about 3.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from figures import machine  # noqa: E402  (bench/ is on sys.path: this script's folder)

import hng  # noqa: E402  (the checkout first, whatever is installed)

DIGITS = 5
WIDTH = 140
SEED = 1
SHARD_SIZE = 10_000
MODEL_IMAGES = (1_000_000, 10_000_000)
CONCURRENCIES = (100, 1_000)
# (label, format, preset, other spec fields): what is measured and modelled. The last is the README's
# curl job: 3- to 8-digit numbers at the default width (28 × 8 = 224).
SERIES: tuple[tuple[str, str, str, dict[str, Any]], ...] = (
    ("plain npz", "npz", "none", {}),
    ("plain webdataset", "webdataset", "none", {}),
    ("mild npz", "npz", "mild", {}),
    ("mild webdataset", "webdataset", "mild", {}),
    ("mild wds 3-8 digits, w224", "webdataset", "mild", {"digits": (3, 8), "image_width": None}),
)
# hng.datasets.output.S3Output.publish uploads in one PutObject up to 64 MiB, in 64 MiB parts above
# (boto3's own default would be 8 MiB).
MULTIPART_BYTES = 64 * 2**20


@dataclass(frozen=True)
class Assumptions:
    """Everything the model takes that is not measured here."""

    memory_mb: int = 2048  # WorkerMemorySize (and FinalizerMemorySize), the template's defaults
    # Seconds on a Lambda x86 core per second on this machine's core: MUST BE MEASURED.
    cpu_factor: float = 1.0
    # Lambda's own start of the 450 MB container image, before Python runs: NOT MEASURED.
    lambda_init_s: float = 1.0
    upload_mb_per_s: float = 50.0  # one PutObject from a Lambda to S3 in its region: NOT MEASURED
    s3_request_ms: float = 20.0  # latency of a small S3 request in-region: NOT MEASURED
    lambda_gb_s_usd: float = 0.0000166667  # x86, us-east-1, 2024 list price
    lambda_request_usd: float = 0.20 / 1e6
    transition_usd: float = 0.025 / 1000  # Step Functions Standard
    parent_transitions: int = 5  # MakeShards (Map), Finalize, and the execution's start/end, rounded up
    child_transitions: int = 3  # per child execution (one per shard): start, MakeShard, end
    s3_put_usd: float = 0.005 / 1000  # PUT, COPY, POST, LIST (UploadPart counts as a PUT)
    s3_get_usd: float = 0.0004 / 1000  # GET, HEAD
    s3_gb_month_usd: float = 0.023  # S3 Standard, first 50 TB
    egress_gb_usd: float = 0.09  # data transfer out to the internet (first 10 TB a month)
    worker_gets: int = 2  # plan.json, the shard's record (absent on a first run; a HEAD more if found)
    api_puts: int = 3  # POST /datasets: plan.json, items.json, job.json
    finalizer_puts: int = 3  # manifest.json, README.md, contact_sheet.png
    finalizer_gets_per_shard: int = 2  # GET its record, HEAD the shard
    finalizer_fixed_gets: int = 7  # plan.json twice, 4 sample shards, items.json (the ItemReader)
    keys_per_list: int = 1_000  # the finalizer lists the records: one LIST per 1,000
    default_account_concurrency: int = 1_000
    api_reserved_concurrency: int = 50  # the template's ReservedConcurrency for the API function


# --- measuring -------------------------------------------------------------------------------------------


def machine_busy_seconds() -> float:
    """CPU time every process of the machine took so far (/proc/stat), to see what others took."""
    try:
        fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    except OSError:
        return float("nan")
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(v) for v in fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def shard_times(
    base: Path, series: tuple[str, str, str, dict[str, Any]], repeats: int, generator: Any, sha: str
) -> dict[str, Any]:
    """Shards k = 0..repeats-1 of a 10^6-image plan, each made by run_shard into a local folder."""
    from hng.datasets.engine import run_shard
    from hng.datasets.output import open_output
    from hng.datasets.plan import Plan
    from hng.datasets.spec import DatasetSpec

    _, fmt, preset, other = series
    fields = {"digits": DIGITS, "image_width": WIDTH, **other}
    spec = DatasetSpec.build(
        count=MODEL_IMAGES[0], shard_size=SHARD_SIZE, preset=preset, format=fmt, seed=SEED, **fields
    )
    plan = Plan(spec=spec, mnist_sha256=sha)
    folder = Path(tempfile.mkdtemp(prefix=f"{fmt}-{preset}-", dir=base))
    output = open_output(folder)
    output.check_writable()
    # Warm-up: the column bank (plain) or albumentations and the preset (mild), paid once per container.
    generator.generate_batch(
        ["12345"] * 8, image_width=WIDTH, seed=0, augment=None if preset == "none" else preset
    )
    if preset == "none":
        _ = generator.data.split(spec.split).column_bank
    runs = []
    cores = os.cpu_count() or 1
    with output.staging() as staging:
        for k in range(repeats):
            busy0, cpu0, wall0 = machine_busy_seconds(), time.process_time(), time.perf_counter()
            record = run_shard(plan, output, generator, k, staging)
            wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
            others = (machine_busy_seconds() - busy0 - cpu) / (wall * cores)
            record_bytes = (folder / plan.record_name(k)).stat().st_size
            runs.append(
                {
                    "shard": k,
                    "wall_s": wall,
                    "cpu_s": cpu,
                    "record_seconds": record["seconds"],
                    "bytes": record["bytes"],
                    "files": record["files"],
                    "record_bytes": record_bytes,
                    "others": max(0.0, others),
                }
            )
            output.delete(plan.shard_name(k))
    shutil.rmtree(folder, ignore_errors=True)
    return {
        "spec": spec.to_json(),
        "runs": runs,
        "median_s": statistics.median(r["wall_s"] for r in runs),
        "median_cpu_s": statistics.median(r["cpu_s"] for r in runs),
        "bytes": statistics.median(r["bytes"] for r in runs),
        "record_bytes": statistics.median(r["record_bytes"] for r in runs),
        "others_max": max(r["others"] for r in runs),
    }


# The worker Lambda's init, in a fresh interpreter: its handler module (which imports powertools and the
# X-Ray SDK, loads the MNIST data and makes the Generator at import), its S3 client, and what the first
# shard builds once (the column bank, or albumentations and the preset).
COLD_CODE = r"""
import json, sys, time
c0, t0 = time.process_time(), time.perf_counter()
import hng
t1 = time.perf_counter()
import hng.handlers.dataset_worker as worker
t2 = time.perf_counter()
import boto3
from botocore.config import Config
boto3.client("s3", region_name="us-east-1", config=Config(retries={"max_attempts": 10, "mode": "adaptive"}))
t3 = time.perf_counter()
if sys.argv[1] == "none":
    _ = worker.generator.data.split("train").column_bank
else:
    worker.generator.generate_batch(["12345"], image_width=140, seed=0, augment=sys.argv[1])
t4 = time.perf_counter()
print(json.dumps({"import_hng_s": t1 - t0, "handler_module_s": t2 - t1,
                  "boto3_client_s": t3 - t2, "column_bank_or_preset_s": t4 - t3, "ready_s": t4 - t0,
                  "ready_cpu_s": time.process_time() - c0}))
"""


def run_python(code: str, *args: str, env: dict[str, str] | None = None) -> tuple[dict[str, Any], float]:
    """Run ``code`` in a fresh interpreter; its JSON line, and the wall time of the whole process."""
    started = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "NO_ALBUMENTATIONS_UPDATE": "1", **(env or {})},
        timeout=1800,
    )
    wall = time.perf_counter() - started
    if out.returncode != 0:
        raise RuntimeError(f"the child interpreter failed (exit {out.returncode}):\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1]), wall


def cold_start(preset: str, repeats: int) -> dict[str, Any]:
    """A fresh worker: the interpreter's start (a ``python -c`` that only prints) plus everything before
    its first shard."""
    bare = statistics.median(run_python("print('{}')")[1] for _ in range(repeats))
    runs = [run_python(COLD_CODE, preset)[0] for _ in range(repeats)]
    parts = {key: statistics.median(r[key] for r in runs) for key in runs[0]}
    return {
        "python_start_s": bare,
        **parts,
        "total_s": bare + parts["ready_s"],
        "total_cpu_s": bare + parts["ready_cpu_s"],
        "runs": repeats,
    }


# The finalizer Lambda: its handler module (powertools, X-Ray SDK, the MNIST data), then finalize_dataset.
# verify="size": on S3 the handler's "checksum" is one HEAD per shard (the sha256 is the object's
# metadata); locally "checksum" would hash every file, which S3 does not.
FINALIZE_CODE = r"""
import json, sys, time
c0, t0 = time.process_time(), time.perf_counter()
import hng.handlers.dataset_finalizer as finalizer
from hng.datasets.finalize import finalize_dataset
c1, t1 = time.process_time(), time.perf_counter()
manifest = finalize_dataset(sys.argv[1], data=finalizer.data, verify="size")
c2, t2 = time.process_time(), time.perf_counter()
print(json.dumps({"start_s": t1 - t0, "finalize_s": t2 - t1,
                  "start_cpu_s": c1 - c0, "finalize_cpu_s": c2 - c1,
                  "shards": len(manifest["shards"])}))
"""


def finalize_times(base: Path, shard_counts: tuple[int, ...], workers: int) -> dict[str, Any]:
    """finalize_dataset over plain npz datasets of ``shard_counts`` shards, cold (empty cache) and warm."""
    out: dict[str, Any] = {"verify": "size", "setup_workers": workers, "by_shards": {}}
    for shards in shard_counts:
        folder = base / f"finalize-{shards}"
        spec = {
            "count": shards * SHARD_SIZE,
            "shardSize": SHARD_SIZE,
            "digits": DIGITS,
            "image_width": WIDTH,
            "seed": SEED,
        }
        print(f"  making {shards} plain npz shards to finalize ...", file=sys.stderr, flush=True)
        made0 = time.perf_counter()
        hng.make_dataset(spec, folder, workers=workers, progress=False, finalize=False)
        made = time.perf_counter() - made0
        cache = Path(tempfile.mkdtemp(prefix="hng-cache-", dir=base))
        cold, cold_wall = run_python(FINALIZE_CODE, str(folder), env={"HNG_CACHE_DIR": str(cache)})
        warm, warm_wall = run_python(FINALIZE_CODE, str(folder), env={"HNG_CACHE_DIR": str(cache)})
        if cold["shards"] != shards:
            raise RuntimeError(f"finalize listed {cold['shards']} shards, expected {shards}")
        out["by_shards"][str(shards)] = {
            "make_s": made,
            "cold": {**cold, "process_s": cold_wall},
            "warm": {**warm, "process_s": warm_wall},
        }
        shutil.rmtree(folder, ignore_errors=True)
        shutil.rmtree(cache, ignore_errors=True)
    # finalize_dataset's time = fixed + per shard × shards (records read, shards checked, digests counted).
    for suffix in ("s", "cpu_s"):
        (n0, f0), (n1, f1) = (
            (n, out["by_shards"][str(n)]["cold"][f"finalize_{suffix}"]) for n in shard_counts[:2]
        )
        per_shard = max(0.0, (f1 - f0) / (n1 - n0))
        out[f"per_shard_{suffix}"] = per_shard
        out[f"fixed_{suffix}"] = max(0.0, f0 - per_shard * n0)
        out[f"start_{suffix}"] = statistics.median(
            f["cold"][f"start_{suffix}"] for f in out["by_shards"].values()
        )
    return out


# --- the model ----------------------------------------------------------------------------------------


def put_requests(size: float) -> int:
    """Requests one upload takes: one PutObject, or CreateMultipartUpload + parts + Complete."""
    if size <= MULTIPART_BYTES:
        return 1
    return math.ceil(size / MULTIPART_BYTES) + 2


def finalizer_seconds(
    shards: int, shard_bytes: float, fin: dict[str, Any], python_start: float, a: Assumptions, basis: str
) -> dict[str, float]:
    """One finalizer invocation: its start, finalize_dataset, and the S3 round trips it makes in sequence
    (a GET and a HEAD per shard, and the download of the SAMPLE_SHARDS shards its sample comes from)."""
    from hng.datasets.finalize import SAMPLE_SHARDS

    suffix = "cpu_s" if basis == "cpu" else "s"
    start = (python_start + fin[f"start_{suffix}"]) * a.cpu_factor + a.lambda_init_s
    compute = (fin[f"fixed_{suffix}"] + fin[f"per_shard_{suffix}"] * shards) * a.cpu_factor
    requests = shards * a.finalizer_gets_per_shard + a.finalizer_fixed_gets + a.finalizer_puts
    downloads = min(SAMPLE_SHARDS, shards) * shard_bytes / (a.upload_mb_per_s * 1e6)
    s3 = requests * a.s3_request_ms / 1e3 + downloads
    return {"start_s": start, "finalize_s": compute, "s3_s": s3, "total_s": start + compute + s3}


def model(
    series: dict[str, Any], cold: dict[str, Any], fin: dict[str, Any], a: Assumptions, basis: str = "cpu"
) -> list[dict[str, Any]]:
    """The cost and wall time of each series at each size; ``basis``: model a shard by its CPU time (a
    core of its own, as on Lambda; the default, since this machine is shared) or its wall time here."""
    rows = []
    for label, _, preset, _ in SERIES:
        s = series[label]
        shard_s = s["median_cpu_s" if basis == "cpu" else "median_s"]
        size = s["bytes"]
        cold_s = cold[preset]["total_cpu_s" if basis == "cpu" else "total_s"] * a.cpu_factor + a.lambda_init_s
        worker_puts = put_requests(size) + 1  # the shard (or its parts), then its record
        upload_s = size / (a.upload_mb_per_s * 1e6) + (worker_puts + a.worker_gets) * a.s3_request_ms / 1e3
        warm_s = shard_s * a.cpu_factor + upload_s  # one shard in a warm container
        bytes_per_image = (size + s["record_bytes"]) / SHARD_SIZE
        for images in MODEL_IMAGES:
            shards = images // SHARD_SIZE
            f = finalizer_seconds(shards, size, fin, cold["none"]["python_start_s"], a, basis)
            gb = a.memory_mb / 1024
            gb_s_all_cold = shards * (warm_s + cold_s) * gb + f["total_s"] * gb
            requests = shards + 1
            lambda_usd = gb_s_all_cold * a.lambda_gb_s_usd + requests * a.lambda_request_usd
            transitions = a.parent_transitions + shards * a.child_transitions
            sfn_usd = transitions * a.transition_usd
            lists = math.ceil(shards / a.keys_per_list)
            puts = shards * worker_puts + a.api_puts + a.finalizer_puts + lists
            gets = shards * (a.worker_gets + a.finalizer_gets_per_shard) + a.finalizer_fixed_gets
            s3_requests_usd = puts * a.s3_put_usd + gets * a.s3_get_usd
            stored_gb = images * bytes_per_image / 1e9
            walls = {}
            for concurrency in CONCURRENCIES:
                waves = math.ceil(shards / concurrency)
                walls[str(concurrency)] = {
                    "waves": waves,
                    "all_cold_s": waves * (warm_s + cold_s) + f["total_s"],
                    # Containers are reused between waves: only the first wave starts cold.
                    "reused_s": waves * warm_s + cold_s + f["total_s"],
                }
            gb_s_reused = {
                str(c): (shards * warm_s + min(shards, c) * cold_s + f["total_s"]) * gb for c in CONCURRENCIES
            }
            rows.append(
                {
                    "series": label,
                    "images": images,
                    "shards": shards,
                    "shard_s": shard_s,
                    "shard_time_basis": basis,
                    "worker_warm_s": warm_s,
                    "worker_cold_s": cold_s,
                    "upload_s": upload_s,
                    "shard_bytes": size,
                    "worker_puts": worker_puts,
                    "finalizer": f,
                    "lambda_gb_s": gb_s_all_cold,
                    "lambda_gb_s_with_reuse": gb_s_reused,
                    "lambda_requests": requests,
                    "lambda_usd": lambda_usd,
                    "transitions": transitions,
                    "sfn_usd": sfn_usd,
                    "s3_puts": puts,
                    "s3_gets": gets,
                    "s3_requests_usd": s3_requests_usd,
                    "stored_gb": stored_gb,
                    "storage_usd_month": stored_gb * a.s3_gb_month_usd,
                    "egress_usd": stored_gb * a.egress_gb_usd,
                    "job_usd": lambda_usd + sfn_usd + s3_requests_usd,
                    "wall": walls,
                }
            )
    return rows


# --- printing ---------------------------------------------------------------------------------------------


def fmt_s(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.1f} s"
    return f"{seconds / 60:.1f} min"


def usd(value: float) -> str:
    return f"${value:,.2f}" if value >= 0.1 else f"${value:,.3f}"


def print_measured(figures: dict[str, Any]) -> None:
    m = figures["machine"]
    print(
        f"hng {m['hng']} on {m['description']}\n"
        f"shards of {SHARD_SIZE:,} images, {DIGITS}-digit numbers, width {WIDTH}, seed {SEED}; run_shard "
        f"into a local folder, one process, OpenCV on one thread; warm medians of {figures['repeats']}\n"
    )
    header = f"{'shard (10,000 images)':27}{'wall':>9}{'CPU':>9}{'images/s':>10}{'shard MB':>10}"
    print(f"{header}{'record KB':>10}   others")
    for label, *_ in SERIES:
        s = figures["shards"][label]
        print(
            f"{label:27}{s['median_s']:>8.2f}s{s['median_cpu_s']:>8.2f}s"
            f"{SHARD_SIZE / s['median_cpu_s']:>10,.0f}"
            f"{s['bytes'] / 1e6:>10.1f}{s['record_bytes'] / 1e3:>10.0f}   up to {s['others_max']:.0%}"
        )
    print(
        "  images/s: per CPU second; others: the most CPU other processes took during a shard, as a share\n"
        "  of the machine (the wall time is longer by about that much)\n"
    )
    runs = figures["cold"]["none"]["runs"]
    print(
        f"{'worker cold start':15}{'wall':>9}{'CPU':>9}   wall parts (medians of {runs} fresh interpreters)"
    )
    for preset, name in (("none", "plain"), ("mild", "mild")):
        c = figures["cold"][preset]
        last = "column bank" if preset == "none" else "albumentations + preset"
        print(
            f"{name:15}{c['total_s']:>8.2f}s{c['total_cpu_s']:>8.2f}s   "
            f"python {c['python_start_s']:.2f} + import hng "
            f"{c['import_hng_s']:.2f} + the handler module\n{'':36}(powertools, X-Ray SDK, data, Generator) "
            f"{c['handler_module_s']:.2f} + S3 client "
            f"{c['boto3_client_s']:.2f} + {last} {c['column_bank_or_preset_s']:.2f}"
        )
    print("  (a fresh interpreter that imports functions.datasets.worker, as the worker Lambda's init does)")
    fin = figures["finalize"]
    print(
        f"\n{'finalize_dataset (plain npz)':29}{'cold':>9}{'cold CPU':>10}{'warm':>9}"
        "   + start (the handler module: wall, CPU)"
    )
    for shards, f in fin["by_shards"].items():
        print(
            f"{shards + ' shards':29}{f['cold']['finalize_s']:>8.2f}s{f['cold']['finalize_cpu_s']:>9.2f}s"
            f"{f['warm']['finalize_s']:>8.2f}s"
            f"   + {f['cold']['start_s']:.2f} s, {f['cold']['start_cpu_s']:.2f} s"
        )
    suffix = "cpu_s" if figures["shard_time_basis"] == "cpu" else "s"
    fixed, per_shard = fin[f"fixed_{suffix}"], fin[f"per_shard_{suffix}"]
    print(
        "  a fresh interpreter each; cold: an empty classifier cache (it is fitted), as in a new Lambda;\n"
        f"  fitted line ({'CPU' if suffix == 'cpu_s' else 'wall'}): {fixed:.2f} s + "
        f"{per_shard * 1e3:.1f} ms a "
        f"shard, so 1,000 shards ≈ {fixed + 1000 * per_shard:.1f} s (extrapolated); verify='size' (on S3\n"
        "  the check is a HEAD per shard, counted below as requests)"
    )


def print_assumptions(a: Assumptions, basis: str) -> None:
    print(
        "\nassumptions (us-east-1, 2024 list prices; change them with the options):\n"
        "- the seconds of a shard, a cold start and finalize_dataset: their "
        f"{'CPU' if basis == 'cpu' else 'wall'} time here (medians\n  above; --shard-time "
        f"{'wall' if basis == 'cpu' else 'cpu'} for the other)\n"
        f"- Lambda x86, {a.memory_mb} MB (WorkerMemorySize and FinalizerMemorySize defaults: about 1.2\n"
        f"  vCPU; a shard uses one core), ${a.lambda_gb_s_usd:.10f} per GB-s, "
        f"${a.lambda_request_usd * 1e6:.2f} per 1M requests;\n"
        "  a container image's init phase is billed like its handler, so each cold start is paid\n"
        f"- CPU factor {a.cpu_factor}: a Lambda x86 core is assumed as fast as this 2.5 GHz Xeon core;\n"
        "  MUST BE MEASURED on Lambda (the Duration of one shard's REPORT line)\n"
        f"- Lambda's own init of the 450 MB image before Python starts: {a.lambda_init_s} s, assumed; every\n"
        "  shard is costed cold (an upper bound: containers are reused between waves)\n"
        f"- transfers between Lambda and S3: {a.upload_mb_per_s:.0f} MB/s, {a.s3_request_ms:.0f} ms per "
        "small request\n  (assumed; the worker's and the finalizer's requests run one after another)\n"
        f"- Step Functions Standard: ${a.transition_usd * 1e3:.3f} per 1,000 state transitions; "
        f"{a.parent_transitions} for the parent\n  execution + {a.child_transitions} per child execution "
        "(one shard each: start, MakeShard, end); no retries (each retry\n  adds a transition, a Lambda "
        "request and its GB-s)\n"
        f"- S3: ${a.s3_put_usd * 1e3:.3f} per 1,000 PUTs (UploadPart and LIST too), "
        f"${a.s3_get_usd * 1e3:.4f} per 1,000 GETs/HEADs,\n"
        f"  ${a.s3_gb_month_usd} per GB-month; a shard is one PutObject up to 64 MiB (hng's multipart "
        "threshold) + 1 PUT\n"
        f"  for its record; the worker {a.worker_gets} GETs (plan, record), the finalizer "
        f"{a.finalizer_gets_per_shard} a shard (record, HEAD) + {a.finalizer_fixed_gets}\n"
        f"  and a LIST per {a.keys_per_list:,} shards; {a.api_puts} PUTs by POST /datasets, "
        f"{a.finalizer_puts} by the finalizer; polling\n"
        "  GET /datasets/{id} adds a LIST per 1,000 shards per poll\n"
        "- not counted: API Gateway and the API function (a few requests), CloudWatch Logs (a few lines\n"
        "  per invocation), ECR storage of the image, and reading the data out: "
        f"${a.egress_gb_usd}/GB to the internet\n  (free to EC2 in the same region)"
    )


def print_model(rows: list[dict[str, Any]], a: Assumptions) -> None:
    print(
        f"\n{'dataset':31}{'shards':>7}{'GB-s':>9}{'Lambda':>9}{'SFN':>8}{'S3 req':>8}{'job':>8}"
        f"{'stored':>9}{'/month':>9}{'wall@100':>10}{'wall@1000':>10}"
    )
    for r in rows:
        w100, w1000 = r["wall"]["100"], r["wall"]["1000"]
        name = f"{r['series']}, {r['images'] / 1e6:g}M"
        print(
            f"{name:31}{r['shards']:>7,}{r['lambda_gb_s']:>9,.0f}{usd(r['lambda_usd']):>9}"
            f"{usd(r['sfn_usd']):>8}{usd(r['s3_requests_usd']):>8}{usd(r['job_usd']):>8}"
            f"{r['stored_gb']:>7.0f}GB{usd(r['storage_usd_month']):>9}"
            f"{fmt_s(w100['all_cold_s']):>10}{fmt_s(w1000['all_cold_s']):>10}"
        )
    print(
        "  GB-s: every shard cold, worker + finalizer; job: Lambda + Step Functions + S3 requests (once);\n"
        "  /month: S3 storage of shards and records; wall: ceil(shards / MaxConcurrency) waves of (cold\n"
        "  start + shard + upload), then the finalizer. If containers are reused between waves (likely),\n"
        "  only the first wave starts cold:"
    )
    for r in rows:
        if r["shards"] > CONCURRENCIES[0]:
            reused = r["wall"]["100"]["reused_s"]
            gb_s = r["lambda_gb_s_with_reuse"]["100"]
            print(
                f"    {r['series']}, {r['images'] / 1e6:g}M at MaxConcurrency 100: wall {fmt_s(reused)}, "
                f"{gb_s:,.0f} GB-s"
            )
    one, fin = rows[0], rows[1]["finalizer"]
    print(
        f"  a worker, {one['series']}: {one['worker_warm_s']:.2f} s warm (shard {one['shard_s']:.2f} s + "
        f"S3 {one['upload_s']:.2f} s) + {one['worker_cold_s']:.2f} s cold;\n"
        f"  the finalizer at 1,000 shards: {fin['total_s']:.1f} s (start {fin['start_s']:.1f}, "
        f"finalize_dataset {fin['finalize_s']:.1f}, S3 round trips {fin['s3_s']:.1f})"
    )
    print(
        f"  MaxConcurrency 1,000: Lambda's default account quota is {a.default_account_concurrency:,} "
        f"concurrent executions,\n  of which the API function reserves {a.api_reserved_concurrency} "
        f"(ReservedConcurrency): at most {a.default_account_concurrency - a.api_reserved_concurrency:,} "
        "workers run at once and the rest\n  are throttled (Lambda.TooManyRequestsException, retried with "
        "backoff by the Map) unless the quota is\n  raised. A function scales by up to 1,000 concurrent "
        "executions every 10 s, so a first wave of 1,000\n  starts within seconds once the quota allows it."
    )


# --- main -------------------------------------------------------------------------------------------------


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    defaults = Assumptions()
    parser.add_argument("--quick", action="store_true", help="one shard each, finalize over 10 and 20 shards")
    parser.add_argument("--json", metavar="FILE", help="also write every figure to FILE as JSON")
    parser.add_argument("--out-dir", metavar="DIR", help="where the temporary shards go (default: $TMPDIR)")
    parser.add_argument("--setup-workers", type=int, default=1, help="workers making the shards to finalize")
    parser.add_argument(
        "--shard-time",
        choices=("cpu", "wall"),
        default="cpu",
        help="model a shard by its CPU time (default: this machine is shared) or its wall time",
    )
    parser.add_argument("--cpu-factor", type=float, default=defaults.cpu_factor)
    parser.add_argument("--memory-mb", type=int, default=defaults.memory_mb)
    parser.add_argument("--lambda-init-s", type=float, default=defaults.lambda_init_s)
    parser.add_argument("--upload-mb-per-s", type=float, default=defaults.upload_mb_per_s)
    parser.add_argument("--s3-request-ms", type=float, default=defaults.s3_request_ms)
    args = parser.parse_args()
    for name in ("cpu_factor", "memory_mb", "upload_mb_per_s", "setup_workers"):
        if getattr(args, name) <= 0:
            parser.error(f"--{name.replace('_', '-')} must be > 0, got {getattr(args, name)}")
    for name in ("lambda_init_s", "s3_request_ms"):
        if getattr(args, name) < 0:
            parser.error(f"--{name.replace('_', '-')} must be >= 0, got {getattr(args, name)}")
    return args


def main() -> None:
    args = parse_args()
    started = time.perf_counter()
    a = Assumptions(
        memory_mb=args.memory_mb,
        cpu_factor=args.cpu_factor,
        lambda_init_s=args.lambda_init_s,
        upload_mb_per_s=args.upload_mb_per_s,
        s3_request_ms=args.s3_request_ms,
    )
    repeats = 1 if args.quick else 3
    out_dir = Path(args.out_dir) if args.out_dir else Path(tempfile.gettempdir())
    out_dir.mkdir(parents=True, exist_ok=True)
    base = Path(tempfile.mkdtemp(prefix="hng-bench-aws-", dir=out_dir))

    import cv2

    from hng.datasets.engine import mnist_sha256

    cv2.setNumThreads(1)
    figures: dict[str, Any] = {
        "machine": {"description": machine(), "hng": hng.__version__},
        "repeats": repeats,
        "settings": {"digits": DIGITS, "width": WIDTH, "seed": SEED, "shard_size": SHARD_SIZE},
        "assumptions": asdict(a),
    }
    try:
        print("worker cold starts ...", file=sys.stderr, flush=True)
        figures["cold"] = {preset: cold_start(preset, 3) for preset in ("none", "mild")}
        data = hng.load_mnist()
        generator = hng.Generator(data)
        sha = mnist_sha256(data)
        figures["shards"] = {}
        for series in SERIES:
            print(f"shards: {series[0]} ...", file=sys.stderr, flush=True)
            figures["shards"][series[0]] = shard_times(base, series, repeats, generator, sha)
        print("finalizer ...", file=sys.stderr, flush=True)
        figures["finalize"] = finalize_times(base, (10, 20) if args.quick else (10, 100), args.setup_workers)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    figures["shard_time_basis"] = args.shard_time
    figures["model"] = model(figures["shards"], figures["cold"], figures["finalize"], a, args.shard_time)
    figures["seconds"] = time.perf_counter() - started

    print_measured(figures)
    print_assumptions(a, args.shard_time)
    print_model(figures["model"], a)
    print(f"\nwhole benchmark: {figures['seconds']:.0f} s")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2) + "\n")
        print(f"figures written to {args.json}")


if __name__ == "__main__":
    main()
