"""The old Flask package's API, kept for people migrating: ``from hng import generator``.

    generator.generate_numbers_sequence(digits=[4, 2], spacing_range=(5, 10), image_width=56)

returns float32 (28, image_width) in [0, 1] and augments by default, as before. New code should call
``hng.generate``, which returns uint8 pixels together with boxes, gaps, indices and the seed.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from hng.core.generation import default_generator
from hng.core.params import DEFAULT_PRESET, parse_flag, parse_number


def generate_numbers_sequence(
    digits: Sequence[int],
    spacing_range: tuple[int, int],
    image_width: int,
    augment_flag: bool | str = "true",
    seed: int | None = None,
) -> np.ndarray:
    """An image of ``digits`` side by side: float32 (28, image_width), 0 = background, 1 = ink."""
    if digits is None:
        raise ValueError("digits is required")
    if isinstance(digits, np.ndarray):
        digits = digits.tolist()
    if isinstance(digits, str | bytes) or not isinstance(digits, Sequence):
        raise TypeError(f"digits must be a list of integers 0-9, got {type(digits).__name__}")
    label = parse_number(digits, "digits")
    if image_width is None:
        raise ValueError("image_width is required")
    augment = DEFAULT_PRESET if parse_flag(augment_flag, "augment_flag") else None
    result = default_generator().generate(
        label, spacing_range=spacing_range, image_width=image_width, augment=augment, seed=seed
    )
    return result.as_float()


def get_mnist_data() -> tuple[np.ndarray, np.ndarray]:
    """All 70,000 MNIST digits (train then test) as float32 (N, 28, 28) in [0, 1], and their labels."""
    data = default_generator().data
    images = np.concatenate([data.train.images, data.test.images]).astype(np.float32)
    images /= np.float32(255)
    return images, np.concatenate([data.train.labels, data.test.labels])
