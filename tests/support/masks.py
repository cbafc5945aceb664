"""An independent oracle for masks and boxes: each digit's own layer resized by OpenCV in float32.

hng computes ownership from its own resampling weights (hng.core.masks); this resizes one layer per
digit with OpenCV itself and takes the strongest, so the two agree only if hng's weights are OpenCV's.
"""

from __future__ import annotations

import cv2
import numpy as np

from hng.core.compose import lay_out


def oracle_mask(crops: list[np.ndarray], gaps: list[int], width: int) -> tuple[np.ndarray, np.ndarray]:
    """(image, mask) of crops laid out with gaps and resized to ``width``, as hng should make them."""
    strip, offsets = lay_out(crops, list(gaps))
    natural = strip.shape[1]
    interpolation = cv2.INTER_LINEAR if width > natural else cv2.INTER_AREA
    if width == natural:
        image = strip.copy()
    else:
        image = cv2.resize(strip, (width, strip.shape[0]), interpolation=interpolation)
    layers = []
    for crop, x in zip(crops, offsets, strict=True):
        layer = np.zeros(strip.shape, dtype=np.float32)
        layer[:, x : x + crop.shape[1]] = crop
        if width != natural:
            layer = cv2.resize(layer, (width, strip.shape[0]), interpolation=interpolation)
        layers.append(layer)
    if not layers:
        return image, np.zeros(image.shape, dtype=np.uint8)
    stack = np.stack(layers)
    owner = stack.argmax(axis=0).astype(np.uint8) + 1
    return image, np.where(image > 0, owner, 0).astype(np.uint8)


def mask_bounds(mask: np.ndarray, label: int) -> tuple[int, int, int, int] | None:
    """(x0, y0, x1, y1) of ``label``'s pixels, half-open; None if it has none."""
    ys, xs = np.nonzero(mask == label)
    if xs.size == 0:
        return None
    return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1
