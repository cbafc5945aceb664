"""``hng dataset`` as users run it: a subprocess (``python -m hng.cli``) from the repository root.

One module fixture makes the small datasets most tests read (the same spec and seed in npz with 1 and
2 workers, webdataset and imagefolder, and one from a numbers file), all at once to share the cores.
Each format is then read back with the reader its users have (numpy, the ``webdataset`` package,
Hugging Face ``datasets``). Also: Ctrl-C and resume, ``--shards I:J`` with ``finalize``, the rebuild
command of the manifest, bad input, the old underscore spellings, and S3 output against moto's server.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.support.cli import hng_env, ok, run_hng, run_together, wait_for
from tests.support.images import coloured_pixels, decode_sheet
from tests.support.paths import REPO

pytestmark = pytest.mark.full_data

# Small, but with varying lengths (leading zeros among them), per-digit widths and fit=pad.
SPEC_WITHOUT_SEED = (
    "--count", "300", "--shard-size", "100", "--digits", "3-6", "--fit", "pad", "--width-per-digit", "24",
)  # fmt: skip
SPEC = (*SPEC_WITHOUT_SEED, "--seed", "5")
SHARDS = 3
NUMBERS = ["007", "12345", "0042", "9", "000"]
NUMBERS_FILE_TEXT = "007\n12345\n\n  0042 \n9\n000\n"  # a blank line and spaces are ignored
REGION = "us-east-1"
BUCKET = "hng-datasets"
ARRAYS = ["images", "widths", "labels", "lengths", "boxes", "seeds", "indices"]
DATASET_FILES = {"plan.json", "manifest.json", "README.md", "contact_sheet.png", ".hng"}


# --- helpers ---------------------------------------------------------------------------------------------


def one_line(text: str) -> str:
    lines = text.strip("\n").splitlines()
    assert len(lines) == 1, text
    return lines[0]


def sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def sha256_shard(path: Path) -> str:
    """A shard's checksum as the manifest documents it: a file's sha256, or for a folder the sha256 of
    ``sha256sum`` lines of its files in byte order (recomputed here independently of hng)."""
    if path.is_file():
        return sha256_file(path)
    files = sorted((p.relative_to(path).as_posix() for p in path.rglob("*") if p.is_file()), key=str.encode)
    return hashlib.sha256("".join(f"{sha256_file(path / f)}  {f}\n" for f in files).encode()).hexdigest()


def shard_sums(folder: Path) -> dict[str, str]:
    return {p.name: sha256_shard(p) for p in sorted(folder.glob("shard-*"))}


def manifest(folder: Path) -> dict[str, Any]:
    return json.loads((folder / "manifest.json").read_text())


def manifest_sums(data: dict[str, Any]) -> dict[str, str]:
    return {shard["name"]: shard["sha256"] for shard in data["shards"]}


def npz_shards(folder: Path) -> list[dict[str, np.ndarray]]:
    shards = []
    for path in sorted(folder.glob("shard-*.npz")):
        with np.load(path, allow_pickle=False) as data:
            shards.append({name: data[name] for name in data.files})
    return shards


def npz_images(folder: Path) -> tuple[list[str], list[np.ndarray]]:
    """Every label and image (cut to its width) of an npz dataset, in order."""
    labels, images = [], []
    for shard in npz_shards(folder):
        labels += [str(label) for label in shard["labels"]]
        images += [image[:, :width] for image, width in zip(shard["images"], shard["widths"], strict=True)]
    return labels, images


# --- the datasets most tests read ------------------------------------------------------------------------


@dataclasses.dataclass
class Made:
    out: Path
    proc: subprocess.CompletedProcess


@pytest.fixture(scope="module")
def made(tmp_path_factory, full_mnist) -> dict[str, Made]:
    root = tmp_path_factory.mktemp("made")
    numbers_file = root / "my numbers.txt"
    numbers_file.write_text(NUMBERS_FILE_TEXT)
    runs = {
        "npz": [*SPEC, "--workers", "2"],
        "npz-1-worker": [*SPEC, "--workers", "1"],
        "webdataset": [*SPEC, "--format", "webdataset", "--workers", "2"],
        "imagefolder": [*SPEC, "--format", "imagefolder", "--workers", "2"],
        "numbers": [
            *("--count", "50", "--shard-size", "20", "--numbers-mode", "cycle"),
            *("--image-width", "100", "--seed", "7", "--numbers-file", str(numbers_file)),
        ],
    }
    procs = run_together(*(["dataset", *args, "--out", str(root / name)] for name, args in runs.items()))
    return {name: Made(root / name, ok(proc)) for name, proc in zip(runs, procs, strict=True)}


# --- a whole run ------------------------------------------------------------------------------------------


def test_a_whole_run_writes_shards_manifest_card_and_contact_sheet(made):
    out, proc = made["npz"].out, made["npz"].proc
    assert re.fullmatch(
        rf"{re.escape(str(out))}: 300 images in 3 shards, [\d,]+ images/s; duplicates 0; "
        r"label fidelity 0\.\d{3}; manifest\.json, README\.md, contact_sheet\.png",
        one_line(proc.stdout),
    ), proc.stdout
    # Not a terminal: one line per shard (in the order they finish), no tqdm bar, then the finalize line.
    lines = proc.stderr.splitlines()
    assert "\r" not in proc.stderr and "img/s" not in proc.stderr
    assert len(lines) == SHARDS + 1, proc.stderr
    for n, line in enumerate(lines[:SHARDS], 1):
        assert re.fullmatch(
            rf"shard-0000[0-2]\.npz: 100 images, sha256 [0-9a-f]{{12}}… \({n}/3 shards, [\d,]+ images/s\)",
            line,
        ), line
    assert sorted(line.split(":")[0] for line in lines[:SHARDS]) == [f"shard-0000{k}.npz" for k in range(3)]
    assert lines[-1].startswith(f"finalized {out}: 300 images in 3 shards, 0 duplicates, label fidelity 0.")

    names = {p.name for p in out.iterdir()}
    assert names == DATASET_FILES | {f"shard-0000{k}.npz" for k in range(3)}
    hidden = sorted(p.relative_to(out).as_posix() for p in (out / ".hng").rglob("*"))
    assert hidden == [".hng/shards"] + [f".hng/shards/shard-0000{k}.npz.json" for k in range(3)]  # no tmp

    data = manifest(out)
    assert data["images"] == 300
    assert [s["name"] for s in data["shards"]] == [f"shard-0000{k}.npz" for k in range(3)]
    assert [s["images"] for s in data["shards"]] == [100, 100, 100]
    for shard in data["shards"]:
        path = out / shard["name"]
        assert shard["sha256"] == sha256_file(path) and shard["bytes"] == path.stat().st_size
        record = json.loads((out / ".hng" / "shards" / f"{shard['name']}.json").read_text())
        assert record["sha256"] == shard["sha256"] and record["images"] == 100
    spec = data["spec"]
    assert spec["count"] == 300 and spec["shard_size"] == 100 and spec["digits"] == [3, 6]
    assert (spec["fit"], spec["width_per_digit"], spec["seed"], spec["format"]) == ("pad", 24, 5, "npz")
    report = data["report"]
    assert (report["images"], report["shards"], report["workers"], report["duplicates"]) == (300, 3, 2, 0)
    assert sum(report["label_lengths"].values()) == 300 and set(report["label_lengths"]) <= set("3456")
    assert report["fidelity"]["read_as_label"] > 0.9
    assert data["command"].startswith("hng dataset --count 300 --shard-size 100 --digits 3-6 ")

    plan = json.loads((out / "plan.json").read_text())
    assert plan["spec"] == spec and plan["num_shards"] == 3 and plan["mnist"] == data["mnist"]

    card = (out / "README.md").read_text()
    assert card.startswith("---\n") and "300 images of 3-6 digits" in card
    assert data["command"] in card and "CC BY-SA 3.0" in card

    sheet = decode_sheet((out / "contact_sheet.png").read_bytes())
    assert sheet.shape[1] > 200 and sheet.max() > 128 and coloured_pixels(sheet) > 0  # the boxes


# --- each format, read back with its users' reader --------------------------------------------------------


def test_npz_shards_load_with_numpy(made):
    shards = npz_shards(made["npz"].out)
    assert len(shards) == SHARDS
    for shard in shards:
        assert list(shard) == ARRAYS
        n = len(shard["labels"])
        assert n == 100 and shard["labels"].dtype.kind == "U"
        assert shard["images"].dtype == np.uint8 and shard["images"].shape == (n, 28, shard["widths"].max())
        np.testing.assert_array_equal(np.char.str_len(shard["labels"]), shard["lengths"])
        np.testing.assert_array_equal(shard["widths"], 24 * shard["lengths"])  # --width-per-digit 24
        assert set(shard["lengths"].tolist()) <= {3, 4, 5, 6}
        for image, width in zip(shard["images"], shard["widths"], strict=True):
            assert image[:, :width].any() and not image[:, width:].any()  # zero past its width
    labels, _ = npz_images(made["npz"].out)
    assert any(label.startswith("0") for label in labels)  # leading zeros are kept


def test_webdataset_shards_load_with_the_webdataset_package(made):
    import webdataset as wds

    out = made["webdataset"].out
    assert manifest_sums(manifest(out)) == shard_sums(out)
    urls = [str(out / f"shard-0000{k}.tar") for k in range(SHARDS)]
    samples = list(wds.WebDataset(urls, shardshuffle=False).decode("l8"))
    labels, images = npz_images(made["npz"].out)  # the same spec and seed, as npz
    assert len(samples) == 300
    assert [s["__key__"] for s in samples] == [f"{i:09d}" for i in range(300)]
    assert [s["txt"] for s in samples] == labels  # in order, leading zeros kept
    assert [s["json"]["label"] for s in samples] == labels
    # The same pixels, byte for byte, whatever the format.
    for sample, image in zip(samples, images, strict=True):
        assert sample["png"].dtype == np.uint8
        np.testing.assert_array_equal(sample["png"], image)
        assert sample["json"]["width"] == image.shape[1] == 24 * len(sample["txt"])


def test_imagefolder_shards_load_with_hugging_face_datasets(made, hf_datasets, tmp_path):
    out = made["imagefolder"].out
    assert sorted(manifest_sums(manifest(out))) == [f"shard-0000{k}" for k in range(SHARDS)]
    assert manifest_sums(manifest(out)) == shard_sums(out)
    ds = hf_datasets.load_dataset("imagefolder", data_dir=str(out), split="train", cache_dir=str(tmp_path))
    assert len(ds) == 300  # the contact sheet is not a row
    assert ds.features["label"] == hf_datasets.Value("string")
    ds = ds.select(np.argsort(ds["key"], kind="stable"))  # shards come in any order
    labels, images = npz_images(made["npz"].out)
    assert ds["key"] == [f"{i:09d}" for i in range(300)]
    assert ds["label"] == labels
    for row, image in zip(ds, images, strict=True):
        assert row["image"].mode == "L"
        np.testing.assert_array_equal(np.asarray(row["image"]), image)
        assert row["width"] == image.shape[1]


def test_one_worker_and_two_workers_make_the_same_bytes(made):
    one, two = made["npz-1-worker"].out, made["npz"].out
    assert len(shard_sums(one)) == SHARDS
    assert shard_sums(one) == shard_sums(two) == manifest_sums(manifest(two))
    assert manifest(one)["report"]["workers"] == 1 and manifest(two)["report"]["workers"] == 2


# --- Ctrl-C, resume, --shards and finalize -----------------------------------------------------------------


PAUSE_AFTER = 3  # shards the interrupted run makes before it pauses for Ctrl-C


def test_ctrl_c_then_rerun_resumes_and_ends_with_the_same_shards(full_mnist, tmp_path):
    args = ["--count", "40000", "--shard-size", "2000", "--workers", "2", "--seed", "3"]
    out = tmp_path / "interrupted"
    records = out / ".hng" / "shards"
    # The run pauses once PAUSE_AFTER shards are recorded, writes `paused` and makes nothing more (the
    # engine's test-only hook, HNG_TEST_PAUSE_AFTER_SHARDS): Ctrl-C then lands at a known point, however
    # fast or slow the machine.
    paused = tmp_path / "paused"
    pause_env = {"HNG_TEST_PAUSE_AFTER_SHARDS": f"{PAUSE_AFTER}:{paused}"}
    with (tmp_path / "stdout").open("w") as stdout, (tmp_path / "stderr").open("w") as stderr:
        proc = subprocess.Popen(
            [sys.executable, "-m", "hng.cli", "dataset", *args, "--out", str(out)],
            cwd=REPO,
            env=hng_env(pause_env),
            stdout=stdout,
            stderr=stderr,
            start_new_session=True,  # its own process group, as a terminal's foreground job
        )
    try:
        wait_for(paused.exists, f"the pause after {PAUSE_AFTER} shards", 120, proc)
        os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C: the whole group gets it, workers included
        assert proc.wait(timeout=20) == 130
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    stderr_text = (tmp_path / "stderr").read_text()
    assert stderr_text.splitlines()[-1] == "interrupted" and "Traceback" not in stderr_text
    assert (tmp_path / "stdout").read_text() == ""

    def group_gone() -> bool:
        try:
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            return True
        return False

    wait_for(group_gone, "end of every worker", 10)

    # What is there is whole: every recorded shard loads, with its 2000 images and recorded checksum.
    recorded = {p.name.removesuffix(".json") for p in records.glob("*.json")}
    shards = {p.name for p in out.glob("shard-*.npz")}
    assert recorded and recorded <= shards
    assert len(shards - recorded) <= 2  # a worker killed between publishing a shard and recording it
    assert len(shards) < 20, "the run ended before Ctrl-C took effect"
    assert recorded == shards == {f"shard-{k:05d}.npz" for k in range(PAUSE_AFTER)}  # the pause point
    for name in shards:
        with np.load(out / name, allow_pickle=False) as data:
            assert data["images"].shape[0] == 2000 and len(data["labels"]) == 2000
    for name in recorded:
        record = json.loads((records / f"{name}.json").read_text())
        assert record["images"] == 2000 and record["sha256"] == sha256_file(out / name)
    assert not (out / "manifest.json").exists()
    staging = out / ".hng" / "tmp"
    assert not staging.exists() or not any(staging.iterdir()), list(staging.iterdir())
    assert not [p for p in out.rglob("*") if ".tmp" in p.name]
    kept = {name: (out / name).stat().st_ino for name in recorded}

    # The same command again resumes; an uninterrupted run of the same spec makes the reference.
    reference = tmp_path / "reference"
    resumed, uninterrupted = run_together(
        ["dataset", *args, "--out", str(out)], ["dataset", *args, "--out", str(reference)]
    )
    ok(resumed)
    ok(uninterrupted)
    assert f"resuming: {len(recorded)} of 20 shards already made" in resumed.stderr
    assert {name: (out / name).stat().st_ino for name in recorded} == kept  # not made again
    made_now = [line.split(":")[0] for line in resumed.stderr.splitlines() if line.startswith("shard-")]
    assert sorted(made_now) == sorted({f"shard-{k:05d}.npz" for k in range(20)} - recorded)
    assert len(shard_sums(out)) == 20
    assert shard_sums(out) == shard_sums(reference) == manifest_sums(manifest(out))
    assert manifest_sums(manifest(out)) == manifest_sums(manifest(reference))
    assert not (out / ".hng" / "tmp").exists()


def test_a_rerun_without_seed_adopts_the_plans_seed(made, tmp_path):
    """Without --seed a run draws one; in a folder holding a plan it takes the plan's instead."""
    out = tmp_path / "adopted"
    ok(run_hng("dataset", *SPEC, "--shards", "0:1", "--out", str(out)))
    # (--shards keeps these runs short: no finalize.)
    proc = ok(run_hng("dataset", *SPEC_WITHOUT_SEED, "--shards", "0:2", "--out", str(out)))
    assert "resuming: 1 of 2 shards already made" in proc.stderr
    assert "made 1 shard (100 images), 1 already there" in proc.stdout
    assert json.loads((out / "plan.json").read_text())["spec"]["seed"] == 5
    one_shot = manifest_sums(manifest(made["npz"].out))
    assert shard_sums(out) == {name: one_shot[name] for name in ("shard-00000.npz", "shard-00001.npz")}


def test_shard_ranges_then_finalize(made, tmp_path):
    out = tmp_path / "split"
    first = ok(run_hng("dataset", *SPEC, "--shards", "0:2", "--out", str(out)))
    assert one_line(first.stdout) == (
        f"{out}: made 2 shards (200 images), 0 already there; "
        f"run `hng dataset finalize --out {out}` once every shard is made"
    )
    assert sorted(shard_sums(out)) == ["shard-00000.npz", "shard-00001.npz"]
    assert not (out / "manifest.json").exists()

    early = run_hng("dataset", "finalize", "--out", str(out))
    assert early.returncode == 1 and early.stdout == ""
    line = one_line(early.stderr)
    assert line.startswith("hng dataset: 1 of 3 shards are missing or damaged in ")
    assert "(shards 2)" in line and "--shards 2:3" in line, line
    assert not (out / "manifest.json").exists()

    second = ok(run_hng("dataset", *SPEC, "--shards", "2:3", "--out", str(out)))
    assert re.fullmatch(
        rf"{re.escape(str(out))}: made 1 shard \(100 images\), 0 already there; .*", second.stdout.strip()
    )
    assert not (out / "manifest.json").exists()

    final = ok(run_hng("dataset", "finalize", "--out", str(out)))
    assert re.fullmatch(
        rf"{re.escape(str(out))}: 300 images in 3 shards; duplicates 0; label fidelity 0\.\d{{3}}; .*",
        one_line(final.stdout),
    )
    data = manifest(out)
    assert manifest_sums(data) == manifest_sums(manifest(made["npz"].out)) == shard_sums(out)
    assert data["report"]["seconds"] is None and "run" not in data  # no one run made it all
    assert (out / "README.md").is_file() and decode_sheet((out / "contact_sheet.png").read_bytes()).size


# --- bad input -----------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Bad:
    """A bad command line ({out}, {tmp} and {dataset} are filled in) and what its message must contain."""

    args: str
    expected: tuple[str, ...]
    prefix: str = "hng dataset: error: "

    @property
    def id(self) -> str:
        return self.args.replace("{out}", "OUT").replace("{tmp}/", "").replace("{dataset}", "DATASET")


def bad(args: str, *expected: str, prefix: str = "hng dataset: error: ") -> Bad:
    return Bad(args, expected, prefix)


BAD = [
    bad("--count 0 --out {out}", "--count must be >= 1, got 0"),
    bad("--count -5 --out {out}", "--count must be >= 1, got -5"),
    bad("--count x --out {out}", "argument --count: invalid int value: 'x'"),
    bad("--out {out}", "--count is required"),
    bad("--count 5", "--out is required"),
    bad("--count 5 --shard-size 100001 --out {out}", "--shard-size must be <= 100000, got 100001"),
    bad("--count 5 --digits 3-x --out {out}", "--digits must be a length such as 5 or an inclusive range"),
    bad("--count 5 --digits 9-3 --out {out}", "--digits the minimum length 9 must not be greater than"),
    bad("--count 5 --format csv --out {out}", "--format must be one of", "'csv'"),
    bad("--count 5 --fit pad --image-width 20 --out {out}", "-w/--image-width gives 20 pixels", "fit=pad"),
    bad(
        "--count 5 --image-width 50 --width-per-digit 10 --out {out}",
        "-w/--image-width and --width-per-digit exclude each other",
    ),
    bad(
        "--count 5 --spacing-min 9 --spacing-max 3 --out {out}",
        "-smin/--spacing-min (9) must not be greater than -smax/--spacing-max (3)",
    ),
    bad("--count 5 --preset wild --out {out}", "--preset must be one of", "'wild'"),
    bad("--count 5 --split val --out {out}", "--split must be one of 'train' or 'test', got 'val'"),
    bad("--count 5 --numbers-mode bogus --out {out}", "--numbers-mode must be one of"),
    bad(
        "--count 5 --numbers-file {tmp}/missing.txt --out {out}",
        "--numbers-file: ",
        "missing.txt is not a file",
    ),
    bad("--count 5 --numbers-file {tmp}/bad.txt --out {out}", "--numbers-file: bad.txt line 2 ", "'0x7'"),
    bad("--count 5 --digits 4 --numbers-file {tmp}/good.txt --out {out}", "--digits and --numbers-file"),
    bad("--count 5 --shards 5:2 --out {out}", "--shards 5:2 is not a non-empty range"),
    bad("--count 5 --shards x --out {out}", "--shards must look like I:J"),
    bad("--count 5 --out {tmp}/afile/sub", "afile/sub lies under", "afile, which is a file, not a folder"),
    bad("--count 5 --workers 0 --out {out}", "--workers must be >= 1, got 0"),
    bad("--count 5 --out {tmp}/afile", "--out must be a folder", "afile is a file"),
    bad("--count 5 --compress --format webdataset --out {out}", "--compress applies to the npz format only"),
    bad(
        "--count 5 --masks --format voc --out {out}",
        "--masks cannot be stored in the voc format",
        "npz, webdataset, imagefolder, coco",
    ),
    bad(
        "--count 5 --yolo-task segment --out {out}", "--yolo-task", "applies to the yolo format only, not npz"
    ),
    bad("--count 5 --objects both --format lmdb --out {out}", "--objects", "needs a format with detection"),
    bad("--count 5 --objects boxes --format yolo --out {out}", "--objects must be one of", "'boxes'"),
    bad("--count 5 --out s3://", "--out must look like s3://bucket/prefix"),
    bad("--count 5 --out {tmp}/nonempty", "nonempty is not empty (notes.txt)", "--overwrite"),
    bad(" ".join(SPEC).replace("3-6", "3-7") + " --out {dataset}", "digits: [3, 6] → [3, 7]", "--overwrite"),
    bad("finalize", "required: --out", prefix="hng dataset finalize: error: "),
    bad("finalize --out {tmp}/nonempty", "holds no hng dataset (plan.json is missing)"),
]


@pytest.fixture(scope="module")
def bad_runs(tmp_path_factory, made) -> dict[str, tuple[subprocess.CompletedProcess, Path, Path]]:
    """Every BAD command line, run three at a time: (the run, its --out, the folder of its input files)."""
    tmp = tmp_path_factory.mktemp("bad")
    (tmp / "afile").write_text("not a folder\n")
    (tmp / "nonempty").mkdir()
    (tmp / "nonempty" / "notes.txt").write_text("mine\n")
    (tmp / "bad.txt").write_text("12\n0x7\n")
    (tmp / "good.txt").write_text("12\n")
    dataset = tmp / "dataset"
    shutil.copytree(made["npz"].out, dataset)

    def run(index: int, case: Bad) -> tuple[subprocess.CompletedProcess, Path, Path]:
        out = tmp / f"out-{index}"
        args = [a.format(out=out, tmp=tmp, dataset=dataset) for a in case.args.split()]
        return run_hng("dataset", *args), out, tmp

    with ThreadPoolExecutor(max_workers=3) as pool:
        results = list(pool.map(run, range(len(BAD)), BAD))
    return {case.id: result for case, result in zip(BAD, results, strict=True)}


@pytest.mark.parametrize("case", BAD, ids=lambda case: case.id)
def test_bad_input_exits_2_with_one_line_naming_the_option(bad_runs, case):
    proc, out, tmp = bad_runs[case.id]
    print(proc.stderr, end="")
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr and proc.stdout == ""
    line = one_line(proc.stderr)
    assert line.startswith(case.prefix), line
    for text in case.expected:
        assert text in line, f"{line!r} lacks {text!r}"
    assert not out.exists() or not [p for p in out.iterdir() if p.name.startswith(("shard-", "manifest"))]
    if "{dataset}" in case.args:
        # The dataset it refused to replace is untouched.
        assert shard_sums(tmp / "dataset") == manifest_sums(manifest(tmp / "dataset"))


@pytest.mark.parametrize(
    "case",
    [
        pytest.param(
            next(c for c in BAD if "--shards 5:2" in c.args),
            id="--shards 5:2",
        ),
        pytest.param(
            next(c for c in BAD if "--shards x" in c.args),
            id="--shards x",
        ),
        pytest.param(
            next(c for c in BAD if c.args.endswith("{tmp}/nonempty")),
            id="non-empty folder",
        ),
        pytest.param(next(c for c in BAD if "--count 0" in c.args), id="--count 0"),
        pytest.param(next(c for c in BAD if "--workers 0" in c.args), id="--workers 0"),
    ],
)
def test_a_refused_run_leaves_the_out_folder_as_it_was(bad_runs, case):
    proc, out, tmp = bad_runs[case.id]
    assert proc.returncode == 2
    if case.args.endswith("{tmp}/nonempty"):
        assert sorted(p.name for p in (tmp / "nonempty").iterdir()) == ["notes.txt"]
    else:
        assert not out.exists(), sorted(p.relative_to(out).as_posix() for p in out.rglob("*"))


# --- the old underscore spellings, help ------------------------------------------------------------------


def test_underscore_spellings_are_accepted(full_mnist, tmp_path):
    numbers = tmp_path / "numbers.txt"
    numbers.write_text("0815\n42\n")
    first, second = run_together(
        [
            "dataset", "--count", "4", "--shard_size", "2", "--spacing_min", "2", "--spacing_max", "4",
            "--width_per_digit", "20", "--numbers_file", str(numbers), "--numbers_mode", "sample",
            "--seed", "1", "--shards", "0:1", "--out", str(tmp_path / "a"),
        ],
        [
            "dataset", "--count", "4", "--shard_size", "2", "--image_width", "77", "--seed", "1",
            "--shards", "0:1", "--out", str(tmp_path / "b"),
        ],
    )  # fmt: skip
    ok(first)
    ok(second)
    spec = json.loads((tmp_path / "a" / "plan.json").read_text())["spec"]
    assert spec["shard_size"] == 2 and spec["numbers"] == ["0815", "42"]
    assert (spec["spacing_min"], spec["spacing_max"], spec["width_per_digit"]) == (2, 4, 20)
    assert spec["numbers_mode"] == "sample" and spec["image_width"] is None
    (shard,) = npz_shards(tmp_path / "a")
    assert set(shard["labels"].tolist()) <= {"0815", "42"}
    np.testing.assert_array_equal(shard["widths"], 20 * shard["lengths"])
    spec = json.loads((tmp_path / "b" / "plan.json").read_text())["spec"]
    assert spec["image_width"] == 77 and spec["width_per_digit"] is None
    (shard,) = npz_shards(tmp_path / "b")
    assert shard["widths"].tolist() == [77, 77]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (
            ["dataset", "--help"],
            [
                "--count COUNT",
                "--out OUT",
                "--format FORMAT",
                "--shard-size SHARD_SIZE, --shard_size SHARD_SIZE",
                "--numbers-file FILE, --numbers_file FILE",
                "--numbers-mode NUMBERS_MODE, --numbers_mode NUMBERS_MODE",
                "-smin SPACING_MIN, --spacing-min SPACING_MIN, --spacing_min SPACING_MIN",
                "-smax SPACING_MAX, --spacing-max SPACING_MAX, --spacing_max SPACING_MAX",
                "-w IMAGE_WIDTH, --image-width IMAGE_WIDTH, --image_width IMAGE_WIDTH",
                "--width-per-digit WIDTH_PER_DIGIT, --width_per_digit WIDTH_PER_DIGIT",
                "--workers WORKERS, -j WORKERS",
                "--shards I:J",
                "--overwrite",
                "finalize",
            ],
        ),
        (["dataset", "finalize", "--help"], ["usage: hng dataset finalize", "--out OUT"]),
    ],
)
def test_help(args, expected):
    proc = ok(run_hng(*args))
    assert proc.stdout.startswith("usage: hng dataset")
    text = " ".join(proc.stdout.split())
    for item in expected:
        assert item in text, item


# --- numbers from a file, and the manifest's rebuild command --------------------------------------------


def test_numbers_file_cycles_and_the_manifest_command_rebuilds_the_dataset(made, tmp_path):
    out = made["numbers"].out
    labels = [str(label) for shard in npz_shards(out) for label in shard["labels"]]
    assert labels == [NUMBERS[i % len(NUMBERS)] for i in range(50)]  # the file's lines, in order
    assert (out / "numbers.txt").read_text() == "".join(f"{n}\n" for n in NUMBERS)
    data = manifest(out)
    assert data["spec"]["numbers"] == NUMBERS and data["spec"]["numbers_mode"] == "cycle"

    # The command names numbers.txt beside the manifest, by the path the dataset was made at.
    command = shlex.split(data["command"])
    assert command[:2] == ["hng", "dataset"]
    assert command[command.index("--numbers-file") + 1] == str(out / "numbers.txt")
    assert command[command.index("--out") + 1] == str(out)
    rebuilt = tmp_path / "rebuilt"
    command[command.index("--out") + 1] = str(rebuilt)
    ok(run_hng(*command[1:], cwd=tmp_path))
    assert shard_sums(rebuilt) == shard_sums(out) == manifest_sums(data)
    assert len(shard_sums(rebuilt)) == 3
    assert manifest(rebuilt)["spec"] == data["spec"]


# --- S3 (moto's server, over HTTP) ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def s3() -> Iterator[tuple[Any, dict[str, str]]]:
    """moto's S3 on a local port, a bucket in it, and the environment that points boto3 there."""
    import boto3
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    env = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ENDPOINT_URL_S3": f"http://{host}:{port}",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    client = boto3.client(
        "s3",
        endpoint_url=env["AWS_ENDPOINT_URL_S3"],
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    client.create_bucket(Bucket=BUCKET)
    yield client, env
    server.stop()


def test_s3_output_is_the_local_dataset_and_resumes(made, s3, tmp_path):
    import webdataset as wds

    client, env = s3
    url = f"s3://{BUCKET}/sets/one"
    args = ["dataset", *SPEC, "--format", "webdataset", "--workers", "2", "--out", url]
    first, missing = run_together(args, [*args[:-1], "s3://missing-bucket/x"], env=env)
    ok(first)
    assert one_line(first.stdout).startswith(f"{url}: 300 images in 3 shards, ")

    listing = client.list_objects_v2(Bucket=BUCKET, Prefix="sets/one/")["Contents"]
    keys = sorted(item["Key"].removeprefix("sets/one/") for item in listing)
    tars = [f"shard-0000{k}.tar" for k in range(SHARDS)]
    assert keys == sorted(
        ["plan.json", "manifest.json", "README.md", "contact_sheet.png"]
        + tars
        + [f".hng/shards/{tar}.json" for tar in tars]
    )

    def get(key: str) -> bytes:
        return client.get_object(Bucket=BUCKET, Key=f"sets/one/{key}")["Body"].read()

    local = made["webdataset"].out
    data = json.loads(get("manifest.json"))
    assert manifest_sums(data) == shard_sums(local) == manifest_sums(manifest(local))
    assert data["spec"] == manifest(local)["spec"] and data["command"].endswith(f"--out {url}")
    assert json.loads(get("plan.json"))["spec"] == data["spec"]
    assert get("README.md").startswith(b"---\n")
    assert coloured_pixels(decode_sheet(get("contact_sheet.png"))) > 0
    for tar in tars:
        assert json.loads(get(f".hng/shards/{tar}.json"))["sha256"] == shard_sums(local)[tar]

    path = tmp_path / "shard-00001.tar"
    path.write_bytes(get("shard-00001.tar"))
    assert sha256_file(path) == sha256_file(local / "shard-00001.tar")
    samples = list(wds.WebDataset([str(path)], shardshuffle=False).decode("l8"))
    labels, images = npz_images(made["npz"].out)
    assert [s["__key__"] for s in samples] == [f"{i:09d}" for i in range(100, 200)]
    assert [s["txt"] for s in samples] == labels[100:200]
    np.testing.assert_array_equal(samples[0]["png"], images[100])

    # Again: every shard is there and verified, so none is made.
    again = ok(run_hng(*args, env=env))
    assert "resuming: 3 of 3 shards already made" in again.stderr
    assert not [line for line in again.stderr.splitlines() if line.startswith("shard-")]
    assert manifest_sums(json.loads(get("manifest.json"))) == manifest_sums(data)

    # A bucket that does not exist is not a usage error: exit 1, one line.
    assert missing.returncode == 1 and missing.stdout == ""
    line = one_line(missing.stderr)
    assert line.startswith("hng dataset: cannot reach s3://missing-bucket/x: ") and "Traceback" not in line
    print(line)
