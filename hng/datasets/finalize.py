"""Finalize a dataset: check every shard is there and whole, then write the manifest, card and report.

Runs at the end of ``hng dataset``, or on its own (``hng dataset finalize --out ...``) once shards made
by several machines (``--shards I:J``) are all in one folder or S3 prefix. Its figures come from the
shard records, written beside the shards, so it reads only a sample of the images (for the label
fidelity and the contact sheet), whatever the dataset's size.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import tempfile
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from hng import __version__
from hng.core.png import encode_png
from hng.datasets.contract import Manifest, ShardRecord
from hng.datasets.formats import format_for, get_format
from hng.datasets.output import STAGING, LocalOutput, Output, open_output
from hng.datasets.plan import PLAN_FILE, Plan, rebuild_command
from hng.datasets.shard import PAD, Shard, shard_bounds
from hng.errors import Conflict, InvalidData, InvalidInput
from hng.mnist.load import MnistData, load_mnist

logger = logging.getLogger(__name__)

MANIFEST_FILE = "manifest.json"
CARD_FILE = "README.md"
CONTACT_SHEET_FILE = "contact_sheet.png"
NUMBERS_FILE = "numbers.txt"
MANIFEST_VERSION = 1
SAMPLE_IMAGES = 500
SAMPLE_SHARDS = 4
VERIFY_LEVELS = ("load", "checksum", "size")
SHEET_ROWS = 8
SHEET_WIDTH = 1600


class IncompleteDataset(Conflict):
    """Some shards are missing or damaged; the message lists them and says how to make them."""

    def __init__(self, message: str, missing: list[int]) -> None:
        super().__init__(message)
        self.missing = missing


def finalize_dataset(
    out: str | os.PathLike[str] | Output,
    *,
    run: Any = None,
    data: MnistData | None = None,
    sample_images: int = SAMPLE_IMAGES,
    verify: str = "load",
    allow_missing: bool = False,
) -> dict[str, Any]:
    """Check the shards, write manifest.json, the dataset card README.md and contact_sheet.png.

    ``allow_missing`` finalizes what is there when some shards are missing (a Step Functions run with
    tolerated failures): the manifest lists them under ``missing_shards`` and counts only the images made.

    Every shard must have its record and match it. ``verify`` says how far: ``"load"`` (the default,
    what ``hng dataset finalize`` does): the size and sha256, and each local shard must load with its
    format's reader and hold the planned count; ``"checksum"``: size and sha256; ``"size"``: size only,
    for the end of a run that has just hashed every shard itself (as it wrote or resumed it). ``run`` is
    the engine's ``RunStats`` then; its timing goes into the report. Raises ``IncompleteDataset`` naming
    the shards still to make.
    """
    if verify not in VERIFY_LEVELS:
        raise InvalidInput("verify", f"verify must be one of {', '.join(VERIFY_LEVELS)}, got {verify!r}")
    output = out if isinstance(out, Output) else open_output(out)
    text = output.read_text(PLAN_FILE)
    if text is None:
        raise InvalidInput("out", f"{output.url} holds no hng dataset ({PLAN_FILE} is missing)")
    plan = Plan.loads(text, output.url)
    spec = plan.spec
    records, missing = _check_shards(output, plan, verify=verify)
    if missing and (not allow_missing or not records):
        raise _incomplete(missing, plan, output)
    made = {record["index"] for record in records}
    data = data or load_mnist()
    sample = _sample(output, plan, sample_images, made)
    fidelity = _fidelity(sample, data, spec.split)
    output.write_bytes(CONTACT_SHEET_FILE, encode_png(_contact_sheet(sample)))
    if spec.numbers is not None:
        output.write_text(NUMBERS_FILE, "\n".join(spec.numbers) + "\n")
    format_facts = format_for(spec).dataset_files(output, plan, sorted(records, key=lambda r: r["index"]))
    report = _report(plan, records, fidelity, run)
    manifest = {
        "manifest_version": MANIFEST_VERSION,
        "hng_version": __version__,
        "created_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "plan_created_at": plan.created_at,
        "mnist": {"sha256": plan.mnist_sha256, "split": spec.split},
        "spec": spec.to_json(),
        "command": rebuild_command(spec, output.url, numbers_file=_numbers_path(output)),
        "images": report["images"],
        "complete": not missing,
        "missing_shards": missing,
        "shards": [
            {key: record[key] for key in ("index", "name", "images", "sha256", "bytes", "label_lengths")}
            for record in records
        ],
        "report": report,
    }
    if run is not None:
        manifest["run"] = run.to_json()
    if format_facts:
        manifest["format"] = format_facts
    manifest = Manifest.model_validate(manifest).to_json()
    from hng.datasets.card import render_card

    output.write_text(CARD_FILE, render_card(manifest))
    output.write_text(MANIFEST_FILE, json.dumps(manifest, indent=2) + "\n")
    output.clean_staging()
    logger.info(
        f"finalized {output.url}: {report['images']:,} images in {len(records)} shard"
        f"{'' if len(records) == 1 else 's'}"
        f"{f' ({len(missing)} missing)' if missing else ''}, "
        f"{report['duplicates']} duplicates, "
        f"label fidelity {fidelity['read_as_label']:.3f} ({fidelity['digits']} digits read)"
    )
    return manifest


def _report(plan: Plan, records: list[dict[str, Any]], fidelity: dict[str, Any], run: Any) -> dict[str, Any]:
    """What the shards' records add up to (label lengths, digits, duplicates), the fidelity measured on a
    sample, and the run's timing when that run made every shard."""
    label_lengths: dict[str, int] = {}
    digit_counts = np.zeros(10, dtype=np.int64)
    digests = []
    for record in records:
        for length, count in record["label_lengths"].items():
            label_lengths[length] = label_lengths.get(length, 0) + count
        digit_counts += np.array([record["digits"][str(d)] for d in range(10)], dtype=np.int64)
        digests.append(np.frombuffer(base64.b64decode(record["image_digests"]), dtype="<u8"))
    all_digests = np.concatenate(digests)
    report: dict[str, Any] = {
        "images": sum(record["images"] for record in records),
        "shards": plan.num_shards,
        "seconds": None,
        "images_per_second": None,
        "first_shard_seconds": None,
        "workers": None,
        "shard_seconds_total": round(sum(r.get("seconds", 0.0) for r in records), 3),
        "label_lengths": dict(sorted(label_lengths.items(), key=lambda item: int(item[0]))),
        "digits": {str(d): int(c) for d, c in enumerate(digit_counts.tolist())},
        "duplicates": int(all_digests.size - np.unique(all_digests).size),
        "fidelity": fidelity,
        "contact_sheet": CONTACT_SHEET_FILE,
    }
    if plan.spec.verify_labels:
        # Every digit was read back after augmentation; these were drawn again, or still not read right.
        report["verify_labels"] = {
            "digits": int(digit_counts.sum()),
            "redrawn": sum(r.get("redrawn", 0) for r in records),
            "unread": sum(r.get("unread", 0) for r in records),
        }
    if run is not None and run.shards_made == plan.num_shards:
        # Timing describes the whole dataset only when this run made every shard.
        report.update(
            seconds=round(run.seconds, 3),
            images_per_second=round(plan.spec.count / run.seconds, 1) if run.seconds else None,
            first_shard_seconds=None
            if run.first_shard_seconds is None
            else round(run.first_shard_seconds, 3),
            workers=run.workers,
        )
    return report


def _numbers_path(output: Output) -> str:
    """Where the rebuild command finds numbers.txt: in the dataset folder (downloaded first, for S3)."""
    return str(output.root / NUMBERS_FILE) if isinstance(output, LocalOutput) else NUMBERS_FILE


# S3 checks are one GET (the record) and one HEAD (the shard) per shard: run them side by side, as a
# 1,000-shard dataset would otherwise spend most of a finalizer's time waiting on round trips.
S3_CHECK_THREADS = 16


def _check_shards(output: Output, plan: Plan, *, verify: str) -> tuple[list[dict[str, Any]], list[int]]:
    """The records of the shards that are there, whole and the ones recorded; and the others' indices."""
    fmt = get_format(plan.spec.format)

    def check(k: int) -> dict[str, Any] | None:
        name = plan.shard_name(k)
        text = output.read_text(plan.record_name(k))
        record = None
        if text is not None:
            try:
                record = ShardRecord.loads(text, plan.record_name(k)).model_dump(exclude_none=True)
            except InvalidData:
                return None  # not a record hng writes: the shard is made again
        start, stop = shard_bounds(plan.spec, k)
        if (
            record is None
            or record["name"] != name
            or record["images"] != stop - start
            or not output.shard_matches(name, record, checksum=verify != "size")
        ):
            return None
        if verify == "load" and isinstance(output, LocalOutput):
            # Locally, "whole" also means it loads with its reader and holds the planned count.
            try:
                count = fmt.count(output.root / name)
            except ValueError:
                count = -1
            if count != stop - start:
                return None
        return record

    indices = range(plan.num_shards)
    if isinstance(output, LocalOutput):
        found = [check(k) for k in indices]
    else:
        with ThreadPoolExecutor(S3_CHECK_THREADS) as pool:
            found = list(pool.map(check, indices))
    records = [record for record in found if record is not None]
    missing = [k for k, record in zip(indices, found, strict=True) if record is None]
    return records, missing


def _incomplete(missing: list[int], plan: Plan, output: Output) -> IncompleteDataset:
    return IncompleteDataset(
        f"{len(missing)} of {plan.num_shards} shards are missing or damaged in {output.url} "
        f"(shards {', '.join(_ranges(missing))}): make them (re-run the same hng dataset command, or with "
        f"--shards {_first_range(missing)}), then finalize again",
        missing,
    )


def _ranges(indices: list[int]) -> list[str]:
    out: list[str] = []
    first = previous = indices[0]
    for k in [*indices[1:], None]:
        if k is not None and k == previous + 1:
            previous = k
            continue
        out.append(str(first) if first == previous else f"{first}-{previous}")
        if k is not None:
            first = previous = k
    return out if len(out) <= 12 else [*out[:12], "..."]


def _first_range(indices: list[int]) -> str:
    first = stop = indices[0]
    while stop + 1 in indices:
        stop += 1
    return f"{first}:{stop + 1}"


def _sample(output: Output, plan: Plan, sample_images: int, made: set[int]) -> Shard:
    """Up to ``sample_images`` images spread over up to SAMPLE_SHARDS evenly spaced shards (of those made)."""
    fmt = get_format(plan.spec.format)
    present = sorted(made)
    spread = np.linspace(0, len(present) - 1, min(SAMPLE_SHARDS, len(present))).astype(int)
    picked = sorted({present[i] for i in spread})
    per_shard = max(1, sample_images // len(picked))
    parts = []
    with tempfile.TemporaryDirectory(prefix="hng-sample-") as folder:
        for k in picked:
            start, stop = shard_bounds(plan.spec, k)
            rows = np.unique(np.linspace(0, stop - start - 1, min(per_shard, stop - start)).astype(int))
            try:
                part = fmt.read_rows(output.fetch(plan.shard_name(k), Path(folder)), k, start, rows.tolist())
            except (ValueError, FileNotFoundError) as error:
                raise IncompleteDataset(
                    f"{error}: make it again (re-run the same hng dataset command, or with --shards "
                    f"{k}:{k + 1}), then finalize again",
                    [k],
                ) from None
            parts.append(part)
    return _concat(parts)


def _concat(parts: list[Shard]) -> Shard:
    """One Shard of several shards' images (of one height and channels, as a dataset's are), padded to
    the widest image and the longest label."""
    width = max(int(p.images.shape[2]) for p in parts)
    longest = max(int(p.boxes.shape[1]) for p in parts)
    shapes = {(p.height, p.channels) for p in parts}
    if len(shapes) > 1:
        raise ValueError(f"shards of different image heights or channels: {sorted(shapes)}")

    def wider(array: np.ndarray) -> np.ndarray:
        extra = [(0, 0), (0, 0), (0, width - array.shape[2])] + [(0, 0)] * (array.ndim - 3)
        return np.pad(array, extra)

    images = np.concatenate([wider(p.images) for p in parts])

    def padded(array: np.ndarray) -> np.ndarray:
        extra = [(0, 0), (0, longest - array.shape[1])] + [(0, 0)] * (array.ndim - 2)
        return np.pad(array, extra, constant_values=PAD)

    return Shard(
        index=parts[0].index,
        start=parts[0].start,
        images=images,
        widths=np.concatenate([p.widths for p in parts]),
        labels=np.concatenate([p.labels.astype(f"<U{longest}") for p in parts]),
        lengths=np.concatenate([p.lengths for p in parts]),
        boxes=np.concatenate([padded(p.boxes) for p in parts]),
        seeds=np.concatenate([p.seeds for p in parts]),
        indices=np.concatenate([padded(p.indices) for p in parts]),
        split=parts[0].split,
        masks=None
        if any(p.masks is None for p in parts)
        else np.concatenate([wider(p.masks) for p in parts if p.masks is not None]),
        encoding=parts[0].encoding,
    )


def _fidelity(sample: Shard, data: MnistData, split: str) -> dict[str, Any]:
    from hng.quality.fidelity import fidelity_reader, label_fidelity

    reader = fidelity_reader(data, split)
    result = label_fidelity(
        sample.images, sample.widths, sample.labels, sample.lengths, sample.boxes, reader
    ).to_dict()
    result["sample_images"] = len(sample)
    return result


def _contact_sheet(sample: Shard) -> np.ndarray:
    """Eight rows of sample images, as many columns as fit in about 1,600 pixels, with each digit's box
    (and mask, when the shards hold masks) drawn in its colour: a BGR image for ``encode_png``. Images
    are shown at twice their size up to 64 rows high (28 by default), as they are above."""
    from hng.quality.contact_sheet import contact_sheet

    scale = 2 if sample.height <= 64 else 1
    columns = int(np.clip(SHEET_WIDTH // (scale * int(sample.widths.max()) + 8), 2, 8))
    count = min(SHEET_ROWS * columns, len(sample))
    rows = np.unique(np.linspace(0, len(sample) - 1, count).astype(int))
    part = sample.take(rows)
    return contact_sheet(
        part.images,
        part.widths,
        part.labels,
        columns=columns,
        scale=scale,
        boxes=part.boxes,
        masks=part.masks,
    )


__all__ = ["STAGING", "IncompleteDataset", "finalize_dataset"]
