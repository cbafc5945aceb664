"""Shared by the benchmark scripts: the machine description and latency summaries."""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import statistics
from pathlib import Path


def machine() -> str:
    model = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return f"{model}, {os.cpu_count()} cores, Python {platform.python_version()}, {platform.system()}"


def summary(times: list[float], unit: str) -> dict[str, float]:
    """Median, mean and p99 of per-call times, keyed with their unit (e.g. "median_us")."""
    ordered = sorted(times)
    return {
        f"median_{unit}": statistics.median(ordered),
        f"mean_{unit}": statistics.fmean(ordered),
        f"p99_{unit}": ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))],
        "calls": len(ordered),
    }


def parse_args(description: str | None) -> argparse.Namespace:
    """The options every benchmark takes: --quick (fewer calls) and --json."""
    parser = argparse.ArgumentParser(
        description=description, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="fewer calls (a smoke run, noisier figures)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    return parser.parse_args()
