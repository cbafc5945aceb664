"""``hng generate``: PNG images of one number, into a folder (or one file)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from hng.cli.options import add_document_options, add_spacing_options
from hng.core.files import write_atomically
from hng.core.params import DEFAULT_PRESET, PRESET_NAMES, SPLITS
from hng.document.options import document_options
from hng.errors import InvalidInput


def add_parser(commands: argparse._SubParsersAction) -> None:
    gen = commands.add_parser(
        "generate",
        help="write PNG images of a number",
        description=(
            "Write PNG images of NUMBER built from random MNIST digits, named {task_id}_{number}.png in "
            "the --out folder; an --out ending in .png writes that one file."
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
    add_spacing_options(gen)
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
    gen.add_argument(
        "--out",
        type=Path,
        default=Path("out"),
        help="output folder (default ./out), or a file ending in .png for one image",
    )
    gen.add_argument(
        "--masks", action="store_true",
        help="also write {task_id}_{number}_mask.png: 0 background, k the k-th digit's pixels",
    )  # fmt: skip
    gen.add_argument(
        "--metadata", action="store_true", help="also write {task_id}_{number}.json (boxes, seed)"
    )
    add_document_options(gen)
    gen.set_defaults(handler=run)


def augment_choice(args: argparse.Namespace) -> str | None:
    augment_given = args.augment is not None
    if args.preset is None:
        return DEFAULT_PRESET if args.augment else None
    if args.preset == "none":
        if args.augment:
            raise InvalidInput("--augment", "--augment 1 contradicts --preset none")
        return None
    if args.augment == 0 and augment_given:
        raise InvalidInput("--augment", f"--augment 0 contradicts --preset {args.preset}")
    return args.preset


def _check_out_folder(out: Path) -> None:
    """InvalidInput (a usage problem, exit 2) if --out names a file, or a path under a file."""
    if out.exists() and not out.is_dir():
        raise InvalidInput("--out", f"--out {out} is a file; it must be a folder (existing or to be created)")
    for parent in out.parents:
        if parent.exists():
            if not parent.is_dir():
                raise InvalidInput("--out", f"--out {out} lies under {parent}, which is a file, not a folder")
            return


def _io_error(out: Path, what: str, error: OSError) -> int:
    """One line for an I/O fault on --out (permission, read-only or full disk): exit 1, not a usage error."""
    print(f"hng generate: --out {out}: {what}: {error.strerror or error}", file=sys.stderr)
    return 1


def _single_file(out: Path, count: int, suffix: str) -> bool:
    """Whether --out names the one image to write (it ends in the encoding's suffix, .png or .jpg, and
    is not an existing folder)."""
    if out.suffix.lower() not in _SUFFIXES[suffix] or out.is_dir():
        return False
    if count != 1:
        raise InvalidInput(
            "--out", f"--out {out} names one image file, but --count is {count}: give a folder for several"
        )
    return True


_SUFFIXES = {".png": (".png",), ".jpg": (".jpg", ".jpeg")}


def mask_path(path: Path) -> Path:
    """Where an image's mask goes: beside it, ``_mask`` before the suffix."""
    return path.with_name(f"{path.stem}_mask{path.suffix}")


def run(args: argparse.Namespace) -> int:
    from hng.core.generation import default_generator
    from hng.core.ids import new_task_id
    from hng.core.params import MAX_SPACING, check_int, parse_image_width, parse_number, parse_seed
    from hng.core.seeding import MAX_SEED

    # Everything is checked before the first file is written, so a bad argument never leaves a partial run.
    label = parse_number(args.number, "-n/--number")
    low = check_int("-smin/--spacing-min", args.spacing_min, minimum=0, maximum=MAX_SPACING)
    high = check_int("-smax/--spacing-max", args.spacing_max, minimum=0, maximum=MAX_SPACING)
    if low > high:
        raise InvalidInput(
            "-smin/--spacing-min",
            f"-smin/--spacing-min ({low}) must not be greater than -smax/--spacing-max ({high})",
        )
    width = parse_image_width(args.image_width, "-w/--image-width")
    if args.count < 1:
        raise InvalidInput("--count", f"--count must be >= 1, got {args.count}")
    base_seed = parse_seed(args.seed, "--seed")
    if base_seed is not None and base_seed + args.count - 1 > MAX_SEED:
        fix = "use a smaller --count"
        if args.count <= MAX_SEED + 1:
            fix = f"use --seed <= {MAX_SEED - args.count + 1} or a smaller --count"
        raise InvalidInput(
            "--seed",
            f"--seed {base_seed} with --count {args.count} needs seeds up to {base_seed + args.count - 1} "
            f"(image k uses --seed + k), but seeds must be <= {MAX_SEED}: {fix}",
        )
    augment = augment_choice(args)
    from hng.core.encoding import DEFAULT_JPEG_QUALITY, SUFFIXES, jpeg_quality_for, parse_jpeg_quality
    from hng.core.generation import resolve_appearance
    from hng.core.params import check_choice

    look_fields = document_options(args)
    resolve_appearance(**look_fields)  # every document option checked before the first file
    encoding = check_choice("image_encoding", args.image_encoding, tuple(SUFFIXES))
    quality = DEFAULT_JPEG_QUALITY if args.jpeg_quality is None else parse_jpeg_quality(args.jpeg_quality)
    if args.jpeg_quality is not None and encoding != "jpeg":
        raise InvalidInput("jpeg_quality", "jpeg_quality applies to image_encoding jpeg only")
    suffix = SUFFIXES[encoding]
    out: Path = args.out
    single = _single_file(out, args.count, suffix)
    folder = out.parent if single else out
    try:
        _check_out_folder(folder)
    except OSError as error:
        return _io_error(out, "cannot inspect the folder", error)
    try:
        folder.mkdir(parents=True, exist_ok=True)
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
            masks=args.masks,
            **look_fields,
        )
        task_id = new_task_id()
        path = out if single else out / f"{task_id}_{label}{suffix}"
        try:
            write_atomically(path, result.encode(encoding, jpeg_quality_for(result.seed, quality)))
            if args.masks:
                write_atomically(mask_path(path).with_suffix(".png"), result.mask_png())
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
