"""The yolo shard format: Ultralytics YOLO's layout, for ``yolo detect train`` and ``yolo segment train``.

A shard is a folder (``hng.datasets.formats.folder``)::

    shard-00000/images/train/000000000.png   # "val" instead of "train" for a --split test dataset;
                                             # .jpg with --image-encoding jpeg
    shard-00000/labels/train/000000000.txt   # one line per object
    shard-00000/hng.jsonl                    # hng's record of every image (trainers ignore it)

Ultralytics finds an image's labels by replacing the LAST ``/images/`` of its path with ``/labels/`` and
its suffix with ``.txt`` (``ultralytics.data.utils.img2label_paths``): ``.../shard-00000/images/train/
KEY.png`` gives ``.../shard-00000/labels/train/KEY.txt``. The YOLO split folder is named after the MNIST
split: ``train`` -> ``train``, ``test`` -> ``val``.

Label lines (``image_objects``: one per visible digit, class 0-9, and with ``--objects number|both``
one for the whole number, class 10), every coordinate normalised by the image's width or height and
written ``%.6f`` (the same shard, the same bytes):

- task ``detect``: ``class cx cy w h``, the centre and size of the object's box. hng boxes are half-open
  pixel ranges [x0, x1), so in the continuous coordinates Ultralytics uses (pixel j spans [j, j + 1))
  the box is exactly x0 .. x1: cx = (x0 + x1) / 2 / width, w = (x1 - x0) / width.
- task ``segment``: ``class x1 y1 x2 y2 ...``, a polygon traced from the digit's mask (``polygon``):
  its vertices are pixel CORNERS (edges), the outline of the digit's pixels as squares, so the polygon's
  extent is exactly the digit's box, the box Ultralytics derives from it (``segments2boxes``). The
  number object's polygon is its box's rectangle.

An image with no object gets an empty label file: Ultralytics counts it as a background image.

The dataset's ``data.yaml`` (``dataset_files``) lists the shards' image folders under ``train:`` (or
``val:``) and names the classes. It has no ``path:`` key on purpose: Ultralytics then resolves the folders
against data.yaml's own folder, so the dataset folder can be moved or copied; ``path: .`` would mean the
working directory.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from hng.datasets.formats import (
    CLASS_NAMES,
    NUMBER_CLASS,
    ImageKind,
    ImageObject,
    ShardFormat,
    image_objects,
    image_phrase,
    image_suffix,
)
from hng.datasets.formats.folder import FolderFormat
from hng.datasets.shard import Shard

if TYPE_CHECKING:
    from hng.datasets.output import Output
    from hng.datasets.plan import Plan
    from hng.datasets.spec import DatasetSpec

DATA_YAML = "data.yaml"
TASKS = ("detect", "segment")
# The YOLO split folder (and data.yaml key) of each MNIST split.
YOLO_SPLITS = {"train": "train", "test": "val"}


def yolo_split(split: str) -> str:
    """The YOLO split folder of an MNIST split: "train" -> "train", "test" -> "val"."""
    try:
        return YOLO_SPLITS[split]
    except KeyError:
        raise ValueError(f"a yolo shard needs the split train or test, got {split!r}") from None


@functools.lru_cache(maxsize=64)
def _fractions(n: int) -> tuple[str, ...]:
    """``f"{k / n:.6f}"`` for k = 0..n: every coordinate is an integer over the width or height (or
    twice it, for box centres), so the label lines are made of these (formatting each is the cost)."""
    return tuple(f"{k / n:.6f}" for k in range(n + 1))


def polygon(mask: np.ndarray, obj: ImageObject) -> np.ndarray:
    """The outline of ``obj`` (a digit) as (P, 2) integer pixel-corner coordinates x, y (P >= 3).

    Traced by OpenCV (``cv2.findContours``, external contours, ``CHAIN_APPROX_SIMPLE``) on the digit's
    CORNER GRID: corner (x, y) of the image, 0 <= x <= width, is set when any of the up to four pixels
    touching it is the digit's. Each pixel thus sets its four corners, and the outer contour of the set
    corners runs along the pixels' edges: the polygon's extent is the digit's box [x0, x1] x [y0, y1]
    exactly. Two approximations remain: a concave corner of the outline is cut by a diagonal (the
    polygon gains half a pixel there, never loses ink), and holes (the inside of a 0, 6, 8 or 9) are
    filled, as one outer polygon has none.

    A digit whose ink is in several pieces (more than one pixel apart: closer pieces share corners and
    trace as one) is given its LARGEST piece by polygon area; the others are left out, so its polygon's
    extent lies inside the digit's box. A polygon needs three points: a digit with no traceable
    outline (no pixel of its label in the mask) falls back to its box's rectangle. With hng's masks
    this does not happen (boxes are their masks' bounds, and a single pixel already traces as its four
    corners); the rule is there so that a label line is never short of points.

    ``mask`` is the digit's boolean mask (``object_mask``), of the image's size.
    """
    import cv2

    x0, y0, x1, y1 = obj.x0, obj.y0, obj.x1, obj.y1
    rectangle = np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], dtype=np.int64)
    crop = np.zeros((y1 - y0 + 2, x1 - x0 + 2), dtype=np.uint8)
    crop[1:-1, 1:-1] = mask[y0:y1, x0:x1]
    corners = crop[:-1, :-1] | crop[1:, :-1] | crop[:-1, 1:] | crop[1:, 1:]  # (h + 1, w + 1)
    contours, _ = cv2.findContours(corners, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    traced = [c.reshape(-1, 2) for c in contours if len(c) >= 3]
    if not traced:
        return rectangle
    areas = [abs(float(cv2.contourArea(c))) for c in traced]
    largest = traced[int(np.argmax(areas))]  # the first of equal areas: OpenCV's order is fixed
    return largest.astype(np.int64) + np.array([x0, y0], dtype=np.int64)


def label_lines(shard: Shard, i: int, objects: str, task: str) -> str:
    """Image i's label file: one line per object (``image_objects``), "" for an image without one."""
    width, height = int(shard.widths[i]), shard.height
    lines = []
    for obj in image_objects(shard, i, objects):
        if task == "detect":
            # Halves of the width and height: the centre (x0 + x1) / 2 / width is (x0 + x1) / (2 width).
            xs, ys = _fractions(2 * width), _fractions(2 * height)
            values = [
                xs[obj.x0 + obj.x1],
                ys[obj.y0 + obj.y1],
                xs[2 * (obj.x1 - obj.x0)],
                ys[2 * (obj.y1 - obj.y0)],
            ]
        else:
            if obj.category == NUMBER_CLASS:
                outline = [[obj.x0, obj.y0], [obj.x1, obj.y0], [obj.x1, obj.y1], [obj.x0, obj.y1]]
            else:
                outline = polygon(shard.mask(i) == obj.label, obj).tolist()
            xs, ys = _fractions(width), _fractions(height)
            values = [f"{xs[x]} {ys[y]}" for x, y in outline]
        lines.append(f"{obj.category} {' '.join(values)}\n")
    return "".join(lines)


def class_names(objects: str) -> dict[int, str]:
    """data.yaml's ``names``: the digits 0-9, and 10 "number" when the number is an object."""
    count = NUMBER_CLASS + 1 if objects in ("number", "both") else NUMBER_CLASS
    return dict(enumerate(CLASS_NAMES[:count]))


class YoloFormat(FolderFormat):
    """Ultralytics YOLO: images/SPLIT/KEY.png (or .jpg) and labels/SPLIT/KEY.txt per shard (module
    docstring)."""

    name = "yolo"
    takes_objects = True
    holds_masks = False  # masks are used (task segment), not stored: `masks` is refused for yolo
    task: str = "detect"

    def configure(self, spec: DatasetSpec) -> ShardFormat:
        configured = super().configure(spec)
        if not isinstance(configured, YoloFormat):
            raise AssertionError(f"hng bug: configure gave a {type(configured).__name__}")
        configured.task = spec.yolo_task
        configured.masks = spec.yolo_task == "segment"  # the engine then makes the masks to trace
        return configured

    def image_path(self, shard: Shard, i: int) -> str:
        return f"images/{yolo_split(shard.split)}/{shard.key(i)}{shard.image_suffix}"

    @staticmethod
    def _label_path(split: str, key: str) -> str:
        return f"labels/{yolo_split(split)}/{key}.txt"

    def write_labels(self, shard: Shard, path: Path, image_paths: list[str]) -> list[str]:
        if self.task not in TASKS:
            raise ValueError(f"yolo task must be one of {', '.join(TASKS)}, got {self.task!r}")
        if self.task == "segment" and shard.masks is None:
            raise ValueError(f"shard {shard.index} has no masks: task segment traces its polygons from them")
        written = []
        for i in range(len(shard)):
            relative = self._label_path(shard.split, shard.key(i))
            target = path / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            with open(target, "x", encoding="ascii", newline="\n") as fh:
                fh.write(label_lines(shard, i, self.objects, self.task))
            written.append(relative)
        return written

    def label_files(self, path: Path, records: list[dict[str, Any]], kind: ImageKind | None) -> list[str]:
        return [self._label_path(str(r["split"]), str(r["key"])) for r in records]

    def dataset_files(self, output: Output, plan: Plan, records: list[dict[str, Any]]) -> dict[str, Any]:
        """Write data.yaml: the image folders of the shards made, under the split's key, and the names."""
        spec = plan.spec
        key = yolo_split(spec.split)
        names = [str(r["name"]) for r in records]
        output.write_text(DATA_YAML, data_yaml(names, key, spec.objects, self.task))
        return {"files": [DATA_YAML], "yolo_task": self.task, "yolo_split": key}

    def card_lines(self, manifest: Mapping[str, Any]) -> list[str]:
        spec = manifest["spec"]
        task = str((manifest.get("format") or {}).get("yolo_task") or spec.get("yolo_task", "detect"))
        key = yolo_split(str(spec["split"]))
        other = "val" if key == "train" else "train"
        other_split = "test" if key == "train" else "train"
        model = "yolo11n-seg.pt" if task == "segment" else "yolo11n.pt"
        shards = manifest.get("shards") or []
        first = str(shards[0]["name"]) if shards else self.shard_name(0)
        if task == "segment":
            line = (
                "`class x1 y1 x2 y2 ...`: a polygon along the outer edges of the digit's pixels (holes "
                "filled; a digit in pieces more than a pixel apart keeps its largest piece; the number's "
                "polygon is its box)"
            )
        else:
            line = "`class cx cy w h`: the box's centre and size"
        return [
            f"Ultralytics YOLO layout, task `{task}`: each shard folder holds "
            f"`images/{key}/KEY{image_suffix(spec)}` ({image_phrase(spec)}, named by a 9-digit key) and "
            f"`labels/{key}/KEY.txt`, one line per object: "
            f"{line}, normalised by the image's size (classes 0-9 the digits, 10 the whole number with "
            "`--objects number|both`). An image without objects has an empty label file. `hng.jsonl` is "
            "hng's record of each image; Ultralytics ignores it.",
            "",
            f"`{DATA_YAML}` lists the shards' image folders under `{key}:` and names the classes. It has no "
            "`path:`, so Ultralytics resolves the folders against the folder of data.yaml (pass its "
            "absolute path to Ultralytics releases before mid-2025). Ultralytics needs both `train:` and "
            f"`val:`: make a second dataset from the other MNIST split (`--split {other_split}`) and add its "
            f"folders under `{other}:`, or point a data.yaml of your own at both datasets.",
            "",
            "```python",
            "import supervision as sv",
            f'ds = sv.DetectionDataset.from_yolo(images_directory_path="{first}/images/{key}", '
            f'annotations_directory_path="{first}/labels/{key}", data_yaml_path="{DATA_YAML}"'
            f"{', force_masks=True' if task == 'segment' else ''})",
            "```",
            "",
            "```bash",
            f"yolo {task} train data=/absolute/path/to/{DATA_YAML} model={model}",
            "```",
            "",
            f"Ultralytics saves its label cache as `{first}/labels/{key}.cache` the first time it reads "
            "the dataset; hng's checksums leave `*.cache` files out, so the shard stays whole.",
        ]


def data_yaml(shard_names: list[str], key: str, objects: str, task: str) -> str:
    """data.yaml: comments, ``key:`` (train or val) listing each shard's image folder, and ``names``.

    Written by hand (PyYAML is not a dependency of hng); strings are JSON-quoted, which YAML reads as the
    same strings, and class ids are plain integers.
    """
    lines = [
        f"# Ultralytics YOLO dataset made by hng (format yolo, task {task}).",
        "# No `path:` key: Ultralytics resolves the folders below against this file's folder.",
        f"{key}:",
        *(f"  - {json.dumps(f'{name}/images/{key}')}" for name in shard_names),
        "names:",
        *(f"  {k}: {json.dumps(v)}" for k, v in class_names(objects).items()),
    ]
    return "\n".join(lines) + "\n"
