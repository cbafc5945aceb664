"""Batched generation: the same draws and bytes as single generation, consistent per-image facts."""

import numpy as np
import pytest

import hng
from hng.core.generation import _BATCH_CHUNK, MAX_BATCH_SIZE
from tests.support.masks import mask_bounds, oracle_mask


def recompose(split, indices, gaps, width):
    """A plain image rebuilt from MNIST samples and gaps by OpenCV alone, with the tight box (x0, x1,
    y0, y1) of each digit's ink in it (``tests.support.masks``)."""
    crops = []
    for k in indices:
        x0, x1, _, _ = split.ink_bounds[k].tolist()
        crops.append(split.images[k, :, x0:x1])
    image, mask = oracle_mask(crops, list(gaps), width)
    boxes = []
    for label in range(1, len(crops) + 1):
        x0, y0, x1, y1 = mask_bounds(mask, label)
        boxes.append((x0, x1, y0, y1))
    return image, boxes


def assert_same(item: hng.GeneratedNumber, single: hng.GeneratedNumber):
    assert item.image.tobytes() == single.image.tobytes()
    assert item.image.shape == single.image.shape
    assert item.boxes == single.boxes
    assert item.gaps == single.gaps
    assert item.indices == single.indices
    assert item.label == single.label
    assert (item.seed, item.split, item.augment, item.spacing_range) == (
        single.seed,
        single.split,
        single.augment,
        single.spacing_range,
    )


@pytest.mark.parametrize("augment", [None, "mild", "strong"])
@pytest.mark.parametrize("width", [20, 60, 96, 140, 300])
@pytest.mark.parametrize("number", ["2026", "007", "5", "31415926535"])
def test_a_batch_of_one_equals_a_single_generation(generator, augment, width, number):
    for seed in (0, 7, 2**40 + 3):
        item = generator.generate_batch([number], image_width=width, seed=seed, augment=augment)[0]
        assert_same(item, generator.generate(number, image_width=width, seed=seed, augment=augment))


@pytest.mark.parametrize("split", ["train", "test"])
def test_a_batch_of_one_equals_a_single_generation_per_split_and_spacing(generator, split):
    for seed in range(10):
        kwargs = {"image_width": 120, "seed": seed, "split": split, "spacing_range": (0, 3)}
        assert_same(
            generator.generate_batch(["8675309"], **kwargs)[0], generator.generate("8675309", **kwargs)
        )


def test_batch_shapes_and_container(generator):
    numbers = ["1", "22", "333", "4444", "007"]
    batch = generator.generate_batch(numbers, image_width=90, seed=4)
    assert isinstance(batch, hng.GeneratedBatch)
    assert len(batch) == 5
    assert batch.images.shape == (5, 28, 90) and batch.images.dtype == np.uint8
    assert batch.labels == ("1", "22", "333", "4444", "007")
    assert batch.boxes.shape == (13, 5)
    assert batch.indices.shape == batch.gaps.shape == (13,)
    assert batch.digit_offsets.tolist() == [0, 1, 3, 6, 10, 13]
    # The gap after each image's last digit is stored as 0.
    assert batch.gaps[batch.digit_offsets[1:] - 1].tolist() == [0] * 5
    assert batch[-1].label == "007" and batch[-5].label == "1"
    with pytest.raises(IndexError):
        batch[5]
    with pytest.raises(IndexError):
        batch[-6]


@pytest.mark.parametrize("augment", [None, "mild"])
@pytest.mark.parametrize("split", ["train", "test"])
def test_every_item_is_consistent(generator, sample_data, augment, split):
    numbers = ["2026", "0", "99", "31337", "0000000", "123456789", "7"] * 4
    low, high = 2, 9
    batch = generator.generate_batch(
        numbers, image_width=110, seed=21, augment=augment, split=split, spacing_range=(low, high)
    )
    labels = sample_data.split(split).labels
    for i, number in enumerate(numbers):
        item = batch[i]
        assert item.label == number
        assert item.image.shape == (28, 110)
        assert [box.digit for box in item.boxes] == [int(c) for c in number]
        assert [int(labels[k]) for k in item.indices] == [int(c) for c in number]
        assert len(item.gaps) == len(number) - 1 and all(low <= g <= high for g in item.gaps)
        for box in item.boxes:
            assert 0 <= box.x0 < box.x1 <= 110 and 0 <= box.y0 < box.y1 <= 28
            assert item.image[box.y0 : box.y1, box.x0 : box.x1].any()
        assert [b.x0 for b in item.boxes] == sorted(b.x0 for b in item.boxes)
        if augment is None:
            image, boxes = recompose(sample_data.split(split), item.indices, item.gaps, 110)
            np.testing.assert_array_equal(item.image, image)
            assert [(b.x0, b.x1, b.y0, b.y1) for b in item.boxes] == boxes


def test_batch_draws_are_uniform_and_reach_the_range_ends(generator, sample_data):
    batch = generator.generate_batch(["12345"] * 2000, image_width=100, seed=9, spacing_range=(3, 4))
    gaps = [g for i in range(len(batch)) for g in batch[i].gaps]
    assert set(gaps) == {3, 4}
    assert 3700 <= gaps.count(4) <= 4300  # about half of 8000
    ones = batch.indices[batch.boxes[:, 0] == 1]
    assert set(ones.tolist()) == set(np.flatnonzero(sample_data.train.labels == 1).tolist())


def test_images_of_a_batch_differ(generator):
    batch = generator.generate_batch(["2026"] * 50, image_width=140, seed=1)
    assert len({image.tobytes() for image in batch.images}) == 50


@pytest.mark.parametrize("augment", [None, "strong"])
def test_batch_is_reproducible_and_reports_its_seed(generator, augment):
    numbers = ["12", "345", "6789"]
    first = generator.generate_batch(numbers, image_width=64, augment=augment)
    assert type(first.seed) is int and 0 <= first.seed < 2**53
    again = generator.generate_batch(numbers, image_width=64, augment=augment, seed=first.seed)
    assert first.images.tobytes() == again.images.tobytes()
    np.testing.assert_array_equal(first.boxes, again.boxes)
    np.testing.assert_array_equal(first.indices, again.indices)
    other = generator.generate_batch(numbers, image_width=64, augment=augment, seed=first.seed + 1)
    assert first.images.tobytes() != other.images.tobytes()


def test_a_large_batch_is_chunked_consistently(generator, sample_data):
    """A batch spanning several composition chunks: each image matches the single-image path."""
    count = 2 * _BATCH_CHUNK + 904  # 5000 with chunks of 2048: two full chunks and a partial one
    numbers = [str(i % 1000) for i in range(count)]  # lengths 1-3, mixed across the chunk boundaries
    batch = generator.generate_batch(numbers, image_width=50, seed=77)
    assert batch.images.shape == (count, 28, 50)
    for i in range(len(batch)):
        item = batch[i]
        image, boxes = recompose(sample_data.train, item.indices, item.gaps, 50)
        assert item.image.tobytes() == image.tobytes(), i
        assert [(b.x0, b.x1, b.y0, b.y1) for b in item.boxes] == boxes, i
        assert [int(sample_data.train.labels[k]) for k in item.indices] == [int(c) for c in numbers[i]]
    # The first image is the single path's, whatever the batch size.
    np.testing.assert_array_equal(batch.images[0], generator.generate("0", image_width=50, seed=77).image)


@pytest.mark.parametrize(
    ("numbers", "error", "message"),
    [
        ("1234", TypeError, r"^numbers must be a list"),
        (1234, TypeError, r"^numbers must be a list"),
        ([], ValueError, r"^numbers must not be empty"),
        (["12", None], ValueError, r"^numbers\[1\] is required"),
        (["12", ""], ValueError, r"^numbers\[1\] must not be empty"),
        (["12", "3a"], ValueError, r"^numbers\[1\] must contain only the digits"),
        (["12", "٣"], ValueError, r"^numbers\[1\] must contain only the digits"),
        (["12", "1" * 65], ValueError, r"^numbers\[1\] may have at most 64 digits"),
        ([5, -5], ValueError, r"^numbers\[1\] must not be negative"),
        (["1", "2", [1, 12]], ValueError, r"^numbers\[2\]\[1\] must be <= 9"),
        (["1", 2.0], TypeError, r"^numbers\[1\] must be an int"),
        (["1", ["2"]], TypeError, r"^numbers\[1\]\[0\] must be an integer"),
        (["1"] * (MAX_BATCH_SIZE + 1), ValueError, rf"^numbers may hold at most {MAX_BATCH_SIZE}"),
    ],
)
def test_bad_numbers_name_the_entry(generator, numbers, error, message):
    with pytest.raises(error, match=message):
        generator.generate_batch(numbers, image_width=56, seed=1)


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"image_width": None}, ValueError, r"^image_width is required"),
        ({"image_width": 0}, ValueError, r"^image_width must be >= 1"),
        ({"image_width": "56"}, TypeError, r"^image_width must be an integer"),
        ({"spacing_range": (9, 1)}, ValueError, r"^spacing_range"),
        ({"seed": "3"}, TypeError, r"^seed must be an integer"),
        ({"split": "val"}, ValueError, r"^split must be one of"),
        ({"augment": "nope"}, ValueError, r"^augment must be one of"),
    ],
)
def test_bad_batch_options_name_the_argument(generator, kwargs, error, message):
    with pytest.raises(error, match=message):
        generator.generate_batch(["12"], **{"image_width": 56, **kwargs})


def test_image_width_is_required(generator):
    with pytest.raises(TypeError):
        generator.generate_batch(["12"])  # keyword-only and without a default


def test_batch_accepts_numpy_integers(generator):
    numbers = [np.int64(12), np.array([3, 4])]
    batch = generator.generate_batch(numbers, image_width=np.int64(60), spacing_range=(np.int8(1), 5), seed=3)
    assert batch.labels == ("12", "34")
    assert batch.images.shape == (2, 28, 60)
    expected = generator.generate_batch(["12", "34"], image_width=60, spacing_range=(1, 5), seed=3)
    np.testing.assert_array_equal(batch.images, expected.images)


def test_batch_accepts_a_numpy_seed(generator):
    batch = generator.generate_batch(["12", "34"], image_width=60, seed=np.int64(3))
    expected = generator.generate_batch(["12", "34"], image_width=60, seed=3)
    np.testing.assert_array_equal(batch.images, expected.images)
    assert type(batch.seed) is int and batch.seed == 3
