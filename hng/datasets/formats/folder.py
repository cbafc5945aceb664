"""The base of the trainer formats that are folders of images beside label files (yolo, coco, voc, ...).

A shard is a folder ``shard-00000/``: each image a file at the format's ``image_path`` (for example
``images/train/000000042.png``: a PNG, grey or RGB, or with ``--image-encoding jpeg`` a ``.jpg``,
``Shard.encoded_image``), the trainer's own label files (``write_labels``), and ``hng.jsonl``,
hng's record of every image (``{"image": <path in the shard>, **Shard.record(i)}``, compact, in order),
so that hng can count, check and read the shard back (seeds and MNIST indices, which no trainer file
holds) without parsing the trainer's files. Trainers ignore ``hng.jsonl``.

Paths inside label files that a trainer resolves from the dataset's root (PaddleOCR's, COCO's merged
file) start with the shard's folder name, which ``write`` gets as ``path.name``.
"""

from __future__ import annotations

import abc
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from hng.core.encoding import decode_image
from hng.core.files import write_new_file
from hng.datasets.checksum import shard_files
from hng.datasets.formats import (
    ImageFiles,
    ImageKind,
    RecordFormat,
    Scan,
    ShardProblem,
    record_problem,
    shard_from_scan,
)
from hng.datasets.shard import Shard

RECORDS = "hng.jsonl"


class FolderFormat(RecordFormat):
    """A folder per shard: image files, the trainer's label files and ``hng.jsonl`` (module docstring)."""

    suffix = ""

    def image_path(self, shard: Shard, i: int) -> str:
        """Where image i goes inside the shard's folder ('/'-separated)."""
        return f"images/{shard.key(i)}{shard.image_suffix}"

    @abc.abstractmethod
    def write_labels(self, shard: Shard, path: Path, image_paths: list[str]) -> list[str]:
        """Write the trainer's label files into the shard folder ``path`` (images are written); returns
        their paths inside it ('/'-separated). Same shard, same bytes: fixed key order and number format."""

    def write(self, shard: Shard, path: Path, *, compress: bool = False) -> None:
        """Write the folder: the images, the label files, then hng.jsonl; ``compress`` is ignored."""
        self._check(shard)
        path = Path(path)
        path.mkdir()
        image_paths = [self.image_path(shard, i) for i in range(len(shard))]
        for folder in sorted({os.path.dirname(p) for p in image_paths} - {""}):
            (path / folder).mkdir(parents=True, exist_ok=True)
        for i, relative in enumerate(image_paths):
            write_new_file(path / relative, shard.encoded_image(i))
        self.write_labels(shard, path, image_paths)
        with open(path / RECORDS, "x", encoding="utf-8", newline="\n") as records:
            for i, relative in enumerate(image_paths):
                records.write(
                    json.dumps({"image": relative, **shard.record(i)}, separators=(",", ":")) + "\n"
                )

    def label_files(self, path: Path, records: list[dict[str, Any]], kind: ImageKind | None) -> list[str]:
        """The label files a whole shard holds beside its images (paths inside it), for the check that it
        holds nothing else; ``write_labels`` returns the same list. ``kind``: the images' (their
        suffix), None for a shard without images."""
        return []

    def read_rows(self, path: Path, index: int, start: int, rows: Sequence[int]) -> Shard:
        """The images ``rows`` only: their hng.jsonl lines and image files."""
        path = Path(path)
        try:
            lines = (path / RECORDS).read_text(encoding="utf-8").splitlines()
            records, images = [], []
            files = ImageFiles()
            for row in rows:
                line = json.loads(lines[row])
                records.append({k: v for k, v in line.items() if k != "image"})
                data = (path / line["image"]).read_bytes()
                problem = files.problem(data, int(line["width"]), line["image"])
                if problem:
                    raise ValueError(f"{line['image']}: {problem}")
                images.append(decode_image(data))
            return shard_from_scan(index, start, Scan(records, images, None, files.kind), rows=list(rows))
        except (OSError, ValueError, KeyError, IndexError, TypeError) as exc:
            raise self._bad(path, f"{type(exc).__name__}: {exc}") from exc

    def _scan(self, path: Path, *, decode: bool) -> Scan:
        """Check hng.jsonl line by line, each image file it names (whole, of its width, all alike), the
        label files, and that the folder holds nothing else."""
        path = Path(path)
        if not path.exists():
            raise FileNotFoundError(f"shard folder not found: {path}")
        try:
            return self._scan_folder(path, decode)
        except ShardProblem as exc:
            raise self._bad(path, str(exc)) from exc
        except (OSError, ValueError) as exc:  # ValueError: JSON, UTF-8, PNG
            raise self._bad(path, f"{type(exc).__name__}: {exc}") from exc

    def _scan_folder(self, path: Path, decode: bool) -> Scan:
        if not path.is_dir():
            raise ShardProblem("not a folder")
        try:
            text = (path / RECORDS).read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ShardProblem(f"no {RECORDS}") from None
        if text and not text.endswith("\n"):
            raise ShardProblem(f"{RECORDS} does not end with a newline (truncated?)")
        records: list[dict[str, Any]] = []
        images: list[np.ndarray] = []
        names = {RECORDS}
        files = ImageFiles()
        previous: int | None = None
        for number, line in enumerate(text.splitlines(), 1):
            row = json.loads(line)
            if not isinstance(row, dict) or not isinstance(row.get("image"), str):
                raise ShardProblem(f"{RECORDS} line {number} is not a JSON object naming its image")
            record = {k: v for k, v in row.items() if k != "image"}
            key = str(record.get("key"))
            problem = record_problem(record, key)
            if problem:
                raise ShardProblem(f"{RECORDS} line {number}: {problem}")
            if previous is not None and int(key) != previous + 1:
                raise ShardProblem(f"{RECORDS} line {number}: key {key} follows {previous:09d}")
            previous = int(key)
            relative = row["image"]
            if Path(relative).is_absolute() or ".." in Path(relative).parts:
                raise ShardProblem(f"{RECORDS} line {number}: image {relative!r} is not inside the shard")
            try:
                data = (path / relative).read_bytes()
            except FileNotFoundError:
                raise ShardProblem(f"{relative} is missing") from None
            problem = files.problem(data, int(record["width"]), relative)
            if problem:
                raise ShardProblem(f"{relative}: {problem}")
            names.add(relative)
            records.append(record)
            if decode:
                images.append(decode_image(data))
        for label_file in self.label_files(path, records, files.kind):
            if not (path / label_file).is_file():
                raise ShardProblem(f"{label_file} is missing")
            names.add(label_file)
        held = set(shard_files(path))
        extra = sorted(held - names)
        if extra:
            raise ShardProblem(f"files {RECORDS} does not list: {', '.join(extra[:5])}")
        return Scan(records, images, None, files.kind)
