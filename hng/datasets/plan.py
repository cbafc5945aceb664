"""The plan of a dataset: its spec, what it was made with, and its shards; written before any shard.

``plan.json`` is what a resumed run, a ``--shards I:J`` run on another machine and ``finalize`` all
agree on: the complete spec (seed included), the hng version and the MNIST file's sha256.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from hng import __version__
from hng.datasets.formats import get_format
from hng.datasets.output import RECORDS
from hng.datasets.spec import DatasetSpec
from hng.errors import InvalidData

PLAN_FILE = "plan.json"
PLAN_VERSION = 1


@dataclass(frozen=True)
class Plan:
    spec: DatasetSpec
    mnist_sha256: str
    hng_version: str = __version__
    created_at: str = ""

    @property
    def num_shards(self) -> int:
        return self.spec.num_shards

    def shard_name(self, k: int) -> str:
        return get_format(self.spec.format).shard_name(k)

    def record_name(self, k: int) -> str:
        return f"{RECORDS}/{self.shard_name(k)}.json"

    def to_json(self) -> dict[str, Any]:
        return {
            "plan_version": PLAN_VERSION,
            "hng_version": self.hng_version,
            "created_at": self.created_at or _now(),
            "mnist": {"sha256": self.mnist_sha256, "split": self.spec.split},
            "spec": self.spec.to_json(),
            "num_shards": self.num_shards,
            "shards": [self.shard_name(0), "...", self.shard_name(self.num_shards - 1)],
        }

    def dumps(self) -> str:
        return json.dumps(self.to_json(), indent=2) + "\n"

    @classmethod
    def loads(cls, text: str, where: str) -> Plan:
        try:
            data = json.loads(text)
            return cls(
                spec=DatasetSpec.build(**data["spec"]),
                mnist_sha256=data["mnist"]["sha256"],
                hng_version=data["hng_version"],
                created_at=data["created_at"],
            )
        except (ValueError, KeyError, TypeError) as error:
            raise InvalidData(f"{where}/{PLAN_FILE} is not a valid hng dataset plan: {error}") from None


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def differences(old: DatasetSpec, new: DatasetSpec, *, ignore_seed: bool = False) -> list[str]:
    """The fields in which two specs differ, as 'field: old → new'."""
    a, b = old.to_json(), new.to_json()
    return [
        f"{field}: {_short(a[field])} → {_short(b[field])}"
        for field in a
        if a[field] != b[field] and not (ignore_seed and field == "seed")
    ]


def _short(value: Any) -> str:
    text = json.dumps(value)
    return text if len(text) <= 40 else text[:37] + "..."


def rebuild_command(spec: DatasetSpec, out: str, numbers_file: str = "numbers.txt") -> str:
    """The ``hng dataset`` command that makes this very dataset again, byte for byte."""
    args = ["hng", "dataset", "--count", str(spec.count), "--shard-size", str(spec.shard_size)]
    if spec.numbers is not None:
        args += ["--numbers-file", numbers_file, "--numbers-mode", spec.numbers_mode]
    else:
        if spec.digits is None:
            raise AssertionError("hng bug: spec.digits is unset")
        low, high = spec.digits
        args += ["--digits", str(low) if low == high else f"{low}-{high}"]
    args += ["--spacing-min", str(spec.spacing_min), "--spacing-max", str(spec.spacing_max)]
    if spec.width_per_digit is not None:
        args += ["--width-per-digit", str(spec.width_per_digit)]
    else:
        args += ["--image-width", str(spec.image_width)]
    args += ["--fit", spec.fit, "--preset", spec.preset, "--split", spec.split, "--seed", str(spec.seed)]
    args += ["--format", spec.format]
    if spec.compress:
        args.append("--compress")
    if spec.masks:
        args.append("--masks")
    if spec.objects != "digits":
        args += ["--objects", spec.objects]
    if spec.yolo_task != "detect":
        args += ["--yolo-task", spec.yolo_task]
    args += _document_args(spec)
    args += ["--out", out]
    return shlex.join(args)


def _document_args(spec: DatasetSpec) -> list[str]:
    """The options of the fields added after 0.1 that differ from their defaults (``=`` keeps a negative
    range from reading as an option)."""
    data = spec.to_json()
    args: list[str] = []
    for name in ("style", "ink", "background", "height", "channels", "stroke", "image_encoding"):
        if name in data and not (name == "channels" and data[name] == 1):
            args += [f"--{name.replace('_', '-')}", str(data[name])]
    for name in ("rotate", "shear", "perspective", "elastic", "jpeg_quality"):
        if name in data:
            low, high = data[name]
            args.append(f"--{name.replace('_', '-')}={_number(low)},{_number(high)}")
    if spec.verify_labels:
        args.append("--verify-labels")
    return args


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))
