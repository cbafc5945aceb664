"""Placing the composed strip: scale, whole-image geometry, masks carried exactly, boxes tight, nothing
clipped, one seed one image. Real MNIST digits from the sample data (the ``generator`` fixture)."""

import math

import cv2
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from hng.core.seeding import new_rng
from hng.document.geometry import (
    MARGIN,
    SUPERSAMPLE_BELOW,
    Geometry,
    Transform,
    draw_transform,
    place,
)
from hng.errors import InvalidInput, InvalidType
from tests.support.hypothesis import examples
from tests.support.masks import mask_bounds

NUMBERS = ["2026", "0123456789", "1111111", "7", "80808"]
GEOMETRIES = {
    "rotate": Geometry(rotate=(-12.0, 12.0)),
    "shear": Geometry(shear=(-20.0, 20.0)),
    "perspective": Geometry(perspective=(0.0, 0.12)),
    "elastic": Geometry(elastic=(0.5, 2.5)),
    "all": Geometry(rotate=(-8.0, 8.0), shear=(-12.0, 12.0), perspective=(0.0, 0.08), elastic=(0.0, 2.0)),
}


def compose(generator, number, height, width, seed=0, fit="stretch", spacing=(0, 10)):
    """The strip the integrator composes for an output of (height, width): at W0 = width * 28 / height."""
    result = generator.generate(
        number,
        image_width=max(1, round(width * 28 / height)),
        masks=True,
        seed=seed,
        fit=fit,
        spacing_range=spacing,
    )
    return result.image, result.mask, len(number)


def assert_exact(image, mask, boxes, count, size, source_mask=None):
    """Shape, polarity, the mask exactly on the ink, boxes the bounds of their labels, no digit lost."""
    assert image.shape == mask.shape == size and image.dtype == mask.dtype == np.uint8
    np.testing.assert_array_equal(mask > 0, image > 0)
    assert int(mask.max()) <= count and len(boxes) == count
    for k, box in enumerate(boxes, 1):
        bounds = mask_bounds(mask, k)
        assert box == (bounds if bounds is not None else (0, 0, 0, 0))
        if source_mask is not None and (source_mask == k).any():
            assert bounds is not None, f"digit {k} lost every pixel"


def assert_no_new_edge_ink(image, plain):
    """Ink on an outermost row or column only where the plainly scaled number has some too (the rule
    lets geometry reach as far as the unwarped ink does)."""
    for edge in (np.s_[0], np.s_[-1], np.s_[:, 0], np.s_[:, -1]):
        assert image[edge].max() == 0 or plain[edge].max() > 0, edge


def oracle_layers(image, mask, count, transform: Transform) -> np.ndarray:
    """(count, height, width) float32: each digit's whole layer resampled by OpenCV alone, from the
    transform's matrix (``cv2.warpPerspective`` over the whole canvas), not from hng's maps or windows."""
    height, width = transform.size
    layers = []
    for k in range(1, count + 1):
        layer = np.where(mask == k, image, 0).astype(np.float32)
        if transform.sampling == "area":
            layers.append(cv2.resize(layer, (width, height), interpolation=cv2.INTER_AREA))
            continue
        rows, columns = transform.work_size
        if transform.displacement is not None:  # no matrix form: the transform's own map
            warped = cv2.remap(layer, transform.source_map(), None, cv2.INTER_LINEAR)
        elif transform.sampling == "resize":
            warped = cv2.resize(layer, (width, height), interpolation=cv2.INTER_LINEAR)
        else:
            matrix = transform.work_matrix
            warped = cv2.warpPerspective(layer, matrix, (columns, rows), flags=cv2.INTER_LINEAR)
        if transform.supersample > 1:
            warped = cv2.resize(warped, (width, height), interpolation=cv2.INTER_AREA)
        layers.append(warped)
    return np.stack(layers)


def ink_angle(image) -> float:
    """The ink's principal axis in degrees, counter-clockwise on screen (y up)."""
    m = cv2.moments(image.astype(np.float32))
    return -math.degrees(0.5 * math.atan2(2 * m["mu11"], m["mu20"] - m["mu02"]))


# --- identity and scale ----------------------------------------------------------------------------------


@pytest.mark.parametrize("fit", ["stretch", "pad"])
def test_identity_at_the_strips_size_returns_the_inputs(generator, fit):
    for number in NUMBERS:
        result = generator.generate(number, image_width=150, masks=True, seed=3, fit=fit)
        size = result.image.shape
        image, mask, boxes = place(result.image, result.mask, len(number), size, Geometry(), None)
        assert image is result.image and mask is result.mask
        assert boxes == [(b.x0, b.y0, b.x1, b.y1) for b in result.boxes]


@pytest.mark.parametrize("height", [16, 20, 32, 48, 64, 256])
def test_scale_only_keeps_shape_polarity_masks_and_ink(generator, height):
    for seed, number in enumerate(NUMBERS):
        width = height * 5
        strip, strip_mask, count = compose(generator, number, height, width, seed, spacing=(0, 3))
        image, mask, boxes = place(strip, strip_mask, count, (height, width), Geometry(), None)
        assert_exact(image, mask, boxes, count, (height, width), strip_mask)
        # Polarity: black background (the strip's margin columns too), bright ink; the ink's total
        # scales with the area.
        assert (image == 0).mean() > 0.5 and image[:, 0].max() == 0 and image.max() > 200
        area = (height / 28) * (width / strip.shape[1])
        assert image.sum(dtype=np.int64) == pytest.approx(strip.sum(dtype=np.int64) * area, rel=0.03)
        transform = draw_transform(strip, (height, width), Geometry(), None)
        expected = "resize" if height / 28 >= SUPERSAMPLE_BELOW else "area"
        assert transform.sampling == expected and transform.shrink == 1.0


def test_scale_only_is_opencvs_resize(generator):
    """Upscaling is one bilinear resize of the whole strip; shrinking below the threshold averages area."""
    strip, strip_mask, count = compose(generator, "2026", 48, 240)
    np.testing.assert_array_equal(
        place(strip, strip_mask, count, (48, 240), Geometry(), None)[0],
        cv2.resize(strip, (240, 48), interpolation=cv2.INTER_LINEAR),
    )
    strip, strip_mask, count = compose(generator, "2026", 16, 80)
    small = place(strip, strip_mask, count, (16, 80), Geometry(), None)[0]
    reference = cv2.resize(strip, (80, 16), interpolation=cv2.INTER_AREA)
    assert np.abs(small.astype(int) - reference).max() <= count - 1  # per-digit layers, rounded each


# --- masks against an independent oracle ----------------------------------------------------------------


@pytest.mark.parametrize("name", [*GEOMETRIES, "identity"])
@pytest.mark.parametrize("size", [(16, 80), (28, 140), (48, 240), (64, 200)])
def test_masks_match_opencvs_own_per_digit_warps(generator, name, size):
    geometry = GEOMETRIES.get(name, Geometry())
    samplings = set()
    for seed, number in enumerate(["2026", "0123456789", "80808", "11"]):
        # Gaps of 0 or 1: neighbours share pixels, so ownership is really decided.
        strip, strip_mask, count = compose(generator, number, *size, seed=seed, spacing=(0, 1))
        image, mask, boxes = place(strip, strip_mask, count, size, geometry, new_rng(seed))
        assert_exact(image, mask, boxes, count, size, strip_mask)
        transform = draw_transform(strip, size, geometry, new_rng(seed))
        samplings.add(transform.sampling)
        layers = oracle_layers(strip, strip_mask, count, transform)
        total = layers.sum(axis=0)
        # The image: within OpenCV's fixed-point sampling positions (1/32 pixel) of the oracle's.
        assert np.abs(image - total).max() <= 8
        assert total[image > 0].min() > 0 and total[image == 0].max(initial=0) < 1
        # Ownership: the strongest digit, except where the two strongest are within 1 of each other.
        owner = layers.argmax(axis=0) + 1
        ordered = np.sort(layers, axis=0)
        margin = ordered[-1] - (ordered[-2] if count > 1 else 0)
        disagree = (mask > 0) & (mask != owner)
        assert not (disagree & (margin > 1)).any()
        assert disagree.sum() <= max(2, (mask > 0).sum() // 1000)
    if name == "identity":
        assert samplings <= {"resize", "area"}
    elif size[0] >= 48:
        assert "warp" in samplings
    elif size[0] == 16:
        assert samplings == {"supersample"}


def test_boxes_are_tight_on_touching_digits(generator):
    for seed in range(6):
        strip, strip_mask, count = compose(generator, "0123456789", 48, 300, seed, spacing=(0, 0))
        for geometry in (Geometry(), GEOMETRIES["all"]):
            image, mask, boxes = place(strip, strip_mask, count, (48, 300), geometry, new_rng(seed))
            assert_exact(image, mask, boxes, count, (48, 300), strip_mask)


# --- what the geometry does ------------------------------------------------------------------------------


def test_rotation_is_counter_clockwise_and_by_its_angle(generator):
    for seed, number in enumerate(["11111", "2026", "7"]):
        strip, strip_mask, count = compose(generator, number, 48, 240, seed)
        flat = place(strip, strip_mask, count, (48, 240), Geometry(), None)[0]
        turned = place(strip, strip_mask, count, (48, 240), Geometry(rotate=(10.0, 10.0)), new_rng(1))[0]
        # Angles of moments depend on the aspect: compare the image with the flat one rotated directly.
        transform = draw_transform(strip, (48, 240), Geometry(rotate=(10.0, 10.0)), new_rng(1))
        assert transform.sampling == "warp"
        change = ink_angle(turned) - ink_angle(flat)
        assert change == pytest.approx(10.0, abs=1.5), number
        # Positive = counter-clockwise on screen: the ink right of the centre rises (smaller y).
        ys, xs = np.nonzero(turned)
        right = xs > xs.mean()
        assert ys[right].mean() < ys[~right].mean() or number == "7"


def test_shear_slants_to_the_right(generator):
    strip, strip_mask, count = compose(generator, "1111", 48, 200)
    flat = place(strip, strip_mask, count, (48, 200), Geometry(), None)[0]
    slanted = place(strip, strip_mask, count, (48, 200), Geometry(shear=(20.0, 20.0)), new_rng(0))[0]

    def lean(image):  # how far right the top half's ink sits from the bottom half's
        ys, xs = np.nonzero(image)
        top = ys < ys.mean()
        return xs[top].mean() - xs[~top].mean()

    assert lean(slanted) - lean(flat) > 3


def test_nothing_is_clipped(generator):
    strong = Geometry(rotate=(-30.0, 30.0), shear=(-30.0, 30.0), perspective=(0.1, 0.2))
    for seed in range(8):
        for size in [(32, 160), (48, 120), (64, 400)]:
            strip, strip_mask, count = compose(generator, NUMBERS[seed % len(NUMBERS)], *size, seed)
            # The margin: 4 pixels at MNIST scale, or as far as the unwarped ink already reaches.
            flat = np.nonzero(place(strip, strip_mask, count, size, Geometry(), None)[0])
            margin = MARGIN * size[0] / 28 - 1  # a pixel's worth of interpolation support
            top, left = min(margin, flat[0].min()), min(margin, flat[1].min())
            bottom, right = max(size[0] - margin, flat[0].max() + 1), max(size[1] - margin, flat[1].max() + 1)
            for geometry in (strong, Geometry(rotate=(-30.0, 30.0), elastic=(2.0, 3.0))):
                image, mask, boxes = place(strip, strip_mask, count, size, geometry, new_rng(seed))
                assert_exact(image, mask, boxes, count, size, strip_mask)
                assert image[0].max() == image[-1].max() == image[:, 0].max() == image[:, -1].max() == 0
                ys, xs = np.nonzero(image)
                assert ys.min() >= top and xs.min() >= left
                assert ys.max() + 1 <= bottom and xs.max() + 1 <= right
                assert draw_transform(strip, size, geometry, new_rng(seed)).shrink < 1.0
            # All the ink is there: the same warp on a canvas 40 pixels larger all round has no more.
            transform = draw_transform(strip, size, strong, new_rng(seed))
            if transform.sampling == "warp":
                moved = np.array([[1.0, 0, 40], [0, 1.0, 40], [0, 0, 1.0]]) @ transform.matrix
                large = cv2.warpPerspective(strip.astype(np.float32), moved, (size[1] + 80, size[0] + 80))
                image = place(strip, strip_mask, count, size, strong, new_rng(seed))[0]
                inner = large[40:-40, 40:-40]
                assert large.sum() == pytest.approx(inner.sum(), rel=1e-6)
                assert image.sum(dtype=np.int64) == pytest.approx(large.sum(), rel=0.01)
    # Rotation and shear keep areas: the total is the strip's, scaled by the area and the shrink.
    for seed in range(5):
        strip, strip_mask, count = compose(generator, "2026", 48, 240, seed)
        geometry = Geometry(rotate=(-20.0, 20.0), shear=(-20.0, 20.0))
        image = place(strip, strip_mask, count, (48, 240), geometry, new_rng(seed))[0]
        transform = draw_transform(strip, (48, 240), geometry, new_rng(seed))
        scale = 48 / 28 * 240 / strip.shape[1] * transform.shrink**2
        assert image.sum(dtype=np.int64) == pytest.approx(strip.sum(dtype=np.int64) * scale, rel=0.02)


def test_ink_reaching_the_strips_edge_is_not_pushed_over_the_canvas_edge(generator):
    """Numbers whose ink touches the strip's top or bottom rows, slightly turned, at every sampling
    (supersampled pixels see ink half a pixel further than their centres)."""
    checked = 0
    for seed in range(40):
        strip, strip_mask, count = compose(generator, "79309", 28, 194, seed)
        rows = np.flatnonzero(strip.any(axis=1))
        if rows[0] > 1 and rows[-1] < 26:
            continue
        checked += 1
        for size in [(28, 194), (16, 111), (48, 333)]:
            plain = place(strip, strip_mask, count, size, Geometry(), None)[0]
            for geometry in (Geometry(rotate=(-5.0, 5.0)), Geometry(rotate=(-5.0, 5.0), elastic=(0.0, 1.0))):
                image, mask, boxes = place(strip, strip_mask, count, size, geometry, new_rng(seed))
                assert_exact(image, mask, boxes, count, size, strip_mask)
                assert_no_new_edge_ink(image, plain)
    assert checked >= 5


def test_the_number_stays_where_it_was(generator):
    """Shrinking is about the ink's centre: a rotated number keeps the centre of its ink."""
    strip, strip_mask, count = compose(generator, "2026", 48, 240)
    flat = place(strip, strip_mask, count, (48, 240), Geometry(), None)[0]
    turned = place(strip, strip_mask, count, (48, 240), Geometry(rotate=(8.0, 8.0)), new_rng(0))[0]

    def centre(image):
        x, y, w, h = cv2.boundingRect(image)
        return x + w / 2, y + h / 2

    assert centre(turned) == pytest.approx(centre(flat), abs=2.0)


def test_pad_columns_do_not_count(generator):
    """fit=pad leaves black columns at the right: the geometry acts on the ink, not on the strip."""
    strip = generator.generate("2026", image_width=200, masks=True, seed=4, fit="pad").image
    wider = np.hstack([strip, np.zeros((28, 100), np.uint8)])
    geometry = Geometry(rotate=(6.0, 6.0), shear=(-5.0, 5.0))
    # Both at 2 output pixels per strip pixel: the same ink, the same room above and below.
    placed = draw_transform(strip, (56, 400), geometry, new_rng(0))
    placed_wider = draw_transform(wider, (56, 600), geometry, new_rng(0))
    np.testing.assert_allclose(placed.matrix, placed_wider.matrix, atol=1e-9)
    assert placed.shrink == placed_wider.shrink < 1.0


def test_elastic_displacement_is_smooth_and_bounded(generator):
    strip = compose(generator, "2026", 48, 240)[0]
    for seed in range(5):
        transform = draw_transform(strip, (48, 240), Geometry(elastic=(1.0, 2.0)), new_rng(seed))
        field = transform.displacement
        assert field is not None and field.shape == (48, 240, 2)
        peak = np.abs(field).max()
        assert 1.0 <= peak <= 2.0 + 1e-5
        # Smooth (paper wobble): neighbouring pixels move nearly alike.
        assert np.abs(np.diff(field, axis=1)).max() < 0.25 * peak
        assert np.abs(np.diff(field, axis=0)).max() < 0.25 * peak


def test_same_seed_same_bytes_other_seed_differs(generator):
    strip, strip_mask, count = compose(generator, "31415", 48, 240)
    geometry = GEOMETRIES["all"]
    first = place(strip, strip_mask, count, (48, 240), geometry, new_rng(11))
    again = place(strip, strip_mask, count, (48, 240), geometry, new_rng(11))
    other = place(strip, strip_mask, count, (48, 240), geometry, new_rng(12))
    assert first[0].tobytes() == again[0].tobytes() and first[1].tobytes() == again[1].tobytes()
    assert first[2] == again[2]
    assert first[0].tobytes() != other[0].tobytes()


def test_identity_draws_nothing_and_geometry_draws_the_same_count(generator):
    strip, strip_mask, count = compose(generator, "2026", 48, 240)
    rng = new_rng(5)
    state = rng.bit_generator.state
    place(strip, strip_mask, count, (48, 240), Geometry(), rng)
    assert rng.bit_generator.state == state
    # Without elastic, every image takes the same 12 draws whatever the ranges.
    a, b = new_rng(5), new_rng(5)
    place(strip, strip_mask, count, (48, 240), Geometry(rotate=(-5.0, 5.0)), a)
    place(strip, strip_mask, count, (48, 240), Geometry(shear=(1.0, 2.0), perspective=(0.0, 0.1)), b)
    assert a.random() == b.random()


# --- properties ------------------------------------------------------------------------------------------


@examples(0.1)
@given(
    number=st.text("0123456789", min_size=1, max_size=8),
    height=st.sampled_from([16, 24, 28, 40, 48, 96]),
    per_digit=st.integers(14, 60),
    rotate=st.floats(-20, 20),
    shear=st.floats(-25, 25),
    perspective=st.floats(0, 0.2),
    elastic=st.floats(0, 2),
    seed=st.integers(0, 2**32),
    fit=st.sampled_from(["stretch", "pad"]),
)
def test_invariants_hold_for_any_geometry(
    generator, number, height, per_digit, rotate, shear, perspective, elastic, seed, fit
):
    width = per_digit * len(number) * height // 28 + 8
    strip, strip_mask, count = compose(generator, number, height, width, seed % 1000, fit, spacing=(0, 4))
    geometry = Geometry(
        rotate=(min(0.0, rotate), max(0.0, rotate)),
        shear=(min(0.0, shear), max(0.0, shear)),
        perspective=(0.0, perspective),
        elastic=(0.0, elastic),
    )
    image, mask, boxes = place(strip, strip_mask, count, (height, width), geometry, new_rng(seed))
    assert_exact(image, mask, boxes, count, (height, width), strip_mask)
    assert_no_new_edge_ink(image, place(strip, strip_mask, count, (height, width), Geometry(), None)[0])
    again = place(strip, strip_mask, count, (height, width), geometry, new_rng(seed))
    assert image.tobytes() == again[0].tobytes() and mask.tobytes() == again[1].tobytes()


# --- contracts -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "error", "field"),
    [
        ({"rotate": (5.0, -5.0)}, InvalidInput, "rotate"),
        ({"rotate": (0.0, 200.0)}, InvalidInput, "rotate"),
        ({"shear": (0.0, math.inf)}, InvalidInput, "shear"),
        ({"perspective": (-0.1, 0.1)}, InvalidInput, "perspective"),
        ({"elastic": (0.0, -1.0)}, InvalidInput, "elastic"),
        ({"rotate": 5.0}, InvalidType, "rotate"),
        ({"shear": (True, 1.0)}, InvalidType, "shear"),
        ({"elastic": (0.0, 1.0, 2.0)}, InvalidType, "elastic"),
    ],
)
def test_geometry_refuses_bad_ranges(fields, error, field):
    with pytest.raises(error) as raised:
        Geometry(**fields)
    assert raised.value.field == field and field in str(raised.value)


def test_place_asserts_its_contract(generator):
    strip, strip_mask, count = compose(generator, "2026", 48, 240)
    with pytest.raises(InvalidInput, match="generator") as raised:
        place(strip, strip_mask, count, (48, 240), Geometry(rotate=(1.0, 2.0)), None)
    assert raised.value.field == "rng"
    with pytest.raises(InvalidInput, match="mask"):
        place(strip, strip_mask[:, :-1], count, (48, 240), Geometry(), None)
    with pytest.raises(InvalidInput, match="image"):
        place(strip[:-1], strip_mask[:-1], count, (48, 240), Geometry(), None)
    with pytest.raises(InvalidInput, match="count"):
        place(strip, strip_mask, 0, (48, 240), Geometry(), None)
    with pytest.raises(InvalidInput, match="size"):
        place(strip, strip_mask, count, (48, 0), Geometry(), None)
    with pytest.raises(InvalidInput, match="elastic"):
        place(strip, strip_mask, count, (16, 80), Geometry(elastic=(40.0, 40.0)), new_rng(0))
    assert Geometry().is_identity and not Geometry(elastic=(0.0, 0.1)).is_identity
