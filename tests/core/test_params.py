"""Parameter validation (hng.core.params), directly and through Generator.generate.

Every rule: None/empty and out-of-range values raise ValueError, values of the wrong kind (strings where
numbers are expected, bools, floats) raise TypeError, and every message names the argument.
"""

import numpy as np
import pytest

import hng
from hng.core.params import (
    DEFAULT_SPACING_RANGE,
    MAX_DIGITS,
    MAX_IMAGE_WIDTH,
    MAX_SPACING,
    SPLITS,
    check_int,
    parse_image_width,
    parse_number,
    parse_seed,
    parse_spacing_range,
    parse_split,
)
from hng.core.seeding import MAX_SEED


def test_public_limits_are_the_ones_enforced():
    assert hng.MAX_DIGITS is MAX_DIGITS and hng.MAX_IMAGE_WIDTH is MAX_IMAGE_WIDTH
    assert hng.MAX_SPACING is MAX_SPACING and hng.DEFAULT_SPACING_RANGE is DEFAULT_SPACING_RANGE
    assert hng.SPLITS is SPLITS


def test_the_documented_limits_hold(generator):
    """The README's limits, at their edges: 1-64 digits, widths 1-4096, gaps 0-256, seeds below 2**63,
    splits train and test; the default gaps are 5-10."""
    assert parse_number("9" * 64) == "9" * 64
    with pytest.raises(ValueError, match=r"^number may have at most 64 digits"):
        parse_number("9" * 65)
    assert (parse_image_width(1), parse_image_width(4096)) == (1, 4096)
    with pytest.raises(ValueError, match=r"^image_width must be <= 4096"):
        parse_image_width(4097)
    assert parse_spacing_range((0, 256)) == (0, 256)
    with pytest.raises(ValueError, match=r"^spacing_range maximum must be <= 256"):
        parse_spacing_range((0, 257))
    assert parse_seed(2**63 - 1) == 2**63 - 1
    with pytest.raises(ValueError, match=r"^seed must be <="):
        parse_seed(2**63)
    assert (parse_split("train"), parse_split("test")) == ("train", "test")
    with pytest.raises(ValueError, match=r"^split must be"):
        parse_split("validation")
    gaps = {gap for seed in range(100) for gap in generator.generate("12345", seed=seed).gaps}
    assert gaps == set(range(5, 11))


# --- number ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("number", "expected"),
    [
        ("007", "007"),
        ("0", "0"),
        (7, "7"),
        (0, "0"),
        (2026, "2026"),
        ([0, 0, 7], "007"),
        ((4, 2), "42"),
        ([0], "0"),
        (" 42 ", "42"),
        (np.int64(42), "42"),
        (np.uint8(9), "9"),
        (np.array([0, 4, 2]), "042"),
        ([np.int8(3), np.int64(1)], "31"),
        ("1" * MAX_DIGITS, "1" * MAX_DIGITS),
        (10 ** (MAX_DIGITS - 1), "1" + "0" * (MAX_DIGITS - 1)),
    ],
)
def test_parse_number_accepts(number, expected):
    assert parse_number(number) == expected


def test_leading_zeros_are_digits_and_an_int_has_none():
    assert len(parse_number("007")) == 3
    assert len(parse_number(7)) == 1
    assert len(parse_number(7)) == len(parse_number("7"))


@pytest.mark.parametrize(
    ("number", "message"),
    [
        (None, r"^number is required"),
        ("", r"^number must not be empty"),
        ("   ", r"^number must not be empty"),
        ([], r"^number must not be empty"),
        ((), r"^number must not be empty"),
        (-1, r"^number must not be negative"),
        (np.int32(-5), r"^number must not be negative"),
        ("-5", r"^number must contain only the digits"),
        ("12a", r"^number must contain only the digits"),
        ("4 2", r"^number must contain only the digits"),
        ("1.5", r"^number must contain only the digits"),
        ("٣", r"^number must contain only the digits"),  # a non-ASCII digit
        ([1, 10], r"^number\[1\] must be <= 9"),
        ([4, -1], r"^number\[1\] must be >= 0"),
        ([None], r"^number\[0\] is required"),
        ("1" * (MAX_DIGITS + 1), rf"^number may have at most {MAX_DIGITS} digits"),
        (10**MAX_DIGITS, rf"^number may have at most {MAX_DIGITS} digits"),
        ([1] * (MAX_DIGITS + 1), rf"^number may have at most {MAX_DIGITS} digits"),
    ],
)
def test_parse_number_value_errors_name_the_argument(number, message):
    with pytest.raises(ValueError, match=message):
        parse_number(number)


@pytest.mark.parametrize(
    ("number", "message"),
    [
        (["4", "2"], r"^number\[0\] must be an integer"),
        ([4, "2"], r"^number\[1\] must be an integer"),
        ([4.0], r"^number\[0\] must be an integer"),
        ([True], r"^number\[0\] must be an integer"),
        (True, r"^number must be an int"),
        (False, r"^number must be an int"),
        (4.2, r"^number must be an int"),
        (b"42", r"^number must be an int"),
        ({4, 2}, r"^number must be an int"),
    ],
)
def test_parse_number_type_errors_name_the_argument(number, message):
    with pytest.raises(TypeError, match=message):
        parse_number(number)


def test_parse_number_uses_the_given_name():
    with pytest.raises(ValueError, match=r"^digits\[2\] must be <= 9"):
        parse_number([1, 2, 30], "digits")
    with pytest.raises(ValueError, match=r"^numbers\[3\] must not be empty"):
        parse_number("", "numbers[3]")


# --- spacing_range -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spacing", "expected"),
    [
        ((5, 10), (5, 10)),
        ([3, 4], (3, 4)),
        ((0, 0), (0, 0)),
        ((7, 7), (7, 7)),
        ((0, MAX_SPACING), (0, MAX_SPACING)),
        ((np.int32(3), np.int64(4)), (3, 4)),
    ],
)
def test_parse_spacing_range_accepts(spacing, expected):
    low, high = parse_spacing_range(spacing)
    assert (low, high) == expected
    assert type(low) is int and type(high) is int


@pytest.mark.parametrize(
    ("spacing", "message"),
    [
        (None, r"^spacing_range is required"),
        ((), r"^spacing_range must have exactly 2 values"),
        ((5,), r"^spacing_range must have exactly 2 values"),
        ((1, 2, 3), r"^spacing_range must have exactly 2 values"),
        ((-1, 5), r"^spacing_range minimum must be >= 0"),
        ((0, -1), r"^spacing_range maximum must be >= 0"),
        ((10, 5), r"^spacing_range: minimum 10 must not be greater than maximum 5"),
        ((0, MAX_SPACING + 1), rf"^spacing_range maximum must be <= {MAX_SPACING}"),
        ((MAX_SPACING + 1, MAX_SPACING + 2), rf"^spacing_range minimum must be <= {MAX_SPACING}"),
        ((None, 5), r"^spacing_range minimum is required"),
    ],
)
def test_parse_spacing_range_value_errors_name_the_argument(spacing, message):
    with pytest.raises(ValueError, match=message):
        parse_spacing_range(spacing)


@pytest.mark.parametrize(
    ("spacing", "message"),
    [
        (("5", 10), r"^spacing_range minimum must be an integer"),
        ((5, "10"), r"^spacing_range maximum must be an integer"),
        ((5.0, 10), r"^spacing_range minimum must be an integer"),
        ((True, 10), r"^spacing_range minimum must be an integer"),
        ((5, False), r"^spacing_range maximum must be an integer"),
        ("5,10", r"^spacing_range must be a \(minimum, maximum\) pair"),
        (b"\x05\x0a", r"^spacing_range must be a \(minimum, maximum\) pair"),
        (5, r"^spacing_range must be a \(minimum, maximum\) pair"),
        ({5, 10}, r"^spacing_range must be a \(minimum, maximum\) pair"),
    ],
)
def test_parse_spacing_range_type_errors_name_the_argument(spacing, message):
    with pytest.raises(TypeError, match=message):
        parse_spacing_range(spacing)


# --- image_width -------------------------------------------------------------------------------------


@pytest.mark.parametrize("width", [1, 28, 56, MAX_IMAGE_WIDTH, np.int64(56), np.uint16(140)])
def test_parse_image_width_accepts(width):
    parsed = parse_image_width(width)
    assert parsed == int(width) and type(parsed) is int


def test_image_width_none_keeps_the_natural_width():
    assert parse_image_width(None) is None


@pytest.mark.parametrize(
    ("width", "message"),
    [
        (0, r"^image_width must be >= 1, got 0"),
        (-5, r"^image_width must be >= 1, got -5"),
        (MAX_IMAGE_WIDTH + 1, rf"^image_width must be <= {MAX_IMAGE_WIDTH}"),
    ],
)
def test_parse_image_width_value_errors(width, message):
    with pytest.raises(ValueError, match=message):
        parse_image_width(width)


@pytest.mark.parametrize("width", ["56", 56.0, True, False, [56], b"56"])
def test_parse_image_width_type_errors(width):
    with pytest.raises(TypeError, match=r"^image_width must be an integer"):
        parse_image_width(width)


# --- seed and split ----------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1, MAX_SEED, np.int64(5), np.uint64(7)])
def test_parse_seed_accepts(seed):
    parsed = parse_seed(seed)
    assert parsed == int(seed) and type(parsed) is int


def test_seed_none_means_draw_one():
    assert parse_seed(None) is None


@pytest.mark.parametrize(
    ("seed", "error", "message"),
    [
        ("1", TypeError, r"^seed must be an integer"),
        (1.0, TypeError, r"^seed must be an integer"),
        (True, TypeError, r"^seed must be an integer"),
        (-1, ValueError, r"^seed must be >= 0"),
        (MAX_SEED + 1, ValueError, rf"^seed must be <= {MAX_SEED}"),
    ],
)
def test_parse_seed_errors(seed, error, message):
    with pytest.raises(error, match=message):
        parse_seed(seed)


@pytest.mark.parametrize("split", ["train", "test"])
def test_parse_split_accepts(split):
    assert parse_split(split) == split


@pytest.mark.parametrize(
    ("split", "error"),
    [("valid", ValueError), ("Train", ValueError), ("", ValueError), (None, TypeError), (0, TypeError)],
)
def test_parse_split_errors_name_the_argument(split, error):
    with pytest.raises(error, match=r"^split must be one of train, test"):
        parse_split(split)


def test_check_int_bounds_are_inclusive():
    assert check_int("x", 3, minimum=3, maximum=5) == 3
    assert check_int("x", 5, minimum=3, maximum=5) == 5
    with pytest.raises(ValueError, match=r"^x must be >= 3, got 2"):
        check_int("x", 2, minimum=3, maximum=5)
    with pytest.raises(ValueError, match=r"^x must be <= 5, got 6"):
        check_int("x", 6, minimum=3, maximum=5)


# --- the same rules through Generator.generate -------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "error", "name"),
    [
        ({"number": None}, ValueError, "number"),
        ({"number": ""}, ValueError, "number"),
        ({"number": []}, ValueError, "number"),
        ({"number": -42}, ValueError, "number"),
        ({"number": [4, 12]}, ValueError, r"number\[1\]"),
        ({"number": "9" * (MAX_DIGITS + 1)}, ValueError, "number"),
        ({"number": True}, TypeError, "number"),
        ({"spacing_range": None}, ValueError, "spacing_range"),
        ({"spacing_range": (10, 5)}, ValueError, "spacing_range"),
        ({"spacing_range": (-2, 5)}, ValueError, "spacing_range"),
        ({"spacing_range": (5, MAX_SPACING + 1)}, ValueError, "spacing_range"),
        ({"spacing_range": ("5", 10)}, TypeError, "spacing_range"),
        ({"image_width": 0}, ValueError, "image_width"),
        ({"image_width": -1}, ValueError, "image_width"),
        ({"image_width": MAX_IMAGE_WIDTH + 1}, ValueError, "image_width"),
        ({"image_width": "56"}, TypeError, "image_width"),
        ({"image_width": True}, TypeError, "image_width"),
        ({"seed": "1"}, TypeError, "seed"),
        ({"seed": True}, TypeError, "seed"),
        ({"seed": -1}, ValueError, "seed"),
        ({"split": "validation"}, ValueError, "split"),
        ({"augment": 3}, TypeError, "augment"),
        ({"augment": "wild"}, ValueError, "augment"),
    ],
)
def test_generate_rejects_bad_arguments_naming_them(generator, kwargs, error, name):
    kwargs = {"number": "42", **kwargs}
    with pytest.raises(error, match=rf"^{name}(?!\w)"):
        generator.generate(kwargs.pop("number"), **kwargs)


def test_generate_accepts_numpy_integers(generator):
    result = generator.generate(
        np.int64(42), spacing_range=(np.int32(3), np.int64(6)), image_width=np.int64(70), seed=5
    )
    plain = generator.generate(42, spacing_range=(3, 6), image_width=70, seed=5)
    assert result.label == "42"
    assert result.image.shape == (28, 70)
    np.testing.assert_array_equal(result.image, plain.image)
    assert result.spacing_range == (3, 6) and all(type(v) is int for v in result.spacing_range)


@pytest.mark.parametrize("seed", [np.int64(5), np.uint64(5), np.int32(5)])
def test_generate_accepts_a_numpy_seed(generator, seed):
    """parse_seed accepts numpy integers, so generation must too, and report a plain int (JSON-ready)."""
    result = generator.generate("42", image_width=70, seed=seed)
    np.testing.assert_array_equal(result.image, generator.generate("42", image_width=70, seed=5).image)
    assert type(result.seed) is int and result.seed == 5
