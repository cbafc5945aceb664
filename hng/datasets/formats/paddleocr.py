"""The paddleocr shard format: PaddleOCR's ``SimpleDataSet`` label files, for recognition and detection.

A shard is a folder ``shard-00000/`` holding ``images/{key}.png`` (8-bit grey or RGB, H x width; ``.jpg``
with ``--image-encoding jpeg``, the suffix the label files then give too), ``hng.jsonl`` (hng's records,
see ``folder.py``) and two label files for the dataset's split (``train`` or ``test``), UTF-8 with
"\\n" line ends, one line per image in key order:

- ``rec_gt_{split}.txt``: ``shard-00000/images/{key}.png<TAB>{label}``;
- ``det_gt_{split}.txt``: ``shard-00000/images/{key}.png<TAB>[{"transcription":"2026","points":[[x0,y0],
  [x1,y0],[x1,y1],[x0,y1]]}]``: one entry, the whole number, whose box is the union of its visible digits'
  boxes, as 4 integer points clockwise from the top left; compact JSON, PaddleOCR's key order. The
  points are the box's outline in pixel-edge coordinates (pixel (x, y) spans [x, x+1) x [y, y+1)): x1
  and y1 are EXCLUSIVE, the same numbers as hng's half-open boxes, so x1 - x0 is the box's width and
  PaddleOCR's crop of the quadrilateral (``get_rotate_crop_image``) takes exactly the box's pixels. An
  image whose digits were all squeezed or augmented out of sight has ``[]`` (PaddleOCR skips it).

The paths start with the shard's folder name: PaddleOCR joins them to ``data_dir``, which is the
DATASET ROOT. At finalize, ``dataset_files`` appends every shard's files into ``rec_gt_{split}.txt`` and
``det_gt_{split}.txt`` at the root, which is what a config's ``label_file_list`` names. PaddleOCR's
``SimpleDataSet`` reads a label file as bytes, decodes each line as UTF-8, and takes
``line.strip("\\n").split("\\t")``: ``[0]`` the image path, ``[1]`` the label (or the det JSON).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hng.core.files import sha256_file
from hng.datasets.formats import ImageKind, Scan, ShardProblem, image_phrase, image_suffix
from hng.datasets.formats.folder import FolderFormat
from hng.datasets.shard import Shard

if TYPE_CHECKING:
    from hng.datasets.output import Output
    from hng.datasets.plan import Plan


def rec_name(split: str) -> str:
    return f"rec_gt_{split}.txt"


def det_name(split: str) -> str:
    return f"det_gt_{split}.txt"


def number_box(boxes: Sequence[Sequence[int]]) -> tuple[int, int, int, int] | None:
    """The union of the visible digits' boxes (half-open), None if no digit has a pixel.

    The same rule as ``image_objects``' number object: a box with no area is a digit out of sight."""
    visible = [b for b in boxes if b[2] > b[0] and b[3] > b[1]]
    if not visible:
        return None
    return (
        min(b[0] for b in visible),
        min(b[1] for b in visible),
        max(b[2] for b in visible),
        max(b[3] for b in visible),
    )


def label_lines(folder: str, record: Mapping[str, Any], suffix: str = ".png") -> tuple[str, str]:
    """Image ``record``'s line of the rec and of the det label file (with their newlines); ``suffix``: of
    its image file."""
    image = f"{folder}/images/{record['key']}{suffix}"
    label = str(record["label"])
    box = number_box(record["boxes"])
    entries = []
    if box is not None:
        x0, y0, x1, y1 = box
        entries.append({"transcription": label, "points": [[x0, y0], [x1, y0], [x1, y1], [x0, y1]]})
    return f"{image}\t{label}\n", f"{image}\t{json.dumps(entries, separators=(',', ':'))}\n"


def label_texts(folder: str, records: Sequence[Mapping[str, Any]], suffix: str = ".png") -> dict[str, str]:
    """The shard's two label files, by name, from its records (all of one split) and its images' suffix."""
    if not records:
        return {}
    split = str(records[0]["split"])
    rec, det = [], []
    for record in records:
        rec_line, det_line = label_lines(folder, record, suffix)
        rec.append(rec_line)
        det.append(det_line)
    return {rec_name(split): "".join(rec), det_name(split): "".join(det)}


class PaddleOcrFormat(FolderFormat):
    """PaddleOCR's rec and det label files beside the images (see the module docstring)."""

    name = "paddleocr"

    def write_labels(self, shard: Shard, path: Path, image_paths: list[str]) -> list[str]:
        records = [shard.record(i) for i in range(len(shard))]
        texts = label_texts(Path(path).name, records, shard.image_suffix)
        for name, text in texts.items():
            with open(Path(path) / name, "x", encoding="utf-8", newline="\n") as fh:
                fh.write(text)
        return list(texts)

    def label_files(self, path: Path, records: list[dict[str, Any]], kind: ImageKind | None) -> list[str]:
        return list(label_texts(Path(path).name, records))  # their names do not depend on the suffix

    def _scan_folder(self, path: Path, decode: bool) -> Scan:
        """FolderFormat's checks, then each label file must be what the records give (a label file cut
        short, edited, or moved to a folder of another name no longer matches)."""
        scan = super()._scan_folder(path, decode)
        suffix = scan.kind.suffix if scan.kind else ".png"
        for name, text in label_texts(path.name, scan.records, suffix).items():
            if (path / name).read_text(encoding="utf-8") != text:
                raise ShardProblem(f"{name} does not list the images of {path.name} as hng.jsonl does")
        return scan

    def dataset_files(self, output: Output, plan: Plan, records: list[dict[str, Any]]) -> dict[str, Any]:
        """``rec_gt_{split}.txt`` and ``det_gt_{split}.txt`` at the root: every shard's files appended in
        shard order, through a local staging file, so one shard's text is in memory at a time."""
        split = plan.spec.split
        names = [rec_name(split), det_name(split)]
        with output.staging() as folder:
            for name in names:
                staged = Path(folder) / name
                with open(staged, "x", encoding="utf-8", newline="\n") as merged:
                    for record in records:
                        text = output.read_text(f"{record['name']}/{name}")
                        if text is None:
                            raise ValueError(f"{record['name']} is not a whole paddleocr shard: no {name}")
                        merged.write(text)
                output.publish(staged, name, sha256_file(staged))
        return {"files": names}

    def card_lines(self, manifest: Mapping[str, Any]) -> list[str]:
        spec = manifest["spec"]
        split = str(spec["split"])
        shards = manifest.get("shards") or []
        first = str(shards[0]["name"]) if shards else self.shard_name(0)
        section = "Train" if split == "train" else "Eval"
        suffix = image_suffix(spec)
        return [
            f"Each shard is a folder `{first}/` of `images/KEY{suffix}` ({image_phrase(spec)}, named by a "
            f"9-digit key) with PaddleOCR label files: `{rec_name(split)}` "
            f"(`{first}/images/KEY{suffix}<TAB>label`) and "
            f"`{det_name(split)}` (the number's box as 4 points clockwise from the top left; x1 and y1 are "
            "exclusive pixel edges). The files of all shards are merged at the dataset's root, and the "
            "paths in them start from the root, which is PaddleOCR's `data_dir`. In a recognition config:",
            "",
            "```yaml",
            f"{section}:",
            "  dataset:",
            "    name: SimpleDataSet",
            "    data_dir: path/to/dataset",
            f"    label_file_list: [path/to/dataset/{rec_name(split)}]",
            "```",
            "",
            f"(a detection config names `{det_name(split)}` instead), then "
            f"`python tools/train.py -c your_config.yml`. Parsed by hand, as SimpleDataSet does:",
            "",
            "```python",
            f'lines = open("path/to/dataset/{rec_name(split)}", encoding="utf-8").read().splitlines()',
            'samples = [line.split("\\t") for line in lines]  # [image path from the root, label]',
            "```",
        ]
