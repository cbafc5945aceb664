"""Label fidelity: do the digits of generated images, cut out by their boxes, read as their labels?

A dataset's labels are right by construction; this checks that the pictures agree: that boxes cut out
whole digits, and that resizing and augmentation left them readable. Each box is cut out and read by the
nearest-neighbour classifier of ``hng.quality.readability`` (robust reading). For reference, plain
MNIST digits read 0.97 of the time (bench/readability.py), augmented ones 0.93-0.97. Reading 500
images of 5 digits takes about a second; fitting the classifier about 3 s.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hng.mnist.dataset import MnistData
from hng.params import parse_split
from hng.quality.readability import BLANK, NearestNeighbours, fit_classifier

# Digits the classifier is fitted on: all of the test split, a sixth of the train split.
CLASSIFIER_DIGITS = 10_000
CLASSIFIER_SEED = 0


@dataclass(frozen=True)
class FidelityResult:
    """How the checked digits read; shares are in [0, 1]."""

    digits: int  # boxes checked (blank ones included: they count as misread)
    read_as_label: float  # share of the digits read as the label says
    numbers_read: float  # share of the images whose every digit reads right
    per_digit: dict[str, float] = field(default_factory=dict)  # "0"-"9" -> share, digits that occur
    blank_boxes: int = 0  # boxes that cut out no ink at all

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (the ``report.fidelity`` of a dataset's manifest, but for ``sample_images``)."""
        return {
            "digits": self.digits,
            "read_as_label": self.read_as_label,
            "numbers_read": self.numbers_read,
            "per_digit": dict(self.per_digit),
            "blank_boxes": self.blank_boxes,
        }


def fidelity_classifier(data: MnistData, dataset_split: str) -> NearestNeighbours:
    """The classifier that judges a dataset drawn from ``dataset_split``: fitted on the other split.

    A train-split dataset is read by a classifier fitted on the 10,000 test digits, a test-split one by
    one fitted on 10,000 train digits (seed 0), so the classifier never saw the very MNIST samples it
    reads: a nearest-neighbour vote over its own training digits would read them perfectly and hide
    any damage.
    """
    other = "test" if parse_split(dataset_split) == "train" else "train"
    return fit_classifier(data.split(other), CLASSIFIER_DIGITS, CLASSIFIER_SEED)


def _label_digits(labels: np.ndarray, lengths: np.ndarray, longest: int) -> np.ndarray:
    """(N, longest) int64: each label's digits, -1 past its length."""
    labels = np.asarray(labels, dtype=str)
    if not np.array_equal(np.char.str_len(labels), lengths):
        raise ValueError("each label must have as many characters as its length says")
    codes = labels.astype(f"<U{max(longest, 1)}")
    digits = codes.view(np.uint32).reshape(len(codes), -1)[:, :longest].astype(np.int64) - ord("0")
    past = np.arange(longest)[None, :] >= lengths[:, None]
    if ((digits < 0) | (digits > 9))[~past].any():
        raise ValueError("labels must be strings of digits 0-9")
    digits[past] = -1
    return digits


def label_fidelity(
    images: np.ndarray,
    widths: np.ndarray,
    labels: np.ndarray,
    lengths: np.ndarray,
    boxes: np.ndarray,
    classifier: NearestNeighbours,
) -> FidelityResult:
    """Cut each digit out of its image by its box, read it, and compare with the label.

    The arrays follow ``hng.datasets.shard.Shard``: ``images`` (N, 28, W) uint8 (image i is
    ``images[i, :, :widths[i]]``), ``labels`` strings of digits, ``lengths`` (N,), ``boxes`` (N, L, 4)
    rows x0, y0, x1, y1 (half-open), PAD past each label's length. A box that cuts out no ink is
    counted in ``blank_boxes`` and as a misread digit.
    """
    images = np.asarray(images)
    widths = np.asarray(widths, dtype=np.int64)
    lengths = np.asarray(lengths, dtype=np.int64)
    boxes = np.asarray(boxes)
    count = len(images)
    if images.ndim != 3 or images.dtype != np.uint8:
        raise ValueError(f"images must be (N, height, width) uint8, got {images.shape} {images.dtype}")
    if count == 0:
        raise ValueError("no images to check")
    if not (widths.shape == lengths.shape == (count,) and len(labels) == count):
        raise ValueError("widths, labels and lengths must have one entry per image")
    longest = int(lengths.max())
    if boxes.ndim != 3 or boxes.shape[0] != count or boxes.shape[1] < longest or boxes.shape[2] != 4:
        raise ValueError(f"boxes must be (N, at least {longest}, 4), got {boxes.shape}")
    truth = _label_digits(labels, lengths, longest)

    owner, position = np.nonzero(np.arange(longest)[None, :] < lengths[:, None])
    patches = []
    for i, j in zip(owner.tolist(), position.tolist(), strict=True):
        x0, y0, x1, y1 = (int(v) for v in boxes[i, j])
        x1 = min(x1, int(widths[i]))  # columns past the image's width are padding
        x0, y0 = max(x0, 0), max(y0, 0)
        patches.append(images[i, y0:y1, x0:x1] if x1 > x0 and y1 > y0 else images[i, :0, :0])
    read = classifier.read(patches)
    expected = truth[owner, position]
    right = read == expected

    per_image = np.ones(count, dtype=bool)
    np.logical_and.at(per_image, owner, right)
    per_digit = {str(d): float(right[expected == d].mean()) for d in range(10) if bool((expected == d).any())}
    return FidelityResult(
        digits=len(read),
        read_as_label=float(right.mean()) if len(read) else 0.0,
        numbers_read=float(per_image.mean()),
        per_digit=per_digit,
        blank_boxes=int((read == BLANK).sum()),
    )
