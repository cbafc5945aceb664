"""One hand for a number (``--stroke uniform``): its digits brought to one stroke width.

MNIST's digits come from many writers, so the digits of one generated number differ in stroke width
(from about 1.4 to 4.8 pixels at 28 rows between the 1st and 99th percentiles), as if each were written
with another pen. ``uniform_strokes`` thickens the thin digits and thins the thick ones of a number to
the number's median width, by grey-level morphology with a 3 x 3 cross (OpenCV's 3 x 3 ellipse): a
dilation widens a stroke by about 1.8 pixels, an erosion narrows a thick one by about 1.5 (measured on
3,000 MNIST digits). The fraction of a step left over is a blend of the digit with its next step, so a
stroke 0.9 pixels too thin gets half a step of soft extra edge, as a slightly bolder pen would leave.

It runs on the per-digit images (after augmentation, before cropping and lay-out): uint8, 28 rows,
ink > 0 on 0. Nothing is random; the same digits give the same bytes. On 2,000 random 5-digit numbers
of MNIST train it brings the median spread of widths within a number (max - min) from 1.49 to 0.34
pixels, and the verify-labels reader reads as many digits right after as before (0.965).

Cost: about 40-50 µs a digit (CPU time, numbers of 5, this shared 2-core machine; 20 of them measuring
the widths), all of it some 45 numpy operations on a handful of small arrays per number: a numpy call
costs 1.5-5 µs here.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence

import cv2
import numpy as np

# Width gained by one grey dilation with the 3 x 3 cross, lost by one erosion of a stroke thicker than
# the median (medians over 3,000 MNIST training digits; erosion takes less from thin strokes).
GROWTH = 1.8
SHRINKAGE = 1.5
# At most this many steps either way: three dilations already close the loop of a small 6 or 9.
MAX_STEPS = 2.0
# An erosion step that leaves less than this share of the digit's ink (at half its peak) is not taken.
KEEP_INK = 0.45
_DIAGONAL = 0.5**0.5


def _check(digits: Sequence[np.ndarray]) -> None:
    for i, digit in enumerate(digits):
        if not isinstance(digit, np.ndarray) or digit.ndim != 2 or digit.dtype != np.uint8 or digit.size == 0:
            raise ValueError(f"digits[{i}] must be a non-empty 2-d uint8 array (ink > 0)")


def _stack(digits: Sequence[np.ndarray]) -> np.ndarray:
    """(N, H + 2, W + 2) uint8: the digits top-left on zeros, with a blank margin of one pixel round
    the largest, so that shifted views need no bounds checks and outside counts as no ink."""
    height = max(d.shape[0] for d in digits)
    width = max(d.shape[1] for d in digits)
    stack = np.zeros((len(digits), height + 2, width + 2), dtype=np.uint8)
    for i, digit in enumerate(digits):
        stack[i, 1 : 1 + digit.shape[0], 1 : 1 + digit.shape[1]] = digit
    return stack


def _ink_levels(stack: np.ndarray) -> np.ndarray:
    """Per digit, the grey level that counts as ink: half its peak (rounded up), at least 1."""
    return np.maximum((stack.max(axis=(1, 2)).astype(np.int64) + 1) // 2, 1)


def _widths(stack: np.ndarray, levels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(stroke widths, ink areas) of the digits of a ``_stack``.

    The perimeter is Cauchy-Crofton's: how often lines in four directions (rows and columns one pixel
    apart, diagonals 1/sqrt(2) apart) cross the ink's boundary, holes included. Along one direction
    that is 2 x (ink pixels - adjacent ink pairs), so the pairs are counted, on each digit's pixels
    as one flat row (its blank margin keeps a row's end from pairing with the next row's start).
    Within 5 % of the length for any direction of stroke, where counting pixel edges overstates
    diagonal strokes by 41 %.
    """
    count, _, width = stack.shape
    ink = (stack >= levels.astype(stack.dtype)[:, None, None]).view(np.uint8).reshape(count, -1)
    area = ink.sum(axis=1, dtype=np.int64)
    straight = (ink[:, 1:] & ink[:, :-1]).sum(axis=1, dtype=np.int64) + (
        ink[:, width:] & ink[:, :-width]
    ).sum(axis=1, dtype=np.int64)
    diagonal = (ink[:, width + 1 :] & ink[:, : -width - 1]).sum(axis=1, dtype=np.int64) + (
        ink[:, width - 1 :] & ink[:, : 1 - width]
    ).sum(axis=1, dtype=np.int64)
    crossings = 2 * (2 * area - straight) + _DIAGONAL * 2 * (2 * area - diagonal)
    return 2.0 * area / np.maximum(np.pi / 8 * crossings, 1e-9), area


def stroke_widths(digits: Sequence[np.ndarray]) -> np.ndarray:
    """``stroke_width`` of each digit (float64), in a few numpy operations for the whole list."""
    _check(digits)
    if len(digits) == 0:
        return np.zeros(0)
    stack = _stack(digits)
    return _widths(stack, _ink_levels(stack))[0]


def stroke_width(digit: np.ndarray) -> float:
    """The mean stroke width of a digit, in pixels: 2 x area / perimeter of its ink.

    ``digit``: uint8 (28 rows, any width), ink > 0. The ink is what reaches half the digit's peak; the
    perimeter includes the edges of holes (a 0's inside), so a stroke of width w and length L gives
    about w whatever its shape. 0.0 for a blank digit.
    """
    return float(stroke_widths([digit])[0])


def _dilate(stack: np.ndarray) -> np.ndarray:
    """Grey dilation of every digit of a ``_stack`` with the 3 x 3 cross, on each digit's pixels as
    one flat row (contiguous slices: a third of the time of 2-d ones).

    Wrapping from a row's end to the next row's start only ever joins margin pixels, and a margin pixel
    only ever holds what its inner neighbour had: the inside is exact for up to two steps (MAX_STEPS).
    Erosion is the dilation of the inverted digit (255 - x), whose margin is then 255: outside counts
    as no ink either way.
    """
    count, height, width = stack.shape
    flat = stack.reshape(count, -1)
    out = flat.copy()
    for shift in (1, width):
        np.maximum(out[:, shift:], flat[:, :-shift], out=out[:, shift:])
        np.maximum(out[:, :-shift], flat[:, shift:], out=out[:, :-shift])
    return out.reshape(count, height, width)


def uniform_strokes(digits: Sequence[np.ndarray]) -> list[np.ndarray]:
    """The digits of ONE number, each brought to the number's median stroke width.

    ``digits``: uint8 images (28 rows, any width), ink > 0 on 0. A digit thinner than the median is
    dilated, a thicker one eroded, by (difference / GROWTH or SHRINKAGE) steps of the 3 x 3 cross, at
    most MAX_STEPS, the last step partial (a blend); an erosion step that would leave less than KEEP_INK
    of the ink is not taken, nor any after it. Ink grown past a digit's edge is cut off: shapes never
    change. Blank digits, and digits within a tenth of a step of the median, are returned as they are
    (the same arrays); so is a number with fewer than two inked digits. Deterministic.
    """
    digits = list(digits)
    _check(digits)
    if len(digits) < 2:
        return digits
    # Each digit's ink with room to grow: MAX_STEPS dilations reach 2 pixels past it. Cropping first
    # makes every array operation below two to three times smaller (augmented digits are 28 x 48).
    reach = int(np.ceil(MAX_STEPS))
    boxes = []
    for digit in digits:
        x, y, w, h = cv2.boundingRect(digit)
        x0, y0 = max(x - reach, 0), max(y - reach, 0)
        boxes.append((y0, min(y + h + reach, digit.shape[0]), x0, min(x + w + reach, digit.shape[1])))
    stack = _stack([digit[y0:y1, x0:x1] for digit, (y0, y1, x0, x1) in zip(digits, boxes, strict=True)])
    levels = _ink_levels(stack)
    widths, area = _widths(stack, levels)
    # A handful of values: plain Python (np.median alone costs 20-40 µs on them).
    inked = [w for w in widths.tolist() if w > 0]
    if len(inked) < 2:
        return digits
    target = statistics.median(inked)
    steps_list = [
        0.0
        if w == 0
        else (
            min((target - w) / GROWTH, MAX_STEPS) if w < target else max((target - w) / SHRINKAGE, -MAX_STEPS)
        )
        for w in widths.tolist()
    ]
    steps = np.array([0.0 if abs(s) < 0.1 else s for s in steps_list])
    if not steps.any():
        return digits
    shrinking = bool((steps < 0).any())
    grow = (steps > 0)[:, None, None]
    # Digits to thin are inverted (x ^ 255 is 255 - x), dilated with the others, and inverted back.
    flip = np.where(grow, 0, 255).astype(np.uint8) if shrinking else None
    # The digit after one and two whole steps; the result lies on the line through them at |steps|.
    size = np.abs(steps)[:, None, None].astype(np.float32)
    inverted = stack if flip is None else stack ^ flip
    once_inverted = _dilate(inverted)
    once = once_inverted if flip is None else once_inverted ^ flip
    if (size > 1).any():
        twice = _dilate(once_inverted)
        twice = twice if flip is None else twice ^ flip
        second = size > 1
        start, stop = np.where(second, once, stack), np.where(second, twice, once)
        share = np.where(second, size - 1, size)
    else:
        start, stop, share = stack, once, size
    mixed = start.astype(np.float32)
    mixed += share * (stop.astype(np.float32) - mixed)
    image = np.rint(mixed).astype(np.uint8)
    if shrinking:
        # Never erode a digit away: where the result keeps too little of its ink, one whole step
        # back, or none if even that keeps too little.
        level = levels.astype(np.uint8)[:, None, None]
        floor = KEEP_INK * area
        thin = (~grow[:, 0, 0]) & (np.count_nonzero(image >= level, axis=(1, 2)) < floor)
        if thin.any():
            enough = np.count_nonzero(once >= level, axis=(1, 2)) >= floor
            fallback = np.where(((size[:, 0, 0] > 1) & enough)[:, None, None], once, stack)
            image = np.where(thin[:, None, None], fallback, image)
    out = []
    for i, (digit, (y0, y1, x0, x1)) in enumerate(zip(digits, boxes, strict=True)):
        if steps[i] == 0:
            out.append(digit)
            continue
        restroked = digit.copy()
        restroked[y0:y1, x0:x1] = image[i, 1 : 1 + y1 - y0, 1 : 1 + x1 - x0]
        out.append(restroked)
    return out
