"""The imagefolder shard format: a folder ``shard-00000/`` of ``{key}.png`` files and a ``metadata.jsonl``.

``metadata.jsonl`` has one line per image, in order: ``{"file_name": "{key}.png", **Shard.record(i)}``
(file_name, key, label, width, boxes, seed, indices, split; compact JSON, so the bytes are fixed).

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

from hng.core.png import decode_png, encode_png
from hng.datasets.formats import RecordFormat, ShardProblem, png_problem, record_problem, shard_from_records
from hng.datasets.shard import Shard

METADATA = "metadata.jsonl"


def metadata_line(shard: Shard, i: int) -> str:
    """Image i's line of metadata.jsonl (with its newline)."""
    row = {"file_name": f"{shard.key(i)}.png", **shard.record(i)}
    return json.dumps(row, separators=(",", ":")) + "\n"


class ImageFolderFormat(RecordFormat):
    """One folder per shard: a PNG per image and metadata.jsonl (see the module docstring)."""

    name = "imagefolder"
    suffix = ""

    def write(self, shard: Shard, path: Path, *, compress: bool = False) -> None:
        """Write the folder image by image; ``compress`` is ignored."""
        self._check(shard)
        path = Path(path)
        path.mkdir()
        with open(path / METADATA, "x", encoding="utf-8", newline="\n") as metadata:
            for i in range(len(shard)):
                with open(path / f"{shard.key(i)}.png", "xb") as fh:
                    fh.write(encode_png(np.ascontiguousarray(shard.image(i))))
                metadata.write(metadata_line(shard, i))

    def read_rows(self, path: Path, index: int, start: int, rows: Sequence[int]) -> Shard:
        """The images ``rows`` only: their metadata lines and PNGs; no other PNG is opened."""
        path = Path(path)
        try:
            lines = (path / METADATA).read_text(encoding="utf-8").splitlines()
            records, images = [], []
            for row in rows:
                record = {k: v for k, v in json.loads(lines[row]).items() if k != "file_name"}
                records.append(record)
                images.append(decode_png((path / f"{record['key']}.png").read_bytes()))
            return shard_from_records(index, start, records, images, rows=list(rows))
        except (OSError, ValueError, KeyError, IndexError, TypeError) as exc:
            raise self._bad(path, f"{type(exc).__name__}: {exc}") from exc

    def _scan(self, path: Path, *, decode: bool) -> tuple[list[dict[str, Any]], list[np.ndarray]]:
        """Check metadata.jsonl line by line, each PNG it names (whole, of its width), and no other file."""
        path = Path(path)
        if not path.exists():
            raise FileNotFoundError(f"shard folder not found: {path}")
        try:
            return _scan_folder(path, decode)
        except ShardProblem as exc:
            raise self._bad(path, str(exc)) from exc
        except (OSError, ValueError) as exc:  # ValueError: JSON, UTF-8, PNG
            raise self._bad(path, f"{type(exc).__name__}: {exc}") from exc


def _scan_folder(path: Path, decode: bool) -> tuple[list[dict[str, Any]], list[np.ndarray]]:
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
    names = {METADATA}
    previous: int | None = None
    for number, line in enumerate(text.splitlines(), 1):
        row = json.loads(line)
        if not isinstance(row, dict):
            raise ShardProblem(f"{METADATA} line {number} is not a JSON object")
        record = {k: v for k, v in row.items() if k != "file_name"}
        key = str(record.get("key"))
        problem = record_problem(record, key)
        if problem:
            raise ShardProblem(f"{METADATA} line {number}: {problem}")
        if previous is not None and int(key) != previous + 1:
            raise ShardProblem(f"{METADATA} line {number}: key {key} follows {previous:09d}")
        previous = int(key)
        file_name = f"{key}.png"
        if row.get("file_name") != file_name:
            raise ShardProblem(
                f"{METADATA} line {number}: file_name {row.get('file_name')!r}, not {file_name!r}"
            )
        try:
            data = (path / file_name).read_bytes()
        except FileNotFoundError:
            raise ShardProblem(f"{file_name} is missing") from None
        problem = png_problem(data, int(record["width"]))
        if problem:
            raise ShardProblem(f"{file_name}: {problem}")
        names.add(file_name)
        records.append(record)
        if decode:
            images.append(decode_png(data))
    extra = sorted(set(os.listdir(path)) - names)
    if extra:
        raise ShardProblem(f"files {METADATA} does not list: {', '.join(extra[:5])}")
    return records, images
