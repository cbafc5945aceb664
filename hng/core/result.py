"""What a generation returns: the image and everything needed to reproduce and label it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

if TYPE_CHECKING:
    from hng.document.options import Appearance


class DigitBox(NamedTuple):
    """Where one digit's ink lies in the output image, in pixels: columns [x0, x1), rows [y0, y1)."""

    digit: int
    x0: int
    y0: int
    x1: int
    y1: int

    def to_dict(self) -> dict[str, int]:
        return self._asdict()


# Not frozen: a frozen dataclass's __init__ costs 2 µs more, a tenth of a plain image.
@dataclass(eq=False, slots=True)
class GeneratedNumber:
    """One generated image and its facts: (28, width) uint8, 0 = black background, 255 = white ink, unless
    the document options (``appearance``) ink it otherwise: (height, width) grey or (height, width, 3) RGB."""

    image: np.ndarray
    label: str
    boxes: tuple[DigitBox, ...]
    gaps: tuple[int, ...]  # pixels between consecutive digits, before resampling
    indices: tuple[int, ...]  # the MNIST sample of each digit, as an index into `split`
    seed: int
    split: str
    augment: str  # "none", a preset name, or "custom"
    spacing_range: tuple[int, int]
    # (height, width) uint8 label map when asked for (masks=True): 0 background, k the k-th digit's ink.
    mask: np.ndarray | None = None
    appearance: Appearance | None = None  # the document options, None for today's MNIST strip
    # verify_labels: digits drawn again because the reader did not read them as their label, and digits
    # still not read so after MAX_REDRAWS attempts.
    redrawn: int = 0
    unread: int = 0

    @property
    def height(self) -> int:
        return int(self.image.shape[0])

    @property
    def channels(self) -> int:
        return 3 if self.image.ndim == 3 else 1

    @property
    def width(self) -> int:
        return int(self.image.shape[1])

    def as_float(self) -> np.ndarray:
        """The image as float32 in [0, 1], as the old package returned it."""
        return self.image.astype(np.float32) / np.float32(255)

    def to_png(self) -> bytes:
        """The image as a PNG file (8-bit grey, or RGB)."""
        from hng.core.encoding import encode_image

        return encode_image(self.image)

    def encode(self, encoding: str = "png", quality: int = 90) -> bytes:
        """The image as a PNG or JPEG file (``hng.core.encoding.encode_image``)."""
        from hng.core.encoding import encode_image

        return encode_image(self.image, encoding, quality)

    def mask_png(self) -> bytes:
        """The mask as an 8-bit greyscale PNG whose pixel values are the digit labels (0 background)."""
        if self.mask is None:
            raise ValueError("this result has no mask: generate it with masks=True")
        from hng.core.png import encode_png

        return encode_png(self.mask)

    def metadata(self) -> dict[str, Any]:
        """Everything but the pixels, JSON-ready."""
        return {
            "label": self.label,
            "width": self.width,
            "height": self.height,
            "seed": self.seed,
            "split": self.split,
            "augment": self.augment,
            "spacing_range": list(self.spacing_range),
            "gaps": list(self.gaps),
            "indices": list(self.indices),
            "boxes": [box.to_dict() for box in self.boxes],
            **({} if self.appearance is None else {"channels": self.channels, **self.appearance.to_dict()}),
            **({"redrawn": self.redrawn, "unread": self.unread} if self.redrawn or self.unread else {}),
        }


@dataclass(frozen=True, eq=False)
class GeneratedBatch:
    """Many images, stacked; ``batch[i]`` gives the i-th as a ``GeneratedNumber``."""

    images: np.ndarray  # (B, H, W) or (B, H, W, 3) uint8; image i is images[i, :, :widths[i]], 0 past it
    labels: tuple[str, ...]
    boxes: np.ndarray  # (D, 5) int32 rows: digit, x0, y0, x1, y1; D = total digits of the batch
    indices: np.ndarray  # (D,) int32: the MNIST sample of each digit
    gaps: np.ndarray  # (D,) int32: gap after each digit, 0 after an image's last digit
    digit_offsets: np.ndarray  # (B + 1,): image i owns rows digit_offsets[i]:digit_offsets[i + 1]
    seed: int | None  # the batch's stream; None when `seeds` gives one per image
    split: str
    augment: str
    spacing_range: tuple[int, int]
    widths: np.ndarray  # (B,) int32
    fit: str = "stretch"
    seeds: np.ndarray | None = None  # (B,) int64 when each image has its own seed, else None (`seed`)
    masks: np.ndarray | None = None  # (B, H, W) uint8 label maps when asked for, 0 past each width
    appearance: Appearance | None = None  # the document options, None for today's MNIST strips
    redrawn: int = 0  # verify_labels: the batch's redraws (all images)
    unread: int = 0  # verify_labels: the batch's digits still not read as their label

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> GeneratedNumber:
        if not -len(self) <= i < len(self):
            raise IndexError(f"batch index {i} out of range for {len(self)} images")
        i %= len(self)
        rows = slice(int(self.digit_offsets[i]), int(self.digit_offsets[i + 1]))
        seed = int(self.seeds[i]) if self.seeds is not None else self.seed
        if seed is None:
            raise AssertionError("hng bug: seed is unset (a batch has one stream's seed or a seed per image)")
        return GeneratedNumber(
            image=self.images[i, :, : int(self.widths[i])],
            label=self.labels[i],
            boxes=tuple(DigitBox(*map(int, row)) for row in self.boxes[rows]),
            gaps=tuple(int(g) for g in self.gaps[rows][:-1]),
            indices=tuple(int(k) for k in self.indices[rows]),
            seed=seed,
            split=self.split,
            augment=self.augment,
            spacing_range=self.spacing_range,
            mask=None if self.masks is None else self.masks[i, :, : int(self.widths[i])],
            appearance=self.appearance,
        )
