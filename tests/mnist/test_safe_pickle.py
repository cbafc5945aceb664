import os
import pickle

import numpy as np
import pytest

from hng.mnist.safe_pickle import mnist_pickle_to_arrays, restore_uint8, restricted_loads
from tests.support.mnist import py2_pickle


def synthetic_split(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, size=(n, 784), dtype=np.uint8)
    labels = rng.integers(0, 10, size=n).astype(np.int64)
    return pixels, (pixels / np.float32(256)).astype(np.float32), labels


@pytest.fixture
def mnist_like():
    """A small (train, validation, test) tuple shaped like mnist.pkl, and the uint8 pixels behind it."""
    splits = [synthetic_split(n, seed) for n, seed in ((5, 1), (3, 2), (4, 3))]
    obj = tuple((x, y) for _, x, y in splits)
    return obj, splits


def test_py2_pickle_round_trip_restores_exact_uint8(mnist_like):
    obj, splits = mnist_like
    data = py2_pickle(obj)
    assert b"_codecs" not in data
    arrays = mnist_pickle_to_arrays(restricted_loads(data), strict=False)
    (u_tr, _, y_tr), (u_va, _, y_va), (u_te, _, y_te) = splits
    np.testing.assert_array_equal(arrays["x_train"], np.concatenate([u_tr, u_va]).reshape(-1, 28, 28))
    np.testing.assert_array_equal(arrays["y_train"], np.concatenate([y_tr, y_va]))
    np.testing.assert_array_equal(arrays["x_test"], u_te.reshape(-1, 28, 28))
    np.testing.assert_array_equal(arrays["y_test"], y_te)
    assert all(a.dtype == np.uint8 for a in arrays.values())


def test_numpy_1_module_name_is_accepted(mnist_like):
    obj, _ = mnist_like
    data = py2_pickle(obj)
    assert b"numpy._core.multiarray\n_reconstruct" in data
    legacy = data.replace(b"numpy._core.multiarray\n", b"numpy.core.multiarray\n")
    loaded = restricted_loads(legacy)
    np.testing.assert_array_equal(loaded[0][0], obj[0][0])


def test_refuses_os_system(tmp_path):
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return os.system, (f"touch {marker}",)

    with pytest.raises(pickle.UnpicklingError, match=r"refusing to unpickle global (posix|nt|os)\.system"):
        restricted_loads(pickle.dumps(Evil(), protocol=2))
    assert not marker.exists()


@pytest.mark.parametrize("module_name", [b"builtins\neval", b"__builtin__\neval", b"_codecs\nencode"])
def test_refuses_other_globals(module_name):
    data = b"\x80\x02c" + module_name + b"\nX\x01\x00\x00\x001\x85R."
    with pytest.raises(pickle.UnpicklingError, match="refusing to unpickle global"):
        restricted_loads(data)


def test_python3_bytes_pickle_is_refused():
    # Python 3 protocol 2 encodes bytes through _codecs.encode: not a numpy reconstruction global.
    with pytest.raises(pickle.UnpicklingError, match=r"_codecs\.encode"):
        restricted_loads(pickle.dumps(np.zeros(3, np.float32), protocol=2))


def test_restore_uint8_is_exact_for_all_values():
    k = np.arange(256, dtype=np.uint8)
    np.testing.assert_array_equal(restore_uint8((k / np.float32(256)).astype(np.float32)), k)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ([0.5, 1.0], r"\[0, 255/256\]"),
        ([-1 / 256], r"\[0, 255/256\]"),
        ([float("nan")], r"\[0, 255/256\]"),
        ([0.1], "not multiples of 1/256"),
        ([1 / 512], "not multiples of 1/256"),
    ],
)
def test_restore_uint8_rejects_inexact_values(values, message):
    with pytest.raises(ValueError, match=message):
        restore_uint8(np.array(values, dtype=np.float32), name="pixels")


def test_restore_uint8_rejects_integer_input():
    with pytest.raises(ValueError, match="floating-point"):
        restore_uint8(np.zeros(3, np.uint8))


def test_inexact_pixels_in_pickle_raise(mnist_like):
    obj, _ = mnist_like
    (x_tr, y_tr), valid, test = obj
    x_bad = x_tr.copy()
    x_bad[0, 0] = 0.3
    with pytest.raises(ValueError, match="train\\+validation images: 1 pixel values are not multiples"):
        mnist_pickle_to_arrays(((x_bad, y_tr), valid, test), strict=False)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda obj: obj[:2], "tuple of 3"),
        (lambda obj: (obj[0], (obj[1][0],), obj[2]), "validation split must be an \\(images, labels\\) pair"),
        (
            lambda obj: (obj[0], obj[1], (obj[2][0].reshape(-1, 28, 28), obj[2][1])),
            "test images must have shape",
        ),
        (lambda obj: ((obj[0][0], obj[0][1] + 10), obj[1], obj[2]), "train labels must lie in 0..9"),
        (lambda obj: ((obj[0][0], obj[0][1][:-1]), obj[1], obj[2]), "train labels must be 5 integers"),
    ],
)
def test_rejects_wrong_structure(mnist_like, mutate, message):
    obj, _ = mnist_like
    with pytest.raises(ValueError, match=message):
        mnist_pickle_to_arrays(mutate(obj), strict=False)


def test_strict_requires_the_mnist_split_sizes(mnist_like):
    obj, _ = mnist_like
    with pytest.raises(ValueError, match=r"train images must have shape \(50000, 784\)"):
        mnist_pickle_to_arrays(obj)
