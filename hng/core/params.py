"""Validation of generation parameters, shared by the Python API, the CLI and the HTTP handlers.

Every error names the argument and the rule it broke: `InvalidType` (a TypeError) for a value of the wrong
kind (a string where a number is expected), `InvalidInput` (a ValueError) for a value out of range.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np

from hng.core.seeding import MAX_SEED
from hng.errors import InvalidInput, InvalidType

MAX_DIGITS = 64
MAX_IMAGE_WIDTH = 4096
MAX_SPACING = 256
DEFAULT_SPACING_RANGE = (5, 10)
SPLITS = ("train", "test")
FITS = ("stretch", "pad")
# The augmentation presets (hng.augment.augmenter builds them; tests check the lists agree), and the one
# `augment: true` means.
PRESET_NAMES = ("none", "mild", "strong")
DEFAULT_PRESET = "mild"
# Only these are trimmed around a number's digits: str.strip() would also remove Unicode spaces
# (U+3000, U+00A0, U+2028, U+0085...), which are not part of any documented form.
NUMBER_WHITESPACE = " \t\r\n"
# The flags' accepted forms (the old service's): booleans, the integers 1/0, and these strings in any case.
TRUE_STRINGS = ("true", "1")
FALSE_STRINGS = ("false", "0")


def _is_int(value: Any) -> bool:
    # `type(...) is int` first: the ABC check alone costs about 1 µs per call on the hot path.
    return type(value) is int or (isinstance(value, numbers.Integral) and not isinstance(value, bool))


def check_int(name: str, value: Any, *, minimum: int, maximum: int) -> int:
    if value is None:
        raise InvalidInput(name, f"{name} is required")
    if not _is_int(value):
        raise InvalidType(name, f"{name} must be an integer, got {type(value).__name__} {value!r}")
    value = int(value)
    if value < minimum:
        raise InvalidInput(name, f"{name} must be >= {minimum}, got {value}")
    if value > maximum:
        raise InvalidInput(name, f"{name} must be <= {maximum}, got {value}")
    return value


def parse_number(number: Any, name: str = "number") -> str:
    """The digits to draw, as a string: "007" keeps its leading zeros; an int has none."""
    if number is None:
        raise InvalidInput(name, f"{name} is required")
    if isinstance(number, np.ndarray):
        number = number.tolist()
    if isinstance(number, str):
        digits = number.strip(NUMBER_WHITESPACE)
        if not digits:
            raise InvalidInput(name, f"{name} must not be empty")
        if not (digits.isascii() and digits.isdigit()):
            shown = number if len(number) <= 80 else number[:80] + "..."
            raise InvalidInput(name, f"{name} must contain only the digits 0-9, got {shown!r}")
    elif _is_int(number):
        if number < 0:
            raise InvalidInput(name, f"{name} must not be negative, got {number}")
        if number >= 10**MAX_DIGITS:  # before str(): a huge int would exceed Python's int-string limit
            raise InvalidInput(
                name, f"{name} may have at most {MAX_DIGITS} digits, got {_digit_count(number)}"
            )
        digits = str(int(number))
    elif isinstance(number, Sequence) and not isinstance(number, bytes | bytearray):
        if len(number) == 0:
            raise InvalidInput(name, f"{name} must not be empty")
        digits = "".join(
            str(check_int(f"{name}[{i}]", d, minimum=0, maximum=9)) for i, d in enumerate(number)
        )
    else:
        raise InvalidType(
            name,
            f"{name} must be an int, a string of digits or a list of digits, got {type(number).__name__}",
        )
    if len(digits) > MAX_DIGITS:
        raise InvalidInput(name, f"{name} may have at most {MAX_DIGITS} digits, got {len(digits)}")
    return digits


def _digit_count(number: int) -> str:
    # str() of an int past Python's int-string limit (4,300 digits) raises; 13,000 bits stay under it.
    return str(len(str(number))) if number.bit_length() < 13_000 else "more than 3,900"


def parse_flag(value: Any, name: str) -> bool:
    """A flag in one of its documented forms: true/false, 1/0, or "true"/"false"/"1"/"0" in any case."""
    if isinstance(value, bool):
        return value
    if type(value) is int and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.lower() in TRUE_STRINGS + FALSE_STRINGS:
        return value.lower() in TRUE_STRINGS
    shown = value if not isinstance(value, str) or len(value) <= 40 else value[:40] + "..."
    raise InvalidInput(
        name, f"{name} must be true or false (also 1/0 or the strings 'true'/'false'/'1'/'0'), got {shown!r}"
    )


def parse_spacing_range(spacing_range: Any, name: str = "spacing_range") -> tuple[int, int]:
    if spacing_range is None:
        raise InvalidInput(name, f"{name} is required")
    if type(spacing_range) not in (tuple, list):
        raise InvalidType(
            name, f"{name} must be a (minimum, maximum) pair of integers, got {type(spacing_range).__name__}"
        )
    if len(spacing_range) != 2:
        raise InvalidInput(
            name, f"{name} must have exactly 2 values (minimum, maximum), got {len(spacing_range)}"
        )
    low = check_int(f"{name} minimum", spacing_range[0], minimum=0, maximum=MAX_SPACING)
    high = check_int(f"{name} maximum", spacing_range[1], minimum=0, maximum=MAX_SPACING)
    if low > high:
        raise InvalidInput(name, f"{name}: minimum {low} must not be greater than maximum {high}")
    return low, high


def parse_image_width(image_width: Any, name: str = "image_width") -> int | None:
    """``None`` keeps the strip's natural width."""
    if image_width is None:
        return None
    return check_int(name, image_width, minimum=1, maximum=MAX_IMAGE_WIDTH)


def parse_seed(seed: Any, name: str = "seed") -> int | None:
    if seed is None:
        return None
    return check_int(name, seed, minimum=0, maximum=MAX_SEED)


def check_choice(name: str, value: Any, choices: tuple[str, ...]) -> str:
    """``value`` if it is one of ``choices``; TypeError for a non-string, ValueError for another string."""
    if not isinstance(value, str):
        raise InvalidType(name, f"{name} must be one of {', '.join(choices)}, got {type(value).__name__}")
    if value not in choices:
        raise InvalidInput(name, f"{name} must be one of {', '.join(choices)}, got {value!r}")
    return value


def parse_split(split: Any, name: str = "split") -> str:
    return check_choice(name, split, SPLITS)


def parse_fit(fit: Any, name: str = "fit") -> str:
    """How a strip meets the asked width: ``stretch`` resizes it; ``pad`` pads it (squeezing if wider)."""
    return check_choice(name, fit, FITS)
