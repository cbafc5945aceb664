"""``hng dataset``: make a dataset in shards (all cores), resume it, finalize it."""

from __future__ import annotations

import argparse
from typing import Any

from hng.cli.options import (
    UsageParser,
    add_document_options,
    add_spacing_options,
    plural,
    print_library_logs,
)
from hng.document.options import document_options
from hng.errors import InvalidInput


def add_parser(commands: argparse._SubParsersAction) -> None:
    ds = commands.add_parser(
        "dataset",
        help="make a dataset of many labelled images, in the files its trainer reads",
        description=(
            "Make COUNT labelled images in shards under OUT (a folder or s3://bucket/prefix), with all the "
            "cores, then write manifest.json, a dataset card (README.md) and contact_sheet.png. Re-running "
            "the same command resumes an interrupted run. `hng dataset finalize --out OUT` finishes a "
            "dataset whose shards were made on several machines with --shards."
        ),
    )
    ds.add_argument("--count", type=int, default=None, help="how many images (1 to 10^8)")
    ds.add_argument("--out", default=None, help="output folder, or s3://bucket/prefix (required)")
    ds.add_argument(
        "--format",
        default="npz",
        help=(
            "shard format: npz (default), webdataset, imagefolder, yolo, coco, voc, paddleocr, lmdb or doctr"
        ),
    )
    ds.add_argument(
        "--shard-size", "--shard_size", dest="shard_size", type=int, default=10_000,
        help="images per shard (default 10000, at most 100000)",
    )  # fmt: skip
    ds.add_argument(
        "--digits", default=None,
        help="digits per number: a length (5, the default) or an inclusive range (3-8)",
    )  # fmt: skip
    ds.add_argument(
        "--numbers-file", "--numbers_file", dest="numbers_file", default=None, metavar="FILE",
        help="draw the numbers from FILE (one per line) instead of at random",
    )  # fmt: skip
    ds.add_argument(
        "--numbers-mode", "--numbers_mode", dest="numbers_mode", default="cycle",
        help="with --numbers-file: cycle (image i gets line i mod N; default) or sample (at random)",
    )  # fmt: skip
    add_spacing_options(ds)
    ds.add_argument(
        "-w", "--image-width", "--image_width", dest="image_width", type=int, default=None,
        help="one width for all images (default 28 x the longest length)",
    )  # fmt: skip
    ds.add_argument(
        "--width-per-digit", "--width_per_digit", dest="width_per_digit", type=int, default=None,
        help="width = this x the number's length (instead of --image-width)",
    )  # fmt: skip
    ds.add_argument(
        "--fit", default="stretch",
        help="stretch (resize to the width; default) or pad (pad the strip with black; squeeze if wider)",
    )  # fmt: skip
    ds.add_argument("--preset", default="none", help="augmentation: none (default), mild or strong")
    ds.add_argument("--split", default="train", help="MNIST split: train (default) or test")
    ds.add_argument("--seed", type=int, default=None, help="dataset seed (default: drawn and recorded)")
    ds.add_argument("--compress", action="store_true", help="deflate npz shards (smaller, slower)")
    ds.add_argument(
        "--masks", action="store_true",
        help="store each image's per-digit mask (npz, webdataset, imagefolder)",
    )  # fmt: skip
    ds.add_argument(
        "--objects", default="digits",
        help="detection objects: digits (default), number (one box per number, class 10) or both",
    )  # fmt: skip
    ds.add_argument(
        "--yolo-task", "--yolo_task", dest="yolo_task", default="detect",
        help="yolo format: detect (boxes; default) or segment (polygons traced from the masks)",
    )  # fmt: skip
    ds.add_argument(
        "--verify-labels", "--verify_labels", dest="verify_labels", action="store_true",
        help="read every digit back after augmentation and redraw those not read as their label",
    )  # fmt: skip
    add_document_options(ds)
    ds.add_argument(
        "--workers", "-j", type=int, default=None, help="worker processes (default: the cores available)"
    )
    ds.add_argument(
        "--shards", default=None, metavar="I:J",
        help="make only shards I to J-1 of the plan (one machine's part; then `hng dataset finalize`)",
    )  # fmt: skip
    ds.add_argument(
        "--overwrite", action="store_true", help="replace another dataset (or other files) in OUT"
    )
    ds.set_defaults(handler=run, dataset_command=None)
    sub = ds.add_subparsers(dest="dataset_command", parser_class=UsageParser, metavar="{finalize,resume}")
    fin = sub.add_parser(
        "finalize",
        help="check every shard and write manifest.json, README.md and contact_sheet.png",
        description=(
            "Check that every shard of the dataset in OUT is there and whole (it loads, with the planned "
            "count), then write manifest.json (checksums, report), the dataset card and the contact sheet."
        ),
    )
    fin.add_argument("--out", required=True, help="the dataset's folder or s3://bucket/prefix")
    fin.set_defaults(handler=run, dataset_command="finalize")
    res = sub.add_parser(
        "resume",
        help="make the missing shards of the dataset planned in OUT, then finalize it",
        description=(
            "Read plan.json in OUT (written by an interrupted run, another machine or POST /datasets), make "
            "the shards not yet made, then finalize. No other option is needed: the plan holds the spec."
        ),
    )
    res.add_argument("--out", required=True, help="the dataset's folder or s3://bucket/prefix")
    res.add_argument(
        "--workers", "-j", type=int, default=None, help="worker processes (default: the cores available)"
    )
    res.set_defaults(handler=run, dataset_command="resume")


def dataset_spec(args: argparse.Namespace) -> Any:
    from hng.datasets.spec import DatasetSpec, read_numbers_file

    if args.count is None:
        raise InvalidInput("--count", "--count is required (how many images to make)")
    fields = {
        "count": args.count,
        "shard_size": args.shard_size,
        "numbers_mode": args.numbers_mode,
        "spacing_min": args.spacing_min,
        "spacing_max": args.spacing_max,
        "image_width": args.image_width,
        "width_per_digit": args.width_per_digit,
        "fit": args.fit,
        "preset": args.preset,
        "split": args.split,
        "seed": args.seed,
        "format": args.format,
        "compress": args.compress,
        "masks": args.masks,
        "objects": args.objects,
        "yolo_task": args.yolo_task,
        "image_encoding": args.image_encoding,
        "verify_labels": args.verify_labels,
        **document_options(args),
    }
    if args.jpeg_quality is not None:
        fields["jpeg_quality"] = args.jpeg_quality
    if args.numbers_file is not None:
        if args.digits is not None:
            raise InvalidInput("--digits", "--digits and --numbers-file exclude each other: give one")
        try:
            fields["numbers"] = read_numbers_file(args.numbers_file)
        except ValueError as error:
            raise InvalidInput("--numbers-file", f"--numbers-file: {error}") from None
    elif args.digits is not None:
        fields["digits"] = args.digits
    return DatasetSpec.build(**fields)


def _check_workers(workers: int | None) -> None:
    if workers is not None and workers < 1:
        raise InvalidInput("--workers", f"--workers must be >= 1, got {workers}")


def run(args: argparse.Namespace) -> int:
    print_library_logs()
    if not args.out:
        raise InvalidInput("--out", "--out is required (a folder, or s3://bucket/prefix)")
    if args.dataset_command == "finalize":
        from hng.datasets.finalize import finalize_dataset

        manifest = finalize_dataset(args.out)
    elif args.dataset_command == "resume":
        from hng.datasets.engine import resume_dataset

        _check_workers(args.workers)
        manifest = resume_dataset(args.out, workers=args.workers, progress=None)
    else:
        from hng.datasets.engine import make_dataset

        spec = dataset_spec(args)
        _check_workers(args.workers)
        result = make_dataset(
            spec,
            args.out,
            workers=args.workers,
            shards=args.shards,
            overwrite=args.overwrite,
            progress=None,
        )
        if "report" not in result:
            run = result["run"]
            made = plural(run["shards_made"], "shard")
            print(
                f"{args.out}: made {made} ({run['images_made']:,} images), "
                f"{run['shards_skipped']} already there; run `hng dataset finalize --out {args.out}` "
                "once every shard is made"
            )
            return 0
        manifest = result
    report = manifest["report"]
    speed = f", {report['images_per_second']:,.0f} images/s" if report["images_per_second"] else ""
    print(
        f"{args.out}: {report['images']:,} images in {plural(report['shards'], 'shard')}{speed}; "
        f"duplicates {report['duplicates']}; label fidelity {report['fidelity']['read_as_label']:.3f}; "
        "manifest.json, README.md, contact_sheet.png"
    )
    return 0
