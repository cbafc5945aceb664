"""`hng generate` and `hng dataset` with the document options: the files have the look; a bad option is
exit 2 with one line naming it, and nothing is written."""

from __future__ import annotations

import subprocess

import numpy as np
import pytest

from hng.core.encoding import decode_image
from tests.support.cli import run_hng


def one_line(proc: subprocess.CompletedProcess) -> str:
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    return lines[0]


@pytest.mark.full_data
def test_generate_paper_tilted_at_48_rows(full_mnist, tmp_path) -> None:
    out = tmp_path / "out"
    proc = run_hng(
        "generate", "-n", "2026", "-w", "200", "--style", "paper", "--height", "48", "--rotate", "4",
        "--seed", "3", "--masks", "--out", str(out),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    (image_path,) = [p for p in out.iterdir() if not p.stem.endswith("_mask")]
    image = decode_image(image_path.read_bytes())
    assert image.shape == (48, 200, 3)
    mask = decode_image(image_path.with_name(image_path.stem + "_mask.png").read_bytes())
    grey = image.mean(axis=2)
    assert grey[mask > 0].mean() < grey[mask == 0].mean() - 60


@pytest.mark.full_data
def test_generate_jpeg_writes_jpg_files(full_mnist, tmp_path) -> None:
    proc = run_hng(
        "generate", "-n", "77", "--style", "ink", "--height", "32", "--image-encoding", "jpeg",
        "--jpeg-quality", "90", "--count", "2", "--out", str(tmp_path),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    files = sorted(tmp_path.iterdir())
    assert len(files) == 2 and all(p.suffix == ".jpg" for p in files)
    assert decode_image(files[0].read_bytes()).shape[0] == 32


BAD_OPTIONS = [
    (["--style", "sepia"], "--style must be one of"),
    (["--style", "ink", "--ink", "blue", "--channels", "1"], "--channels 1 (grey) cannot show"),
    (["--rotate=5,1"], "--rotate: low 5 must not be greater than high 1"),
    (["--rotate", "x"], "argument --rotate: expected a number or LOW,HIGH, got 'x'"),
    (["--height", "8"], "--height must be >= 16, got 8"),
    (["--style", "background"], "--background is required by style background"),
    (["--jpeg-quality", "80"], "--jpeg-quality applies to --image-encoding jpeg only"),
]
# hng dataset reaches the same rules through DatasetSpec (tested in process): a few, as a user types them.
DATASET_CASES = [BAD_OPTIONS[i] for i in (1, 2, 6)]


def _refused(tmp_path, base: list[str], args: list[str], words: str) -> None:
    out = tmp_path / "out"
    proc = run_hng(*base, *args, "--out", str(out))
    assert proc.returncode == 2
    assert words in one_line(proc)
    assert not out.exists()


@pytest.mark.parametrize(("args", "words"), BAD_OPTIONS)
def test_generate_refuses_bad_document_options_in_one_line(tmp_path, args: list[str], words: str) -> None:
    _refused(tmp_path, ["generate", "-n", "12"], args, words)


@pytest.mark.parametrize(("args", "words"), DATASET_CASES)
def test_dataset_refuses_bad_document_options_in_one_line(tmp_path, args: list[str], words: str) -> None:
    extra = ["--format", "webdataset"] if args[:1] == ["--jpeg-quality"] else []
    _refused(tmp_path, ["dataset", "--count", "10", *extra], args, words)


def test_dataset_refuses_a_background_folder_without_images(tmp_path) -> None:
    (tmp_path / "sheets").mkdir()
    (tmp_path / "sheets" / "notes.txt").write_text("no image here")
    out = tmp_path / "out"
    proc = run_hng(
        "dataset", "--count", "10", "--style", "background", "--background", str(tmp_path / "sheets"),
        "--out", str(out),
    )  # fmt: skip
    assert proc.returncode == 2
    line = one_line(proc)
    assert line.startswith("hng dataset: error: --background") and "no readable image" in line
    assert not out.exists()


def test_dataset_paper_npz(tmp_path) -> None:
    out = tmp_path / "ds"
    proc = run_hng(
        "dataset", "--count", "40", "--digits", "4", "--style", "paper", "--height", "40", "--rotate", "3",
        "--seed", "1", "-j", "1", "--out", str(out),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    shard = np.load(out / "shard-00000.npz", allow_pickle=False)
    assert shard["images"].shape == (40, 40, 160, 3)
