"""The coco shard format: a folder ``shard-00000/`` of ``images/{key}.png`` and a COCO instances file.

Layout of a shard (``FolderFormat``): ``images/{key}.png`` (8-bit grey or RGB, H x width; ``.jpg`` with
``--image-encoding jpeg``), ``annotations/instances_{split}.json`` (split: the spec's, train or test) and
``hng.jsonl`` (hng's records). At finalize, ``annotations/instances_{split}.json`` at the dataset's root
merges every shard's file, its file names relative to the root (``shard-00000/images/{key}.png``), while
the dataset holds at most ``MERGE_LIMIT`` images.

The instances file, compact JSON with a fixed key order (so the same shard gives the same bytes):

- ``info`` (fixed: no date) and ``licenses``: MNIST's CC BY-SA 3.0, which every image carries (license 1);
- ``images``: ``id`` the image's dataset-wide index (``int(key)``), ``width``, ``height`` (the shard's
  image height, 28 by default), ``file_name`` (``images/{key}.png`` or ``.jpg``, relative to the shard's
  folder), ``license``;
- ``annotations``, one per object (``image_objects``: each digit seen, and with ``--objects number|both``
  the whole number, the union of its digits): ``id`` = image index * 65 + slot, slot k for the k-th
  digit (1-based, its label in the mask) and 65 for the number, so ids are unique across the dataset
  and never 0 (pycocotools' COCOeval takes a matched id of 0 for "unmatched"); ``image_id``;
  ``category_id``; ``segmentation``, the object's exact pixels as COCO's compressed RLE (``{"size":
  [height, width], "counts": "..."}``, what ``pycocotools.mask.encode`` gives, computed by ``hng.core.rle``);
  ``area``, its pixel count; ``bbox`` ``[x, y, width, height]`` in whole pixels (ints: the exact
  bounds of the object's pixels, as ``pycocotools.mask.toBbox`` computes them); ``iscrowd`` 0.
- ``categories``: ``id`` = digit + 1 (1-10) named "0".."9" (supercategory "digit"), and 11 "number"
  (supercategory "number") with ``--objects number|both``; only those the objects can have.

Category ids start at 1 as in COCO itself: torchvision's detection models keep label 0 for the
background and take ``category_id`` as the label; Detectron2 maps ids to contiguous ones either way
but warns unless they are 1..#categories; MMDetection and supervision map them by the categories' order.
So the class index these libraries use (0-based, in id order) is the digit itself.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from hng import __version__
from hng.core.rle import UNION, decode_counts, encode_label_maps, paint_label_maps
from hng.datasets.formats import (
    NUMBER_CLASS,
    ImageKind,
    Scan,
    ShardProblem,
    image_objects,
    image_phrase,
    image_suffix,
    shard_from_scan,
)
from hng.datasets.formats.folder import FolderFormat
from hng.datasets.shard import Shard

if TYPE_CHECKING:
    from hng.datasets.output import Output
    from hng.datasets.plan import Plan
    from hng.datasets.spec import DatasetSpec

ID_STRIDE = 65  # annotation id = image index * 65 + slot: slots 1..64 for digits (hng's MAX_DIGITS)
NUMBER_SLOT = 65
MERGE_LIMIT = 1_000_000  # above this many images, no merged file: the per-shard files are the ones to use
LICENSE_ID = 1
INFO = {
    "description": "Handwritten numbers composed from MNIST digits by hng",
    "url": "http://yann.lecun.com/exdb/mnist/",
    "version": __version__,
    "contributor": "hng; digits from MNIST (Yann LeCun, Corinna Cortes, Christopher J. C. Burges)",
}
LICENSES = [
    {
        "id": LICENSE_ID,
        "name": "Creative Commons Attribution-ShareAlike 3.0",
        "url": "https://creativecommons.org/licenses/by-sa/3.0/",
    }
]


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def annotation_file(split: str) -> str:
    """Where a shard (and the dataset, merged) keeps its instances file: annotations/instances_train.json."""
    if split not in ("train", "test"):
        raise ValueError(f"a coco shard needs the split train or test, got {split!r}")
    return f"annotations/instances_{split}.json"


def category_id(category: int) -> int:
    """The COCO category id of an ``ImageObject.category`` (0-9 digits, ``NUMBER_CLASS``): one more."""
    return category + 1


def categories(objects: str) -> list[dict[str, Any]]:
    """The categories of a file whose objects are ``objects`` (digits, number or both)."""
    found = []
    if objects in ("digits", "both"):
        found += [{"id": category_id(d), "name": str(d), "supercategory": "digit"} for d in range(10)]
    if objects in ("number", "both"):
        found.append({"id": category_id(NUMBER_CLASS), "name": "number", "supercategory": "number"})
    return found


def _slot(label: int) -> int:
    return NUMBER_SLOT if label == 0 else label


_IMAGES = '"images":['
_MIDDLE = '],"annotations":['


def _prefix() -> str:
    return f'{{"info":{_dumps(INFO)},"licenses":{_dumps(LICENSES)},{_IMAGES}'


def _suffix(cats: list[dict[str, Any]]) -> str:
    return f'],"categories":{_dumps(cats)}}}\n'


def _inner(items: list[Any]) -> str:
    """A JSON array's text without its brackets (compact)."""
    return _dumps(items)[1:-1]


class CocoFormat(FolderFormat):
    """COCO instances per shard folder, merged at the dataset's root (see the module docstring)."""

    name = "coco"
    holds_masks = True  # the RLEs hold every digit's pixels exactly (with digit objects)
    uses_masks = True  # segmentation and area come from the masks: the engine always makes them
    takes_objects = True

    def options_problem(self, spec: DatasetSpec) -> tuple[str, str] | None:
        if spec.masks and spec.objects == "number":
            return (
                "masks",
                "masks with the coco format are the digits' RLE segmentations, and objects 'number' writes "
                "only each number's: use objects 'digits' or 'both', or leave masks off",
            )
        return None

    def write(self, shard: Shard, path: Path, *, compress: bool = False) -> None:
        if shard.masks is None:
            raise ValueError(
                f"shard {shard.index} cannot be written in the coco format: it holds no masks "
                "(COCO's segmentation and area come from them; make it with masks=True)"
            )
        annotation_file(shard.split)
        super().write(shard, path, compress=compress)

    def write_labels(self, shard: Shard, path: Path, image_paths: list[str]) -> list[str]:
        name = annotation_file(shard.split)
        text = instances_text(shard, self.objects, image_paths)
        (path / "annotations").mkdir()
        with open(path / name, "x", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
        return [name]

    def label_files(self, path: Path, records: list[dict[str, Any]], kind: ImageKind | None) -> list[str]:
        return [annotation_file(str(records[0]["split"]))] if records else []

    # --- reading back --------------------------------------------------------------------------------

    def _scan_folder(self, path: Path, decode: bool) -> Scan:
        """The folder's checks, then the instances file's: it must describe the images hng.jsonl lists."""
        scan = super()._scan_folder(path, decode)
        if scan.records:
            if scan.kind is None:
                raise AssertionError("hng bug: scan.kind is unset")
            _read_instances(path, scan.records, scan.kind, decode=False)
        return scan

    def read(self, path: Path, index: int, start: int) -> Shard:
        """The shard, with its masks painted from the digits' RLEs (None if it holds the number's only)."""
        path = Path(path)
        if not path.exists():
            raise FileNotFoundError(f"shard folder not found: {path}")
        try:
            # The folder's checks (not this class's: the instances file is read once, decoded, below).
            scan = FolderFormat._scan_folder(self, path, True)
            if scan.records:
                if scan.kind is None:
                    raise AssertionError("hng bug: scan.kind is unset")
                found = _read_instances(path, scan.records, scan.kind, decode=True)
                scan = scan._replace(masks=_masks(*found, scan.records, scan.kind.height))
            return shard_from_scan(index, start, scan)
        except ShardProblem as exc:
            raise self._bad(path, str(exc)) from exc
        except (OSError, ValueError) as exc:  # ValueError: JSON, UTF-8, PNG, records
            raise self._bad(path, f"{type(exc).__name__}: {exc}") from exc

    # --- the dataset -----------------------------------------------------------------------------------

    def dataset_files(self, output: Output, plan: Plan, records: list[dict[str, Any]]) -> dict[str, Any]:
        """The merged instances file at the root (none above ``MERGE_LIMIT`` images: the per-shard files
        are to be used), streamed through ``output`` as it is built: every shard's images, then every
        shard's annotations (as they are: their ids are already the dataset's). Each shard's file is
        read twice, so that only one is ever held in memory and nothing is staged on disk."""
        name = annotation_file(plan.spec.split)
        images = sum(int(r["images"]) for r in records)
        facts: dict[str, Any] = {"annotation_file": name, "images": images, "merge_limit": MERGE_LIMIT}
        if images > MERGE_LIMIT:
            return {"files": [], "merged": False, **facts}
        tail = _suffix(categories(self.objects))
        count = 0

        def chunks() -> Iterator[bytes]:
            nonlocal count
            for n, record in enumerate(records):
                head, entries, _ = _shard_parts(output, record, name, tail)
                for entry in entries:
                    entry["file_name"] = f"{record['name']}/{entry['file_name']}"
                yield ((head if n == 0 else ",") + _inner(entries)).encode()
            yield _MIDDLE.encode()
            for record in records:
                _, _, annotations = _shard_parts(output, record, name, tail)
                if annotations:
                    yield (("," if count else "") + annotations).encode()
                    count += annotations.count('{"id":')
            yield tail.encode()

        output.write_chunks(name, chunks())
        return {"files": [name], "merged": True, **facts, "annotations": count}

    def card_lines(self, manifest: Mapping[str, Any]) -> list[str]:
        spec = manifest["spec"]
        split = str(spec["split"])
        suffix = image_suffix(spec)
        objects = str(spec.get("objects", "digits"))
        name = annotation_file(split)
        shards = manifest.get("shards") or []
        first = str(shards[0]["name"]) if shards else self.shard_name(0)
        last = str(shards[-1]["name"]) if shards else first
        facts = manifest.get("format") or {}
        merged = bool(facts.get("merged"))
        kinds = {
            "digits": 'one object per digit seen, `category_id` = digit + 1 (named "0".."9")',
            "number": 'one object per number, `category_id` 11 ("number"), the union of its digits',
            "both": 'one object per digit seen, `category_id` = digit + 1 (named "0".."9"), and one per '
            'number, `category_id` 11 ("number"), the union of its digits',
        }[objects]
        classes = {"digits": 10, "number": 1, "both": 11}[objects]  # Detectron2 maps ids to 0..classes-1
        largest = 10 if objects == "digits" else 11  # torchvision takes category_id as the label
        shard_range = first if first == last else f"{first}` … `{last}"
        lines = [
            f"COCO instances (format `coco`). Each shard is a folder (`{shard_range}`) of "
            f"`images/KEY{suffix}` ({image_phrase(spec)}; KEY the image's 9-digit index, also its "
            f"`image_id`) and `{name}`: "
            f"{kinds}; `bbox` [x, y, width, height] in whole pixels; `segmentation` the object's exact "
            "pixels as a compressed RLE; `area` their count; `iscrowd` 0.",
            "",
        ]
        if merged:
            lines += [
                f"`{name}` at the dataset's root merges every shard's file (file names relative to the "
                f"root: `{first}/images/KEY{suffix}`). With pycocotools:",
                "",
                "```python",
                "from pycocotools.coco import COCO",
                f'coco = COCO("path/to/dataset/{name}")',
                "```",
                "",
                "Detectron2 (train with `DATASETS.TRAIN '(\"hng_" + split + "\",)' INPUT.MASK_FORMAT bitmask "
                f"MODEL.ROI_HEADS.NUM_CLASSES {classes}`: the masks are RLE, not polygons):",
                "",
                "```python",
                "from detectron2.data.datasets import register_coco_instances",
                f'register_coco_instances("hng_{split}", {{}}, "path/to/dataset/{name}", "path/to/dataset")',
                "```",
                "",
                "torchvision (`wrap_dataset_for_transforms_v2(dataset)` gives boxes, labels and masks; label "
                f"= `category_id`, 0 is the background, so `num_classes={largest + 1}`):",
                "",
                "```python",
                "from torchvision.datasets import CocoDetection",
                f'dataset = CocoDetection("path/to/dataset", "path/to/dataset/{name}")',
                "```",
            ]
        else:
            images = int(facts.get("images", manifest.get("images", 0)))
            lines += [
                f"The dataset holds {images:,} images, more than the {MERGE_LIMIT:,} a merged file is "
                "written for: use the shards' own files (file names relative to each shard's folder). With "
                "pycocotools:",
                "",
                "```python",
                "from pycocotools.coco import COCO",
                f'coco = COCO("path/to/dataset/{first}/{name}")',
                "```",
                "",
                "Detectron2 (register every shard, then train with `DATASETS.TRAIN` listing their names, "
                f"`INPUT.MASK_FORMAT bitmask MODEL.ROI_HEADS.NUM_CLASSES {classes}`):",
                "",
                "```python",
                "from detectron2.data.datasets import register_coco_instances",
                f'register_coco_instances("hng_{split}_{first}", {{}}, "path/to/dataset/{first}/{name}", '
                f'"path/to/dataset/{first}")',
                "```",
                "",
                "torchvision, one shard (`torch.utils.data.ConcatDataset` joins them):",
                "",
                "```python",
                "from torchvision.datasets import CocoDetection",
                f'dataset = CocoDetection("path/to/dataset/{first}", "path/to/dataset/{first}/{name}")',
                "```",
            ]
        return lines


def instances_text(shard: Shard, objects: str, image_paths: Sequence[str] | None = None) -> str:
    """A shard's instances file (see the module docstring); ``image_paths``: the images' file names."""
    if shard.masks is None:
        raise ValueError(f"shard {shard.index} holds no masks: its COCO segmentation cannot be written")
    n = len(shard)
    height = shard.height
    if image_paths is None:
        paths = [f"images/{shard.key(i)}{shard.image_suffix}" for i in range(n)]
    else:
        paths = list(image_paths)
    found = [image_objects(shard, i, objects) for i in range(n)]
    owners = np.repeat(np.arange(n), [len(f) for f in found])
    labels = np.array([UNION if o.label == 0 else o.label for f in found for o in f], dtype=np.int64)
    try:
        counts, areas = encode_label_maps(shard.masks, shard.widths, owners, labels)
    except ValueError as exc:  # an object without pixels: boxes and masks disagree, a bug upstream
        raise ValueError(f"shard {shard.index} cannot be written: {exc}") from None
    areas_list = areas.tolist()
    images = []
    annotations = []
    m = 0
    # Formatted here rather than by json.dumps of a dict per object (twice as slow), in the order and
    # spelling json.dumps(..., separators=(",", ":")) gives: the tests check the two agree.
    for i in range(n):
        index = shard.start + i
        width = int(shard.widths[i])
        images.append(
            {"id": index, "width": width, "height": height, "file_name": paths[i], "license": LICENSE_ID}
        )
        for obj in found[i]:
            annotations.append(
                f'{{"id":{index * ID_STRIDE + _slot(obj.label)},"image_id":{index},'
                f'"category_id":{category_id(obj.category)},'
                f'"segmentation":{{"size":[{height},{width}],"counts":"{_escape(counts[m])}"}},'
                f'"area":{areas_list[m]},"bbox":[{obj.x0},{obj.y0},{obj.x1 - obj.x0},{obj.y1 - obj.y0}],'
                '"iscrowd":0}'
            )
            m += 1
    text = ",".join(annotations)
    return _prefix() + _inner(images) + _MIDDLE + text + _suffix(categories(objects))


def _escape(counts: str) -> str:
    """A counts string inside JSON quotes: its characters ('0'..'o') need no escape but the backslash."""
    return counts.replace("\\", "\\\\")


def _shard_parts(
    output: Output, record: dict[str, Any], name: str, tail: str
) -> tuple[str, list[dict[str, Any]], str]:
    """A shard's instances file read through ``output``, cut for the merged file: the text up to its
    images, its images, and its annotations' text (without brackets). IncompleteDataset naming the shard
    if the file is missing or not what this dataset's shards hold."""
    from hng.datasets.finalize import IncompleteDataset

    where = f"{record['name']}/{name}"
    text = output.read_text(where)
    problem = "is missing"
    if text is not None:
        # No string in the file holds a quote: the keys below can only be the file's own.
        start = text.find(_IMAGES)
        middle = text.find(_MIDDLE)
        problem = "is not this dataset's (its categories or images differ)"
        if 0 <= start < middle and text.endswith(tail) and text.count(_MIDDLE) == 1:
            try:
                images = json.loads("[" + text[start + len(_IMAGES) : middle] + "]")
                if len(images) == record["images"] and all(isinstance(i, dict) for i in images):
                    annotations = text[middle + len(_MIDDLE) : len(text) - len(tail)]
                    return text[: start + len(_IMAGES)], images, annotations
            except ValueError as exc:
                problem = f"does not load (ValueError: {exc})"
    k = int(record["index"])
    raise IncompleteDataset(
        f"{where} {problem}: make the shard again (re-run the same hng dataset command, or with --shards "
        f"{k}:{k + 1}), then finalize again",
        [k],
    )


# --- checks and reading --------------------------------------------------------------------------------


def _expected(records: list[dict[str, Any]], objects: str) -> list[tuple[int, int, int, list[int]]]:
    """(id, image_id, category_id, bbox) of each annotation the records call for, in file order."""
    found = []
    for record in records:
        index = int(record["key"])
        label = str(record["label"])
        digits = [
            (k + 1, int(label[k]), box)
            for k, box in enumerate(record["boxes"])
            if box[2] > box[0] and box[3] > box[1]
        ]
        if objects in ("digits", "both"):
            found += [
                (index * ID_STRIDE + k, index, category_id(d), [b[0], b[1], b[2] - b[0], b[3] - b[1]])
                for k, d, b in digits
            ]
        if objects in ("number", "both") and digits:
            x0, y0 = min(b[0] for *_, b in digits), min(b[1] for *_, b in digits)
            x1, y1 = max(b[2] for *_, b in digits), max(b[3] for *_, b in digits)
            box = [x0, y0, x1 - x0, y1 - y0]
            found.append((index * ID_STRIDE + NUMBER_SLOT, index, category_id(NUMBER_CLASS), box))
    return found


def _objects_of(cats: Any) -> str:
    """Which objects a file's categories mean (digits, number or both); ShardProblem if none of those."""
    for objects in ("digits", "number", "both"):
        if cats == categories(objects):
            return objects
    raise ShardProblem("its categories are not those hng writes")


def _read_instances(
    path: Path, records: list[dict[str, Any]], kind: ImageKind, *, decode: bool
) -> tuple[dict[str, Any], np.ndarray, np.ndarray]:
    """The shard's instances file, checked against its records and its images' ``kind`` (height, file
    suffix): the images, and every annotation's id, image, category, box and segmentation size. With
    ``decode``, also that every RLE decodes to its image's size and its area; returns the file and the
    RLEs' counts (``decode_counts``; empty without ``decode``: counting a shard need not decode them,
    and its checksum covers their bytes)."""
    name = annotation_file(str(records[0]["split"]))
    try:
        doc = json.loads((path / name).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ShardProblem(f"{name}: {type(exc).__name__}: {exc}") from None
    if not isinstance(doc, dict) or not {"images", "annotations", "categories"} <= doc.keys():
        raise ShardProblem(f"{name} is not a COCO instances file")
    objects = _objects_of(doc["categories"])
    want_images = [
        {
            "id": int(r["key"]),
            "width": int(r["width"]),
            "height": kind.height,
            "file_name": f"images/{r['key']}{kind.suffix}",
            "license": LICENSE_ID,
        }
        for r in records
    ]
    if doc["images"] != want_images:
        raise ShardProblem(f"{name}: its images are not those {len(records)} hng.jsonl lists")
    annotations = doc["annotations"]
    try:
        got = [(a["id"], a["image_id"], a["category_id"], a["bbox"]) for a in annotations]
        sizes = [a["segmentation"]["size"] for a in annotations]
        strings = [a["segmentation"]["counts"] for a in annotations]
        areas = np.array([a["area"] for a in annotations], dtype=np.int64)
        crowd = {a["iscrowd"] for a in annotations}
    except (KeyError, TypeError, ValueError) as exc:
        raise ShardProblem(f"{name}: an annotation lacks a field or has a wrong type ({exc})") from None
    if got != _expected(records, objects):
        raise ShardProblem(f"{name}: its annotations are not the objects the records' boxes call for")
    widths = {int(r["key"]): int(r["width"]) for r in records}
    if sizes != [[kind.height, widths[a[1]]] for a in got] or crowd - {0}:
        raise ShardProblem(f"{name}: an annotation's segmentation size or iscrowd is wrong")
    if not all(isinstance(s, str) for s in strings):
        raise ShardProblem(f"{name}: an annotation's segmentation counts are not a compressed RLE string")
    if not decode:
        return doc, np.zeros(0, dtype=np.int64), np.zeros(1, dtype=np.int64)
    try:
        counts, offsets = decode_counts(strings)
    except ValueError as exc:
        raise ShardProblem(f"{name}: {exc}") from None
    per = np.diff(offsets)
    index = np.arange(counts.size) - np.repeat(offsets[:-1], per)
    owner = np.repeat(np.arange(len(strings)), per)
    totals = np.bincount(owner, weights=counts, minlength=len(strings))
    ones = np.bincount(owner, weights=counts * (index % 2), minlength=len(strings))
    totals_wanted = [kind.height * widths[a[1]] for a in got]
    if not np.array_equal(totals, totals_wanted) or not np.array_equal(ones, areas):
        raise ShardProblem(f"{name}: an RLE does not cover its image or disagrees with its area")
    return doc, counts, offsets


def _masks(
    doc: dict[str, Any], counts: np.ndarray, offsets: np.ndarray, records: list[dict[str, Any]], height: int
) -> list[np.ndarray] | None:
    """Each image's mask (``height`` rows), painted from its digits' RLEs; None if the file holds no
    digit objects."""
    if _objects_of(doc["categories"]) == "number":
        return None
    ids = np.array([a["id"] for a in doc["annotations"]], dtype=np.int64)
    slots = ids % ID_STRIDE  # the number's slot, 65, is 0 here
    digits = np.flatnonzero(slots != 0)
    start = int(records[0]["key"])
    widths = np.array([int(r["width"]) for r in records], dtype=np.int64)
    images = ids[digits] // ID_STRIDE - start
    per = np.diff(offsets)[digits]
    within = np.arange(int(per.sum())) - np.repeat(np.cumsum(per) - per, per)
    painted = paint_label_maps(
        (len(records), height, int(widths.max())),
        counts[np.repeat(offsets[digits], per) + within],
        np.concatenate([[0], np.cumsum(per)]),
        images,
        slots[digits],
        widths,
    )
    return [painted[i, :, : widths[i]] for i in range(len(records))]
