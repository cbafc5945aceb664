"""Generation benchmarks (issue 2, section 6): prints figures, asserts nothing.

One core (the process pins itself to one CPU and OpenCV to one thread), a 5-digit number, width 140,
data already loaded. Per-call latencies are timed one by one; the medians are the figures that count.
Augmented cost depends on which transforms fire, so those calls use a new seed each time.

    make bench                        # or: .venv/bin/python bench/bench_generate.py [--quick] [--json]
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from figures import machine, parse_args, summary  # bench/ is on sys.path: this script's folder

ROOT = Path(__file__).resolve().parents[1]
NUMBER = "20261"
WIDTH = 140


def pin_to_one_core() -> int:
    cpu = min(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {cpu})
    import cv2

    cv2.setNumThreads(1)
    return cpu


def per_call_us(call, calls: int) -> list[float]:
    times = []
    clock = time.perf_counter_ns
    for i in range(calls):
        start = clock()
        call(i)
        times.append((clock() - start) / 1000)
    return times


def summary_us(times: list[float]) -> dict[str, float]:
    return summary(times, "us")


def cold_start(augment: bool, runs: int) -> dict[str, float]:
    """A fresh interpreter: import hng, load the data, make one image (and build the preset if asked)."""
    code = (
        "import time; t = time.perf_counter(); import hng; hng.load_mnist(); "
        f"hng.generate({NUMBER!r}, image_width={WIDTH}, seed=1, augment={'mild' if augment else None!r}); "
        "print(time.perf_counter() - t)"
    )
    seconds = []
    for _ in range(runs):
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
        )
        seconds.append(float(out.stdout.strip()))
    return {"median_s": statistics.median(seconds), "max_s": max(seconds), "runs": runs}


def main() -> None:
    args = parse_args(__doc__)
    scale = 10 if args.quick else 1

    cpu = pin_to_one_core()
    import cv2
    import numpy as np

    import hng
    from hng.core.png import encode_png

    generator = hng.Generator(hng.load_mnist())
    generator.generate(NUMBER, image_width=WIDTH, seed=0, augment="mild")  # build presets, warm caches
    generator.generate(NUMBER, image_width=WIDTH, seed=0, augment="strong")
    numbers = [f"{n:05d}" for n in np.random.default_rng(0).integers(0, 100_000, 4096)]
    generator.generate_batch(numbers[:8], image_width=WIDTH, seed=0)  # builds the column bank

    figures: dict[str, dict] = {}
    figures["plain"] = summary_us(
        per_call_us(lambda i: generator.generate(NUMBER, image_width=WIDTH, seed=i), 20_000 // scale)
    )
    for preset in ("mild", "strong"):
        figures[preset] = summary_us(
            per_call_us(
                lambda i, p=preset: generator.generate(NUMBER, image_width=WIDTH, seed=i, augment=p),
                2000 // scale,
            )
        )
    batch_times = per_call_us(
        lambda i: generator.generate_batch(numbers, image_width=WIDTH, seed=i), max(3, 15 // scale)
    )
    figures["batch"] = {
        "per_image_median_us": statistics.median(batch_times) / len(numbers),
        "batch_size": len(numbers),
        "calls": len(batch_times),
    }
    image = generator.generate(NUMBER, image_width=WIDTH, seed=1).image
    figures["png_encode"] = summary_us(per_call_us(lambda i: encode_png(image), 20_000 // scale))
    figures["cold_plain"] = cold_start(False, max(3, 7 // scale))
    figures["cold_augment"] = cold_start(True, max(3, 7 // scale))
    figures["machine"] = {
        "description": machine(),
        "pinned_cpu": cpu,
        "numpy": np.__version__,
        "opencv": cv2.__version__,
        "hng": hng.__version__,
    }

    if args.json:
        print(json.dumps(figures, indent=2))
        return
    rows = [
        (
            "plain image, one call",
            f"{figures['plain']['median_us']:.1f} µs",
            "<= 30 µs",
            f"p99 {figures['plain']['p99_us']:.1f} µs",
        ),
        (
            "augmented, mild preset",
            f"{figures['mild']['median_us']:.0f} µs",
            "<= 500 µs",
            f"mean {figures['mild']['mean_us']:.0f} µs, p99 {figures['mild']['p99_us']:.0f} µs",
        ),
        (
            "augmented, strong preset",
            f"{figures['strong']['median_us']:.0f} µs",
            "-",
            f"mean {figures['strong']['mean_us']:.0f} µs, p99 {figures['strong']['p99_us']:.0f} µs",
        ),
        (
            "batched plain, per image",
            f"{figures['batch']['per_image_median_us']:.1f} µs",
            "<= 10 µs",
            f"batches of {figures['batch']['batch_size']}",
        ),
        ("PNG encode (28 x 140)", f"{figures['png_encode']['median_us']:.1f} µs", "-", ""),
        (
            "cold start, plain",
            f"{figures['cold_plain']['median_s']:.2f} s",
            "<= 0.5 s",
            "import + load data + first image",
        ),
        (
            "cold start, augmented",
            f"{figures['cold_augment']['median_s']:.2f} s",
            "<= 1 s",
            "... + import albumentations + build preset",
        ),
    ]
    print(
        f"hng {hng.__version__} on {figures['machine']['description']}; pinned to CPU {cpu}, 1 OpenCV thread"
    )
    print(f"number {NUMBER!r}, width {WIDTH}; medians of per-call times\n")
    print(f"{'':28}{'median':>12}{'target':>12}   notes")
    for name, value, target, note in rows:
        print(f"{name:28}{value:>12}{target:>12}   {note}")


if __name__ == "__main__":
    main()
