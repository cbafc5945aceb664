"""The options of the document stage, validated by one set of rules for every entry point.

A number's look beyond its digits: the style that inks it (``mnist``, ``ink``, ``paper``, ``background``
or a custom albumentations pipeline), the ink colour, the user's background images, the geometry of the
whole image (rotation, shear, perspective, elastic ranges), the output height, the channels and the
stroke rule. The Python API, the CLI, ``DatasetSpec`` and the HTTP models all call ``parse_appearance``,
so a value breaks the same rule with the same message wherever it comes from.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass
from typing import Any

from hng.core.compose import HEIGHT
from hng.core.params import check_choice, check_int
from hng.errors import InvalidInput, InvalidType

STYLES = ("mnist", "ink", "paper", "background")
# Styles that draw ink on paper (the ones ``ink`` applies to).
INKED_STYLES = ("ink", "paper", "background")
STROKES = ("natural", "uniform")
CHANNELS = (1, 3)
MIN_HEIGHT = 16
MAX_HEIGHT = 256
DEFAULT_HEIGHT = HEIGHT
# Largest magnitudes of the geometry ranges: degrees, degrees, a share of the height, pixels at MNIST scale.
MAX_ROTATE = 45.0
MAX_SHEAR = 30.0
MAX_PERSPECTIVE = 0.2
MAX_ELASTIC = 4.0
# The geometry fields: (name, largest magnitude, whether a single number x means (-x, x) or (0, x)).
GEOMETRY_FIELDS = (
    ("rotate", MAX_ROTATE, True),
    ("shear", MAX_SHEAR, True),
    ("perspective", MAX_PERSPECTIVE, False),
    ("elastic", MAX_ELASTIC, False),
)
NO_RANGE = (0.0, 0.0)
# Every document option, as the library, the CLI, DatasetSpec and the HTTP models name it.
DOCUMENT_FIELDS = (
    "style",
    "ink",
    "background",
    "rotate",
    "shear",
    "perspective",
    "elastic",
    "height",
    "channels",
    "stroke",
)
# Where the HTTP API takes background images from: key prefixes under this one in the deployment's bucket.
BACKGROUNDS_PREFIX = "backgrounds/"


@dataclass(frozen=True, slots=True)
class Appearance:
    """A validated look; ``Appearance()`` is today's MNIST strip, 28 rows, grey."""

    style: str = "mnist"  # one of STYLES, or "custom" with ``pipeline``
    ink: str | None = None  # None: the style's own (black for ink, the pen palette for paper/background)
    background: str | None = None  # a folder or an s3:// prefix of the user's images (style background)
    rotate: tuple[float, float] = NO_RANGE
    shear: tuple[float, float] = NO_RANGE
    perspective: tuple[float, float] = NO_RANGE
    elastic: tuple[float, float] = NO_RANGE
    height: int = DEFAULT_HEIGHT
    channels: int = 1
    stroke: str = "natural"
    pipeline: Any = None  # an albumentations transform for style "custom" (Python API only)

    @property
    def is_default(self) -> bool:
        """True when the document stage would change nothing: today's images, byte for byte."""
        return self == DEFAULT_APPEARANCE

    @property
    def has_geometry(self) -> bool:
        return any(getattr(self, name) != NO_RANGE for name, _, _ in GEOMETRY_FIELDS)

    def to_dict(self) -> dict[str, Any]:
        """The fields that differ from the default, JSON-ready (a result's and a manifest's record)."""
        shown: dict[str, Any] = {}
        for name in ("style", "ink", "background", "height", "channels", "stroke"):
            value = getattr(self, name)
            if value != getattr(DEFAULT_APPEARANCE, name):
                shown[name] = value
        for name, _, _ in GEOMETRY_FIELDS:
            if getattr(self, name) != NO_RANGE:
                shown[name] = list(getattr(self, name))
        return shown


DEFAULT_APPEARANCE = Appearance()


def parse_range(name: str, value: Any, maximum: float, symmetric: bool) -> tuple[float, float]:
    """A range of a geometry field: a number x means (-x, x) (``symmetric``) or (0, x); a pair is
    (low, high). Magnitudes up to ``maximum``; the one-sided fields take no negative values."""
    if value is None:
        return NO_RANGE
    if _is_number(value):
        x = float(value)
        if x < 0:
            rule = "a magnitude, not negative" if symmetric else "not negative"
            raise InvalidInput(name, f"{name} must be {rule}, got {value!r}")
        low, high = (-x, x) if symmetric else (0.0, x)
    elif isinstance(value, list | tuple):
        if len(value) != 2 or not all(_is_number(v) for v in value):
            raise InvalidInput(
                name, f"{name} must be a number or a [low, high] pair of numbers, got {value!r}"
            )
        low, high = float(value[0]), float(value[1])
        if low > high:
            raise InvalidInput(name, f"{name}: low {low:g} must not be greater than high {high:g}")
        if not symmetric and low < 0:
            raise InvalidInput(name, f"{name} must not be negative, got {low:g}")
    else:
        raise InvalidType(
            name, f"{name} must be a number or a [low, high] pair of numbers, got {type(value).__name__}"
        )
    if max(abs(low), abs(high)) > maximum:
        raise InvalidInput(name, f"{name} must lie within ±{maximum:g}, got [{low:g}, {high:g}]")
    return (low + 0.0, high + 0.0)  # + 0.0: -0.0 reads as 0


def parse_geometry(name: str, value: Any) -> tuple[float, float]:
    """The geometry field ``name`` (one of ``GEOMETRY_FIELDS``) by its own bound and reading."""
    maximum, symmetric = next((m, s) for n, m, s in GEOMETRY_FIELDS if n == name)
    return parse_range(name, value, maximum, symmetric)


def document_options(source: Any) -> dict[str, Any]:
    """The document options an object holds as attributes (a spec, a request, parsed arguments), as
    keyword arguments of ``generate``."""
    return {name: getattr(source, name) for name in DOCUMENT_FIELDS}


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and value == value  # not NaN


def parse_appearance(
    *,
    style: Any = "mnist",
    ink: Any = None,
    background: Any = None,
    rotate: Any = None,
    shear: Any = None,
    perspective: Any = None,
    elastic: Any = None,
    height: Any = DEFAULT_HEIGHT,
    channels: Any = None,
    stroke: Any = "natural",
) -> Appearance:
    """Every document option checked, contradictions named together; ``channels`` None picks 3 when the
    ink is coloured and 1 otherwise. ``style`` may also be an albumentations transform (style "custom":
    ink on white paper, then that pipeline)."""
    pipeline = None
    if style is None:
        style = "mnist"
    if not isinstance(style, str):
        from hng.document.style import check_pipeline

        pipeline = check_pipeline(style, "style")
        style = "custom"
    else:
        check_choice("style", style, STYLES)
    if ink is not None:
        if style not in (*INKED_STYLES, "custom"):
            raise InvalidInput(
                "ink", f"ink applies to the styles {', '.join(INKED_STYLES)} and custom, not style {style}"
            )
        from hng.document.style import parse_ink

        parse_ink(ink)
    if style == "background":
        if background is None:
            raise InvalidInput(
                "background", "background is required by style background: a folder or an S3 prefix"
            )
        if not isinstance(background, str) or not background.strip():
            raise InvalidType(
                "background", f"background must be a folder path or an S3 prefix, got {background!r}"
            )
    elif background is not None:
        raise InvalidInput("background", f"background applies to style background only, not style {style}")
    ranges = {
        name: parse_range(name, value, maximum, symmetric)
        for (name, maximum, symmetric), value in zip(
            GEOMETRY_FIELDS, (rotate, shear, perspective, elastic), strict=True
        )
    }
    height = check_int("height", height, minimum=MIN_HEIGHT, maximum=MAX_HEIGHT)
    coloured = _ink_is_coloured(style, ink)
    if channels is None:
        channels = 3 if coloured else 1
    else:
        channels = check_int("channels", channels, minimum=1, maximum=3)
        if channels not in CHANNELS:
            raise InvalidInput("channels", f"channels must be 1 (grey) or 3 (RGB), got {channels}")
        if channels == 1 and coloured:
            shown = ink if ink is not None else "the pen palette"
            raise InvalidInput(
                "channels",
                f"channels 1 (grey) cannot show style {style} with ink {shown} (coloured): use channels 3, "
                "or a grey ink such as ink black",
            )
    check_choice("stroke", stroke, STROKES)
    return Appearance(
        style=style,
        ink=ink,
        background=background,
        height=height,
        channels=channels,
        stroke=stroke,
        pipeline=pipeline,
        **ranges,
    )


def _ink_is_coloured(style: str, ink: str | None) -> bool:
    if style not in (*INKED_STYLES, "custom"):
        return False
    from hng.document.style import default_ink, parse_ink

    return parse_ink(ink if ink is not None else default_ink(style)).is_coloured
