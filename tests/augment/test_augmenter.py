"""Augmentation: presets, custom albumentations pipelines, seeding, black background, DigitAffine."""

import subprocess
import sys

import cv2
import numpy as np
import pytest

from hng.augment import augmenter as augment_module
from hng.augment.albu import A
from hng.augment.augmenter import (
    CANVAS_PAD,
    CANVAS_PAD_ROWS,
    PRESETS,
    Augmenter,
    fit_rows,
    get_augmenter,
    preset_names,
)
from hng.augment.transforms import DigitAffine, affine_matrix
from hng.core.generation import resolve_augment


def outside_boxes(result) -> np.ndarray:
    mask = np.ones(result.width, bool)
    for box in result.boxes:
        mask[box.x0 : box.x1] = False
    return result.image[:, mask]


# --- choosing the augmentation -----------------------------------------------------------------------


def test_preset_names():
    assert preset_names() == ("none", "mild", "strong")
    assert set(PRESETS) == {"mild", "strong"}


@pytest.mark.parametrize("off", [None, False, "none"])
def test_no_augmentation(generator, off):
    assert resolve_augment(off) is None
    result = generator.generate("2026", image_width=120, seed=5, augment=off)
    assert result.augment == "none"
    np.testing.assert_array_equal(result.image, generator.generate("2026", image_width=120, seed=5).image)


def test_true_means_mild(generator):
    assert resolve_augment(True) is get_augmenter("mild")
    a = generator.generate("2026", image_width=120, seed=5, augment=True)
    b = generator.generate("2026", image_width=120, seed=5, augment="mild")
    assert a.augment == b.augment == "mild"
    np.testing.assert_array_equal(a.image, b.image)


def test_presets_are_built_once(generator):
    assert get_augmenter("mild") is get_augmenter("mild")
    assert get_augmenter("strong") is get_augmenter("strong")
    assert get_augmenter("mild") is not get_augmenter("strong")
    assert get_augmenter("strong").name == "strong"


@pytest.mark.parametrize("bad", ["wild", "Mild", "", "None"])
def test_unknown_preset_is_a_value_error_naming_augment(generator, bad):
    with pytest.raises(ValueError, match=r"^augment must be one of none, mild, strong"):
        generator.generate("12", seed=1, augment=bad)


@pytest.mark.parametrize("bad", [1, 0, 2.5, object(), [A.Blur()]])
def test_other_kinds_are_type_errors_naming_augment(generator, bad):
    with pytest.raises(TypeError, match=r"^augment must be"):
        generator.generate("12", seed=1, augment=bad)


# --- presets -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("preset", ["mild", "strong"])
def test_presets_change_the_digits(generator, preset):
    changed = 0
    for seed in range(20):
        plain = generator.generate("2026", seed=seed)
        augmented = generator.generate("2026", seed=seed, augment=preset)
        assert augmented.augment == preset and augmented.indices == plain.indices
        changed += plain.image.shape != augmented.image.shape or not np.array_equal(
            plain.image, augmented.image
        )
    assert changed >= 18


def test_strong_changes_more_than_mild(generator):
    def distance(preset):
        total = 0.0
        for seed in range(40):
            plain = generator.generate("2026", image_width=120, seed=seed).image.astype(float)
            total += np.abs(
                generator.generate("2026", image_width=120, seed=seed, augment=preset).image - plain
            ).mean()
        return total

    assert distance("strong") > distance("mild") > 0


@pytest.mark.parametrize("preset", ["mild", "strong"])
@pytest.mark.parametrize("width", [None, 60, 200])
def test_background_stays_black(generator, preset, width):
    for seed in range(40):
        result = generator.generate("2026", seed=seed, augment=preset, image_width=width)
        if width is None:
            # Margins, gaps and everything around the ink are exactly 0, not noise or brightness.
            assert not result.image[:, :4].any() and not result.image[:, -4:].any()
            assert not outside_boxes(result).any()
            for box in result.boxes:
                inside = result.image[:, box.x0 : box.x1]
                assert inside[:, 0].any() and inside[:, -1].any()  # boxes are tight
                assert not inside[: box.y0].any() and not inside[box.y1 :].any()
                assert inside[box.y0].any() and inside[box.y1 - 1].any()
        else:
            assert not result.image[:, 0].any() and not result.image[:, -1].any()
        # Pixel-level transforms (noise, brightness, emboss) must not grey the background.
        assert np.count_nonzero(result.image) < 0.6 * result.image.size
        for box in result.boxes:
            assert result.image[box.y0 : box.y1, box.x0 : box.x1].any()


def test_augmented_digits_stay_on_the_canvas():
    """augment_digits returns one (28, 28 + 2 * pad) image per digit, each with ink, in the input order."""
    rng = np.random.default_rng(0)
    digits = []
    for _ in range(5):
        digit = np.zeros((28, 28), np.uint8)
        digit[6:22, rng.integers(4, 14) :][:, :8] = 255
        digits.append(digit)
    for preset in ("mild", "strong"):
        out = get_augmenter(preset).augment_digits(digits, seed=3)
        assert len(out) == 5
        for image in out:
            assert image.shape == (28, 28 + 2 * CANVAS_PAD) and image.dtype == np.uint8
            assert image.any()
        assert all(
            np.array_equal(a, b)
            for a, b in zip(out, get_augmenter(preset).augment_digits(digits, seed=3), strict=True)
        )


def test_a_digit_pushed_off_the_canvas_falls_back_to_the_original():
    away = Augmenter(
        A.Compose([A.Affine(translate_px={"x": 0, "y": 40}, p=1, border_mode=cv2.BORDER_CONSTANT)])
    )
    digit = np.zeros((28, 28), np.uint8)
    digit[10:18, 12:16] = 200
    (out,) = away.augment_digits([digit], seed=1)
    np.testing.assert_array_equal(out, digit)


# --- custom pipelines --------------------------------------------------------------------------------


def test_a_custom_pipeline_works_and_is_deterministic(generator):
    pipeline = A.Compose([A.Rotate(limit=15, p=1)])
    a = generator.generate("2026", image_width=140, seed=4, augment=pipeline)
    b = generator.generate("2026", image_width=140, seed=4, augment=pipeline)
    assert a.augment == "custom" and a.image.shape == (28, 140)
    np.testing.assert_array_equal(a.image, b.image)
    assert a.boxes == b.boxes
    plain = generator.generate("2026", image_width=140, seed=4)
    assert not np.array_equal(a.image, plain.image)
    others = {
        generator.generate("2026", image_width=140, seed=s, augment=pipeline).image.tobytes()
        for s in range(10)
    }
    assert len(others) == 10
    # The seed alone decides: an equal pipeline built separately gives the same bytes.
    again = generator.generate("2026", image_width=140, seed=4, augment=A.Compose([A.Rotate(limit=15, p=1)]))
    np.testing.assert_array_equal(again.image, a.image)


def test_the_same_pipeline_object_reuses_its_augmenter():
    pipeline = A.Compose([A.Rotate(limit=15, p=1)])
    augmenter = get_augmenter(pipeline)
    assert isinstance(augmenter, Augmenter) and augmenter.name == "custom"
    assert get_augmenter(pipeline) is augmenter
    assert resolve_augment(pipeline) is augmenter
    assert get_augmenter(A.Compose([A.Rotate(limit=15, p=1)])) is not augmenter


def test_the_custom_cache_is_bounded():
    pipelines = [A.Compose([A.Rotate(limit=k, p=1)]) for k in range(1, 40)]
    for pipeline in pipelines:
        get_augmenter(pipeline)
    assert len(augment_module._custom_augmenters) <= augment_module._CUSTOM_CACHE_SIZE
    assert get_augmenter(pipelines[-1]) is get_augmenter(pipelines[-1])


def test_a_single_transform_and_an_augmenter_are_accepted(generator):
    transform = A.Rotate(limit=(20, 20), p=1)
    result = generator.generate("17", seed=3, augment=transform)
    assert result.augment == "custom" and result.image.any()
    augmenter = Augmenter(A.Compose([A.Rotate(limit=(20, 20), p=1)]), name="tilt")
    assert get_augmenter(augmenter) is augmenter
    tilted = generator.generate("17", seed=3, augment=augmenter)
    assert tilted.augment == "tilt"
    np.testing.assert_array_equal(tilted.image, result.image)


def test_a_custom_pixel_transform_keeps_the_background_black(generator, sample_data):
    """Brightening lifts the whole canvas; hng keeps only the ink and its one-pixel rim (for soft edges)."""
    pipeline = A.Compose(
        [A.RandomBrightnessContrast(brightness_limit=(0.4, 0.4), contrast_limit=(0, 0), p=1)]
    )
    digits = list(sample_data.train.images[:20])
    canvas = cv2.copyMakeBorder(digits[0], 0, 0, CANVAS_PAD, CANVAS_PAD, cv2.BORDER_CONSTANT, value=0)
    assert pipeline(image=canvas)["image"].min() >= 100  # unmasked, the background would turn grey
    for digit, out in zip(digits, get_augmenter(pipeline).augment_digits(digits, seed=2), strict=True):
        canvas = cv2.copyMakeBorder(digit, 0, 0, CANVAS_PAD, CANVAS_PAD, cv2.BORDER_CONSTANT, value=0)
        rim = cv2.dilate((canvas > 0).astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
        assert not out[~rim].any()
        assert (out[canvas > 0] >= canvas[canvas > 0]).all() and out.sum() > canvas.sum()
    for seed in range(5):
        result = generator.generate("2026", seed=seed, augment=pipeline)
        assert not outside_boxes(result).any()
        assert not result.image[:, :4].any() and not result.image[:, -4:].any()


@pytest.mark.parametrize(
    "pipeline",
    [A.Compose([A.Resize(20, 20)]), A.Compose([A.PadIfNeeded(min_height=40, min_width=60, border_mode=0)])],
)
def test_a_pipeline_that_changes_the_shape_is_rejected(generator, pipeline):
    with pytest.raises(ValueError, match="must keep the digit's shape"):
        generator.generate("12", seed=1, augment=pipeline)


def test_augmenter_rejects_what_is_not_albumentations():
    with pytest.raises(TypeError, match=r"^augment must be an albumentations transform"):
        Augmenter(lambda image: image)
    with pytest.raises(TypeError, match=r"^augment must be an albumentations transform"):
        get_augmenter(object())


# --- DigitAffine and affine_matrix -------------------------------------------------------------------


def test_affine_matrix_identity_and_shift():
    identity = affine_matrix(28, 28, scale=1, rotate=0, shear=0, shift_x=0, shift_y=0)
    np.testing.assert_allclose(identity, [[1, 0, 0], [0, 1, 0]], atol=1e-12)
    shifted = affine_matrix(28, 28, scale=1, rotate=0, shear=0, shift_x=3, shift_y=-2)
    np.testing.assert_allclose(shifted, [[1, 0, 3], [0, 1, -2]], atol=1e-12)


def test_affine_matrix_keeps_the_centre_fixed():
    for kwargs in ({"scale": 2.0, "rotate": 0}, {"scale": 0.7, "rotate": 33}, {"scale": 1.0, "rotate": -80}):
        matrix = affine_matrix(48, 28, shear=12, shift_x=0, shift_y=0, **kwargs)
        centre = np.array([(48 - 1) / 2, (28 - 1) / 2, 1.0])
        np.testing.assert_allclose(matrix @ centre, centre[:2], atol=1e-9)


def test_affine_matrix_rotate_90_is_counter_clockwise():
    matrix = affine_matrix(5, 5, scale=1, rotate=90, shear=0, shift_x=0, shift_y=0)
    # With y pointing down, the point right of the centre goes above it.
    np.testing.assert_allclose(matrix @ [3, 2, 1], [2, 1], atol=1e-9)
    np.testing.assert_allclose(matrix @ [2, 1, 1], [1, 2], atol=1e-9)
    image = np.arange(25, dtype=np.uint8).reshape(5, 5) * 10
    rotated = cv2.warpAffine(image, matrix, (5, 5), flags=cv2.INTER_LINEAR)
    np.testing.assert_array_equal(rotated, np.rot90(image))  # numpy's rot90 turns counter-clockwise


def test_affine_matrix_scale_and_shear():
    matrix = affine_matrix(29, 29, scale=2, rotate=0, shear=0, shift_x=0, shift_y=0)
    np.testing.assert_allclose(matrix @ [15, 14, 1], [16, 14], atol=1e-9)  # one pixel right of centre → two
    sheared = affine_matrix(29, 29, scale=1, rotate=0, shear=45, shift_x=0, shift_y=0)
    np.testing.assert_allclose(sheared @ [14, 15, 1], [15, 15], atol=1e-9)  # shear along x: x += y offset


def test_digit_affine_identity_parameters_give_the_identity(sample_data):
    transform = A.Compose(
        [DigitAffine(scale=(1, 1), rotate=(0, 0), shear=(0, 0), shift_x=(0, 0), shift_y=(0, 0), p=1)]
    )
    transform.set_random_seed(0)
    for image in sample_data.train.images[:50]:
        canvas = cv2.copyMakeBorder(image, 0, 0, 10, 10, cv2.BORDER_CONSTANT, value=0)
        mask = (canvas > 0).astype(np.uint8)
        out = transform(image=canvas, mask=mask)
        np.testing.assert_array_equal(out["image"], canvas)
        np.testing.assert_array_equal(out["mask"], mask)


def test_digit_affine_shifts_by_whole_pixels():
    transform = A.Compose([DigitAffine(scale=(1, 1), rotate=(0, 0), shift_x=(0.25, 0.25), p=1)])
    transform.set_random_seed(0)
    image = np.zeros((28, 28), np.uint8)
    image[10:14, 5:9] = 255
    out = transform(image=image)["image"]
    np.testing.assert_array_equal(out, np.roll(image, 7, axis=1))


def test_digit_affine_mask_stays_binary_and_is_seeded():
    transform = A.Compose([DigitAffine(scale=(0.8, 1.2), rotate=(-30, 30), shear=(-10, 10), p=1)])
    image = np.zeros((28, 48), np.uint8)
    image[5:23, 20:28] = 255
    mask = (image > 0).astype(np.uint8)
    transform.set_random_seed(5)
    first = transform(image=image, mask=mask)
    assert set(np.unique(first["mask"]).tolist()) <= {0, 1}
    assert not np.array_equal(first["image"], image)
    transform.set_random_seed(5)
    second = transform(image=image, mask=mask)
    np.testing.assert_array_equal(first["image"], second["image"])
    np.testing.assert_array_equal(first["mask"], second["mask"])


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"rotate": (10, -10)}, "rotate"),
        ({"scale": (1.2, 0.8)}, "scale"),
        ({"shear": (1, 2, 3)}, "shear"),
        ({"shift_x": (0.1, 0.0)}, "shift_x"),
        ({"shift_y": (0.1,)}, "shift_y"),
        ({"scale": (0, 1)}, "scale"),
        ({"scale": (-1, 1)}, "scale"),
    ],
)
def test_digit_affine_rejects_bad_ranges(kwargs, name):
    with pytest.raises(ValueError, match=rf"^{name} must"):
        DigitAffine(**kwargs)


def test_digit_affine_init_args():
    transform = DigitAffine(
        scale=(0.9, 1.0), rotate=(-5, 5), shear=(0, 3), shift_x=(0, 0.1), shift_y=(-0.1, 0)
    )
    assert transform.get_transform_init_args_names() == ("scale", "rotate", "shear", "shift_x", "shift_y")
    assert transform.rotate == (-5, 5) and transform.shift_x == (0, 0.1)


# --- lazy import -------------------------------------------------------------------------------------


def _albumentations_loaded_after(code: str, repo_root) -> bool:
    script = (
        "import sys, hng\n"
        "g = hng.Generator(hng.MnistData.from_npz('tests/data/mnist_sample.npz', strict=False))\n"
        f"{code}\n"
        "print('albumentations' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script],
        cwd=repo_root,
        env={"PYTHONPATH": str(repo_root), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.strip().splitlines()[-1] == "True"


def test_albumentations_is_imported_only_for_augmentation(repo_root):
    plain = (
        "import hng.generator, hng.cli, hng.core.png\n"
        "g.generate('2026', image_width=140, seed=1); g.generate_batch(['12'], image_width=40, seed=1)\n"
        "g.generate('2026', augment='none', seed=1); g.generate('1', augment=False, seed=1)\n"
        "g.generate('1', seed=1).to_png()"
    )
    assert not _albumentations_loaded_after(plain, repo_root)
    assert _albumentations_loaded_after("g.generate('2026', augment='mild', seed=1)", repo_root)


# --- fitting the augmented canvas back to 28 rows -------------------------------------------------------


def _canvas_with_ink(rows: slice) -> np.ndarray:
    canvas = np.zeros((28 + 2 * CANVAS_PAD_ROWS, 48), np.uint8)
    canvas[rows, 20:26] = 180
    return canvas


def test_fit_rows_keeps_the_original_rows_when_the_ink_is_inside_them():
    canvas = _canvas_with_ink(slice(CANVAS_PAD_ROWS + 3, CANVAS_PAD_ROWS + 20))
    out = fit_rows(canvas, fallback=np.zeros((28, 28), np.uint8))
    np.testing.assert_array_equal(out, canvas[CANVAS_PAD_ROWS : CANVAS_PAD_ROWS + 28])


@pytest.mark.parametrize("rows", [slice(0, 10), slice(30, 40), slice(2, 30), slice(12, 40)])
def test_fit_rows_moves_the_window_to_keep_every_inked_row(rows):
    canvas = _canvas_with_ink(rows)
    out = fit_rows(canvas, fallback=np.zeros((28, 28), np.uint8))
    assert out.shape == (28, 48)
    assert out.sum() == canvas.sum()  # no ink lost


def test_fit_rows_scales_down_ink_taller_than_the_image():
    canvas = _canvas_with_ink(slice(1, 39))
    out = fit_rows(canvas, fallback=np.zeros((28, 28), np.uint8))
    assert out.shape[0] == 28
    assert out[0].any() and out[-1].any()


def test_strong_augmentation_loses_no_ink_when_fitting_rows(generator, monkeypatch):
    import hng.augment.augmenter

    fits = {"kept": 0, "scaled": 0}
    real_fit_rows = hng.augment.augmenter.fit_rows

    def checked_fit_rows(image, fallback):
        out = real_fit_rows(image, fallback)
        _, _, width, height = cv2.boundingRect(image)
        if width and height <= 28:
            assert int(out.sum()) == int(image.sum())  # the window moved, nothing was cut
            fits["kept"] += 1
        elif width:
            fits["scaled"] += 1
        return out

    monkeypatch.setattr(hng.augment.augmenter, "fit_rows", checked_fit_rows)
    for seed in range(40):
        generator.generate("0123456789", seed=seed, augment="strong")
    assert fits["kept"] >= 390


def test_the_preset_names_every_entry_point_accepts_are_the_presets_built_here():
    # PRESET_NAMES drives the API model, DatasetSpec and the CLI without importing albumentations.
    from hng.augment.augmenter import preset_names
    from hng.core.params import PRESET_NAMES

    assert preset_names() == PRESET_NAMES
