"""The loaded MNIST data, with what every request would otherwise recompute done once at load time."""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from hng.core.compose import ink_spans
from hng.core.params import parse_split
from hng.errors import InvalidData
from hng.mnist.locate import forget_download, locate_mnist
from hng.mnist.npzfile import (
    CANONICAL_CONTENT_SHA256,
    mnist_content_sha256,
    read_digit_set_npz,
    read_mnist_npz,
)

_BANK_CHUNK = 512


@dataclass(frozen=True, eq=False)
class MnistSplit:
    """One split: the digits, their labels, and per-sample facts precomputed for composition."""

    images: np.ndarray  # (N, 28, 28) uint8, 0 = background, 255 = ink
    labels: np.ndarray  # (N,) uint8
    # The single-image path reads these per digit; Python lists index ten times faster than numpy
    # scalars do (0.03 against 0.3 µs), which is a tenth of a plain image. Built once, about 15 ms.
    by_digit: tuple[list[int], ...]  # for each digit 0-9, the indices of its samples
    ink_bounds_list: list[list[int]]  # ink_bounds, row by row: [x0, x1, y0, y1]
    order: np.ndarray  # (N,) int32: sample indices sorted by digit
    digit_starts: np.ndarray  # (10,) int64: where each digit's run begins in `order`
    digit_counts: np.ndarray  # (10,) int64: how many samples each digit has
    ink_bounds: np.ndarray  # (N, 4) int16 rows: x0, x1, y0, y1: the non-empty columns [x0, x1), rows [y0, y1)

    @classmethod
    def from_arrays(cls, images: np.ndarray, labels: np.ndarray) -> MnistSplit:
        if images.ndim != 3 or images.shape[1:] != (28, 28) or images.dtype != np.uint8:
            raise InvalidData(f"images must be (N, 28, 28) uint8, got {images.shape} {images.dtype}")
        if labels.shape != (images.shape[0],):
            raise InvalidData(
                f"labels must have one entry per image, got {labels.shape} for {images.shape[0]}"
            )
        order = np.argsort(labels, kind="stable").astype(np.int32)
        counts = np.bincount(labels, minlength=10)
        if counts.size > 10:
            raise InvalidData("labels must be digits 0-9")
        missing = [d for d in range(10) if counts[d] == 0]
        if missing:
            raise InvalidData(f"the data has no sample of digit(s) {missing}")
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
        bounds = np.concatenate([ink_spans(images, axis=2), ink_spans(images, axis=1)], axis=1)
        return cls(
            images=images,
            labels=labels,
            by_digit=tuple(part.tolist() for part in np.split(order, starts[1:])),
            order=order,
            digit_starts=starts,
            digit_counts=counts,
            ink_bounds=bounds,
            ink_bounds_list=bounds.tolist(),
        )

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    @cached_property
    def column_bank(self) -> np.ndarray:
        """Every column of every image as a row, (N * 28 + 1, 28) uint8, the last row blank.

        Batched composition gathers strip columns from it as contiguous rows. Built on first use
        (about 0.04 s and 47 MB for the train split), since single images never need it.
        """
        count = len(self)
        bank = np.empty((count * 28 + 1, 28), dtype=np.uint8)
        bank[-1] = 0
        columns = bank[:-1].reshape(count, 28, 28)
        # A few hundred images at a time: the transposing copy then stays in the CPU's cache, 5x faster
        # than one copy of the whole split.
        for start in range(0, count, _BANK_CHUNK):
            columns[start : start + _BANK_CHUNK] = self.images[start : start + _BANK_CHUNK].transpose(0, 2, 1)
        return bank


@dataclass(frozen=True, eq=False)
class MnistData:
    train: MnistSplit
    test: MnistSplit
    path: str | None = None
    source: str | None = None  # where the data came from (an s3:// URI, or the path); None: from arrays

    @classmethod
    def from_npz(
        cls, path: str | os.PathLike, *, strict: bool = True, source: str | None = None
    ) -> MnistData:
        """Load an npz in MNIST's layout. strict: it must be MNIST itself (hng.mnist.npzfile's rules);
        otherwise any digit set in that layout (`validate_digit_set`: shapes, dtypes, labels 0..9, every
        digit in each split, no blank image, white ink on black). `source` names the data in errors and
        in `self.source` (an S3 URI the file was downloaded from); by default the path."""
        arrays = read_mnist_npz(path, strict=True) if strict else read_digit_set_npz(path, source=source)
        return cls(
            train=MnistSplit.from_arrays(arrays["x_train"], arrays["y_train"]),
            test=MnistSplit.from_arrays(arrays["x_test"], arrays["y_test"]),
            path=str(path),
            source=source or str(path),
        )

    def split(self, name: str) -> MnistSplit:
        return self.test if parse_split(name) == "test" else self.train

    # Lazy: hashing the 55 MB costs about 0.14 s, half again the load itself, which a cold start that
    # never asks for it should not pay. Computed once per MnistData.
    @cached_property
    def content_sha256(self) -> str:
        """The sha256 of the images and labels (hng.mnist.npzfile.mnist_content_sha256): equal to
        CANONICAL_CONTENT_SHA256 exactly when this is the real MNIST, whatever file it came from."""
        # Labels are digits 0-9 (from_arrays checks), so uint8 holds any integer dtype they came in.
        return mnist_content_sha256(
            {
                "x_train": self.train.images,
                "y_train": self.train.labels.astype(np.uint8, copy=False),
                "x_test": self.test.images,
                "y_test": self.test.labels.astype(np.uint8, copy=False),
            }
        )

    @property
    def is_canonical(self) -> bool:
        """Whether this is exactly MNIST (images, labels and their order); False for any edited data."""
        return self.content_sha256 == CANONICAL_CONTENT_SHA256

    def __len__(self) -> int:
        return len(self.train) + len(self.test)


logger = logging.getLogger(__name__)
_loaded: dict[Path, MnistData] = {}
_load_lock = threading.Lock()


def load_mnist(path: str | os.PathLike | None = None) -> MnistData:
    """The MNIST data (or another digit set in its layout), loaded once per process and file.

    Looks in order at: ``path``, ``$HNG_MNIST_PATH``, ``$HNG_MNIST_S3_URI`` (downloaded once per process
    to the temp dir), ``/opt/mnist/mnist.npz`` (Lambda layer or image) and the output of
    ``hng data fetch``. The last two are hng's own build and must be MNIST; the others may hold any digit
    set in MNIST's layout (`MnistData.from_npz(strict=False)`). Raises FileNotFoundError when there is
    no data (`hng.mnist.locate.MnistSourceUnavailable` when an S3 object cannot be read) and ValueError
    "SOURCE: rule" when the data breaks a rule.
    """
    location = locate_mnist(path)
    resolved = location.path.resolve()
    with _load_lock:
        data = _loaded.get(resolved)
        if data is None:
            try:
                data = MnistData.from_npz(resolved, strict=location.builtin, source=location.source)
            except ValueError:
                if location.s3_uri is not None:
                    forget_download(location.s3_uri)  # a fixed object replacing it is read next time
                raise
            _loaded[resolved] = data
        return data


class RetryingLoader:
    """MNIST data loaded when a process (a Lambda container) starts, and loaded again while it is missing,
    so that an IAM grant not yet propagated, or an object replaced under the same key, heals a warm
    container without a restart. A source that cannot be loaded does not stop the process: ``error`` says
    why, and `available` tries again once ``retry_after`` seconds have passed (0: on every call).
    """

    def __init__(
        self,
        loader: Callable[[], MnistData] | None = load_mnist,
        *,
        retry_after: float = 0.0,
        data: MnistData | None = None,
        error: str | None = None,
        load_now: bool = True,
    ) -> None:
        self._loader = loader
        self._retry_after = retry_after
        self._lock = threading.Lock()
        self._next_try = time.monotonic() + retry_after
        self.data = data
        self.error = error
        if load_now and data is None:
            self.load()

    def load(self) -> MnistData | None:
        """Try the loader now (unless the data is there, or there is no loader); the data, or None."""
        with self._lock:
            if self.data is not None or self._loader is None:
                return self.data
            try:
                self.data, self.error = self._loader(), None
            except (OSError, ValueError) as error:
                self.error = str(error)
                self._next_try = time.monotonic() + self._retry_after
                logger.error("MNIST data not loaded", extra={"reason": self.error})
                return None
            logger.info("MNIST data loaded", extra={"source": self.data.source, "digits": len(self.data)})
            return self.data

    def available(self) -> MnistData | None:
        """The data, loading it again first if it is missing and a retry is due."""
        if self.data is None and time.monotonic() >= self._next_try:
            return self.load()
        return self.data

    def retry_now(self) -> None:
        """Make the next `available` call try the loader, whatever ``retry_after`` says."""
        self._next_try = 0.0
