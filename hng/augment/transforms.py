"""Albumentations transforms specialised for 28-pixel digits.

``A.Affine`` spends about 90 µs per call on a 28 × 48 digit, mostly in generic Python bookkeeping
(matrix validation, identity checks, bbox/keypoint plumbing); the warp itself takes 10 µs. The presets
augment every digit of every request, so they use ``DigitAffine``: the same shift, scale, rotation and
shear about the image centre, as a plain albumentations ``DualTransform`` (about 18 µs). It draws from
the pipeline's own ``py_random``, so ``Compose.set_random_state`` seeds it like any other transform.
"""

from __future__ import annotations

import math
from typing import Any

import cv2
import numpy as np

from hng.augment.albu import A


def affine_matrix(
    width: int, height: int, *, scale: float, rotate: float, shear: float, shift_x: float, shift_y: float
) -> np.ndarray:
    """2 × 3 matrix: scale, rotate (degrees, counter-clockwise) and shear (degrees, along x) about the
    image centre, then shift by (shift_x, shift_y) pixels."""
    angle = math.radians(rotate)
    cos, sin = math.cos(angle), math.sin(angle)
    shear_tan = math.tan(math.radians(shear))
    # rotation @ shear @ scale, with y pointing down as in image coordinates.
    a, b = scale * cos, scale * (cos * shear_tan + sin)
    c, d = -scale * sin, scale * (-sin * shear_tan + cos)
    cx, cy = (width - 1) / 2, (height - 1) / 2
    return np.array(
        [[a, b, cx - a * cx - b * cy + shift_x], [c, d, cy - c * cx - d * cy + shift_y]], dtype=np.float64
    )


def warp(image: np.ndarray, matrix: np.ndarray, interpolation: int) -> np.ndarray:
    """Apply a 2 × 3 affine matrix, keeping the image's size; what falls outside becomes black."""
    size = (image.shape[1], image.shape[0])
    return cv2.warpAffine(
        image, matrix, size, flags=interpolation, borderMode=cv2.BORDER_CONSTANT, borderValue=0
    )


class DigitAffine(A.DualTransform):
    """Random shift, scale, rotation and shear of a digit, constant black border.

    Args:
        scale: range of the zoom factor.
        rotate: range of the rotation, degrees.
        shear: range of the horizontal shear, degrees.
        shift_x, shift_y: ranges of the shift, as fractions of the image width and height.
    """

    def __init__(
        self,
        scale: tuple[float, float] = (0.9, 1.1),
        rotate: tuple[float, float] = (-10.0, 10.0),
        shear: tuple[float, float] = (0.0, 0.0),
        shift_x: tuple[float, float] = (0.0, 0.0),
        shift_y: tuple[float, float] = (0.0, 0.0),
        p: float = 0.5,
    ) -> None:
        super().__init__(p=p)
        for name, bounds in (
            ("scale", scale),
            ("rotate", rotate),
            ("shear", shear),
            ("shift_x", shift_x),
            ("shift_y", shift_y),
        ):
            if len(bounds) != 2 or bounds[0] > bounds[1]:
                raise ValueError(f"{name} must be a (low, high) range with low <= high, got {bounds!r}")
        if scale[0] <= 0:
            raise ValueError(f"scale must be positive, got {scale!r}")
        self.scale, self.rotate, self.shear = tuple(scale), tuple(rotate), tuple(shear)
        self.shift_x, self.shift_y = tuple(shift_x), tuple(shift_y)

    def get_params_dependent_on_data(self, params: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
        height, width = params["shape"][:2]
        uniform = self.py_random.uniform
        matrix = affine_matrix(
            width,
            height,
            scale=uniform(*self.scale),
            rotate=uniform(*self.rotate),
            shear=uniform(*self.shear),
            shift_x=uniform(*self.shift_x) * width,
            shift_y=uniform(*self.shift_y) * height,
        )
        return {"matrix": matrix}

    def apply(self, img: np.ndarray, matrix: np.ndarray, **params: Any) -> np.ndarray:
        return warp(img, matrix, cv2.INTER_LINEAR)

    def apply_to_mask(self, mask: np.ndarray, matrix: np.ndarray, **params: Any) -> np.ndarray:
        return warp(mask, matrix, cv2.INTER_NEAREST)

    def get_transform_init_args_names(self) -> tuple[str, ...]:
        return ("scale", "rotate", "shear", "shift_x", "shift_y")
