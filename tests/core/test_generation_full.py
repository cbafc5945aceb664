"""Generation over the full MNIST build (60,000 train + 10,000 test digits)."""

import numpy as np
import pytest

import hng
from hng import generator as compat

pytestmark = pytest.mark.full_data


def test_the_data_is_loaded_once_per_process(full_mnist):
    assert hng.load_mnist() is full_mnist
    assert len(full_mnist) == 70000
    assert np.bincount(full_mnist.train.labels).sum() == 60000
    assert full_mnist.train.ink_bounds.shape == (60000, 4)


def test_generate_over_the_full_data(full_generator, full_mnist):
    for seed in range(20):
        result = full_generator.generate("2026", seed=seed)
        assert result.image.shape[0] == 28
        for box, k in zip(result.boxes, result.indices, strict=True):
            x0, x1, y0, y1 = full_mnist.train.ink_bounds[k].tolist()
            assert int(full_mnist.train.labels[k]) == box.digit
            np.testing.assert_array_equal(
                result.image[:, box.x0 : box.x1], full_mnist.train.images[k, :, x0:x1]
            )
            assert (box.y0, box.y1) == (y0, y1)
        sized = full_generator.generate("2026", image_width=140, seed=seed, augment="mild")
        assert sized.image.shape == (28, 140) and sized.indices == result.indices


@pytest.mark.parametrize(("split", "size"), [("train", 60000), ("test", 10000)])
def test_indices_range_over_the_whole_split(full_generator, full_mnist, split, size):
    batch = full_generator.generate_batch(["0123456789"] * 3000, image_width=200, seed=1, split=split)
    indices = batch.indices
    labels = full_mnist.split(split).labels
    assert indices.min() >= 0 and indices.max() < size
    assert (labels[indices] == batch.boxes[:, 0]).all()
    # 30,000 draws: spread over the whole split, early and late samples alike.
    assert indices.min() < size * 0.01 and indices.max() > size * 0.99
    assert len(np.unique(indices)) > (0.35 if split == "train" else 0.9) * size
    counts = np.histogram(indices, bins=10, range=(0, size))[0]
    assert (counts > 0.8 * indices.size / 10).all() and (counts < 1.2 * indices.size / 10).all()


def test_single_and_batch_agree_on_the_full_data(full_generator):
    for seed in range(10):
        for augment in (None, "strong"):
            single = full_generator.generate("90210", image_width=128, seed=seed, augment=augment)
            item = full_generator.generate_batch(["90210"], image_width=128, seed=seed, augment=augment)[0]
            assert item.image.tobytes() == single.image.tobytes()
            assert item.boxes == single.boxes and item.indices == single.indices


def test_compat_api_over_the_full_data(monkeypatch, full_generator, full_mnist):
    import hng.core.generation

    monkeypatch.setattr(hng.core.generation, "_default", full_generator)
    images, labels = compat.get_mnist_data()
    assert images.shape == (70000, 28, 28) and images.dtype == np.float32
    assert labels.shape == (70000,)
    assert images.min() == 0.0 and images.max() == 1.0
    assert np.bincount(labels).sum() == 70000
    np.testing.assert_array_equal(labels[:60000], full_mnist.train.labels)
    np.testing.assert_array_equal(labels[60000:], full_mnist.test.labels)
    np.testing.assert_array_equal(np.rint(images[60000:] * 255).astype(np.uint8), full_mnist.test.images)

    image = compat.generate_numbers_sequence(digits=[4, 2], spacing_range=(5, 10), image_width=56, seed=1)
    assert image.dtype == np.float32 and image.shape == (28, 56)
    assert image.min() >= 0.0 and image.max() <= 1.0 and image.max() > 0.5


def test_default_generator_finds_the_full_data(monkeypatch, full_mnist):
    import hng.core.generation

    monkeypatch.setattr(hng.core.generation, "_default", None)
    result = hng.generate("123", image_width=84, seed=4)
    assert hng.default_generator().data is full_mnist
    assert result.image.shape == (28, 84)
    assert [int(full_mnist.train.labels[k]) for k in result.indices] == [1, 2, 3]
