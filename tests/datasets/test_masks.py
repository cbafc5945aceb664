"""--masks in the formats that store them, read back by their users' readers; masks in hng.stream; the
spec's refusals of options a format cannot take."""

from __future__ import annotations

import io

import numpy as np
import pytest

import hng
from hng.datasets import DatasetSpec, make_dataset, stream
from hng.datasets.checksum import sha256_path
from hng.datasets.formats import get_format
from hng.errors import InvalidInput

SPEC = {"count": 24, "shard_size": 10, "digits": "2-4", "seed": 5, "preset": "mild", "masks": True}


def expected(shard, sample_data):
    """The generator's own images and masks for a read-back shard (by its seeds and labels)."""
    generator = hng.Generator(sample_data)
    for i in range(len(shard)):
        result = generator.generate(
            str(shard.labels[i]), image_width=int(shard.widths[i]), seed=int(shard.seeds[i]), augment="mild",
            masks=True,
        )  # fmt: skip
        yield i, result


@pytest.mark.parametrize("fmt", ["npz", "webdataset", "imagefolder"])
def test_masks_are_stored_and_read_back_exactly(tmp_path, sample_data, fmt):
    manifest = make_dataset({**SPEC, "format": fmt}, tmp_path, workers=1, data=sample_data)
    assert manifest["spec"]["masks"] is True
    assert "--masks" in manifest["command"]
    reader = get_format(fmt)
    for k in range(3):
        shard = reader.read(tmp_path / reader.shard_name(k), k, 10 * k)
        assert shard.masks is not None and shard.masks.shape == shard.images.shape
        for i, result in expected(shard, sample_data):
            np.testing.assert_array_equal(shard.image(i), result.image)
            np.testing.assert_array_equal(shard.mask(i), result.mask)
            n = int(shard.lengths[i])
            assert shard.boxes[i, :n].tolist() == [list(b[1:]) for b in result.boxes]
    card = (tmp_path / "README.md").read_text()
    assert "Masks (`--masks`)" in card


def test_npz_masks_load_with_numpy(tmp_path, sample_data):
    make_dataset({**SPEC, "preset": "none"}, tmp_path, workers=1, data=sample_data)
    with np.load(tmp_path / "shard-00000.npz", allow_pickle=False) as npz:
        masks, images, boxes, lengths = npz["masks"], npz["images"], npz["boxes"], npz["lengths"]
    assert masks.dtype == np.uint8 and masks.shape == images.shape
    np.testing.assert_array_equal(masks > 0, images > 0)  # the masks are the ink, all of it
    for i in range(len(images)):
        for k in range(lengths[i]):
            ys, xs = np.nonzero(masks[i] == k + 1)
            assert [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1] == boxes[i, k].tolist()


def test_webdataset_masks_load_with_webdataset(tmp_path, sample_data):
    wds = pytest.importorskip("webdataset")
    make_dataset({**SPEC, "format": "webdataset"}, tmp_path, workers=1, data=sample_data)
    samples = list(wds.WebDataset(str(tmp_path / "shard-00000.tar"), shardshuffle=False).decode("l8"))
    assert len(samples) == 10
    for sample in samples:
        assert sample["mask.png"].shape == sample["png"].shape
        np.testing.assert_array_equal(sample["mask.png"] > 0, sample["png"] > 0)
        assert int(sample["mask.png"].max()) == len(sample["txt"])


def test_imagefolder_masks_load_with_hugging_face(tmp_path, sample_data, hf_datasets, hf_cache):
    make_dataset({**SPEC, "format": "imagefolder"}, tmp_path, workers=1, data=sample_data)
    ds = hf_datasets.load_dataset("imagefolder", data_dir=str(tmp_path), split="train", cache_dir=hf_cache)
    assert len(ds) == 24
    assert isinstance(ds.features["mask"], hf_datasets.Image)
    row = ds.select(np.argsort(ds["key"], kind="stable"))[3]
    image = np.asarray(row["image"])
    mask = np.asarray(row["mask"])
    np.testing.assert_array_equal(mask > 0, image > 0)
    assert row["objects"]["category"] == [int(c) for c in row["label"]]
    for (x, y, w, h), k in zip(row["objects"]["bbox"], range(1, 10), strict=False):
        ys, xs = np.nonzero(mask == k)
        assert [x, y, w, h] == [xs.min(), ys.min(), xs.max() + 1 - xs.min(), ys.max() + 1 - ys.min()]


def test_masks_change_no_image_and_the_shards_stay_identical_across_workers(tmp_path, sample_data):
    plain = make_dataset({**SPEC, "masks": False}, tmp_path / "plain", workers=1, data=sample_data)
    one = make_dataset(SPEC, tmp_path / "one", workers=1, data=sample_data)
    two = make_dataset(SPEC, tmp_path / "two", workers=2, data=sample_data)
    assert [s["sha256"] for s in one["shards"]] == [s["sha256"] for s in two["shards"]]
    for k in range(3):
        name = f"shard-{k:05d}.npz"
        assert sha256_path(tmp_path / "one" / name) == sha256_path(tmp_path / "two" / name)
        with np.load(tmp_path / "plain" / name) as a, np.load(tmp_path / "one" / name) as b:
            assert "masks" not in a.files
            for array in a.files:
                np.testing.assert_array_equal(a[array], b[array])
    assert plain["report"]["duplicates"] == one["report"]["duplicates"]


def test_stream_yields_masks_when_the_spec_asks(sample_data):
    parts = list(stream(SPEC, data=sample_data))
    assert [len(p) for p in parts] == [4, 4, 4]
    images, labels, boxes, masks = parts[0]
    assert len(labels) == len(boxes) == len(masks) == 10
    np.testing.assert_array_equal(masks > 0, images > 0)
    assert all(len(p) == 3 for p in stream({**SPEC, "masks": False}, data=sample_data))


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"objects": "both"}, "objects", "needs a format with detection objects"),
        ({"yolo_task": "segment"}, "yolo_task", "applies to the yolo format only, not npz"),
        ({"masks": "yes"}, "masks", "must be true or false"),
        ({"objects": "digit"}, "objects", "must be one of"),
        ({"format": "tfrecord"}, "format", "must be one of"),
        ({"format": "voc", "masks": True}, "masks", "cannot be stored in the voc format"),
        ({"format": "yolo", "masks": True}, "masks", "use yolo_task segment"),
        ({"format": "lmdb", "objects": "number"}, "objects", "needs a format with detection objects"),
        ({"format": "coco", "masks": True, "objects": "number"}, "masks", "objects 'number' writes only"),
    ],
)
def test_options_a_format_cannot_take_are_refused_by_name(fields, field, message):
    with pytest.raises(InvalidInput) as caught:
        DatasetSpec.build(count=10, **fields)
    assert caught.value.field == field or any(f == field for f, _ in caught.value.problems)
    assert message in str(caught.value)


def test_the_formats_listed_in_the_cli_help_are_the_registered_ones():
    from hng.cli.main import build_parser
    from hng.datasets.formats import FORMATS

    parser = build_parser()
    help_text = io.StringIO()
    parser._subparsers._group_actions[0].choices["dataset"].print_help(help_text)  # type: ignore[union-attr]
    text = " ".join(help_text.getvalue().split())
    for name in FORMATS:
        assert name in text
