"""Every format with images of any height, grey or RGB, stored as PNG or JPEG (issue 16).

The shards are built from real generated images (the MNIST sample) resized to 16 rows (grey, white ink on
black) and 48 rows (RGB: dark blue ink on cream, colourised with numpy), their masks resized with the
nearest pixel and their boxes recomputed as the masks' tight bounds, so nothing here depends on the
document stage. Each format writes them as PNG and, if it stores encoded images, as JPEG with a quality
range; hng's reader and the library its users load it with (numpy, webdataset, Hugging Face datasets,
pycocotools, supervision, PIL as docTR, PaddleOCR and DTRB open the files) must give back the size,
channels, pixels (exactly for PNG; for JPEG what the files hold, close to the arrays written, at the
quality ``jpeg_quality_for`` draws for the image), boxes and masks. Also: broken and mixed files are
refused, the cards state the real sizes, the contact sheet draws RGB images, and a whole dataset of 48-row
RGB JPEGs goes through the engine and finalize.
"""

from __future__ import annotations

import copy
import io
import json
import shutil
import tarfile
import xml.etree.ElementTree as ET
from functools import cache
from pathlib import Path
from typing import Any

import cv2
import lmdb
import numpy as np
import pytest
import supervision as sv
from PIL import Image
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO

from hng.core.encoding import decode_image, encode_image, jpeg_frame, jpeg_quality_for
from hng.core.png import encode_png
from hng.datasets import make_dataset
from hng.datasets.card import render_card
from hng.datasets.formats import (
    FORMATS,
    NUMBER_CLASS,
    ImageFiles,
    image_objects,
    image_phrase,
    png_problem,
)
from hng.datasets.formats.lmdb_format import map_size
from hng.datasets.shard import PAD, Shard
from hng.quality import contact_sheet as sheet_module
from hng.quality.contact_sheet import contact_sheet, sheet_layout
from hng.quality.readability import mnist_polarity

N = 12  # images per shard
QUALITY = (70, 95)  # the JPEG quality range of the shards written as JPEG
PAPER = np.array([238, 232, 214], dtype=np.float64)  # cream, RGB
INK = np.array([28, 36, 84], dtype=np.float64)  # dark blue, RGB
LOOKS = {"grey16": (16, 1), "rgb48": (48, 3)}
# Formats whose reader gives the masks back: stored as PNGs (npz: arrays), or coco's RLEs.
MASKED = ("npz", "webdataset", "imagefolder", "coco")
CASES = [
    (name, look, encoding)
    for name, fmt in FORMATS.items()
    for look in LOOKS
    for encoding in (("png", "jpeg") if fmt.encodes_images else ("png",))
]
IDS = [f"{name}-{look}-{encoding}" for name, look, encoding in CASES]


def resized(base: Shard, height: int, channels: int, encoding: str, *, start: int = 0) -> Shard:
    """``base`` (28 rows, grey, with masks) at ``height`` rows: widths scaled alike, images resized
    (INTER_AREA down, INTER_LINEAR up) and with 3 channels inked dark blue on cream; masks resized to the
    nearest pixel, boxes their tight bounds ((0, 0, 0, 0) for a digit gone)."""
    assert base.masks is not None
    n = len(base)
    widths = np.maximum(1, np.rint(base.widths * height / 28)).astype(np.int32)
    width = int(widths.max())
    images = np.zeros((n, height, width, 3) if channels == 3 else (n, height, width), dtype=np.uint8)
    masks = np.zeros((n, height, width), dtype=np.uint8)
    boxes = np.full(base.boxes.shape, PAD, dtype=np.int32)
    shrink = cv2.INTER_AREA if height < 28 else cv2.INTER_LINEAR
    for i in range(n):
        w = int(widths[i])
        ink = cv2.resize(base.image(i), (w, height), interpolation=shrink)
        mask = cv2.resize(base.mask(i), (w, height), interpolation=cv2.INTER_NEAREST)
        if channels == 3:
            alpha = ink[..., None] / 255.0
            images[i, :, :w] = np.rint(PAPER * (1 - alpha) + INK * alpha).astype(np.uint8)
        else:
            images[i, :, :w] = ink
        masks[i, :, :w] = mask
        for k in range(int(base.lengths[i])):
            ys, xs = np.nonzero(mask == k + 1)
            boxes[i, k] = (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1) if xs.size else (0, 0, 0, 0)
    return Shard(
        index=base.index,
        start=start,
        images=images,
        widths=widths,
        labels=base.labels,
        lengths=base.lengths,
        boxes=boxes,
        seeds=base.seeds,
        indices=base.indices,
        split=base.split,
        masks=masks,
        encoding=encoding,
        jpeg_quality=QUALITY,
    )


@pytest.fixture(scope="module")
def base(generator) -> Shard:
    """N real images of 2-5 digits, 28 rows, with masks (labels with a leading zero, varied widths)."""
    rng = np.random.default_rng(16)
    lengths = rng.integers(2, 6, N)
    labels = ["".join(map(str, rng.integers(0, 10, k))) for k in lengths]
    labels[0] = "0" + labels[0][1:]
    widths = lengths * rng.integers(22, 34, N)
    seeds = rng.integers(0, 2**53, N)
    batch = generator.generate_batch(labels, image_width=widths, seeds=seeds, masks=True)
    longest = int(lengths.max())
    boxes = np.full((N, longest, 4), PAD, dtype=np.int32)
    indices = np.full((N, longest), PAD, dtype=np.int32)
    for i in range(N):
        rows = slice(int(batch.digit_offsets[i]), int(batch.digit_offsets[i + 1]))
        boxes[i, : lengths[i]] = batch.boxes[rows, 1:]
        indices[i, : lengths[i]] = batch.indices[rows]
    return Shard(
        index=0,
        start=0,
        images=batch.images,
        widths=batch.widths.astype(np.int32),
        labels=np.array(labels, dtype=f"<U{longest}"),
        lengths=lengths.astype(np.int32),
        boxes=boxes,
        seeds=seeds.astype(np.int64),
        indices=indices,
        split="train",
        masks=batch.masks,
    )


@pytest.fixture(scope="module")
def shards(base) -> dict[tuple[str, str], Shard]:
    """(look, encoding) -> the shard (the same images for every format)."""
    return {
        (look, encoding): resized(base, height, channels, encoding)
        for look, (height, channels) in LOOKS.items()
        for encoding in ("png", "jpeg")
    }


@pytest.fixture(scope="module")
def written(tmp_path_factory, shards) -> dict[tuple[str, str, str], tuple[Shard, Path]]:
    """Every case written once: (format, look, encoding) -> (the shard, its path)."""
    out = {}
    for name, look, encoding in CASES:
        shard = shards[look, encoding]
        path = tmp_path_factory.mktemp(f"{name}-{look}-{encoding}") / FORMATS[name].shard_name(0)
        FORMATS[name].write(shard, path)
        out[name, look, encoding] = (shard, path)
    return out


def stored_images(name: str, path: Path, shard: Shard) -> list[tuple[str, bytes]]:
    """(file name, bytes) of each image file of a shard, as its format lays them out."""
    key = shard.key
    suffix = shard.image_suffix
    if name == "webdataset":
        with tarfile.open(path) as tar:
            return [(f"{key(i)}{suffix}", tar.extractfile(f"{key(i)}{suffix}").read()) for i in range(N)]
    if name == "lmdb":
        env = lmdb.open(str(path), readonly=True, lock=False)
        try:
            with env.begin() as txn:
                return [(f"image-{i + 1:09d}", bytes(txn.get(b"image-%09d" % (i + 1)))) for i in range(N)]
        finally:
            env.close()
    folder = {
        "imagefolder": "",
        "yolo": "images/train/",
        "voc": "JPEGImages/",
        "coco": "images/",
        "paddleocr": "images/",
        "doctr": "images/",
    }[name]
    return [
        (f"{folder}{key(i)}{suffix}", (path / f"{folder}{key(i)}{suffix}").read_bytes()) for i in range(N)
    ]


@cache
def quality_tables(channels: int) -> dict[bytes, list[int]]:
    """The quantisation tables (the DQT segments) OpenCV writes at each JPEG quality -> those qualities."""
    image = np.zeros((8, 8, 3) if channels == 3 else (8, 8), dtype=np.uint8)
    tables: dict[bytes, list[int]] = {}
    for quality in range(1, 101):
        tables.setdefault(dqt(encode_image(image, "jpeg", quality)), []).append(quality)
    return tables


def dqt(data: bytes) -> bytes:
    """The DQT segments of a JPEG, concatenated (walking its segments up to the scan)."""
    out, i = b"", 2
    while data[i + 1] != 0xDA:
        length = int.from_bytes(data[i + 2 : i + 4], "big")
        if data[i + 1] == 0xDB:
            out += data[i + 4 : i + 2 + length]
        i += 2 + length
    return out


def assert_pixels(got: np.ndarray, shard: Shard, i: int) -> None:
    """Image i read back: exactly the array written for PNG; for JPEG close to it (lossy)."""
    want = shard.image(i)
    assert got.shape == want.shape and got.dtype == np.uint8
    if shard.encoding == "png":
        np.testing.assert_array_equal(got, want)
    else:
        error = np.abs(got.astype(np.int64) - want).mean()
        assert 0 < error < 8, error


def rgb_or_l(channels: int) -> str:
    return "RGB" if channels == 3 else "L"


# --- hng's reader ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "look", "encoding"), CASES, ids=IDS)
def test_hng_reads_back_what_the_files_hold(name, look, encoding, written):
    shard, path = written[name, look, encoding]
    fmt = FORMATS[name]
    height, channels = LOOKS[look]
    got = fmt.read(path, 0, 0)
    assert (got.height, got.channels, got.encoding) == (height, channels, encoding)
    pixel = (3,) if channels == 3 else ()
    assert got.images.shape == (N, height, int(shard.widths.max()), *pixel)
    for array in ("widths", "labels", "lengths", "boxes", "seeds", "indices"):
        np.testing.assert_array_equal(getattr(got, array), getattr(shard, array), err_msg=array)
    if name in MASKED:
        np.testing.assert_array_equal(got.masks, shard.masks)
    else:
        assert got.masks is None
    files = None if name == "npz" else stored_images(name, path, shard)
    for i in range(N):
        assert_pixels(got.image(i), shard, i)
        if files is not None:  # what is read back is what the file holds
            np.testing.assert_array_equal(got.image(i), decode_image(files[i][1]))
    assert fmt.count(path) == N
    rows = [0, 5, N - 1]
    part = fmt.read_rows(path, 0, 0, rows)
    assert part.encoding == encoding and part.labels.tolist() == shard.labels[rows].tolist()
    for j, row in enumerate(rows):
        np.testing.assert_array_equal(part.image(j), got.image(row))


@pytest.mark.parametrize(
    ("name", "look", "encoding"), [c for c in CASES if c[0] != "npz"], ids=[i for i in IDS if "npz" not in i]
)
def test_image_files_are_named_and_encoded_as_the_spec_says(name, look, encoding, written):
    shard, path = written[name, look, encoding]
    height, channels = LOOKS[look]
    qualities = []
    for i, (file_name, data) in enumerate(stored_images(name, path, shard)):
        width = int(shard.widths[i])
        if encoding == "png":
            assert name == "lmdb" or file_name.endswith(".png")
            assert png_problem(data, width, height, channels) is None
            continue
        assert name == "lmdb" or file_name.endswith(".jpg")
        frame = jpeg_frame(data)
        assert frame is not None and tuple(frame) == (8, height, width, channels)
        assert data.startswith(b"\xff\xd8\xff") and data.endswith(b"\xff\xd9")
        # The quality the file was written at (its quantisation tables) is the one drawn for its seed.
        quality = jpeg_quality_for(int(shard.seeds[i]), QUALITY)
        assert quality_tables(channels)[dqt(data)] == [quality]
        qualities.append(quality)
    if encoding == "jpeg":
        assert len(set(qualities)) > 3 and all(QUALITY[0] <= q <= QUALITY[1] for q in qualities)


def test_jpeg_quality_orders_the_file_sizes(shards):
    """The same image at the qualities of the range: a higher quality never gives a smaller file, and
    the one drawn for the image is what Shard.encoded_image writes."""
    shard = shards["rgb48", "jpeg"]
    image = np.ascontiguousarray(shard.image(1))
    sizes = [len(encode_image(image, "jpeg", q)) for q in range(QUALITY[0], QUALITY[1] + 1)]
    assert sizes == sorted(sizes) and sizes[0] < sizes[-1]
    drawn = jpeg_quality_for(int(shard.seeds[1]), QUALITY)
    assert shard.encoded_image(1) == encode_image(image, "jpeg", drawn)


def test_writing_a_jpeg_shard_twice_gives_the_same_bytes(tmp_path, shards):
    for name in ("webdataset", "lmdb"):
        fmt = FORMATS[name]
        first, second = tmp_path / f"{name}-a", tmp_path / f"{name}-b"
        fmt.write(shards["rgb48", "jpeg"], first)
        fmt.write(shards["rgb48", "jpeg"], second)
        data = [p.read_bytes() if p.is_file() else (p / "data.mdb").read_bytes() for p in (first, second)]
        assert data[0] == data[1]


# --- the libraries users load them with ------------------------------------------------------------------


@pytest.mark.parametrize("look", list(LOOKS))
def test_numpy_loads_the_npz_arrays_as_they_are(look, written):
    shard, path = written["npz", look, "png"]
    with np.load(path, allow_pickle=False) as npz:
        assert npz["images"].shape == shard.images.shape and npz["images"].dtype == np.uint8
        np.testing.assert_array_equal(npz["images"], shard.images)
        np.testing.assert_array_equal(npz["masks"], shard.masks)


def test_npz_refuses_a_jpeg_shard(tmp_path, shards):
    with pytest.raises(ValueError, match="npz format: it stores the pixels as they are, not jpeg files"):
        FORMATS["npz"].write(shards["rgb48", "jpeg"], tmp_path / "x.npz")
    assert not (tmp_path / "x.npz").exists()


@pytest.mark.parametrize(("look", "encoding"), [(look, e) for look in LOOKS for e in ("png", "jpeg")])
def test_webdataset_package_decodes_by_the_extension(look, encoding, written):
    import webdataset as wds

    shard, path = written["webdataset", look, encoding]
    got = FORMATS["webdataset"].read(path, 0, 0)
    channels = LOOKS[look][1]
    member = "png" if encoding == "png" else "jpg"
    samples = list(wds.WebDataset(str(path), shardshuffle=False).decode("rgb8" if channels == 3 else "l8"))
    assert [s["__key__"] for s in samples] == [shard.key(i) for i in range(N)]
    for i, sample in enumerate(samples):
        assert set(sample) >= {member, "json", "txt", "mask.png"}
        image = sample[member]
        assert image.dtype == np.uint8 and image.shape == got.image(i).shape
        np.testing.assert_array_equal(image, got.image(i))
        assert_pixels(image, shard, i)
        mask = sample["mask.png"]
        np.testing.assert_array_equal(mask[..., 0] if mask.ndim == 3 else mask, shard.mask(i))
        assert sample["json"]["boxes"] == shard.record(i)["boxes"]


@pytest.mark.parametrize(("look", "encoding"), [("rgb48", "jpeg"), ("grey16", "jpeg"), ("rgb48", "png")])
def test_hf_datasets_reads_the_tars(look, encoding, hf_datasets, hf_cache, written):
    shard, path = written["webdataset", look, encoding]
    got = FORMATS["webdataset"].read(path, 0, 0)
    member = "png" if encoding == "png" else "jpg"
    ds = hf_datasets.load_dataset(
        "webdataset", data_files={"train": [str(path)]}, split="train", cache_dir=hf_cache
    )
    assert isinstance(ds.features[member], hf_datasets.Image) and len(ds) == N
    for i in (0, N - 1):
        image = ds[i][member]
        assert image.mode == rgb_or_l(shard.channels) and image.size == (int(shard.widths[i]), shard.height)
        np.testing.assert_array_equal(np.asarray(image), got.image(i))
        assert ds[i]["json"]["boxes"] == shard.record(i)["boxes"]


@pytest.mark.parametrize(("look", "encoding"), [("rgb48", "jpeg"), ("grey16", "png")])
def test_hf_imagefolder_loads_the_images_and_masks(look, encoding, hf_datasets, hf_cache, written):
    shard, path = written["imagefolder", look, encoding]
    got = FORMATS["imagefolder"].read(path, 0, 0)
    ds = hf_datasets.load_dataset("imagefolder", data_dir=str(path), split="train", cache_dir=hf_cache)
    assert isinstance(ds.features["image"], hf_datasets.Image) and len(ds) == N
    assert isinstance(ds.features["mask"], hf_datasets.Image)
    for i in (0, 7):
        row = ds[i]
        assert row["key"] == shard.key(i)
        assert row["image"].mode == rgb_or_l(shard.channels)
        np.testing.assert_array_equal(np.asarray(row["image"]), got.image(i))
        assert row["mask"].mode == "L"
        np.testing.assert_array_equal(np.asarray(row["mask"]), shard.mask(i))
        objects = image_objects(shard, i, "digits")
        assert row["objects"]["bbox"] == [[o.x0, o.y0, o.x1 - o.x0, o.y1 - o.y0] for o in objects]
    line = json.loads((path / "metadata.jsonl").read_text().splitlines()[0])
    assert line["file_name"] == f"{shard.key(0)}{shard.image_suffix}"
    assert line["mask_file_name"] == f"{shard.key(0)}.mask.png"


@pytest.mark.parametrize(("look", "encoding"), [(look, e) for look in LOOKS for e in ("png", "jpeg")])
def test_pycocotools_and_supervision_load_the_coco_shard(look, encoding, written):
    shard, path = written["coco", look, encoding]
    coco = COCO(str(path / "annotations" / "instances_train.json"))
    assert coco.getImgIds() == list(range(N))
    for i in range(N):
        info = coco.loadImgs(i)[0]
        assert (info["height"], info["width"]) == (shard.height, int(shard.widths[i]))
        assert info["file_name"] == f"images/{shard.key(i)}{shard.image_suffix}"
        with Image.open(path / info["file_name"]) as image:
            assert image.size == (int(shard.widths[i]), shard.height)
            assert image.mode == rgb_or_l(shard.channels)
        for ann in coco.loadAnns(coco.getAnnIds(imgIds=[i])):
            k = ann["id"] % 65
            np.testing.assert_array_equal(coco.annToMask(ann), shard.mask(i) == k)
            assert mask_utils.toBbox(ann["segmentation"]).tolist() == ann["bbox"]
            x0, y0, x1, y1 = shard.boxes[i, k - 1].tolist()
            assert ann["bbox"] == [x0, y0, x1 - x0, y1 - y0]
    ds = sv.DetectionDataset.from_coco(
        images_directory_path=str(path),
        annotations_path=str(path / "annotations" / "instances_train.json"),
        force_masks=True,
    )
    for file_path, detections in ds.annotations.items():
        i = int(Path(file_path).stem)
        objects = image_objects(shard, i, "digits")
        assert detections.xyxy.tolist() == [[o.x0, o.y0, o.x1, o.y1] for o in objects]
        assert detections.mask.shape == (len(objects), shard.height, int(shard.widths[i]))


@pytest.mark.parametrize(("look", "encoding"), [(look, e) for look in LOOKS for e in ("png", "jpeg")])
def test_supervision_loads_the_yolo_boxes_normalised_by_the_height(look, encoding, written, tmp_path):
    shard, path = written["yolo", look, encoding]
    (tmp_path / "data.yaml").write_text("train: x\nnames:\n" + "".join(f'  {d}: "{d}"\n' for d in range(10)))
    ds = sv.DetectionDataset.from_yolo(
        images_directory_path=str(path / "images" / "train"),
        annotations_directory_path=str(path / "labels" / "train"),
        data_yaml_path=str(tmp_path / "data.yaml"),
    )
    assert len(ds) == N
    for file_path, detections in ds.annotations.items():
        assert file_path.endswith(shard.image_suffix)
        i = int(Path(file_path).stem)
        objects = image_objects(shard, i, "digits")
        want = [[o.x0, o.y0, o.x1, o.y1] for o in objects]
        np.testing.assert_allclose(detections.xyxy, np.array(want, dtype=float).reshape(-1, 4), atol=0.01)
    # A line's y coordinates are fractions of the image's height.
    obj = image_objects(shard, 0, "digits")[0]
    line = (path / "labels" / "train" / f"{shard.key(0)}.txt").read_text().splitlines()[0].split()
    assert float(line[2]) == pytest.approx((obj.y0 + obj.y1) / 2 / shard.height, abs=1e-6)
    assert float(line[4]) == pytest.approx((obj.y1 - obj.y0) / shard.height, abs=1e-6)


def test_yolo_segment_polygons_span_the_boxes_at_any_height(tmp_path, shards):
    fmt = copy.copy(FORMATS["yolo"])
    fmt.task, fmt.masks = "segment", True
    shard = shards["rgb48", "jpeg"]
    fmt.write(shard, tmp_path / "shard-00000")
    for i in range(N):
        lines = (
            (tmp_path / "shard-00000" / "labels" / "train" / f"{shard.key(i)}.txt").read_text().splitlines()
        )
        for line, obj in zip(lines, image_objects(shard, i, "digits"), strict=True):
            values = np.array(line.split()[1:], dtype=float).reshape(-1, 2)
            xs, ys = values[:, 0] * int(shard.widths[i]), values[:, 1] * shard.height
            assert obj.category != NUMBER_CLASS
            assert xs.min() >= obj.x0 - 1e-3 and xs.max() <= obj.x1 + 1e-3
            assert ys.min() >= obj.y0 - 1e-3 and ys.max() <= obj.y1 + 1e-3


@pytest.mark.parametrize(("look", "encoding"), [(look, e) for look in LOOKS for e in ("png", "jpeg")])
def test_voc_annotations_state_the_size_depth_and_file(look, encoding, written):
    shard, path = written["voc", look, encoding]
    for i in range(N):
        root = ET.parse(path / "Annotations" / f"{shard.key(i)}.xml").getroot()
        assert root.findtext("filename") == f"{shard.key(i)}{shard.image_suffix}"
        assert (path / "JPEGImages" / root.findtext("filename")).is_file()
        size = root.find("size")
        assert [int(size.findtext(k)) for k in ("width", "height", "depth")] == [
            int(shard.widths[i]), shard.height, shard.channels
        ]  # fmt: skip
    ds = sv.DetectionDataset.from_pascal_voc(
        images_directory_path=str(path / "JPEGImages"), annotations_directory_path=str(path / "Annotations")
    )
    for file_path, detections in ds.annotations.items():
        i = int(Path(file_path).stem)
        objects = image_objects(shard, i, "digits")
        assert detections.xyxy.tolist() == [[o.x0, o.y0, o.x1, o.y1] for o in objects]


@pytest.mark.parametrize(("look", "encoding"), [(look, e) for look in LOOKS for e in ("png", "jpeg")])
def test_paddleocr_and_doctr_label_files_name_the_image_files(look, encoding, written):
    shard, path = written["paddleocr", look, encoding]
    got = FORMATS["paddleocr"].read(path, 0, 0)
    lines = (path / "rec_gt_train.txt").read_text(encoding="utf-8").splitlines()
    for i, line in enumerate(lines):
        image_path, label = line.split("\t")
        assert (
            image_path == f"{path.name}/images/{shard.key(i)}{shard.image_suffix}"
            and label == shard.labels[i]
        )
        with Image.open(path.parent / image_path) as image:  # PaddleOCR joins the path to data_dir
            np.testing.assert_array_equal(np.asarray(image.convert(rgb_or_l(shard.channels))), got.image(i))
    det = (path / "det_gt_train.txt").read_text(encoding="utf-8").splitlines()
    assert all(line.split("\t")[0].endswith(shard.image_suffix) for line in det)
    shard, path = written["doctr", look, encoding]
    got = FORMATS["doctr"].read(path, 0, 0)
    labels = json.loads((path / "labels.json").read_text(encoding="utf-8"))
    assert list(labels) == [f"{shard.key(i)}{shard.image_suffix}" for i in range(N)]
    for i, (file_name, label) in enumerate(labels.items()):
        assert label == shard.labels[i]
        with Image.open(path / "images" / file_name) as image:  # docTR: Pillow, then RGB
            rgb = np.asarray(image.convert("RGB"))
        want = got.image(i) if shard.channels == 3 else np.repeat(got.image(i)[..., None], 3, axis=2)
        np.testing.assert_array_equal(rgb, want)


@pytest.mark.parametrize(("look", "encoding"), [(look, e) for look in LOOKS for e in ("png", "jpeg")])
def test_dtrb_reads_the_lmdb_images_with_pil(look, encoding, written):
    shard, path = written["lmdb", look, encoding]
    got = FORMATS["lmdb"].read(path, 0, 0)
    env = lmdb.open(str(path), max_readers=32, readonly=True, lock=False, readahead=False, meminit=False)
    try:
        with env.begin(write=False) as txn:
            assert int(txn.get(b"num-samples")) == N
            for i in range(N):
                label = txn.get(b"label-%09d" % (i + 1)).decode("utf-8")
                buf = io.BytesIO(txn.get(b"image-%09d" % (i + 1)))
                # DTRB's LmdbDataset: convert("RGB") with --rgb, else convert("L").
                image = np.asarray(Image.open(buf).convert(rgb_or_l(shard.channels)))
                assert label == shard.labels[i]
                np.testing.assert_array_equal(image, got.image(i))
    finally:
        env.close()


def test_lmdb_map_size_holds_the_worst_jpeg():
    """The map size bound of an image: at least white noise at quality 100 (the worst measured)."""
    rng = np.random.default_rng(0)
    for height, width, channels in [(16, 1, 1), (16, 9, 3), (48, 240, 3), (256, 600, 3), (256, 600, 1)]:
        noise = rng.integers(0, 256, (height, width, 3) if channels == 3 else (height, width), dtype=np.uint8)
        size = len(encode_image(noise, "jpeg", 100))
        bound = map_size(1, width, 1, 4096, height=height, channels=channels, encoding="jpeg") // 2
        assert size < bound - 4096
    assert map_size(100, 140, 5, 4096) == map_size(100, 140, 5, 4096, height=28, channels=1, encoding="png")


# --- broken and mixed files ------------------------------------------------------------------------------


def test_the_checks_refuse_broken_and_mixed_image_files(tmp_path, written):
    shard, whole = written["imagefolder", "rgb48", "jpeg"]
    fmt = FORMATS["imagefolder"]
    key = shard.key(3)

    def broken(change) -> Path:
        path = tmp_path / f"case{len(list(tmp_path.iterdir()))}" / "shard-00007"
        path.parent.mkdir()
        shutil.copytree(whole, path)
        change(path / f"{key}.jpg")
        return path

    cases = {
        "truncated JPEG \\(no EOI marker at its end\\)": lambda p: p.write_bytes(p.read_bytes()[:-100]),
        "not a JPEG file": lambda p: p.write_bytes(encode_image(shard.image(3), "png")),
        "JPEG is 9 wide, its record says": lambda p: p.write_bytes(
            encode_image(shard.image(3)[:, :9], "jpeg")
        ),
        "JPEG grey 48 high, where the shard's first image is JPEG RGB 48 high": lambda p: p.write_bytes(
            encode_image(np.ascontiguousarray(shard.image(3)[..., 0]), "jpeg")
        ),
        "JPEG grey 16 high": lambda p: p.write_bytes(
            encode_image(np.zeros((16, int(shard.widths[3])), dtype=np.uint8), "jpeg")
        ),
    }
    for reason, change in cases.items():
        path = broken(change)
        with pytest.raises(ValueError, match=rf"^shard-00007 is not a whole imagefolder shard: .*{reason}"):
            fmt.count(path)
    tar_shard, tar = written["webdataset", "grey16", "jpeg"]
    data = tar.read_bytes()
    with tarfile.open(tar) as archive:
        member = archive.getmember(f"{tar_shard.key(2)}.jpg")
    cut = tmp_path / "cut.tar"
    cut.write_bytes(data[: member.offset_data + member.size - 1] + bytes(2048))
    with pytest.raises(ValueError, match="not a whole webdataset shard"):
        FORMATS["webdataset"].count(cut)


def test_image_files_checker_sets_the_kind_from_the_first_file(shards):
    files = ImageFiles()
    rgb, grey = shards["rgb48", "jpeg"], shards["grey16", "png"]
    assert files.problem(rgb.encoded_image(0), int(rgb.widths[0]), "a.jpg") is None
    assert tuple(files.kind) == ("jpeg", 48, 3) and files.kind.suffix == ".jpg"
    assert files.problem(rgb.encoded_image(1), int(rgb.widths[1])) is None  # by its bytes
    assert "is not a .png or .jpg file" in files.problem(rgb.encoded_image(1), int(rgb.widths[1]), "b.gif")
    assert files.problem(rgb.encoded_image(1), int(rgb.widths[1]), "b.png") == "not a PNG file"
    assert "PNG grey 16 high, where" in files.problem(grey.encoded_image(0), int(grey.widths[0]), "c.png")
    assert files.mask_problem(encode_image(rgb.mask(0)), int(rgb.widths[0])) is None
    assert "PNG is 33 x 48" in files.mask_problem(encode_image(rgb.mask(0)[:, :33]), int(rgb.widths[0]))
    assert png_problem(encode_image(rgb.image(0)), int(rgb.widths[0]), 48, 1) == "PNG is RGB, not grey"


def test_jpeg_frame_reads_the_header_without_decoding():
    grey = encode_image(np.full((17, 33), 200, dtype=np.uint8), "jpeg", 80)
    colour = encode_image(np.full((256, 5, 3), 90, dtype=np.uint8), "jpeg", 80)
    assert tuple(jpeg_frame(grey)) == (8, 17, 33, 1)
    assert tuple(jpeg_frame(colour)) == (8, 256, 5, 3)
    assert jpeg_frame(b"\xff\xd8") is None and jpeg_frame(b"\x89PNG\r\n\x1a\n") is None
    start = grey.index(b"\xff\xc0")
    assert jpeg_frame(grey[: start + 6]) is None  # cut inside the frame header
    assert jpeg_frame(grey[:start] + b"\xff\xda" + grey[start + 2 :]) is None  # a scan before any frame


# --- cards, the contact sheet, finalize ------------------------------------------------------------------


def card_of(fmt: str, **spec: Any) -> str:
    manifest = {
        "spec": {"format": fmt, "split": "train", "digits": [2, 5], "count": 24, **spec},
        "command": "hng dataset ...",
        "images": 24,
        "shards": [{"index": 0, "name": FORMATS[fmt].shard_name(0), "images": 24, "sha256": "0" * 64}],
        "report": {},
    }
    return render_card(manifest)


def test_cards_state_the_height_channels_and_encoding():
    assert image_phrase({}) == "8-bit grey PNG, 28 × width"
    assert image_phrase({"height": 48, "channels": 3}) == "8-bit RGB PNG, 48 × width"
    jpeg = {"height": 64, "channels": 3, "image_encoding": "jpeg", "jpeg_quality": [80, 80]}
    assert image_phrase(jpeg) == "8-bit RGB JPEG (quality 80), 64 × width"
    for name, fmt in FORMATS.items():
        default = card_of(name)
        assert "28 × width" in default or "(N, 28, W)" in default, name
        assert "(height 28). White ink on black, 8-bit grey." in default
        spec = {"height": 48, "channels": 3}
        if fmt.encodes_images:
            spec |= {"image_encoding": "jpeg", "jpeg_quality": [75, 95]}
        card = card_of(name, **spec)
        assert "28" not in card.replace("2026", ""), name  # no 28-high or 28-pixel claim anywhere
        assert "8-bit grey" not in card, name
        assert "(height 48). White ink on black, stored as RGB, 8-bit RGB." in card
        if fmt.encodes_images:
            assert "8-bit RGB JPEG (quality 75-95, drawn per image), 48 × width" in card, name
            assert ".png" not in card.split("## Loading")[1].split("Masks")[0], name
        else:
            assert "`images` (N, 48, W, 3) RGB uint8" in card
    webdataset = card_of("webdataset", height=48, channels=3, image_encoding="jpeg")
    assert '.decode("rgb8").to_tuple("jpg", "json")' in webdataset and "`KEY.jpg`" in webdataset
    assert "--rgb" in card_of("lmdb", height=48, channels=3) and "--rgb" not in card_of("lmdb")
    assert "torchvision" not in card_of("voc", image_encoding="jpeg") and "torchvision" in card_of("voc")


def test_the_contact_sheet_draws_rgb_images_in_bgr(shards):
    shard = shards["rgb48", "png"]
    sheet = contact_sheet(shard.images, shard.widths, shard.labels, columns=4, scale=2)
    layout = sheet_layout(48, shard.widths, shard.labels, columns=4, scale=2)
    assert sheet.shape == (*layout.shape, 3)
    for i in range(N):
        y, x = layout.image_origin(i)
        w = int(shard.widths[i]) * 2
        scaled = np.repeat(np.repeat(shard.image(i), 2, axis=0), 2, axis=1)
        np.testing.assert_array_equal(sheet[y : y + 96, x : x + w], scaled[..., ::-1])
        assert (sheet[y - 1, x - 1 : x + w + 1] == sheet_module.BORDER_VALUE).all()
    # Encoded as finalize writes it, any viewer shows the paper in its colour (cream, not blue-grey).
    with Image.open(io.BytesIO(encode_png(sheet))) as png:
        assert png.mode == "RGB"
        y, x = layout.image_origin(0)
        assert png.getpixel((x, y)) == tuple(shard.image(0)[0, 0]) == tuple(PAPER.astype(np.uint8))
    drawn = contact_sheet(
        shard.images, shard.widths, shard.labels, columns=4, scale=2, boxes=shard.boxes, masks=shard.masks
    )
    for i in range(3):
        y, x = layout.image_origin(i)
        for k, (x0, y0, x1, y1) in enumerate(shard.boxes[i, : shard.lengths[i]].tolist()):
            if x1 <= x0:
                continue
            colour = sheet_module.DIGIT_COLOURS[k % len(sheet_module.DIGIT_COLOURS)]
            assert tuple(drawn[y + y0 * 2 - 1, x + x0 * 2 - 1]) == colour
            # The darkest ink of the digit, on paper, takes the digit's colour in full.
            ink = shard.image(i)[y0:y1, x0:x1].astype(int).sum(axis=2)
            yy, xx = np.unravel_index(
                np.argmin(np.where(shard.mask(i)[y0:y1, x0:x1] == k + 1, ink, 999)), ink.shape
            )
            darkest = drawn[y + (y0 + yy) * 2, x + (x0 + xx) * 2].astype(int)
            assert np.abs(darkest - colour).max() <= 2
    grey = shards["grey16", "png"]
    assert contact_sheet(grey.images, grey.widths, grey.labels).ndim == 2


def test_mnist_polarity_gives_the_reader_white_ink_on_black(shards, base):
    for i in range(N):
        np.testing.assert_array_equal(mnist_polarity(base.image(i)), base.image(i))
    shard = shards["rgb48", "png"]
    for i in range(N):
        w = int(shard.widths[i])
        ink = mnist_polarity(shard.image(i))
        assert ink.shape == (shard.height, w)
        on, off = shard.mask(i) > 0, shard.mask(i) == 0
        assert ink[on].mean() > 40 and ink[off].mean() < 10


def card_python(root: Path) -> dict[str, Any]:
    """Run the card's first Python block on the dataset (path/to/dataset is its root); its variables."""
    card = (root / "README.md").read_text()
    block = card.split("```python\n", 1)[1].split("```", 1)[0]
    names: dict[str, Any] = {}
    exec(block.replace("path/to/dataset", str(root)), names)
    return names


def test_a_48_row_rgb_jpeg_dataset_goes_through_the_engine_and_finalize(tmp_path, sample_data, monkeypatch):
    """make_dataset of 48-row blue-ink images (the document stage): the shards, the sampled read for the
    report, the contact sheet, the card and the lmdb facts."""
    spec = {"count": 30, "shard_size": 16, "digits": "3-4", "seed": 3, "image_width": 192, "height": 48,
            "style": "ink", "ink": "#1c2454", "image_encoding": "jpeg", "jpeg_quality": [80, 90]}  # fmt: skip
    for name in ("webdataset", "coco", "lmdb"):
        root = tmp_path / name
        manifest = make_dataset({**spec, "format": name}, root, workers=1, data=sample_data)
        assert manifest["complete"] and manifest["images"] == 30
        assert (manifest["spec"]["height"], manifest["spec"]["channels"]) == (48, 3)
        shard = FORMATS[name].read(root / FORMATS[name].shard_name(1), 1, 16)
        assert shard.images.shape == (14, 48, 192, 3) and shard.encoding == "jpeg"
        card = (root / "README.md").read_text()
        assert "8-bit RGB JPEG (quality 80-90, drawn per image), 48 × width" in card
        sheet = cv2.imread(str(root / "contact_sheet.png"), cv2.IMREAD_UNCHANGED)
        assert sheet.ndim == 3 and sheet.shape[2] == 3
        white = np.all(sheet.astype(int) >= 245, axis=2)
        assert white.sum() > 20_000  # the paper shows, white
        # The reader gets the digits back in MNIST's polarity: most read as their label.
        assert manifest["report"]["fidelity"]["read_as_label"] > 0.8
        if name in ("webdataset", "lmdb"):  # the card's Python lines load the images as they are
            monkeypatch.chdir(root)
            names = card_python(root)
            if name == "webdataset":
                image, record = next(iter(names["dataset"]))
                assert image.shape == (48, 192, 3) and record["key"] == "000000000"
            else:
                names["env"].close()
                with Image.open(io.BytesIO(names["jpg"])) as image:
                    assert (image.format, image.mode, image.size) == ("JPEG", "RGB", (192, 48))
        if name == "lmdb":
            facts = manifest["format"]
            assert facts["lmdb_map_size"] >= map_size(16, 192, 4, height=48, channels=3, encoding="jpeg")
        if name == "coco":
            merged = json.loads((root / "annotations" / "instances_train.json").read_text())
            assert {(i["height"], i["file_name"][-4:]) for i in merged["images"]} == {(48, ".jpg")}
