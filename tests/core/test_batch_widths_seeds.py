"""generate_batch with a width per image, fit=pad and a seed per image; the vectorised PCG64 draws."""

from __future__ import annotations

import numpy as np
import pytest

from hng.core.seeding import MAX_SEED, new_rng, seeded_uniforms


def test_seeded_uniforms_equal_numpy_pcg64_draw_for_draw():
    seeds = np.random.default_rng(0).integers(0, MAX_SEED, 500, dtype=np.int64)
    seeds[:3] = [0, 1, MAX_SEED]
    table = seeded_uniforms(seeds, 20)
    expected = np.stack([new_rng(int(s)).random(20) for s in seeds])
    assert np.array_equal(table, expected)


def _labels(rng, count, low=1, high=9):
    return ["".join(map(str, rng.integers(0, 10, rng.integers(low, high + 1)))) for _ in range(count)]


@pytest.mark.parametrize("fit", ["stretch", "pad"])
@pytest.mark.parametrize("augment", [None, "mild"])
def test_each_image_is_generate_with_its_own_seed(generator, fit, augment):
    rng = np.random.default_rng(5)
    labels = _labels(rng, 60)
    seeds = rng.integers(0, 2**53, len(labels))
    # Some widths squeeze, some stretch or pad.
    widths = [28 * len(label) if i % 3 else 12 * len(label) + 3 for i, label in enumerate(labels)]
    batch = generator.generate_batch(labels, image_width=widths, seeds=seeds, fit=fit, augment=augment)
    assert batch.images.shape == (len(labels), 28, max(widths))
    assert batch.widths.tolist() == widths
    for i, label in enumerate(labels):
        single = generator.generate(
            label, seed=int(seeds[i]), image_width=widths[i], fit=fit, augment=augment
        )
        item = batch[i]
        assert item.seed == int(seeds[i])
        assert np.array_equal(item.image, single.image), i
        assert item.boxes == single.boxes
        assert item.indices == single.indices
        assert not batch.images[i, :, widths[i] :].any(), "columns past an image's width must be black"


def test_pad_keeps_the_strip_and_pads_with_black_on_the_right(generator):
    natural = generator.generate("123", seed=4)
    padded = generator.generate("123", seed=4, image_width=natural.width + 30, fit="pad")
    assert np.array_equal(padded.image[:, : natural.width], natural.image)
    assert not padded.image[:, natural.width :].any()
    assert padded.boxes == natural.boxes


def test_pad_squeezes_a_wider_strip_like_stretch(generator):
    natural = generator.generate("12345", seed=4)
    width = natural.width - 20
    padded = generator.generate("12345", seed=4, image_width=width, fit="pad")
    stretched = generator.generate("12345", seed=4, image_width=width, fit="stretch")
    assert np.array_equal(padded.image, stretched.image)
    assert padded.boxes == stretched.boxes


def test_stretch_differs_from_pad_when_the_strip_is_narrower(generator):
    natural = generator.generate("12", seed=4)
    stretched = generator.generate("12", seed=4, image_width=natural.width * 2)
    assert stretched.image[:, natural.width :].any()


@pytest.mark.parametrize(
    ("kwargs", "error", "words"),
    [
        ({"image_width": [40, 40]}, ValueError, ["image_width", "one width per number (3)"]),
        ({"image_width": [40, 0, 40]}, ValueError, ["image_width[1]", ">= 1"]),
        ({"image_width": [40, "x", 40]}, TypeError, ["image_width[1]"]),
        ({"image_width": 40, "seeds": [1, 2]}, ValueError, ["seeds", "one seed per number"]),
        ({"image_width": 40, "seeds": [1, -2, 3]}, ValueError, ["seeds[1]", ">= 0"]),
        ({"image_width": 40, "seeds": [1, 2, 3], "seed": 4}, ValueError, ["seed", "seeds", "not both"]),
        ({"image_width": 40, "seeds": "123"}, TypeError, ["seeds"]),
        ({"image_width": 40, "fit": "crop"}, ValueError, ["fit", "stretch, pad"]),
        ({"image_width": 40, "fit": 1}, TypeError, ["fit"]),
    ],
)
def test_bad_batch_arguments_name_the_argument(generator, kwargs, error, words):
    with pytest.raises(error) as caught:
        generator.generate_batch(["1", "22", "333"], **kwargs)
    for word in words:
        assert word in str(caught.value)


def test_generate_rejects_an_unknown_fit(generator):
    with pytest.raises(ValueError, match="fit must be one of stretch, pad"):
        generator.generate("12", image_width=40, fit="fill")
