"""Per-digit augmentation with albumentations: named presets, custom pipelines, seeded per request.

Importing this module imports albumentations (about 0.5 s), so hng imports it only when a request
asks for augmentation.

Each digit is augmented on a canvas padded left and right, so that rotating, scaling or shifting never
clips it horizontally (empty columns are cropped afterwards anyway). Pixel-level transforms such as noise
or brightness would grey the black background, so everything outside the digit's ink (dilated by one
pixel, so that blur keeps its soft edge) is set back to 0 afterwards.
"""

from __future__ import annotations

import random
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import cv2
import numpy as np

from hng._albumentations import A
from hng.seeding import pcg64_state
from hng.transforms import DigitAffine

# Side padding of the augmentation canvas: a 20-pixel digit rotated by 20 degrees and scaled by 1.2
# still fits in 28 + 2 * 10 columns.
CANVAS_PAD = 10
_DILATE_KERNEL = np.ones((3, 3), np.uint8)
_BORDER = {"border_mode": cv2.BORDER_CONSTANT, "fill": 0, "fill_mask": 0}


def _distortions(optical: float, grid: float, elastic_alpha: float, p: float) -> A.OneOf:
    return A.OneOf(
        [
            A.OpticalDistortion(distort_limit=(-optical, optical), **_BORDER),
            A.GridDistortion(num_steps=4, distort_limit=(-grid, grid), **_BORDER),
            A.ElasticTransform(alpha=elastic_alpha, sigma=4, **_BORDER),
        ],
        p=p,
    )


Stages = tuple[list[A.BasicTransform | A.BaseCompose], list[A.BasicTransform | A.BaseCompose]]


def _mild() -> Stages:
    """The old package's recipe: every listed transform, gently, each with a modest probability."""
    spatial = [
        DigitAffine(scale=(0.9, 1.05), rotate=(-10, 10), shift_y=(-0.05, 0.05), p=0.5),
        _distortions(optical=0.1, grid=0.15, elastic_alpha=12, p=0.15),
    ]
    pixel = [
        A.OneOf([A.Blur(blur_limit=(3, 3)), A.MedianBlur(blur_limit=(3, 3))], p=0.15),
        A.GaussNoise(std_range=(0.02, 0.06), p=0.1),
        A.RandomBrightnessContrast(brightness_limit=(-0.1, 0.1), contrast_limit=(-0.2, 0.2), p=0.2),
        A.Emboss(alpha=(0.1, 0.3), strength=(0.2, 0.5), p=0.1),
    ]
    return spatial, pixel


def _strong() -> Stages:
    """For training: every transform more often and further, still readable as its label."""
    spatial = [
        DigitAffine(scale=(0.8, 1.1), rotate=(-18, 18), shear=(-15, 15), shift_y=(-0.08, 0.08), p=0.9),
        _distortions(optical=0.25, grid=0.25, elastic_alpha=30, p=0.6),
    ]
    pixel = [
        A.OneOf([A.Blur(blur_limit=(3, 3)), A.MedianBlur(blur_limit=(3, 3))], p=0.35),
        A.GaussNoise(std_range=(0.04, 0.12), p=0.4),
        A.RandomBrightnessContrast(brightness_limit=(-0.2, 0.15), contrast_limit=(-0.3, 0.3), p=0.6),
        A.Emboss(alpha=(0.2, 0.5), strength=(0.3, 0.8), p=0.25),
    ]
    return spatial, pixel


PRESETS: dict[str, Callable[[], Stages]] = {"mild": _mild, "strong": _strong}


class Augmenter:
    """An albumentations pipeline built once, with its own random streams re-seeded per request.

    ``pipeline`` may be any albumentations transform or Compose; it then also warps a mask of the ink,
    and every pixel outside the warped mask is set back to black. ``Augmenter.from_stages`` (used by
    the presets) instead takes spatial and pixel-level transforms apart: the ink mask is then taken
    from the spatial stage's output, which saves warping a mask through every transform, and the
    transforms are called one after the other without a Compose around them (about 10 µs a digit).

    Re-seeding the generators it owns in place costs microseconds; ``Compose.set_random_seed`` per
    request costs about 190 µs and rebuilding the pipeline about 3 ms.
    """

    def __init__(self, pipeline: A.BaseCompose | A.BasicTransform, name: str = "custom") -> None:
        _check_transform(pipeline)
        compose = pipeline if isinstance(pipeline, A.Compose) else A.Compose([pipeline])
        self._setup(name, spatial=[compose], pixel=None)

    @classmethod
    def from_stages(cls, spatial: list, pixel: list, name: str) -> Augmenter:
        """Spatial transforms, then pixel-level ones kept within the ink the spatial stage produced."""
        for transform in (*spatial, *pixel):
            _check_transform(transform)
        augmenter = cls.__new__(cls)
        augmenter._setup(name, spatial=spatial, pixel=pixel)
        return augmenter

    def _setup(self, name: str, *, spatial: list, pixel: list | None) -> None:
        self.name = name
        self._np_random = np.random.Generator(np.random.PCG64())
        self._py_random = random.Random(0)
        for transform in (*spatial, *(pixel or ())):
            transform.set_random_state(self._np_random, self._py_random)
        self._spatial = spatial
        self._pixel = pixel
        self._lock = threading.Lock()

    def augment_digits(self, digits: list[np.ndarray], seed: int) -> list[np.ndarray]:
        """Augment each (28, 28) uint8 digit independently; returns (28, 28 + 2 * CANVAS_PAD) images."""
        with self._lock:
            self._np_random.bit_generator.state = pcg64_state(seed)
            self._py_random.seed(seed)
            return [self._augment_one(digit) for digit in digits]

    def _augment_one(self, digit: np.ndarray) -> np.ndarray:
        canvas = cv2.copyMakeBorder(digit, 0, 0, CANVAS_PAD, CANVAS_PAD, cv2.BORDER_CONSTANT, value=0)
        if self._pixel is None:
            out = _run(
                self._spatial, image=canvas, mask=cv2.dilate((canvas > 0).view(np.uint8), _DILATE_KERNEL)
            )
            image, ink = self._checked(out["image"], canvas), out["mask"]
        else:
            warped = self._checked(_run(self._spatial, image=canvas)["image"], canvas)
            image = self._checked(_run(self._pixel, image=warped)["image"], canvas)
            # A transform that does not fire hands back the very same array: nothing to clean up then.
            ink = None if image is warped else cv2.dilate((warped > 0).view(np.uint8), _DILATE_KERNEL)
        if ink is not None:
            image = image * (ink > 0)
        if cv2.boundingRect(image)[2] == 0:
            # Pushed entirely off the canvas: keep the real digit rather than a blank gap.
            return canvas
        return image

    @staticmethod
    def _checked(image: np.ndarray, canvas: np.ndarray) -> np.ndarray:
        if image.dtype != np.uint8 or image.shape != canvas.shape:
            raise ValueError(
                f"the augmentation pipeline must keep the digit's shape and dtype {canvas.shape} uint8, "
                f"got {image.shape} {image.dtype}"
            )
        return image


def _check_transform(transform: Any) -> None:
    if not isinstance(transform, A.BaseCompose | A.BasicTransform):
        raise TypeError(
            f"augment must be an albumentations transform or Compose, got {type(transform).__name__}"
        )


def _run(transforms: list, **data: np.ndarray) -> dict[str, Any]:
    for transform in transforms:
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
                spatial, pixel = PRESETS[augment]()
                _preset_augmenters[augment] = Augmenter.from_stages(spatial, pixel, name=augment)
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
