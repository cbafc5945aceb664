"""Dataset benchmarks (`hng dataset` / `hng.make_dataset`): prints figures, asserts nothing.

Every figure is end to end through ``hng.make_dataset(spec, out, workers=2, progress=False)``
(generation + writing + finalize) unless its row says otherwise: random 5-digit numbers, width 140,
seed 1, outputs in a temporary folder on local disk, each dataset deleted as soon as it is measured.
Shards hold 10,000 images (the default); the shards left over once every worker has one are made in
parts by all the workers, as in any run. The process is warm (data loaded, column bank
built); what a fresh process pays once more is measured apart ("cold extra").

- plain npz, N = 100,000 (the headline): images/s end to end, of the shard-making phase alone
  (``run.images_per_second``), and the finalize time, both as make_dataset runs it (wall time minus
  ``run.seconds``: it does not load the shards, but hashes each again) and as ``finalize_dataset(out)``
  on its own after ``make_dataset(..., finalize=False)`` (which also loads every shard; not with --quick);
- plain webdataset and imagefolder, N = 100,000 (20,000 with --quick);
- mild and strong npz, N = 20,000 (10,000 with --quick);
- every format (with masks wherever the format holds or uses them, and yolo both as detect and segment),
  plain, N = 100,000 (20,000 with --quick), one run each: images/s end to end and bytes per image;
- memory, plain npz at N = 10^4, 10^5 (the headline runs) and 10^6 (not with --quick): each worker's
  peak RSS (VmHWM), how much it rose from the worker's first sample and after the first quarter of its
  life, and its peak private memory (USS: Private_Clean + Private_Dirty of smaps_rollup; forked workers
  share the MNIST pages with the parent, and RSS counts those), sampled every 50 ms from /proc by a
  thread; and the parent's peak RSS (VmHWM, reset before each run through /proc/self/clear_refs);
- start-up: the time to the first shard (``first_shard_seconds``) and its share of the total at 10^5;
- one core (pinned, OpenCV single-threaded) for comparison: ``hng.generate`` one call at a time and
  ``generate_batch`` of 10,000, next to the old Flask package's quoted figure;
- with --profile: cProfile of one npz and one webdataset shard and of finalize (top costs).

Each measurement runs 3 times (the median counts) unless its first run took over 40 s (then once, to
keep the whole benchmark near 10 minutes), and once with --quick or for N = 10^6. Other processes busy
on the machine skew the figures: each run records the CPU time they took during it ("others").

    .venv/bin/python bench/bench_dataset.py [--quick] [--json FILE] [--workers N] [--out-dir DIR]
                                            [--repeats R] [--profile]
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import json
import os
import platform
import pstats
import resource
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from figures import machine  # noqa: E402  (bench/ is on sys.path: this script's folder)

import hng  # noqa: E402  (the checkout first, whatever is installed)

DIGITS = 5
WIDTH = 140
SEED = 1
SHARD_SIZE = 10_000  # the default at every count: the engine keeps every worker busy itself
SLOW_RUN_SECONDS = 40.0  # a first run slower than this is not repeated
SAMPLE_INTERVAL = 0.05
# Disk per image, generously (npz 28 x 140 is 3.9 KB; a PNG file takes a 4 KB block): runs that would
# leave less than this much free twice over are skipped.
BYTES_PER_IMAGE = 6_000
# The old Flask package's pipeline on one core of the reference machine (AMD EPYC), and hng's one-call
# plain image there (README, Performance): quoted, not measured here.
OLD_PACKAGE_IMAGES_PER_S = 1_100
README_PLAIN_CALL_US = 30.0


# --- the machine and its load -------------------------------------------------------------------------


def versions() -> dict[str, str]:
    import cv2
    import numpy as np

    return {
        "description": machine(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "opencv": cv2.__version__,
        "hng": hng.__version__,
        "cores": str(os.cpu_count()),
    }


def our_cpu_seconds() -> float:
    """CPU time of this process and of its children that have been waited for (the pool's workers)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def machine_busy_seconds() -> float:
    """CPU time all processes of the machine took so far (user, system, interrupts, steal): /proc/stat."""
    try:
        fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    except OSError:
        return float("nan")
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(v) for v in fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


# --- memory ---------------------------------------------------------------------------------------------


def _status_kb(pid: int | str, keys: tuple[str, ...]) -> dict[str, int]:
    found = {}
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            key = line.split(":", 1)[0]
            if key in keys:
                found[key] = int(line.split()[1])
    return found


def _rollup_kb(pid: int | str) -> dict[str, int]:
    found = {}
    with open(f"/proc/{pid}/smaps_rollup") as fh:
        for line in fh:
            parts = line.split()
            if len(parts) == 3 and parts[2] == "kB":
                found[parts[0].rstrip(":")] = int(parts[1])
    return found


def reset_peak_rss() -> bool:
    """Reset this process's VmHWM to its current RSS (Linux 4.0+); False if the kernel refuses."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


class MemorySampler:
    """Samples this process and its children (the pool's workers) every ``interval`` seconds.

    Per child: the kernel's peak RSS (VmHWM: exact whenever it is read) and, as sampled, its RSS, USS
    (private pages) and PSS; a peak of USS shorter than the interval can be missed. The parent's peak is
    its VmHWM, reset when sampling starts. Children are found in /proc (psutil is not installed) by
    their parent pid: among pids above this one's every sample, among all every 20th.
    """

    def __init__(self, interval: float = SAMPLE_INTERVAL, pid: int | None = None) -> None:
        self.interval = interval
        self.pid = os.getpid() if pid is None else pid  # another process: a CLI run and its workers
        self.children: dict[int, list[tuple[float, int, int, int, int]]] = {}  # t, rss, hwm, uss, pss (kB)
        self.parent_rss_sampled_kb = 0
        self.parent_hwm_kb: int | None = None
        self.hwm_reset = False
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bench-memory-sampler", daemon=True)

    def __enter__(self) -> MemorySampler:
        self.hwm_reset = self.pid == os.getpid() and reset_peak_rss()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        with contextlib.suppress(OSError):
            self.parent_hwm_kb = _status_kb(self.pid, ("VmHWM",)).get("VmHWM")

    def _run(self) -> None:
        tick = 0
        while True:
            self._discover(everything=tick % 20 == 0)
            self._sample()
            tick += 1
            if self._stop.wait(self.interval):
                return

    def _discover(self, *, everything: bool) -> None:
        for entry in os.listdir("/proc"):
            if not entry.isdigit() or int(entry) in self.children:
                continue
            if not everything and int(entry) < self.pid:
                continue
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            # "pid (comm) state ppid ...": comm may hold spaces and parentheses, so split after the last ")".
            if int(stat.rsplit(")", 1)[1].split()[1]) == self.pid:
                self.children[int(entry)] = []

    def _sample(self) -> None:
        self.samples += 1
        now = time.perf_counter()
        with contextlib.suppress(OSError):
            rss = _status_kb(self.pid, ("VmRSS",)).get("VmRSS", 0)
            self.parent_rss_sampled_kb = max(self.parent_rss_sampled_kb, rss)
        for pid, series in self.children.items():
            try:
                status = _status_kb(pid, ("VmRSS", "VmHWM"))
                rollup = _rollup_kb(pid)
            except OSError:  # exited
                continue
            if "VmHWM" not in status:  # a zombie: its memory is gone
                continue
            uss = rollup.get("Private_Clean", 0) + rollup.get("Private_Dirty", 0)
            series.append((now, status["VmRSS"], status["VmHWM"], uss, rollup.get("Pss", 0)))

    @staticmethod
    def _worker(series: list[tuple[float, int, int, int, int]]) -> dict[str, float]:
        """One worker's figures (MB): peaks, growth from its first sample, and whether its peak still rose
        after the first quarter of its life (memory piling up from shard to shard would)."""
        times = [s[0] for s in series]
        quarter = times[0] + 0.25 * (times[-1] - times[0])
        early = [s for s in series if s[0] <= quarter]
        late = [s for s in series if s[0] >= times[-1] - 0.25 * (times[-1] - times[0])]
        mb = 1 / 1024
        return {
            "samples": len(series),
            "seconds": round(times[-1] - times[0], 2),
            "first_rss_mb": round(series[0][1] * mb, 1),
            "peak_rss_mb": round(series[-1][2] * mb, 1),
            "peak_rss_after_first_quarter_mb": round((series[-1][2] - early[-1][2]) * mb, 1),
            "peak_uss_mb": round(max(s[3] for s in series) * mb, 1),
            "uss_median_first_quarter_mb": round(statistics.median(s[3] for s in early) * mb, 1),
            "uss_median_last_quarter_mb": round(statistics.median(s[3] for s in late) * mb, 1),
            "peak_pss_mb": round(max(s[4] for s in series) * mb, 1),
        }

    def figures(self) -> dict[str, Any]:
        workers = [self._worker(series) for series in self.children.values() if series]
        parent_kb = (
            self.parent_hwm_kb if self.hwm_reset and self.parent_hwm_kb else self.parent_rss_sampled_kb
        )
        out: dict[str, Any] = {
            "workers_seen": len(workers),
            "parent_peak_rss_mb": round(parent_kb / 1024, 1),
            "parent_peak_is": "VmHWM" if self.hwm_reset else "sampled VmRSS",
            "samples": self.samples,
        }
        if workers:
            out.update(
                worker_peak_rss_mb=max(w["peak_rss_mb"] for w in workers),
                worker_peak_uss_mb=max(w["peak_uss_mb"] for w in workers),
                worker_peak_pss_mb=max(w["peak_pss_mb"] for w in workers),
                worker_rss_growth_mb=max(w["peak_rss_mb"] - w["first_rss_mb"] for w in workers),
                worker_peak_rise_after_first_quarter_mb=max(
                    w["peak_rss_after_first_quarter_mb"] for w in workers
                ),
                per_worker=workers,
            )
        return out


# --- runs -------------------------------------------------------------------------------------------------


def make_spec(
    count: int, workers: int, fmt: str = "npz", preset: str = "none", **options: Any
) -> dict[str, Any]:
    return {
        "count": count,
        "shard_size": SHARD_SIZE,
        "digits": DIGITS,
        "image_width": WIDTH,
        "seed": SEED,
        "format": fmt,
        "preset": preset,
        **options,
    }


def format_variants() -> list[tuple[str, str, dict[str, Any]]]:
    """(key, name, spec options) of every registered format: with masks where it can hold them."""
    from hng.datasets.formats import FORMATS

    variants = []
    for name, fmt in FORMATS.items():
        if name == "yolo":
            variants.append(("format_yolo_detect", "yolo (detect)", {"format": name}))
            variants.append(
                ("format_yolo_segment", "yolo (segment)", {"format": name, "yolo_task": "segment"})
            )
        elif fmt.holds_masks and not fmt.uses_masks:
            variants.append((f"format_{name}", name, {"format": name}))
            variants.append((f"format_{name}_masks", f"{name} + masks", {"format": name, "masks": True}))
        else:
            variants.append(
                (f"format_{name}", name + (" (masks as RLE)" if fmt.uses_masks else ""), {"format": name})
            )
    return variants


def shard_seconds(out: Path) -> list[float]:
    """Each shard's own time (make + write + checksum + record), from the records beside the shards."""
    from hng.datasets.output import RECORDS

    seconds = []
    for path in sorted((out / RECORDS).glob("*.json")):
        with contextlib.suppress(ValueError, KeyError):
            seconds.append(float(json.loads(path.read_text())["seconds"]))
    return seconds


def disk_bytes(manifest: dict[str, Any]) -> int:
    return sum(int(s["bytes"]) for s in manifest["shards"])


def check_disk(base: Path, count: int) -> str | None:
    free = shutil.disk_usage(base).free
    need = 2 * count * BYTES_PER_IMAGE
    if free < need:
        return f"skipped: {free / 1e9:.1f} GB free in {base}, want {need / 1e9:.1f} GB"
    return None


class Bench:
    def __init__(self, base: Path, workers: int, repeats: int) -> None:
        self.base = base
        self.workers = workers
        self.repeats = repeats
        self.counter = 0

    def folder(self, label: str) -> Path:
        self.counter += 1
        return self.base / f"{self.counter:03d}-{label}"

    def one_run(self, spec: dict[str, Any], *, separate_finalize: bool = False) -> dict[str, Any]:
        """make_dataset once (sampling memory and CPU), then delete the dataset."""
        out = self.folder(f"{spec['format']}-{spec['preset']}-{spec['count']}")
        cpu0, busy0 = our_cpu_seconds(), machine_busy_seconds()
        try:
            with MemorySampler() as sampler:
                started = time.perf_counter()
                if separate_finalize:
                    result = hng.make_dataset(spec, out, workers=self.workers, progress=False, finalize=False)
                    made = time.perf_counter()
                    # The parent's peak so far: the shard phase's, before finalize adds its own.
                    before_finalize_kb = _status_kb("self", ("VmHWM",)).get("VmHWM")
                    manifest = hng.finalize_dataset(out)  # verify="load": hashes and loads every shard
                    wall = time.perf_counter() - started
                    run = result["run"]
                    finalize_s = time.perf_counter() - made
                else:
                    manifest = hng.make_dataset(spec, out, workers=self.workers, progress=False)
                    wall = time.perf_counter() - started
                    run = manifest["run"]
                    finalize_s = wall - run["seconds"]
            memory = sampler.figures()
            if separate_finalize and sampler.hwm_reset and before_finalize_kb:
                memory["parent_peak_rss_before_finalize_mb"] = round(before_finalize_kb / 1024, 1)
            cpu = our_cpu_seconds() - cpu0
            busy = machine_busy_seconds() - busy0
            per_shard = shard_seconds(out)
            size = disk_bytes(manifest)
        finally:
            shutil.rmtree(out, ignore_errors=True)
        count = spec["count"]
        report = manifest["report"]
        return {
            "wall_s": wall,
            "images_per_s": count / wall,
            "run_s": run["seconds"],
            "run_images_per_s": run["images_per_second"],
            "first_shard_s": run["first_shard_seconds"],
            "finalize_s": finalize_s,
            "shards": len(per_shard),
            "shard_s_median": statistics.median(per_shard) if per_shard else None,
            # The first shards are handed out together, one per worker: the quickest of them is the
            # first published, so the rest of first_shard_seconds is start-up.
            "first_shards_min_s": min(per_shard[: self.workers]) if per_shard else None,
            "shard_s_total": sum(per_shard),
            "images_per_worker_s": count / sum(per_shard) if per_shard else None,
            "bytes": size,
            "cpu_s": cpu,
            "other_processes_cpu_s": max(0.0, busy - cpu),
            "other_load": max(0.0, busy - cpu) / (wall * (os.cpu_count() or 1)),
            "fidelity": report.get("fidelity", {}).get("read_as_label"),
            "duplicates": report.get("duplicates"),
            "memory": memory,
        }

    def measure(
        self,
        name: str,
        count: int,
        fmt: str = "npz",
        preset: str = "none",
        *,
        repeats: int | None = None,
        separate_finalize: bool = False,
        options: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Up to ``repeats`` runs (1 if the first took over SLOW_RUN_SECONDS); medians of each figure."""
        spec = make_spec(count, self.workers, fmt, preset, **(options or {}))
        repeats = self.repeats if repeats is None else repeats
        skipped = check_disk(self.base, count)
        if skipped:
            print(f"  {name}: {skipped}", file=sys.stderr)
            return {"name": name, "count": count, "skipped": skipped}
        runs = []
        for _ in range(repeats):
            runs.append(self.one_run(spec, separate_finalize=separate_finalize))
            if runs[0]["wall_s"] > SLOW_RUN_SECONDS:
                break
        keys = [k for k, v in runs[0].items() if isinstance(v, int | float) and v is not None]
        median = {
            k: statistics.median(r[k] for r in runs) for k in keys if all(r[k] is not None for r in runs)
        }
        figures = {
            "name": name,
            "count": count,
            "format": fmt,
            "preset": preset,
            "shard_size": spec["shard_size"],
            "workers": self.workers,
            "runs": len(runs),
            "median": median,
            "all_runs": runs,
        }
        print(
            f"  {name}: {median['images_per_s']:,.0f} images/s end to end "
            f"({len(runs)} run{'s' if len(runs) > 1 else ''}, {median['wall_s']:.1f} s)",
            file=sys.stderr,
            flush=True,
        )
        return figures


# --- one core ---------------------------------------------------------------------------------------------


@contextlib.contextmanager
def one_core() -> Iterator[int]:
    """Pin this process to one CPU and OpenCV to one thread; restore both afterwards (the pool's workers
    inherit the affinity)."""
    import cv2

    saved, threads = os.sched_getaffinity(0), cv2.getNumThreads()
    cpu = min(saved)
    os.sched_setaffinity(0, {cpu})
    cv2.setNumThreads(1)
    try:
        yield cpu
    finally:
        os.sched_setaffinity(0, saved)
        cv2.setNumThreads(threads)


def speed_probe(calls: int = 2_000) -> float:
    """The README's one-call measure ("20261", width 140, pinned): median µs a call. Taken at the start and
    at the end: this VM's speed drifts with its host's load, even when nothing else runs in it."""
    clock = time.perf_counter_ns
    times = []
    with one_core():
        hng.generate("20261", image_width=WIDTH, seed=0)
        for i in range(calls):
            t = clock()
            hng.generate("20261", image_width=WIDTH, seed=i)
            times.append((clock() - t) / 1000)
    return statistics.median(times)


def single_core(calls: int, batch_calls: int, probe_us: float) -> dict[str, Any]:
    import numpy as np

    rng = np.random.default_rng(SEED)
    numbers = [f"{n:05d}" for n in rng.integers(0, 10**DIGITS, max(calls, 10_000))]
    cpu0, busy0 = our_cpu_seconds(), machine_busy_seconds()
    wall0 = time.perf_counter()
    with one_core() as cpu:
        for i in range(200):  # warm: data, caches
            hng.generate(numbers[i], image_width=WIDTH, seed=i)
        clock = time.perf_counter_ns
        times = []
        started = clock()
        for i in range(calls):
            t = clock()
            hng.generate(numbers[i], image_width=WIDTH, seed=i)
            times.append((clock() - t) / 1000)
        total_s = (clock() - started) / 1e9
        batch = numbers[:10_000]
        hng.generate_batch(batch[:8], image_width=WIDTH, seed=0)  # builds the column bank
        batch_times = []
        for i in range(batch_calls):
            t = clock()
            hng.generate_batch(batch, image_width=WIDTH, seed=i)
            batch_times.append((clock() - t) / 1e9)
    wall = time.perf_counter() - wall0
    others = max(0.0, machine_busy_seconds() - busy0 - (our_cpu_seconds() - cpu0))
    median_us = statistics.median(times)
    batch_s = statistics.median(batch_times)
    slowdown = probe_us / README_PLAIN_CALL_US
    return {
        "pinned_cpu": cpu,
        "other_load": others / (wall * (os.cpu_count() or 1)),
        "generate": {
            "calls": calls,
            "median_us": median_us,
            "images_per_s": calls / total_s,
            "images_per_s_from_median": 1e6 / median_us,
        },
        "generate_batch": {
            "batch_size": len(batch),
            "calls": batch_calls,
            "median_s": batch_s,
            "images_per_s": len(batch) / batch_s,
        },
        "reference": {
            "probe_us": probe_us,
            "old_package_images_per_s_reference_machine": OLD_PACKAGE_IMAGES_PER_S,
            "readme_plain_call_us_reference_machine": README_PLAIN_CALL_US,
            "slowdown_vs_reference": slowdown,
            "old_package_images_per_s_scaled_here": OLD_PACKAGE_IMAGES_PER_S / slowdown,
        },
    }


def cold_costs() -> dict[str, float]:
    """What a fresh process (the CLI) pays once before its first shard, that the warm runs below do not:
    loading the data, hashing the MNIST file, building the column bank."""
    from hng.datasets.engine import mnist_sha256

    t0 = time.perf_counter()
    data = hng.load_mnist()
    t1 = time.perf_counter()
    mnist_sha256(data)
    t2 = time.perf_counter()
    _ = data.split("train").column_bank
    t3 = time.perf_counter()
    return {"load_mnist_s": t1 - t0, "mnist_sha256_s": t2 - t1, "column_bank_s": t3 - t2}


# --- profiles (--profile) ------------------------------------------------------------------------------


# The parts of a shard's or finalize's time: (where, function) whose cumulative time makes each.
SHARD_PARTS = {
    "make_shard (generate)": ("datasets/shard.py", "make_shard"),
    "format write": ("datasets/formats/", "write"),
    "sha256 of the shard": ("datasets/checksum.py", "sha256_path"),
    "image digests": ("datasets/engine.py", "image_digests"),
    "record (with the digests)": ("datasets/engine.py", "shard_record"),
    # finalize
    "check shards": ("datasets/finalize.py", "_check_shards"),
    "read the sample shards": ("datasets/finalize.py", "_sample"),
    "fidelity classifier (fit or cache)": ("quality/fidelity.py", "fidelity_classifier"),
    "read the sample's digits": ("quality/fidelity.py", "label_fidelity"),
    "contact sheet": ("datasets/finalize.py", "_contact_sheet"),
}


def profile_call(call: Callable[[], object], top: int = 14) -> dict[str, Any]:
    """Run ``call`` under cProfile: its time, the top functions by own time, and the SHARD_PARTS found."""
    profiler = cProfile.Profile()
    started = time.perf_counter()
    profiler.enable()
    call()
    profiler.disable()
    seconds = time.perf_counter() - started
    stream = io.StringIO()
    stats = pstats.Stats(profiler, stream=stream)
    parts: dict[str, float] = {}
    for (filename, _line, function), row_stats in stats.stats.items():  # type: ignore[attr-defined]
        for part, (where, name) in SHARD_PARTS.items():
            if function == name and where in Path(filename).as_posix():
                parts[part] = parts.get(part, 0.0) + row_stats[3]
    stats.strip_dirs().sort_stats("tottime").print_stats(top)
    lines = [line for line in stream.getvalue().splitlines() if line.strip()]
    start = next((i for i, line in enumerate(lines) if "ncalls" in line), 0)
    return {"seconds": seconds, "parts": parts, "top": "\n".join(lines[start:])}


def profiles(base: Path) -> dict[str, Any]:
    """cProfile, in this process (warm, one core): one 10,000-image shard through run_shard (make, write,
    checksum, record) for npz and webdataset, and finalize (as make_dataset runs it) of 2-shard npz and
    webdataset datasets."""
    from hng.core.generation import Generator
    from hng.datasets.engine import mnist_sha256, run_shard
    from hng.datasets.output import open_output
    from hng.datasets.plan import Plan
    from hng.datasets.spec import DatasetSpec

    data = hng.load_mnist()
    _ = data.split("train").column_bank  # built before the workers fork, in the engine
    generator = Generator(data)
    found: dict[str, Any] = {}
    for fmt in ("npz", "webdataset"):
        spec = DatasetSpec.build(**make_spec(2 * SHARD_SIZE, 2, fmt))
        plan = Plan(spec=spec, mnist_sha256=mnist_sha256(data))
        out = base / f"profile-{fmt}"
        output = open_output(out)
        output.check_writable()
        try:
            with output.staging() as staging, one_core():
                found[f"{fmt} shard of {SHARD_SIZE:,}"] = profile_call(
                    lambda plan=plan, output=output, staging=staging: run_shard(
                        plan, output, generator, 0, staging
                    )
                )
        finally:
            shutil.rmtree(out, ignore_errors=True)
    for fmt in ("npz", "webdataset"):
        out = base / f"profile-finalize-{fmt}"
        try:
            spec = make_spec(2 * SHARD_SIZE, 2, fmt)
            hng.make_dataset(spec, out, workers=2, progress=False, finalize=False)
            found[f"finalize of {2 * SHARD_SIZE:,} {fmt} (as make_dataset runs it)"] = profile_call(
                lambda out=out: hng.finalize_dataset(out, data=data, verify="size")
            )
        finally:
            shutil.rmtree(out, ignore_errors=True)
    return found


# --- printing ---------------------------------------------------------------------------------------------


def fmt_rate(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


def row(name: str, value: str, n: str = "", runs: str = "", others: str = "", note: str = "") -> str:
    return f"{name:36}{value:>13}{n:>11}{runs:>6}{others:>8}   {note}".rstrip()


def usable(runs: dict[str, Any], key: str) -> dict[str, Any] | None:
    f = runs.get(key)
    return None if f is None or "skipped" in f else f


def others(f: dict[str, Any]) -> str:
    """The most CPU other processes took during one of the measurement's runs, as a share of the machine."""
    return f"{max(r['other_load'] for r in f['all_runs']):.0%}"


def measured_row(name: str, f: dict[str, Any], value: str, note: str) -> str:
    return row(name, value, f"{f['count']:,}", str(f["runs"]), others(f), note)


def print_throughput(figures: dict[str, Any]) -> None:
    runs, w = figures["runs"], figures["workers"]
    print(row("end to end (plain unless named)", "images/s", "N", "runs", "others", "notes"))
    head = usable(runs, "npz_plain")
    if head:
        md = head["median"]
        note = (
            f"{md['wall_s']:.1f} s; {md['images_per_s'] / w:,.0f} images/s per worker; "
            f"{md['bytes'] / 1e6:,.0f} MB of shards"
        )
        print(measured_row("plain, npz (headline)", head, fmt_rate(md["images_per_s"]), note))
        print(
            row(
                "  shard phase alone",
                fmt_rate(md["run_images_per_s"]),
                note=f"run.seconds {md['run_s']:.1f} s; {md['images_per_worker_s']:,.0f} images per "
                f"worker-second (shards of {head['shard_size']:,}: {md['shard_s_median']:.2f} s each)",
            )
        )
        print(
            row(
                "  finalize inside make_dataset",
                f"{md['finalize_s']:.1f} s",
                note=f"wall − run.seconds: {md['finalize_s'] / md['wall_s']:.0%} of the wall time (checks "
                "shard sizes, reads a sample, reads its digits with the cached classifier, contact sheet)",
            )
        )
    split = usable(runs, "npz_plain_finalize_separately")
    if split:
        md = split["median"]
        note = (
            f"after make_dataset(finalize=False) ({md['run_s']:.1f} s); also loads every shard; "
            f"{md['images_per_s']:,.0f} images/s counting both"
        )
        print(measured_row("  finalize_dataset on its own", split, f"{md['finalize_s']:.1f} s", note))
    for key, name in (
        ("webdataset_plain", "plain, webdataset"),
        ("imagefolder_plain", "plain, imagefolder"),
        ("npz_mild", "mild, npz"),
        ("npz_strong", "strong, npz"),
    ):
        f = usable(runs, key)
        if f:
            md = f["median"]
            note = (
                f"{md['wall_s']:.1f} s; shard phase {md['run_images_per_s']:,.0f}/s, finalize "
                f"{md['finalize_s']:.1f} s; {md['images_per_worker_s']:,.0f} per worker-second"
            )
            print(measured_row(name, f, fmt_rate(md["images_per_s"]), note))
    if head:
        md, cold = head["median"], figures["cold"]
        startup = md["first_shard_s"] - md["first_shards_min_s"]
        note = (
            f"{md['first_shard_s'] / md['run_s']:.0%} of the shard phase, "
            f"{md['first_shard_s'] / md['wall_s']:.0%} of the total; that shard took "
            f"{md['first_shards_min_s']:.2f} s itself: {startup:.2f} s is start-up"
        )
        print(measured_row("start-up: first shard published", head, f"{md['first_shard_s']:.2f} s", note))
        print(
            row(
                "  cold extra (once per process)",
                f"{sum(cold.values()):.2f} s",
                note=f"load MNIST {cold['load_mnist_s']:.2f} s, its sha256 {cold['mnist_sha256_s']:.2f} s, "
                f"column bank {cold['column_bank_s']:.2f} s (the CLI pays these; warm runs do not)",
            )
        )


def print_formats(figures: dict[str, Any]) -> None:
    runs = figures["runs"]
    keys = [key for key in runs if key.startswith("format_")]
    if not keys:
        return
    print(
        f"\n{'formats, plain (one run each)':34}{'N':>10}{'images/s':>11}{'bytes/image':>13}{'MB':>9}  notes"
    )
    for key in keys:
        f = usable(runs, key)
        if not f:
            continue
        md = f["median"]
        print(
            f"{f['label']:34}{f['count']:>10,}{md['images_per_s']:>11,.0f}{md['bytes'] / f['count']:>13,.0f}"
            f"{md['bytes'] / 1e6:>9,.0f}  shard phase {md['run_images_per_s']:,.0f}/s, finalize "
            f"{md['finalize_s']:.1f} s"
        )


def print_memory(figures: dict[str, Any]) -> None:
    runs = figures["runs"]
    print(
        f"\n{'memory, plain npz (MB)':22}{'N':>10}{'shards':>7}{'of':>7}{'worker RSS':>11}{'(rise)':>8}"
        f"{'(late)':>8}{'worker USS':>11}{'parent RSS':>11}{'images/s':>9}{'finalize':>9}"
    )
    for key in MEMORY_SERIES:
        f = runs.get(key)
        if f is None:
            continue
        if "skipped" in f:
            print(f"{'':22}{f['count']:>10,}   {f['skipped']}")
            continue
        md, p = f["median"], peak_memory(f)
        label = f"  peak of {f['runs']} run{'s' if f['runs'] > 1 else ''}"
        if "worker_rss" not in p:
            label = "  (no worker processes)"
        print(
            f"{label:22}{f['count']:>10,}{md['shards']:>7.0f}{f['shard_size']:>7,}"
            f"{p.get('worker_rss', 0):>11.0f}"
            f"{p.get('worker_rise', 0):>8.0f}{p.get('worker_late', 0):>8.0f}{p.get('worker_uss', 0):>11.0f}"
            f"{p['parent_rss']:>11.0f}{md['images_per_s']:>9,.0f}{md['finalize_s']:>8.1f}s"
        )
    if figures.get("memory_flatness"):
        print(f"  {figures['memory_flatness']}")
    split = usable(runs, "npz_plain_finalize_separately")
    if split:
        memory = split["all_runs"][-1]["memory"]
        before = memory.get("parent_peak_rss_before_finalize_mb")
        if before:
            print(
                f"  parent: peak RSS {before:.0f} MB until the last shard, "
                f"{memory['parent_peak_rss_mb']:.0f} MB once finalize_dataset ran "
                "(the fidelity classifier's similarity matrices)"
            )
    print(
        "  worker RSS: peak (VmHWM), counting the MNIST pages forked workers share with the parent;\n"
        "  (rise): from its first sample to its peak; (late): how much the peak still rose after the first\n"
        "  quarter of the worker's life; worker USS: private pages, peak of samples every 50 ms;\n"
        "  finalize: wall − run.seconds."
    )
    print(
        "  cross-check: getrusage(RUSAGE_CHILDREN).ru_maxrss, the largest child over the whole benchmark: "
        f"{figures['children_max_rss_mb_whole_bench']:.0f} MB"
    )


def print_one_core(figures: dict[str, Any]) -> None:
    one = figures.get("one_core")
    if not one:
        return
    g, b, ref = one["generate"], one["generate_batch"], one["reference"]
    load = f"{one['other_load']:.0%}"
    print(f"\n{'one core (pinned, 1 OpenCV thread)':36}{'images/s':>13}{'':>17}{'others':>8}   notes")
    print(
        row(
            "hng.generate, one call at a time",
            fmt_rate(g["images_per_s"]),
            others=load,
            note=f"median {g['median_us']:.1f} µs a call, random numbers ({g['calls']:,} calls)",
        )
    )
    end = ref.get("probe_us_at_the_end")
    print(
        row(
            '  "20261", as in the README',
            f"{1e6 / ref['probe_us']:,.0f}",
            note=f"median {ref['probe_us']:.1f} µs a call"
            + (f" ({end:.1f} µs at the end of the benchmark)" if end else "")
            + f"; README: {README_PLAIN_CALL_US:.1f} µs on the reference machine: this one is "
            f"{ref['slowdown_vs_reference']:.1f}× slower",
        )
    )
    print(
        row(
            "generate_batch of 10,000",
            fmt_rate(b["images_per_s"]),
            others=load,
            note=f"{b['median_s'] * 1e3:.0f} ms a batch (median of {b['calls']}); images only, no files",
        )
    )
    print(
        row(
            "old Flask package, one call",
            f"~{OLD_PACKAGE_IMAGES_PER_S:,}",
            note="one core of the reference machine (AMD EPYC), quoted; scaled by the slowdown above: "
            f"~{ref['old_package_images_per_s_scaled_here']:,.0f} on this one",
        )
    )
    head = usable(figures["runs"], "npz_plain")
    if head:
        w = figures["workers"]
        print(
            row(
                "hng dataset, plain npz, per worker",
                fmt_rate(head["median"]["images_per_s"] / w),
                others=others(head),
                note=f"end to end with files and finalize; {w} workers, {figures['machine']['cores']} cores",
            )
        )


def print_tables(figures: dict[str, Any]) -> None:
    m = figures["machine"]
    print(
        f"hng {m['hng']} on {m['description']}; numpy {m['numpy']}, OpenCV {m['opencv']}\n"
        f"make_dataset(workers={figures['workers']}), {DIGITS}-digit numbers, width {WIDTH}, seed {SEED}; "
        f"outputs in {figures['out_dir']}; medians of runs.\n"
        "others: the most CPU other processes took during a run, as a share of the machine (figures taken\n"
        "while others run are too low by up to that much)\n"
    )
    print_throughput(figures)
    print_formats(figures)
    print_memory(figures)
    print_one_core(figures)
    print(f"\nwhole benchmark: {figures['seconds']:.0f} s")


def print_profiles(profs: dict[str, Any]) -> None:
    for key, p in profs.items():
        print(f"\n--- cProfile: {key}, {p['seconds']:.2f} s under the profiler ---")
        if p["parts"]:
            parts = [(part, p["parts"][part]) for part in SHARD_PARTS if part in p["parts"]]
            print("parts: " + ", ".join(f"{part} {t:.2f} s" for part, t in parts))
        print(p["top"])


MEMORY_SERIES = ("memory_10000", "npz_plain", "memory_1000000")


# --- main -------------------------------------------------------------------------------------------------


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="smaller N, one run each, no 10^6 (about 2 min)")
    parser.add_argument("--json", metavar="FILE", help="also write every figure to FILE as JSON")
    parser.add_argument("--workers", type=int, default=2, help="make_dataset's workers (default 2)")
    parser.add_argument("--out-dir", metavar="DIR", help="where the temporary datasets go (default: $TMPDIR)")
    parser.add_argument("--repeats", type=int, default=None, help="runs per measurement (default 3, quick 1)")
    parser.add_argument(
        "--profile", action="store_true", help="also cProfile an npz and a webdataset shard, and finalize"
    )
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    started = time.perf_counter()
    repeats = args.repeats if args.repeats is not None else (1 if args.quick else 3)
    out_dir = Path(args.out_dir) if args.out_dir else Path(tempfile.gettempdir())
    out_dir.mkdir(parents=True, exist_ok=True)
    base = Path(tempfile.mkdtemp(prefix="hng-bench-dataset-", dir=out_dir))

    figures: dict[str, Any] = {
        "machine": versions(),
        "workers": args.workers,
        "quick": args.quick,
        "out_dir": str(base),
        "settings": {"digits": DIGITS, "width": WIDTH, "seed": SEED, "repeats": repeats},
        "runs": {},
    }
    runs = figures["runs"]
    bench = Bench(base, args.workers, repeats)
    try:
        print("cold costs, then one core ...", file=sys.stderr, flush=True)
        figures["cold"] = cold_costs()
        probe = speed_probe()
        figures["one_core"] = single_core(
            calls=2_000 if args.quick else 20_000, batch_calls=3 if args.quick else 5, probe_us=probe
        )
        # Warm the engine (the MNIST sha256 is cached per process, the column bank per split).
        warm = bench.folder("warm-up")
        hng.make_dataset(
            make_spec(2_000, args.workers), warm, workers=args.workers, progress=False, finalize=False
        )
        shutil.rmtree(warm, ignore_errors=True)

        print("datasets ...", file=sys.stderr, flush=True)
        runs["npz_plain"] = bench.measure("plain npz", 100_000)
        if not args.quick:
            runs["npz_plain_finalize_separately"] = bench.measure(
                "plain npz, finalize_dataset separately", 100_000, repeats=1, separate_finalize=True
            )
        n_formats = 20_000 if args.quick else 100_000
        runs["webdataset_plain"] = bench.measure("plain webdataset", n_formats, "webdataset")
        runs["imagefolder_plain"] = bench.measure("plain imagefolder", n_formats, "imagefolder")
        n_augmented = 10_000 if args.quick else 20_000
        runs["npz_mild"] = bench.measure("mild npz", n_augmented, "npz", "mild")
        runs["npz_strong"] = bench.measure("strong npz", n_augmented, "npz", "strong")
        for key, name, options in format_variants():
            fmt = options.pop("format")
            runs[key] = bench.measure(name, n_formats, fmt, repeats=1, options=options)
            runs[key]["label"] = name
        runs["memory_10000"] = bench.measure("memory, plain npz", 10_000, repeats=1)
        if not args.quick:
            runs["memory_1000000"] = bench.measure("memory, plain npz", 1_000_000, repeats=1)
        figures["memory_flatness"] = memory_flatness(runs)
        figures["one_core"]["reference"]["probe_us_at_the_end"] = speed_probe()
        if args.profile:
            print("profiles ...", file=sys.stderr, flush=True)
            figures["profiles"] = profiles(base)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    figures["children_max_rss_mb_whole_bench"] = round(children / 1024, 1)  # ru_maxrss: kB on Linux
    figures["seconds"] = time.perf_counter() - started

    print_tables(figures)
    if "profiles" in figures:
        print_profiles(figures["profiles"])
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2) + "\n")
        print(f"figures written to {args.json}")


def peak_memory(f: dict[str, Any]) -> dict[str, float]:
    """The peaks over a measurement's runs (of its largest worker): RSS, its rise and late rise, USS, RSS
    at the first sample; and the parent's peak RSS."""
    out = {"parent_rss": max(r["memory"]["parent_peak_rss_mb"] for r in f["all_runs"])}
    for name, key in (
        ("worker_rss", "worker_peak_rss_mb"),
        ("worker_rise", "worker_rss_growth_mb"),
        ("worker_late", "worker_peak_rise_after_first_quarter_mb"),
        ("worker_uss", "worker_peak_uss_mb"),
    ):
        values = [r["memory"][key] for r in f["all_runs"] if key in r["memory"]]
        if values:
            out[name] = max(values)
    firsts = [w["first_rss_mb"] for r in f["all_runs"] for w in r["memory"].get("per_worker", [])]
    if firsts:
        out["worker_first_rss"] = max(firsts)
    return out


def memory_flatness(runs: dict[str, Any]) -> str | None:
    """Flat: at the largest N a worker's peak RSS no longer rises after the first quarter of its life (an
    exact figure: VmHWM), and its peak USS matches that at a smaller N with the same shard size (a worker's
    memory follows the size of its shards, not N). Peak RSS also counts what the parent held when it
    forked, and the rise depends on when the first sample caught the worker: neither decides."""
    series = []
    for key in MEMORY_SERIES:
        f = usable(runs, key)
        if f and "worker_uss" in peak_memory(f):
            series.append((f["count"], f["shard_size"], peak_memory(f)))
    if not series:
        return None
    n1, size1, p1 = series[-1]
    flat = p1["worker_late"] <= 5.0
    text = f"per worker at N = {n1:,}: peak RSS rose {p1['worker_late']:.0f} MB after the first quarter"
    same = [s for s in series[:-1] if s[1] == size1]
    if same:
        n0, _, p0 = same[0]
        rise, uss = p1["worker_rise"] - p0["worker_rise"], p1["worker_uss"] - p0["worker_uss"]
        start = p1.get("worker_first_rss", 0) - p0.get("worker_first_rss", 0)
        flat = flat and abs(uss) <= max(10.0, 0.1 * p0["worker_uss"])
        text += (
            f"; against N = {n0:,} (shards of {size1:,}): rise {rise:+.0f} MB, peak USS {uss:+.0f} MB "
            f"(RSS at fork {start:+.0f} MB: the parent's size then)"
        )
    return text + (": flat" if flat else ": NOT flat")


if __name__ == "__main__":
    main()
