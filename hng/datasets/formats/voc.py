"""The voc shard format: Pascal VOC's layout, one XML annotation per image.

A shard is a folder (``hng.datasets.formats.folder``), laid out as one year of VOCdevkit (``VOC2007/``)::

    shard-00000/JPEGImages/000000000.png      # PNG, although the folder is named JPEGImages (below)
    shard-00000/Annotations/000000000.xml
    shard-00000/ImageSets/Main/train.txt      # the shard's image ids, one per line ("test" for --split test)
    shard-00000/hng.jsonl                     # hng's record of every image (VOC tools ignore it)

The images stay lossless 8-bit grey PNGs in a folder named ``JPEGImages``, the name VOC tools look in;
tools that take the file name from ``<filename>`` (supervision) read them as they are; tools that
build it as ``{id}.jpg`` (torchvision's ``VOCDetection``) do not find them.

Each XML is ``<annotation>`` with ``<folder>`` (the shard's name, as VOC writes ``VOC2007``),
``<filename>``, ``<size>`` (width, height 28, depth 1), ``<segmented>0</segmented>``, then one
``<object>`` per object of ``image_objects`` (``<name>`` "0".."9", or "number" with ``--objects
number|both``; ``<pose>Unspecified</pose>``, ``<truncated>0</truncated>``, ``<difficult>0</difficult>``
and ``<bndbox>``). Written by hand in a fixed layout: no timestamp, the same shard gives the same bytes.

Boxes follow the VOC devkit: 1-based pixel indices, both ends inclusive. hng's box [x0, x1) (0-based,
half-open) is written ``xmin = x0 + 1``, ``xmax = x1`` (the 1-based index of its last pixel), and the same
for y. A reader that converts the devkit's convention back (supervision's ``from_pascal_voc``: xmin - 1,
xmax as is) gets exactly hng's box; one that takes the numbers as 0-based corners is off by one pixel at
the top left.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from hng.core.compose import HEIGHT
from hng.datasets.formats import CLASS_NAMES, image_objects
from hng.datasets.formats.folder import FolderFormat
from hng.datasets.shard import Shard

IMAGES = "JPEGImages"
ANNOTATIONS = "Annotations"
IMAGE_SETS = "ImageSets/Main"


def annotation_xml(shard: Shard, i: int, objects: str, folder: str) -> str:
    """Image i's annotation (module docstring), with its XML declaration and a final newline."""
    key = shard.key(i)
    lines = [
        '<?xml version="1.0" encoding="utf-8"?>',
        "<annotation>",
        f"  <folder>{folder}</folder>",
        f"  <filename>{key}.png</filename>",
        "  <size>",
        f"    <width>{int(shard.widths[i])}</width>",
        f"    <height>{HEIGHT}</height>",
        "    <depth>1</depth>",
        "  </size>",
        "  <segmented>0</segmented>",
    ]
    for obj in image_objects(shard, i, objects):
        lines += [
            "  <object>",
            f"    <name>{CLASS_NAMES[obj.category]}</name>",
            "    <pose>Unspecified</pose>",
            "    <truncated>0</truncated>",
            "    <difficult>0</difficult>",
            "    <bndbox>",
            f"      <xmin>{obj.x0 + 1}</xmin>",
            f"      <ymin>{obj.y0 + 1}</ymin>",
            f"      <xmax>{obj.x1}</xmax>",
            f"      <ymax>{obj.y1}</ymax>",
            "    </bndbox>",
            "  </object>",
        ]
    lines.append("</annotation>")
    return "\n".join(lines) + "\n"


def _image_set(split: str) -> str:
    return f"{IMAGE_SETS}/{split}.txt"


class VocFormat(FolderFormat):
    """Pascal VOC: JPEGImages/KEY.png, Annotations/KEY.xml and ImageSets/Main/SPLIT.txt per shard."""

    name = "voc"
    takes_objects = True

    def image_path(self, shard: Shard, i: int) -> str:
        return f"{IMAGES}/{shard.key(i)}.png"

    def write_labels(self, shard: Shard, path: Path, image_paths: list[str]) -> list[str]:
        (path / ANNOTATIONS).mkdir()
        written = []
        for i in range(len(shard)):
            relative = f"{ANNOTATIONS}/{shard.key(i)}.xml"
            with open(path / relative, "x", encoding="utf-8", newline="\n") as fh:
                fh.write(annotation_xml(shard, i, self.objects, path.name))
            written.append(relative)
        image_set = _image_set(shard.split)
        (path / image_set).parent.mkdir(parents=True)
        with open(path / image_set, "x", encoding="ascii", newline="\n") as fh:
            fh.write("".join(f"{shard.key(i)}\n" for i in range(len(shard))))
        return [*written, image_set]

    def label_files(self, path: Path, records: list[dict[str, Any]]) -> list[str]:
        annotations = [f"{ANNOTATIONS}/{r['key']}.xml" for r in records]
        return [*annotations, _image_set(str(records[0]["split"]))] if records else annotations

    def card_lines(self, manifest: Mapping[str, Any]) -> list[str]:
        split = str(manifest["spec"]["split"])
        shards = manifest.get("shards") or []
        first = str(shards[0]["name"]) if shards else self.shard_name(0)
        return [
            "Pascal VOC layout: each shard folder is laid out as one year of VOCdevkit, with "
            f"`{IMAGES}/KEY.png` (8-bit grey PNGs, 28 × width, named by a 9-digit key: PNG although the "
            f"folder is named {IMAGES}), `{ANNOTATIONS}/KEY.xml` (one `<object>` per digit, `<name>` 0-9, "
            "and `number` for the whole number with `--objects number|both`) and "
            f"`{IMAGE_SETS}/{split}.txt` (the image ids). Boxes follow the VOC devkit: 1-based, both ends "
            "inclusive (hng's 0-based half-open box [x0, x1) is written xmin = x0 + 1, xmax = x1). "
            "`hng.jsonl` is hng's record of each image; VOC tools ignore it.",
            "",
            "```python",
            "import supervision as sv",
            f'ds = sv.DetectionDataset.from_pascal_voc(images_directory_path="{first}/{IMAGES}", '
            f'annotations_directory_path="{first}/{ANNOTATIONS}")',
            "```",
            "",
            "Tools that build an image's file name as `{id}.jpg` instead of reading `<filename>` "
            "(torchvision's `VOCDetection`) do not find the PNGs.",
        ]
