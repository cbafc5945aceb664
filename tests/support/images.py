"""Decoding the colour PNGs hng writes besides its grey images (contact sheets)."""

from __future__ import annotations

import cv2
import numpy as np


def decode_sheet(data: bytes) -> np.ndarray:
    """A contact sheet PNG as a (rows, columns, 3) BGR uint8 array; it must be a colour PNG."""
    sheet = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    assert sheet is not None and sheet.dtype == np.uint8 and sheet.ndim == 3 and sheet.shape[2] == 3
    return sheet


def coloured_pixels(sheet: np.ndarray) -> int:
    """How many pixels are not grey (the boxes and tinted masks drawn on a sheet)."""
    return int(np.count_nonzero((sheet.max(axis=2).astype(int) - sheet.min(axis=2)) > 40))
