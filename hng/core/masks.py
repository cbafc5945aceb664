"""Per-digit masks: which digit each ink pixel of a generated image belongs to, and the boxes they give.

A mask is a uint8 label map of the image's size: 0 for background, k for the pixels of the k-th digit
(1-based, left to right). A pixel is **ink** when its value is above ``INK_THRESHOLD`` (0: any ink at all,
the rule MNIST's crops and hng's boxes have always used), so the union of a mask's labels is exactly the
image's ink. Each digit's box is the bounding box of its label, so boxes and masks always agree.

Ownership. Digits never overlap on the strip they are laid out on (gaps are >= 0), so at the strip's own
width every ink pixel has one digit. Resizing the strip blends neighbouring columns: an output column
whose source columns belong to two digits (a gap of 0 or 1, or a strong squeeze) can hold ink of both.
Such a pixel belongs to the digit that contributes the most ink to it (its source pixels times their
resampling weights); on a tie, to the digit on the left. The rule is the same in every entry point
(``generate``, ``generate_batch``, datasets, the API): they all settle shared columns with
``shared_winners``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

INK_THRESHOLD = 0


def tap_support(
    lengths: np.ndarray, widths: np.ndarray, columns: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The source columns that output column ``columns[p]`` of a strip of ``lengths[p]`` columns resized
    to ``widths[p]`` takes from, and their weights: (P, K) ``sources`` and ``weights`` (0 for unused taps).

    This is the geometry of ``hng.core.compose.resample_columns``: linear interpolation at pixel centres
    when stretching, the covered area when squeezing. OpenCV's fixed-point weights may drop a weight this
    one keeps, never the reverse, so every ink pixel of a resized image has a source here.
    """
    length = np.asarray(lengths, dtype=np.int64)
    width = np.asarray(widths, dtype=np.int64)
    j = np.asarray(columns, dtype=np.int64)
    # Squeezing: column j covers source [j L / W, (j + 1) L / W); in units of 1 / W, [j L, (j + 1) L).
    low, high = j * length, (j + 1) * length
    first = low // np.maximum(width, 1)
    stops = -(-high // np.maximum(width, 1))
    taps = max(2, int((stops - first).max(initial=1)))
    sources = first[:, None] + np.arange(taps)
    overlap = np.minimum((sources + 1) * width[:, None], high[:, None]) - np.maximum(
        sources * width[:, None], low[:, None]
    )
    weights = np.clip(overlap, 0, None) / length[:, None]
    stretched = width > length
    if stretched.any():
        # Stretching: source x = (j + 0.5) L / W - 0.5, as exact fractions over 2W.
        numerator = (2 * j + 1) * length - width
        left = np.floor_divide(numerator, 2 * width)
        fraction = (numerator - left * 2 * width) / (2 * width)
        outside = (left < 0) | (left >= length - 1)  # beyond the first or last centre: one column
        linear = np.zeros((j.size, taps))
        linear[:, 0] = np.where(outside, 1.0, 1 - fraction)
        linear[:, 1] = np.where(outside, 0.0, fraction)
        linear_sources = np.clip(left, 0, length - 1)[:, None] + np.arange(taps)
        sources = np.where(stretched[:, None], linear_sources, sources)
        weights = np.where(stretched[:, None], linear, weights)
    return np.minimum(sources, length[:, None] - 1), weights


def resample_support(source_width: int, output_width: int) -> tuple[np.ndarray, np.ndarray]:
    """``tap_support`` for every column of one resize: (W, K) sources and weights."""
    columns = np.arange(output_width)
    return tap_support(np.full(output_width, source_width), np.full(output_width, output_width), columns)


def label_digits(
    images: np.ndarray,
    reach: np.ndarray,
    lengths: np.ndarray,
    widths: np.ndarray,
    column_labels: Callable[[np.ndarray, np.ndarray], np.ndarray],
    column_pixels: Callable[[np.ndarray, np.ndarray], np.ndarray],
    *,
    masks_out: np.ndarray | None = None,
) -> np.ndarray:
    """Each digit's tight box (D, 4) rows x0, y0, x1, y1 in ``images`` (N, H, W), each a strip of
    ``lengths[i]`` columns resized to ``widths[i]`` columns; with ``masks_out`` (N, H, W) uint8, also
    the masks.

    ``reach`` holds one row per digit, in order within each image: the image, the output columns
    [x0, x1) the digit's strip columns reach (``hng.core.compose.scale_spans``; at the strip's own width,
    its columns) and the rows [y0, y1) its ink spans on the strip. ``column_labels(images, columns)``
    gives the digit (1-based, 0 for none) of strip columns and ``column_pixels(images, columns)`` their
    pixels (P, H); both are asked only about the few output columns that two digits reach. A digit with
    no ink left gets (0, 0, 0, 0). See the module docstring for the rule.
    """
    count, height, width = images.shape
    image_of_digit, x0, x1, y0, y1 = (reach[:, k].astype(np.int64) for k in range(5))
    digits = image_of_digit.size
    first_digit = np.searchsorted(image_of_digit, np.arange(count))
    position = np.arange(digits) - first_digit[image_of_digit]
    per_image = np.diff(np.append(first_digit, digits))
    # Digits run left to right and so do their reaches: the digits reaching column j of an image are
    # those after the ones whose reach ends at or before j, up to the last one starting at or before j.
    stride = width + 1
    started = np.bincount(image_of_digit * stride + x0, minlength=count * stride)
    ended = np.bincount(image_of_digit * stride + x1, minlength=count * stride)
    highest = started.reshape(count, stride).cumsum(axis=1)[:, :width]
    lowest = ended.reshape(count, stride).cumsum(axis=1)[:, :width] + 1

    # The columns only digit k reaches form one run: [x1 of digit k - 1, x0 of digit k + 1) within its
    # reach. There the ink is all its own: its first and last inked columns, and its first and last
    # inked rows (which lie within its rows on the strip), are the box.
    previous_end = np.where(position > 0, np.roll(x1, 1), 0)
    next_start = np.where(position < per_image[image_of_digit] - 1, np.roll(x0, -1), width)
    run_start = np.maximum(x0, previous_end)
    run_stop = np.minimum(x1, next_start)
    column_inked = (images.max(axis=1) > INK_THRESHOLD).ravel()  # (N * W,)
    inked_from = _next_true(column_inked)  # the first inked column at or after each column
    inked_until = _previous_true(column_inked)  # the last inked column at or before each column
    base = image_of_digit * width
    has_run = run_stop > run_start
    left = np.where(has_run, inked_from[base + np.minimum(run_start, width - 1)] - base, width)
    right = np.where(has_run, inked_until[base + np.maximum(run_stop - 1, 0)] - base + 1, 0)
    found = has_run & (left < run_stop) & (right > run_start)
    box_x0 = np.where(found, left, width)
    box_x1 = np.where(found, right, 0)
    box_y0 = np.where(found, y0, height)
    box_y1 = np.where(found, y1, 0)
    flat = images.reshape(-1)
    for edge, step in ((box_y0, 1), (box_y1, -1)):
        pending = np.flatnonzero(found)
        while pending.size:
            row = edge[pending] if step == 1 else edge[pending] - 1
            starts = (image_of_digit[pending] * height + row) * width + box_x0[pending]
            inked = _any_ink(flat, starts, starts + box_x1[pending] - box_x0[pending])
            pending = pending[~inked]
            edge[pending] += step
            pending = pending[(box_y0[pending] < box_y1[pending])]  # never empty while the run has ink

    if masks_out is not None:
        owner = np.where(highest >= lowest, highest, 0).astype(np.uint8)
        np.multiply(images > INK_THRESHOLD, owner[:, None, :], out=masks_out)
    shared_g, shared_j = np.nonzero(highest > lowest)
    if shared_g.size:
        winners = shared_winners(images, shared_g, shared_j, lengths, widths, column_labels, column_pixels)
        if masks_out is not None:
            masks_out[shared_g, :, shared_j] = winners
        p, r = np.nonzero(winners)
        digit = first_digit[shared_g[p]] + winners[p, r].astype(np.int64) - 1
        found[digit] = True
        np.minimum.at(box_x0, digit, shared_j[p])
        np.maximum.at(box_x1, digit, shared_j[p] + 1)
        np.minimum.at(box_y0, digit, r)
        np.maximum.at(box_y1, digit, r + 1)
    boxes = np.zeros((digits, 4), dtype=np.int64)
    boxes[found] = np.stack([box_x0, box_y0, box_x1, box_y1], axis=1)[found]
    return boxes


def _next_true(flags: np.ndarray) -> np.ndarray:
    """For each position, the first position at or after it that is True (len(flags) if none)."""
    size = flags.size
    positions = np.where(flags, np.arange(size), size)
    return np.minimum.accumulate(positions[::-1])[::-1]


def _previous_true(flags: np.ndarray) -> np.ndarray:
    """For each position, the last position at or before it that is True (-1 if none)."""
    return np.maximum.accumulate(np.where(flags, np.arange(flags.size), -1))


def _any_ink(flat: np.ndarray, starts: np.ndarray, stops: np.ndarray) -> np.ndarray:
    """Whether ``flat[starts[i]:stops[i]]`` (each non-empty) holds ink, in one pass over the ranges only.

    ``reduceat`` also reduces from each range's stop to the next range's start: ranges taken in
    decreasing order make those in-between spans single elements, and the last element of each range
    is read on its own so that no bound reaches past the array.
    """
    order = np.argsort(-starts, kind="stable")
    pairs = np.stack([starts[order], np.maximum(stops[order] - 1, starts[order])], axis=1).ravel()
    bounds = np.append(pairs, flat.size - 1)  # so the span after the last range is one element too
    peaks = np.maximum(np.maximum.reduceat(flat, bounds)[:-1:2], flat[stops[order] - 1])
    inked = np.empty(starts.size, dtype=bool)
    inked[order] = peaks > INK_THRESHOLD
    return inked


def shared_winners(
    images: np.ndarray,
    shared_g: np.ndarray,
    shared_j: np.ndarray,
    lengths: np.ndarray,
    widths: np.ndarray,
    column_labels: Callable[[np.ndarray, np.ndarray], np.ndarray],
    column_pixels: Callable[[np.ndarray, np.ndarray], np.ndarray],
) -> np.ndarray:
    """(P, 28) uint8: the digit owning each ink pixel of columns drawing on two or more digits: the
    one contributing the most ink (source pixels times resampling weights); a tie goes to the left."""
    sources, weights = tap_support(lengths[shared_g], widths[shared_g], shared_j)
    taps = sources.shape[1]
    tap_image = np.repeat(shared_g, taps)
    labels = column_labels(tap_image, sources.ravel()).reshape(sources.shape).astype(np.int64)
    labels[weights == 0] = 0
    values = column_pixels(tap_image, sources.ravel()).reshape(*sources.shape, -1)
    contributions = values.astype(np.float64) * weights[:, :, None]  # (P, K, 28)
    same = (labels[:, :, None] == labels[:, None, :]) & (labels[:, :, None] > 0)
    totals = np.einsum("pkr,pkl->plr", contributions, same.astype(np.float64))
    totals[labels == 0] = -1.0
    best = totals.argmax(axis=1)  # (P, 28): the first maximum, so a tie goes to the left digit
    winners = np.take_along_axis(labels, best, axis=1).astype(np.uint8)
    return np.where(images[shared_g, :, shared_j] > INK_THRESHOLD, winners, 0).astype(np.uint8)
