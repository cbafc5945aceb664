"""The imagefolder shard format: a folder ``shard-00000/`` of ``{key}.png`` files (``{key}.jpg`` with
``--image-encoding jpeg``; grey or RGB, ``Shard.encoded_image``) and a ``metadata.jsonl``.

``metadata.jsonl`` has one line per image, in order: ``{"file_name": "{key}.png", **Shard.record(i),
"objects": {...}}`` (file_name, key, label, width, boxes, seed, indices, split, objects; compact JSON, so
the bytes are fixed). ``objects`` is what Hugging Face's object-detection datasets hold: ``bbox`` as
COCO's [x, y, width, height] in pixels and ``category`` (0-9 for digits, 10 for the whole number with
``--objects number|both``), one entry per visible digit. With ``--masks`` each image also has
``{key}.mask.png`` (8-bit greyscale, the digit labels, 0 background; always PNG), named in its line as
``mask_file_name``: ``datasets`` loads it as a second Image column, ``mask``.

Hugging Face ``datasets`` (checked with 5.2.0): ``load_dataset("imagefolder", data_dir=<dataset root>,
split="train")`` loads every shard folder at once, and so does ``load_dataset(<dataset root>)``. It finds
all ``metadata.jsonl`` files under data_dir (one per folder is allowed) and takes each row's file_name
relative to its own metadata file. As soon as any metadata file exists, rows come only from the metadata
files: no class labels are inferred from the folder names (``drop_labels`` is not needed), our ``label``
column stays the string label, and an image no metadata file lists (contact_sheet.png in the root) is not
a row. Other files are ignored: JSON and Markdown are neither images nor metadata, and dot-folders such as
``.hng/`` are skipped (even a PNG or a metadata.jsonl in them). Columns: ``image`` (Image, from file_name),
then the record's fields; all metadata files have the same columns, as the library requires.

Two things to know. (1) The library keeps the metadata files in a set, so the ORDER OF THE SHARDS in the
loaded dataset changes from run to run (it follows PYTHONHASHSEED); rows within a shard keep their order.
Sort by ``key`` for the dataset's order. (2) A file in the root whose name holds a split keyword (train,
test, validation, eval, ... between separators, as in ``sheet_test.png``) makes the library split the
files by name, and ``split="train"`` then fails: the root must not hold such names.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from hng.core.encoding import decode_image
from hng.core.files import write_new_file
from hng.core.png import decode_png, encode_png
from hng.datasets.formats import (
    ImageFiles,
    RecordFormat,
    Scan,
    ShardProblem,
    image_objects,
    record_problem,
    shard_from_scan,
)
from hng.datasets.shard import Shard

METADATA = "metadata.jsonl"


MASK_SUFFIX = ".mask.png"


def metadata_line(shard: Shard, i: int, objects: str = "digits") -> str:
    """Image i's line of metadata.jsonl (with its newline)."""
    row: dict[str, Any] = {"file_name": f"{shard.key(i)}{shard.image_suffix}"}
    if shard.masks is not None:
        row["mask_file_name"] = f"{shard.key(i)}{MASK_SUFFIX}"
    row.update(shard.record(i))
    found = image_objects(shard, i, objects)
    row["objects"] = {
        "bbox": [[o.x0, o.y0, o.x1 - o.x0, o.y1 - o.y0] for o in found],
        "category": [o.category for o in found],
    }
    return json.dumps(row, separators=(",", ":")) + "\n"


class ImageFolderFormat(RecordFormat):
    """One folder per shard: an image file per image and metadata.jsonl (see the module docstring)."""

    name = "imagefolder"
    suffix = ""
    holds_masks = True
    takes_objects = True

    def write(self, shard: Shard, path: Path, *, compress: bool = False) -> None:
        """Write the folder image by image; ``compress`` is ignored."""
        self._check(shard)
        path = Path(path)
        path.mkdir()
        with open(path / METADATA, "x", encoding="utf-8", newline="\n") as metadata:
            for i in range(len(shard)):
                write_new_file(path / f"{shard.key(i)}{shard.image_suffix}", shard.encoded_image(i))
                if shard.masks is not None:
                    mask = encode_png(np.ascontiguousarray(shard.mask(i)))
                    write_new_file(path / f"{shard.key(i)}{MASK_SUFFIX}", mask)
                metadata.write(metadata_line(shard, i, self.objects))

    def read_rows(self, path: Path, index: int, start: int, rows: Sequence[int]) -> Shard:
        """The images ``rows`` only: their metadata lines and files; no other image is opened."""
        path = Path(path)
        try:
            lines = (path / METADATA).read_text(encoding="utf-8").splitlines()
            records, images, masks = [], [], []
            files = ImageFiles()
            for row in rows:
                line = json.loads(lines[row])
                records.append(_record(line))
                data = (path / line["file_name"]).read_bytes()
                problem = files.problem(data, int(line["width"]), line["file_name"])
                if problem:
                    raise ValueError(f"{line['file_name']}: {problem}")
                images.append(decode_image(data))
                if "mask_file_name" in line:
                    masks.append(decode_png((path / line["mask_file_name"]).read_bytes()))
            if masks and len(masks) != len(images):
                raise ValueError("some images have a mask and some do not")
            scan = Scan(records, images, masks or None, files.kind)
            return shard_from_scan(index, start, scan, rows=list(rows))
        except (OSError, ValueError, KeyError, IndexError, TypeError) as exc:
            raise self._bad(path, f"{type(exc).__name__}: {exc}") from exc

    def _scan(self, path: Path, *, decode: bool) -> Scan:
        """Check metadata.jsonl line by line, each file it names (whole, of its width), and no other file."""
        path = Path(path)
        if not path.exists():
            raise FileNotFoundError(f"shard folder not found: {path}")
        try:
            return _scan_folder(path, decode)
        except ShardProblem as exc:
            raise self._bad(path, str(exc)) from exc
        except (OSError, ValueError) as exc:  # ValueError: JSON, UTF-8, PNG
            raise self._bad(path, f"{type(exc).__name__}: {exc}") from exc


def _record(line: dict[str, Any]) -> dict[str, Any]:
    """The ``Shard.record`` part of a metadata line."""
    return {k: v for k, v in line.items() if k not in ("file_name", "mask_file_name", "objects")}


def _scan_folder(path: Path, decode: bool) -> Scan:
    if not path.is_dir():
        raise ShardProblem("not a folder")
    try:
        text = (path / METADATA).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ShardProblem(f"no {METADATA}") from None
    if text and not text.endswith("\n"):
        raise ShardProblem(f"{METADATA} does not end with a newline (truncated?)")
    records: list[dict[str, Any]] = []
    images: list[np.ndarray] = []
    masks: list[np.ndarray] = []
    names = {METADATA}
    files = ImageFiles()
    previous: int | None = None
    with_masks: bool | None = None
    for number, line in enumerate(text.splitlines(), 1):
        row = json.loads(line)
        if not isinstance(row, dict):
            raise ShardProblem(f"{METADATA} line {number} is not a JSON object")
        record = _record(row)
        key = str(record.get("key"))
        problem = record_problem(record, key)
        if problem:
            raise ShardProblem(f"{METADATA} line {number}: {problem}")
        if previous is not None and int(key) != previous + 1:
            raise ShardProblem(f"{METADATA} line {number}: key {key} follows {previous:09d}")
        previous = int(key)
        # The first image's file name gives the suffix, .png or .jpg (ImageFiles checks the bytes agree).
        suffix = files.kind.suffix if files.kind else os.path.splitext(str(row.get("file_name")))[1]
        expected = {"file_name": f"{key}{suffix}"}
        if with_masks is None:
            with_masks = "mask_file_name" in row
        if with_masks:
            expected["mask_file_name"] = f"{key}{MASK_SUFFIX}"
        for column, file_name in expected.items():
            if row.get(column) != file_name:
                raise ShardProblem(
                    f"{METADATA} line {number}: {column} {row.get(column)!r}, not {file_name!r}"
                )
            try:
                data = (path / file_name).read_bytes()
            except FileNotFoundError:
                raise ShardProblem(f"{file_name} is missing") from None
            width = int(record["width"])
            if column == "file_name":
                problem = files.problem(data, width, file_name)
            else:
                problem = files.mask_problem(data, width)
            if problem:
                raise ShardProblem(f"{file_name}: {problem}")
            names.add(file_name)
            if decode:
                if column == "file_name":
                    images.append(decode_image(data))
                else:
                    masks.append(decode_png(data))
        if not with_masks and "mask_file_name" in row:
            raise ShardProblem(f"{METADATA} line {number}: a mask where the first image has none")
        records.append(record)
    extra = sorted(set(os.listdir(path)) - names)
    if extra:
        raise ShardProblem(f"files {METADATA} does not list: {', '.join(extra[:5])}")
    return Scan(records, images, masks if with_masks and decode else None, files.kind)
