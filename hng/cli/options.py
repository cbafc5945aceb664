"""What the commands share: the one-line argument parser, the spacing options, and the spelling of the
library's field names as the options that set them."""

from __future__ import annotations

import argparse
import logging
import re
import sys
from typing import NoReturn

from hng.core.params import DEFAULT_SPACING_RANGE
from hng.errors import InvalidInput

USAGE_ERROR = 2

# Library field names as the options that set them, so that errors name what the user typed.
OPTIONS = {
    "count": "--count",
    "shard_size": "--shard-size",
    "digits": "--digits",
    "numbers": "--numbers-file",
    "numbers_mode": "--numbers-mode",
    "spacing_min": "-smin/--spacing-min",
    "spacing_max": "-smax/--spacing-max",
    "image_width": "-w/--image-width",
    "width_per_digit": "--width-per-digit",
    "fit": "--fit",
    "preset": "--preset",
    "split": "--split",
    "seed": "--seed",
    "format": "--format",
    "compress": "--compress",
    "masks": "--masks",
    "objects": "--objects",
    "yolo_task": "--yolo-task",
    "out": "--out",
    "shards": "--shards",
    "workers": "--workers",
}


class UsageParser(argparse.ArgumentParser):
    """argparse that reports a bad argument in one line (and exit code 2) instead of the full usage."""

    def error(self, message: str) -> NoReturn:
        self.exit(USAGE_ERROR, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def add_spacing_options(parser: argparse.ArgumentParser) -> None:
    # The underscore spellings are the old script's; both are accepted and both show in --help.
    parser.add_argument(
        "-smin", "--spacing-min", "--spacing_min", dest="spacing_min", type=int,
        default=DEFAULT_SPACING_RANGE[0],
        help=f"smallest gap between digits in pixels (default {DEFAULT_SPACING_RANGE[0]})",
    )  # fmt: skip
    parser.add_argument(
        "-smax", "--spacing-max", "--spacing_max", dest="spacing_max", type=int,
        default=DEFAULT_SPACING_RANGE[1],
        help=f"largest gap between digits in pixels, inclusive (default {DEFAULT_SPACING_RANGE[1]})",
    )  # fmt: skip


def as_options(error: InvalidInput) -> str:
    """The error's (first) rule led by the field it blames, that field and the identifiers the rule names
    spelled as the options that set them: ``count``, "must be >= 1" → "--count must be >= 1"."""
    field, rule = error.problems[0]
    option = OPTIONS.get(field, field)
    rule = option + rule[len(field) :] if rule.startswith(field) else f"{option} {rule}"
    for name, spelled in OPTIONS.items():
        if "_" in name:  # only identifiers: "count" or "split" may also be plain words of a message
            rule = re.sub(rf"\b{name}\b", spelled, rule)
    return rule


def plural(count: int, noun: str) -> str:
    return f"{count:,} {noun}" + ("" if count == 1 else "s")


class _StderrLines(logging.StreamHandler):
    """The library's log records as plain lines on the current stderr (looked up per record, so a test
    that captures stderr sees them)."""

    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(logging.Formatter("%(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stderr
        super().emit(record)


_LINES = _StderrLines()


def print_library_logs() -> None:
    """Show what the library logs (the ``hng`` loggers: data fetch progress, shard lines) on stderr."""
    library = logging.getLogger("hng")
    if _LINES not in library.handlers:
        library.addHandler(_LINES)
    library.setLevel(logging.INFO)
