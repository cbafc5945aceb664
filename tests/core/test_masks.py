"""Per-digit masks: each digit's ink exactly, its box the mask's bounds, the same in every entry point."""

import cv2
import numpy as np
import pytest

from hng.core.masks import INK_THRESHOLD, label_digits, resample_support
from tests.support.masks import mask_bounds, oracle_mask

NUMBERS = ["2026", "0123456789", "1111111", "00000", "7", "8080808080"]


def assert_exact(result):
    """The mask is the image's ink, labelled 1..n; each box is the bounds of its label."""
    mask = result.mask
    assert mask is not None and mask.shape == result.image.shape and mask.dtype == np.uint8
    np.testing.assert_array_equal(mask > 0, result.image > INK_THRESHOLD)
    assert int(mask.max()) <= len(result.label)
    for k, box in enumerate(result.boxes, 1):
        bounds = mask_bounds(mask, k)
        if bounds is None:
            assert box.x0 == box.x1 and box.y0 == box.y1 == 0
        else:
            assert (box.x0, box.y0, box.x1, box.y1) == bounds


@pytest.mark.parametrize("width", [None, 20, 47, 96, 140, 333])
@pytest.mark.parametrize("spacing", [(0, 0), (0, 2), (5, 10)])
def test_plain_masks_match_opencvs_own_per_digit_resize(generator, sample_data, width, spacing):
    for number in NUMBERS:
        for seed in range(4):
            result = generator.generate(
                number, image_width=width, seed=seed, spacing_range=spacing, masks=True
            )
            assert_exact(result)
            split = sample_data.train
            crops = []
            for k in result.indices:
                x0, x1, _, _ = split.ink_bounds[k].tolist()
                crops.append(split.images[k, :, x0:x1])
            image, mask = oracle_mask(crops, list(result.gaps), result.width)
            np.testing.assert_array_equal(result.image, image)
            np.testing.assert_array_equal(result.mask, mask)


@pytest.mark.parametrize("augment", ["mild", "strong"])
@pytest.mark.parametrize("fit", ["stretch", "pad"])
@pytest.mark.parametrize("width", [30, 96, 140, 260])
def test_augmented_masks_are_exact(generator, augment, fit, width):
    for number in NUMBERS:
        for seed in range(3):
            result = generator.generate(
                number,
                image_width=width,
                seed=seed,
                augment=augment,
                fit=fit,
                spacing_range=(0, 4),
                masks=True,
            )
            assert_exact(result)


@pytest.mark.parametrize("augment", [None, "mild"])
@pytest.mark.parametrize("fit", ["stretch", "pad"])
def test_batch_masks_equal_single_masks(generator, augment, fit):
    numbers = ["2026", "007", "0123456789", "5", "99999"]
    widths = [140, 60, 200, 28, 33]
    seeds = [3, 1, 4, 1, 5]
    batch = generator.generate_batch(
        numbers, image_width=widths, seeds=seeds, augment=augment, fit=fit, spacing_range=(0, 3), masks=True
    )
    assert batch.masks is not None and batch.masks.shape == batch.images.shape
    for i, number in enumerate(numbers):
        single = generator.generate(
            number,
            image_width=widths[i],
            seed=seeds[i],
            augment=augment,
            fit=fit,
            spacing_range=(0, 3),
            masks=True,
        )
        np.testing.assert_array_equal(batch[i].mask, single.mask)
        assert batch[i].boxes == single.boxes
        assert not batch.masks[i, :, widths[i] :].any()
        assert_exact(batch[i])


def test_asking_for_masks_changes_neither_image_nor_boxes(generator):
    for width in (50, 140, None):
        for augment in (None, "strong"):
            plain = generator.generate("31415", image_width=width, seed=9, augment=augment)
            masked = generator.generate("31415", image_width=width, seed=9, augment=augment, masks=True)
            assert plain.mask is None
            np.testing.assert_array_equal(plain.image, masked.image)
            assert plain.boxes == masked.boxes
    batch = generator.generate_batch(["12", "345"], image_width=70, seed=2)
    assert batch.masks is None and batch[0].mask is None


def test_mask_png_holds_the_labels(generator):
    result = generator.generate("2026", image_width=140, seed=5, masks=True)
    decoded = cv2.imdecode(np.frombuffer(result.mask_png(), np.uint8), cv2.IMREAD_UNCHANGED)
    np.testing.assert_array_equal(decoded, result.mask)
    with pytest.raises(ValueError, match="masks=True"):
        generator.generate("2026", seed=5).mask_png()


def test_masks_flag_is_checked(generator):
    with pytest.raises(ValueError, match="masks must be true or false"):
        generator.generate("12", masks="maybe")


@pytest.mark.parametrize("length,width", [(10, 40), (40, 10), (97, 140), (140, 97), (100, 33), (7, 7 * 3)])
def test_resample_support_holds_every_weight_opencv_uses(length, width):
    sources, weights = resample_support(length, width)
    np.testing.assert_allclose(weights.sum(axis=1), 1.0)
    interpolation = cv2.INTER_LINEAR if width > length else cv2.INTER_AREA
    for column in range(length):
        impulse = np.zeros((1, length), dtype=np.float32)
        impulse[0, column] = 1.0
        resized = cv2.resize(impulse, (width, 1), interpolation=interpolation)[0]
        ours = np.zeros(width)
        for j in range(width):
            for t in range(weights.shape[1]):
                if sources[j, t] == column:
                    ours[j] += weights[j, t]
        np.testing.assert_allclose(resized, ours, atol=1e-5)


def test_a_shared_pixel_goes_to_the_larger_contribution_and_ties_go_left():
    # Two one-column digits side by side, squeezed 2:1 into one column: its pixels take from both.
    strip = np.array([[0, 0], [200, 100], [100, 200], [150, 150]], dtype=np.uint8)
    labels = np.array([1, 2], dtype=np.uint8)
    image = cv2.resize(strip, (1, 4), interpolation=cv2.INTER_AREA)
    masks = np.zeros((1, 4, 1), dtype=np.uint8)
    boxes = label_digits(
        image[None],
        np.array([[0, 0, 1, 0, 4], [0, 0, 1, 0, 4]]),
        np.array([2]),
        np.array([1]),
        lambda _, columns: labels[columns],
        lambda _, columns: strip[:, columns].T,
        masks_out=masks,
    )
    assert masks[0, :, 0].tolist() == [0, 1, 2, 1]
    assert boxes.tolist() == [[0, 1, 1, 4], [0, 2, 1, 3]]
