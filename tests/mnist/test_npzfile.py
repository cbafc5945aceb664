import zipfile
from pathlib import Path

import numpy as np
import pytest

from hng.mnist import npzfile
from hng.mnist.npzfile import (
    MNIST_KEYS,
    read_mnist_npz,
    sha256_file,
    validate_mnist_arrays,
    write_mnist_npz,
)
from tests.support.mnist import full_size_arrays
from tests.support.paths import SAMPLE_PATH as SAMPLE


def small_arrays(n_train: int = 20, n_test: int = 10, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        "x_train": rng.integers(1, 256, size=(n_train, 28, 28), dtype=np.uint8),
        "y_train": (np.arange(n_train) % 10).astype(np.uint8),
        "x_test": rng.integers(1, 256, size=(n_test, 28, 28), dtype=np.uint8),
        "y_test": (np.arange(n_test) % 10).astype(np.uint8),
    }


@pytest.fixture(scope="module")
def full_arrays() -> dict[str, np.ndarray]:
    """Synthetic arrays with the full MNIST shapes and canonical per-digit counts."""
    return full_size_arrays(fill=7)


# --- validation ------------------------------------------------------------------------------------------


def test_strict_accepts_the_full_mnist_shapes_and_nothing_else(full_arrays):
    assert validate_mnist_arrays(full_arrays) is None
    for split, total in (("train", 60000), ("test", 10000)):
        for size in (total - 1, total + 1):
            arrays = dict(full_arrays)
            keep = np.resize(np.arange(total), size)  # drop the last sample, or repeat the first
            arrays[f"x_{split}"] = full_arrays[f"x_{split}"][keep]
            arrays[f"y_{split}"] = full_arrays[f"y_{split}"][keep]
            with pytest.raises(ValueError, match=rf"x_{split}: must hold {total} images, got {size}"):
                validate_mnist_arrays(arrays)
            validate_mnist_arrays(arrays, strict=False)


def test_small_arrays_pass_non_strict_only():
    arrays = small_arrays()
    validate_mnist_arrays(arrays, strict=False)
    with pytest.raises(ValueError, match="x_train: must hold 60000 images, got 20"):
        validate_mnist_arrays(arrays)


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("x_train", np.zeros((20, 28, 28), np.float32), "x_train: dtype must be uint8, got float32"),
        ("y_test", np.zeros(10, np.int64), "y_test: dtype must be uint8"),
        ("x_test", np.ones((10, 28, 27), np.uint8), r"x_test: shape must be \(N, 28, 28\)"),
        ("x_train", np.ones((20, 784), np.uint8), r"x_train: shape must be \(N, 28, 28\)"),
        ("y_train", np.zeros((20, 1), np.uint8), r"y_train: shape must be \(N,\)"),
        ("y_train", np.zeros(19, np.uint8), "x_train has 20 images but y_train has 19 labels"),
        ("y_test", np.full(10, 10, np.uint8), "y_test: labels must lie in 0..9, found 10"),
        ("x_train", [[0]], "x_train: must be a numpy array"),
    ],
)
def test_validation_names_array_and_rule(key, value, message):
    arrays = small_arrays()
    arrays[key] = value
    with pytest.raises(ValueError, match=message):
        validate_mnist_arrays(arrays, strict=False)


def test_missing_key_is_named():
    arrays = small_arrays()
    del arrays["y_test"]
    with pytest.raises(ValueError, match="missing y_test"):
        validate_mnist_arrays(arrays, strict=False)


def test_strict_checks_digit_counts(full_arrays):
    arrays = dict(full_arrays)
    labels = arrays["y_test"].copy()
    labels[0] = 1  # one 0 becomes a 1
    arrays["y_test"] = labels
    with pytest.raises(ValueError, match=r"y_test: per-digit counts must be \(980, 1135"):
        validate_mnist_arrays(arrays)


def test_strict_rejects_a_blank_image(full_arrays):
    arrays = dict(full_arrays)
    images = arrays["x_train"].copy()
    images[123] = 0
    arrays["x_train"] = images
    with pytest.raises(ValueError, match="x_train: image 123 is all zero"):
        validate_mnist_arrays(arrays)


# --- writing ---------------------------------------------------------------------------------------------


def test_write_read_round_trip(tmp_path):
    arrays = small_arrays()
    path = tmp_path / "sub" / "mnist.npz"
    digest = write_mnist_npz(arrays, path, strict=False)
    assert digest == sha256_file(path)
    loaded = read_mnist_npz(path, strict=False)
    assert list(loaded) == list(MNIST_KEYS)
    for key in MNIST_KEYS:
        np.testing.assert_array_equal(loaded[key], arrays[key])
    assert path.stat().st_mode & 0o777 == 0o644


def test_write_is_deterministic_and_stored(tmp_path):
    arrays = small_arrays()
    a, b = tmp_path / "a.npz", tmp_path / "b.npz"
    assert write_mnist_npz(arrays, a, strict=False) == write_mnist_npz(dict(arrays), b, strict=False)
    assert a.read_bytes() == b.read_bytes()
    with zipfile.ZipFile(a) as zf:
        infos = zf.infolist()
    assert [i.filename for i in infos] == [f"{k}.npy" for k in MNIST_KEYS]
    assert {i.compress_type for i in infos} == {zipfile.ZIP_STORED}
    assert {i.date_time for i in infos} == {(1980, 1, 1, 0, 0, 0)}


def test_write_compressed_on_request(tmp_path):
    arrays = small_arrays()
    path = tmp_path / "c.npz"
    digest = write_mnist_npz(arrays, path, strict=False, compress=True)
    assert digest == sha256_file(path)
    with zipfile.ZipFile(path) as zf:
        assert {i.compress_type for i in zf.infolist()} == {zipfile.ZIP_DEFLATED}
    loaded = read_mnist_npz(path, strict=False)
    assert list(loaded) == list(MNIST_KEYS)
    for key in MNIST_KEYS:
        assert loaded[key].dtype == np.uint8
        np.testing.assert_array_equal(loaded[key], arrays[key])


def test_write_validates_before_touching_disk(tmp_path):
    arrays = small_arrays()
    arrays["y_train"] = arrays["y_train"] + 10
    with pytest.raises(ValueError, match=r"y_train: labels must lie in 0\.\.9"):
        write_mnist_npz(arrays, tmp_path / "m.npz", strict=False)
    assert list(tmp_path.iterdir()) == []


def test_failed_write_leaves_no_file(tmp_path, monkeypatch):
    real_write_array = np.lib.format.write_array
    calls = []

    def failing_write_array(fp, array, **kwargs):
        calls.append(1)
        if len(calls) == 3:  # part-way through the archive
            fp.write(b"partial")
            raise OSError("disk full")
        real_write_array(fp, array, **kwargs)

    monkeypatch.setattr(npzfile.np.lib.format, "write_array", failing_write_array)
    with pytest.raises(OSError, match="disk full"):
        write_mnist_npz(small_arrays(), tmp_path / "m.npz", strict=False)
    assert list(tmp_path.iterdir()) == []


def test_failed_write_keeps_previous_file(tmp_path, monkeypatch):
    path = tmp_path / "m.npz"
    write_mnist_npz(small_arrays(seed=1), path, strict=False)
    before = path.read_bytes()

    def failing_replace(src, dst):
        raise OSError("rename failed")

    monkeypatch.setattr(npzfile.os, "replace", failing_replace)
    with pytest.raises(OSError, match="rename failed"):
        write_mnist_npz(small_arrays(seed=2), path, strict=False)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["m.npz"]


# --- reading bad input -----------------------------------------------------------------------------------


@pytest.fixture
def good_npz(tmp_path) -> Path:
    path = tmp_path / "good.npz"
    write_mnist_npz(small_arrays(), path, strict=False)
    return path


@pytest.mark.parametrize("keep", [0.5, 0.99, 0.1])
def test_truncated_npz_gives_value_error(good_npz, tmp_path, keep):
    data = good_npz.read_bytes()
    bad = tmp_path / "bad.npz"
    bad.write_bytes(data[: int(len(data) * keep)])
    with pytest.raises(ValueError, match=r"bad\.npz: not a valid MNIST npz file"):
        read_mnist_npz(bad, strict=False)


def test_corrupt_member_gives_value_error(good_npz, tmp_path):
    data = bytearray(good_npz.read_bytes())
    data[2000] ^= 0xFF  # inside x_train's pixels: the CRC no longer matches
    bad = tmp_path / "bad.npz"
    bad.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="not a valid MNIST npz file"):
        read_mnist_npz(bad, strict=False)


@pytest.mark.parametrize("content", [b"", b"hello world, not a zip", b"\x80\x04K\x01."])
def test_non_zip_gives_value_error(tmp_path, content):
    bad = tmp_path / "bad.npz"
    bad.write_bytes(content)
    with pytest.raises(ValueError, match="not a valid MNIST npz file"):
        read_mnist_npz(bad, strict=False)


def test_npy_file_gives_value_error(tmp_path):
    path = tmp_path / "x.npy"
    np.save(path, np.zeros(3))
    with pytest.raises(ValueError, match=r"single \.npy array"):
        read_mnist_npz(path, strict=False)


def test_missing_member_gives_value_error(tmp_path):
    path = tmp_path / "partial.npz"
    arrays = small_arrays()
    np.savez(path, x_train=arrays["x_train"], y_train=arrays["y_train"])
    with pytest.raises(ValueError, match="missing x_test, y_test"):
        read_mnist_npz(path, strict=False)


def test_object_array_is_not_unpickled(tmp_path):
    path = tmp_path / "obj.npz"
    arrays: dict[str, np.ndarray] = dict(small_arrays())
    arrays["y_test"] = np.array([object()] * 10, dtype=object)
    np.savez(path, **arrays)
    with pytest.raises(ValueError, match="not a valid MNIST npz file"):
        read_mnist_npz(path, strict=False)


def test_missing_file_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"nope\.npz"):
        read_mnist_npz(tmp_path / "nope.npz")


def test_invalid_content_names_the_file(tmp_path):
    path = tmp_path / "small.npz"
    write_mnist_npz(small_arrays(), path, strict=False)
    with pytest.raises(ValueError, match=r"small\.npz: x_train: must hold 60000 images"):
        read_mnist_npz(path)


def test_committed_sample_is_valid_real_mnist():
    arrays = read_mnist_npz(SAMPLE, strict=False)
    assert arrays["x_train"].shape == (1000, 28, 28)
    assert arrays["x_test"].shape == (300, 28, 28)
    assert np.bincount(arrays["y_train"]).tolist() == [100] * 10
    assert np.bincount(arrays["y_test"]).tolist() == [30] * 10
    assert arrays["y_train"][:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]  # MNIST's first labels
    assert SAMPLE.stat().st_size < 1_000_000
