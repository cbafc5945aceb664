"""The user's own paper or form images, for the ``background`` style.

Images are decoded once (RGB uint8) and kept in memory; each rendered image takes a random crop of one of
them, drawn from the image's seed. A crop is taken at the image's own scale times a random jitter
(``scale_range``), and scaled up as much as needed to cover the output when the image is smaller.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from hng.errors import InvalidInput

EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
MIN_SIDE = 8
# A crop's scale: 1 takes the image's pixels as they are; more zooms in (a smaller window, enlarged).
DEFAULT_SCALE_RANGE = (0.8, 1.25)
_FIELD = "background"


def _rgb(bgr: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def _read(file: Path) -> bytes:
    """The file's bytes; none when it cannot be read (it is then skipped, as one that does not decode)."""
    try:
        return file.read_bytes()
    except OSError:
        return b""


def _decode(blob: bytes) -> np.ndarray | None:
    """BGR uint8, or None for bytes OpenCV cannot decode (it raises on some, returns None on others)."""
    if not blob:
        return None
    try:
        return cv2.imdecode(np.frombuffer(blob, dtype=np.uint8), cv2.IMREAD_COLOR)
    except cv2.error:
        return None


class Backgrounds:
    """Background images (RGB uint8, read-only), in a fixed order (file names sorted), and what was skipped.

    ``skipped`` names the files that did not decode as images (empty when built from arrays).
    """

    def __init__(
        self,
        images: Sequence[np.ndarray],
        names: Sequence[str],
        source: str,
        *,
        skipped: Sequence[str] = (),
        scale_range: tuple[float, float] = DEFAULT_SCALE_RANGE,
    ) -> None:
        if not images:
            raise InvalidInput(_FIELD, f"{source} holds no readable image ({', '.join(EXTENSIONS)})")
        low, high = scale_range
        if not 0 < low <= high:
            raise InvalidInput(_FIELD, f"scale_range must be 0 < low <= high, got {scale_range!r}")
        kept = []
        for image, name in zip(images, names, strict=True):
            if (
                not isinstance(image, np.ndarray)
                or image.dtype != np.uint8
                or image.ndim != 3
                or image.shape[2] != 3
            ):
                raise InvalidInput(
                    _FIELD,
                    f"background {name} must be an RGB uint8 array (H, W, 3), got "
                    f"{getattr(image, 'shape', None)} {getattr(image, 'dtype', type(image).__name__)}",
                )
            if min(image.shape[:2]) < MIN_SIDE:
                raise InvalidInput(
                    _FIELD,
                    f"background {name} is {image.shape[1]}x{image.shape[0]} pixels: "
                    f"backgrounds must be at least {MIN_SIDE}x{MIN_SIDE}",
                )
            image = np.ascontiguousarray(image)
            image.flags.writeable = False
            kept.append(image)
        self.images: tuple[np.ndarray, ...] = tuple(kept)
        self.names: tuple[str, ...] = tuple(names)
        self.source = source
        self.skipped: tuple[str, ...] = tuple(skipped)
        self.scale_range = (float(low), float(high))
        self._log_range = (math.log(low), math.log(high))

    @classmethod
    def from_folder(
        cls, path: str | os.PathLike, *, scale_range: tuple[float, float] = DEFAULT_SCALE_RANGE
    ) -> Backgrounds:
        """Every image file directly in ``path`` (by extension, any case; not sub-folders); files that do
        not decode are skipped and listed in ``skipped``."""
        folder = Path(path)
        if not folder.is_dir():
            raise InvalidInput(_FIELD, f"{folder} is not a folder")
        files = sorted(f for f in folder.iterdir() if f.suffix.lower() in EXTENSIONS and f.is_file())
        # Bytes then imdecode rather than imread: no OpenCV warning on stderr for a file that does not decode.
        return cls.from_encoded(
            [_read(f) for f in files], [f.name for f in files], str(folder), scale_range=scale_range
        )

    @classmethod
    def from_encoded(
        cls,
        blobs: Sequence[bytes],
        names: Sequence[str],
        source: str,
        *,
        scale_range: tuple[float, float] = DEFAULT_SCALE_RANGE,
    ) -> Backgrounds:
        """Images from encoded files' bytes (downloaded from S3, say), decoded with ``cv2.imdecode``; the
        ones that do not decode are skipped and listed in ``skipped``. Put them in a fixed order (sorted
        by key): the order decides which image a seed picks."""
        images, kept, skipped = [], [], []
        for blob, name in zip(blobs, names, strict=True):
            image = _decode(blob)
            if image is None:
                skipped.append(name)
                continue
            images.append(_rgb(image))
            kept.append(name)
        return cls(images, kept, source, skipped=skipped, scale_range=scale_range)

    @classmethod
    def from_images(
        cls,
        images: Sequence[np.ndarray],
        source: str = "images",
        *,
        scale_range: tuple[float, float] = DEFAULT_SCALE_RANGE,
    ) -> Backgrounds:
        """Images already in memory: RGB uint8 (H, W, 3) arrays, or grey (H, W) ones."""
        rgb = [
            cv2.cvtColor(image, cv2.COLOR_GRAY2RGB)
            if isinstance(image, np.ndarray) and image.ndim == 2
            else image
            for image in images
        ]
        return cls(rgb, [f"{source}[{i}]" for i in range(len(rgb))], source, scale_range=scale_range)

    def __len__(self) -> int:
        return len(self.images)

    def __repr__(self) -> str:
        return f"<Backgrounds {len(self.images)} from {self.source}, {len(self.skipped)} skipped>"

    def crop(self, rng: np.random.Generator, height: int, width: int) -> np.ndarray:
        """A random (height, width, 3) RGB crop of a random image: a window of the image at a random scale
        in ``scale_range`` (at least the scale that covers the output), resized to the output."""
        if height < 1 or width < 1:
            raise ValueError(f"a crop needs a positive size, got {height}x{width}")
        image = self.images[int(rng.integers(len(self.images)))] if len(self.images) > 1 else self.images[0]
        rows, cols = image.shape[:2]
        cover = max(height / rows, width / cols)
        low, high = self._log_range
        scale = max(cover, math.exp(low + (high - low) * float(rng.random())))
        window_rows = min(rows, max(1, round(height / scale)))
        window_cols = min(cols, max(1, round(width / scale)))
        y = int(rng.integers(rows - window_rows + 1))
        x = int(rng.integers(cols - window_cols + 1))
        window = image[y : y + window_rows, x : x + window_cols]
        if window.shape[:2] == (height, width):
            return window.copy()
        # Area averaging only for a real shrink: at 48 x 240 it costs several times linear's 15 µs.
        shrink = window_rows > 1.5 * height or window_cols > 1.5 * width
        interpolation = cv2.INTER_AREA if shrink else cv2.INTER_LINEAR
        return cv2.resize(window, (width, height), interpolation=interpolation)


# A prefix may hold at most this many images: they are all decoded and kept in memory.
MAX_S3_IMAGES = 1000


def load_backgrounds(source: str) -> Backgrounds:
    """The images of a folder, or of an ``s3://bucket/prefix`` (every object under it whose name has an
    image suffix, in key order), decoded once."""
    if not source.startswith("s3://"):
        return Backgrounds.from_folder(source)
    bucket, _, prefix = source[len("s3://") :].partition("/")
    if not bucket:
        raise InvalidInput(_FIELD, f"background must look like s3://bucket/prefix, got {source!r}")
    from botocore.exceptions import BotoCoreError, ClientError

    from hng.aws.clients import BULK, make_client

    client = make_client("s3", BULK)
    try:
        keys = []
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            keys += [item["Key"] for item in page.get("Contents", ())]
        keys = sorted(key for key in keys if Path(key).suffix.lower() in EXTENSIONS)
        if len(keys) > MAX_S3_IMAGES:
            raise InvalidInput(
                _FIELD, f"{source} holds {len(keys):,} images; at most {MAX_S3_IMAGES:,} are taken"
            )
        blobs = [client.get_object(Bucket=bucket, Key=key)["Body"].read() for key in keys]
    except (BotoCoreError, ClientError) as error:
        raise InvalidInput(_FIELD, f"cannot read the background images at {source}: {error}") from None
    return Backgrounds.from_encoded(blobs, keys, source)
