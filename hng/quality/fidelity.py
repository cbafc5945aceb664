"""Label fidelity: do the digits of generated images, cut out by their boxes, read as their labels?

A dataset's labels are right by construction; this checks that the pictures agree: that boxes cut out
whole digits, and that resizing, augmentation and styling left them readable. Each image is first brought
to MNIST's polarity (``hng.quality.readability.mnist_polarity``: grey, ink bright on black, whatever its
style, height or channels); each box is then cut out and read by the nearest-neighbour classifier of
``hng.quality.readability`` (robust reading), which scales any cut-out to 20 x 20. For reference, plain
MNIST digits read 0.97 of the time (bench/readability.py), augmented ones 0.93-0.97. Reading 500
images of 5 digits takes about a second; fitting the classifier about 3 s.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from hng.core.files import file_identity
from hng.core.params import parse_split
from hng.mnist.load import MnistData
from hng.quality.readability import BLANK, NearestNeighbours, fit_classifier, mnist_polarity
from hng.settings import load_settings

if TYPE_CHECKING:
    from hng.quality.verify import LabelReader


class DigitReader(Protocol):
    """What `label_fidelity` reads digits with: ``NearestNeighbours`` or the faster ``LabelReader``."""

    def read(self, patches: Sequence[np.ndarray]) -> np.ndarray: ...


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


def fidelity_classifier(data: MnistData, dataset_split: str, *, cache: bool = True) -> NearestNeighbours:
    """The classifier that judges a dataset drawn from ``dataset_split``: fitted on the other split.

    A train-split dataset is read by a classifier fitted on the 10,000 test digits, a test-split one by
    one fitted on 10,000 train digits (seed 0), so the classifier never saw the very MNIST samples it
    reads: a nearest-neighbour vote over its own training digits would read them perfectly and hide
    any damage.

    Fitting takes seconds and always gives the same vectors for the same data file, so with ``cache``
    they are kept in the user's cache folder (``$HNG_CACHE_DIR``, else ``$XDG_CACHE_HOME/hng`` or
    ``~/.cache/hng``; 23 MB per split) and loaded in milliseconds next time. A cache that cannot be
    read or written is ignored.
    """
    other = "test" if parse_split(dataset_split) == "train" else "train"
    path = cache_path(data, f"fidelity-v{_CACHE_VERSION}-{other}") if cache else None
    if path is not None and path.is_file():
        try:
            with np.load(path, allow_pickle=False) as cached:
                return NearestNeighbours(cached["vectors"], cached["labels"], robust=True)
        except (OSError, ValueError, KeyError):
            pass
    classifier = fit_classifier(data.split(other), CLASSIFIER_DIGITS, CLASSIFIER_SEED)
    if path is not None:
        _store(path, classifier)
    return classifier


def fidelity_reader(data: MnistData, dataset_split: str, *, cache: bool = True) -> LabelReader:
    """`fidelity_classifier`'s digits in ``hng.quality.verify.LabelReader``, the reader that makes its
    decisions with a candidate search (the same readings on MNIST's test digits raw, `mild` and `strong`
    and on document looks; tests compare them) in about a quarter of the time: what finalize reads
    its sample with (2,500 digits: about 0.3 s here instead of 1.2 s)."""
    from hng.quality.verify import LabelReader

    classifier = fidelity_classifier(data, dataset_split, cache=cache)
    other = "test" if parse_split(dataset_split) == "train" else "train"
    # The search's principal axes are cached beside the classifier: computing them is most of a
    # finalize's reading time.
    path = cache_path(data, f"fidelity-axes-v{_CACHE_VERSION}-{other}") if cache else None
    if path is not None and path.is_file():
        try:
            with np.load(path, allow_pickle=False) as cached:
                return LabelReader(classifier.vectors, classifier.labels, basis=cached["basis"])
        except (OSError, ValueError, KeyError):
            pass
    reader = LabelReader(classifier.vectors, classifier.labels)
    if path is not None:
        store_arrays(path, basis=reader.basis)
    return reader


# Part of the cache's file name: bump it whenever normalising or fitting changes what a fit gives.
_CACHE_VERSION = 1


def cache_path(data: MnistData, stem: str) -> Path | None:
    """Where something computed from ``data`` alone is cached: ``{stem}-{identity}.npz`` in the user's
    cache folder (None for data not loaded from a file)."""
    if data.path is None:
        return None
    try:
        digest = file_identity(data.path, CLASSIFIER_DIGITS)  # without hashing its 55 MB
    except OSError:
        return None
    return load_settings().cache_dir / f"{stem}-{digest}.npz"


def _store(path: Path, classifier: NearestNeighbours) -> None:
    store_arrays(path, vectors=classifier.vectors, labels=classifier.labels)


def store_arrays(path: Path, **arrays: np.ndarray) -> None:
    """Write ``arrays`` to the npz ``path`` whole (a temporary file renamed); a cache that cannot be
    written is left alone."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        with os.fdopen(fd, "wb") as handle:
            np.savez(handle, **arrays)  # type: ignore[arg-type]  # numpy stubs take allow_pickle here
        os.replace(tmp, path)
    except OSError:
        with contextlib.suppress(OSError, UnboundLocalError):
            os.unlink(tmp)


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
    classifier: DigitReader,
) -> FidelityResult:
    """Cut each digit out of its image by its box, read it, and compare with the label.

    The arrays follow ``hng.datasets.shard.Shard``: ``images`` (N, H, W) grey or (N, H, W, 3) RGB uint8
    of any style (image i is ``images[i, :, :widths[i]]``), ``labels`` strings of digits, ``lengths``
    (N,), ``boxes`` (N, L, 4) rows x0, y0, x1, y1 (half-open), PAD past each label's length. Each image
    goes through ``mnist_polarity`` before its boxes are cut out (white-on-black grey images unchanged).
    A box that cuts out no ink is counted in ``blank_boxes`` and as a misread digit.
    """
    images = np.asarray(images)
    widths = np.asarray(widths, dtype=np.int64)
    lengths = np.asarray(lengths, dtype=np.int64)
    boxes = np.asarray(boxes)
    count = len(images)
    if not (images.ndim == 3 or (images.ndim == 4 and images.shape[3] == 3)) or images.dtype != np.uint8:
        raise ValueError(
            "images must be (N, height, width) or (N, height, width, 3) uint8, "
            f"got {images.shape} {images.dtype}"
        )
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
    current, grey = -1, images[0, :0, :0]
    for i, j in zip(owner.tolist(), position.tolist(), strict=True):
        if i != current:
            # Columns past the image's width are padding: they must not count in its paper's level.
            current, grey = i, mnist_polarity(images[i, :, : int(widths[i])])
        x0, y0, x1, y1 = (int(v) for v in boxes[i, j])
        x0, y0 = max(x0, 0), max(y0, 0)
        patches.append(grey[y0:y1, x0:x1] if x1 > x0 and y1 > y0 else grey[:0, :0])
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
