"""Datasets in the document looks: the spec's style, geometry, height, channels and encoding reach every
image, the shards read back as their users read them, and the rebuild command makes the same spec."""

from __future__ import annotations

import argparse
import shlex

import numpy as np
import pytest

import hng
from hng.datasets.plan import rebuild_command
from hng.datasets.spec import DatasetSpec
from tests.support.masks import mask_bounds

LOOK = {"style": "paper", "height": 48, "rotate": 4, "shear": 6}


def _spec(**fields) -> DatasetSpec:
    return DatasetSpec.build(count=24, shard_size=12, digits="3-5", seed=4, masks=True, **LOOK, **fields)


def test_npz_shards_hold_the_look_with_exact_labels(tmp_path, sample_data) -> None:
    hng.make_dataset(_spec(), tmp_path / "ds", data=sample_data, workers=1, progress=False)
    shard = np.load(tmp_path / "ds" / "shard-00000.npz", allow_pickle=False)
    images, masks, widths = shard["images"], shard["masks"], shard["widths"]
    assert images.shape[1:] == (48, int(widths.max()), 3) and masks.shape == images.shape[:3]
    assert set(widths.tolist()) == {48 * 5}  # 28 pixels a digit at 28 rows: 48 at 48 (5 digits at most)
    for i in range(len(images)):
        n = int(shard["lengths"][i])
        for k in range(n):
            assert tuple(shard["boxes"][i, k]) == mask_bounds(masks[i], k + 1)
        grey = images[i, :, : widths[i]].mean(axis=2)
        ink = masks[i, :, : widths[i]] > 0
        assert grey[ink].mean() < grey[~ink].mean()  # dark ink on lighter paper
    # The same spec, the same bytes: the images of shard 0 come from their seeds alone.
    again = hng.Generator(sample_data).generate(
        str(shard["labels"][3]),
        seed=int(shard["seeds"][3]),
        image_width=int(widths[3]),
        masks=True,
        **LOOK,
    )
    assert np.array_equal(again.image, images[3, :, : widths[3]])


def test_webdataset_jpeg_reads_back_with_the_webdataset_package(tmp_path, sample_data) -> None:
    import webdataset as wds

    spec = _spec(format="webdataset", image_encoding="jpeg", jpeg_quality=[80, 90])
    hng.make_dataset(spec, tmp_path / "ds", data=sample_data, workers=1, progress=False)
    urls = [str(tmp_path / "ds" / f"shard-{k:05d}.tar") for k in range(2)]
    samples = list(wds.WebDataset(urls, shardshuffle=False).decode("rgb8"))
    assert len(samples) == 24
    for sample in samples:
        image, record = sample["jpg"], sample["json"]
        assert image.shape == (48, record["width"], 3) and image.dtype == np.uint8
        mask = sample["mask.png"]
        mask = mask if mask.ndim == 2 else mask[..., 0]
        assert mask.shape == image.shape[:2]
        for k, box in enumerate(record["boxes"], 1):
            assert tuple(box) == mask_bounds(mask, k)


def test_the_rebuild_command_makes_the_same_spec() -> None:
    from hng.cli.dataset import dataset_spec
    from hng.cli.main import build_parser

    spec = DatasetSpec.build(
        count=50,
        seed=9,
        format="webdataset",
        style="background",
        background="/data/sheets",
        ink="blue",
        rotate=[-2, 6],
        perspective=0.05,
        elastic=1.5,
        height=40,
        stroke="uniform",
        image_encoding="jpeg",
        jpeg_quality=[70, 90],
        verify_labels=True,
    )
    command = rebuild_command(spec, "out")
    assert "--rotate=-2,6" in command and "--style background" in command
    args = build_parser().parse_args(shlex.split(command)[1:])
    assert isinstance(args, argparse.Namespace)
    assert dataset_spec(args).same_data_as(spec)


@pytest.mark.parametrize("fmt", ["imagefolder", "coco", "yolo", "voc"])
def test_file_formats_store_tall_rgb_images(tmp_path, sample_data, fmt: str) -> None:
    from hng.core.encoding import decode_image

    spec = DatasetSpec.build(count=6, seed=2, format=fmt, style="ink", ink="blue", height=40, digits=4)
    hng.make_dataset(spec, tmp_path / fmt, data=sample_data, workers=1, progress=False)
    files = sorted((tmp_path / fmt).rglob("0000000*.png"))
    assert files, list((tmp_path / fmt).rglob("*"))
    image = decode_image(files[0].read_bytes())
    assert image.shape == (40, 40 * 4, 3)
