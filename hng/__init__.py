"""hng: handwritten-number images composed from real MNIST digits.

>>> import hng
>>> result = hng.generate("2026", image_width=140, augment="mild", seed=7)
>>> result.image.shape
(28, 140)
"""

from __future__ import annotations

__version__ = "0.1.0"

from hng.core.generation import (
    GeneratedBatch,
    GeneratedNumber,
    Generator,
    default_generator,
    generate,
    generate_batch,
)
from hng.core.params import (
    DEFAULT_SPACING_RANGE,
    MAX_DIGITS,
    MAX_IMAGE_WIDTH,
    MAX_SPACING,
    SPLITS,
)
from hng.core.png import decode_png, encode_png
from hng.core.result import DigitBox
from hng.mnist.load import MnistData, load_mnist

# Datasets pull in pydantic and the formats: imported on first use, so `import hng` stays quick.
_DATASET_NAMES = ("DatasetSpec", "finalize_dataset", "make_dataset", "stream")


def __getattr__(name: str) -> object:
    if name in _DATASET_NAMES:
        import hng.datasets

        return getattr(hng.datasets, name)
    raise AttributeError(f"module 'hng' has no attribute {name!r}")


__all__ = [
    "DEFAULT_SPACING_RANGE",
    "MAX_DIGITS",
    "MAX_IMAGE_WIDTH",
    "MAX_SPACING",
    "SPLITS",
    "DatasetSpec",
    "DigitBox",
    "GeneratedBatch",
    "GeneratedNumber",
    "Generator",
    "MnistData",
    "__version__",
    "decode_png",
    "default_generator",
    "encode_png",
    "finalize_dataset",
    "generate",
    "generate_batch",
    "load_mnist",
    "make_dataset",
    "stream",
]
