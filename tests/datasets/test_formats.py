"""The shard formats of ``hng dataset`` (npz, webdataset, imagefolder), each checked with its real reader;
the round trips and refusals also run for the trainer formats (coco: tests/datasets/test_coco.py).

Two shards of real images (from the MNIST sample) with varying widths and 3-6 digit labels are written in
every format; numpy, the ``webdataset`` package and Hugging Face ``datasets`` (offline, its cache under
tmp) then load them. Also: round trips, determinism, broken shards, and the folder checksum recipe.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import os
import shutil
import subprocess
import tarfile
import time
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import hng
from hng.datasets.checksum import sha256_path
from hng.datasets.formats import FORMATS, ShardFormat, get_format
from hng.datasets.shard import PAD, Shard

SIZES = (30, 25)  # images per shard
TOTAL = sum(SIZES)
ARRAYS = ("images", "widths", "labels", "lengths", "boxes", "seeds", "indices")


def make_shard(
    generator: hng.Generator,
    index: int,
    start: int,
    n: int,
    seed: int,
    split: str = "train",
    *,
    masks: bool = False,
) -> Shard:
    """A shard of ``n`` real images: labels of 3-6 digits, widths 40-140, per-image seeds, padded arrays;
    with ``masks``, the digits' masks too (the same images)."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(3, 7, n)
    labels = ["".join(map(str, rng.integers(0, 10, k))) for k in lengths]
    labels[0] = "007000"[: lengths[0]]  # leading zeros must survive every reader
    widths = rng.integers(40, 141, n)
    seeds = rng.integers(0, 2**62, n)
    batch = generator.generate_batch(labels, image_width=widths, seeds=seeds, split=split, masks=masks)
    longest = int(lengths.max())
    boxes = np.full((n, longest, 4), PAD, dtype=np.int32)
    indices = np.full((n, longest), PAD, dtype=np.int32)
    for i in range(n):
        rows = slice(int(batch.digit_offsets[i]), int(batch.digit_offsets[i + 1]))
        boxes[i, : lengths[i]] = batch.boxes[rows, 1:]
        indices[i, : lengths[i]] = batch.indices[rows]
    return Shard(
        index=index,
        start=start,
        images=batch.images,
        widths=batch.widths.astype(np.int32),
        labels=np.array(labels, dtype=f"<U{longest}"),
        lengths=lengths.astype(np.int32),
        boxes=boxes,
        seeds=seeds.astype(np.int64),
        indices=indices,
        split=split,
        masks=batch.masks,
    )


def assert_same_shard(got: Shard, want: Shard, *, split: str | None = None) -> None:
    assert (got.index, got.start, got.split) == (
        want.index,
        want.start,
        want.split if split is None else split,
    )
    for name in ARRAYS:
        a, b = getattr(got, name), getattr(want, name)
        assert a.dtype == b.dtype and a.shape == b.shape, name
        np.testing.assert_array_equal(a, b, err_msg=name)


@pytest.fixture(scope="module")
def shards(generator) -> list[Shard]:
    return [
        make_shard(generator, 0, 0, SIZES[0], seed=1),
        make_shard(generator, 1, SIZES[0], SIZES[1], seed=2),
    ]


@pytest.fixture(scope="module")
def format_shards(generator, shards) -> dict[str, list[Shard]]:
    """The shards each format writes: with masks for a format that needs them (coco), else ``shards``."""
    masked = [
        make_shard(generator, 0, 0, SIZES[0], seed=1, masks=True),
        make_shard(generator, 1, SIZES[0], SIZES[1], seed=2, masks=True),
    ]
    return {name: masked if fmt.uses_masks else shards for name, fmt in FORMATS.items()}


@pytest.fixture(scope="module")
def all_images(shards) -> list[tuple[str, str, np.ndarray, dict[str, Any]]]:
    """(key, label, image, record) of every image of both shards, in dataset order."""
    return [(s.key(i), str(s.labels[i]), s.image(i), s.record(i)) for s in shards for i in range(len(s))]


@pytest.fixture(scope="module")
def roots(tmp_path_factory, format_shards) -> dict[str, Path]:
    """A dataset root per format holding both shards; the imagefolder root also holds the engine's files."""
    out = {}
    for name, fmt in FORMATS.items():
        root = tmp_path_factory.mktemp(name)
        for shard in format_shards[name]:
            fmt.write(shard, root / fmt.shard_name(shard.index))
        out[name] = root
    root = out["imagefolder"]
    (root / "manifest.json").write_text('{"format": "imagefolder"}\n')
    (root / "README.md").write_text("---\nlicense: mit\n---\n# hng dataset\n")
    (root / "contact_sheet.png").write_bytes(hng.encode_png(np.full((56, 280), 255, dtype=np.uint8)))
    (root / ".hng" / "shards").mkdir(parents=True)
    (root / ".hng" / "plan.json").write_text("{}\n")
    (root / ".hng" / "shards" / "shard-00000.json").write_text("{}\n")
    return out


def png_pixels(image: Any) -> np.ndarray:
    """A PIL image from Hugging Face as a uint8 array (it must be 8-bit greyscale, mode L)."""
    assert image.mode == "L"
    return np.asarray(image)


# --- the registry --------------------------------------------------------------------------------------


def test_registry_names_and_errors():
    assert list(FORMATS) == [
        "npz", "webdataset", "imagefolder", "yolo", "coco", "voc", "paddleocr", "lmdb", "doctr"
    ]  # fmt: skip
    for name, fmt in FORMATS.items():
        assert isinstance(fmt, ShardFormat) and fmt.name == name and get_format(name) is fmt
    choices = "npz, webdataset, imagefolder, yolo, coco, voc, paddleocr, lmdb, doctr"
    with pytest.raises(ValueError, match=rf"^format must be one of {choices}, got 'x'$"):
        get_format("x")
    with pytest.raises(ValueError, match="format must be one of"):
        get_format(None)  # type: ignore[arg-type]


def test_shard_names():
    names = {name: [fmt.shard_name(k) for k in (0, 3, 99999, 100000)] for name, fmt in FORMATS.items()}
    assert names == {
        "npz": ["shard-00000.npz", "shard-00003.npz", "shard-99999.npz", "shard-100000.npz"],
        "webdataset": ["shard-00000.tar", "shard-00003.tar", "shard-99999.tar", "shard-100000.tar"],
        **{
            name: ["shard-00000", "shard-00003", "shard-99999", "shard-100000"]
            for name in ("imagefolder", "yolo", "coco", "voc", "paddleocr", "lmdb", "doctr")
        },
    }


# --- each format with its reader -----------------------------------------------------------------------


def test_npz_loads_with_numpy(roots, shards):
    for shard in shards:
        path = roots["npz"] / f"shard-{shard.index:05d}.npz"
        with np.load(path, allow_pickle=False) as npz:
            assert npz.files == list(ARRAYS)
            for name in ARRAYS:
                np.testing.assert_array_equal(npz[name], getattr(shard, name))
                assert npz[name].dtype == getattr(shard, name).dtype
            assert npz["labels"].dtype == np.dtype(f"<U{int(shard.lengths.max())}")
            assert npz["images"].shape == (len(shard), 28, int(shard.widths.max()))
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
        assert {(i.date_time, i.compress_type) for i in infos} == {
            ((1980, 1, 1, 0, 0, 0), zipfile.ZIP_STORED)
        }
        assert FORMATS["npz"].count(path) == len(shard)


def test_npz_compress_deflates_and_round_trips(tmp_path, shards):
    fmt = FORMATS["npz"]
    fmt.write(shards[0], tmp_path / "stored.npz")
    fmt.write(shards[0], tmp_path / "deflated.npz", compress=True)
    with zipfile.ZipFile(tmp_path / "deflated.npz") as zf:
        assert {i.compress_type for i in zf.infolist()} == {zipfile.ZIP_DEFLATED}
    assert (tmp_path / "deflated.npz").stat().st_size < (tmp_path / "stored.npz").stat().st_size / 2
    assert_same_shard(fmt.read(tmp_path / "deflated.npz", 0, 0), shards[0], split="")


def test_webdataset_tar_members_are_fixed(roots, shards):
    shard = shards[1]
    with tarfile.open(roots["webdataset"] / "shard-00001.tar") as tar:
        members = tar.getmembers()
        assert [m.name for m in members[:3]] == [f"{shard.key(0)}.{ext}" for ext in ("png", "json", "txt")]
        assert len(members) == 3 * len(shard)
        for m in members:
            assert m.isreg() and (m.mtime, m.mode, m.uid, m.gid, m.uname, m.gname) == (0, 0o644, 0, 0, "", "")
        raw_json = tar.extractfile(members[1]).read()
        assert raw_json == json.dumps(shard.record(0), sort_keys=True, separators=(",", ":")).encode()
        assert tar.extractfile(members[2]).read() == str(shard.labels[0]).encode()
    path = roots["webdataset"] / "shard-00001.tar"
    assert path.read_bytes()[257:265] == b"ustar\x0000"  # POSIX ustar headers
    # The writer builds headers itself: they must be byte for byte what tarfile writes with these fields.
    expected = io.BytesIO()
    with (
        tarfile.open(path) as tar,
        tarfile.open(fileobj=expected, mode="w", format=tarfile.USTAR_FORMAT) as out,
    ):
        for m in tar.getmembers():
            info = tarfile.TarInfo(m.name)
            info.size, info.mtime, info.mode, info.uid, info.gid, info.uname, info.gname = (
                m.size,
                0,
                0o644,
                0,
                0,
                "",
                "",
            )
            out.addfile(info, tar.extractfile(m))
    assert path.read_bytes() == expected.getvalue()


def test_webdataset_package_reads_the_tars(roots, all_images):
    import webdataset as wds

    urls = [str(roots["webdataset"] / f"shard-{k:05d}.tar") for k in range(2)]
    # "l8": 8-bit greyscale numpy arrays ("l" would give float32 in [0, 1], "pil" converts to RGB).
    samples = list(wds.WebDataset(urls, shardshuffle=False).decode("l8"))
    assert len(samples) == TOTAL
    assert [s["__key__"] for s in samples] == [key for key, *_ in all_images]
    assert [s["txt"] for s in samples] == [label for _, label, *_ in all_images]
    assert [s["json"]["label"] for s in samples] == [label for _, label, *_ in all_images]
    for i in (0, SIZES[0] + 3):
        _, _, image, record = all_images[i]
        assert samples[i]["png"].dtype == np.uint8
        np.testing.assert_array_equal(samples[i]["png"], image)
        assert samples[i]["json"] == record
        assert samples[i]["json"]["boxes"] == record["boxes"] and len(record["boxes"]) == len(record["label"])


def test_hf_datasets_reads_the_tars(hf_datasets, hf_cache, roots, all_images):
    files = [str(roots["webdataset"] / f"shard-{k:05d}.tar") for k in range(2)]
    ds = hf_datasets.load_dataset(
        "webdataset", data_files={"train": files}, split="train", cache_dir=hf_cache
    )
    assert len(ds) == TOTAL
    assert isinstance(ds.features["png"], hf_datasets.Image)
    assert ds.features["txt"] == hf_datasets.Value("string")
    assert ds.features["json"]["label"] == hf_datasets.Value("string")
    assert ds["__key__"] == [key for key, *_ in all_images]
    assert ds["txt"] == [label for _, label, *_ in all_images]
    for i in (0, TOTAL - 1):
        row = ds[i]
        _, label, image, record = all_images[i]
        np.testing.assert_array_equal(png_pixels(row["png"]), image)
        assert isinstance(row["json"], dict) and row["json"] == record
        assert row["json"]["label"] == label and row["json"]["boxes"] == record["boxes"]


def test_hf_imagefolder_loads_every_shard_and_ignores_the_root_files(
    hf_datasets, hf_cache, roots, all_images
):
    ds = hf_datasets.load_dataset(
        "imagefolder", data_dir=str(roots["imagefolder"]), split="train", cache_dir=hf_cache
    )
    # contact_sheet.png is not a row: once metadata files exist, rows come only from them.
    assert len(ds) == TOTAL
    features = ds.features
    assert isinstance(features["image"], hf_datasets.Image)
    assert features["label"] == hf_datasets.Value("string")  # not a ClassLabel from the folder names
    assert not any(isinstance(f, hf_datasets.ClassLabel) for f in features.values())
    assert set(features) == {
        "image", "key", "label", "width", "boxes", "seed", "indices", "split", "objects"
    }  # fmt: skip
    # Shards come in an arbitrary order (datasets keeps metadata files in a set); rows within one do not.
    keys = ds["key"]
    first = keys.index(all_images[0][0])
    assert keys[first : first + SIZES[0]] == [key for key, *_ in all_images[: SIZES[0]]]
    ds = ds.select(np.argsort(keys, kind="stable"))  # (ds.sort warns with pyarrow >= 25)
    assert ds["key"] == [key for key, *_ in all_images]
    assert ds["label"] == [label for _, label, *_ in all_images]
    for i in (0, SIZES[0] + 7):
        row = ds[i]
        _, label, image, record = all_images[i]
        np.testing.assert_array_equal(png_pixels(row["image"]), image)
        assert {k: row[k] for k in record} == record
        assert row["label"] == label and row["boxes"] == record["boxes"]
        # A detection dataset as Hugging Face's object-detection guides load it: COCO boxes, categories.
        assert row["objects"]["bbox"] == [[x0, y0, x1 - x0, y1 - y0] for x0, y0, x1, y1 in record["boxes"]]
        assert row["objects"]["category"] == [int(c) for c in label]


# --- round trips and determinism -----------------------------------------------------------------------


@pytest.mark.parametrize("name", list(FORMATS))
def test_read_round_trips_every_array(name, roots, format_shards):
    fmt = FORMATS[name]
    for shard in format_shards[name]:
        got = fmt.read(roots[name] / fmt.shard_name(shard.index), shard.index, shard.start)
        # npz stores no split (the manifest does): it reads back as "".
        assert_same_shard(got, shard, split="" if name == "npz" else None)


@pytest.mark.parametrize("name", list(FORMATS))
def test_read_rows_reads_only_those_images(name, roots, format_shards):
    fmt = FORMATS[name]
    shard = format_shards[name][1]
    rows = [0, 3, len(shard) - 1]
    got = fmt.read_rows(roots[name] / fmt.shard_name(shard.index), shard.index, shard.start, rows)
    assert got.labels.tolist() == shard.labels[rows].tolist()
    assert got.seeds.tolist() == shard.seeds[rows].tolist()
    assert got.widths.tolist() == shard.widths[rows].tolist()
    for i, row in enumerate(rows):
        assert np.array_equal(got.image(i), shard.image(row))
        n = int(shard.lengths[row])
        assert np.array_equal(got.boxes[i, :n], shard.boxes[row, :n])
        assert np.array_equal(got.indices[i, :n], shard.indices[row, :n])


@pytest.mark.parametrize("name", list(FORMATS))
def test_writing_twice_gives_the_same_bytes(name, tmp_path, monkeypatch, format_shards):
    fmt = FORMATS[name]
    shards = format_shards[name]
    first = tmp_path / "a" / fmt.shard_name(0)
    first.parent.mkdir()
    fmt.write(shards[0], first)
    # Another day, another umask, another (equal but separately built) copy of the arrays.
    later = time.time() + 86400 * 400
    monkeypatch.setattr(time, "time", lambda: later)
    monkeypatch.setattr(time, "time_ns", lambda: int(later * 1e9))
    copy = dataclasses.replace(shards[0], **{array: getattr(shards[0], array).copy() for array in ARRAYS})
    second = tmp_path / "b" / fmt.shard_name(0)
    second.parent.mkdir()
    old_umask = os.umask(0o077)
    try:
        fmt.write(copy, second)
    finally:
        os.umask(old_umask)
    assert sha256_path(first) == sha256_path(second)
    if first.is_file():
        assert first.read_bytes() == second.read_bytes()


@pytest.mark.parametrize("name", list(FORMATS))
def test_write_refuses_an_existing_path_and_a_malformed_shard(name, tmp_path, format_shards):
    fmt = FORMATS[name]
    shards = format_shards[name]
    path = tmp_path / fmt.shard_name(0)
    fmt.write(shards[0], path)
    with pytest.raises(FileExistsError):
        fmt.write(shards[0], path)
    images = shards[0].images.copy()
    narrowest = int(np.argmin(shards[0].widths))
    images[narrowest, 5, int(shards[0].widths[narrowest]) :] = 7  # ink in the padding: lost in a PNG
    bad = dataclasses.replace(shards[0], images=images)
    with pytest.raises(ValueError, match="shard 0 cannot be written: pixels past an image's width must be 0"):
        fmt.write(bad, tmp_path / "other")
    s = shards[0]
    longest = s.labels.dtype.itemsize // 4
    wide = dataclasses.replace(  # every array padded for 9-digit labels, but none is that long
        s,
        labels=s.labels.astype("<U9"),
        boxes=np.pad(s.boxes, ((0, 0), (0, 9 - longest), (0, 0)), constant_values=PAD),
        indices=np.pad(s.indices, ((0, 0), (0, 9 - longest)), constant_values=PAD),
    )
    with pytest.raises(ValueError, match=rf"shard 0 cannot be written: labels must be '<U{longest}'"):
        fmt.write(wide, tmp_path / "other")
    assert not (tmp_path / "other").exists()


# --- broken shards -------------------------------------------------------------------------------------


def _truncate(path: Path, size: int) -> None:
    with open(path, "r+b") as fh:
        fh.truncate(size)


def test_npz_count_rejects_broken_files(tmp_path, shards):
    fmt = FORMATS["npz"]
    path = tmp_path / "shard-00003.npz"
    fmt.write(shards[0], path)
    _truncate(path, path.stat().st_size // 2)
    with pytest.raises(ValueError, match=r"^shard-00003\.npz is not a whole npz shard: "):
        fmt.count(path)
    path.write_bytes(b"not a zip at all")
    with pytest.raises(ValueError, match=r"^shard-00003\.npz is not a whole npz shard: "):
        fmt.count(path)
    arrays = {name: getattr(shards[0], name) for name in ARRAYS}
    np.savez(path.with_name("x.npz"), **{**arrays, "widths": arrays["widths"][:-1]})
    with pytest.raises(ValueError, match=r"x\.npz is not a whole npz shard: widths must be \(30,\)"):
        fmt.count(path.with_name("x.npz"))
    np.savez(path.with_name("y.npz"), **{k: v for k, v in arrays.items() if k != "seeds"})
    with pytest.raises(ValueError, match=r"y\.npz is not a whole npz shard: it holds images, .*; expected"):
        fmt.count(path.with_name("y.npz"))
    with pytest.raises(FileNotFoundError):
        fmt.count(tmp_path / "missing.npz")


def test_webdataset_count_rejects_truncated_tars(tmp_path, shards):
    fmt = FORMATS["webdataset"]
    path = tmp_path / "shard-00003.tar"
    fmt.write(shards[0], path)
    assert fmt.count(path) == len(shards[0])
    with tarfile.open(path) as tar:
        members = tar.getmembers()
    whole = path.read_bytes()
    cuts = {
        "inside a PNG": members[3].offset_data + 10,
        # tarfile itself stops quietly at a cut between two members: the missing end marker gives it away.
        "between two images": members[6].offset,
        "before the end marker": members[-1].offset_data + 512,
    }
    for where, size in cuts.items():
        path.write_bytes(whole[:size])
        with pytest.raises(ValueError, match=r"^shard-00003\.tar is not a whole webdataset shard: "):
            fmt.count(path)
            pytest.fail(f"a tar cut {where} was counted")


def test_imagefolder_count_rejects_broken_folders(tmp_path, shards):
    fmt = FORMATS["imagefolder"]
    whole = tmp_path / "whole"
    fmt.write(shards[0], whole)
    assert fmt.count(whole) == len(shards[0])
    key = shards[0].key(4)

    def broken(change) -> Path:
        path = tmp_path / "shard-00003"
        shutil.rmtree(path, ignore_errors=True)
        shutil.copytree(whole, path)
        change(path)
        return path

    cases = {
        "no metadata.jsonl": lambda p: (p / "metadata.jsonl").unlink(),
        f"{key}.png is missing": lambda p: (p / f"{key}.png").unlink(),
        "truncated PNG": lambda p: _truncate(p / f"{key}.png", 100),
        "does not end with a newline": lambda p: _truncate(p / "metadata.jsonl", 1000),
        "files metadata.jsonl does not list: stray.png": lambda p: (p / "stray.png").write_bytes(b"x"),
    }
    for reason, change in cases.items():
        with pytest.raises(ValueError, match=rf"^shard-00003 is not a whole imagefolder shard: .*{reason}"):
            fmt.count(broken(change))
    with pytest.raises(FileNotFoundError):
        fmt.count(tmp_path / "missing")


# --- checksums -----------------------------------------------------------------------------------------


def test_sha256_path_of_a_file(roots):
    path = roots["npz"] / "shard-00000.npz"
    assert sha256_path(path) == hashlib.sha256(path.read_bytes()).hexdigest()


def test_sha256_path_of_a_folder_follows_the_sha256sum_recipe(tmp_path, roots):
    folder = tmp_path / "shard-00000"
    shutil.copytree(roots["imagefolder"] / "shard-00000", folder)
    # Names whose order differs between locales and code-point-vs-path sorting, a subfolder, a dot-file.
    (folder / "B.txt").write_text("upper")
    (folder / "a-b.txt").write_text("dash")
    (folder / "sub").mkdir()
    (folder / "sub" / "z.txt").write_text("nested")
    (folder / ".hidden").write_text("dot")
    (folder / "link").symlink_to(folder / "B.txt")  # find -type f skips symlinks
    files = sorted(
        (p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file() and not p.is_symlink()),
        key=lambda rel: rel.encode(),
    )
    listing = "".join(f"{hashlib.sha256((folder / rel).read_bytes()).hexdigest()}  {rel}\n" for rel in files)
    assert sha256_path(folder) == hashlib.sha256(listing.encode()).hexdigest()
    if shutil.which("sha256sum") and shutil.which("bash"):
        recipe = "find . -type f | sed 's|^./||' | LC_ALL=C sort | xargs sha256sum | sha256sum"
        out = subprocess.run(["bash", "-c", recipe], cwd=folder, capture_output=True, text=True, check=True)
        assert out.stdout.split()[0] == sha256_path(folder)


def test_the_fast_ustar_walk_finds_what_tarfile_finds(roots, shards, tmp_path):
    from hng.datasets.formats.webdataset import ShardProblem, ustar_members

    path = roots["webdataset"] / get_format("webdataset").shard_name(0)
    data = path.read_bytes()
    with tarfile.open(path) as tar:
        expected = [(m.name, m.offset_data, m.size) for m in tar]
    assert list(ustar_members(data)) == expected
    with pytest.raises(ShardProblem, match="runs past the end"):
        list(ustar_members(data[: expected[4][1] + 10]))
    cut = tmp_path / "cut.tar"
    cut.write_bytes(data[: expected[4][1] + 10])
    with pytest.raises(ValueError, match=r"cut\.tar is not a whole webdataset shard"):
        get_format("webdataset").read_rows(cut, 0, 0, [0, 1])


@pytest.mark.parametrize("compress", [False, True])
def test_npz_read_rows_reads_the_pixels_in_place_or_the_whole_archive(generator, tmp_path, compress):
    from hng.datasets import DatasetSpec
    from hng.datasets.shard import make_shard

    fmt = get_format("npz")
    shard = make_shard(DatasetSpec.build(count=30, digits="2-4", seed=9), 0, generator, masks=True)
    path = tmp_path / "shard-00000.npz"
    fmt.write(shard, path, compress=compress)
    rows = [1, 2, 17, 29]
    part = fmt.read_rows(path, 0, 0, rows)
    want = shard.take(rows)
    for name in ("images", "masks", "widths", "labels", "lengths", "boxes", "seeds", "indices"):
        np.testing.assert_array_equal(getattr(part, name), getattr(want, name), err_msg=name)
    # Rows past the end are refused by the whole read, as any bad request is.
    with pytest.raises(IndexError):
        fmt.read_rows(path, 0, 0, [0, 30])
    # A cut archive is refused as read refuses it, naming the shard.
    cut = tmp_path / "cut" / "shard-00000.npz"
    cut.parent.mkdir()
    cut.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(ValueError, match=r"shard-00000\.npz is not a whole npz shard"):
        fmt.read_rows(cut, 0, 0, rows)


@pytest.mark.parametrize(
    "array",
    [
        np.arange(3 * 48 * 240 * 3, dtype=np.uint8).reshape(3, 48, 240, 3),
        np.zeros((0, 28, 5), np.uint8),
        np.array(["2026", "7"], dtype="<U4"),
        np.arange(12, dtype=np.int64).reshape(3, 4)[:, ::2],  # not contiguous: numpy's own path
        np.full((1200, 28, 600), 3, np.uint8),  # past numpy's 16 MB chunks
    ],
    ids=["rgb", "empty", "labels", "strided", "large"],
)
def test_npz_members_are_numpys_own_npy_bytes(array):
    from hng.datasets.formats.npz import _write_npy

    ours, numpys = io.BytesIO(), io.BytesIO()
    _write_npy(ours, array)
    np.lib.format.write_array(numpys, array, allow_pickle=False)
    assert ours.getvalue() == numpys.getvalue()


@pytest.mark.parametrize("split", ["train", "test"])
def test_webdataset_json_members_are_json_dumps_of_the_records(generator, split):
    from hng.datasets import DatasetSpec
    from hng.datasets.formats.webdataset import record_json, record_jsons
    from hng.datasets.shard import make_shard

    shard = make_shard(DatasetSpec.build(count=40, digits="1-9", seed=4, split=split), 0, generator)
    assert list(record_jsons(shard)) == [record_json(shard.record(i)) for i in range(len(shard))]
