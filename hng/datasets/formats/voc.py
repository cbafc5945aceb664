"""The voc shard format: Pascal VOC's layout, one XML annotation per image.

A shard is a folder (``hng.datasets.formats.folder``), laid out as one year of VOCdevkit (``VOC2007/``)::

    shard-00000/JPEGImages/000000000.png      # .jpg with --image-encoding jpeg (below)
    shard-00000/Annotations/000000000.xml
    shard-00000/ImageSets/Main/train.txt      # the shard's image ids, one per line ("test" for --split test)
    shard-00000/hng.jsonl                     # hng's record of every image (VOC tools ignore it)

``JPEGImages`` is the folder VOC tools look in. By default it holds lossless PNGs (grey or RGB): tools
that take the file name from ``<filename>`` (supervision) read them as they are; tools that build it as
``{id}.jpg`` (torchvision's ``VOCDetection``) do not find them. With ``--image-encoding jpeg`` it holds
``KEY.jpg`` JPEGs, as in VOC itself, and both kinds of tool find them.

Each XML is ``<annotation>`` with ``<folder>`` (the shard's name, as VOC writes ``VOC2007``),
``<filename>``, ``<size>`` (width, height, depth: 1 grey, 3 RGB), ``<segmented>0</segmented>``, then one
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

from hng.datasets.formats import CLASS_NAMES, ImageKind, image_objects, image_phrase, image_suffix
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
        f"  <filename>{key}{shard.image_suffix}</filename>",
        "  <size>",
        f"    <width>{int(shard.widths[i])}</width>",
        f"    <height>{shard.height}</height>",
        f"    <depth>{shard.channels}</depth>",
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
    """Pascal VOC: JPEGImages/KEY.png (or .jpg), Annotations/KEY.xml and ImageSets/Main/SPLIT.txt per
    shard."""

    name = "voc"
    takes_objects = True

    def image_path(self, shard: Shard, i: int) -> str:
        return f"{IMAGES}/{shard.key(i)}{shard.image_suffix}"

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

    def label_files(self, path: Path, records: list[dict[str, Any]], kind: ImageKind | None) -> list[str]:
        annotations = [f"{ANNOTATIONS}/{r['key']}.xml" for r in records]
        return [*annotations, _image_set(str(records[0]["split"]))] if records else annotations

    def card_lines(self, manifest: Mapping[str, Any]) -> list[str]:
        spec = manifest["spec"]
        split = str(spec["split"])
        shards = manifest.get("shards") or []
        first = str(shards[0]["name"]) if shards else self.shard_name(0)
        suffix = image_suffix(spec)
        png = suffix == ".png"
        what = f"{image_phrase(spec)}, named by a 9-digit key" + (
            f": PNG although the folder is named {IMAGES}" if png else ""
        )
        lines = [
            "Pascal VOC layout: each shard folder is laid out as one year of VOCdevkit, with "
            f"`{IMAGES}/KEY{suffix}` ({what}), `{ANNOTATIONS}/KEY.xml` (one `<object>` per digit, "
            "`<name>` 0-9, "
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
        ]
        if png:
            lines += [
                "",
                "Tools that build an image's file name as `{id}.jpg` instead of reading `<filename>` "
                "(torchvision's `VOCDetection`) do not find the PNGs (make the dataset with "
                "`--image-encoding jpeg` for them).",
            ]
        return lines
