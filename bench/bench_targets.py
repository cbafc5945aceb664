"""The speed targets (issue 17), measured in one run: each figure beside its target. Asserts nothing.

Datasets are made by the CLI in a fresh process, start-up included (`hng dataset --workers 2`, random
5-digit numbers at width 140, seed 1, shards of 10,000, into a temporary folder deleted after each run),
timed from the process's start to its exit. For each run: images/s, the cores kept busy (CPU time of the
process and its workers over the wall time) and the largest worker's peak RSS (VmHWM, sampled from /proc
every 50 ms; forked workers share the parent's MNIST pages, which RSS counts).

The ratios are to one core of the old package's pipeline. That package is not in this repository and
cannot be installed here, so its rates are the ones issue 17 measured on this machine in the same run as
hng's: 753 plain and 197 augmented (`mild`, the old recipe) images/s. They are constants, printed as such;
this VM's speed drifts by up to 1.7x with its host's load, so a probe (`sum(range(10**7))`, pure Python)
is printed beside them to show how fast the machine was during the run.

Also: one `hng.generate` plain call (median µs, pinned to one core, 1 OpenCV thread) and the Lambda cold
start (tests/deploy/test_bundle.py: the image's bundle under Python 3.12, import to first answer).

    .venv/bin/python bench/bench_targets.py [--quick] [--json FILE] [--readme]

--quick: 10x smaller datasets and no 10^6 memory run (a smoke run: the targets are for the full counts).
--readme: rewrite the README's performance table from this run's figures (`render_readme_table`).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench_dataset import MemorySampler, speed_probe  # noqa: E402  (bench/ is on sys.path)
from figures import machine  # noqa: E402

OLD_IMAGES_PER_S = {"none": 753.0, "mild": 197.0}  # issue 17's same-run measurement, one core
WORKERS = 2
WORKER_RSS_LIMIT_MB = 400
README = ROOT / "README.md"
TABLE_START = "<!-- performance table: bench/bench_targets.py --readme -->"
TABLE_END = "<!-- end of performance table -->"
FIGURES_FILE = ROOT / "bench" / "results" / "targets.json"
BUNDLE_FIGURES = ROOT / "build" / "bundle-figures.json"


# (key, what, count, format, preset, target: ("x", ratio to the old rate) or (">=", images/s))
DATASETS: list[tuple[str, str, int, str, str, tuple[str, float]]] = [
    ("npz_plain_1e5", "plain npz", 100_000, "npz", "none", ("x", 40)),
    ("npz_mild_1e4", "`mild` npz", 10_000, "npz", "mild", ("x", 15)),
    ("npz_mild_1e5", "`mild` npz", 100_000, "npz", "mild", ("x", 20)),
    # The old package had no `strong`: its ratio is to the old augmented rate, as the issue's `mild` ones.
    ("npz_strong_1e5", "`strong` npz", 100_000, "npz", "strong", ("x", 8)),
    ("webdataset_plain_1e5", "plain webdataset", 100_000, "webdataset", "none", (">=", 15_000)),
    ("imagefolder_plain_1e5", "plain imagefolder", 100_000, "imagefolder", "none", (">=", 15_000)),
]
MEMORY_RUN = ("npz_plain_1e6", "plain npz (memory)", 1_000_000, "npz", "none", ("rss", WORKER_RSS_LIMIT_MB))


def host_probe_s() -> float:
    started = time.perf_counter()
    sum(range(10**7))
    return time.perf_counter() - started


def children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_cli(count: int, fmt: str, preset: str, base: Path) -> dict[str, Any]:
    """One `hng dataset` run in a fresh process: wall time, cores busy, the largest worker's peak RSS."""
    out = base / f"{fmt}-{preset}-{count}"
    command = [
        sys.executable, "-m", "hng.cli", "dataset", "--count", str(count), "--digits", "5",
        "--image-width", "140", "--format", fmt, "--preset", preset, "--seed", "1",
        "--workers", str(WORKERS), "--out", str(out),
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cpu_before = children_cpu_s()
    started = time.perf_counter()
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    with MemorySampler(pid=process.pid) as sampler:
        _, errors = process.communicate()
    wall = time.perf_counter() - started
    cpu = children_cpu_s() - cpu_before
    shutil.rmtree(out, ignore_errors=True)
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed ({process.returncode}):\n{errors}")
    memory = sampler.figures()
    return {
        "count": count,
        "format": fmt,
        "preset": preset,
        "wall_s": round(wall, 2),
        "images_per_s": round(count / wall, 1),
        "cores_busy": round(cpu / wall, 2),
        "worker_peak_rss_mb": memory.get("worker_peak_rss_mb"),
        "worker_peak_uss_mb": memory.get("worker_peak_uss_mb"),
        "workers_seen": memory["workers_seen"],
    }


def cold_start(quick: bool) -> dict[str, Any] | None:
    """The bundle's cold starts (tests/deploy/test_bundle.py writes them); run unless --quick."""
    if not quick:
        subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/deploy/test_bundle.py"],
            cwd=ROOT,
            check=False,
            stdout=subprocess.DEVNULL,
        )
    if not BUNDLE_FIGURES.is_file():
        return None
    figures = json.loads(BUNDLE_FIGURES.read_text())
    return {
        kind: figures[f"cold_start_{name}_s"]["total"]
        for kind, name in (("augmented", "bytecode"), ("plain", "bytecode_plain"))
        if f"cold_start_{name}_s" in figures
    }


def measure(quick: bool) -> dict[str, Any]:
    scale = 10 if quick else 1
    figures: dict[str, Any] = {
        "machine": machine(),
        "quick": quick,
        "workers": WORKERS,
        "old_images_per_s": OLD_IMAGES_PER_S,
        "host_probe_s": [round(host_probe_s(), 3)],
        "datasets": {},
    }
    runs = DATASETS if quick else [*DATASETS, MEMORY_RUN]
    with tempfile.TemporaryDirectory(prefix="hng-bench-targets-") as folder:
        for key, what, count, fmt, preset, target in runs:
            run = run_cli(count // scale, fmt, preset, Path(folder))
            figures["datasets"][key] = {"what": what, "target": list(target), **run}
            print(f"  {key}: {run['images_per_s']:,.0f} images/s", file=sys.stderr, flush=True)
    figures["generate_us"] = round(speed_probe(5_000 // scale), 1)
    figures["cold_start_s"] = cold_start(quick)
    figures["host_probe_s"].append(round(host_probe_s(), 3))
    return figures


def rows(figures: dict[str, Any]) -> list[tuple[str, str, str, str, str]]:
    """(what, measured, target, met, notes) for each figure."""
    old = figures["old_images_per_s"]
    out = []
    for f in figures["datasets"].values():
        kind, value = f["target"]
        rate = f["images_per_s"]
        base = old["none"] if f["preset"] == "none" else old["mild"]
        name = f"{f['what']}, {f['count']:,}"
        notes = f"{f['cores_busy']:.2f} cores busy, worker peak RSS {f['worker_peak_rss_mb'] or 0:.0f} MB"
        if kind == "x":
            target = f"≥ {value:g}× ({value * base:,.0f}/s)"
            out.append(
                (name, f"{rate:,.0f}/s = {rate / base:.1f}×", target, _met(rate >= value * base), notes)
            )
        elif kind == ">=":
            out.append((name, f"{rate:,.0f}/s", f"≥ {value:,.0f}/s", _met(rate >= value), notes))
        else:
            rss = f["worker_peak_rss_mb"] or 0
            out.append(
                (name, f"{rss:.0f} MB", f"< {value:g} MB per worker", _met(rss < value), f"{rate:,.0f}/s")
            )
    us = figures["generate_us"]
    out.append(
        ("one `hng.generate` plain call", f"{us:.1f} µs", "≤ 30 µs", _met(us <= 30), "median, one core")
    )
    cold = figures.get("cold_start_s") or {}
    for kind in ("plain", "augmented"):
        if kind in cold:
            seconds = cold[kind]
            out.append(
                (
                    f"Lambda cold start, first request {kind}",
                    f"{seconds:.2f} s",
                    "≤ 0.8 s",
                    _met(seconds <= 0.8),
                    "bundle, Python 3.12: import + first POST /generate",
                )
            )
    return out


def _met(ok: bool) -> str:
    return "yes" if ok else "**no**"


def render_readme_table(figures: dict[str, Any]) -> str:
    """The README's performance table (between its markers) from a run's figures."""
    probe, old = figures["host_probe_s"], figures["old_images_per_s"]
    quick = " (a --quick run: smaller counts)" if figures["quick"] else ""
    lines = [
        TABLE_START,
        "| run | measured | target | met | notes |",
        "| --- | ---: | --- | --- | --- |",
        *(f"| {' | '.join(row)} |" for row in rows(figures)),
        "",
        f"{figures['machine']}, `--workers {figures['workers']}`, start-up included{quick}. Ratios are to "
        f"one core of the old package's pipeline, measured on this machine when the targets were set "
        f"({old['none']:,.0f} plain, {old['mild']:,.0f} augmented images/s). Host speed probe "
        f"{probe[0]:.2f}-{probe[-1]:.2f} s (0.17 s on a quiet host). `make bench` measures it again.",
        TABLE_END,
    ]
    return "\n".join(lines)


def write_readme(figures: dict[str, Any]) -> None:
    text = README.read_text()
    start, end = text.index(TABLE_START), text.index(TABLE_END) + len(TABLE_END)
    README.write_text(text[:start] + render_readme_table(figures) + text[end:])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="10x smaller datasets, no 10^6 memory run")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument(
        "--readme", action="store_true", help=f"rewrite README.md's table; save {FIGURES_FILE}"
    )
    args = parser.parse_args()
    figures = measure(args.quick)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    if args.readme:
        FIGURES_FILE.parent.mkdir(parents=True, exist_ok=True)
        FIGURES_FILE.write_text(json.dumps(figures, indent=2) + "\n")
        write_readme(figures)
    print(f"\n{'run':44}{'measured':>22}  {'target':24}{'met':7}notes")
    for what, value, target, met, notes in rows(figures):
        print(f"{what.replace('`', ''):44}{value:>22}  {target:24}{met.strip('*'):7}{notes}")
    print(
        f"\nold pipeline (constants, issue 17): {OLD_IMAGES_PER_S['none']:,.0f} plain, "
        f"{OLD_IMAGES_PER_S['mild']:,.0f} mild images/s on one core; host probe "
        f"{figures['host_probe_s'][0]:.2f} s before, {figures['host_probe_s'][-1]:.2f} s after "
        "(quiet: 0.17 s)"
    )


if __name__ == "__main__":
    main()
