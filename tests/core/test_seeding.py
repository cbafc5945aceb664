"""hng.core.seeding: every seed in [0, 2**63) is its own stream, and every image gets its own augmentation.

Regressions these tests catch: a ``derive_seed`` that maps draws to few values (every image of a sample then
gets the same augmentation: silent duplicates in a dataset), and seeds cut to 32 bits somewhere between the
caller and the generator (s and s + 2**32 then give the same image, though seeds are documented up to 2**63).
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

import hng
from hng.augment.albu import A
from hng.augment.augmenter import Augmenter
from hng.core.seeding import (
    MAX_SEED,
    derive_seed,
    new_rng,
    pcg64_state,
    seeded_uniforms,
    thread_rng,
)
from hng.mnist.load import MnistSplit

# Seeds that differ from a base only above bit 31, up to the largest seed.
HIGH_BIT_OFFSETS = (2**32, 2**40, 2**53, 2**62)
BASES = (0, 5, 123_456_789)


@pytest.fixture(scope="module")
def one_sample_generator(sample_data) -> hng.Generator:
    """A generator whose splits hold one sample of each digit: every plain image of a one-digit label is
    then the same, so distinct augmented images can only come from distinct augmentation streams."""

    def first_of_each_digit(split: MnistSplit) -> MnistSplit:
        keep = [split.by_digit[d][0] for d in range(10)]
        return MnistSplit.from_arrays(split.images[keep], split.labels[keep])

    train, test = first_of_each_digit(sample_data.train), first_of_each_digit(sample_data.test)
    return hng.Generator(hng.MnistData(train=train, test=test))


# --- derive_seed: a sub-stream per image --------------------------------------------------------------


def test_derive_seed_maps_distinct_draws_to_distinct_53_bit_seeds():
    draws = [*new_rng(7).random(10_000).tolist(), 0.0, 0.5, 1 - 2**-53]
    seeds = [derive_seed(u) for u in draws]
    assert all(type(s) is int and 0 <= s < 2**53 for s in seeds)
    assert len(set(seeds)) == len(set(draws))
    assert derive_seed(0.25) < derive_seed(0.5) < derive_seed(0.75)


def always_on() -> Augmenter:
    """A pipeline that changes every digit (the presets leave some digits as they are, by design)."""
    return Augmenter(A.Affine(rotate=(-20, 20), scale=(0.85, 1.15), p=1.0), name="always-on")


def assert_augmented_apart(images: list[np.ndarray] | np.ndarray, preset: str) -> None:
    """Every image distinct; for mild, whose transforms all stay idle for about a fifth of the digits,
    the only image allowed to repeat is that untouched one."""
    counts = Counter(image.tobytes() for image in images)
    if preset == "mild":
        assert sum(count > 1 for count in counts.values()) <= 1, "two seeds gave the same augmentation"
        assert len(counts) >= 12
    else:
        assert len(counts) == len(images), "two seeds gave the same augmentation"


@pytest.mark.parametrize("preset", ["always-on", "strong", "mild"])
def test_twenty_seeds_augment_the_same_sample_twenty_ways(one_sample_generator, preset):
    augment = always_on() if preset == "always-on" else preset
    plain = {one_sample_generator.generate("7", seed=s).image.tobytes() for s in range(20)}
    assert len(plain) == 1, "the fixture must leave augmentation as the only source of difference"
    images = [one_sample_generator.generate("7", seed=s, augment=augment).image for s in range(20)]
    assert_augmented_apart(images, preset)


@pytest.mark.parametrize("preset", ["always-on", "strong", "mild"])
def test_a_batch_augments_each_copy_of_the_same_sample_differently(one_sample_generator, preset):
    augment = always_on() if preset == "always-on" else preset
    one_stream = one_sample_generator.generate_batch(["7"] * 20, image_width=40, seed=3, augment=augment)
    assert_augmented_apart(one_stream.images, preset)
    own_seeds = one_sample_generator.generate_batch(
        ["7"] * 20, image_width=40, seeds=list(range(20)), augment=augment
    )
    assert_augmented_apart(own_seeds.images, preset)


def test_digits_of_one_image_are_augmented_independently(one_sample_generator):
    result = one_sample_generator.generate("7777", seed=11, spacing_range=(6, 6), augment="strong")
    crops = {result.image[:, box.x0 : box.x1].tobytes() for box in result.boxes}
    assert len(crops) == 4


# --- all 63 bits of a seed count ----------------------------------------------------------------------


def test_streams_differ_for_seeds_that_differ_only_above_bit_31():
    for base in BASES:
        first = new_rng(base).random(4)
        for offset in HIGH_BIT_OFFSETS:
            assert not np.array_equal(new_rng(base + offset).random(4), first), (base, offset)
            assert not np.array_equal(thread_rng(base + offset).random(4), first), (base, offset)
            assert pcg64_state(base + offset) != pcg64_state(base)


def test_vectorised_streams_differ_for_seeds_that_differ_only_above_bit_31():
    seeds = np.array([base + offset for base in BASES for offset in (0, *HIGH_BIT_OFFSETS)], dtype=np.int64)
    table = seeded_uniforms(seeds, 4)
    assert len({row.tobytes() for row in table}) == len(seeds)


@pytest.mark.parametrize("augment", [None, "mild"])
def test_images_differ_for_seeds_that_differ_only_above_bit_31(generator, augment):
    for base in BASES:
        images = {
            generator.generate("2026", image_width=120, seed=base + offset, augment=augment).image.tobytes()
            for offset in (0, *HIGH_BIT_OFFSETS)
        }
        assert len(images) == 1 + len(HIGH_BIT_OFFSETS), base


@pytest.mark.parametrize("augment", [None, "mild"])
def test_batch_seeds_that_differ_only_above_bit_31_give_different_images(generator, augment):
    seeds = [base + offset for base in BASES for offset in (0, *HIGH_BIT_OFFSETS)]
    batch = generator.generate_batch(["2026"] * len(seeds), image_width=120, seeds=seeds, augment=augment)
    assert len({image.tobytes() for image in batch.images}) == len(seeds)


@pytest.mark.parametrize("augment", [None, "mild"])
def test_the_largest_seeds_work_and_are_distinct(generator, augment):
    seeds = [MAX_SEED, MAX_SEED - 1, MAX_SEED - 2**32, MAX_SEED & 0xFFFFFFFF, MAX_SEED >> 1]
    results = [generator.generate("2026", image_width=120, seed=s, augment=augment) for s in seeds]
    assert [r.seed for r in results] == seeds
    assert len({r.image.tobytes() for r in results}) == len(seeds)
    again = generator.generate("2026", image_width=120, seed=MAX_SEED, augment=augment)
    assert again.image.tobytes() == results[0].image.tobytes()
    batch = generator.generate_batch(["2026"] * len(seeds), image_width=120, seeds=seeds, augment=augment)
    for row, result in zip(batch.images, results, strict=True):
        np.testing.assert_array_equal(row, result.image)


def test_child_seeds_and_document_seeds_are_the_scalar_ones_for_many_at_once():
    from hng.core.seeding import MAX_SEED, child_seed, child_seeds, document_seed, document_seeds

    seeds = [0, 1, 7, 2**53 - 1, MAX_SEED, 2**63 + 5, 2**64 - 1]
    for index in (0, 1, 12345):
        assert child_seeds(seeds, index) == [child_seed(seed, index) for seed in seeds]
    assert document_seeds(seeds) == [document_seed(seed) for seed in seeds]
    assert child_seeds([], 3) == []
