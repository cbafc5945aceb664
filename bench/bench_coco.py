"""The coco format's figures: write speed, bytes per image, and the merged file. Prints, asserts nothing.

- write speed: one shard of 10,000 random 5-digit numbers at width 140 (seed 1, the full MNIST build),
  end to end with ``hng.make_dataset(..., workers=1)`` (generation with masks, writing, publishing,
  finalize), then the parts of one shard in this process: ``make_shard(masks=True)``, the instances file
  alone (``instances_text``: RLE encoding and JSON), and ``CocoFormat.write`` (PNGs, the instances file,
  hng.jsonl); and reading it back (``count``, ``read`` with the masks);
- bytes per image: the shard's files by kind (PNGs, the instances file, hng.jsonl) over its images;
- the merged file (``--merge N``, default 100,000 images in shards of 10,000, made with ``--workers``):
  its size per 10^5 images, and the time and Python peak memory (tracemalloc) of ``dataset_files``.

    .venv/bin/python bench/bench_coco.py [--merge N] [--workers W] [--out-dir DIR]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
import tracemalloc
from pathlib import Path

import hng
from hng.datasets import DatasetSpec, make_dataset
from hng.datasets.formats import format_for
from hng.datasets.formats.coco import instances_text
from hng.datasets.output import LocalOutput
from hng.datasets.plan import PLAN_FILE, Plan
from hng.datasets.shard import make_shard

SPEC = {"count": 10_000, "shard_size": 10_000, "digits": 5, "image_width": 140, "seed": 1, "format": "coco"}


def timed(action):  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    result = action()
    return result, time.perf_counter() - started


def sizes(folder: Path) -> dict[str, int]:
    kinds = {"png": 0, "instances": 0, "hng.jsonl": 0}
    for path in folder.rglob("*"):
        if path.is_file():
            kind = (
                "png" if path.suffix == ".png" else "hng.jsonl" if path.name == "hng.jsonl" else "instances"
            )
            kinds[kind] += path.stat().st_size
    return kinds


def write_speed(work: Path, data: hng.MnistData) -> None:
    manifest, seconds = timed(lambda: make_dataset(SPEC, work / "one", workers=1, data=data))
    shard_seconds = manifest["run"]["seconds"]
    rate = 10_000 / seconds
    print(f"make_dataset, 10,000 images, 1 worker: {seconds:.2f} s end to end ({rate:,.0f} images/s)")
    print(f"  of which the shard (make, write, hash, publish): {shard_seconds:.2f} s")

    spec = DatasetSpec.build(**SPEC)
    fmt = format_for(spec)
    generator = hng.Generator(data)
    shard, made = timed(lambda: make_shard(spec, 0, generator, masks=True))
    text, encoded = timed(lambda: instances_text(shard, "digits"))
    _, written = timed(lambda: fmt.write(shard, work / "shard-00000"))
    count, counted = timed(lambda: fmt.count(work / "shard-00000"))
    _, read = timed(lambda: fmt.read(work / "shard-00000", 0, 0))
    annotations = len(json.loads(text)["annotations"])
    print(f"make_shard(masks=True): {made:.2f} s ({10_000 / made:,.0f} images/s)")
    print(f"instances_text (RLE + JSON, {annotations:,} annotations): {encoded:.2f} s")
    print(f"CocoFormat.write: {written:.2f} s ({10_000 / written:,.0f} images/s)")
    print(f"count: {counted:.2f} s ({count} images); read with masks: {read:.2f} s")
    kinds = sizes(work / "shard-00000")
    total = sum(kinds.values())
    print(
        f"bytes per image: {total / 10_000:,.0f} ("
        + ", ".join(f"{k} {v / 10_000:,.0f}" for k, v in kinds.items())
        + ")"
    )


def merged(work: Path, data: hng.MnistData, images: int, workers: int) -> None:
    spec = {**SPEC, "count": images}
    root = work / "merge"
    _, seconds = timed(lambda: make_dataset(spec, root, workers=workers, data=data, finalize=False))
    print(f"made {images:,} images with {workers} workers in {seconds:.1f} s")
    output = LocalOutput(root)
    plan = Plan.loads((root / PLAN_FILE).read_text(), str(root))
    records = [
        json.loads((root / ".hng" / "shards" / f"{plan.shard_name(k)}.json").read_text())
        for k in range(plan.num_shards)
    ]
    tracemalloc.start()
    facts, merge_seconds = timed(lambda: format_for(plan.spec).dataset_files(output, plan, records))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    size = (root / facts["files"][0]).stat().st_size
    per_shard = (root / plan.shard_name(0) / facts["annotation_file"]).stat().st_size
    print(
        f"merged file: {size / 2**20:,.1f} MiB for {images:,} images ({size / images:,.0f} bytes per image, "
        f"{size * 100_000 / images / 2**20:,.1f} MiB per 10^5 images; "
        f"a shard's file {per_shard / 2**20:,.1f} MiB)"
    )
    print(f"dataset_files: {merge_seconds:.2f} s, Python peak memory {peak / 2**20:,.1f} MiB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--merge", type=int, default=100_000, help="images of the merged-file run (0: skip)")
    parser.add_argument("--workers", type=int, default=2, help="workers of the merged-file run")
    parser.add_argument("--out-dir", type=Path, default=None)
    args = parser.parse_args()
    data = hng.load_mnist()
    with tempfile.TemporaryDirectory(dir=args.out_dir, prefix="hng-bench-coco-") as folder:
        write_speed(Path(folder), data)
        if args.merge:
            merged(Path(folder), data, args.merge, args.workers)


if __name__ == "__main__":
    main()
