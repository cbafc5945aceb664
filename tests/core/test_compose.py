"""The pure layout functions of hng.core.compose, on hand-made arrays and on real MNIST digits."""

import cv2
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from hng.core.compose import (
    HEIGHT,
    digit_offsets,
    ink_spans,
    lay_out,
    resample_columns,
    scale_span,
)
from tests.support.hypothesis import examples


def blank(width: int = 28) -> np.ndarray:
    return np.zeros((HEIGHT, width), dtype=np.uint8)


# --- ink spans ---------------------------------------------------------------------------------------


def test_ink_spans_of_a_stack():
    stack = np.zeros((4, HEIGHT, 28), dtype=np.uint8)
    # 0: empty
    stack[1, 7, 12] = 1  # one pixel
    stack[2, 0, 0] = stack[2, 27, 27] = 255  # both corners: the whole image
    stack[3, 10:15, 20:23] = 128  # a block
    cols = ink_spans(stack, axis=2)
    rows = ink_spans(stack, axis=1)
    assert cols.shape == rows.shape == (4, 2)
    assert cols.tolist() == [[0, 0], [12, 13], [0, 28], [20, 23]]
    assert rows.tolist() == [[0, 0], [7, 8], [0, 28], [10, 15]]


@pytest.mark.parametrize("width", [28, 30, 31, 140])
def test_ink_spans_read_as_words_equal_the_bytewise_spans(width):
    # uint8 stacks whose width is a multiple of 4 are read four bytes at a time; the rest byte by byte.
    rng = np.random.default_rng(width)
    stack = np.zeros((300, HEIGHT, width), dtype=np.uint8)
    for k in range(1, 300):  # image 0 stays empty
        y0, x0 = rng.integers(0, HEIGHT), rng.integers(0, width)
        y1, x1 = rng.integers(y0 + 1, HEIGHT + 1), rng.integers(x0 + 1, width + 1)
        stack[k, y0:y1, x0:x1] = rng.integers(0, 256, (y1 - y0, x1 - x0))
    strided = np.zeros((300, HEIGHT, width + 1), dtype=np.uint8)[:, :, :width]
    strided[:] = stack  # not contiguous: the bytewise path
    for axis in (1, 2):
        expected = np.zeros((300, 2), dtype=np.int16)
        for k in range(300):
            present = np.flatnonzero(stack[k].any(axis=0 if axis == 2 else 1))
            if present.size:
                expected[k] = (present[0], present[-1] + 1)
        np.testing.assert_array_equal(ink_spans(stack, axis), expected)
        np.testing.assert_array_equal(ink_spans(strided, axis), expected)


def test_ink_spans_agree_with_the_ink_bounding_box_on_real_digits(sample_data):
    for split in (sample_data.train, sample_data.test):
        cols = ink_spans(split.images, axis=2)
        rows = ink_spans(split.images, axis=1)
        for k in range(len(split)):
            x, y, width, height = cv2.boundingRect(split.images[k])  # what augmented digits are cropped by
            assert tuple(cols[k]) == (x, x + width)
            assert tuple(rows[k]) == (y, y + height)
        # MnistSplit precomputes exactly these (x0, x1, y0, y1) at load time.
        np.testing.assert_array_equal(split.ink_bounds, np.concatenate([cols, rows], axis=1))
        # Real digits have ink, and their crop keeps all of it.
        assert (cols[:, 1] > cols[:, 0]).all() and (rows[:, 1] > rows[:, 0]).all()
        for k in range(0, len(split), 37):
            x0, x1, y0, y1 = split.ink_bounds[k].tolist()
            assert split.images[k, :, x0:x1].sum() == split.images[k].sum()
            assert split.images[k, y0:y1, :].sum() == split.images[k].sum()


# --- layout ------------------------------------------------------------------------------------------


def test_digit_offsets_margins_and_gaps():
    offsets, width = digit_offsets([3, 5, 2], [1, 7])
    assert offsets == [4, 8, 20]
    assert width == 4 + 3 + 1 + 5 + 7 + 2 + 4
    assert digit_offsets([10], []) == ([4], 18)
    assert digit_offsets([2, 2], [0]) == ([4, 6], 12)
    # The gaps list may carry one entry per digit (the batch path stores 0 after the last digit).
    assert digit_offsets([3, 5], [2, 0]) == ([4, 9], 18)


def test_lay_out_places_crops_between_margins_and_gaps():
    # MNIST's 28 rows are kept; a 4-column margin on both ends.
    crops = [np.full((28, w), v, np.uint8) for w, v in ((3, 10), (5, 20), (2, 30))]
    crops[1][0, 0] = 99  # a marker, to check orientation
    strip, offsets = lay_out(crops, [1, 7])
    assert strip.shape == (28, 26) and strip.dtype == np.uint8
    assert offsets == [4, 8, 20]
    np.testing.assert_array_equal(strip[:, 4:7], crops[0])
    np.testing.assert_array_equal(strip[:, 8:13], crops[1])
    np.testing.assert_array_equal(strip[:, 20:22], crops[2])
    for background in (slice(0, 4), slice(7, 8), slice(13, 20), slice(22, 26)):
        assert not strip[:, background].any()
    assert strip[0, 8] == 99


def test_lay_out_with_zero_gaps_and_one_digit():
    crops = [np.full((HEIGHT, 2), 1, np.uint8), np.full((HEIGHT, 3), 2, np.uint8)]
    strip, offsets = lay_out(crops, [0])
    assert offsets == [4, 6]
    assert strip[0].tolist() == [0] * 4 + [1, 1, 2, 2, 2] + [0] * 4
    strip, offsets = lay_out(crops[:1], [])
    assert offsets == [4] and strip.shape == (HEIGHT, 10)


# --- resampling --------------------------------------------------------------------------------------


def test_resample_identity_returns_an_equal_copy():
    rng = np.random.default_rng(0)
    strip = rng.integers(0, 256, (HEIGHT, 50), dtype=np.uint8)
    out = resample_columns(strip, 50)
    np.testing.assert_array_equal(out, strip)
    assert out is not strip and not np.shares_memory(out, strip)


@pytest.mark.parametrize("width", [1, 7, 49, 51, 100, 333])
def test_resample_shape_and_dtype(width):
    strip = np.random.default_rng(1).integers(0, 256, (HEIGHT, 50), dtype=np.uint8)
    out = resample_columns(strip, width)
    assert out.shape == (HEIGHT, width) and out.dtype == np.uint8


@pytest.mark.parametrize("width", [3, 10, 17, 37, 100, 1000])
def test_resampling_a_constant_strip_keeps_it_constant(width):
    strip = np.full((HEIGHT, 17), 200, np.uint8)
    np.testing.assert_array_equal(resample_columns(strip, width), np.full((HEIGHT, width), 200, np.uint8))


def test_resampling_keeps_rows_apart():
    strip = np.zeros((HEIGHT, 30), np.uint8)
    strip[5] = 255
    for width in (11, 30, 90):
        out = resample_columns(strip, width)
        assert (out[5] == 255).all() and not np.delete(out, 5, axis=0).any()


def test_squeezing_keeps_thin_strokes_visible():
    """One-pixel strokes every 10 columns, squeezed 4×: every stroke survives, and ink mass is kept.

    Linear or nearest sampling would skip most strokes; area averaging must not.
    """
    strip = np.zeros((HEIGHT, 100), np.uint8)
    stroke_columns = list(range(3, 100, 10))
    strip[:, stroke_columns] = 255
    out = resample_columns(strip, 25)
    for c in stroke_columns:
        assert out[:, c * 25 // 100].min() > 0, c
    assert abs(int(out.sum()) * 4 - int(strip.sum())) <= 0.05 * strip.sum()
    skipped = cv2.resize(strip, (25, HEIGHT), interpolation=cv2.INTER_LINEAR)
    assert np.count_nonzero(skipped.any(axis=0)) < len(stroke_columns)  # what the test guards against


def test_resampling_modes():
    """Stretching interpolates linearly, squeezing averages the area (as documented)."""
    strip = np.random.default_rng(2).integers(0, 256, (HEIGHT, 60), dtype=np.uint8)
    np.testing.assert_array_equal(
        resample_columns(strip, 150), cv2.resize(strip, (150, HEIGHT), interpolation=cv2.INTER_LINEAR)
    )
    np.testing.assert_array_equal(
        resample_columns(strip, 41), cv2.resize(strip, (41, HEIGHT), interpolation=cv2.INTER_AREA)
    )


@pytest.mark.parametrize(("length", "width"), [(97, 140), (97, 40), (60, 30), (33, 34), (150, 149), (20, 1)])
def test_a_stack_of_strips_resizes_to_the_bytes_of_each_strip_alone(length, width):
    rng = np.random.default_rng(length * 1000 + width)
    strips = rng.integers(0, 256, (7, HEIGHT, length), dtype=np.uint8)
    stacked = resample_columns(strips.reshape(7 * HEIGHT, length), width)
    assert stacked.shape == (7 * HEIGHT, width)
    for g in range(7):
        np.testing.assert_array_equal(
            stacked[g * HEIGHT : (g + 1) * HEIGHT], resample_columns(strips[g], width)
        )


@examples(0.6)
@given(
    length=st.integers(1, 300),
    width=st.integers(1, 600),
    groups=st.integers(1, 5),
    seed=st.integers(0, 2**32 - 1),
)
def test_stacking_property(length, width, groups, seed):
    strips = np.random.default_rng(seed).integers(0, 256, (groups, HEIGHT, length), dtype=np.uint8)
    stacked = resample_columns(strips.reshape(groups * HEIGHT, length), width)
    for g in range(groups):
        np.testing.assert_array_equal(
            stacked[g * HEIGHT : (g + 1) * HEIGHT], resample_columns(strips[g], width)
        )


# --- scale_span --------------------------------------------------------------------------------------


def test_scale_span_examples():
    assert scale_span(5, 10, 50, 50) == (5, 10)  # identity
    # Doubling: linear interpolation spreads the edge columns' ink into one more column on each side
    # (output column 9 samples source x = 4.25: a quarter of column 5).
    assert scale_span(5, 10, 50, 100) == (9, 21)
    assert scale_span(5, 10, 50, 25) == (2, 5)  # exact halving
    assert scale_span(3, 7, 10, 4) == (1, 3)  # floor the start, ceil the stop
    assert scale_span(0, 50, 50, 13) == (0, 13)  # the whole strip is the whole image
    assert scale_span(4, 5, 10, 3) == (1, 2)  # one column never vanishes


@examples(2)
@given(data=st.data())
def test_scale_span_covers_the_scaled_range(data):
    source = data.draw(st.integers(1, 500))
    output = data.draw(st.integers(1, 1000))
    start = data.draw(st.integers(0, source - 1))
    stop = data.draw(st.integers(start + 1, source))
    x0, x1 = scale_span(start, stop, source, output)
    assert 0 <= x0 < x1 <= output
    if output <= source:
        # Squeezing: [x0, x1) covers [start, stop) scaled, and is at most one pixel wider on each side.
        assert x0 <= start * output / source < x0 + 1
        assert x1 - 1 < stop * output / source <= x1
    else:
        # Stretching: exactly the columns whose sample point x = (j + 0.5) L / W - 0.5 lies in
        # (start - 1, stop), i.e. that interpolate between two columns at least one of which is inked.
        def touches(j: int) -> bool:
            x = (j + 0.5) * source / output - 0.5
            return start - 1 < x < stop

        inside = [j for j in range(output) if touches(j)]
        assert (x0, x1) == (inside[0], inside[-1] + 1)
