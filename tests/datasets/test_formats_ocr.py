"""The text-recognition formats paddleocr, doctr and lmdb, read back as their trainers read them.

Datasets are made with ``make_dataset`` on the committed MNIST sample and compared with the generator's own
shards (``make_shard`` of the same spec). Neither PaddlePaddle nor docTR (which needs PyTorch) is a
dependency: their readers are replayed line for line from their sources (cited below); the lmdb format is
read with the real ``lmdb`` package, opened exactly as deep-text-recognition-benchmark (DTRB) opens it.
"""

from __future__ import annotations

import dataclasses
import io
import json
import mmap
import os
import shutil
import struct
import subprocess
import sys
from pathlib import Path
from typing import Any

import boto3
import cv2
import lmdb
import numpy as np
import pytest
from moto import mock_aws
from PIL import Image, ImageOps

from hng.datasets import DatasetSpec, finalize_dataset, make_dataset
from hng.datasets.card import render_card
from hng.datasets.checksum import sha256_path
from hng.datasets.formats import FORMATS, NUMBER_CLASS, get_format, image_objects
from hng.datasets.formats.lmdb_format import map_size
from hng.datasets.output import LocalOutput
from hng.datasets.plan import Plan
from hng.datasets.shard import Shard, make_shard
from tests.support.paths import REPO, SAMPLE_PATH

OCR_FORMATS = ("paddleocr", "doctr", "lmdb")
SPEC = {"count": 50, "shard_size": 20, "digits": "2-5", "seed": 11, "preset": "mild"}
SIZES = [20, 20, 10]


@pytest.fixture(scope="module")
def made(tmp_path_factory, sample_data) -> dict[str, tuple[Path, dict[str, Any]]]:
    """A dataset per format, made with 2 workers: its root and manifest."""
    out = {}
    for name in OCR_FORMATS:
        root = tmp_path_factory.mktemp(name) / "dataset"
        out[name] = (root, make_dataset({**SPEC, "format": name}, root, workers=2, data=sample_data))
    return out


@pytest.fixture(scope="module")
def reference(generator) -> list[Shard]:
    """The generator's own shards of SPEC (what every format must hold)."""
    spec = DatasetSpec.build(**SPEC)
    return [make_shard(spec, k, generator) for k in range(spec.num_shards)]


def images_of(shards: list[Shard]) -> list[tuple[str, np.ndarray, Shard, int]]:
    """(label, pixels, shard, row) of every image, in dataset order."""
    return [(str(s.labels[i]), s.image(i), s, i) for s in shards for i in range(len(s))]


def shard_files(root: Path) -> list[str]:
    return sorted(p.name for p in root.iterdir() if p.name.startswith("shard-"))


def card_python(root: Path) -> dict[str, Any]:
    """Run the card's Python block on the dataset (path/to/dataset is its root); its variables."""
    card = (root / "README.md").read_text()
    block = card.split("```python\n", 1)[1].split("```", 1)[0]
    names: dict[str, Any] = {}
    exec(block.replace("path/to/dataset", str(root)), names)
    return names


def test_registered_and_refusing_masks_and_objects():
    for name in OCR_FORMATS:
        fmt = get_format(name)
        assert fmt.name == name and FORMATS[name] is fmt
        assert not fmt.holds_masks and not fmt.takes_objects and not fmt.uses_masks
        assert fmt.shard_name(7) == "shard-00007"
        with pytest.raises(ValueError, match=rf"masks cannot be stored in the {name} format"):
            DatasetSpec.build(**SPEC, format=name, masks=True)
        with pytest.raises(ValueError, match=rf"objects 'both' needs a format .*not {name}"):
            DatasetSpec.build(**SPEC, format=name, objects="both")


def test_import_hng_does_not_load_lmdb():
    code = "import sys, hng, hng.datasets.formats, hng.datasets.engine; print('lmdb' in sys.modules)"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert out.stdout.strip() == "False"


# --- paddleocr -------------------------------------------------------------------------------------------


def simple_dataset_lines(label_file: Path, data_dir: Path) -> list[tuple[Path, str]]:
    """(image path, label field) of each line, as PaddleOCR's SimpleDataSet takes them (PaddlePaddle/
    PaddleOCR ppocr/data/simple_dataset.py): the file read as bytes with readlines(), each line decoded
    as UTF-8, ``substr = line.strip("\\n").split(self.delimiter)`` with delimiter "\\t", ``file_name =
    substr[0]``, ``label = substr[1]``, ``img_path = os.path.join(self.data_dir, file_name)``, which must
    exist."""
    out = []
    with open(label_file, "rb") as f:
        for data_line in f.readlines():
            substr = data_line.decode("utf-8").strip("\n").split("\t")
            img_path = os.path.join(data_dir, substr[0])
            assert os.path.exists(img_path), img_path
            out.append((Path(img_path), substr[1]))
    return out


def paddle_decode(path: Path) -> np.ndarray:
    """PaddleOCR's DecodeImage op (img_mode BGR): cv2.imdecode(np.frombuffer(data, "uint8"), 1)."""
    image = cv2.imdecode(np.frombuffer(path.read_bytes(), dtype="uint8"), 1)
    assert image.ndim == 3 and image.shape[2] == 3
    assert np.array_equal(image[:, :, 0], image[:, :, 1]) and np.array_equal(image[:, :, 0], image[:, :, 2])
    return image[:, :, 0]


def test_paddleocr_rec_file_loads_every_image_and_label(made, reference):
    root, manifest = made["paddleocr"]
    assert manifest["format"] == {"files": ["rec_gt_train.txt", "det_gt_train.txt"]}
    samples = simple_dataset_lines(root / "rec_gt_train.txt", data_dir=root)
    expected = images_of(reference)
    assert len(samples) == sum(SIZES) == manifest["images"]
    for (path, label), (want_label, pixels, shard, row) in zip(samples, expected, strict=True):
        assert path == root / f"shard-{shard.index:05d}" / "images" / f"{shard.key(row)}.png"
        assert label == want_label
        assert np.array_equal(paddle_decode(path), pixels)


def test_paddleocr_det_file_holds_the_numbers_box(made, reference):
    root, _ = made["paddleocr"]
    samples = simple_dataset_lines(root / "det_gt_train.txt", data_dir=root)
    assert len(samples) == sum(SIZES)
    for (path, field), (label, pixels, shard, row) in zip(samples, images_of(reference), strict=True):
        # PaddleOCR's DetLabelEncode: json.loads(label), then each entry's "points" and "transcription".
        entries = json.loads(field)
        (number,) = image_objects(shard, row, "number")
        assert number.category == NUMBER_CLASS
        x0, y0, x1, y1 = number.x0, number.y0, number.x1, number.y1
        assert entries == [{"transcription": label, "points": [[x0, y0], [x1, y0], [x1, y1], [x0, y1]]}]
        assert list(entries[0]) == ["transcription", "points"]
        assert paddle_decode(path).shape == pixels.shape
    first = (root / "det_gt_train.txt").read_text(encoding="utf-8").splitlines()[0]
    assert ", " not in first and ": " not in first  # compact JSON


def test_paddleocr_det_points_are_exclusive_pixel_edges(tmp_path, generator):
    """Without augmentation the ink is the digits: x1, y1 are one past the last column and row of ink."""
    spec = DatasetSpec.build(count=12, shard_size=12, digits="2-4", seed=5, preset="none", format="paddleocr")
    shard = make_shard(spec, 0, generator)
    get_format("paddleocr").write(shard, tmp_path / "shard-00000")
    samples = simple_dataset_lines(tmp_path / "shard-00000" / "det_gt_train.txt", data_dir=tmp_path)
    for i, (path, field) in enumerate(samples):
        (x0, y0), (x1, _), (_, y1), _ = json.loads(field)[0]["points"]
        rows, columns = np.nonzero(paddle_decode(path))
        assert (x0, y0, x1, y1) == (columns.min(), rows.min(), columns.max() + 1, rows.max() + 1), i


def test_paddleocr_shards_and_merged_files(made):
    root, _ = made["paddleocr"]
    assert shard_files(root) == ["shard-00000", "shard-00001", "shard-00002"]
    for name in ("rec_gt_train.txt", "det_gt_train.txt"):
        parts = [(root / shard / name).read_bytes() for shard in shard_files(root)]
        merged = (root / name).read_bytes()
        assert merged == b"".join(parts) and merged.endswith(b"\n") and b"\r" not in merged
    held = sorted(p.relative_to(root / "shard-00001").as_posix() for p in (root / "shard-00001").rglob("*"))
    assert held[:4] == ["det_gt_train.txt", "hng.jsonl", "images", "images/000000020.png"]
    assert len(held) == 3 + 20 + 1
    assert not list((root / ".hng").glob("tmp/*")), "the merge's staging folder is cleaned up"


def test_paddleocr_a_test_split_names_its_files_and_eval(tmp_path, sample_data):
    spec = {**SPEC, "count": 10, "shard_size": 10, "split": "test", "format": "paddleocr"}
    manifest = make_dataset(spec, tmp_path, workers=1, data=sample_data)
    assert manifest["format"]["files"] == ["rec_gt_test.txt", "det_gt_test.txt"]
    assert sorted(p.name for p in (tmp_path / "shard-00000").glob("*.txt")) == [
        "det_gt_test.txt",
        "rec_gt_test.txt",
    ]
    card = (tmp_path / "README.md").read_text()
    assert "Eval:\n  dataset:\n    name: SimpleDataSet\n" in card
    assert "label_file_list: [path/to/dataset/rec_gt_test.txt]" in card


def test_paddleocr_card(made, reference):
    root, manifest = made["paddleocr"]
    card = (root / "README.md").read_text()
    assert card == render_card(manifest)
    assert (
        "```yaml\nTrain:\n  dataset:\n    name: SimpleDataSet\n    data_dir: path/to/dataset\n"
        "    label_file_list: [path/to/dataset/rec_gt_train.txt]\n```"
    ) in card
    assert "`shard-00000/images/KEY.png<TAB>label`" in card
    assert 'lines = open("path/to/dataset/rec_gt_train.txt", encoding="utf-8").read().splitlines()' in card
    assert "python tools/train.py -c" in card
    samples = card_python(root)["samples"]
    assert samples == [
        [f"shard-{s.index:05d}/images/{s.key(i)}.png", label] for label, _, s, i in images_of(reference)
    ]


def test_paddleocr_count_refuses_broken_shards(tmp_path, made):
    root, _ = made["paddleocr"]
    fmt = get_format("paddleocr")
    whole = root / "shard-00002"
    assert fmt.count(whole) == 10

    def broken(change) -> Path:
        path = tmp_path / "shard-00002"
        shutil.rmtree(path, ignore_errors=True)
        shutil.copytree(whole, path)
        change(path)
        return path

    def edit(path: Path) -> None:
        rec = path / "rec_gt_train.txt"
        rec.write_text(rec.read_text().replace("\t", "\t9", 1))

    cases = {
        "rec_gt_train.txt is missing": lambda p: (p / "rec_gt_train.txt").unlink(),
        "det_gt_train.txt does not list": lambda p: _truncate(p / "det_gt_train.txt", 200),
        "rec_gt_train.txt does not list": edit,
        "000000045.png is missing": lambda p: (p / "images" / "000000045.png").unlink(),
        "files hng.jsonl does not list: images/x.png": lambda p: (p / "images" / "x.png").write_bytes(b"x"),
    }
    for reason, change in cases.items():
        with pytest.raises(ValueError, match=rf"^shard-00002 is not a whole paddleocr shard: .*{reason}"):
            fmt.count(broken(change))
    # The label files name the folder: under another name the shard no longer loads in PaddleOCR.
    shutil.copytree(whole, tmp_path / "shard-00005")
    with pytest.raises(ValueError, match=r"shard-00005 is not a whole paddleocr shard: rec_gt_train\.txt"):
        fmt.count(tmp_path / "shard-00005")


def test_paddleocr_finalize_refuses_a_shard_without_its_label_file(tmp_path, made):
    root, _ = made["paddleocr"]
    copy = tmp_path / "dataset"
    shutil.copytree(root, copy)
    (copy / "shard-00001" / "det_gt_train.txt").unlink()
    output = LocalOutput(copy)
    plan = Plan.loads((copy / "plan.json").read_text(), str(copy))
    records = [json.loads(p.read_text()) for p in sorted((copy / ".hng" / "shards").glob("*.json"))]
    with pytest.raises(ValueError, match=r"shard-00001 is not a whole paddleocr shard: no det_gt_train\.txt"):
        get_format("paddleocr").dataset_files(output, plan, records)


# --- doctr -----------------------------------------------------------------------------------------------


def recognition_dataset(img_folder: Path, labels_path: Path) -> list[tuple[str, str]]:
    """docTR's RecognitionDataset.__init__ (mindee/doctr doctr/datasets/recognition.py): ``json.load`` of
    labels_path opened as UTF-8; for each ``(img_name, label)`` of ``labels.items()`` the file
    ``os.path.join(root, img_name)`` must exist (else FileNotFoundError); ``self.data`` keeps the pairs."""
    assert Path(img_folder).is_dir()  # _AbstractDataset: "expected a path to a reachable folder"
    with open(labels_path, encoding="utf-8") as f:
        labels = json.load(f)
    data = []
    for img_name, label in labels.items():
        if not os.path.exists(os.path.join(img_folder, img_name)):
            raise FileNotFoundError(f"unable to locate {os.path.join(img_folder, img_name)}")
        data.append((img_name, label))
    return data


def doctr_read(path: Path) -> np.ndarray:
    """docTR's read_img_as_tensor: Pillow, exif_transpose, convert("RGB") (then a float tensor)."""
    with Image.open(path, mode="r") as pil_img:
        rgb = np.asarray(ImageOps.exif_transpose(pil_img).convert("RGB"))
    assert np.array_equal(rgb[:, :, 0], rgb[:, :, 1]) and np.array_equal(rgb[:, :, 0], rgb[:, :, 2])
    return rgb[:, :, 0]


def test_doctr_recognition_dataset_reads_every_shard(made, reference):
    root, manifest = made["doctr"]
    assert "format" not in manifest
    for shard in reference:
        folder = root / f"shard-{shard.index:05d}"
        data = recognition_dataset(folder / "images", folder / "labels.json")
        assert len(data) == len(shard)
        for i, (img_name, label) in enumerate(data):
            assert img_name == f"{shard.key(i)}.png" and label == str(shard.labels[i])
            assert np.array_equal(doctr_read(folder / "images" / img_name), shard.image(i))
        assert sorted(os.listdir(folder)) == ["hng.jsonl", "images", "labels.json"]
    text = (root / "shard-00000" / "labels.json").read_text(encoding="utf-8")
    assert text.startswith('{\n"000000000.png":"') and text.endswith('"\n}\n')


def test_doctr_train_script_takes_a_folder_of_shard_links(tmp_path, made):
    """references/recognition/train.py --train_path: the folder itself if it holds labels.json, else each
    of its entries (os.listdir) as a folder of images/ and labels.json, merged."""
    root, _ = made["doctr"]

    def parts(base: Path) -> list[Path]:
        return [base] if base.joinpath("labels.json").is_file() else [base / sub for sub in os.listdir(base)]

    train = tmp_path / "train"
    train.mkdir()
    for shard in shard_files(root):  # the card's `ln -s "$PWD"/path/to/dataset/shard-* train/`
        (train / shard).symlink_to(root / shard)
    total = sum(len(recognition_dataset(p / "images", p / "labels.json")) for p in parts(train))
    assert total == sum(SIZES)
    assert parts(root / "shard-00001") == [root / "shard-00001"]
    # The dataset's root is not such a folder: manifest.json, README.md, ... are entries too.
    assert not all(p.joinpath("labels.json").is_file() for p in parts(root))


def test_doctr_card(made):
    root, _ = made["doctr"]
    card = (root / "README.md").read_text()
    assert "from doctr.datasets import RecognitionDataset\n" in card
    assert (
        'train_set = RecognitionDataset(img_folder="path/to/dataset/shard-00000/images", '
        'labels_path="path/to/dataset/shard-00000/labels.json")'
    ) in card
    assert "references/recognition/train.py crnn_vgg16_bn --train_path train" in card


def test_doctr_count_refuses_broken_shards(tmp_path, made):
    root, _ = made["doctr"]
    fmt = get_format("doctr")
    whole = root / "shard-00000"

    def broken(change) -> Path:
        path = tmp_path / "shard-00000"
        shutil.rmtree(path, ignore_errors=True)
        shutil.copytree(whole, path)
        change(path)
        return path

    def drop_last_record(path: Path) -> None:
        lines = (path / "hng.jsonl").read_text().splitlines(keepends=True)
        (path / "hng.jsonl").write_text("".join(lines[:-1]))

    def relabel(path: Path) -> None:
        labels = json.loads((path / "labels.json").read_text())
        labels["000000003.png"] += "1"
        (path / "labels.json").write_text(json.dumps(labels, indent=0, separators=(",", ":")) + "\n")

    cases = {
        "labels.json is missing": lambda p: (p / "labels.json").unlink(),
        "labels.json does not map": relabel,
        "hng.jsonl does not end with a newline": lambda p: _truncate(p / "hng.jsonl", 300),
        "files hng.jsonl does not list: images/000000019.png": drop_last_record,
        "truncated PNG": lambda p: _truncate(p / "images" / "000000004.png", 60),
    }
    for reason, change in cases.items():
        with pytest.raises(ValueError, match=rf"^shard-00000 is not a whole doctr shard: .*{reason}"):
            fmt.count(broken(change))
    with pytest.raises(FileNotFoundError):
        fmt.count(tmp_path / "missing")


# --- lmdb ------------------------------------------------------------------------------------------------


def dtrb_open(root: Path) -> lmdb.Environment:
    """LmdbDataset.__init__ of clovaai/deep-text-recognition-benchmark dataset.py, verbatim."""
    return lmdb.open(str(root), max_readers=32, readonly=True, lock=False, readahead=False, meminit=False)


def dtrb_samples(root: Path) -> list[tuple[str, np.ndarray]]:
    """(label, pixels) as DTRB's LmdbDataset gives them (data_filtering_off, grey: convert('L'))."""
    env = dtrb_open(root)
    try:
        with env.begin(write=False) as txn:
            n = int(txn.get(b"num-samples"))
            out = []
            for index in range(1, n + 1):
                label = txn.get(b"label-%09d" % index).decode("utf-8")
                buf = io.BytesIO(txn.get(b"image-%09d" % index))
                out.append((label, np.asarray(Image.open(buf).convert("L"))))
            return out
    finally:
        env.close()


def test_lmdb_dtrb_reads_every_shard(made, reference):
    root, _ = made["lmdb"]
    assert shard_files(root) == ["shard-00000", "shard-00001", "shard-00002"]
    for shard in reference:
        folder = root / f"shard-{shard.index:05d}"
        samples = dtrb_samples(folder)
        assert len(samples) == len(shard)
        for i, (label, pixels) in enumerate(samples):
            assert label == str(shard.labels[i])
            assert np.array_equal(pixels, shard.image(i))
        assert sorted(os.listdir(folder)) == ["data.mdb", "hng.jsonl"], "no lock.mdb, written or read"
        env = dtrb_open(folder)
        assert env.stat()["entries"] == 2 * len(shard) + 1
        env.close()


def test_lmdb_dtrb_walks_leaf_folders(tmp_path, made):
    """hierarchical_dataset(root, select_data="/"): every leaf folder under root is an LmdbDataset. The
    dataset root has .hng/shards (records, no LMDB); a tree of hard-linked shards (`cp -rl`) loads."""
    root, _ = made["lmdb"]

    def leaves(top: Path) -> list[str]:
        return [dirpath for dirpath, dirnames, _ in os.walk(str(top) + "/") if not dirnames]

    assert any(leaf.endswith(".hng/shards") for leaf in leaves(root))
    with pytest.raises(lmdb.Error):
        dtrb_open(root / ".hng" / "shards")
    tree = tmp_path / "dtrb"
    tree.mkdir()
    for shard in shard_files(root):
        shutil.copytree(root / shard, tree / shard, copy_function=os.link)
    assert sorted(Path(leaf).name for leaf in leaves(tree)) == shard_files(root)
    assert sum(len(dtrb_samples(Path(leaf))) for leaf in leaves(tree)) == sum(SIZES)


def read_meta(path: Path) -> dict[str, int]:
    """The newer meta page of a data.mdb (lmdb.h's MDB_meta, 64-bit): map size, page size, last page."""
    data = path.read_bytes()
    metas = []
    (psize,) = struct.unpack_from("<I", data, 40)  # the free database's md_pad, in meta page 0
    for offset in (0, psize):
        magic, version, _, mapsize, psize = struct.unpack_from("<IIQQI", data, offset + 16)
        last_pg, txnid = struct.unpack_from("<QQ", data, offset + 136)
        assert (magic, version) == (0xBEEFC0DE, 1)
        metas.append({"map_size": mapsize, "psize": psize, "last_pg": last_pg, "txnid": txnid})
    return max(metas, key=lambda m: m["txnid"])


def test_lmdb_map_size_is_recorded_and_never_reached(made, reference):
    root, manifest = made["lmdb"]
    facts = manifest["format"]
    assert facts["files"] == [] and facts["byte_stable"] is True and facts["records"] == "hng.jsonl"
    assert facts["page_size"] == mmap.PAGESIZE
    assert facts["lmdb_map_size"] == map_size(20, 5 * 28, 5)  # digits 2-5 at 28 pixels a digit
    for shard in reference:
        data = root / f"shard-{shard.index:05d}" / "data.mdb"
        meta = read_meta(data)
        assert meta["map_size"] == map_size(len(shard), int(shard.widths.max()), int(shard.lengths.max()))
        assert meta["map_size"] <= facts["lmdb_map_size"] and meta["map_size"] % (1 << 20) == 0
        assert data.stat().st_size == (meta["last_pg"] + 1) * meta["psize"] < meta["map_size"]
        assert meta["txnid"] == 1  # one write transaction


def test_lmdb_map_size_holds_incompressible_images(tmp_path, reference):
    """Noise does not compress: a shard of incompressible images still fits in its map size."""
    shard = reference[0]
    noisy = np.random.default_rng(0).integers(0, 256, shard.images.shape, dtype=np.uint8)
    past_width = np.arange(shard.images.shape[2])[None, :] >= shard.widths[:, None]  # (N, W)
    noisy[np.broadcast_to(past_width[:, None, :], noisy.shape)] = 0
    fmt = get_format("lmdb")
    fmt.write(dataclasses.replace(shard, images=noisy), tmp_path / "shard-00000")
    data = tmp_path / "shard-00000" / "data.mdb"
    assert 28 * int(shard.widths.sum()) < data.stat().st_size < read_meta(data)["map_size"]
    assert np.array_equal(fmt.read(tmp_path / "shard-00000", 0, 0).images, noisy)


def test_lmdb_read_count_and_read_rows_round_trip(made, reference):
    root, _ = made["lmdb"]
    fmt = get_format("lmdb")
    for shard in reference:
        path = root / fmt.shard_name(shard.index)
        assert fmt.count(path) == len(shard)
        got = fmt.read(path, shard.index, shard.start)
        for name in ("images", "widths", "labels", "lengths", "boxes", "seeds", "indices"):
            assert np.array_equal(getattr(got, name), getattr(shard, name)), name
            assert getattr(got, name).dtype == getattr(shard, name).dtype, name
        assert got.split == "train"
    rows = [1, 4, 9]
    part = fmt.read_rows(root / "shard-00002", 2, 40, rows)
    assert part.labels.tolist() == reference[2].labels[rows].tolist()
    for i, row in enumerate(rows):
        assert np.array_equal(part.image(i), reference[2].image(row))
    lines = (root / "shard-00002" / "hng.jsonl").read_text().splitlines()
    assert json.loads(lines[3]) == {"image": "image-000000004", **reference[2].record(3)}


def test_lmdb_writing_twice_gives_the_same_data_mdb(tmp_path, reference):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    get_format("lmdb").write(reference[0], tmp_path / "a" / "shard-00000")
    old_umask = os.umask(0o077)
    try:
        # Another process: nothing of this one (its memory, its allocations) can leak into the file.
        code = (
            "import pathlib, sys, hng\n"
            "from hng.datasets import DatasetSpec, make_shard\n"
            "from hng.datasets.formats import get_format\n"
            f"spec = DatasetSpec.build(**{SPEC!r})\n"
            "shard = make_shard(spec, 0, hng.Generator(hng.MnistData.from_npz(sys.argv[2], strict=False)))\n"
            "get_format('lmdb').write(shard, pathlib.Path(sys.argv[1]))\n"
        )
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        subprocess.run(
            [sys.executable, "-c", code, str(tmp_path / "b" / "shard-00000"), str(SAMPLE_PATH)],
            env=env,
            check=True,
        )
    finally:
        os.umask(old_umask)
    first, second = (tmp_path / x / "shard-00000" for x in "ab")
    assert (first / "data.mdb").read_bytes() == (second / "data.mdb").read_bytes()
    assert sha256_path(first) == sha256_path(second)


def _truncate(path: Path, size: int) -> None:
    with open(path, "r+b") as fh:
        fh.truncate(size)


def test_lmdb_count_refuses_truncated_and_corrupt_shards(tmp_path, made):
    root, _ = made["lmdb"]
    fmt = get_format("lmdb")
    whole = root / "shard-00001"
    size = (whole / "data.mdb").stat().st_size

    def broken(change) -> Path:
        path = tmp_path / "shard-00003"
        shutil.rmtree(path, ignore_errors=True)
        shutil.copytree(whole, path)
        change(path)
        return path

    def rewrite(put: dict[bytes, bytes], delete: tuple[bytes, ...] = ()):
        def change(path: Path) -> None:
            env = lmdb.open(str(path), lock=False)
            with env.begin(write=True) as txn:
                for key, value in put.items():
                    txn.put(key, value)
                for key in delete:
                    txn.delete(key)
            env.close()

        return change

    def replace(old: bytes, new: bytes):
        def change(path: Path) -> None:
            data = (path / "data.mdb").read_bytes()
            assert old in data
            (path / "data.mdb").write_bytes(data.replace(old, new, 1))

        return change

    # The shard is not whole, and cannot even be opened: read_rows refuses it too.
    unopenable = {
        "data.mdb holds 0 bytes, not even a meta page": lambda p: _truncate(p / "data.mdb", 0),
        "data.mdb holds 100 bytes": lambda p: _truncate(p / "data.mdb", 100),
        f"data.mdb holds {size // 2} bytes, its meta page says {size}": lambda p: _truncate(
            p / "data.mdb", size // 2
        ),
        f"holds {size - 4096} bytes, its meta page says {size}": lambda p: _truncate(
            p / "data.mdb", size - 4096
        ),
        "not an LMDB file": replace(struct.pack("<I", 0xBEEFC0DE), b"\0\0\0\0"),
        r"lock\.mdb: it was opened with locking": lambda p: lmdb.open(str(p), readonly=True).close(),
        "hng.jsonl does not end with a newline": lambda p: _truncate(p / "hng.jsonl", 500),
        "no data.mdb": lambda p: (p / "data.mdb").unlink(),
        "no hng.jsonl": lambda p: (p / "hng.jsonl").unlink(),
    }
    # Whole files that disagree: count (and read) check every key.
    inconsistent = {
        r"image-\d{9}: truncated PNG": replace(b"IEND\xaeB`\x82", b"IEND\0\0\0\0"),
        "label-000000005 is '0', its record's label": rewrite({b"label-000000005": b"0"}),
        "42 keys in data.mdb, not 2 per image": rewrite({b"zzz": b"1"}),
        "num-samples is 19, hng.jsonl lists 20": rewrite({b"num-samples": b"19"}),
        "no key image-000000020": rewrite({b"image-000000021": b"x"}, delete=(b"image-000000020",)),
    }
    for reason, change in {**unopenable, **inconsistent}.items():
        path = broken(change)
        with pytest.raises(ValueError, match=rf"^shard-00003 is not a whole lmdb shard: .*{reason}"):
            fmt.count(path)
            pytest.fail(f"counted: {reason}")
        if reason in unopenable:
            with pytest.raises(ValueError, match=rf"^shard-00003 is not a whole lmdb shard: .*{reason}"):
                fmt.read_rows(path, 3, 60, [0])
    with pytest.raises(FileNotFoundError):
        fmt.count(tmp_path / "missing")


def test_lmdb_card(made, reference):
    root, _ = made["lmdb"]
    card = (root / "README.md").read_text()
    assert "import lmdb\n" in card
    assert (
        'env = lmdb.open("path/to/dataset/shard-00000", max_readers=32, readonly=True, lock=False, '
        "readahead=False, meminit=False)\n"
        'with env.begin() as txn: png, label = txn.get(b"image-000000001"), '
        'txn.get(b"label-000000001").decode()'
    ) in card
    assert "python train.py --train_data path/to/dataset/shard-00000 " in card
    assert "--select_data / --batch_ratio 1 --character 0123456789 --batch_max_length 5 " in card
    assert "cp -rl path/to/dataset/shard-* dtrb/" in card
    names = card_python(root)
    names["env"].close()
    assert names["label"] == str(reference[0].labels[0])
    assert np.array_equal(cv2.imdecode(np.frombuffer(names["png"], np.uint8), 0), reference[0].image(0))


# --- all three -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", OCR_FORMATS)
def test_shards_are_byte_identical_with_one_and_two_workers(tmp_path, sample_data, made, name):
    root, manifest = made[name]
    one = make_dataset({**SPEC, "format": name}, tmp_path, workers=1, data=sample_data)
    assert {s: sha256_path(tmp_path / s) for s in shard_files(tmp_path)} == {
        s: sha256_path(root / s) for s in shard_files(root)
    }
    assert [s["sha256"] for s in one["shards"]] == [s["sha256"] for s in manifest["shards"]]
    assert one.get("format") == manifest.get("format")
    for extra in manifest.get("format", {}).get("files", []):
        assert (tmp_path / extra).read_bytes() == (root / extra).read_bytes()
    if name == "lmdb":
        for s in shard_files(root):
            assert (tmp_path / s / "data.mdb").read_bytes() == (root / s / "data.mdb").read_bytes()


@pytest.mark.parametrize("name", OCR_FORMATS)
def test_finalize_loads_every_shard_again(tmp_path, sample_data, made, name):
    root, manifest = made[name]
    copy = tmp_path / "dataset"
    shutil.copytree(root, copy, symlinks=True)
    again = finalize_dataset(copy, data=sample_data)  # verify="load": each shard's count
    assert again["shards"] == manifest["shards"] and again.get("format") == manifest.get("format")


@pytest.fixture
def s3(aws_env):
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket="data")
        yield client


def test_s3_output_matches_local_and_resumes(sample_data, s3, made):
    """Folder shards of any content on S3 (S3Output.shard_matches once looked for imagefolder's
    metadata.jsonl in every folder shard, so no other folder format was ever found again)."""
    for name in OCR_FORMATS:
        root, local = made[name]
        spec = {**SPEC, "format": name}
        remote = make_dataset(spec, f"s3://data/{name}", workers=1, data=sample_data)
        assert remote["shards"] == local["shards"] and remote.get("format") == local.get("format")
        for extra in local.get("format", {}).get("files", []):
            body = s3.get_object(Bucket="data", Key=f"{name}/{extra}")["Body"].read()
            assert body == (root / extra).read_bytes()
        again = make_dataset(spec, f"s3://data/{name}", workers=1, data=sample_data)
        assert again["run"]["shards_skipped"] == 3, name
