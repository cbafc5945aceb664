"""The document stage done for a whole batch at once (label boxes from bit profiles, the plain-scale
placement, the styles' batch renders, ``out`` buffers) gives byte for byte what it gives one image at a
time. Real MNIST digits from the sample data (the ``generator`` fixture)."""

from __future__ import annotations

import numpy as np
import pytest

from hng.core.generation import Generator
from hng.document.geometry import Geometry, label_boxes, place, place_batch, place_many
from hng.document.options import Appearance
from hng.document.stage import DocumentStage
from hng.document.style import make_style
from hng.errors import InvalidInput, InvalidType
from tests.support.masks import mask_bounds

NUMBERS = ["2026", "0123456789", "1111111", "7", "80808", "31", "4444"]


def strips(generator: Generator, width: int, spacing=(0, 6)) -> tuple[np.ndarray, np.ndarray, list[int]]:
    batch = generator.generate_batch(
        NUMBERS, image_width=width, seeds=list(range(len(NUMBERS))), masks=True, spacing_range=spacing
    )
    assert batch.masks is not None
    return batch.images, batch.masks, [len(n) for n in NUMBERS]


@pytest.mark.parametrize("count", [1, 5, 12, 20, 70])
def test_label_boxes_are_the_bounds_of_each_label(count):
    rng = np.random.default_rng(count)
    masks = np.zeros((6, 30, 90), np.uint8)
    for mask in masks:
        for k in rng.choice(np.arange(1, count + 1), size=max(1, count - 2), replace=False).tolist():
            y, x = rng.integers(0, 28), rng.integers(0, 86)
            mask[y : y + rng.integers(1, 3), x : x + rng.integers(1, 5)] = k  # later labels cover earlier
    boxes = label_boxes(masks, count)
    assert boxes.shape == (6, count, 4) and boxes.dtype == np.int32
    for mask, found in zip(masks, boxes, strict=True):
        for k in range(1, count + 1):
            bounds = mask_bounds(mask, k)
            assert tuple(found[k - 1].tolist()) == (bounds if bounds is not None else (0, 0, 0, 0))


@pytest.mark.parametrize(
    ("height", "width"), [(48, 240), (64, 301), (28, 140), (40, 97), (23, 110), (128, 600)]
)
def test_place_batch_is_place_for_each_image(generator, height, width):
    composed = max(1, round(width * 28 / height))
    images, masks, counts = strips(generator, composed, spacing=(0, 0))  # touching digits: shared taps
    placed = place_batch(images, masks, max(counts), (height, width))
    assert placed is not None
    out, labels, boxes = placed
    for i, count in enumerate(counts):
        one, one_mask, one_boxes = place(images[i], masks[i], count, (height, width), Geometry(), None)
        np.testing.assert_array_equal(out[i], one)
        np.testing.assert_array_equal(labels[i], one_mask)
        assert [tuple(b) for b in boxes[i, :count].tolist()] == one_boxes
        assert not boxes[i, count:].any()


def test_place_batch_leaves_area_sampling_to_place(generator):
    images, masks, counts = strips(generator, 140)
    assert place_batch(images, masks, max(counts), (16, 80)) is None  # below SUPERSAMPLE_BELOW


def test_place_batch_refuses_strips_of_another_shape():
    with pytest.raises(InvalidInput, match="images"):
        place_batch(np.zeros((2, 20, 50), np.uint8), np.zeros((2, 20, 50), np.uint8), 1, (48, 80))


@pytest.mark.parametrize("style", ["mnist", "ink", "ink-pens", "ink-blue", "paper"])
@pytest.mark.parametrize("channels", [1, 3])
def test_render_batch_is_render_for_each_image(generator, style, channels):
    name, _, ink = style.partition("-")
    renderer = make_style(name, ink=ink or None)
    images, _, _ = strips(generator, 140)
    seeds = list(range(100, 100 + len(images)))
    each = np.stack(
        [renderer.render(image, seed, channels) for image, seed in zip(images, seeds, strict=True)]
    )
    np.testing.assert_array_equal(renderer.render_batch(images, seeds, channels), each)
    # Into a buffer, contiguous or a view with other columns past it.
    buffer = np.full((len(images), 28, 150) + ((3,) if channels == 3 else ()), 7, np.uint8)
    renderer.render_batch(images, seeds, channels, out=buffer[:, :, :140])
    np.testing.assert_array_equal(buffer[:, :, :140], each)
    assert (buffer[:, :, 140:] == 7).all()


@pytest.mark.parametrize(
    "look",
    [
        Appearance(style="ink", height=48, channels=3),
        Appearance(style="ink", ink="pens", height=64, channels=3),
        Appearance(style="mnist", height=40),
        Appearance(style="paper", height=48, channels=3, rotate=(-4.0, 4.0)),
        Appearance(style="ink", height=18),
    ],
    ids=lambda look: f"{look.style}-{look.height}",
)
def test_stage_apply_batch_is_apply_for_each_image(generator, look):
    stage = DocumentStage(look)
    width = stage.output_width(140)
    images, masks, counts = strips(generator, 140)
    seeds = list(range(7, 7 + len(images)))
    pixels, labels, boxes = stage.apply_batch(images, masks, counts, width, seeds)
    for i, count in enumerate(counts):
        one, one_mask, one_boxes = stage.apply(images[i], masks[i], count, width, seeds[i])
        np.testing.assert_array_equal(pixels[i], one)
        np.testing.assert_array_equal(labels[i], one_mask)
        assert [tuple(b) for b in boxes[i, :count].tolist()] == one_boxes


@pytest.mark.parametrize(
    "look", [{}, {"style": "ink", "height": 48, "channels": 3}, {"style": "paper", "height": 32}]
)
def test_generate_batch_writes_into_out_and_reuses_it(generator, look):
    widths = [len(n) * 30 for n in NUMBERS]
    made = generator.generate_batch(NUMBERS, image_width=widths, seeds=list(range(7)), **look)
    out = np.full(made.images.shape, 99, np.uint8)  # stale pixels past narrower images must go
    again = generator.generate_batch(NUMBERS, image_width=widths, seeds=list(range(7)), out=out, **look)
    assert again.images is out
    np.testing.assert_array_equal(out, made.images)
    other = generator.generate_batch(
        NUMBERS[::-1], image_width=widths[::-1], seeds=list(range(7)), out=out, **look
    )
    np.testing.assert_array_equal(
        out,
        generator.generate_batch(
            NUMBERS[::-1], image_width=widths[::-1], seeds=list(range(7)), **look
        ).images,
    )
    assert other.images is out


def test_generate_batch_refuses_an_out_that_does_not_fit(generator):
    with pytest.raises(
        InvalidInput, match=r"out must be a writeable C-contiguous uint8 array of shape \(2, 28, 90\)"
    ):
        generator.generate_batch(["1", "2"], image_width=90, seed=1, out=np.zeros((2, 28, 91), np.uint8))
    with pytest.raises(InvalidInput, match="out must"):
        generator.generate_batch(["1", "2"], image_width=90, seed=1, out=np.zeros((2, 28, 90), np.int16))
    with pytest.raises(InvalidInput, match="out must"):
        generator.generate_batch(
            ["1", "2"], image_width=90, seed=1, out=np.zeros((2, 90, 28), np.uint8).T[::-1].T
        )
    with pytest.raises(InvalidType, match="out must be a numpy array"):
        generator.generate_batch(["1", "2"], image_width=90, seed=1, out=[[0]])


@pytest.mark.parametrize(
    "geometry",
    [
        Geometry(rotate=(-12.0, 12.0), shear=(-20.0, 20.0)),
        Geometry(perspective=(0.0, 0.12), elastic=(0.5, 2.5)),
        Geometry(rotate=(-30.0, 30.0)),  # shrinks long numbers below SUPERSAMPLE_BELOW: supersampled
        Geometry(),
    ],
    ids=["rotate-shear", "perspective-elastic", "supersampled", "identity"],
)
@pytest.mark.parametrize("size", [(48, 240), (20, 100)])
def test_place_many_is_place_for_each_image(generator, geometry, size):
    from hng.core.seeding import new_rng, thread_rng

    composed = max(1, round(size[1] * 28 / size[0]))
    images, masks, counts = strips(generator, composed, spacing=(0, 0))
    seeds = range(50, 50 + len(images))
    identity = geometry.is_identity
    out, labels, boxes = place_many(
        images, masks, counts, size, geometry, (None if identity else thread_rng(s) for s in seeds)
    )
    for i, (count, seed) in enumerate(zip(counts, seeds, strict=True)):
        one, one_mask, one_boxes = place(
            images[i], masks[i], count, size, geometry, None if identity else new_rng(seed)
        )
        np.testing.assert_array_equal(out[i], one)
        np.testing.assert_array_equal(labels[i], one_mask)
        assert [tuple(b) for b in boxes[i, :count].tolist()] == one_boxes
