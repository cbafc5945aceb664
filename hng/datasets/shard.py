"""One shard of a dataset: the arrays every format writes, and how shard k is made from the plan."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from hng.core.encoding import DEFAULT_JPEG_QUALITY, SUFFIXES, encode_image, jpeg_quality_for
from hng.core.seeding import child_seed, new_rng

if TYPE_CHECKING:
    from hng.core.generation import Generator
    from hng.datasets.spec import DatasetSpec

# Entries of `boxes` and `indices` past a label's length.
PAD = -1


@dataclass(frozen=True, eq=False)
class Shard:
    """The images of shard ``index`` and their labels, as arrays (what the npz format stores as is).

    Image i is ``images[i, :, :widths[i]]``; columns past its width are 0. Rows of ``boxes`` and
    ``indices`` past ``lengths[i]`` hold ``PAD``.
    """

    index: int  # k: the shard's place in the plan
    start: int  # the dataset-wide index of its first image
    images: np.ndarray  # (N, H, W) grey or (N, H, W, 3) RGB uint8, W = the widest image of the shard
    widths: np.ndarray  # (N,) int32
    labels: np.ndarray  # (N,) '<U{longest}' (the shard's longest label), never an object array
    lengths: np.ndarray  # (N,) int32: digits of each label
    boxes: np.ndarray  # (N, longest, 4) int32 rows x0, y0, x1, y1 (half-open pixel ranges)
    seeds: np.ndarray  # (N,) int64: hng.generate(label, seed=seeds[i], ...) makes image i again
    indices: np.ndarray  # (N, longest) int32: the MNIST sample of each digit in `split`
    split: str
    # (N, H, W) uint8 label maps (hng.core.masks): 0 background, k the k-th digit; 0 past each width.
    masks: np.ndarray | None = None
    # How the formats that store image files encode them (hng.core.encoding): png, or jpeg with a quality
    # drawn per image from this range by its seed.
    encoding: str = "png"
    jpeg_quality: tuple[int, int] = DEFAULT_JPEG_QUALITY
    redrawn: int = 0  # verify_labels: digits drawn again, and digits still not read as their label
    unread: int = 0

    @property
    def height(self) -> int:
        return int(self.images.shape[1])

    @property
    def channels(self) -> int:
        """1 for grey images (N, H, W), 3 for RGB ones (N, H, W, 3)."""
        return 3 if self.images.ndim == 4 else 1

    @property
    def image_suffix(self) -> str:
        """The file suffix of its encoded images: ".png" or ".jpg"."""
        return SUFFIXES[self.encoding]

    def encoded_image(self, i: int) -> bytes:
        """Image i as the file the formats store (PNG, or JPEG of its drawn quality)."""
        image = np.ascontiguousarray(self.image(i))
        if self.encoding == "png":
            return encode_image(image)
        return encode_image(image, self.encoding, jpeg_quality_for(int(self.seeds[i]), self.jpeg_quality))

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def key(self, i: int) -> str:
        """The image's dataset-wide key: its index, zero-padded to 9 digits (sorts as it counts)."""
        return f"{self.start + i:09d}"

    def image(self, i: int) -> np.ndarray:
        return self.images[i, :, : int(self.widths[i])]

    def mask(self, i: int) -> np.ndarray:
        """Image i's mask; ValueError if the shard has none."""
        if self.masks is None:
            raise ValueError(f"shard {self.index} holds no masks")
        return self.masks[i, :, : int(self.widths[i])]

    def take(self, rows: Any) -> Shard:
        """The images ``rows`` as a Shard of their own, trimmed to its widest image (its ``key(i)`` no
        longer applies: a sample, not a shard of the plan)."""
        rows = np.asarray(rows, dtype=np.int64)
        widths = self.widths[rows]
        return Shard(
            index=self.index,
            start=self.start,
            images=self.images[rows][:, :, : int(widths.max())],
            widths=widths,
            labels=self.labels[rows],
            lengths=self.lengths[rows],
            boxes=self.boxes[rows],
            seeds=self.seeds[rows],
            indices=self.indices[rows],
            split=self.split,
            masks=None if self.masks is None else self.masks[rows][:, :, : int(widths.max())],
            encoding=self.encoding,
            jpeg_quality=self.jpeg_quality,
        )

    def record(self, i: int) -> dict[str, Any]:
        """Everything about image i but its pixels, JSON-ready (webdataset's .json, imagefolder's rows)."""
        n = int(self.lengths[i])
        return {
            "key": self.key(i),
            "label": str(self.labels[i]),
            "width": int(self.widths[i]),
            "boxes": self.boxes[i, :n].tolist(),
            "seed": int(self.seeds[i]),
            "indices": self.indices[i, :n].tolist(),
            "split": self.split,
        }


def shard_bounds(spec: DatasetSpec, k: int) -> tuple[int, int]:
    """[start, stop): the dataset-wide indices of shard k's images."""
    if not 0 <= k < spec.num_shards:
        raise ValueError(f"shard index must be in 0-{spec.num_shards - 1}, got {k}")
    start = k * spec.shard_size
    return start, min(start + spec.shard_size, spec.count)


def shard_seed(spec: DatasetSpec, k: int) -> int:
    """Shard k's seed: derived from the dataset seed and k only, so no worker count or retry changes it."""
    if spec.seed is None:
        raise AssertionError("hng bug: spec.seed is unset")
    return child_seed(spec.seed, k)


def draw_labels(spec: DatasetSpec, start: int, count: int, rng: np.random.Generator) -> np.ndarray:
    """The labels of images start..start+count-1, as '<U{longest}'.

    Random numbers: each image's length uniform over the range, then each digit uniform (leading zeros
    allowed), drawn as one (count, longest) table of which each row keeps its first `length` digits.
    Explicit numbers: ``cycle`` gives image i ``numbers[i % len]``; ``sample`` draws with replacement.
    """
    longest = spec.lengths[1]
    if spec.numbers is not None:
        table = np.array(spec.numbers, dtype=f"<U{longest}")
        if spec.numbers_mode == "cycle":
            picks = (start + np.arange(count)) % len(table)
        else:
            picks = rng.integers(0, len(table), count)
        return table[picks]
    if spec.digits is None:
        raise AssertionError("hng bug: spec.digits is unset")
    low, high = spec.digits
    lengths = np.full(count, high) if low == high else rng.integers(low, high + 1, count)
    codes = rng.integers(0, 10, (count, high), dtype=np.uint32) + np.uint32(ord("0"))
    codes[np.arange(high)[None, :] >= lengths[:, None]] = 0  # numpy's unicode strings end at a NUL
    return codes.view(f"<U{high}").ravel()


class ImageBuffer:
    """One images array kept for the next shard of the same shape (``make_shard(..., buffer=)``).

    Memory a process has not touched lately is expensive on virtual machines that hand freed pages back
    to the host (measured here: about 1 s of CPU per 345 MB, a 10,000-image RGB shard at height 48, a
    third of making it): a worker making shard after shard writes each into the same pages instead. The
    shard made last is only valid until the next one is made into the buffer.
    """

    def __init__(self) -> None:
        self._array: np.ndarray | None = None

    def get(self, shape: tuple[int, ...]) -> np.ndarray:
        if self._array is None or self._array.shape != shape:
            self._array = None  # the old one freed before the new one is made
            self._array = np.empty(shape, dtype=np.uint8)
        return self._array


@dataclass(frozen=True, eq=False)
class ShardInputs:
    """What shard k's images are made from, drawn from the shard's seed before any image: its labels,
    one seed per image and the widths. Cheap (no image), and the same wherever it is computed."""

    index: int
    start: int
    labels: np.ndarray  # (N,) '<U{longest}'
    seeds: np.ndarray  # (N,) int64
    lengths: np.ndarray  # (N,) int32
    widths: np.ndarray  # (N,) int64: each image's width

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def images_shape(self, spec: DatasetSpec) -> tuple[int, ...]:
        """The shape of the shard's images array: (N, height, widest[, 3])."""
        return (len(self), spec.height, int(self.widths.max())) + ((3,) if spec.channels == 3 else ())


@dataclass(frozen=True, eq=False)
class ShardPart:
    """Images ``first``..``stop`` - 1 of a shard, made (their pixels and masks went into the shard's
    arrays): what is left of them to assemble the shard."""

    first: int
    stop: int
    boxes: np.ndarray  # (n, longest digits of these images, 4) int32: x0, y0, x1, y1
    indices: np.ndarray  # (n, that longest) int32
    redrawn: int
    unread: int


def shard_inputs(spec: DatasetSpec, k: int) -> ShardInputs:
    """Shard k's labels, per-image seeds and widths (``make_shard``'s first step)."""
    start, stop = shard_bounds(spec, k)
    count = stop - start
    rng = new_rng(shard_seed(spec, k))
    labels = draw_labels(spec, start, count, rng)
    seeds = rng.integers(0, 1 << 53, count, dtype=np.int64)  # below 2**53: exact in any JSON reader
    lengths = np.char.str_len(labels).astype(np.int32)
    if spec.width_per_digit is not None:
        widths = lengths.astype(np.int64) * spec.width_per_digit
    else:
        if spec.image_width is None:
            raise AssertionError("hng bug: spec.image_width is unset")
        widths = np.full(count, spec.image_width, dtype=np.int64)
    return ShardInputs(k, start, labels, seeds, lengths, widths)


def make_part(
    spec: DatasetSpec,
    inputs: ShardInputs,
    first: int,
    stop: int,
    generator: Generator,
    images: np.ndarray,
    masks: np.ndarray | None = None,
) -> ShardPart:
    """Make images ``first``..``stop`` - 1 of the shard into rows ``first:stop`` of its ``images``
    array (and their masks into ``masks``, if given): the same pixels as the whole shard made at once,
    since every image is made from its own seed."""
    rows = slice(first, stop)
    widths = inputs.widths[rows]
    part_shape = (stop - first, *images.shape[1:2], int(widths.max()), *images.shape[3:])
    fits = part_shape == images[rows].shape  # the part's widest image is the shard's: made in place
    batch = generator.generate_batch(
        inputs.labels[rows].tolist(),
        image_width=widths if spec.width_per_digit is not None else int(widths[0]),
        spacing_range=(spec.spacing_min, spec.spacing_max),
        augment=None if spec.preset == "none" else spec.preset,
        split=spec.split,
        fit=spec.fit,
        seeds=inputs.seeds[rows],
        masks=masks is not None,
        verify_labels=spec.verify_labels,
        out=images[rows] if fits else None,
        **spec.document_options,
    )
    width = part_shape[2]
    if not fits:
        images[rows, :, :width] = batch.images
        images[rows, :, width:] = 0
    if masks is not None:
        if batch.masks is None:
            raise AssertionError("hng bug: batch.masks is unset")
        masks[rows, :, :width] = batch.masks
        masks[rows, :, width:] = 0
    lengths = inputs.lengths[rows]
    longest = int(lengths.max())
    image_of_digit = np.repeat(np.arange(stop - first), lengths)
    position = np.arange(image_of_digit.size) - np.repeat(batch.digit_offsets[:-1], lengths)
    boxes = np.full((stop - first, longest, 4), PAD, dtype=np.int32)
    boxes[image_of_digit, position] = batch.boxes[:, 1:]
    indices = np.full((stop - first, longest), PAD, dtype=np.int32)
    indices[image_of_digit, position] = batch.indices
    return ShardPart(first, stop, boxes, indices, batch.redrawn, batch.unread)


def assemble_shard(
    spec: DatasetSpec,
    inputs: ShardInputs,
    images: np.ndarray,
    masks: np.ndarray | None,
    parts: Sequence[ShardPart],
) -> Shard:
    """The Shard of ``inputs`` whose images (and masks) ``parts`` made into ``images`` (and ``masks``);
    the parts must cover every image once."""
    ordered = sorted(parts, key=lambda part: part.first)
    covered = [(part.first, part.stop) for part in ordered]
    if (
        not covered
        or covered[0][0] != 0
        or covered[-1][1] != len(inputs)
        or any(a[1] != b[0] for a, b in itertools.pairwise(covered))
    ):
        raise ValueError(
            f"the parts of shard {inputs.index} do not cover its {len(inputs)} images: {covered}"
        )
    longest = int(inputs.lengths.max())  # of this shard: a small shard of a 3-8 spec may stop short of 8
    boxes = np.full((len(inputs), longest, 4), PAD, dtype=np.int32)
    indices = np.full((len(inputs), longest), PAD, dtype=np.int32)
    for part in ordered:
        boxes[part.first : part.stop, : part.boxes.shape[1]] = part.boxes
        indices[part.first : part.stop, : part.indices.shape[1]] = part.indices
    return Shard(
        index=inputs.index,
        start=inputs.start,
        images=images,
        widths=inputs.widths.astype(np.int32),
        labels=inputs.labels.astype(f"<U{longest}"),
        lengths=inputs.lengths,
        boxes=boxes,
        seeds=inputs.seeds,
        indices=indices,
        split=spec.split,
        masks=masks,
        encoding=spec.image_encoding,
        jpeg_quality=spec.jpeg_quality,
        redrawn=sum(part.redrawn for part in ordered),
        unread=sum(part.unread for part in ordered),
    )


def make_shard(
    spec: DatasetSpec, k: int, generator: Generator, *, masks: bool = False, buffer: ImageBuffer | None = None
) -> Shard:
    """Shard k of the dataset: its bytes depend only on the spec (seed included), k, the MNIST data and
    hng's version (with the numpy/OpenCV/albumentations it runs on). ``masks`` adds the digits' masks
    (the format's ``masks`` says whether it stores or uses them); they never change the images. With
    ``buffer`` the images are made into its array (the previous shard's images are then overwritten)."""
    inputs = shard_inputs(spec, k)
    shape = inputs.images_shape(spec)
    images = buffer.get(shape) if buffer is not None else np.empty(shape, dtype=np.uint8)
    mask_array = np.empty(shape[:3], dtype=np.uint8) if masks else None
    part = make_part(spec, inputs, 0, len(inputs), generator, images, mask_array)
    return assemble_shard(spec, inputs, images, mask_array, [part])
