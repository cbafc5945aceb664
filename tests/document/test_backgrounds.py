"""Background images: read once from a folder or bytes, bad files skipped and counted, crops of the image."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from hng.document.backgrounds import EXTENSIONS, MIN_SIDE, Backgrounds
from hng.document.style import make_style
from hng.errors import InvalidInput


def lined_paper(height: int = 160, width: int = 420) -> np.ndarray:
    """RGB: off-white with blue rules and a red margin."""
    image = np.full((height, width, 3), (242, 240, 232), np.uint8)
    for y in range(8, height, 16):
        cv2.line(image, (0, y), (width, y), (160, 185, 225), 1)
    cv2.line(image, (40, 0), (40, height), (220, 110, 110), 1)
    return image


def checked_paper(height: int = 100, width: int = 100) -> np.ndarray:
    image = np.full((height, width, 3), 250, np.uint8)
    for k in range(0, max(height, width), 10):
        cv2.line(image, (0, k), (width, k), (190, 200, 215), 1)
        cv2.line(image, (k, 0), (k, height), (190, 200, 215), 1)
    return image


def coded(height: int, width: int) -> np.ndarray:
    """Every pixel tells where it is: R = x % 256, G = y % 256, B = x // 256 * 16 + y // 256."""
    ys, xs = np.mgrid[0:height, 0:width]
    return np.stack([xs % 256, ys % 256, xs // 256 * 16 + ys // 256], axis=-1).astype(np.uint8)


def write_rgb(path, rgb: np.ndarray) -> None:
    assert cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))


@pytest.fixture
def folder(tmp_path):
    write_rgb(tmp_path / "b_lined.png", lined_paper())
    write_rgb(tmp_path / "a_checked.JPG", checked_paper())
    (tmp_path / "c_broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    (tmp_path / "d_empty.jpg").write_bytes(b"")
    (tmp_path / "notes.txt").write_text("not an image")
    (tmp_path / "sub").mkdir()
    write_rgb(tmp_path / "sub" / "deeper.png", checked_paper())
    return tmp_path


def test_folder_reads_its_images_in_name_order_and_counts_the_broken_ones(folder):
    backgrounds = Backgrounds.from_folder(folder)
    assert backgrounds.names == ("a_checked.JPG", "b_lined.png")
    assert backgrounds.skipped == ("c_broken.png", "d_empty.jpg")
    assert len(backgrounds) == 2
    np.testing.assert_array_equal(backgrounds.images[1], lined_paper())  # PNG: exact, and RGB
    for image in backgrounds.images:
        assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3
        assert not image.flags.writeable
    assert "2" in repr(backgrounds) and "2 skipped" in repr(backgrounds)


def test_colours_come_back_in_rgb_order(tmp_path):
    red = np.zeros((20, 30, 3), np.uint8)
    red[..., 0] = 255
    write_rgb(tmp_path / "red.png", red)
    (image,) = Backgrounds.from_folder(tmp_path).images
    assert tuple(image[0, 0]) == (255, 0, 0)


@pytest.mark.parametrize("extension", EXTENSIONS)
def test_every_listed_extension_is_read(tmp_path, extension):
    write_rgb(tmp_path / f"sheet{extension}", checked_paper())
    assert Backgrounds.from_folder(tmp_path).names == (f"sheet{extension}",)


def test_a_folder_without_a_readable_image_is_refused(tmp_path):
    with pytest.raises(InvalidInput) as caught:
        Backgrounds.from_folder(tmp_path)
    assert caught.value.field == "background" and "no readable image" in str(caught.value)
    (tmp_path / "broken.jpg").write_bytes(b"garbage")
    (tmp_path / "readme.md").write_text("# hi")
    with pytest.raises(InvalidInput, match="no readable image"):
        Backgrounds.from_folder(tmp_path)


def test_a_missing_folder_or_a_file_is_refused(tmp_path):
    with pytest.raises(InvalidInput) as caught:
        Backgrounds.from_folder(tmp_path / "nowhere")
    assert caught.value.field == "background"
    write_rgb(tmp_path / "one.png", checked_paper())
    with pytest.raises(InvalidInput, match="not a folder"):
        Backgrounds.from_folder(tmp_path / "one.png")


def test_images_smaller_than_the_minimum_are_refused(tmp_path):
    write_rgb(tmp_path / "big.png", checked_paper())
    write_rgb(tmp_path / "tiny.png", checked_paper(MIN_SIDE - 1, 50))
    with pytest.raises(InvalidInput) as caught:
        Backgrounds.from_folder(tmp_path)
    assert caught.value.field == "background" and "tiny.png" in str(caught.value)
    assert Backgrounds.from_images([checked_paper(MIN_SIDE, MIN_SIDE)]).images[0].shape == (8, 8, 3)


def test_from_encoded_decodes_bytes_and_skips_what_does_not_decode():
    png = cv2.imencode(".png", cv2.cvtColor(lined_paper(), cv2.COLOR_RGB2BGR))[1].tobytes()
    backgrounds = Backgrounds.from_encoded(
        [png, b"nope", b""], ["k/1.png", "k/2.png", "k/3.png"], "s3://b/k/"
    )
    assert backgrounds.names == ("k/1.png",) and backgrounds.skipped == ("k/2.png", "k/3.png")
    assert backgrounds.source == "s3://b/k/"
    np.testing.assert_array_equal(backgrounds.images[0], lined_paper())
    with pytest.raises(InvalidInput, match="no readable image"):
        Backgrounds.from_encoded([b"nope"], ["x.png"], "s3://b/k/")


def test_from_images_takes_rgb_and_grey_and_refuses_anything_else():
    grey = np.full((20, 20), 200, np.uint8)
    backgrounds = Backgrounds.from_images([lined_paper(), grey])
    assert backgrounds.images[1].shape == (20, 20, 3)
    with pytest.raises(InvalidInput, match="RGB uint8"):
        Backgrounds.from_images([lined_paper().astype(np.float32)])
    with pytest.raises(InvalidInput, match="RGB uint8"):
        Backgrounds.from_images([np.zeros((20, 20, 4), np.uint8)])
    with pytest.raises(InvalidInput):
        Backgrounds.from_images([])
    with pytest.raises(InvalidInput, match="scale_range"):
        Backgrounds.from_images([grey], scale_range=(1.5, 1.0))


def find_window(image: np.ndarray, crop: np.ndarray) -> tuple[int, int]:
    """Where a crop of a `coded` image starts (its first pixel says)."""
    r, g, b = (int(v) for v in crop[0, 0])
    return g + (b % 16) * 256, r + (b // 16) * 256


@pytest.mark.parametrize(("height", "width"), [(48, 240), (28, 57), (300, 330), (1, 1)])
def test_crops_at_scale_one_are_windows_of_the_image(height, width):
    image = coded(300, 700)
    backgrounds = Backgrounds.from_images([image], scale_range=(1.0, 1.0))
    starts = set()
    for seed in range(20):
        crop = backgrounds.crop(np.random.default_rng(seed), height, width)
        assert crop.shape == (height, width, 3) and crop.dtype == np.uint8
        y, x = find_window(image, crop)
        np.testing.assert_array_equal(crop, image[y : y + height, x : x + width])
        starts.add((y, x))
    assert len(starts) > (1 if (height, width) != (300, 330) else 0)


def test_crops_cover_the_output_when_the_image_is_smaller():
    ys, xs = np.mgrid[0:30, 0:50]
    gradient = np.stack([xs * 5, ys * 8, np.full_like(xs, 90)], axis=-1).astype(np.uint8)
    backgrounds = Backgrounds.from_images([gradient])
    for seed in range(10):
        crop = backgrounds.crop(np.random.default_rng(seed), 48, 240).astype(np.int64)
        assert crop.shape == (48, 240, 3)
        assert (crop[..., 2] == 90).all()
        # Scaled up, never flipped: the gradient still rises to the right and downwards, within its values.
        assert (np.diff(crop[..., 0], axis=1) >= 0).all() and (np.diff(crop[..., 1], axis=0) >= 0).all()
        assert crop[..., 0].max() <= 245 and crop[..., 1].max() <= 232
        assert crop[..., 0].max() - crop[..., 0].min() > 150  # most of the image's width: a 5x zoom


def test_crops_jitter_the_scale_and_stay_inside_the_image():
    ys, xs = np.mgrid[0:200, 0:600]
    gradient = np.stack([xs * 255 // 599, ys, np.full_like(xs, 17)], axis=-1).astype(np.uint8)
    backgrounds = Backgrounds.from_images([gradient], scale_range=(0.8, 1.25))
    spans = set()
    for seed in range(30):
        crop = backgrounds.crop(np.random.default_rng(seed), 48, 240).astype(np.int64)
        assert (np.diff(crop[..., 0], axis=1) >= 0).all() and (crop[..., 2] == 17).all()
        spans.add(int(crop[0, :, 0].max() - crop[0, :, 0].min()))
    # 240 columns of a 600-column ramp span about 102 levels at scale 1: zooming in spans fewer, out more.
    assert min(spans) < 90 and max(spans) > 115


def test_crops_pick_every_image_and_repeat_for_a_seed():
    backgrounds = Backgrounds.from_images([np.full((50, 60, 3), v, np.uint8) for v in (10, 20, 30)])
    seen = {int(backgrounds.crop(np.random.default_rng(seed), 20, 20)[0, 0, 0]) for seed in range(40)}
    assert seen == {10, 20, 30}
    image = lined_paper()
    one = Backgrounds.from_images([image])
    first = one.crop(np.random.default_rng(3), 48, 240)
    np.testing.assert_array_equal(first, one.crop(np.random.default_rng(3), 48, 240))
    assert not np.array_equal(first, one.crop(np.random.default_rng(4), 48, 240))


def test_the_background_style_inks_over_the_users_sheet(folder, generator):
    coverage = cv2.resize(generator.generate("2026", image_width=140, seed=1).image, (240, 48))
    style = make_style("background", backgrounds=Backgrounds.from_folder(folder))
    for seed in range(10):
        rgb = style.render(coverage, seed=seed, channels=3).astype(np.float64)
        sheet = rgb[coverage == 0]
        assert sheet.mean() > 200 and sheet.min(axis=1).mean() > 180  # light sheets stay light
        assert rgb[coverage == 255].mean() < sheet.mean() - 90


def test_the_background_style_keeps_a_plain_sheets_colour():
    sheet = np.zeros((60, 300, 3), np.uint8)
    sheet[:] = (200, 150, 90)
    style = make_style("background", backgrounds=Backgrounds.from_images([sheet]))
    empty = np.zeros((48, 240), np.uint8)
    for seed in range(10):
        rgb = style.render(empty, seed=seed, channels=3).astype(np.float64)
        mean = rgb.reshape(-1, 3).mean(axis=0)
        # Light artefacts only: a gradient of at most 10 %, noise of a few levels.
        assert np.all(np.abs(mean - (200, 150, 90)) < 0.08 * np.array([200, 150, 90]) + 2), mean
