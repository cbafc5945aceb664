"""The doctr shard format: the folder docTR's ``RecognitionDataset(img_folder, labels_path)`` loads.

A shard is a folder ``shard-00000/`` holding ``images/{key}.png`` (8-bit grey or RGB, H x width; ``.jpg``
with ``--image-encoding jpeg``), ``labels.json`` and ``hng.jsonl`` (hng's records, see ``folder.py``).
``labels.json`` is one JSON object mapping each image's file name, relative to ``images/``, to its label:
``{"000000000.png":"2026", ...}``
in key order, one entry a line (``indent=0``, no spaces), UTF-8 with a final newline, so the same shard
always gives the same bytes.

docTR (checked against mindee/doctr's ``doctr/datasets/recognition.py``): ``RecognitionDataset`` opens
``labels_path`` as UTF-8, ``json.load``s it, and for each ``(img_name, label)`` of ``labels.items()``
requires ``os.path.join(img_folder, img_name)`` to exist; images are read with Pillow and converted to
RGB. Its ``references/recognition/train.py --train_path DIR`` takes a folder holding ``images/`` and
``labels.json`` (one shard), or a folder whose every entry is such a folder.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from hng.datasets.formats import ImageKind, Scan, ShardProblem, image_phrase, image_suffix
from hng.datasets.formats.folder import FolderFormat
from hng.datasets.shard import Shard

LABELS = "labels.json"


def labels_json(records: Sequence[Mapping[str, Any]], suffix: str = ".png") -> str:
    """``labels.json`` for these records: file name (in images/, of this ``suffix``) to label, in key
    order."""
    labels = {f"{record['key']}{suffix}": str(record["label"]) for record in records}
    return json.dumps(labels, indent=0, separators=(",", ":")) + "\n"


class DoctrFormat(FolderFormat):
    """docTR's recognition folder: images/ and labels.json (see the module docstring)."""

    name = "doctr"

    def write_labels(self, shard: Shard, path: Path, image_paths: list[str]) -> list[str]:
        text = labels_json([shard.record(i) for i in range(len(shard))], shard.image_suffix)
        with open(Path(path) / LABELS, "x", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
        return [LABELS]

    def label_files(self, path: Path, records: list[dict[str, Any]], kind: ImageKind | None) -> list[str]:
        return [LABELS]

    def _scan_folder(self, path: Path, decode: bool) -> Scan:
        """FolderFormat's checks, then labels.json must be what the records give."""
        scan = super()._scan_folder(path, decode)
        suffix = scan.kind.suffix if scan.kind else ".png"
        if (path / LABELS).read_text(encoding="utf-8") != labels_json(scan.records, suffix):
            raise ShardProblem(f"{LABELS} does not map the images to their labels as hng.jsonl does")
        return scan

    def card_lines(self, manifest: Mapping[str, Any]) -> list[str]:
        spec = manifest["spec"]
        shards = manifest.get("shards") or []
        first = str(shards[0]["name"]) if shards else self.shard_name(0)
        return [
            f"Each shard is a folder `{first}/` of `images/KEY{image_suffix(spec)}` ({image_phrase(spec)}, "
            "named by a 9-digit key) with `labels.json`, mapping each file name to its label, as docTR's "
            "`RecognitionDataset` reads it:",
            "",
            "```python",
            "from doctr.datasets import RecognitionDataset",
            f'train_set = RecognitionDataset(img_folder="path/to/dataset/{first}/images", '
            f'labels_path="path/to/dataset/{first}/labels.json")',
            "```",
            "",
            "(`train_set.merge_dataset(RecognitionDataset(...))` adds another shard). docTR's training "
            "script takes a shard folder, or a folder whose every entry is one (the dataset's root also "
            "holds other files, so link the shards into a folder of their own):",
            "",
            "```bash",
            'mkdir train && ln -s "$PWD"/path/to/dataset/shard-* train/',
            "python references/recognition/train.py crnn_vgg16_bn --train_path train "
            "--val_path path/to/test-dataset/shard-00000",
            "```",
        ]
