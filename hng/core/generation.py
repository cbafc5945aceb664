"""Generation: draw MNIST samples and gaps from the request's seed, augment, compose, resample.

Draw order, shared by single and batched generation so that ``generate_batch([n], seed=s)[0]`` equals
``generate(n, seed=s)``: each image consumes 2 × len(number) uniform draws, first one per digit (which
sample), then one per gap, then one that seeds the augmentation stream (drawn even without augmentation).
"""

from __future__ import annotations

import itertools
import os
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np

from hng.core.compose import (
    HEIGHT,
    MARGIN,
    lay_out,
    pad_columns,
    resample_columns,
    scale_span,
    scale_spans,
)
from hng.core.masks import INK_THRESHOLD, label_digits, shared_winners
from hng.core.params import (
    DEFAULT_SPACING_RANGE,
    MAX_DIGITS,
    MAX_IMAGE_WIDTH,
    parse_fit,
    parse_flag,
    parse_image_width,
    parse_number,
    parse_seed,
    parse_spacing_range,
    parse_split,
)
from hng.core.result import DigitBox, GeneratedBatch, GeneratedNumber
from hng.core.seeding import (
    MAX_SEED,
    child_seed,
    derive_seed,
    document_seed,
    document_seeds,
    new_rng,
    new_seed,
    seeded_uniforms,
    thread_rng,
)
from hng.document.options import DEFAULT_HEIGHT, Appearance, parse_appearance
from hng.errors import InvalidInput, InvalidType
from hng.mnist.load import MnistData, MnistSplit, load_mnist

if TYPE_CHECKING:
    from hng.augment.augmenter import Augmenter
    from hng.document.stage import DocumentStage

MAX_BATCH_SIZE = 100_000
# verify_labels: a digit the reader does not read as its label is drawn again at most this many times.
MAX_REDRAWS = 10
# Sub-streams of an image's augmentation seed: the redraws of its digit j (samples, then augmentations).
_REDRAW_SAMPLES = 0x5244_0000
_REDRAW_AUGMENTS = 0x5241_0000
_RECHECK_SAMPLES = 0x5243_0000
# Plain batches are composed this many images at a time, to bound the intermediate arrays.
_BATCH_CHUNK = 2048
_PLACE_CHUNK = 128  # images through the document stage at once


def resolve_augment(augment: Any) -> Augmenter | None:
    """None for no augmentation; albumentations is imported only when augmentation is asked for.

    Accepts None/False/"none" (off), True (the "mild" preset), a preset name, an ``Augmenter``, or an
    albumentations transform or Compose.
    """
    if augment is None or augment is False or augment == "none":
        return None
    if isinstance(augment, int | float) and not isinstance(augment, bool):
        raise TypeError(
            f"augment must be a bool, a preset name or an albumentations pipeline, got {augment!r}"
        )
    from hng.augment.augmenter import get_augmenter

    return get_augmenter("mild" if augment is True else augment)


def resolve_appearance(
    style: Any = "mnist",
    ink: Any = None,
    background: Any = None,
    rotate: Any = None,
    shear: Any = None,
    perspective: Any = None,
    elastic: Any = None,
    height: Any = DEFAULT_HEIGHT,
    channels: Any = None,
    stroke: Any = "natural",
) -> Appearance | None:
    """The document options (``hng.document.options``), or None when they change nothing."""
    if (
        (type(style) is str and style == "mnist")
        and ink is None
        and background is None
        and rotate is None
        and shear is None
        and perspective is None
        and elastic is None
        and (type(height) is int and height == DEFAULT_HEIGHT)
        and (channels is None or (type(channels) is int and channels == 1))
        and (type(stroke) is str and stroke == "natural")
    ):
        return None  # the common case, without building an Appearance
    look = parse_appearance(
        style=style,
        ink=ink,
        background=background,
        rotate=rotate,
        shear=shear,
        perspective=perspective,
        elastic=elastic,
        height=height,
        channels=channels,
        stroke=stroke,
    )
    return None if look.is_default else look


def _stage(look: Appearance | None) -> DocumentStage | None:
    if look is None:
        return None
    from hng.document.stage import get_stage

    return get_stage(look)


def _draw_index(pool: MnistSplit, digit: int, unit: float) -> int:
    samples = pool.by_digit[digit]
    count = len(samples)
    # min(): unit * count can round up to count when unit is within one ulp of 1.
    return samples[min(int(unit * count), count - 1)]


class Generator:
    """Generates number images from one MNIST data set (loaded on first use)."""

    def __init__(self, data: MnistData | str | os.PathLike | None = None) -> None:
        self._data = data if isinstance(data, MnistData) else None
        self._path = None if isinstance(data, MnistData) else data
        self._load_lock = threading.Lock()

    @property
    def data(self) -> MnistData:
        if self._data is None:
            with self._load_lock:
                if self._data is None:
                    self._data = load_mnist(self._path)
        return self._data

    def generate(
        self,
        number: int | str | Sequence[int],
        *,
        spacing_range: tuple[int, int] = DEFAULT_SPACING_RANGE,
        image_width: int | None = None,
        augment: Any = None,
        seed: int | None = None,
        split: str = "train",
        fit: str = "stretch",
        masks: bool = False,
        style: Any = "mnist",
        ink: str | None = None,
        background: str | None = None,
        rotate: Any = None,
        shear: Any = None,
        perspective: Any = None,
        elastic: Any = None,
        height: int = DEFAULT_HEIGHT,
        channels: int | None = None,
        stroke: str = "natural",
        verify_labels: bool = False,
    ) -> GeneratedNumber:
        """One image of ``number``; see the module docstring for how ``seed`` determines it.

        ``fit`` says how the strip meets ``image_width``: ``stretch`` resizes it to the width; ``pad`` keeps
        its pixels and pads it with black on the right, squeezing it only when it is wider. ``masks``
        adds the per-digit label map (``result.mask``, see ``hng.core.masks``); it never changes the image.

        The document options (``style``, ``ink``, ``background``, the geometry ranges ``rotate``,
        ``shear``, ``perspective``, ``elastic``, ``height``, ``channels``, ``stroke``; see
        ``hng.document.options``) ink, warp and size the composed number; at their defaults the image is
        today's 28-row white-on-black strip. ``image_width`` is then the width at ``height``.

        ``verify_labels`` reads every digit back in the finished image, cut out by its box as the report's
        label fidelity cuts it (``hng.quality.verify``: a reader fitted on the other MNIST split), and draws
        a digit it does not read as its label again, from its own seeded stream, up to ``MAX_REDRAWS``
        times; ``result.redrawn`` and ``result.unread`` count.
        """
        label = parse_number(number)
        # The default range is known to be valid: skipping its check is a twentieth of a plain image.
        if spacing_range is DEFAULT_SPACING_RANGE:
            low, high = spacing_range
        else:
            low, high = parse_spacing_range(spacing_range)
        width = parse_image_width(image_width)
        seed = parse_seed(seed)
        seed = new_seed() if seed is None else seed
        split = parse_split(split)
        fit = parse_fit(fit)
        augmenter = resolve_augment(augment)
        with_mask = parse_flag(masks, "masks")
        look = resolve_appearance(
            style, ink, background, rotate, shear, perspective, elastic, height, channels, stroke
        )
        stage = _stage(look)
        verify = parse_flag(verify_labels, "verify_labels")
        pool = self.data.split(split)
        checker = _Checker(self.data, split, pool, augmenter) if verify else None

        n = len(label)
        draws = thread_rng(seed).random(2 * n).tolist()
        digits = [ord(c) - 48 for c in label]
        indices = [_draw_index(pool, d, u) for d, u in zip(digits, draws, strict=False)]
        gaps = [low + int(u * (high - low + 1)) for u in draws[n : 2 * n - 1]]
        aug_seed = derive_seed(draws[-1])
        uniform = look is not None and look.stroke == "uniform"
        if checker is not None and augmenter is None:
            checker.redraw_plain(indices, digits, aug_seed)
        if augmenter is None and not uniform and checker is None:
            crops, rows = [], []
            images, bounds = pool.images, pool.ink_bounds_list
            for k in indices:
                x0, x1, y0, y1 = bounds[k]
                crops.append(images[k, :, x0:x1])
                rows.append((y0, y1))
            image, boxes, mask = _compose_and_place(
                crops, rows, gaps, digits, width, fit, stage, with_mask, aug_seed
            )
        else:
            image, boxes, mask = _finish_number(
                pool,
                indices,
                digits,
                gaps,
                aug_seed,
                augmenter,
                uniform,
                checker,
                width,
                fit,
                stage,
                with_mask,
            )
        return GeneratedNumber(
            image=image,
            label=label,
            boxes=boxes,
            gaps=tuple(gaps),
            indices=tuple(indices),
            seed=seed,
            split=split,
            augment="none" if augmenter is None else augmenter.name,
            spacing_range=(low, high),
            mask=mask,
            appearance=look,
            redrawn=0 if checker is None else checker.redrawn,
            unread=0 if checker is None else checker.unread,
        )

    def generate_batch(
        self,
        numbers: Sequence[int | str | Sequence[int]],
        *,
        image_width: int | Sequence[int] | np.ndarray,
        spacing_range: tuple[int, int] = DEFAULT_SPACING_RANGE,
        augment: Any = None,
        seed: int | None = None,
        split: str = "train",
        fit: str = "stretch",
        seeds: Sequence[int] | np.ndarray | None = None,
        masks: bool = False,
        style: Any = "mnist",
        ink: str | None = None,
        background: str | None = None,
        rotate: Any = None,
        shear: Any = None,
        perspective: Any = None,
        elastic: Any = None,
        height: int = DEFAULT_HEIGHT,
        channels: int | None = None,
        stroke: str = "natural",
        verify_labels: bool = False,
        out: np.ndarray | None = None,
    ) -> GeneratedBatch:
        """Many images at once; plain images are composed with vectorised numpy.

        ``image_width`` is one width for all, or one per number: images are then stacked padded with black
        to the widest (``batch.widths`` holds each width). ``seed`` draws the whole batch from one stream;
        ``seeds`` instead gives each image its own seed, so that ``generate(numbers[i], seed=seeds[i], ...)``
        makes image i again, byte for byte. ``masks`` adds ``batch.masks``, one label map per image. The
        document options are ``generate``'s. ``out``: an array the images are written into (and returned
        as ``batch.images``), uint8 of the batch's shape, C-contiguous: a buffer reused from batch to batch
        saves touching new memory, which costs as much as making a plain image on some virtual machines.
        """
        if isinstance(numbers, str | bytes) or not isinstance(numbers, Sequence | np.ndarray):
            raise TypeError(f"numbers must be a list of numbers, got {type(numbers).__name__}")
        if len(numbers) == 0:
            raise ValueError("numbers must not be empty")
        if len(numbers) > MAX_BATCH_SIZE:
            raise ValueError(f"numbers may hold at most {MAX_BATCH_SIZE} entries, got {len(numbers)}")
        labels = tuple(
            # Digit strings skip the general parser: it is a tenth of the cost of a plain batched image.
            number
            if type(number) is str and number.isascii() and number.isdigit() and len(number) <= MAX_DIGITS
            else parse_number(number, f"numbers[{i}]")
            for i, number in enumerate(numbers.tolist() if isinstance(numbers, np.ndarray) else numbers)
        )
        low, high = parse_spacing_range(spacing_range)
        widths = _parse_widths(image_width, len(labels))
        seed = parse_seed(seed)
        per_image_seeds = _parse_seeds(seeds, len(labels), seed)
        if per_image_seeds is None and seed is None:
            seed = new_seed()
        split = parse_split(split)
        fit = parse_fit(fit)
        augmenter = resolve_augment(augment)
        with_masks = parse_flag(masks, "masks")
        look = resolve_appearance(
            style, ink, background, rotate, shear, perspective, elastic, height, channels, stroke
        )
        stage = _stage(look)
        uniform = look is not None and look.stroke == "uniform"
        verify = parse_flag(verify_labels, "verify_labels")
        pool = self.data.split(split)
        checker = _Checker(self.data, split, pool, augmenter) if verify else None
        # With a document stage the strips are composed at MNIST scale, then placed at the output size.
        out_widths = widths
        if stage is not None:
            widths = np.array([stage.composed_width(int(w)) for w in widths.tolist()], dtype=np.int64)

        lengths = np.array([len(label) for label in labels], dtype=np.int64)
        digits = np.frombuffer("".join(labels).encode("ascii"), dtype=np.uint8).astype(np.int64) - 48
        digit_offsets = np.concatenate([[0], np.cumsum(lengths)])
        image_of_digit = np.repeat(np.arange(len(labels)), lengths)
        position = np.arange(digits.size) - digit_offsets[image_of_digit]
        if per_image_seeds is None:
            if seed is None:
                raise AssertionError("hng bug: seed is unset (drawn above when neither was given)")
            draws = new_rng(seed).random(int(2 * lengths.sum()))
            draw_base = 2 * digit_offsets[image_of_digit]
        else:
            # Image i's draws are the first 2 * len(label) of its own stream: rows of one table.
            table_width = 2 * int(lengths.max())
            draws = seeded_uniforms(per_image_seeds, table_width).ravel()
            draw_base = image_of_digit * table_width
        counts = pool.digit_counts[digits]
        picks = np.minimum((draws[draw_base + position] * counts).astype(np.int64), counts - 1)
        indices = pool.order[pool.digit_starts[digits] + picks]
        is_last = position == lengths[image_of_digit] - 1
        gap_draws = draws[np.where(is_last, 0, draw_base + lengths[image_of_digit] + position)]
        gaps = np.where(is_last, 0, low + (gap_draws * (high - low + 1)).astype(np.int64))
        # Each image's augmentation seed: its last draw (drawn whether or not it is augmented); the plain
        # vectorised path needs none.
        aug_seeds: list[int] = []
        if augmenter is not None or uniform or stage is not None or checker is not None:
            aug_seeds = [
                derive_seed(float(draws[draw_base[int(first)] + 2 * length - 1]))
                for first, length in zip(digit_offsets[:-1].tolist(), lengths.tolist(), strict=True)
            ]
        if checker is not None and augmenter is None:
            checker.redraw_plain_batch(indices, digits, digit_offsets, aug_seeds)

        boxes = np.empty((digits.size, 5), dtype=np.int32)
        plain = augmenter is None and not uniform
        if stage is None:
            shape: tuple[int, ...] = (len(labels), HEIGHT, int(widths.max()))
        else:
            shape = (len(labels), stage.look.height, int(out_widths.max()))
            shape += (3,) if stage.look.channels == 3 else ()
        images = _output_array(out, shape, zeroed=not np.all(out_widths == out_widths[0]))
        label_maps = np.zeros(shape[:3], dtype=np.uint8) if with_masks else None
        if checker is not None:
            # Each image finished on its own: its digits are read in the finished image.
            _verified_batch(
                pool, labels, digits, indices, gaps, digit_offsets, widths, out_widths, aug_seeds,
                augmenter, uniform, checker, fit, stage, boxes, images, label_maps,
            )  # fmt: skip
        elif plain and stage is None:
            for first in range(0, len(labels), _BATCH_CHUNK):
                last = min(first + _BATCH_CHUNK, len(labels))
                rows = slice(int(digit_offsets[first]), int(digit_offsets[last]))
                boxes[rows] = _compose_batch(
                    pool,
                    digits[rows],
                    indices[rows],
                    gaps[rows],
                    digit_offsets[first : last + 1] - rows.start,
                    widths[first:last],
                    fit,
                    images[first:last],
                    None if label_maps is None else label_maps[first:last],
                )
        elif plain:
            if stage is None:
                raise AssertionError("hng bug: stage is unset")
            # Composed and placed a chunk at a time: the MNIST-scale strips never exist for the whole
            # batch, and their buffers are reused from chunk to chunk.
            size = min(len(labels), _BATCH_CHUNK)
            strips = np.empty((size, HEIGHT, int(widths.max())), dtype=np.uint8)
            strip_masks = np.empty_like(strips)
            for first in range(0, len(labels), size):
                last = min(first + size, len(labels))
                rows = slice(int(digit_offsets[first]), int(digit_offsets[last]))
                offsets = digit_offsets[first : last + 1] - rows.start
                if not np.all(widths[first:last] == strips.shape[2]):
                    strips[: last - first] = 0
                    strip_masks[: last - first] = 0
                boxes[rows] = _compose_batch(
                    pool, digits[rows], indices[rows], gaps[rows], offsets, widths[first:last], fit,
                    strips[: last - first], strip_masks[: last - first],
                )  # fmt: skip
                _place_batch(
                    stage, strips[: last - first], strip_masks[: last - first], boxes[rows], offsets,
                    widths[first:last], out_widths[first:last], aug_seeds[first:last], images[first:last],
                    None if label_maps is None else label_maps[first:last],
                )  # fmt: skip
        else:
            # Without a stage the strips are the images; with one they are placed once all are made.
            composed = (
                images if stage is None else np.zeros((len(labels), HEIGHT, int(widths.max())), np.uint8)
            )
            composed_masks = label_maps if stage is None else np.zeros(composed.shape, np.uint8)
            for i in range(len(labels)):
                rows = slice(int(digit_offsets[i]), int(digit_offsets[i + 1]))
                digit_images = _digit_images(pool, indices[rows].tolist(), augmenter, aug_seeds[i])
                crops, spans = _crop_augmented(_uniform_strokes(digit_images) if uniform else digit_images)
                image, image_boxes, mask = _compose(
                    crops,
                    spans,
                    gaps[rows][:-1].tolist(),
                    digits[rows].tolist(),
                    int(widths[i]),
                    fit,
                    composed_masks is not None,
                )
                composed[i, :, : image.shape[1]] = image
                if composed_masks is not None and mask is not None:
                    composed_masks[i, :, : mask.shape[1]] = mask
                boxes[rows] = [(b.digit, b.x0, b.y0, b.x1, b.y1) for b in image_boxes]
            if stage is not None:
                if composed_masks is None:
                    raise AssertionError(
                        "hng bug: composed_masks is unset (composed with masks for the stage)"
                    )
                _place_batch(
                    stage, composed, composed_masks, boxes, digit_offsets, widths, out_widths, aug_seeds,
                    images, label_maps,
                )  # fmt: skip
        widths = out_widths
        return GeneratedBatch(
            images=images,
            labels=labels,
            boxes=boxes,
            indices=indices.astype(np.int32),
            gaps=gaps.astype(np.int32),
            digit_offsets=digit_offsets,
            seed=seed,
            split=split,
            augment="none" if augmenter is None else augmenter.name,
            spacing_range=(low, high),
            widths=widths.astype(np.int32),
            fit=fit,
            seeds=per_image_seeds,
            masks=label_maps,
            appearance=look,
            redrawn=0 if checker is None else checker.redrawn,
            unread=0 if checker is None else checker.unread,
        )


class _Checker:
    """verify_labels for one call: reads digits back and draws the misread ones again, counting.

    A digit j of an image with augmentation seed s is drawn again from its own streams, so a redraw changes
    no other digit's draws: plain samples the table rejects from ``child_seed(s, _REDRAW_SAMPLES + j)``
    (``accepted_samples``: the whole split read once, looked up), digits misread in the finished image
    from ``child_seed(s, _RECHECK_SAMPLES + j)``, the augmentation of attempt a from ``child_seed(s,
    _REDRAW_AUGMENTS + j * MAX_REDRAWS + a)``.
    """

    def __init__(self, data: MnistData, split: str, pool: MnistSplit, augmenter: Augmenter | None) -> None:
        from hng.quality.verify import accepted_samples, label_reader

        self.pool = pool
        self.augmenter = augmenter
        self.reader = label_reader(data, split)
        self.accepted = accepted_samples(data, split) if augmenter is None else None
        self.redrawn = 0
        self.unread = 0

    def redraw_plain(self, indices: list[int], digits: Sequence[int], seed: int) -> None:
        """Replace, in place, the samples of ``indices`` the reader rejects (plain digits)."""
        if self.accepted is None:
            raise AssertionError("hng bug: self.accepted is unset")
        for j, k in enumerate(indices):
            if not self.accepted[k]:
                indices[j] = self._redraw_sample(digits[j], seed, j)

    def redraw_plain_batch(
        self, indices: np.ndarray, digits: np.ndarray, digit_offsets: np.ndarray, seeds: list[int]
    ) -> None:
        if self.accepted is None:
            raise AssertionError("hng bug: self.accepted is unset")
        for d in np.flatnonzero(~self.accepted[indices]).tolist():
            i = int(np.searchsorted(digit_offsets, d, side="right")) - 1
            indices[d] = self._redraw_sample(int(digits[d]), seeds[i], d - int(digit_offsets[i]))

    def _redraw_sample(self, digit: int, seed: int, j: int) -> int:
        if self.accepted is None:
            raise AssertionError("hng bug: self.accepted is unset")
        stream = new_rng(child_seed(seed, _REDRAW_SAMPLES + j))
        k = -1
        for _ in range(MAX_REDRAWS):
            k = _draw_index(self.pool, digit, float(stream.random()))
            self.redrawn += 1
            if self.accepted[k]:
                return k
        self.unread += 1
        return k

    def misread(self, image: np.ndarray, boxes: Sequence[DigitBox]) -> list[int]:
        """The positions of the digits the reader does not read as their label in the finished
        ``image``, each cut out by its box as the report's label fidelity cuts it (an empty box: misread)."""
        from hng.quality.readability import mnist_polarity

        grey = mnist_polarity(image)
        cut_outs = [grey[b.y0 : b.y1, b.x0 : b.x1] for b in boxes]
        read = self.reader.read([c if c.size else np.zeros((1, 1), np.uint8) for c in cut_outs])
        return [j for j, (b, r) in enumerate(zip(boxes, read.tolist(), strict=True)) if r != b.digit]

    def redraw(self, digit: int, seed: int, j: int, attempt: int) -> tuple[int, int]:
        """Digit j's sample for its ``attempt``-th redraw after the finished image misread it, and the
        seed of its augmentation: from its own streams, so no other draw changes."""
        stream = new_rng(child_seed(seed, _RECHECK_SAMPLES + j))
        units = stream.random(attempt + 1)
        self.redrawn += 1
        return _draw_index(self.pool, digit, float(units[attempt])), child_seed(
            seed, _REDRAW_AUGMENTS + j * MAX_REDRAWS + attempt
        )


def _compose_and_place(
    crops: list[np.ndarray],
    rows: list[tuple[int, int]],
    gaps: list[int],
    digits: Sequence[int],
    width: int | None,
    fit: str,
    stage: DocumentStage | None,
    with_mask: bool,
    aug_seed: int,
) -> tuple[np.ndarray, tuple[DigitBox, ...], np.ndarray | None]:
    """One number's image, boxes and (if ``with_mask``) mask from its crops: composed, and placed and
    inked by the document stage if there is one (``width`` is then the width at the output height)."""
    if stage is None:
        return _compose(crops, rows, gaps, digits, width, fit, with_mask)
    strip, _, strip_mask = _compose(
        crops, rows, gaps, digits, None if width is None else stage.composed_width(width), fit, True
    )
    if strip_mask is None:
        raise AssertionError("hng bug: strip_mask is unset (asked for)")
    out_width = stage.output_width(strip.shape[1]) if width is None else width
    image, label_map, tight = stage.apply(strip, strip_mask, len(digits), out_width, document_seed(aug_seed))
    boxes = tuple(DigitBox(digit, *box) for digit, box in zip(digits, tight, strict=True))
    return image, boxes, (label_map if with_mask else None)


def _finish_number(
    pool: MnistSplit,
    indices: list[int],
    digits: Sequence[int],
    gaps: list[int],
    aug_seed: int,
    augmenter: Augmenter | None,
    uniform: bool,
    checker: _Checker | None,
    width: int | None,
    fit: str,
    stage: DocumentStage | None,
    with_mask: bool,
) -> tuple[np.ndarray, tuple[DigitBox, ...], np.ndarray | None]:
    """One number by the general path (augmented, one pen, or verified): its digits' images, composed
    and placed. With a ``checker`` the digits are read in the finished image, and each misread one is drawn
    again (a new sample, a new augmentation) and the image made again, up to MAX_REDRAWS times a digit;
    ``indices`` is updated in place."""
    digit_images = _digit_images(pool, indices, augmenter, aug_seed)
    attempts = [0] * len(digits)
    while True:
        shaped = _uniform_strokes(digit_images) if uniform else digit_images
        crops, rows = _crop_augmented(shaped)
        image, boxes, mask = _compose_and_place(
            crops, rows, gaps, digits, width, fit, stage, with_mask, aug_seed
        )
        if checker is None:
            return image, boxes, mask
        misread = checker.misread(image, boxes)
        again = [j for j in misread if attempts[j] < MAX_REDRAWS]
        if not again:
            checker.unread += len(misread)
            return image, boxes, mask
        for j in again:
            k, augment_seed = checker.redraw(digits[j], aug_seed, j, attempts[j])
            attempts[j] += 1
            indices[j] = k
            digit_images[j] = (
                pool.images[k]
                if augmenter is None
                else augmenter.augment_digits([pool.images[k]], augment_seed)[0]
            )


def _verified_batch(
    pool: MnistSplit,
    labels: Sequence[str],
    digits: np.ndarray,
    indices: np.ndarray,
    gaps: np.ndarray,
    digit_offsets: np.ndarray,
    composed_widths: np.ndarray,
    widths: np.ndarray,
    aug_seeds: list[int],
    augmenter: Augmenter | None,
    uniform: bool,
    checker: _Checker,
    fit: str,
    stage: DocumentStage | None,
    boxes: np.ndarray,
    images: np.ndarray,
    masks: np.ndarray | None,
) -> None:
    """verify_labels in a batch: each image made by ``_finish_number`` (as ``generate`` makes it) into
    ``images`` (and its mask into ``masks`` if given) at the output size; ``indices`` and ``boxes`` are
    updated in place."""
    with_masks = masks is not None
    for i in range(len(labels)):
        rows = slice(int(digit_offsets[i]), int(digit_offsets[i + 1]))
        image_indices = indices[rows].tolist()
        image, image_boxes, mask = _finish_number(
            pool, image_indices, digits[rows].tolist(), gaps[rows][:-1].tolist(), aug_seeds[i], augmenter,
            uniform, checker, int(widths[i]), fit, stage, with_masks,
        )  # fmt: skip
        indices[rows] = image_indices
        images[i, :, : image.shape[1]] = image
        if masks is not None and mask is not None:
            masks[i, :, : mask.shape[1]] = mask
        boxes[rows] = [(b.digit, b.x0, b.y0, b.x1, b.y1) for b in image_boxes]


def _place_batch(
    stage: DocumentStage,
    strips: np.ndarray,
    strip_masks: np.ndarray,
    boxes: np.ndarray,
    digit_offsets: np.ndarray,
    composed_widths: np.ndarray,
    widths: np.ndarray,
    aug_seeds: list[int],
    images: np.ndarray,
    masks: np.ndarray | None,
) -> None:
    """The strips through the document stage into ``images`` (and their masks into ``masks`` if given),
    image i in ``[i, :, :widths[i]]``; ``boxes`` (of these images' digits, ``digit_offsets`` from 0) is
    updated in place."""
    full_width = images.shape[2]
    lengths = np.diff(digit_offsets)
    seeds = document_seeds(aug_seeds)
    # Images of one composed and one output width go through the stage together, a chunk at a time (the
    # chunk's temporaries stay small); a dataset's images usually all share them.
    pairs, group_of_image = np.unique(
        np.stack([composed_widths, widths], axis=1), axis=0, return_inverse=True
    )
    for group, (composed, width) in enumerate(pairs.tolist()):
        members = np.flatnonzero(group_of_image.ravel() == group)
        for chunk in np.array_split(members, -(-members.size // _PLACE_CHUNK)):
            first, last = int(chunk[0]), int(chunk[-1]) + 1
            together = last - first == chunk.size  # a run of images: slices, and pixels rendered in place
            picked: slice | np.ndarray = slice(first, last) if together else chunk
            in_place = together and width == full_width
            pixels, labels, tight = stage.apply_batch(
                strips[picked, :, :composed],
                strip_masks[picked, :, :composed],
                lengths[chunk].tolist(),
                width,
                [seeds[i] for i in chunk.tolist()],
                images[first:last] if in_place else None,
            )
            if not in_place:
                images[picked, :, :width] = pixels
            if masks is not None:
                masks[picked, :, :width] = labels
            digit_rows = np.concatenate([np.arange(digit_offsets[i], digit_offsets[i + 1]) for i in chunk])
            image_in_chunk = np.repeat(np.arange(chunk.size), lengths[chunk])
            boxes[digit_rows, 1:] = tight[image_in_chunk, digit_rows - digit_offsets[chunk][image_in_chunk]]


def _output_array(out: Any, shape: tuple[int, ...], *, zeroed: bool) -> np.ndarray:
    """``out`` checked against the batch's ``shape`` (uint8, C-contiguous), or a new array; ``zeroed``:
    the images do not all fill it, so the rest is set to 0."""
    if out is None:
        return (np.zeros if zeroed else np.empty)(shape, dtype=np.uint8)
    if not isinstance(out, np.ndarray):
        raise InvalidType("out", f"out must be a numpy array, got {type(out).__name__}")
    if out.shape != shape or out.dtype != np.uint8 or not out.flags.c_contiguous or not out.flags.writeable:
        raise InvalidInput(
            "out",
            f"out must be a writeable C-contiguous uint8 array of shape {shape}, got {out.dtype} {out.shape}",
        )
    if zeroed:
        out.fill(0)
    return out


def _digit_images(
    pool: MnistSplit, indices: Sequence[int], augmenter: Augmenter | None, aug_seed: int
) -> list[np.ndarray]:
    """The number's digits as 28-row images, augmented if asked."""
    digit_images = [pool.images[k] for k in indices]
    if augmenter is not None:
        digit_images = augmenter.augment_digits(digit_images, aug_seed)
    return digit_images


def _uniform_strokes(digit_images: list[np.ndarray]) -> list[np.ndarray]:
    """The number's digits brought to one stroke width (``stroke uniform``)."""
    from hng.document.stroke import uniform_strokes

    return uniform_strokes(digit_images)


def _parse_widths(image_width: Any, count: int) -> np.ndarray:
    if image_width is None:
        raise ValueError("image_width is required for a batch (one width, or one per number)")
    if isinstance(image_width, Sequence | np.ndarray) and not isinstance(image_width, str | bytes):
        return _one_per_number(
            image_width, count, "image_width", "width", parse_image_width, 1, MAX_IMAGE_WIDTH
        )
    return np.full(count, parse_image_width(image_width), dtype=np.int64)


def _parse_seeds(seeds: Any, count: int, seed: int | None) -> np.ndarray | None:
    if seeds is None:
        return None
    if seed is not None:
        raise ValueError("give seed (one stream for the batch) or seeds (one per image), not both")
    if isinstance(seeds, str | bytes) or not isinstance(seeds, Sequence | np.ndarray):
        raise TypeError(f"seeds must be a list of integers, got {type(seeds).__name__}")
    return _one_per_number(seeds, count, "seeds", "seed", parse_seed, 0, MAX_SEED)


def _one_per_number(
    values: Any, count: int, name: str, noun: str, parse_one: Any, minimum: int, maximum: int
) -> np.ndarray:
    """A per-number list of integers as an int64 array, checked whole in numpy; an entry that breaks
    the rule goes through ``parse_one`` for its message, named ``name[i]``."""
    if len(values) != count:
        raise ValueError(f"{name} must hold one {noun} per number ({count}), got {len(values)}")
    array = np.asarray(values)
    if array.dtype.kind not in "iu":
        for i, value in enumerate(values):
            parse_one(value, f"{name}[{i}]")
    if array.size and (array.min() < minimum or array.max() > maximum):
        bad = int(np.flatnonzero((array < minimum) | (array > maximum))[0])
        parse_one(int(array[bad]), f"{name}[{bad}]")
    return array.astype(np.int64)


def _crop_augmented(augmented: list[np.ndarray]) -> tuple[list[np.ndarray], list[tuple[int, int]]]:
    crops, rows = [], []
    for digit in augmented:
        x, y, width, height = cv2.boundingRect(digit)  # of the non-zero pixels
        crops.append(digit[:, x : x + width])
        rows.append((y, y + height))
    return crops, rows


def _compose(
    crops: list[np.ndarray],
    rows: list[tuple[int, int]],
    gaps: list[int],
    digits: Sequence[int],
    width: int | None,
    fit: str = "stretch",
    with_mask: bool = False,
) -> tuple[np.ndarray, tuple[DigitBox, ...], np.ndarray | None]:
    """The image, its digits' boxes and (if ``with_mask``) its mask; see ``hng.core.masks``."""
    strip, offsets = lay_out(crops, gaps)
    natural = strip.shape[1]
    width = natural if width is None else width
    target = min(natural, width) if fit == "pad" else width
    if target == natural:
        # The crops are cut to their ink, so the boxes of the strip as laid out are already tight.
        boxes = tuple(
            DigitBox(digit, x, y0, x + crop.shape[1], y1)
            for digit, crop, x, (y0, y1) in zip(digits, crops, offsets, rows, strict=True)
        )
        mask = None
        if with_mask:
            mask = _label_strip(strip, crops, offsets, natural, strip, True)[1]
        if width != natural:
            strip = pad_columns(strip, width)
            mask = None if mask is None else pad_columns(mask, width)
        return strip, boxes, mask
    image = resample_columns(strip, target)
    # Resizing blurs edges: the boxes become the bounds of each digit's ink (hng.core.masks).
    tight, mask = _label_strip(strip, crops, offsets, target, image, with_mask)
    boxes = tuple(DigitBox(digit, *box) for digit, box in zip(digits, tight, strict=True))
    return image, boxes, mask


def _label_strip(
    strip: np.ndarray,
    crops: list[np.ndarray],
    offsets: list[int],
    target: int,
    image: np.ndarray,
    with_mask: bool,
) -> tuple[list[tuple[int, int, int, int]], np.ndarray | None]:
    """The digits' boxes (x0, y0, x1, y1) and (if ``with_mask``) the mask of ``image``, the laid-out
    ``strip`` resized to ``target`` columns: ``hng.core.masks.label_digits`` for one image, in fewer
    numpy calls."""
    natural = strip.shape[1]
    reach = [
        scale_span(x, x + crop.shape[1], natural, target) for crop, x in zip(crops, offsets, strict=True)
    ]
    shared = [column for (_, end), (start, _) in itertools.pairwise(reach) for column in range(start, end)]
    if not shared and not with_mask:
        # No column holds ink of two digits: each digit's reach holds only its own ink.
        found = []
        for x0, x1 in reach:
            x, y, w, h = cv2.boundingRect(image[:, x0:x1]) if x1 > x0 else (0, 0, 0, 0)
            found.append((x0 + x, y, x0 + x + w, y + h) if w else (0, 0, 0, 0))
        return found, None
    labels = np.zeros(natural, dtype=np.uint8)
    for k, (crop, x) in enumerate(zip(crops, offsets, strict=True), 1):
        labels[x : x + crop.shape[1]] = k
    owner = np.zeros(target, dtype=np.uint8)
    for k, (x0, x1) in enumerate(reach, 1):
        owner[x0:x1] = k
    mask = np.where(image > INK_THRESHOLD, owner, 0).astype(np.uint8)
    if shared:
        columns = np.array(sorted(set(shared)))
        mask[:, columns] = shared_winners(
            image[None],
            np.zeros(columns.size, dtype=np.int64),
            columns,
            np.array([natural]),
            np.array([target]),
            lambda _, source: labels[source],
            lambda _, source: strip[:, source].T,
        ).T
    found = []
    for k, (x0, x1) in enumerate(reach, 1):
        x, y, w, h = cv2.boundingRect((mask[:, x0:x1] == k).view(np.uint8))  # a digit's ink is in its reach
        found.append((x0 + x, y, x0 + x + w, y + h) if w else (0, 0, 0, 0))
    return found, (mask if with_mask else None)


def _compose_batch(
    pool: MnistSplit,
    digits: np.ndarray,
    indices: np.ndarray,
    gaps: np.ndarray,
    digit_offsets: np.ndarray,
    widths: np.ndarray,
    fit: str,
    out: np.ndarray,
    masks_out: np.ndarray | None = None,
) -> np.ndarray:
    """Vectorised ``_compose`` for plain digits: the same crops, layout, resize, masks and boxes.

    Writes image i into ``out[i, :, :widths[i]]`` (columns past it are left alone), its mask likewise
    into ``masks_out`` if given (zeros assumed past the width), and returns the boxes.
    """
    n_images = digit_offsets.size - 1
    spans = pool.ink_bounds[indices, :2].astype(np.int64)
    column_counts = spans[:, 1] - spans[:, 0]
    advance = column_counts + gaps
    image_of_digit = np.repeat(np.arange(n_images), np.diff(digit_offsets))
    image_advance = np.add.reduceat(advance, digit_offsets[:-1])
    digit_x = (
        MARGIN + np.cumsum(advance) - advance - (np.cumsum(image_advance) - image_advance)[image_of_digit]
    )
    natural = image_advance + 2 * MARGIN
    # The width each strip is resized to: `pad` keeps the natural width when it fits.
    targets = np.minimum(natural, widths) if fit == "pad" else widths
    strip_offsets = np.concatenate([[0], np.cumsum(natural)])

    # Every strip column of the batch, laid end to end, as a row of the split's column bank
    # (column gathers become contiguous row gathers); background columns point at its blank last row.
    bank = pool.column_bank
    sources = np.full(int(strip_offsets[-1]), bank.shape[0] - 1, dtype=np.int64)
    placed = strip_offsets[image_of_digit] + digit_x  # where each digit's first column lands
    first_source = indices.astype(np.int64) * 28 + spans[:, 0]
    # Column k of digit d lands at placed[d] + k and comes from first_source[d] + k.
    landing = np.repeat(placed - (np.cumsum(column_counts) - column_counts), column_counts) + np.arange(
        int(column_counts.sum())
    )
    sources[landing] = landing + np.repeat(first_source - placed, column_counts)

    # Strips of one natural width resized to one target width form one OpenCV call.
    group_keys = natural * (MAX_IMAGE_WIDTH + 1) + targets
    for key in np.unique(group_keys).tolist():
        members = np.flatnonzero(group_keys == key)
        length, target = divmod(key, MAX_IMAGE_WIDTH + 1)
        # np.take gathers whole rows twice as fast as fancy indexing does.
        block = np.take(bank, sources[strip_offsets[members][:, None] + np.arange(length)], axis=0)
        stack = np.ascontiguousarray(block.transpose(0, 2, 1)).reshape(-1, length)
        out[members, :, :target] = resample_columns(stack, target).reshape(members.size, HEIGHT, target)
        if fit == "pad":
            out[members, :, target : int(widths[members].max())] = 0

    x0, x1 = scale_spans(digit_x, digit_x + column_counts, natural[image_of_digit], targets[image_of_digit])
    rows = pool.ink_bounds[indices, 2:]
    boxes = np.stack([digits, x0, rows[:, 0], x1, rows[:, 1]], axis=1).astype(np.int32)
    resized = natural != targets
    if masks_out is None and not resized.any():
        return boxes  # every strip at its own width: the boxes are the crops', already tight
    # Which digit of its image (1-based) each strip column belongs to: what the masks are made of.
    position = np.arange(digits.size) - digit_offsets[image_of_digit]
    column_labels = np.zeros(sources.size, dtype=np.uint8)
    column_labels[landing] = np.repeat((position + 1).astype(np.uint8), column_counts)
    # Resizing blurs edges: the boxes become the bounds of each digit's ink (hng.core.masks).
    tight = label_digits(
        out,
        np.stack([image_of_digit, x0, x1, rows[:, 0], rows[:, 1]], axis=1),
        natural,
        targets,
        lambda images, columns: column_labels[strip_offsets[images] + columns],
        lambda images, columns: bank[sources[strip_offsets[images] + columns]],
        masks_out=masks_out,
    )
    boxes[:, 1:] = np.where(resized[image_of_digit, None], tight, boxes[:, 1:])
    return boxes


_default: Generator | None = None
_default_lock = threading.Lock()


def default_generator() -> Generator:
    """The process-wide generator over the data ``load_mnist()`` finds."""
    global _default
    if _default is None:
        with _default_lock:
            if _default is None:
                _default = Generator()
    return _default


def generate(
    number: int | str | Sequence[int],
    *,
    spacing_range: tuple[int, int] = DEFAULT_SPACING_RANGE,
    image_width: int | None = None,
    augment: Any = None,
    seed: int | None = None,
    split: str = "train",
    fit: str = "stretch",
    masks: bool = False,
    **document: Any,
) -> GeneratedNumber:
    """``Generator.generate`` on the default data (found and loaded once by ``load_mnist()``);
    ``document`` takes its document options (style, ink, background, rotate, shear, perspective,
    elastic, height, channels, stroke)."""
    return default_generator().generate(
        number,
        spacing_range=spacing_range,
        image_width=image_width,
        augment=augment,
        seed=seed,
        split=split,
        fit=fit,
        masks=masks,
        **document,
    )


def generate_batch(
    numbers: Sequence[int | str | Sequence[int]],
    *,
    image_width: int | Sequence[int],
    spacing_range: tuple[int, int] = DEFAULT_SPACING_RANGE,
    augment: Any = None,
    seed: int | None = None,
    split: str = "train",
    fit: str = "stretch",
    seeds: Sequence[int] | np.ndarray | None = None,
    masks: bool = False,
    **document: Any,
) -> GeneratedBatch:
    """``Generator.generate_batch`` on the default data, with its other options (the document options,
    ``out``)."""
    return default_generator().generate_batch(
        numbers,
        image_width=image_width,
        spacing_range=spacing_range,
        augment=augment,
        seed=seed,
        split=split,
        fit=fit,
        seeds=seeds,
        masks=masks,
        **document,
    )
