"""`hng` failures: a bad --out, --seed or --count is one line and no file; non-canonical MNIST is refused.

The CLI runs as a subprocess (``python -m hng.cli``) from the repository root, as a user would run it.
"""

import errno
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

import hng.cli
from hng.core.seeding import MAX_SEED
from hng.mnist.npzfile import (
    CANONICAL_CONTENT_SHA256,
    mnist_content_sha256,
    read_mnist_npz,
    write_mnist_npz,
)
from tests.support.cli import run_hng
from tests.support.mnist import full_size_arrays


def one_line(proc: subprocess.CompletedProcess) -> str:
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    return lines[0]


# --- generate --out ---------------------------------------------------------------------------------------


def test_out_is_an_existing_file(tmp_path):
    target = tmp_path / "taken"
    target.write_text("not a folder")
    proc = run_hng("generate", "-n", "12", "--out", str(target))
    assert proc.returncode == 2
    line = one_line(proc)
    assert line.startswith("hng generate: error: --out ") and str(target) in line and "is a file" in line
    assert target.read_text() == "not a folder" and proc.stdout == ""


@pytest.mark.parametrize("below", ["sub", "sub/deeper"])
def test_out_lies_under_a_file(tmp_path, below):
    blocker = tmp_path / "taken"
    blocker.write_text("not a folder")
    proc = run_hng("generate", "-n", "12", "--out", str(blocker / below))
    assert proc.returncode == 2
    line = one_line(proc)
    assert "--out" in line and f"under {blocker}, which is a file" in line
    assert sorted(tmp_path.iterdir()) == [blocker]


@pytest.mark.skipif(
    not Path("/sys/kernel").is_dir(), reason="needs Linux sysfs (no folder can be made there)"
)
def test_out_that_cannot_be_created_is_an_io_error():
    proc = run_hng("generate", "-n", "12", "--out", "/sys/kernel/hng-test-out")
    assert proc.returncode == 1  # not the user's syntax: the system refuses
    line = one_line(proc)
    assert line.startswith("hng generate: --out /sys/kernel/hng-test-out: cannot create the folder: ")
    assert proc.stdout == ""


def test_full_disk_mid_run_is_one_line_exit_1(tmp_path, monkeypatch, capsys, sample_default_generator):
    # A disk that fills after the first image: the message says what was written; no traceback.
    real_write = hng.cli.generate.write_atomically
    written: list[Path] = []

    def write_until_full(path: Path, data: bytes) -> None:
        if written:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        real_write(path, data)
        written.append(path)

    monkeypatch.setattr(hng.cli.generate, "write_atomically", write_until_full)
    out = tmp_path / "out"
    assert hng.cli.main(["generate", "-n", "12", "--count", "3", "--seed", "1", "--out", str(out)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith(f"hng generate: --out {out}: cannot write ")
    assert "(wrote 1 of 3 images): No space left on device" in err[0]
    assert list(out.iterdir()) == written


# --- generate --seed / --count: checked before anything is written ----------------------------------------


@pytest.mark.parametrize(
    ("seed", "count"), [(MAX_SEED, 3), (MAX_SEED - 1, 3), (MAX_SEED - 9, 100), (0, 2**64)]
)
def test_seed_range_past_the_maximum_writes_nothing(tmp_path, seed, count):
    out = tmp_path / "out"
    proc = run_hng("generate", "-n", "12", "--seed", str(seed), "--count", str(count), "--out", str(out))
    assert proc.returncode == 2
    line = one_line(proc)
    assert line.startswith(f"hng generate: error: --seed {seed} with --count {count} ")
    assert f"must be <= {MAX_SEED}" in line
    assert f"--seed <= {MAX_SEED - count + 1}" in line if count <= MAX_SEED + 1 else "smaller --count" in line
    assert not out.exists() and proc.stdout == ""


@pytest.mark.full_data
def test_seed_range_ending_at_the_maximum_is_fine(full_mnist, tmp_path):
    out = tmp_path / "out"
    proc = run_hng("generate", "-n", "12", "--seed", str(MAX_SEED - 2), "--count", "3", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    assert len(list(out.iterdir())) == 3


@pytest.mark.parametrize("count", ["0", "-1", "-100"])
def test_count_below_one_writes_nothing(tmp_path, count):
    out = tmp_path / "out"
    proc = run_hng("generate", "-n", "12", "--count", count, "--out", str(out))
    assert proc.returncode == 2
    assert one_line(proc) == f"hng generate: error: --count must be >= 1, got {count}"
    assert not out.exists()


# --- data fetch: only the canonical MNIST unless --allow-custom -------------------------------------------


def assert_refused(proc: subprocess.CompletedProcess, content: str, out: Path) -> None:
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("hng data fetch: ") and "is not the canonical MNIST" in last
    assert f"content sha256 {content}" in last and f"canonical MNIST {CANONICAL_CONTENT_SHA256}" in last
    assert "--allow-custom" in last
    assert proc.stdout == "" and not out.exists()


def assert_accepted_with_warning(proc: subprocess.CompletedProcess, content: str, out: Path) -> None:
    assert proc.returncode == 0, proc.stderr
    (warning,) = [line for line in proc.stderr.splitlines() if "WARNING" in line]
    assert content in warning and CANONICAL_CONTENT_SHA256 in warning and "--allow-custom" in warning
    assert f"CUSTOM data, content sha256 {content}" in proc.stdout
    assert mnist_content_sha256(read_mnist_npz(out)) == content


def test_data_fetch_refuses_a_valid_but_custom_npz(tmp_path):
    # Full-size, canonical per-digit counts, no blank image: every structural check passes.
    arrays = full_size_arrays(fill=3)
    source, out = tmp_path / "custom.npz", tmp_path / "built" / "mnist.npz"
    write_mnist_npz(arrays, source)
    content = mnist_content_sha256(arrays)
    assert_refused(run_hng("data", "fetch", "--source", str(source), "--out", str(out)), content, out)
    accepted = run_hng("data", "fetch", "--source", str(source), "--out", str(out), "--allow-custom")
    assert_accepted_with_warning(accepted, content, out)
    # Once there, the custom file is not silently taken for MNIST either.
    again = run_hng("data", "fetch", "--out", str(out))
    assert again.returncode == 1 and "--force" in again.stderr.strip().splitlines()[-1]


@pytest.mark.full_data
def test_data_fetch_refuses_real_mnist_with_shifted_labels(full_mnist, tmp_path):
    arrays = read_mnist_npz(full_mnist.path)
    arrays["y_train"] = np.roll(arrays["y_train"], 1)  # same per-digit counts, every label wrong
    source, out = tmp_path / "shifted.npz", tmp_path / "built" / "mnist.npz"
    write_mnist_npz(arrays, source)
    content = mnist_content_sha256(arrays)
    assert_refused(run_hng("data", "fetch", "--source", str(source), "--out", str(out)), content, out)
    accepted = run_hng("data", "fetch", "--source", str(source), "--out", str(out), "--allow-custom")
    assert_accepted_with_warning(accepted, content, out)


@pytest.mark.full_data
def test_data_fetch_of_the_real_data_says_canonical(full_mnist, tmp_path):
    out = tmp_path / "mnist.npz"
    proc = run_hng("data", "fetch", "--source", str(full_mnist.path), "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    assert "canonical MNIST" in proc.stdout and "CUSTOM" not in proc.stdout
    assert "WARNING" not in proc.stderr


# --- generate -n: the same number rule as the library and the API --------------------------------------


@pytest.mark.parametrize("number", ["\u300042", "\u00a042\u2028", "\x1c42", "\x8542", "42\u200b"])
def test_unicode_whitespace_around_the_number_is_refused(tmp_path, number):
    proc = run_hng("generate", "-n", number, "--out", str(tmp_path / "out"))
    assert proc.returncode == 2
    assert "-n/--number must contain only the digits 0-9" in one_line(proc)
    assert not list(tmp_path.rglob("*.png"))
