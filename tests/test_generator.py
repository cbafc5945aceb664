"""The old Flask package's API (``from hng import generator``), over the committed sample data."""

import numpy as np
import pytest

from hng import generator as compat

pytestmark = pytest.mark.usefixtures("sample_default_generator")


def call(**kwargs):
    args = {"digits": [4, 2], "spacing_range": (5, 10), "image_width": 56, **kwargs}
    return compat.generate_numbers_sequence(**args)


def test_the_documented_call():
    image = compat.generate_numbers_sequence(digits=[4, 2], spacing_range=(5, 10), image_width=56)
    assert isinstance(image, np.ndarray)
    assert image.dtype == np.float32 and image.shape == (28, 56)
    assert image.min() >= 0.0 and image.max() <= 1.0
    assert image.max() > 0.5  # white ink on black
    assert image[:, 0].max() == 0.0 and image[:, -1].max() == 0.0


def test_positional_arguments_as_in_the_old_package():
    image = compat.generate_numbers_sequence([1, 2, 3], (0, 3), 100, "false", 4)
    assert image.shape == (28, 100)
    np.testing.assert_array_equal(
        image, call(digits=[1, 2, 3], spacing_range=(0, 3), image_width=100, augment_flag="false", seed=4)
    )


def test_it_is_the_new_generator_as_float(sample_default_generator):
    for seed in range(5):
        plain = sample_default_generator.generate("42", image_width=56, seed=seed)
        np.testing.assert_array_equal(
            call(augment_flag=False, seed=seed), plain.image.astype(np.float32) / 255
        )
        mild = sample_default_generator.generate("42", image_width=56, seed=seed, augment="mild")
        np.testing.assert_array_equal(call(seed=seed), mild.as_float())


def test_augments_by_default():
    differing = sum(not np.array_equal(call(seed=s), call(seed=s, augment_flag="false")) for s in range(10))
    assert differing >= 8


@pytest.mark.parametrize("off", ["false", "False", "FALSE", "0", False, 0])
def test_augment_flag_turns_augmentation_off(off, sample_default_generator):
    expected = sample_default_generator.generate("42", image_width=56, seed=3).as_float()
    np.testing.assert_array_equal(call(seed=3, augment_flag=off), expected)


@pytest.mark.parametrize("on", ["true", "True", "TRUE", "1", True, 1])
def test_augment_flag_turns_augmentation_on(on):
    np.testing.assert_array_equal(call(seed=3, augment_flag=on), call(seed=3))


# Only the documented forms: "yes"/"no" and padded strings are refused like any other word.
@pytest.mark.parametrize("bad", ["maybe", "", None, 2, 0.5, [1], "yes", "no", " false ", "true\n"])
def test_bad_augment_flag_is_named(bad):
    with pytest.raises(ValueError, match=r"^augment_flag must be true or false"):
        call(augment_flag=bad)


def test_seed_is_accepted_and_reproducible():
    for flag in ("true", "false"):
        a = call(seed=123, augment_flag=flag)
        b = call(seed=123, augment_flag=flag)
        assert a.tobytes() == b.tobytes()
        assert a.tobytes() != call(seed=124, augment_flag=flag).tobytes()


def test_numpy_inputs_are_accepted():
    expected = call(seed=9)
    np.testing.assert_array_equal(call(digits=np.array([4, 2]), seed=9), expected)
    np.testing.assert_array_equal(
        call(image_width=np.int64(56), spacing_range=(np.int64(5), np.int64(10)), seed=9), expected
    )


def test_a_numpy_seed_is_accepted():
    np.testing.assert_array_equal(call(seed=np.int64(9)), call(seed=9))


@pytest.mark.parametrize("augment_flag", [False, True])
def test_leading_zero_digits_are_kept(sample_default_generator, augment_flag):
    augment = "mild" if augment_flag else None
    image = call(digits=[0, 0, 7], image_width=90, seed=1, augment_flag=augment_flag)
    expected = sample_default_generator.generate("007", image_width=90, seed=1, augment=augment)
    assert [box.digit for box in expected.boxes] == [0, 0, 7]
    np.testing.assert_array_equal(image, expected.as_float())
    dropped = sample_default_generator.generate("7", image_width=90, seed=1, augment=augment)
    assert not np.array_equal(image, dropped.as_float())


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"digits": None}, r"^digits is required"),
        ({"digits": []}, r"^digits must not be empty"),
        ({"digits": ()}, r"^digits must not be empty"),
        ({"digits": [4, -2]}, r"^digits\[1\] must be >= 0"),
        ({"digits": [4, 10]}, r"^digits\[1\] must be <= 9"),
        ({"digits": [1] * 65}, r"^digits may have at most 64 digits"),
        ({"spacing_range": None}, r"^spacing_range is required"),
        ({"spacing_range": ()}, r"^spacing_range must have exactly 2 values"),
        ({"spacing_range": (-1, 5)}, r"^spacing_range minimum must be >= 0"),
        ({"spacing_range": (5, -1)}, r"^spacing_range maximum must be >= 0"),
        ({"spacing_range": (10, 5)}, r"^spacing_range: minimum 10 must not be greater than maximum 5"),
        ({"image_width": None}, r"^image_width is required"),
        ({"image_width": 0}, r"^image_width must be >= 1"),
        ({"image_width": -56}, r"^image_width must be >= 1"),
        ({"image_width": 5000}, r"^image_width must be <= 4096"),
        ({"seed": -1}, r"^seed must be >= 0"),
    ],
)
def test_value_errors_name_the_argument(kwargs, message):
    with pytest.raises(ValueError, match=message):
        call(**kwargs)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"digits": ["4", "2"]}, r"^digits\[0\] must be an integer"),
        ({"digits": [4, 2.0]}, r"^digits\[1\] must be an integer"),
        ({"digits": "42"}, r"^digits must be a list of integers"),
        ({"digits": 42}, r"^digits must be a list of integers"),
        ({"digits": b"42"}, r"^digits must be a list of integers"),
        ({"spacing_range": ("5", 10)}, r"^spacing_range minimum must be an integer"),
        ({"spacing_range": (5, "10")}, r"^spacing_range maximum must be an integer"),
        ({"spacing_range": "5-10"}, r"^spacing_range must be a \(minimum, maximum\) pair"),
        ({"image_width": "56"}, r"^image_width must be an integer"),
        ({"image_width": 56.0}, r"^image_width must be an integer"),
        ({"seed": "1"}, r"^seed must be an integer"),
    ],
)
def test_type_errors_name_the_argument(kwargs, message):
    with pytest.raises(TypeError, match=message):
        call(**kwargs)


def test_get_mnist_data(sample_data):
    images, labels = compat.get_mnist_data()
    total = len(sample_data.train) + len(sample_data.test)
    assert images.shape == (total, 28, 28) and images.dtype == np.float32
    assert labels.shape == (total,)
    assert images.min() == 0.0 and images.max() == 1.0
    # Train first, then test; the exact MNIST pixels scaled to [0, 1].
    np.testing.assert_array_equal(
        np.rint(images * 255).astype(np.uint8),
        np.concatenate([sample_data.train.images, sample_data.test.images]),
    )
    np.testing.assert_array_equal(labels, np.concatenate([sample_data.train.labels, sample_data.test.labels]))
    assert np.bincount(labels).tolist() == [130] * 10
    # A fresh copy each call: callers may scale it in place without touching the generator's data.
    images *= 0
    assert sample_data.train.images.any()
    assert compat.get_mnist_data()[0].max() == 1.0
