"""Generation semantics on real MNIST digits (the committed sample): layout, draws, boxes, seeds, threads."""

import json
import pickle
import random
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import hng
from hng.core.compose import lay_out, resample_columns
from hng.core.png import decode_png
from hng.mnist.npzfile import DIGIT_COUNTS, write_mnist_npz

NUMBERS = ["2026", "007", "1", "9876543210", "11", "42"]


def ink_crop(image: np.ndarray) -> tuple[np.ndarray, int, int]:
    """A digit cropped to its non-empty columns, and its non-empty rows [y0, y1), computed here."""
    columns = np.flatnonzero(image.any(axis=0))
    rows = np.flatnonzero(image.any(axis=1))
    return image[:, columns[0] : columns[-1] + 1], int(rows[0]), int(rows[-1]) + 1


def natural_layout(split, result) -> tuple[np.ndarray, list[np.ndarray]]:
    """The natural-width strip of a plain result, rebuilt from its indices and gaps."""
    crops = [ink_crop(split.images[k])[0] for k in result.indices]
    strip, _ = lay_out(crops, list(result.gaps))
    return strip, crops


def box_mask(result) -> np.ndarray:
    mask = np.zeros(result.width, bool)
    for box in result.boxes:
        mask[box.x0 : box.x1] = True
    return mask


# --- the result --------------------------------------------------------------------------------------


def test_result_fields(generator):
    result = generator.generate("2026", image_width=140, seed=11)
    assert isinstance(result, hng.GeneratedNumber)
    assert result.image.shape == (28, 140) and result.image.dtype == np.uint8
    assert result.width == 140
    assert result.label == "2026"
    assert result.seed == 11 and result.split == "train" and result.augment == "none"
    assert result.spacing_range == (5, 10)
    assert len(result.boxes) == 4 and len(result.indices) == 4 and len(result.gaps) == 3
    assert all(isinstance(box, hng.DigitBox) for box in result.boxes)
    assert [box.digit for box in result.boxes] == [2, 0, 2, 6]
    assert result.image.max() > 0


def test_as_float_png_and_metadata(generator):
    result = generator.generate("907", image_width=90, seed=3, augment="mild")
    floats = result.as_float()
    assert floats.dtype == np.float32 and floats.shape == (28, 90)
    assert floats.min() >= 0.0 and floats.max() <= 1.0
    np.testing.assert_array_equal(np.rint(floats * 255).astype(np.uint8), result.image)
    np.testing.assert_array_equal(decode_png(result.to_png()), result.image)

    meta = json.loads(json.dumps(result.metadata()))
    assert meta["label"] == "907" and meta["width"] == 90 and meta["height"] == 28
    assert meta["seed"] == 3 and meta["split"] == "train" and meta["augment"] == "mild"
    assert meta["spacing_range"] == [5, 10]
    assert meta["gaps"] == list(result.gaps) and meta["indices"] == list(result.indices)
    assert meta["boxes"] == [box._asdict() for box in result.boxes]
    assert set(meta["boxes"][0]) == {"digit", "x0", "y0", "x1", "y1"}


def test_module_level_generate_uses_the_default_generator(sample_default_generator):
    assert hng.default_generator() is sample_default_generator
    a = hng.generate("314", image_width=80, seed=2)
    b = sample_default_generator.generate("314", image_width=80, seed=2)
    np.testing.assert_array_equal(a.image, b.image)
    batch = hng.generate_batch(["314"], image_width=80, seed=2)
    np.testing.assert_array_equal(batch.images[0], a.image)


def full_shaped_from_sample(sample_data) -> dict[str, np.ndarray]:
    """MNIST-shaped arrays (the per-digit counts a strict load requires) of the sample's real digits:
    digit d's samples repeated to MNIST's count of d, in order."""
    arrays = {}
    for name, split in (("train", sample_data.train), ("test", sample_data.test)):
        order = np.concatenate(
            [np.resize(split.by_digit[d], count) for d, count in enumerate(DIGIT_COUNTS[name])]
        )
        arrays[f"x_{name}"], arrays[f"y_{name}"] = split.images[order], split.labels[order]
    return arrays


def test_generator_loads_from_a_path(sample_data, tmp_path):
    arrays = full_shaped_from_sample(sample_data)
    path = tmp_path / "mnist.npz"
    write_mnist_npz(arrays, path)
    for given in (path, str(path)):
        generator = hng.Generator(given)
        assert generator.data.path == str(path.resolve())
        for name in ("train", "test"):
            np.testing.assert_array_equal(generator.data.split(name).images, arrays[f"x_{name}"])
            np.testing.assert_array_equal(generator.data.split(name).labels, arrays[f"y_{name}"])
            for seed in range(5):
                result = generator.generate("2026", seed=seed, split=name)
                assert [int(arrays[f"y_{name}"][k]) for k in result.indices] == [2, 0, 2, 6]
                crops = [ink_crop(arrays[f"x_{name}"][k])[0] for k in result.indices]
                np.testing.assert_array_equal(result.image, lay_out(crops, list(result.gaps))[0])


def test_a_generator_over_a_missing_path_fails_on_first_use(tmp_path):
    generator = hng.Generator(tmp_path / "missing.npz")  # lazy: nothing is read yet
    with pytest.raises(FileNotFoundError, match=r"missing\.npz"):
        generator.generate("1", seed=1)


# --- layout semantics at the natural width -----------------------------------------------------------


@pytest.mark.parametrize("number", NUMBERS)
def test_natural_width_is_margins_plus_crops_plus_gaps(generator, sample_data, number):
    for seed in range(20):
        result = generator.generate(number, seed=seed)
        crops = [ink_crop(sample_data.train.images[k])[0] for k in result.indices]
        assert result.width == 8 + sum(c.shape[1] for c in crops) + sum(result.gaps)
        assert result.image.shape == (28, result.width) and result.image.dtype == np.uint8


@pytest.mark.parametrize("number", NUMBERS)
def test_boxes_at_the_natural_width_are_the_placed_mnist_crops(generator, sample_data, number):
    for seed in range(20):
        result = generator.generate(number, seed=seed)
        image = result.image
        assert len(result.boxes) == len(number)
        x = 4
        for i, (box, k) in enumerate(zip(result.boxes, result.indices, strict=True)):
            crop, y0, y1 = ink_crop(sample_data.train.images[k])
            assert box.digit == int(number[i])
            assert (box.x0, box.x1) == (x, x + crop.shape[1])
            assert (box.y0, box.y1) == (y0, y1)  # the MNIST sample's own ink rows
            np.testing.assert_array_equal(image[:, box.x0 : box.x1], crop)
            assert image[:, box.x0].any() and image[:, box.x1 - 1].any()  # tight on both sides
            assert image[box.y0, box.x0 : box.x1].any() and image[box.y1 - 1, box.x0 : box.x1].any()
            assert not image[: box.y0, box.x0 : box.x1].any() and not image[box.y1 :, box.x0 : box.x1].any()
            if i < len(result.gaps):
                x = box.x1 + result.gaps[i]
                if result.gaps[i] > 0:
                    assert box.x1 < result.boxes[i + 1].x0  # left to right, not overlapping
        assert x + crop.shape[1] + 4 == result.width
        # Margins, gaps: everything outside the boxes is background.
        assert not image[:, :4].any() and not image[:, -4:].any()
        assert not image[:, ~box_mask(result)].any()


def test_leading_zeros_and_ints(generator):
    zeros = generator.generate("007", seed=8)
    assert zeros.label == "007"
    assert [box.digit for box in zeros.boxes] == [0, 0, 7]
    assert len(zeros.indices) == 3 and len(zeros.gaps) == 2
    listed = generator.generate([0, 0, 7], seed=8)
    np.testing.assert_array_equal(listed.image, zeros.image)
    assert listed.label == "007"

    seven = generator.generate(7, seed=8)
    assert seven.label == "7" and len(seven.boxes) == 1 and seven.gaps == ()
    np.testing.assert_array_equal(seven.image, generator.generate("7", seed=8).image)


# --- draws -------------------------------------------------------------------------------------------


def test_each_drawn_sample_has_the_right_label(generator, sample_data):
    for split in ("train", "test"):
        labels = sample_data.split(split).labels
        for seed in range(50):
            result = generator.generate("0123456789", seed=seed, split=split)
            assert result.split == split
            assert [int(labels[k]) for k in result.indices] == list(range(10))


def test_split_test_draws_from_the_test_images(generator, sample_data):
    for seed in range(20):
        result = generator.generate("5831", seed=seed, split="test")
        assert all(0 <= k < len(sample_data.test) for k in result.indices)
        strip, _ = natural_layout(sample_data.test, result)
        np.testing.assert_array_equal(result.image, strip)
    # The sample's test split is not a prefix of its train split: drawing from train gives other pixels.
    train = generator.generate("5831", seed=0, split="train")
    test = generator.generate("5831", seed=0, split="test")
    assert train.image.shape != test.image.shape or not np.array_equal(train.image, test.image)


def test_samples_are_drawn_uniformly_over_all_samples_of_the_digit(generator, sample_data):
    drawn = []
    for seed in range(200):
        drawn.extend(generator.generate("3333333333", seed=seed).indices)
    counts = np.bincount(drawn, minlength=len(sample_data.train))
    threes = np.flatnonzero(sample_data.train.labels == 3)
    assert counts[threes].sum() == 2000
    assert (counts[threes] > 0).all()  # every sample of the digit is reachable, first and last included
    assert counts[threes].max() < 60  # 20 expected per sample: no sample dominates


def test_gaps_lie_in_the_inclusive_range_and_reach_both_ends(generator):
    gaps = []
    for seed in range(100):
        result = generator.generate("12345", spacing_range=(3, 4), seed=seed)
        gaps.extend(result.gaps)
    assert set(gaps) == {3, 4}
    assert 150 <= gaps.count(4) <= 250  # about half of 400


def test_gaps_are_uniform_over_the_range(generator):
    gaps = []
    for seed in range(300):
        gaps.extend(generator.generate("1234", spacing_range=(0, 10), seed=seed).gaps)
    counts = np.bincount(gaps, minlength=11)
    assert counts.size == 11  # nothing above the maximum
    expected = len(gaps) / 11
    assert (counts > 0.6 * expected).all() and (counts < 1.4 * expected).all(), counts


@pytest.mark.parametrize("k", [0, 1, 7, 30])
def test_a_fixed_spacing_gives_every_gap_that_value(generator, k):
    for seed in range(10):
        result = generator.generate("90210", spacing_range=(k, k), seed=seed)
        assert result.gaps == (k,) * 4
        assert result.spacing_range == (k, k)


def test_zero_gaps_put_digits_side_by_side(generator):
    result = generator.generate("111", spacing_range=(0, 0), seed=5)
    for left, right in zip(result.boxes, result.boxes[1:], strict=False):
        assert left.x1 == right.x0


def test_draws_do_not_depend_on_width_or_augmentation(generator):
    """Samples and gaps come first in the stream; the width only changes the final resample."""
    for seed in range(10):
        base = generator.generate("4096", seed=seed)
        for kwargs in ({"image_width": 50}, {"image_width": 200}, {"augment": "mild"}, {"augment": "strong"}):
            other = generator.generate("4096", seed=seed, **kwargs)
            assert other.indices == base.indices and other.gaps == base.gaps


@pytest.mark.parametrize("width", [20, 60, 97, 140, 400])
def test_a_given_width_resamples_the_natural_strip(generator, width):
    for seed in range(10):
        natural = generator.generate("2026", seed=seed)
        sized = generator.generate("2026", image_width=width, seed=seed)
        assert sized.image.shape == (28, width)
        np.testing.assert_array_equal(sized.image, resample_columns(natural.image, width))


# --- boxes after resampling --------------------------------------------------------------------------


@pytest.mark.parametrize("width", [30, 60, 140, 300])
def test_resampled_boxes_are_ordered_within_the_image_and_hold_ink(generator, width):
    for seed in range(30):
        result = generator.generate("2026", image_width=width, seed=seed)
        for box in result.boxes:
            assert 0 <= box.x0 < box.x1 <= width
            assert 0 <= box.y0 < box.y1 <= 28
            assert result.image[box.y0 : box.y1, box.x0 : box.x1].any()
        assert [b.x0 for b in result.boxes] == sorted(b.x0 for b in result.boxes)
        assert [b.x1 for b in result.boxes] == sorted(b.x1 for b in result.boxes)


@pytest.mark.parametrize("width", [30, 60, 140, 300])
def test_each_digits_ink_lies_inside_its_box_after_resampling(generator, sample_data, width):
    """Resample the strip with only digit i in it: all of that ink must fall inside boxes[i].

    A box that cuts off part of its digit mislabels the image for detection training.
    """
    for seed in range(30):
        result = generator.generate("2026", image_width=width, seed=seed)
        strip, crops = natural_layout(sample_data.train, result)
        for i, box in enumerate(result.boxes):
            alone = [c if j == i else np.zeros_like(c) for j, c in enumerate(crops)]
            only_i = resample_columns(lay_out(alone, list(result.gaps))[0], width)
            inside = np.zeros(width, bool)
            inside[box.x0 : box.x1] = True
            leaked = np.flatnonzero(only_i[:, ~inside].any(axis=0))
            assert leaked.size == 0, (
                f"seed {seed}, width {width} (natural {strip.shape[1]}): digit {i}'s ink at columns "
                f"{np.flatnonzero(~inside)[leaked].tolist()} lies outside its box {box}"
            )
            assert not only_i[: box.y0].any() and not only_i[box.y1 :].any()


@pytest.mark.parametrize("width", [30, 60, 140, 300])
def test_margins_stay_black_after_resampling(generator, width):
    for seed in range(30):
        image = generator.generate("2026", image_width=width, seed=seed).image
        assert not image[:, 0].any() and not image[:, -1].any()


# --- seeds -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("augment", [None, "mild", "strong", True])
def test_same_seed_same_bytes(generator, sample_data, augment):
    other_generator = hng.Generator(sample_data)
    for seed in (0, 1, 12345, 2**53 - 1, 2**63 - 1):
        a = generator.generate("2026", image_width=140, seed=seed, augment=augment)
        b = generator.generate("2026", image_width=140, seed=seed, augment=augment)
        c = other_generator.generate("2026", image_width=140, seed=seed, augment=augment)
        assert a.image.tobytes() == b.image.tobytes() == c.image.tobytes()
        assert a.boxes == b.boxes == c.boxes and a.indices == b.indices and a.gaps == b.gaps


@pytest.mark.parametrize("augment", [None, "mild", "strong"])
def test_different_seeds_give_different_images(generator, augment):
    images = {
        generator.generate("2026", image_width=140, seed=s, augment=augment).image.tobytes()
        for s in range(20)
    }
    assert len(images) == 20


@pytest.mark.parametrize("augment", [None, "strong"])
def test_an_unseeded_call_reports_a_seed_that_reproduces_it(generator, augment):
    first = generator.generate("8128", image_width=100, augment=augment)
    second = generator.generate("8128", image_width=100, augment=augment)
    assert type(first.seed) is int and 0 <= first.seed < 2**53  # JSON-safe in any client
    assert first.seed != second.seed
    again = generator.generate("8128", image_width=100, augment=augment, seed=first.seed)
    assert again.image.tobytes() == first.image.tobytes()
    assert again.boxes == first.boxes and again.indices == first.indices


def _global_states() -> tuple[bytes, object]:
    return pickle.dumps(np.random.get_state()), random.getstate()


@pytest.mark.parametrize("augment", [None, "mild", "strong"])
def test_no_global_random_state_is_used(generator, augment):
    generator.generate("1", augment=augment, seed=0)  # build the pipeline before taking the snapshot
    before = _global_states()
    images = [generator.generate("2026", image_width=140, augment=augment, seed=s).image for s in range(10)]
    generator.generate("2026", image_width=140, augment=augment)  # an unseeded call too
    generator.generate_batch(["12", "345"], image_width=60, augment=augment, seed=3)
    assert _global_states() == before

    np.random.seed(1234)
    random.seed(1234)
    for s, image in enumerate(images):
        again = generator.generate("2026", image_width=140, augment=augment, seed=s).image
        np.testing.assert_array_equal(again, image)
        np.random.random(3)
        random.random()


@pytest.mark.parametrize("augment", [None, "mild", "strong"])
def test_threads_give_the_same_bytes_as_sequential_generation(generator, augment):
    jobs = [(NUMBERS[i % len(NUMBERS)], 60 + i % 90, 1000 + i) for i in range(240)]

    def run(job):
        number, width, seed = job
        result = generator.generate(number, image_width=width, seed=seed, augment=augment)
        return result.image.tobytes(), result.boxes

    expected = [run(job) for job in jobs]
    barrier = threading.Barrier(8)

    def run_after_barrier(job):
        if job[2] < 1008:  # make the first eight start together
            barrier.wait(timeout=60)
        return run(job)

    with ThreadPoolExecutor(max_workers=8) as pool:
        got = list(pool.map(run_after_barrier, jobs))
    assert got == expected


@pytest.mark.parametrize("width", [1, 4096])
def test_extreme_widths(generator, width):
    result = generator.generate("2026", image_width=width, seed=1, masks=True)
    assert result.image.shape == (28, width)
    assert result.image.any()
    visible = [box for box in result.boxes if box.x1 > box.x0]
    for box in visible:
        assert 0 <= box.x0 < box.x1 <= width
    # Four digits in one column: the column's ink belongs to some of them; the others have no pixel
    # left, and their boxes are empty rather than invented.
    assert visible and (width > 1 or len(visible) < 4)
    for k, box in enumerate(result.boxes, 1):
        assert ((result.mask == k).any()) == (box.x1 > box.x0)


def test_the_longest_number(generator, sample_data):
    number = "0123456789" * 6 + "0123"
    assert len(number) == hng.MAX_DIGITS
    result = generator.generate(number, seed=2, spacing_range=(0, 2))
    assert len(result.boxes) == hng.MAX_DIGITS
    assert [int(sample_data.train.labels[k]) for k in result.indices] == [int(c) for c in number]
