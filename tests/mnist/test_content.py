"""The content digest of MNIST (images + labels, independent of the file) and MnistData's view of it."""

import hashlib

import numpy as np
import pytest

import hng.mnist.load
from hng.mnist.idx import idx_header, read_idx
from hng.mnist.load import MnistData, MnistSplit
from hng.mnist.npzfile import (
    CANONICAL_CONTENT_SHA256,
    MNIST_KEYS,
    mnist_content_sha256,
    read_mnist_npz,
    sha256_file,
    write_mnist_npz,
)
from tests.support.mnist import full_size_arrays
from tests.support.paths import SAMPLE_PATH as SAMPLE


def small_arrays() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(1)
    return {
        "x_train": rng.integers(1, 256, size=(20, 28, 28), dtype=np.uint8),
        "y_train": (np.arange(20) % 10).astype(np.uint8),
        "x_test": rng.integers(1, 256, size=(10, 28, 28), dtype=np.uint8),
        "y_test": (np.arange(10) % 10).astype(np.uint8),
    }


def data_from(arrays: dict[str, np.ndarray]) -> MnistData:
    return MnistData(
        train=MnistSplit.from_arrays(arrays["x_train"], arrays["y_train"]),
        test=MnistSplit.from_arrays(arrays["x_test"], arrays["y_test"]),
    )


# --- the digest ------------------------------------------------------------------------------------------


def test_digest_is_the_sha256_of_the_four_idx_files_in_order(tmp_path):
    # The recipe of CANONICAL_CONTENT_SHA256: `zcat train-images… train-labels… t10k-images… t10k-labels…
    # | sha256sum`. The files written here must read back as the same arrays (so they are valid IDX).
    arrays = small_arrays()
    names = [
        "train-images-idx3-ubyte",
        "train-labels-idx1-ubyte",
        "t10k-images-idx3-ubyte",
        "t10k-labels-idx1-ubyte",
    ]
    joined = b""
    for key, name in zip(MNIST_KEYS, names, strict=True):
        data = idx_header(arrays[key]) + arrays[key].tobytes()
        (tmp_path / name).write_bytes(data)
        np.testing.assert_array_equal(read_idx(tmp_path / name), arrays[key])
        joined += data
    assert mnist_content_sha256(arrays) == hashlib.sha256(joined).hexdigest()


def test_idx_header_matches_mnist_magic_numbers():
    assert idx_header(np.zeros((60000, 28, 28), np.uint8)) == bytes.fromhex(
        "00000803 0000ea60 0000001c 0000001c"
    )
    assert idx_header(np.zeros(10000, np.uint8)) == bytes.fromhex("00000801 00002710")


@pytest.mark.parametrize(
    ("array", "match"),
    [
        (np.zeros(3, np.uint64), "cannot hold dtype uint64"),
        (np.zeros((), np.uint8), r"cannot hold shape \(\)"),
    ],
)
def test_idx_header_refuses_what_idx_cannot_hold(array, match):
    with pytest.raises(ValueError, match=match):
        idx_header(array)


def test_digest_does_not_depend_on_the_file(tmp_path):
    arrays = small_arrays()
    stored = write_mnist_npz(arrays, tmp_path / "stored.npz", strict=False)
    deflated = write_mnist_npz(arrays, tmp_path / "deflated.npz", strict=False, compress=True)
    assert stored != deflated
    a = mnist_content_sha256(read_mnist_npz(tmp_path / "stored.npz", strict=False))
    b = mnist_content_sha256(read_mnist_npz(tmp_path / "deflated.npz", strict=False))
    c = mnist_content_sha256({k: np.asfortranarray(v) for k, v in arrays.items()})  # memory layout
    assert a == b == c == mnist_content_sha256(arrays)


def test_digest_sees_shifted_labels_and_a_single_pixel():
    arrays = full_size_arrays(fill=3)
    base = mnist_content_sha256(arrays)
    shifted = {**arrays, "y_train": np.roll(arrays["y_train"], 1)}
    assert np.array_equal(np.bincount(shifted["y_train"]), np.bincount(arrays["y_train"]))
    assert mnist_content_sha256(shifted) != base
    pixel = {**arrays, "x_test": arrays["x_test"].copy()}
    pixel["x_test"][9999, 27, 27] = 4
    assert mnist_content_sha256(pixel) != base
    # The split boundary is part of the content: the same bytes split differently are other data.
    moved = {
        "x_train": arrays["x_train"][:-1],
        "y_train": arrays["y_train"][:-1],
        "x_test": np.concatenate([arrays["x_train"][-1:], arrays["x_test"]]),
        "y_test": np.concatenate([arrays["y_train"][-1:], arrays["y_test"]]),
    }
    assert mnist_content_sha256(moved) != base


def test_digest_rejects_other_dtypes_and_missing_arrays():
    arrays = small_arrays()
    with pytest.raises(ValueError, match="y_test: dtype must be uint8, got int64"):
        mnist_content_sha256({**arrays, "y_test": arrays["y_test"].astype(np.int64)})
    with pytest.raises(ValueError, match="missing x_test"):
        mnist_content_sha256({k: v for k, v in arrays.items() if k != "x_test"})


# --- MnistData.content_sha256 / is_canonical --------------------------------------------------------------


def test_sample_data_is_not_canonical(sample_data):
    assert sample_data.content_sha256 == mnist_content_sha256(read_mnist_npz(SAMPLE, strict=False))
    assert sample_data.is_canonical is False


def test_digest_is_lazy_and_computed_once(monkeypatch):
    calls: list[int] = []
    real = hng.mnist.load.mnist_content_sha256

    def counting(arrays):
        calls.append(1)
        return real(arrays)

    monkeypatch.setattr(hng.mnist.load, "mnist_content_sha256", counting)
    data = MnistData.from_npz(SAMPLE, strict=False)
    assert calls == []  # a cold start that never asks does not pay for it
    first = data.content_sha256
    assert data.content_sha256 == first and data.is_canonical is False
    assert calls == [1]


def test_is_canonical_compares_with_the_pinned_digest(monkeypatch):
    arrays = full_size_arrays(fill=3)
    monkeypatch.setattr(hng.mnist.load, "CANONICAL_CONTENT_SHA256", mnist_content_sha256(arrays))
    assert data_from(arrays).is_canonical is True
    shifted = data_from({**arrays, "y_train": np.roll(arrays["y_train"], 1)})
    assert shifted.is_canonical is False
    assert shifted.content_sha256 != hng.mnist.load.CANONICAL_CONTENT_SHA256


def test_labels_of_another_integer_dtype_give_the_same_digest():
    arrays = small_arrays()
    wide = data_from({**arrays, "y_train": arrays["y_train"].astype(np.int64)})
    assert wide.content_sha256 == mnist_content_sha256(arrays)


# --- the real data (full_data) ----------------------------------------------------------------------------


@pytest.mark.full_data
def test_the_full_build_is_canonical(full_mnist):
    # Recomputes the pinned constant from the real file, independently of MnistData.
    assert mnist_content_sha256(read_mnist_npz(full_mnist.path)) == CANONICAL_CONTENT_SHA256
    assert full_mnist.content_sha256 == CANONICAL_CONTENT_SHA256 and full_mnist.is_canonical is True


@pytest.mark.full_data
def test_real_data_with_shifted_labels_is_not_canonical(full_mnist, tmp_path):
    arrays = read_mnist_npz(full_mnist.path)
    arrays["y_train"] = np.roll(arrays["y_train"], 1)
    path = tmp_path / "shifted.npz"
    write_mnist_npz(arrays, path)  # passes every structural check: same shapes and per-digit counts
    assert sha256_file(path) != sha256_file(full_mnist.path)
    data = MnistData.from_npz(path)
    assert data.is_canonical is False
    assert data.content_sha256 == mnist_content_sha256(arrays) != CANONICAL_CONTENT_SHA256
