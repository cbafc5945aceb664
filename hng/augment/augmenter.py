"""Per-digit augmentation with albumentations: named presets, custom pipelines, seeded per request.

Importing this module imports albumentations (about 0.5 s), so hng imports it only when a request
asks for augmentation.

Each digit is augmented on a canvas padded on every side, so that rotating, scaling or shifting never
clips it; the result is brought back to 28 rows by moving the 28-row window just enough to hold all the
ink (or, for the rare digit that grew taller than 28 rows, by scaling it down to fit). Empty columns are
cropped afterwards anyway.

Pixel-level transforms such as noise or brightness would grey the black background, so they only keep
their effect where the digit has ink: the presets take the ink mask after the spatial and blur stages
(custom pipelines warp a mask, dilated by one pixel so that blur keeps its soft edge). Pixels fainter
than ``FAINT`` (interpolation dust at 6 % brightness and less) are dropped, so boxes hug the visible ink.
"""

from __future__ import annotations

import random
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any

import cv2
import numpy as np

from hng.augment.albu import A
from hng.augment.transforms import DigitAffine
from hng.core.compose import HEIGHT
from hng.core.seeding import pcg64_state

# Padding of the augmentation canvas: a 20-pixel digit rotated by 20 degrees and scaled by 1.2 still
# fits in 28 + 2 * 10 columns; rows get less since only the vertical shift and distortions need them.
CANVAS_PAD = 10
CANVAS_PAD_ROWS = 6
CANVAS_SHAPE = (HEIGHT + 2 * CANVAS_PAD_ROWS, HEIGHT + 2 * CANVAS_PAD)
FAINT = 16
_DILATE_KERNEL = np.ones((3, 3), np.uint8)
_BORDER = {"border_mode": cv2.BORDER_CONSTANT, "fill": 0, "fill_mask": 0}


def _distortions(optical: float, grid: float, elastic_alpha: float) -> list[A.BasicTransform]:
    return [
        A.OpticalDistortion(distort_limit=(-optical, optical), **_BORDER),
        A.GridDistortion(num_steps=4, distort_limit=(-grid, grid), **_BORDER),
        A.ElasticTransform(alpha=elastic_alpha, sigma=4, **_BORDER),
    ]


def _blurs() -> list[A.BasicTransform]:
    return [A.Blur(blur_limit=(3, 3)), A.MedianBlur(blur_limit=(3, 3))]


def _rarely_one_of(transforms: list[A.BasicTransform], p: float) -> list[A.BasicTransform]:
    """Each transform with probability p / len: for small p nearly "one of them with probability p",
    without ``A.OneOf``, whose weighted draw (``Generator.choice`` with weights) costs 15-20 µs a call."""
    for transform in transforms:
        transform.p = p / len(transforms)
    return transforms


Stage = list[A.BasicTransform | A.BaseCompose]
Stages = tuple[Stage, Stage, Stage]


def _mild() -> Stages:
    """The old package's recipe: every listed transform, gently, each with a modest probability."""
    spatial = [
        # shift_y is a fraction of the 40-row canvas: +-1.4 pixels.
        DigitAffine(scale=(0.9, 1.05), rotate=(-10, 10), shift_y=(-0.035, 0.035), p=0.5),
        *_rarely_one_of(_distortions(optical=0.1, grid=0.15, elastic_alpha=12), p=0.15),
    ]
    ink = [
        *_rarely_one_of(_blurs(), p=0.15),
        A.Emboss(alpha=(0.1, 0.3), strength=(0.2, 0.5), p=0.1),
    ]
    tone = [
        A.GaussNoise(std_range=(0.02, 0.06), p=0.1),
        A.RandomBrightnessContrast(brightness_limit=(-0.1, 0.1), contrast_limit=(-0.2, 0.2), p=0.2),
    ]
    return spatial, ink, tone


def _strong() -> Stages:
    """For training: every transform more often and further, still readable as its label."""
    spatial = [
        # shift_y is a fraction of the 40-row canvas: +-2.2 pixels.
        DigitAffine(scale=(0.8, 1.1), rotate=(-18, 18), shear=(-15, 15), shift_y=(-0.055, 0.055), p=0.9),
        A.OneOf(_distortions(optical=0.25, grid=0.25, elastic_alpha=30), p=0.6),
    ]
    ink = [
        A.OneOf(_blurs(), p=0.35),
        A.Emboss(alpha=(0.2, 0.5), strength=(0.3, 0.8), p=0.25),
    ]
    tone = [
        A.GaussNoise(std_range=(0.04, 0.12), p=0.4),
        A.RandomBrightnessContrast(brightness_limit=(-0.2, 0.15), contrast_limit=(-0.3, 0.3), p=0.6),
    ]
    return spatial, ink, tone


PRESETS: dict[str, Callable[[], Stages]] = {"mild": _mild, "strong": _strong}


class Augmenter:
    """An albumentations pipeline built once, with its own random streams re-seeded per request.

    ``pipeline`` may be any albumentations transform or Compose; it then also warps a mask of the ink,
    and every pixel outside the warped mask is set back to black. ``Augmenter.from_stages`` (used by
    the presets) instead takes three lists of transforms: spatial ones, ones that move ink (blur,
    emboss), and ones that only change values (noise, brightness); the ink mask is taken before the
    last stage, which saves warping a mask through every transform, and the transforms are called one
    after the other without a Compose around them (about 10 µs a digit).

    Re-seeding the generators it owns in place costs microseconds; ``Compose.set_random_seed`` per
    request costs about 190 µs and rebuilding the pipeline about 3 ms.
    """

    def __init__(self, pipeline: A.BaseCompose | A.BasicTransform, name: str = "custom") -> None:
        _check_transform(pipeline)
        compose = pipeline if isinstance(pipeline, A.Compose) else A.Compose([pipeline])
        self._setup(name, (compose,), None)

    @classmethod
    def from_stages(cls, spatial: Stage, ink: Stage, tone: Stage, name: str) -> Augmenter:
        """Spatial transforms, then ink-moving ones, then value-only ones kept within the ink."""
        augmenter = cls.__new__(cls)
        augmenter._setup(name, (*spatial, *ink), tuple(tone))
        return augmenter

    def _setup(self, name: str, shaping: tuple, tone: tuple | None) -> None:
        for transform in (*shaping, *(tone or ())):
            _check_transform(transform)
        self.name = name
        self._np_random = np.random.Generator(np.random.PCG64())
        # Security (B311): reproducible augmentation, not a secret.
        self._py_random = random.Random(0)  # nosec B311
        for transform in (*shaping, *(tone or ())):
            transform.set_random_state(self._np_random, self._py_random)
        self._shaping = shaping
        self._tone = tone  # None: a custom pipeline, masked by warping a mask through it
        self._lock = threading.Lock()

    def augment_digits(self, digits: list[np.ndarray], seed: int) -> list[np.ndarray]:
        """Augment each (28, 28) uint8 digit independently; returns 28-row images of any width."""
        with self._lock:
            self._np_random.bit_generator.state = pcg64_state(seed)
            self._py_random.seed(seed)
            return [self._augment_one(digit) for digit in digits]

    def _augment_one(self, digit: np.ndarray) -> np.ndarray:
        canvas = np.zeros(CANVAS_SHAPE, dtype=np.uint8)
        canvas[CANVAS_PAD_ROWS : CANVAS_PAD_ROWS + HEIGHT, CANVAS_PAD : CANVAS_PAD + digit.shape[1]] = digit
        ink: np.ndarray | None
        if self._tone is None:
            ink = cv2.dilate((canvas > 0).view(np.uint8), _DILATE_KERNEL)
            out = _run(self._shaping, image=canvas, mask=ink)
            image, ink = self._checked(out["image"], canvas), out["mask"]  # ink: the warped mask
        else:
            shaped = self._checked(_run(self._shaping, image=canvas)["image"], canvas)
            image = self._checked(_run(self._tone, image=shaped)["image"], canvas)
            # A transform that does not fire hands back the very same array: nothing to mask then.
            ink = None if image is shaped else shaped
        # numpy, not cv2.bitwise_and / cv2.threshold: 3 µs instead of 23 µs on these small canvases.
        keep = image >= FAINT
        if ink is not None:
            keep &= ink != 0
        np.multiply(image, keep, out=image, casting="unsafe")
        return fit_rows(image, fallback=digit)

    @staticmethod
    def _checked(image: np.ndarray, canvas: np.ndarray) -> np.ndarray:
        if image.dtype != np.uint8 or image.shape != canvas.shape:
            raise ValueError(
                f"the augmentation pipeline must keep the digit's shape and dtype {canvas.shape} uint8, "
                f"got {image.shape} {image.dtype}"
            )
        return image


def fit_rows(image: np.ndarray, fallback: np.ndarray) -> np.ndarray:
    """The 28 rows of an augmented canvas that hold all its ink, preferring the digit's original rows.

    Ink taller than 28 rows is scaled down to fit. A canvas with no ink left gives ``fallback`` (the
    unaugmented digit) rather than a blank gap.
    """
    x, y, width, height = cv2.boundingRect(image)
    if width == 0:
        return fallback
    if height > HEIGHT:
        ink = image[y : y + height, x : x + width]
        scaled_width = max(1, round(width * HEIGHT / height))
        return cv2.resize(ink, (scaled_width, HEIGHT), interpolation=cv2.INTER_AREA)
    top = min(max(CANVAS_PAD_ROWS, y + height - HEIGHT), y)
    return image[top : top + HEIGHT]


def _check_transform(transform: Any) -> None:
    if not isinstance(transform, A.BaseCompose | A.BasicTransform):
        raise TypeError(
            f"augment must be an albumentations transform or Compose, got {type(transform).__name__}"
        )


def _run(transforms: Sequence[Any], **data: np.ndarray) -> dict[str, Any]:
    for transform in transforms:
        if isinstance(transform, A.BasicTransform) and not transform.replay_mode:
            # Its own probability draw, made here from the same stream: a transform that does not fire
            # is never called (most of a preset's nine do not, and a call costs microseconds of
            # bookkeeping); one that fires is forced, so it draws nothing more for it. The same draws,
            # the same pixels as calling each transform.
            if transform.p <= 0.0 or (transform.p < 1.0 and transform.py_random.random() >= transform.p):
                continue
            data = transform(force_apply=True, **data)
        else:
            data = transform(**data)
    return data


_preset_augmenters: dict[str, Augmenter] = {}
# Custom pipelines by identity, most recent last; bounded so that callers building a new pipeline per
# call cannot grow it without limit (they should build an ``Augmenter`` once instead).
_custom_augmenters: OrderedDict[int, tuple[object, Augmenter]] = OrderedDict()
_CUSTOM_CACHE_SIZE = 16
_cache_lock = threading.Lock()


def preset_names() -> tuple[str, ...]:
    return ("none", *PRESETS)


def get_augmenter(augment: str | A.BaseCompose | A.BasicTransform | Augmenter) -> Augmenter:
    """The augmenter for a preset name or a pipeline object, built on first use and reused after."""
    if isinstance(augment, Augmenter):
        return augment
    with _cache_lock:
        if isinstance(augment, str):
            if augment not in PRESETS:
                raise ValueError(f"augment must be one of {', '.join(preset_names())}, got {augment!r}")
            if augment not in _preset_augmenters:
                _preset_augmenters[augment] = Augmenter.from_stages(*PRESETS[augment](), name=augment)
            return _preset_augmenters[augment]
        cached = _custom_augmenters.get(id(augment))
        if cached is not None and cached[0] is augment:
            _custom_augmenters.move_to_end(id(augment))
            return cached[1]
        augmenter = Augmenter(augment)
        _custom_augmenters[id(augment)] = (augment, augmenter)
        if len(_custom_augmenters) > _CUSTOM_CACHE_SIZE:
            _custom_augmenters.popitem(last=False)
        return augmenter
