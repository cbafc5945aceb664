"""COCO's run-length encoding of masks, in numpy: the compressed RLE strings of ``pycocotools.mask.encode``.

A mask of h x w pixels is read in column-major (Fortran) order, top to bottom, then left to right; its
RLE counts alternate between runs of 0 and runs of 1, starting with 0 (a count of 0 if the first pixel is
set), and add up to h * w. COCO's compressed form (maskApi.c, ``rleToString``) turns counts into ASCII:
from the fourth count on (index > 2) each is replaced by its difference from the count two before it,
and each value is written in 5-bit groups, least significant first, as ``chr(48 + group)`` with bit 0x20
set on every group but the last; the last group's bit 0x10 is the value's sign (two's complement over
the groups written). ``pycocotools.mask.encode(np.asfortranarray(mask))["counts"].decode()`` gives the
same strings byte for byte (the tests check it); pycocotools itself is not needed here.

Everything works on many masks at once, taken from **label maps**: uint8 images whose pixel k > 0 belongs
to object k (hng's digit masks, ``hng.core.masks``). ``encode_label_maps`` encodes, for a list of
(image, label) pairs, the mask ``label_map == label``, or with ``UNION`` the mask ``label_map > 0``
(hng's whole-number object). It never builds a mask per object: the counts come from where each image's
column-major pixel sequence changes label, so the cost is that of a few passes over the shard's masks.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

UNION = 0  # as an object's label: every labelled pixel (label > 0) of its image
_MAX_LABEL = 255
# Images per pass of encode_label_maps: its temporaries are about 3 bytes per pixel of a pass.
_CHUNK = 4096


def encode_label_maps(
    label_maps: np.ndarray,
    widths: np.ndarray,
    images: np.ndarray,
    labels: np.ndarray,
) -> tuple[list[str], np.ndarray]:
    """The compressed RLE counts of the masks of objects ``(images[m], labels[m])`` and their areas.

    ``label_maps`` is (N, H, W) uint8; image i is ``label_maps[i, :, :widths[i]]`` (pixels past its width
    must be 0). Object m is the mask ``label_map == labels[m]`` of image ``images[m]``, or its labelled
    pixels if ``labels[m]`` is ``UNION``. Returns each object's counts string (its RLE is ``{"size": [H,
    widths[images[m]]], "counts": string}``) and its area (pixels set), int64. ValueError if an object
    has no pixel: an object is something seen.
    """
    label_maps = np.asarray(label_maps)
    if label_maps.ndim != 3 or label_maps.dtype != np.uint8:
        raise ValueError(f"label_maps must be uint8 (N, H, W), got {label_maps.dtype} {label_maps.shape}")
    n, height, width = label_maps.shape
    widths = np.asarray(widths, dtype=np.int64)
    images = np.asarray(images, dtype=np.int64)
    labels = np.asarray(labels, dtype=np.int64)
    if widths.shape != (n,) or np.any(widths < 1) or np.any(widths > width):
        raise ValueError(f"widths must be {n} values in 1..{width}")
    if images.shape != labels.shape or images.ndim != 1:
        raise ValueError("images and labels must be 1-D arrays of the same length")
    if images.size and (
        images.min() < 0 or images.max() >= n or labels.min() < 0 or labels.max() > _MAX_LABEL
    ):
        raise ValueError(f"objects must name images in 0..{n - 1} and labels in 0..{_MAX_LABEL}")
    if np.unique(images * (_MAX_LABEL + 1) + labels).size != images.size:
        raise ValueError("an object (image, label) is listed twice")
    # Objects grouped by image, in order: each pass of images encodes a contiguous run of objects.
    order = np.argsort(images, kind="stable")
    strings: list[str] = [""] * images.size
    areas = np.zeros(images.size, dtype=np.int64)
    bounds = np.searchsorted(images[order], np.arange(0, n + _CHUNK, _CHUNK))
    for c, first in enumerate(range(0, n, _CHUNK)):
        picked = order[bounds[c] : bounds[c + 1]]
        if not picked.size:
            continue
        stop = min(first + _CHUNK, n)
        part, part_areas = _encode_chunk(
            label_maps[first:stop], widths[first:stop] * height, images[picked] - first, labels[picked]
        )
        areas[picked] = part_areas
        for m, text in zip(picked.tolist(), part, strict=True):
            strings[m] = text
    return strings, areas


def _encode_chunk(
    label_maps: np.ndarray, sizes: np.ndarray, images: np.ndarray, labels: np.ndarray
) -> tuple[list[str], np.ndarray]:
    n, height, width = label_maps.shape
    length = height * width
    # Each image's pixels in column-major order: row i's first sizes[i] entries (then its zero padding).
    flat = np.ascontiguousarray(label_maps.transpose(0, 2, 1)).reshape(n, length)
    change = np.empty((n, length), dtype=bool)
    np.not_equal(flat[:, 0], 0, out=change[:, 0])
    np.not_equal(flat[:, 1:], flat[:, :-1], out=change[:, 1:])
    if np.any(sizes < length):  # the padding past narrower images: 0s, but no change to count there
        change &= np.arange(length)[None, :] < sizes[:, None]
    where = np.flatnonzero(change)
    image = where // length
    pixels = flat.ravel()
    after = pixels[where].astype(np.int64)
    before = np.where(where % length > 0, pixels[where - 1], 0).astype(np.int64)

    # Where a pixel's label changes from `before` to `after`, the mask of `before` ends and that of
    # `after` starts; the union's mask changes only between background and ink.
    objects = np.full(n * (_MAX_LABEL + 1), -1, dtype=np.int64)
    objects[images * (_MAX_LABEL + 1) + labels] = np.arange(images.size)
    slot = image * (_MAX_LABEL + 1)
    groups = []
    if np.any(labels != UNION):
        groups += [
            np.where(before > 0, objects[slot + before], -1),
            np.where(after > 0, objects[slot + after], -1),
        ]
    if np.any(labels == UNION):
        groups.append(np.where((before > 0) != (after > 0), objects[slot + UNION], -1))
    event_object = np.concatenate(groups)
    event_position = np.tile(where - image * length, len(groups))
    kept = event_object >= 0
    # Ordered by object, then position. Each group is already in position order and objects mostly
    # follow one another (digits lie left to right): a stable sort (timsort) finds those runs.
    keys = np.sort(event_object[kept] * (length + 1) + event_position[kept], kind="stable")
    event_object, event_position = np.divmod(keys, length + 1)

    count = images.size
    events = np.bincount(event_object, minlength=count)
    if np.any(events == 0):
        m = int(np.argmin(events))
        raise ValueError(f"object {m} (label {int(labels[m])} of image {int(images[m])}) has no pixel")
    # Object m's counts: its change positions p1 < ... < pe as run lengths [p1, p2 - p1, ..., size - pe].
    first_event = np.cumsum(events) - events
    previous = np.empty_like(event_position)
    previous[1:] = event_position[:-1]
    previous[first_event] = 0
    counts = np.empty(event_position.size + count, dtype=np.int64)
    counts[np.arange(event_position.size) + event_object] = event_position - previous
    last = first_event + events - 1
    counts[last + 1 + np.arange(count)] = sizes[images] - event_position[last]
    starts = first_event + np.arange(count)  # object m's: counts[starts[m] : starts[m] + events[m] + 1]
    runs = events + 1
    index = np.arange(counts.size) - np.repeat(starts, runs)
    areas = np.bincount(np.repeat(np.arange(count), runs), weights=counts * (index % 2), minlength=count)
    return _to_strings(counts, index, starts, runs), areas.astype(np.int64)


def _to_strings(counts: np.ndarray, index: np.ndarray, starts: np.ndarray, runs: np.ndarray) -> list[str]:
    """maskApi.c's rleToString, for every object at once (``index``: each count's place in its object)."""
    values = counts.copy()
    later = np.flatnonzero(index > 2)
    values[later] -= counts[later - 2]
    chars = np.ones(values.size, dtype=np.int64)
    for groups in range(1, 13):  # 5-bit groups: a value needs n when it fits in 5n signed bits
        bound = 1 << (5 * groups - 1)
        chars += (values >= bound) | (values < -bound)
    owner = np.repeat(np.arange(values.size), chars)
    group = np.arange(owner.size) - np.repeat(np.cumsum(chars) - chars, chars)
    digits = (values[owner] >> (5 * group)) & 0x1F
    digits |= (group < chars[owner] - 1) * 0x20
    text = (digits + 48).astype(np.uint8).tobytes().decode("ascii")
    ends = np.cumsum(np.add.reduceat(chars, starts))
    begins = ends - np.add.reduceat(chars, starts)
    return [text[b:e] for b, e in zip(begins.tolist(), ends.tolist(), strict=True)]


def encode_mask(mask: np.ndarray) -> str:
    """The compressed RLE counts of one 2-D mask (nonzero pixels set; it may be empty)."""
    mask = np.asarray(mask)
    if mask.ndim != 2 or mask.size == 0:
        raise ValueError(f"mask must be a non-empty 2-D array, got shape {mask.shape}")
    if not mask.any():
        return compress_counts([mask.size])
    label_map = (mask != 0).astype(np.uint8)[None]
    strings, _ = encode_label_maps(label_map, np.array([mask.shape[1]]), np.array([0]), np.array([UNION]))
    return strings[0]


def compress_counts(counts: Sequence[int]) -> str:
    """The compressed string of RLE ``counts`` given as numbers (COCO's uncompressed form)."""
    values = np.asarray(counts, dtype=np.int64)
    if values.ndim != 1 or values.size == 0 or np.any(values < 0):
        raise ValueError("counts must be a non-empty list of non-negative run lengths")
    return _to_strings(values, np.arange(values.size), np.array([0]), np.array([values.size]))[0]


def decode_counts(strings: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """The run lengths of compressed RLE strings (maskApi.c's rleFrString, for all at once).

    Returns ``(counts, offsets)``: string s's counts are ``counts[offsets[s] : offsets[s + 1]]``. ValueError
    if a string is not a compressed RLE (a character outside '0'..'o', a value cut short, a negative count).
    """
    lengths = np.array([len(s) for s in strings], dtype=np.int64)
    if np.any(lengths == 0):
        raise ValueError("an RLE string is empty")
    try:
        raw = np.frombuffer("".join(strings).encode("ascii"), dtype=np.uint8)
    except UnicodeEncodeError:
        raise ValueError("an RLE string holds a non-ASCII character") from None
    if np.any((raw < 48) | (raw > 111)):
        raise ValueError("an RLE string holds a character outside '0'..'o'")
    data = raw - np.uint8(48)
    string_end = np.cumsum(lengths) - 1
    more = (data & 0x20) != 0
    if np.any(more[string_end]):
        raise ValueError("an RLE string ends inside a value")
    ends = np.flatnonzero(~more)  # the last character of each value
    begins = np.empty_like(ends)
    begins[:1] = 0
    begins[1:] = ends[:-1] + 1
    size = ends - begins + 1
    if np.any(size > 12):
        raise ValueError("an RLE string holds a value too large for a count")
    # Most values take one character or two: gather group g of every value that has one.
    values = (data[begins] & 0x1F).astype(np.int64)
    longer = np.flatnonzero(size > 1)
    for g in range(1, int(size.max(initial=1))):
        longer = longer[size[longer] > g]
        values[longer] |= (data[begins[longer] + g] & 0x1F).astype(np.int64) << (5 * g)
    negative = np.flatnonzero(data[ends] & 0x10)
    values[negative] -= np.int64(1) << (5 * size[negative])
    # Values per string, and each value's place in its string.
    per_string = np.diff(np.searchsorted(ends, string_end, side="right"), prepend=0)
    offsets = np.concatenate([[0], np.cumsum(per_string)])
    index = np.arange(values.size) - np.repeat(offsets[:-1], per_string)
    # Undo the deltas: from index 3 on, count[i] = value[i] + count[i - 2]: a running sum per string
    # over its odd indices (from 1) and over its even ones from 2 (index 0 stands alone).
    owner = np.repeat(np.arange(per_string.size), per_string)
    counts = values.copy()
    for chain in (np.flatnonzero(index % 2 == 1), np.flatnonzero((index % 2 == 0) & (index >= 2))):
        part = values[chain]
        sums = np.cumsum(part)
        head = np.ones(chain.size, dtype=bool)
        head[1:] = owner[chain[1:]] != owner[chain[:-1]]
        counts[chain] = sums - (sums[head] - part[head])[np.cumsum(head) - 1]
    if np.any(counts < 0):
        raise ValueError("an RLE string decodes to a negative run length")
    return counts, offsets


def paint_label_maps(
    shape: tuple[int, int, int],
    counts: np.ndarray,
    offsets: np.ndarray,
    images: np.ndarray,
    labels: np.ndarray,
    widths: np.ndarray,
) -> np.ndarray:
    """Label maps (N, H, W) uint8 from decoded RLEs: RLE s (``counts[offsets[s]:offsets[s + 1]]``, a mask
    of H x widths[images[s]] pixels) paints ``labels[s]`` (1..255) into image ``images[s]``.

    ValueError if an RLE does not cover its image's pixels exactly or two RLEs of an image share a pixel.
    """
    n, height, width = shape
    images = np.asarray(images, dtype=np.int64)
    labels = np.asarray(labels, dtype=np.int64)
    offsets = np.asarray(offsets, dtype=np.int64)
    if images.size and (labels.min() < 1 or labels.max() > _MAX_LABEL):
        raise ValueError(f"labels must lie in 1..{_MAX_LABEL}")
    per_string = np.diff(offsets)
    if np.any(per_string < 1):
        raise ValueError("an RLE has no counts")
    owner = np.repeat(np.arange(per_string.size), per_string)
    index = np.arange(counts.size) - np.repeat(offsets[:-1], per_string)
    # Each run's end within its own mask: a running sum that restarts at each RLE.
    ends = np.cumsum(counts)
    ends -= np.repeat(ends[offsets[:-1]] - counts[offsets[:-1]], per_string)
    totals = ends[offsets[1:] - 1]
    expected = height * np.asarray(widths, dtype=np.int64)[images]
    if np.any(totals != expected):
        s = int(np.flatnonzero(totals != expected)[0])
        raise ValueError(f"RLE {s} covers {int(totals[s])} pixels, not its image's {int(expected[s])}")
    ones = index % 2 == 1
    stop = ends[ones]
    start = stop - counts[ones]
    image = images[owner[ones]]
    label = labels[owner[ones]]
    # A label where each run starts and its negative where it stops, summed along each image's pixels
    # (column-major, as RLE counts them): the label inside runs, 0 outside.
    length = height * width
    steps = np.zeros((n, length + 1), dtype=np.int16)
    np.add.at(steps, (image, start), label.astype(np.int16))
    np.add.at(steps, (image, stop), (-label).astype(np.int16))
    flat = np.cumsum(steps, axis=1, dtype=np.int16)[:, :length]
    # Labels are positive: two runs over one pixel leave fewer labelled pixels than the runs hold.
    if np.count_nonzero(flat) != int(counts[ones].sum()) or flat.max(initial=0) > _MAX_LABEL:
        raise ValueError("two RLE masks of one image share a pixel")
    return np.ascontiguousarray(flat.reshape(n, width, height).transpose(0, 2, 1)).astype(np.uint8)


__all__ = [
    "UNION",
    "compress_counts",
    "decode_counts",
    "encode_label_maps",
    "encode_mask",
    "paint_label_maps",
]
