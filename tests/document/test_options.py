"""The document options' rules: one parser for the library, the CLI, DatasetSpec and the HTTP models."""

from __future__ import annotations

import pytest

from hng.datasets.spec import DatasetSpec, SpecError
from hng.document.options import (
    DEFAULT_APPEARANCE,
    MAX_ROTATE,
    Appearance,
    parse_appearance,
    parse_range,
)
from hng.errors import InvalidInput, InvalidType


def test_defaults_are_todays_strip() -> None:
    look = parse_appearance()
    assert look == DEFAULT_APPEARANCE and look.is_default and not look.has_geometry
    assert look.to_dict() == {}


@pytest.mark.parametrize(
    ("value", "symmetric", "expected"),
    [
        (4, True, (-4.0, 4.0)),
        (2.5, False, (0.0, 2.5)),
        ([-2, 6], True, (-2.0, 6.0)),
        ((0, 0.1), False, (0.0, 0.1)),
        (None, True, (0.0, 0.0)),
        (0, True, (0.0, 0.0)),
    ],
)
def test_ranges(value: object, symmetric: bool, expected: tuple[float, float]) -> None:
    assert parse_range("rotate", value, 45.0, symmetric) == expected


@pytest.mark.parametrize(
    ("value", "symmetric", "error", "words"),
    [
        (-3, True, InvalidInput, "rotate must be a magnitude, not negative"),
        ([5, 1], True, InvalidInput, "low 5 must not be greater than high 1"),
        ([1, 2, 3], True, InvalidInput, "a number or a [low, high] pair"),
        (46, True, InvalidInput, f"within ±{MAX_ROTATE:g}"),
        ([-1, 2], False, InvalidInput, "must not be negative"),
        ("4", True, InvalidType, "must be a number or a [low, high] pair"),
        (True, True, InvalidType, "must be a number"),
        (float("nan"), True, InvalidType, "must be a number"),
    ],
)
def test_bad_ranges_name_the_field_and_rule(
    value: object, symmetric: bool, error: type[Exception], words: str
) -> None:
    with pytest.raises(error) as caught:
        parse_range("rotate", value, MAX_ROTATE, symmetric)
    assert words in str(caught.value) and str(caught.value).startswith("rotate")


@pytest.mark.parametrize(
    ("fields", "field", "words"),
    [
        ({"style": "sepia"}, "style", "style must be one of mnist, ink, paper, background"),
        ({"ink": "black"}, "ink", "ink applies to the styles ink, paper, background"),
        ({"style": "background"}, "background", "background is required by style background"),
        ({"style": "ink", "background": "/tmp"}, "background", "applies to style background only"),
        ({"height": 15}, "height", "height must be >= 16"),
        ({"height": 257}, "height", "height must be <= 256"),
        ({"height": "48"}, "height", "height must be an integer"),
        ({"channels": 2}, "channels", "channels must be 1 (grey) or 3 (RGB)"),
        ({"style": "ink", "ink": "blue", "channels": 1}, "channels", "channels 1 (grey) cannot show"),
        ({"style": "paper", "channels": 1}, "channels", "cannot show style paper with ink the pen palette"),
        ({"stroke": "bold"}, "stroke", "stroke must be one of natural, uniform"),
        ({"shear": 31}, "shear", "within ±30"),
        ({"perspective": 0.5}, "perspective", "within ±0.2"),
        ({"elastic": 5}, "elastic", "within ±4"),
    ],
)
def test_bad_options_name_their_fields(fields: dict, field: str, words: str) -> None:
    with pytest.raises((InvalidInput, InvalidType)) as caught:
        parse_appearance(**fields)
    assert caught.value.field == field
    assert words in str(caught.value)


def test_channels_follow_the_ink() -> None:
    assert parse_appearance(style="ink").channels == 1  # black ink: grey
    assert parse_appearance(style="ink", ink="blue").channels == 3
    assert parse_appearance(style="paper").channels == 3  # the pen palette holds blue pens
    assert parse_appearance(style="paper", ink="black").channels == 1
    assert parse_appearance(style="mnist", channels=3).channels == 3  # grey ink shown as RGB


def test_to_dict_records_what_differs() -> None:
    look = parse_appearance(style="ink", height=48, rotate=4)
    assert look.to_dict() == {"style": "ink", "height": 48, "rotate": [-4.0, 4.0]}
    assert isinstance(look, Appearance) and look.has_geometry


def test_spec_takes_the_same_rules_and_names_the_field() -> None:
    with pytest.raises(SpecError) as caught:
        DatasetSpec.build(count=10, style="ink", ink="blue", channels=1)
    assert caught.value.errors[0][0] == "channels"
    with pytest.raises(SpecError) as caught:
        DatasetSpec.build(count=10, rotate=[3, 1])
    assert caught.value.errors[0] == ("rotate", "rotate: low 3 must not be greater than high 1")
    with pytest.raises(SpecError) as caught:
        DatasetSpec.build(count=10, image_encoding="jpeg")
    assert caught.value.errors[0][0] == "image_encoding" and "npz" in caught.value.errors[0][1]
    with pytest.raises(SpecError) as caught:
        DatasetSpec.build(count=10, format="webdataset", jpeg_quality=80)
    assert caught.value.errors[0][0] == "jpeg_quality"
    with pytest.raises(SpecError) as caught:
        DatasetSpec.build(count=10, format="webdataset", image_encoding="jpeg", jpeg_quality=[90, 80])
    assert caught.value.errors[0][0] == "jpeg_quality"


def test_spec_defaults_keep_their_json_and_scale_widths_with_height() -> None:
    plain = DatasetSpec.build(count=10, seed=1)
    assert "style" not in plain.to_json() and "height" not in plain.to_json()
    tall = DatasetSpec.build(count=10, seed=1, style="paper", height=48, rotate=4)
    data = tall.to_json()
    assert data["style"] == "paper" and data["height"] == 48 and data["channels"] == 3
    assert data["rotate"] == [-4.0, 4.0]
    assert tall.image_width == 48 * 5  # 28 pixels a digit at height 28, scaled to 48
    assert DatasetSpec.build(**data).same_data_as(tall)
