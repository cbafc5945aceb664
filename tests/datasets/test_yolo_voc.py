"""The yolo and voc formats, read back by supervision (``DetectionDataset.from_yolo`` / ``from_pascal_voc``).

Small datasets are made with ``make_dataset`` on the MNIST sample; the truth is the same shards made again
in memory, with their masks. Each shard written must load with supervision and give, for every image,
the generator's objects: classes, boxes (YOLO's normalised boxes within a hundredth of a pixel, VOC's
exactly) and, for YOLO's segment task, masks close to the generator's. Also: Ultralytics' image-to-label
path rule, data.yaml (parsed with PyYAML), the label lines' fixed format, images without objects, the
polygon tracer on hand-made masks, and determinism across worker counts.
"""

from __future__ import annotations

import dataclasses
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
import supervision as sv
import yaml
from scipy.ndimage import binary_fill_holes

from hng.datasets import DatasetSpec, make_dataset
from hng.datasets.checksum import sha256_path
from hng.datasets.formats import CLASS_NAMES, NUMBER_CLASS, ImageObject, format_for, image_objects
from hng.datasets.formats.yolo import polygon
from hng.datasets.shard import Shard, make_shard
from hng.datasets.spec import SpecError

BASE = {"count": 40, "shard_size": 20, "seed": 23}
CASES: dict[str, dict[str, Any]] = {
    "yolo-detect": {"format": "yolo", "digits": "1-6"},
    "yolo-detect-both": {"format": "yolo", "objects": "both", "split": "test", "width_per_digit": 22},
    "yolo-segment": {"format": "yolo", "yolo_task": "segment", "objects": "both", "preset": "mild"},
    "yolo-segment-pad": {
        "format": "yolo",
        "yolo_task": "segment",
        "split": "test",
        "digits": "2-7",
        "fit": "pad",
        "image_width": 150,
        "preset": "strong",
    },
    "yolo-number": {"format": "yolo", "yolo_task": "segment", "objects": "number", "digits": "1-4"},
    "voc": {"format": "voc", "digits": "1-6", "preset": "strong"},
    "voc-both": {"format": "voc", "objects": "both", "split": "test", "width_per_digit": 20, "fit": "pad"},
}
YOLO = [name for name in CASES if name.startswith("yolo")]
VOC = [name for name in CASES if name.startswith("voc")]
LINE = {"detect": re.compile(r"^\d+( [01]\.\d{6}){4}$"), "segment": re.compile(r"^\d+( [01]\.\d{6}){6,}$")}


@dataclasses.dataclass
class Made:
    root: Path
    spec: DatasetSpec
    manifest: dict[str, Any]
    truth: list[Shard]  # the shards made again in memory, with masks

    def shard_folder(self, k: int) -> Path:
        return self.root / self.manifest["shards"][k]["name"]


@pytest.fixture(scope="module")
def made(tmp_path_factory, sample_data, generator) -> dict[str, Made]:
    out = {}
    for name, fields in CASES.items():
        root = tmp_path_factory.mktemp(name)
        manifest = make_dataset({**BASE, **fields}, root, workers=1, data=sample_data)
        spec = DatasetSpec.build(**manifest["spec"])
        truth = [make_shard(spec, k, generator, masks=True) for k in range(spec.num_shards)]
        out[name] = Made(root, spec, manifest, truth)
    return out


def split_folder(spec: DatasetSpec) -> str:
    return {"train": "train", "test": "val"}[spec.split]


def by_key(annotations: dict[str, sv.Detections]) -> dict[str, sv.Detections]:
    return {Path(path).stem: detections for path, detections in annotations.items()}


# --- yolo -------------------------------------------------------------------------------------------------


def img2label_path(image: str) -> str:
    """Ultralytics' rule (ultralytics.data.utils.img2label_paths): the last /images/ becomes /labels/ and
    the suffix .txt."""
    return "/labels/".join(image.rsplit("/images/", 1)).rsplit(".", 1)[0] + ".txt"


@pytest.mark.parametrize("name", YOLO)
def test_yolo_labels_are_where_ultralytics_looks_for_them(made, name):
    case = made[name]
    split = split_folder(case.spec)
    for k, shard in enumerate(case.truth):
        folder = case.shard_folder(k)
        images = sorted(p.as_posix() for p in (folder / "images" / split).iterdir())
        assert [Path(p).stem for p in images] == [shard.key(i) for i in range(len(shard))]
        labels = [img2label_path(p) for p in images]
        assert all(Path(p).is_file() for p in labels)
        held = {p.as_posix() for p in folder.rglob("*") if p.is_file()}
        assert held == {*images, *labels, (folder / "hng.jsonl").as_posix()}


@pytest.mark.parametrize("name", YOLO)
def test_data_yaml_lists_the_image_folders_and_names_the_classes(made, name):
    case = made[name]
    text = (case.root / "data.yaml").read_text()
    data = yaml.safe_load(text)
    split = split_folder(case.spec)
    other = "val" if split == "train" else "train"
    assert other not in data and "path" not in data  # only the split made; folders relative to data.yaml
    folders = [f"{shard['name']}/images/{split}" for shard in case.manifest["shards"]]
    assert data[split] == folders
    # Ultralytics' check_det_dataset: no `path`, so the root is data.yaml's folder.
    root = Path(data.get("path") or (case.root / "data.yaml").parent)
    assert all((root / folder).is_dir() for folder in data[split])
    with_number = case.spec.objects in ("number", "both")
    assert data["names"] == {k: str(k) for k in range(10)} | ({10: "number"} if with_number else {})
    facts = {"files": ["data.yaml"], "yolo_task": case.spec.yolo_task, "yolo_split": split}
    assert case.manifest["format"] == facts
    card = (case.root / "README.md").read_text()
    assert "sv.DetectionDataset.from_yolo(" in card and f"yolo {case.spec.yolo_task} train data=" in card


@pytest.mark.parametrize("name", YOLO)
def test_yolo_label_lines_have_a_fixed_format(made, name):
    case = made[name]
    task = case.spec.yolo_task
    for k, shard in enumerate(case.truth):
        for i in range(len(shard)):
            path = case.shard_folder(k) / "labels" / split_folder(case.spec) / f"{shard.key(i)}.txt"
            text = path.read_text(encoding="ascii")
            lines = text.splitlines()
            assert text == "".join(f"{line}\n" for line in lines)
            assert len(lines) == len(image_objects(shard, i, case.spec.objects))
            for line in lines:
                assert LINE[task].match(line), line
                assert task == "detect" or len(line.split()) % 2 == 1  # class, then x y pairs


def load_yolo(case: Made, k: int) -> tuple[list[str], dict[str, sv.Detections]]:
    split = split_folder(case.spec)
    folder = case.shard_folder(k)
    ds = sv.DetectionDataset.from_yolo(
        images_directory_path=str(folder / "images" / split),
        annotations_directory_path=str(folder / "labels" / split),
        data_yaml_path=str(case.root / "data.yaml"),
        force_masks=case.spec.yolo_task == "segment",
    )
    return ds.classes, by_key(ds.annotations)


@pytest.mark.parametrize("name", YOLO)
def test_supervision_loads_the_yolo_classes_and_boxes(made, name):
    case = made[name]
    for k, shard in enumerate(case.truth):
        classes, annotations = load_yolo(case, k)
        assert classes == list(CLASS_NAMES[: 11 if case.spec.objects != "digits" else 10])
        assert sorted(annotations) == [shard.key(i) for i in range(len(shard))]
        for i in range(len(shard)):
            objects = image_objects(shard, i, case.spec.objects)
            got = annotations[shard.key(i)]
            assert got.class_id.tolist() == [o.category for o in objects]
            want = np.array([[o.x0, o.y0, o.x1, o.y1] for o in objects], dtype=np.float64).reshape(-1, 4)
            if case.spec.yolo_task == "detect":
                np.testing.assert_allclose(got.xyxy, want, atol=0.01)  # %.6f of x / width, in float32
                continue
            for box, obj, (x0, y0, x1, y1) in zip(got.xyxy, objects, want, strict=True):
                # A polygon's extent is its digit's box; a digit in pieces keeps its largest piece, inside.
                if obj.category == NUMBER_CLASS or pieces(shard, i, obj) == 1:
                    np.testing.assert_allclose(box, [x0, y0, x1, y1], atol=0.01)
                else:
                    assert box[0] >= x0 - 0.01 and box[1] >= y0 - 0.01
                    assert box[2] <= x1 + 0.01 and box[3] <= y1 + 0.01


def corner_grid(mask: np.ndarray) -> np.ndarray:
    """(H + 1, W + 1): the corners touching a pixel of ``mask``."""
    m = np.pad(mask.astype(np.uint8), 1)
    return m[:-1, :-1] | m[1:, :-1] | m[:-1, 1:] | m[1:, 1:]


def pieces(shard: Shard, i: int, obj: ImageObject) -> int:
    """How many pieces a digit's corner grid has (8-connected, as OpenCV traces them)."""
    count, _ = cv2.connectedComponents(corner_grid(shard.mask(i) == obj.label), connectivity=8)
    return count - 1


def test_supervision_rebuilds_the_digit_masks_from_the_yolo_polygons(made):
    """supervision fills each polygon at the image's size (cv2.fillPoly, which includes the outline's
    pixels). The polygon runs along the outer edges of the digit's pixels, so the mask it rebuilds holds
    every ink pixel of the traced piece, and beyond it only pixels whose top-left corner touches ink
    (one pixel more to the right and below) or that lie in a hole: the IoU with the generator's mask is
    well below 1 for these thin strokes (about 0.75; Ultralytics rasterises the same polygons at its
    training size, where they fit the digit's pixels closely)."""
    ious, multi, digits = [], 0, 0
    for name in ("yolo-segment", "yolo-segment-pad"):
        case = made[name]
        for k, shard in enumerate(case.truth):
            _, annotations = load_yolo(case, k)
            for i in range(len(shard)):
                got = annotations[shard.key(i)]
                width = int(shard.widths[i])
                assert got.mask is not None and got.mask.shape == (len(got), 28, width)
                for rebuilt, obj in zip(got.mask, image_objects(shard, i, case.spec.objects), strict=True):
                    if obj.category == NUMBER_CLASS:
                        rectangle = np.zeros((28, width), dtype=bool)
                        rectangle[obj.y0 : obj.y1 + 1, obj.x0 : obj.x1 + 1] = True
                        assert np.array_equal(rebuilt, rectangle)
                        continue
                    digits += 1
                    ink = shard.mask(i) == obj.label
                    ious.append((rebuilt & ink).sum() / (rebuilt | ink).sum())
                    # Pixel (x, y) is filled when its top-left corner (x, y) lies in the polygon.
                    reach = binary_fill_holes(corner_grid(ink))[:-1, :-1]
                    assert not np.any(rebuilt & ~reach)
                    if pieces(shard, i, obj) == 1:
                        assert np.all(rebuilt[ink])
                    else:
                        multi += 1
                        assert rebuilt[ink].mean() > 0.5
    mean = float(np.mean(ious))
    print(f"supervision masks vs the generator's: mean IoU {mean:.3f} over {digits} digits "
          f"(min {min(ious):.3f}); {multi} digits in pieces")  # fmt: skip
    assert digits > 100 and mean >= 0.7 and min(ious) > 0.3
    assert multi <= digits * 0.05


def test_polygons_of_hand_made_masks():
    def traced(rows: list[str]) -> list[list[int]]:
        mask = np.array([[c == "#" for c in row] for row in rows])
        ys, xs = np.nonzero(mask)
        if xs.size:
            obj = ImageObject(1, int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1, label=1)
        else:
            obj = ImageObject(1, 2, 1, 4, 3, label=1)
        return sorted(polygon(mask, obj).tolist())

    # One pixel: its four corners.
    assert traced(["....", ".#..", "...."]) == [[1, 1], [1, 2], [2, 1], [2, 2]]
    # A 2 x 3 block: the rectangle of its edges.
    assert traced(["....", ".###", ".###"]) == [[1, 1], [1, 3], [4, 1], [4, 3]]
    # An L: its concave corner (1, 1) is cut by the diagonal from (1, 0) to (2, 1).
    assert traced(["#.", "##"]) == [[0, 0], [0, 2], [1, 0], [2, 1], [2, 2]]
    # Pieces one pixel apart share corners: one outline spanning both.
    close = traced(["#.#"])
    assert min(x for x, _ in close) == 0 and max(x for x, _ in close) == 3
    # Pieces further apart: the larger one only.
    assert traced(["#...##", "#...##"]) == [[4, 0], [4, 2], [6, 0], [6, 2]]
    # No pixel of the digit: its box's rectangle, so that the line still has three points.
    assert traced(["......", "......", "......", "......"]) == [[2, 1], [2, 3], [4, 1], [4, 3]]


def without_objects(shard: Shard, i: int) -> Shard:
    """``shard`` with image i blank: no ink, every digit's box empty, so it has no object."""
    images, boxes, masks = shard.images.copy(), shard.boxes.copy(), shard.masks.copy()
    images[i] = 0
    masks[i] = 0
    boxes[i, : int(shard.lengths[i])] = 0
    return dataclasses.replace(shard, images=images, boxes=boxes, masks=masks)


@pytest.mark.parametrize("task", ["detect", "segment"])
def test_an_image_without_objects_has_an_empty_yolo_label_file(made, tmp_path, task):
    case = made["yolo-segment"]
    shard = without_objects(case.truth[0], 3)
    fmt = format_for(case.spec.model_copy(update={"yolo_task": task}))
    folder = tmp_path / "shard-00000"
    fmt.write(shard, folder)
    assert (folder / "labels" / "train" / f"{shard.key(3)}.txt").read_bytes() == b""
    (tmp_path / "data.yaml").write_text(f"names: {list(CLASS_NAMES)}\n")
    ds = sv.DetectionDataset.from_yolo(
        images_directory_path=str(folder / "images" / "train"),
        annotations_directory_path=str(folder / "labels" / "train"),
        data_yaml_path=str(tmp_path / "data.yaml"),
    )
    assert len(by_key(ds.annotations)[shard.key(3)]) == 0
    assert fmt.count(folder) == len(shard)


def test_segment_needs_the_masks(made, tmp_path):
    case = made["yolo-segment"]
    fmt = format_for(case.spec)
    assert fmt.masks  # so the engine makes them
    with pytest.raises(ValueError, match="has no masks"):
        fmt.write(dataclasses.replace(case.truth[0], masks=None), tmp_path / "shard-00000")


# --- voc --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", VOC)
def test_supervision_loads_the_voc_classes_and_exact_boxes(made, name):
    case = made[name]
    for k, shard in enumerate(case.truth):
        folder = case.shard_folder(k)
        ds = sv.DetectionDataset.from_pascal_voc(
            images_directory_path=str(folder / "JPEGImages"),
            annotations_directory_path=str(folder / "Annotations"),
        )
        annotations = by_key(ds.annotations)
        assert sorted(annotations) == [shard.key(i) for i in range(len(shard))]
        for i in range(len(shard)):
            objects = image_objects(shard, i, case.spec.objects)
            got = annotations[shard.key(i)]
            assert [ds.classes[c] for c in got.class_id] == [CLASS_NAMES[o.category] for o in objects]
            want = np.array([[o.x0, o.y0, o.x1, o.y1] for o in objects], dtype=np.float32).reshape(-1, 4)
            assert np.array_equal(got.xyxy, want)


@pytest.mark.parametrize("name", VOC)
def test_voc_annotations_hold_the_devkit_fields(made, name):
    case = made[name]
    split = case.spec.split
    for k, shard in enumerate(case.truth):
        folder = case.shard_folder(k)
        ids = (folder / "ImageSets" / "Main" / f"{split}.txt").read_text().splitlines()
        assert ids == [shard.key(i) for i in range(len(shard))]
        for i in range(len(shard)):
            root = ET.parse(folder / "Annotations" / f"{shard.key(i)}.xml").getroot()
            assert root.tag == "annotation"
            assert root.findtext("folder") == folder.name
            assert root.findtext("filename") == f"{shard.key(i)}.png"
            assert (folder / "JPEGImages" / root.findtext("filename")).is_file()
            size = [int(root.findtext(f"size/{tag}")) for tag in ("width", "height", "depth")]
            assert size == [int(shard.widths[i]), 28, 1]
            assert root.findtext("segmented") == "0"
            found = root.findall("object")
            assert len(found) == len(image_objects(shard, i, case.spec.objects))
            for obj in found:
                fields = [obj.findtext(tag) for tag in ("pose", "truncated", "difficult")]
                assert fields == ["Unspecified", "0", "0"]
                box = [int(obj.findtext(f"bndbox/{tag}")) for tag in ("xmin", "ymin", "xmax", "ymax")]
                assert 1 <= box[0] <= box[2] <= size[0] and 1 <= box[1] <= box[3] <= 28
    card = (case.root / "README.md").read_text()
    assert "sv.DetectionDataset.from_pascal_voc(" in card and "1-based" in card


def test_an_image_without_objects_has_a_voc_annotation_without_object(made, tmp_path):
    case = made["voc"]
    shard = without_objects(case.truth[0], 2)
    fmt = format_for(case.spec)
    fmt.write(shard, tmp_path / "shard-00000")
    root = ET.parse(tmp_path / "shard-00000" / "Annotations" / f"{shard.key(2)}.xml").getroot()
    assert root.findall("object") == [] and root.findtext("size/width") == str(int(shard.widths[2]))


# --- both -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["yolo-segment", "voc-both"])
def test_one_and_two_workers_make_the_same_bytes(made, tmp_path, sample_data, name):
    case = made[name]
    again = make_dataset({**BASE, **CASES[name]}, tmp_path, workers=2, data=sample_data)
    assert again["shards"] == case.manifest["shards"]
    for shard in case.manifest["shards"]:
        assert sha256_path(tmp_path / shard["name"]) == sha256_path(case.root / shard["name"])
    if name.startswith("yolo"):
        assert (tmp_path / "data.yaml").read_bytes() == (case.root / "data.yaml").read_bytes()


def test_spec_options_of_these_formats():
    with pytest.raises(SpecError, match="use yolo_task segment"):
        DatasetSpec.build(count=1, format="yolo", masks=True)
    with pytest.raises(SpecError, match="yolo_task applies to the yolo format only, not voc"):
        DatasetSpec.build(count=1, format="voc", yolo_task="segment")
    for fmt in ("yolo", "voc"):
        assert DatasetSpec.build(count=1, format=fmt, objects="both").objects == "both"
    assert format_for(DatasetSpec.build(count=1, format="yolo")).masks is False
    assert format_for(DatasetSpec.build(count=1, format="voc", objects="number")).masks is False
