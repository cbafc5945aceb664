"""Styles: how a number's ink coverage becomes the pixels of the final image.

The input is the ink coverage of the placed number, uint8 (H, W): 0 no ink, 255 full ink (MNIST's own
polarity, at the output size). A `Style` turns it into a grey (H, W) or RGB (H, W, 3) uint8 image of the
same size (never clipped, shifted or resized):

- ``mnist``: today's look, white ink on black: grey is the coverage itself; RGB is it on every channel.
- ``ink``: dark ink on white paper, clean: paper * (1 - a) + ink * a with a = coverage / 255, rounded, so
  the anti-aliased edges stay. One lookup table per ink colour, made when the style is built.
- ``paper``: a pen from the palette varied per number, on a paper tone with texture, under uneven light,
  through a camera or scanner (`hng.document.paper`).
- ``background``: the pen on a random crop of one of the user's images (`hng.document.backgrounds`),
  with light camera artefacts.
- ``custom``: the ``ink`` rendering in RGB, then the user's albumentations transform or Compose.

Grey output of a coloured rendering is its luminance (OpenCV's RGB2GRAY). A style is built once and reused
for every image, from any thread: the render for a seed is the same bytes in every call, instance, thread
and process. Styles draw from their own stream of the seed (the seed xor a constant), so that their draws
do not echo the draws generation makes from the same seed.

Styles change pixels only: the label mask is where the ink was laid down, before any artefact.
"""

from __future__ import annotations

import copy
import random
import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np

from hng.core.seeding import pcg64_state
from hng.document import paper
from hng.errors import InvalidInput, InvalidType

if TYPE_CHECKING:
    from hng.document.backgrounds import Backgrounds

STYLE_NAMES = ("mnist", "ink", "paper", "background", "custom")
INK_NAMES = ("black", "blue-black", "blue", "pens")
DEFAULT_INK = "black"  # the ``ink`` and ``custom`` styles
DEFAULT_PEN = "pens"  # the ``paper`` and ``background`` styles

Colour = tuple[int, int, int]
# The pens' nominal colours (RGB): exact in the ``ink`` style, varied per number in ``paper`` and
# ``background`` (lifted off black and lightened or darkened, as a scanned pen stroke is).
PEN_COLOURS: dict[str, Colour] = {
    "black": (0, 0, 0),
    "blue-black": (20, 30, 70),
    "blue": (15, 50, 165),
}
# "pens": the mix of a drawer of ballpoints, by weight.
PEN_MIX: tuple[tuple[str, float], ...] = (("black", 0.4), ("blue-black", 0.25), ("blue", 0.35))
_HEX = re.compile(r"#[0-9a-f]{6}")
_INK_RULE = 'ink must be one of "black", "blue-black", "blue", "pens" or a colour "#rrggbb"'
# Xor-ed into the seed: the style's stream differs from generation's for the same seed.
_STREAM_SALT = 0x5354594C45  # "STYLE"
_MASK64 = (1 << 64) - 1


@dataclass(frozen=True)
class Ink:
    """An ink: one colour, or a mix drawn per number by weight. ``name`` is the canonical spelling."""

    name: str
    colours: tuple[Colour, ...]
    weights: tuple[float, ...]

    @property
    def is_coloured(self) -> bool:
        """Whether any colour it can draw is not a grey (so it needs RGB output to show)."""
        return any(not (r == g == b) for r, g, b in self.colours)

    def pick(self, unit: float) -> Colour:
        """The colour a uniform draw ``unit`` in [0, 1) picks (by weight)."""
        return self.colours[paper.pick_weighted(self.weights, unit)]


def parse_ink(value: str | Ink) -> Ink:
    """An `Ink` from a name in ``INK_NAMES`` or "#rrggbb" (any case, surrounding spaces ignored)."""
    if isinstance(value, Ink):
        return value
    if not isinstance(value, str):
        raise InvalidType("ink", f"{_INK_RULE}, got {type(value).__name__}")
    name = value.strip().lower()
    if name in PEN_COLOURS:
        return Ink(name, (PEN_COLOURS[name],), (1.0,))
    if name == "pens":
        return Ink(name, tuple(PEN_COLOURS[pen] for pen, _ in PEN_MIX), tuple(w for _, w in PEN_MIX))
    if _HEX.fullmatch(name):
        rgb = (int(name[1:3], 16), int(name[3:5], 16), int(name[5:7], 16))
        return Ink(name, (rgb,), (1.0,))
    raise InvalidInput("ink", f"{_INK_RULE}, got {value!r}")


def default_ink(style: str) -> str:
    """The ink a style uses when none is given: black for ink and custom, the pen mix for the others."""
    return DEFAULT_INK if style in ("ink", "custom") else DEFAULT_PEN


def check_pipeline(pipeline: Any, field: str = "style") -> Any:
    """``pipeline`` if it is an albumentations transform or Compose (a custom style), else InvalidType."""
    from hng.augment.albu import A  # albumentations is imported only for custom styles

    if not isinstance(pipeline, A.BaseCompose | A.BasicTransform):
        raise InvalidType(
            field,
            f"{field} must be one of mnist, ink, paper, background or an albumentations transform, got "
            f"{type(pipeline).__name__}",
        )
    return pipeline


_local = threading.local()


def _rng(seed: int) -> np.random.Generator:
    """This thread's generator, re-seeded in place with the style stream of ``seed`` (about 3 µs)."""
    rng = getattr(_local, "rng", None)
    if rng is None:
        rng = _local.rng = np.random.Generator(np.random.PCG64())
    rng.bit_generator.state = pcg64_state(seed ^ _STREAM_SALT)
    return rng


def _unit(seed: int) -> float:
    """One uniform draw in [0, 1) from the style stream of ``seed``, without a generator (under 1 µs where
    re-seeding one costs about 3 µs: a fifth of a clean ``ink`` image)."""
    x = ((seed ^ _STREAM_SALT) + 0x9E3779B97F4A7C15) & _MASK64  # splitmix64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK64
    return ((x ^ (x >> 31)) >> 11) / 9007199254740992.0


def _check(coverage: np.ndarray, channels: int) -> None:
    if not isinstance(coverage, np.ndarray) or coverage.ndim != 2 or coverage.dtype != np.uint8:
        raise ValueError(
            "coverage must be a 2-D uint8 array, got "
            f"{getattr(coverage, 'shape', None)} {getattr(coverage, 'dtype', type(coverage).__name__)}"
        )
    if channels != 1 and channels != 3:
        raise ValueError(f"channels must be 1 or 3, got {channels!r}")


def _per_pixel(
    coverage: np.ndarray, out: np.ndarray | None, convert: Callable[[np.ndarray, Any], np.ndarray]
) -> np.ndarray:
    """A per-pixel OpenCV conversion of a batch (N, H, W) in one call on its rows stacked (N * H, W),
    into ``out`` when it is contiguous (else into a new array, copied to it)."""
    count, height, width = coverage.shape
    rows = np.ascontiguousarray(coverage).reshape(count * height, width)
    if out is not None and out.flags.c_contiguous:
        convert(rows, out.reshape((count * height, width, *out.shape[3:])))
        return out
    converted = convert(rows, None)
    result = converted.reshape((count, height, width, *converted.shape[2:]))
    if out is None:
        return result
    out[...] = result
    return out


def _grey(rgb: np.ndarray, channels: int) -> np.ndarray:
    return rgb if channels == 3 else cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)


class Style:
    """Turns ink coverage into the image's pixels; built once, reused for every image, thread-safe."""

    name: str

    def render(self, coverage: np.ndarray, seed: int, channels: int) -> np.ndarray:
        """Grey (H, W) for ``channels`` 1, RGB (H, W, 3) for 3, uint8, the size of ``coverage``."""
        raise NotImplementedError

    def render_batch(
        self, coverage: np.ndarray, seeds: Sequence[int], channels: int, out: np.ndarray | None = None
    ) -> np.ndarray:
        """``render`` of each of ``coverage`` (N, H, W) with its seed, into ``out`` (N, H, W) or
        (N, H, W, 3) if given, else a new array: the same bytes as one ``render`` per image."""
        if out is None:
            out = np.empty(coverage.shape + ((3,) if channels == 3 else ()), dtype=np.uint8)
        for image, seed, rendered in zip(coverage, seeds, out, strict=True):
            rendered[...] = self.render(image, seed, channels)
        return out

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"


class MnistStyle(Style):
    """White ink on black: the coverage itself (the same array for grey, no copy)."""

    name = "mnist"

    def render(self, coverage: np.ndarray, seed: int, channels: int) -> np.ndarray:
        _check(coverage, channels)
        return coverage if channels == 1 else cv2.cvtColor(coverage, cv2.COLOR_GRAY2RGB)

    def render_batch(
        self, coverage: np.ndarray, seeds: Sequence[int], channels: int, out: np.ndarray | None = None
    ) -> np.ndarray:
        if channels == 1:
            if out is None:
                return coverage
            out[...] = coverage
            return out
        return _per_pixel(coverage, out, lambda rows, dst: cv2.cvtColor(rows, cv2.COLOR_GRAY2RGB, dst=dst))


class InkStyle(Style):
    """Dark ink on pure white paper, clean; a mix of inks picks one colour per number from the seed."""

    name = "ink"

    def __init__(self, ink: Ink) -> None:
        self.ink = ink
        white = (255.0, 255.0, 255.0)
        # Per colour, the RGB table (for cv2.applyColorMap, which is a LUT of a grey image into RGB: about
        # 10 µs at 48 x 240) and its luminance (for cv2.LUT: about 5 µs).
        self._rgb = [paper.ink_table(tuple(map(float, c)), white) for c in ink.colours]
        self._grey = [cv2.cvtColor(table, cv2.COLOR_RGB2GRAY) for table in self._rgb]
        # A grey ink's RGB table has three equal channels, which its luminance table is too.
        self._is_grey = [
            bool(np.array_equal(table[..., 0], grey) and (table == table[..., :1]).all())
            for table, grey in zip(self._rgb, self._grey, strict=True)
        ]

    def _converter(self, index: int, channels: int) -> Callable[[np.ndarray, Any], np.ndarray]:
        """Coverage rows to pixels for colour ``index``: one LUT for grey; for RGB, a grey ink (black)
        is the grey LUT spread to three channels, a third of applyColorMap's cost for the same bytes."""
        grey, rgb = self._grey[index], self._rgb[index]
        if channels == 1:
            return lambda rows, dst: cv2.LUT(rows, grey, dst=dst)
        if self._is_grey[index]:
            return lambda rows, dst: cv2.cvtColor(cv2.LUT(rows, grey), cv2.COLOR_GRAY2RGB, dst=dst)
        return lambda rows, dst: cv2.applyColorMap(rows, rgb, dst=dst)

    def _index(self, seed: int) -> int:
        if len(self.ink.colours) == 1:
            return 0
        return paper.pick_weighted(self.ink.weights, _unit(seed))

    def render(self, coverage: np.ndarray, seed: int, channels: int) -> np.ndarray:
        _check(coverage, channels)
        index = self._index(seed)
        if channels == 1:
            return cv2.LUT(coverage, self._grey[index])
        # applyColorMap copies the table's channels as they are: RGB in, RGB out.
        return cv2.applyColorMap(coverage, self._rgb[index])

    def render_batch(
        self, coverage: np.ndarray, seeds: Sequence[int], channels: int, out: np.ndarray | None = None
    ) -> np.ndarray:
        indices = np.array([self._index(seed) for seed in seeds], dtype=np.intp)
        if out is None:
            out = np.empty(coverage.shape + ((3,) if channels == 3 else ()), dtype=np.uint8)
        for index in np.unique(indices).tolist():
            chosen = np.flatnonzero(indices == index)
            convert = self._converter(index, channels)

            if chosen.size == indices.size:
                _per_pixel(coverage, out, convert)
            else:
                out[chosen] = _per_pixel(coverage[chosen], None, convert)
        return out


class PaperStyle(Style):
    """A pen on paper, scanned or photographed (`hng.document.paper`)."""

    name = "paper"

    def __init__(self, ink: Ink, look: paper.Look = paper.PAPER) -> None:
        self.ink = ink
        self.look = look
        paper.fields()  # made now rather than inside the first image

    def render(self, coverage: np.ndarray, seed: int, channels: int) -> np.ndarray:
        _check(coverage, channels)
        rng = _rng(seed)
        colour = self.ink.pick(float(rng.random()))
        return _grey(paper.render(coverage, rng, colour, self.look), channels)


class BackgroundStyle(Style):
    """A pen on a random crop of one of the user's images, lightly shot (`paper.LIGHT`)."""

    name = "background"

    def __init__(self, ink: Ink, backgrounds: Backgrounds, look: paper.Look = paper.LIGHT) -> None:
        self.ink = ink
        self.backgrounds = backgrounds
        self.look = look
        paper.fields()

    def render(self, coverage: np.ndarray, seed: int, channels: int) -> np.ndarray:
        _check(coverage, channels)
        rng = _rng(seed)
        colour = self.ink.pick(float(rng.random()))
        sheet = self.backgrounds.crop(rng, *coverage.shape)
        return _grey(paper.render(coverage, rng, colour, self.look, sheet=sheet), channels)


class CustomStyle(Style):
    """The ``ink`` rendering in RGB, then the user's albumentations pipeline, seeded per image.

    The style keeps a copy of the pipeline, given its own random streams once (``set_random_state``) and
    re-seeded per image under a lock, as `hng.augment.augmenter.Augmenter` does. The pipeline must keep
    the image's shape and dtype (RGB uint8).
    """

    name = "custom"

    def __init__(self, ink: Ink, pipeline: Any) -> None:
        from hng.augment.albu import A  # albumentations is imported only for custom styles

        if not isinstance(pipeline, A.BaseCompose | A.BasicTransform):
            raise InvalidType(
                "style",
                f"a custom style takes an albumentations transform or Compose, got {type(pipeline).__name__}",
            )
        self.ink = ink
        # A copy of its own: a pipeline object shared by two styles would otherwise draw from whichever
        # style set its random state last, and two locks would not keep them apart.
        self.pipeline = copy.deepcopy(pipeline)
        self._inked = InkStyle(ink)
        self._np_random = np.random.Generator(np.random.PCG64())
        # Security (B311): reproducible augmentation, not a secret.
        self._py_random = random.Random(0)  # nosec B311
        self.pipeline.set_random_state(self._np_random, self._py_random)
        self._lock = threading.Lock()

    def render(self, coverage: np.ndarray, seed: int, channels: int) -> np.ndarray:
        _check(coverage, channels)
        image = self._inked.render(coverage, seed, 3)
        with self._lock:
            self._np_random.bit_generator.state = pcg64_state(seed ^ _STREAM_SALT)
            self._py_random.seed(seed ^ _STREAM_SALT)
            out = self.pipeline(image=image)["image"]
        if not isinstance(out, np.ndarray) or out.dtype != np.uint8 or out.shape != image.shape:
            raise ValueError(
                f"the custom style's pipeline must keep the image's shape and dtype {image.shape} uint8, got "
                f"{getattr(out, 'shape', None)} {getattr(out, 'dtype', type(out).__name__)}"
            )
        return _grey(np.ascontiguousarray(out), channels)


def make_style(
    name: str,
    *,
    ink: Ink | str | None = None,
    backgrounds: Backgrounds | None = None,
    pipeline: Any = None,
) -> Style:
    """The style ``name`` (one of ``STYLE_NAMES``), built once for reuse.

    ``ink`` (an `Ink` or a name for `parse_ink`) defaults to black for ``ink`` and ``custom`` and to the
    "pens" mix for ``paper`` and ``background``; ``mnist`` takes none. ``backgrounds`` is required by, and
    only taken by, ``background``; ``pipeline`` likewise by ``custom``.
    """
    if name not in STYLE_NAMES:
        raise InvalidInput("style", f"style must be one of {', '.join(STYLE_NAMES)}, got {name!r}")
    if backgrounds is not None and name != "background":
        raise InvalidInput("background", f"background images are for the background style, not {name!r}")
    if pipeline is not None and name != "custom":
        raise InvalidInput("style", f"a pipeline is for the custom style, not {name!r}")
    if name == "mnist":
        if ink is not None:
            raise InvalidInput("ink", "the mnist style draws white ink on black: it takes no ink colour")
        return MnistStyle()
    if name in ("ink", "custom"):
        chosen = parse_ink(DEFAULT_INK if ink is None else ink)
        if name == "ink":
            return InkStyle(chosen)
        if pipeline is None:
            raise InvalidInput("style", "the custom style needs an albumentations pipeline")
        return CustomStyle(chosen, pipeline)
    chosen = parse_ink(DEFAULT_PEN if ink is None else ink)
    if name == "paper":
        return PaperStyle(chosen)
    if backgrounds is None:
        raise InvalidInput("background", "the background style needs background images")
    return BackgroundStyle(chosen, backgrounds)
