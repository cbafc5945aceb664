"""The document stage through hng.generate and generate_batch: each style, the geometry and the sizes,
checked by decoding the images: polarity, size, channels, and boxes and masks against the ink."""

from __future__ import annotations

import numpy as np
import pytest

import hng
from hng.core.encoding import decode_image
from tests.support.masks import mask_bounds

NUMBER = "2026"


def _check_labels(result: hng.GeneratedNumber) -> None:
    """Every box is the bounds of its mask label and every digit kept some ink."""
    assert result.mask is not None
    assert result.mask.shape == result.image.shape[:2]
    for k, box in enumerate(result.boxes, 1):
        assert (box.x0, box.y0, box.x1, box.y1) == mask_bounds(result.mask, k)
        assert box.x1 > box.x0 and box.y1 > box.y0


def test_defaults_are_byte_identical_to_the_plain_strip(generator) -> None:
    plain = generator.generate(NUMBER, image_width=140, seed=5, masks=True)
    same = generator.generate(NUMBER, image_width=140, seed=5, masks=True, style="mnist", height=28)
    assert np.array_equal(plain.image, same.image) and plain.boxes == same.boxes
    assert np.array_equal(plain.mask, same.mask) and same.appearance is None


@pytest.mark.parametrize("height", [16, 32, 48, 64, 256])
def test_mnist_style_at_any_height_keeps_polarity_and_exact_masks(generator, height: int) -> None:
    width = height * 5
    result = generator.generate(NUMBER, image_width=width, seed=3, height=height, masks=True)
    assert result.image.shape == (height, width) and result.image.dtype == np.uint8
    assert np.array_equal(result.mask > 0, result.image > 0)  # white ink on black: the mask is the ink
    assert result.image[result.mask == 0].max(initial=0) == 0
    _check_labels(result)


def test_ink_style_is_dark_ink_on_white_with_the_mask_on_the_ink(generator) -> None:
    result = generator.generate(NUMBER, image_width=200, seed=4, style="ink", height=48, masks=True)
    assert result.image.shape == (48, 200) and result.channels == 1
    # Black ink on white paper: a pixel is ink exactly where it is below white.
    assert np.array_equal(result.mask > 0, result.image < 255)
    assert result.image.min() < 40 and np.median(result.image) == 255
    _check_labels(result)


def test_coloured_ink_needs_and_gets_rgb(generator) -> None:
    result = generator.generate(
        NUMBER, image_width=200, seed=4, style="ink", ink="blue", height=48, masks=True
    )
    assert result.image.shape == (48, 200, 3) and result.channels == 3
    ink = result.image[result.mask > 0].astype(int)
    assert (ink[:, 2] > ink[:, 0]).mean() > 0.9  # blue over red where the ink is
    assert np.array_equal(result.mask > 0, (result.image < 255).any(axis=2))
    with pytest.raises(ValueError, match="channels"):
        generator.generate(NUMBER, style="ink", ink="blue", channels=1)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_paper_style_is_darker_ink_on_lighter_paper(generator, seed: int) -> None:
    result = generator.generate(NUMBER, image_width=200, seed=seed, style="paper", height=48, masks=True)
    assert result.image.shape == (48, 200, 3)
    grey = result.image.mean(axis=2)
    core = result.mask > 0
    assert grey[core].mean() < grey[~core].mean() - 60
    _check_labels(result)


def test_geometry_tilts_and_keeps_every_digit_whole(generator) -> None:
    flat = generator.generate(NUMBER, image_width=200, seed=9, style="ink", height=48, masks=True)
    tilted = generator.generate(
        NUMBER, image_width=200, seed=9, style="ink", height=48, rotate=[8, 8], masks=True
    )
    assert tilted.image.shape == flat.image.shape
    _check_labels(tilted)

    # Counter-clockwise by 8 degrees: the right-most digit rises against the left-most one.
    def centre_row(result: hng.GeneratedNumber, k: int) -> float:
        return float(np.argwhere(result.mask == k)[:, 0].mean())

    rise_flat = centre_row(flat, 1) - centre_row(flat, 4)
    rise_tilted = centre_row(tilted, 1) - centre_row(tilted, 4)
    assert rise_tilted - rise_flat > 8
    # Nothing clipped: no ink on the outermost rows and columns.
    mask = tilted.mask
    assert not (mask[0].any() or mask[-1].any() or mask[:, 0].any() or mask[:, -1].any())


@pytest.mark.parametrize(
    "options",
    [
        {"style": "paper", "height": 48, "rotate": 5, "shear": 8, "perspective": 0.06, "elastic": 2},
        {"style": "ink", "height": 32, "augment": "mild", "rotate": 3},
        {"height": 64, "fit": "pad", "shear": 10},
    ],
)
def test_each_look_is_byte_identical_per_seed_and_batch_matches_single(generator, options: dict) -> None:
    width = options["height"] * 4
    first = generator.generate(NUMBER, image_width=width, seed=21, masks=True, **options)
    again = generator.generate(NUMBER, image_width=width, seed=21, masks=True, **options)
    other = generator.generate(NUMBER, image_width=width, seed=22, masks=True, **options)
    assert first.image.tobytes() == again.image.tobytes() and first.boxes == again.boxes
    assert first.image.tobytes() != other.image.tobytes()
    batch = generator.generate_batch([NUMBER, "71"], image_width=width, seeds=[21, 5], masks=True, **options)
    assert np.array_equal(batch[0].image, first.image) and batch[0].boxes == first.boxes
    assert np.array_equal(batch[0].mask, first.mask)
    _check_labels(first)


def test_width_defaults_scale_with_the_height(generator) -> None:
    natural = generator.generate(NUMBER, seed=6)
    tall = generator.generate(NUMBER, seed=6, height=56)
    assert tall.image.shape == (56, 2 * natural.width)


def test_metadata_records_the_look(generator) -> None:
    result = generator.generate(NUMBER, image_width=200, seed=1, style="paper", height=48, rotate=4)
    meta = result.metadata()
    assert meta["style"] == "paper" and meta["height"] == 48 and meta["channels"] == 3
    assert meta["rotate"] == [-4.0, 4.0]


def test_encodings_round_trip(generator) -> None:
    result = generator.generate(NUMBER, image_width=200, seed=1, style="paper", height=48)
    assert np.array_equal(decode_image(result.to_png()), result.image)
    jpeg = result.encode("jpeg", 90)
    assert jpeg.startswith(b"\xff\xd8") and decode_image(jpeg).shape == (48, 200, 3)
    assert np.abs(decode_image(jpeg).astype(int) - result.image).mean() < 6


def test_background_style_inks_onto_the_users_images(generator, tmp_path) -> None:
    import cv2

    sheet = np.zeros((120, 400, 3), np.uint8)
    sheet[:] = (30, 200, 90)  # a green sheet (BGR on disk), so the background shows in the image
    cv2.imwrite(str(tmp_path / "green.png"), sheet)
    result = generator.generate(
        NUMBER, image_width=200, seed=2, style="background", background=str(tmp_path), height=48, masks=True
    )
    paper = result.image[result.mask == 0].astype(int)
    assert np.median(paper[:, 1]) > 150 and np.median(paper[:, 0]) < 150  # green, as the sheet is
    _check_labels(result)
    with pytest.raises(ValueError, match="background"):
        generator.generate(NUMBER, style="background", background=str(tmp_path / "empty"))
