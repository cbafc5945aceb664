"""Styles: polarity, shape and channels, exact clean ink, determinism per seed, pens, custom pipelines."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import cv2
import numpy as np
import pytest

from hng.augment.albu import A
from hng.document import paper
from hng.document.backgrounds import Backgrounds
from hng.document.style import INK_NAMES, STYLE_NAMES, Ink, InkStyle, make_style, parse_ink
from hng.errors import InvalidInput, InvalidType
from tests.support.paths import REPO

SEEDS = range(12)


@pytest.fixture(scope="module")
def coverage(generator) -> np.ndarray:
    """A real number's ink at 48 rows, as the placing stage hands it over."""
    image = generator.generate("2026", image_width=140, seed=1).image
    return cv2.resize(image, (240, 48), interpolation=cv2.INTER_LINEAR)


@pytest.fixture(scope="module")
def backgrounds() -> Backgrounds:
    lined = np.full((120, 400, 3), (242, 240, 232), np.uint8)
    for y in range(6, 120, 14):
        cv2.line(lined, (0, y), (400, y), (170, 190, 220), 1)
    ys, xs = np.mgrid[0:90, 0:300]
    photo = np.stack([200 + xs / 10, 190 + ys / 6, 170 + xs / 20], axis=-1).astype(np.uint8)
    return Backgrounds.from_images([lined, photo], "test")


def all_styles(backgrounds) -> dict[str, object]:
    return {
        "mnist": make_style("mnist"),
        "ink": make_style("ink"),
        "ink-blue": make_style("ink", ink="blue"),
        "ink-pens": make_style("ink", ink="pens"),
        "paper": make_style("paper"),
        "paper-black": make_style("paper", ink="black"),
        "background": make_style("background", backgrounds=backgrounds),
        "custom": make_style("custom", pipeline=A.GaussNoise(std_range=(0.05, 0.1), p=1)),
    }


def synthetic(height: int, width: int) -> np.ndarray:
    """Bars of full ink, a ramp of every level and empty paper."""
    coverage = np.zeros((height, width), np.uint8)
    coverage[:, : width // 4] = 255
    ramp = np.linspace(0, 255, max(1, width // 2 - width // 4)).astype(np.uint8)
    coverage[:, width // 4 : width // 4 + ramp.size] = ramp
    return coverage


# --- inks ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "name", "coloured"),
    [
        ("black", "black", False),
        (" Blue ", "blue", True),
        ("BLUE-BLACK", "blue-black", True),
        ("pens", "pens", True),
        ("#808080", "#808080", False),
        ("#1A2b3C", "#1a2b3c", True),
    ],
)
def test_parse_ink_names_and_colours(value, name, coloured):
    ink = parse_ink(value)
    assert ink.name == name
    assert ink.is_coloured is coloured
    assert len(ink.colours) == len(ink.weights) >= 1
    assert parse_ink(ink) is ink


def test_parse_ink_hex_is_rgb():
    assert parse_ink("#ff8000").colours == ((255, 128, 0),)


def test_pens_mix_black_blue_black_and_blue():
    assert set(parse_ink("pens").colours) == {parse_ink(n).colours[0] for n in INK_NAMES if n != "pens"}


@pytest.mark.parametrize("value", ["red", "", "#12345", "#1234567", "#gggggg", "blue black", "123456"])
def test_parse_ink_refuses_other_values_naming_the_field_and_the_forms(value):
    with pytest.raises(InvalidInput) as caught:
        parse_ink(value)
    assert caught.value.field == "ink"
    for form in ("black", "blue-black", "blue", "pens", "#rrggbb"):
        assert form in str(caught.value)


def test_parse_ink_refuses_other_types():
    with pytest.raises(InvalidType) as caught:
        parse_ink(3)  # type: ignore[arg-type]
    assert caught.value.field == "ink"


# --- make_style ------------------------------------------------------------------------------------------


def test_make_style_refuses_contradictions(backgrounds):
    with pytest.raises(InvalidInput) as caught:
        make_style("pencil")
    assert caught.value.field == "style" and "mnist" in str(caught.value)
    with pytest.raises(InvalidInput) as caught:
        make_style("background")
    assert caught.value.field == "background"
    with pytest.raises(InvalidInput) as caught:
        make_style("paper", backgrounds=backgrounds)
    assert caught.value.field == "background"
    with pytest.raises(InvalidInput) as caught:
        make_style("mnist", ink="blue")
    assert caught.value.field == "ink"
    with pytest.raises(InvalidInput):
        make_style("ink", pipeline=A.GaussNoise())
    with pytest.raises(InvalidInput):
        make_style("custom")
    with pytest.raises(InvalidType):
        make_style("custom", pipeline=lambda image: image)
    with pytest.raises(InvalidInput):
        make_style("ink", ink="green")


def test_style_names():
    assert STYLE_NAMES == ("mnist", "ink", "paper", "background", "custom")
    assert make_style("paper").name == "paper"
    assert make_style("ink", ink=parse_ink("blue")).ink.name == "blue"


# --- every style: shape, channels, polarity, determinism --------------------------------------------------


@pytest.mark.parametrize("shape", [(48, 240), (16, 20), (1, 1), (64, 97), (300, 1500)])
@pytest.mark.parametrize("channels", [1, 3])
def test_every_style_keeps_the_size_and_gives_the_channels(backgrounds, shape, channels):
    coverage = synthetic(*shape)
    before = coverage.copy()
    for name, style in all_styles(backgrounds).items():
        image = style.render(coverage, seed=7, channels=channels)
        expected = shape if channels == 1 else (*shape, 3)
        assert image.shape == expected and image.dtype == np.uint8, name
        np.testing.assert_array_equal(coverage, before)  # the input is never written to


@pytest.mark.parametrize("channels", [1, 3])
def test_ink_is_darker_than_the_paper_in_every_inked_style(backgrounds, coverage, channels):
    for name, style in all_styles(backgrounds).items():
        if name == "mnist":
            continue
        for seed in SEEDS:
            image = style.render(coverage, seed=seed, channels=channels)
            grey = (image if channels == 1 else cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)).astype(np.float64)
            ink, sheet = grey[coverage == 255].mean(), grey[coverage == 0].mean()
            assert sheet - ink > 90, (name, seed, ink, sheet)
            assert sheet > 150, (name, seed, sheet)


def test_mnist_is_the_coverage_itself(coverage):
    style = make_style("mnist")
    grey = style.render(coverage, seed=3, channels=1)
    assert grey.tobytes() == coverage.tobytes()
    rgb = style.render(coverage, seed=3, channels=3)
    for c in range(3):
        np.testing.assert_array_equal(rgb[..., c], coverage)


def test_ink_black_is_the_inverted_coverage(coverage):
    style = make_style("ink")
    np.testing.assert_array_equal(style.render(coverage, seed=0, channels=1), 255 - coverage)
    rgb = style.render(coverage, seed=0, channels=3)
    for c in range(3):
        np.testing.assert_array_equal(rgb[..., c], 255 - coverage)


@pytest.mark.parametrize("value", ["blue", "blue-black", "#c81e64", "#ffffff"])
def test_ink_is_paper_times_one_minus_a_plus_ink_times_a_for_every_level(value):
    levels = np.arange(256, dtype=np.uint8).reshape(16, 16)
    ink = parse_ink(value)
    rgb = make_style("ink", ink=ink).render(levels, seed=0, channels=3)
    a = levels.astype(np.float64)[..., None] / 255
    expected = 255 * (1 - a) + np.asarray(ink.colours[0], np.float64) * a
    assert np.abs(rgb - expected).max() <= 0.5 + 1e-6
    grey = make_style("ink", ink=ink).render(levels, seed=0, channels=1)
    np.testing.assert_array_equal(grey, cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY))


def test_ink_keeps_the_anti_aliased_edges(coverage):
    grey = make_style("ink").render(coverage, seed=0, channels=1)
    edge = (coverage > 0) & (coverage < 255)
    assert edge.any()
    assert len(np.unique(grey[edge])) > 50


def test_ink_pens_picks_each_pen_by_seed(coverage):
    style = make_style("ink", ink="pens")
    colours = set()
    for seed in range(60):
        rgb = style.render(coverage, seed=seed, channels=3)
        colours.add(tuple(int(v) for v in rgb[coverage == 255][0]))
        assert rgb.tobytes() == style.render(coverage, seed=seed, channels=3).tobytes()
    assert colours == set(parse_ink("pens").colours)


@pytest.mark.parametrize("name", ["ink", "paper", "background", "custom"])
def test_blue_ink_is_blue(backgrounds, coverage, name):
    options = {"backgrounds": backgrounds} if name == "background" else {}
    if name == "custom":
        options["pipeline"] = A.RandomBrightnessContrast(p=1)
    style = make_style(name, ink="blue", **options)
    for seed in SEEDS:
        rgb = style.render(coverage, seed=seed, channels=3).astype(np.int64)
        ink = rgb[coverage == 255].mean(axis=0)
        assert ink[2] > ink[0] + 40, (seed, ink)


def test_black_pen_on_paper_is_grey(coverage):
    style = make_style("paper", ink="black")
    for seed in SEEDS:
        rgb = style.render(coverage, seed=seed, channels=3).astype(np.float64)
        ink, sheet = rgb[coverage == 255].mean(axis=0), rgb[coverage == 0].mean(axis=0)
        # A grey pen keeps the same fraction of every channel's light: only the paper's tone tints it.
        kept = ink / sheet
        assert kept.max() - kept.min() < 0.06, (ink, sheet)


@pytest.mark.parametrize("channels", [1, 3])
def test_every_style_is_the_same_bytes_for_a_seed_across_calls_instances_and_threads(
    backgrounds, coverage, channels
):
    first = all_styles(backgrounds)
    second = all_styles(backgrounds)
    expected = {
        (name, seed): style.render(coverage, seed=seed, channels=channels).tobytes()
        for name, style in first.items()
        for seed in SEEDS
    }
    for name, style in second.items():
        for seed in SEEDS:
            assert style.render(coverage, seed=seed, channels=channels).tobytes() == expected[name, seed]

    def render(job):
        name, seed = job
        return first[name].render(coverage, seed=seed, channels=channels).tobytes()

    jobs = [(name, seed) for seed in SEEDS for name in first] * 3
    with ThreadPoolExecutor(max_workers=4) as pool:
        for job, image in zip(jobs, pool.map(render, jobs), strict=True):
            assert image == expected[job], job


def test_random_styles_differ_between_seeds(backgrounds, coverage):
    styles = all_styles(backgrounds)
    for name in ("paper", "paper-black", "background", "custom"):
        images = {styles[name].render(coverage, seed=seed, channels=3).tobytes() for seed in SEEDS}
        assert len(images) == len(SEEDS), name


def test_paper_varies_pens_and_tones_per_number(coverage):
    style = make_style("paper")
    inks, sheets = [], []
    for seed in range(40):
        rgb = style.render(coverage, seed=seed, channels=3).astype(np.float64)
        inks.append(rgb[coverage == 255].mean(axis=0))
        sheets.append(rgb[coverage == 0].mean(axis=0))
    inks_array, sheets_array = np.array(inks), np.array(sheets)
    blueish = inks_array[:, 2] - inks_array[:, 0]
    assert (blueish > 40).sum() >= 5 and (blueish < 10).sum() >= 5  # blue pens and black ones
    assert np.ptp(sheets_array.mean(axis=1)) > 15  # lighter and darker sheets
    assert (sheets_array[:, 0] - sheets_array[:, 2] > 15).sum() >= 3  # some cream or yellowed


def test_grey_is_the_luminance_of_the_colour_rendering(backgrounds, coverage):
    for name, style in all_styles(backgrounds).items():
        for seed in range(4):
            rgb = style.render(coverage, seed=seed, channels=3)
            grey = style.render(coverage, seed=seed, channels=1)
            np.testing.assert_array_equal(grey, cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), err_msg=name)


def test_paper_has_texture_and_noise_but_no_ink_where_there_is_none(coverage):
    style = make_style("paper")
    for seed in SEEDS:
        grey = style.render(coverage, seed=seed, channels=1)
        far = cv2.dilate((coverage > 0).view(np.uint8), np.ones((9, 9), np.uint8)) == 0
        sheet = grey[far].astype(np.float64)
        assert sheet.std() > 0.3  # not a flat fill
        assert sheet.min() > 90  # no dark specks: the paper stays paper


def test_the_style_stream_is_not_generations_stream(coverage):
    """Styles draw from their own stream of the seed: the pen is not the digit sample's draw."""
    picks = [parse_ink("pens").pick(u) for u in (0.1, 0.5, 0.9)]
    assert len(set(picks)) == 3
    style = make_style("ink", ink="pens")
    rng = np.random.default_rng(0)
    seeds = rng.integers(0, 2**62, 64).tolist()
    from hng.core.seeding import new_rng

    agree = 0
    for seed in seeds:
        generation_pick = parse_ink("pens").pick(float(new_rng(seed).random()))
        rgb = style.render(coverage, seed=seed, channels=3)
        agree += tuple(int(v) for v in rgb[coverage == 255][0]) == generation_pick
    assert agree < 56  # independent draws agree about 36 % of the time, the same draw always


# --- custom ----------------------------------------------------------------------------------------------


def test_custom_applies_the_pipeline_on_the_ink_rendering_seeded(coverage):
    pipeline = A.Compose([A.GaussNoise(std_range=(0.05, 0.1), p=1), A.RandomBrightnessContrast(p=1)])
    style = make_style("custom", ink="blue", pipeline=pipeline)
    inked = InkStyle(parse_ink("blue")).render(coverage, seed=5, channels=3)
    first = style.render(coverage, seed=5, channels=3)
    assert first.shape == inked.shape and not np.array_equal(first, inked)
    assert style.render(coverage, seed=5, channels=3).tobytes() == first.tobytes()
    assert style.render(coverage, seed=6, channels=3).tobytes() != first.tobytes()
    # The user's pipeline gets the style's streams, not numpy's or Python's global ones.
    np.random.seed(1)
    assert style.render(coverage, seed=5, channels=3).tobytes() == first.tobytes()


def test_custom_pipeline_that_resizes_is_refused(coverage):
    style = make_style("custom", pipeline=A.Resize(20, 30))
    with pytest.raises(ValueError, match="shape"):
        style.render(coverage, seed=0, channels=3)


# --- contracts -------------------------------------------------------------------------------------------


def test_render_checks_its_arguments(coverage):
    style = make_style("ink")
    with pytest.raises(ValueError, match="uint8"):
        style.render(coverage.astype(np.float32), seed=0, channels=1)
    with pytest.raises(ValueError, match="2-D"):
        style.render(np.zeros((4, 4, 3), np.uint8), seed=0, channels=1)
    with pytest.raises(ValueError, match="channels"):
        style.render(coverage, seed=0, channels=2)


def test_ink_pick_follows_the_weights():
    ink = Ink("mix", ((0, 0, 0), (0, 0, 255)), (0.25, 0.75))
    assert [ink.pick(u) for u in (0.0, 0.24, 0.25, 0.99)] == [(0, 0, 0), (0, 0, 0), (0, 0, 255), (0, 0, 255)]


def test_fields_are_seamless_and_normalised():
    fields = paper.fields()
    for field in (fields.grain, fields.cloud):
        assert abs(float(field.mean())) < 0.05 and abs(float(field.std()) - 1) < 0.05
        # Periodic: the step across the wrap is like any other step.
        inner = np.abs(np.diff(field, axis=1)).mean()
        across = np.abs(field[:, 0] - field[:, -1]).mean()
        assert across < 1.5 * inner
    assert fields.flow.dtype == np.uint8 and fields.noise.shape == (*paper.FIELD_SHAPE, 3)


_DIGEST = """
import hashlib, numpy as np
from hng.document.style import make_style
levels = np.tile(np.arange(256, dtype=np.uint8), (40, 2))
style = make_style("paper")
print(hashlib.sha256(b"".join(style.render(levels, s, 3).tobytes() for s in range(8))).hexdigest())
"""


def test_paper_is_the_same_bytes_in_another_process():
    levels = np.tile(np.arange(256, dtype=np.uint8), (40, 2))
    style = make_style("paper")
    here = hashlib.sha256(b"".join(style.render(levels, s, 3).tobytes() for s in range(8))).hexdigest()
    there = subprocess.run(
        [sys.executable, "-c", _DIGEST], capture_output=True, text=True, check=True, cwd=REPO
    ).stdout.strip()
    assert there == here


def test_windows_larger_than_a_field_wrap_around_it():
    field = np.arange(12, dtype=np.float32).reshape(3, 4)
    window = paper._window(field, 5, 9, 0.5, 0.5)
    np.testing.assert_array_equal(window, np.tile(field, (3, 4))[1:6, 2:11])
    np.testing.assert_array_equal(paper._window(field, 2, 3, 0.99, 0.0), field[1:3, 0:3])


def test_two_custom_styles_on_one_pipeline_object_stay_apart(coverage):
    pipeline = A.GaussNoise(std_range=(0.05, 0.1), p=1)
    first, second = make_style("custom", pipeline=pipeline), make_style("custom", pipeline=pipeline)
    expected = [first.render(coverage, seed=s, channels=3).tobytes() for s in range(4)]
    for s in range(4):
        assert second.render(coverage, seed=s, channels=3).tobytes() == expected[s]
        assert first.render(coverage, seed=s, channels=3).tobytes() == expected[s]
    pipeline(image=np.zeros((8, 8, 3), np.uint8))  # the caller's own object is theirs to use
    assert first.render(coverage, seed=0, channels=3).tobytes() == expected[0]


def test_unit_draws_are_uniform_and_in_range():
    from hng.document.style import _unit

    units = np.array([_unit(seed) for seed in range(4000)] + [_unit(2**63 - 1), _unit(0)])
    assert units.min() >= 0 and units.max() < 1
    counts = np.histogram(units[:4000], bins=10, range=(0, 1))[0]
    assert counts.min() > 320 and counts.max() < 480
