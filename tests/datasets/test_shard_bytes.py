"""Shards keep their bytes: the sha256 of shards made before the engine split work below the shard
(issue 17), for every format, the augmentation presets and a document look. A change here changes
datasets people have made: if it is meant, version it (CHANGELOG, manifest) and record the new hashes
with ``python -m tests.datasets.test_shard_bytes``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from hng.datasets import DatasetSpec
from hng.datasets.checksum import sha256_path
from hng.datasets.formats import FORMATS, format_for
from hng.datasets.shard import make_shard

# (format, preset, look) -> the sha256 of shards 0 (20 images) and 1 (10 images) of CASE_SPEC.
CASE_SPEC: dict[str, Any] = {"count": 30, "digits": "3-6", "shard_size": 20, "seed": 11}
LOOKS: dict[str, dict[str, Any]] = {
    "plain": {},
    "ink": {"style": "ink", "height": 40, "ink": "pens"},
    "paper": {"style": "paper", "height": 32, "rotate": [-5, 5], "imageEncoding": "jpeg"},
}
CASES = (
    [(name, "none", "plain") for name in FORMATS]
    + [(name, preset, "plain") for name in ("npz", "webdataset") for preset in ("mild", "strong")]
    + [("npz", "none", "ink"), ("webdataset", "mild", "paper"), ("coco", "none", "ink")]
)
RECORDED: dict[tuple[str, str, str], tuple[str, str]] = {
    ("npz", "none", "plain"): (
        "dcb015aaf2eee5da30a5e309b4432052ae215e4257e0ff748887706515ce315d",
        "4c19c32f47c46a608dd646bc628715f2206b8b0c9cd66e53f59ed25b45e831ca",
    ),
    ("webdataset", "none", "plain"): (
        "95b5b871a71978fccb74aa2249815274e8f135731824ac5be560814a62d51132",
        "9aa18f6e0ea7a029d9d9ec132bd40be81a17f77490b7aa1bee58b1a7f4a46167",
    ),
    ("imagefolder", "none", "plain"): (
        "88637336677aef901e9bbe870b406a84f9c7fbd36807f3000638427c0a9a4566",
        "1e13a1ea8001864b464c2f2060203f749e7490aba686f6bff3c8e68827a4b4bb",
    ),
    ("yolo", "none", "plain"): (
        "8ce2867adf95914ab912f336cf56a87b8935f2223df98b5f3420b336821a25ee",
        "a0cdaa62a8ef4ca0b17386830eb8cb720c6fd24cca6992aeaa65540dda1217c0",
    ),
    ("coco", "none", "plain"): (
        "9d65485f9b46285b6ea79474bc3e75863f2ec79dc6633e59adffeeec36a29b43",
        "cf7ccfadca08c709b00b309803ca39a82fe3f590aaf69b2cea0bac930ab2433c",
    ),
    ("voc", "none", "plain"): (
        "04a0d527cc51d99cd27e0ded8ba8c436d9bac81fa984b9e20a1d86f042482af9",
        "abababf697e72a278fd78aa5215219b2b26e89311f314915d7876043b3bcafc8",
    ),
    ("paddleocr", "none", "plain"): (
        "23c0f4e87f5f540028db20b289646713d641ddef074e59cf6b404d21508d5fb9",
        "554644c9652114725ec05caf07d92f685b4ad52ccbc5925ba5b97116b243d517",
    ),
    ("lmdb", "none", "plain"): (
        "0c003a25066f97e41d10cd280ead08c300262a20dbc0a51fbc53ac732e3a8db9",
        "25b9a4ced25d5386bad27e709d6fc67f2ff1b2236ac06d4d5f2d0befe6ce4a35",
    ),
    ("doctr", "none", "plain"): (
        "d1b2381b7aac072490e93f1aa0eb9bfad260e0bf19a45c95b81cdc742c6ac5de",
        "50bf17105ccc657c88abe46cb18b162ed0c95ffc7b55d0967b398fc41772f0ed",
    ),
    ("npz", "mild", "plain"): (
        "818baec74d673b53260b1464571bd1703543ef62da11b0ec659af8bca0b75f23",
        "a6d146641372e866559b1b6d4319c092afd1ecc7729b3173c7eb8fb790a41655",
    ),
    ("npz", "strong", "plain"): (
        "d625df4220921a747b63f7ecf28737b2b5f90d39e84908c359a1591ffc894490",
        "21d8eca4eb564f39b14b87bb6c5e7e96285250e4fb7da486ecb394e5027aa16e",
    ),
    ("webdataset", "mild", "plain"): (
        "04b88467921590b7cd1fa4642cbba36bfa665461e6133f025678d12e79cfab6c",
        "320f6e6cee76d5bec5cb8b9ada6412a87e1535d6799c89239146a63a8e9f8517",
    ),
    ("webdataset", "strong", "plain"): (
        "58ce6af6d7ea92bd7b60301c0dd483b0d5e58bd21ed010f847e7b36bc2998111",
        "3251ae0465d81f343b87abde61dcc05ecbeb62dccda719e8ab55be93c14a6701",
    ),
    ("npz", "none", "ink"): (
        "298ad1f0edc479f7ec6fc5b80f0ba0d4fed53e82617f812cd9493003c4fa4d1c",
        "64bb9eabf05db1267512b93fbb603872c8faea229927f93434dc55422318c595",
    ),
    ("webdataset", "mild", "paper"): (
        "448968597e0d178d150ef65005f87404ec70d10029b4983ddcd492454d513726",
        "d54e1048709dfdf6248d27c3a5c1dd0a7c4bff8e23937b2f933363d5ac33b3dd",
    ),
    ("coco", "none", "ink"): (
        "af8a757943441313edac92e073ab427e8e0d9166124b835de1689a3eff6fc798",
        "d800fa59f12b67f8129ee742813b15090ceeb915fc2c34364ff7e0341dc022c9",
    ),
}


def spec_for(name: str, preset: str, look: str) -> DatasetSpec:
    return DatasetSpec.build(**CASE_SPEC, format=name, preset=preset, **LOOKS[look])


def shard_hashes(generator, tmp: Path, name: str, preset: str, look: str) -> tuple[str, str]:
    spec = spec_for(name, preset, look)
    fmt = format_for(spec)
    hashes = []
    for k in (0, 1):
        path = tmp / f"{name}-{preset}-{look}" / fmt.shard_name(k)
        path.parent.mkdir(parents=True, exist_ok=True)
        fmt.write(make_shard(spec, k, generator, masks=fmt.masks), path, compress=spec.compress)
        hashes.append(sha256_path(path))
    return hashes[0], hashes[1]


@pytest.mark.parametrize(("name", "preset", "look"), CASES, ids=["-".join(case) for case in CASES])
def test_shards_keep_their_recorded_bytes(generator, tmp_path, name, preset, look):
    assert shard_hashes(generator, tmp_path, name, preset, look) == RECORDED[(name, preset, look)]


if __name__ == "__main__":  # print the table to paste into RECORDED
    import tempfile

    import hng
    from tests.support.paths import SAMPLE_PATH

    made = hng.Generator(hng.MnistData.from_npz(SAMPLE_PATH, strict=False))
    with tempfile.TemporaryDirectory() as folder:
        for case in CASES:
            print(f"    {case!r}: {shard_hashes(made, Path(folder), *case)!r},", file=sys.stdout)


@pytest.mark.parametrize(
    ("name", "preset", "look"),
    [
        ("npz", "none", "plain"),
        ("webdataset", "mild", "plain"),
        ("npz", "none", "ink"),
        ("coco", "none", "ink"),
    ],
    ids=["npz", "webdataset-mild", "npz-ink", "coco-ink"],
)
def test_shards_made_in_parts_by_the_pool_keep_their_recorded_bytes(
    sample_data, tmp_path, name, preset, look
):
    """Two shards and three workers: both are made in three parts by different workers, then assembled."""
    from hng.datasets import make_dataset
    from hng.datasets.engine import split_tail

    assert split_tail([0, 1], 3) == ([], [0, 1])
    spec = spec_for(name, preset, look)
    manifest = make_dataset(spec, tmp_path / "out", workers=3, data=sample_data)
    assert tuple(shard["sha256"] for shard in manifest["shards"]) == RECORDED[(name, preset, look)]


@pytest.mark.parametrize(
    "options",
    [
        {
            "width_per_digit": 24,
            "digits": "1-7",
            "format": "npz",
            "masks": True,
        },  # parts narrower than the shard
        {"verify_labels": True, "preset": "strong", "format": "webdataset"},  # redraws counted over parts
        {"count": 3, "shard_size": 10},  # fewer images than workers: empty parts are dropped
    ],
    ids=["width-per-digit-masks", "verify-labels", "tiny"],
)
def test_shards_made_in_parts_are_the_shards_made_whole(sample_data, tmp_path, options):
    from hng.datasets import make_dataset

    spec = {**CASE_SPEC, **options}
    whole = make_dataset(spec, tmp_path / "whole", workers=1, data=sample_data)
    parts = make_dataset(spec, tmp_path / "parts", workers=4, data=sample_data)
    assert [s["sha256"] for s in parts["shards"]] == [s["sha256"] for s in whole["shards"]]
    assert parts["report"].get("verify_labels") == whole["report"].get("verify_labels")
