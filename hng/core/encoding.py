"""How images are stored as files: PNG (lossless, the default) or JPEG with a quality drawn per image.

Colour images are RGB in hng's arrays; OpenCV encodes BGR, so they are converted here and nowhere else.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from hng.core.params import check_int
from hng.core.seeding import child_seed
from hng.errors import InvalidInput, InvalidType

IMAGE_ENCODINGS = ("png", "jpeg")
SUFFIXES = {"png": ".png", "jpeg": ".jpg"}
ENCODING_OF_SUFFIX = {suffix: encoding for encoding, suffix in SUFFIXES.items()}
MEDIA_TYPES = {"png": "image/png", "jpeg": "image/jpeg"}
# Scanned and photographed documents: visible but moderate compression.
DEFAULT_JPEG_QUALITY = (75, 95)


def parse_jpeg_quality(value: Any, name: str = "jpeg_quality") -> tuple[int, int]:
    """A quality (``90``) or an inclusive range (``[75, 95]``), each 1 to 100."""
    if isinstance(value, list | tuple):
        if len(value) != 2:
            raise InvalidInput(
                name, f"{name} must be a quality or a [low, high] pair, got {len(value)} values"
            )
        low = check_int(f"{name} low", value[0], minimum=1, maximum=100)
        high = check_int(f"{name} high", value[1], minimum=1, maximum=100)
        if low > high:
            raise InvalidInput(name, f"{name}: low {low} must not be greater than high {high}")
        return low, high
    if isinstance(value, str):
        raise InvalidType(name, f"{name} must be an integer 1-100 or a [low, high] pair, got {value!r}")
    quality = check_int(name, value, minimum=1, maximum=100)
    return quality, quality


def jpeg_quality_for(seed: int, quality: tuple[int, int]) -> int:
    """The JPEG quality of the image made from ``seed``: a uniform draw from the range, fixed by the seed."""
    low, high = quality
    return low + child_seed(seed, 0x4A50) % (high - low + 1)


def encode_image(image: np.ndarray, encoding: str = "png", quality: int = 90) -> bytes:
    """``image`` ((H, W) grey or (H, W, 3) RGB uint8) as a PNG or a baseline JPEG of ``quality``."""
    import cv2

    pixels = cv2.cvtColor(image, cv2.COLOR_RGB2BGR) if image.ndim == 3 else image
    if encoding == "png":
        from hng.core.png import encode_png

        return encode_png(pixels)
    if encoding != "jpeg":
        raise ValueError(f"encoding must be one of {', '.join(IMAGE_ENCODINGS)}, got {encoding!r}")
    ok, buffer = cv2.imencode(".jpg", pixels, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise RuntimeError("OpenCV could not encode the image as JPEG")
    return buffer.tobytes()


def decode_image(data: bytes) -> np.ndarray:
    """PNG or JPEG bytes as (H, W) grey or (H, W, 3) RGB uint8; ValueError if they are neither."""
    import cv2

    if sniff_encoding(data) is None:
        raise ValueError("data is neither a PNG nor a JPEG file")
    image = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_UNCHANGED)
    if image is None:
        raise ValueError("data is not a decodable image")
    if image.ndim == 3:
        if image.shape[2] != 3:
            raise ValueError(f"expected a grey or RGB image, got {image.shape[2]} channels")
        image = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    return image


def sniff_encoding(data: bytes) -> str | None:
    """ "png" or "jpeg" by the file's first bytes (its signature, its SOI marker); None for neither."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    return None


class JpegFrame(NamedTuple):
    """A JPEG's frame header (its SOFn segment): sample precision in bits, size and colour components."""

    precision: int
    height: int
    width: int
    components: int


# Start-of-frame markers: 0xC0-0xCF but for DHT (C4), JPG (C8) and DAC (CC), which share the range.
_SOF_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}


def jpeg_frame(data: bytes) -> JpegFrame | None:
    """The frame header of JPEG ``data``, found by walking its segments from the SOI marker (a few
    lengths read: microseconds, no decoding); None if there is no SOI or no whole SOFn before the scan."""
    if not data.startswith(b"\xff\xd8"):
        return None
    i, end = 2, len(data)
    while i + 4 <= end:
        if data[i] != 0xFF:
            return None
        marker = data[i + 1]
        if marker == 0xFF:  # a fill byte before the marker
            i += 1
            continue
        if marker in (0xDA, 0xD9):  # the scan, or the end of the image, before any frame header
            return None
        length = int.from_bytes(data[i + 2 : i + 4], "big")
        if length < 2 or i + 2 + length > end:
            return None
        if marker in _SOF_MARKERS:
            if length < 8:
                return None
            return JpegFrame(
                precision=data[i + 4],
                height=int.from_bytes(data[i + 5 : i + 7], "big"),
                width=int.from_bytes(data[i + 7 : i + 9], "big"),
                components=data[i + 9],
            )
        i += 2 + length
    return None
