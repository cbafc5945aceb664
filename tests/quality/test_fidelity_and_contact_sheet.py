"""Quality tools on real generated images (the committed sample): label fidelity and the contact sheet."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

import hng
from hng.quality import contact_sheet as sheet_module
from hng.quality.contact_sheet import contact_sheet, sheet_layout
from hng.quality.fidelity import FidelityResult, fidelity_classifier, fidelity_reader, label_fidelity
from hng.quality.readability import NearestNeighbours, fit_classifier, mnist_polarity, normalise_all
from hng.quality.verify import LabelReader

PAD = -1


def shard_arrays(batch: hng.GeneratedBatch) -> dict[str, np.ndarray]:
    """A batch as Shard-shaped arrays: boxes (D, 5) digit, x0, y0, x1, y1 become (N, L, 4) padded with -1."""
    count = len(batch)
    lengths = np.diff(batch.digit_offsets).astype(np.int32)
    longest = int(lengths.max())
    owner = np.repeat(np.arange(count), lengths)
    position = np.arange(len(owner)) - batch.digit_offsets[owner]
    boxes = np.full((count, longest, 4), PAD, dtype=np.int32)
    boxes[owner, position] = batch.boxes[:, 1:]
    return {
        "images": batch.images,
        "widths": np.full(count, batch.images.shape[2], dtype=np.int32),
        "labels": np.array(batch.labels),
        "lengths": lengths,
        "boxes": boxes,
    }


def padded(results: list[hng.GeneratedNumber]) -> dict[str, np.ndarray]:
    """Images of different widths and lengths stacked as a Shard stacks them."""
    widths = np.array([r.width for r in results], dtype=np.int32)
    lengths = np.array([len(r.label) for r in results], dtype=np.int32)
    images = np.zeros((len(results), 28, int(widths.max())), dtype=np.uint8)
    boxes = np.full((len(results), int(lengths.max()), 4), PAD, dtype=np.int32)
    for i, r in enumerate(results):
        images[i, :, : r.width] = r.image
        boxes[i, : len(r.boxes)] = [(b.x0, b.y0, b.x1, b.y1) for b in r.boxes]
    return {
        "images": images,
        "widths": widths,
        "labels": np.array([r.label for r in results]),
        "lengths": lengths,
        "boxes": boxes,
    }


@pytest.fixture(scope="module")
def classifier(sample_data) -> NearestNeighbours:
    # The sample's 1,000 train digits; the images below use its test split, so it never saw them.
    return fit_classifier(sample_data.train, 10_000)


@pytest.fixture(scope="module")
def numbers() -> list[str]:
    rng = np.random.default_rng(7)
    return ["".join(map(str, rng.integers(0, 10, size=4))) for _ in range(80)]


@pytest.fixture(scope="module")
def batch(generator, numbers) -> hng.GeneratedBatch:
    return generator.generate_batch(numbers, image_width=96, seed=11, split="test")


# --- the classifier ----------------------------------------------------------------------------------


def test_fit_classifier_takes_at_most_the_split_and_is_seeded(sample_data, classifier):
    assert len(classifier) == len(sample_data.train) == 1000  # asked for 10,000: all there are
    few = fit_classifier(sample_data.train, 200, seed=3)
    again = fit_classifier(sample_data.train, 200, seed=3)
    other = fit_classifier(sample_data.train, 200, seed=4)
    assert len(few) == 200
    np.testing.assert_array_equal(few.vectors, again.vectors)
    assert not np.array_equal(few.vectors, other.vectors)
    with pytest.raises(ValueError, match="count"):
        fit_classifier(sample_data.train, 0)


def test_the_classifier_reads_raw_digits_it_never_saw(sample_data, classifier):
    read = classifier.read(list(sample_data.test.images))
    assert (read == sample_data.test.labels).mean() >= 0.85
    assert classifier.read([np.zeros((5, 5), np.uint8)]).tolist() == [-1]


def test_fidelity_classifier_is_fitted_on_the_other_split(sample_data):
    # The sample has 1,000 train and 300 test digits: the size tells which split was used.
    for dataset_split, other in (("train", sample_data.test), ("test", sample_data.train)):
        judge = fidelity_classifier(sample_data, dataset_split)
        assert len(judge) == len(other)
        vectors, blank = normalise_all(list(other.images))
        assert not blank.any()
        # The same digits (in the order fit_classifier drew them): a set comparison of the rows.
        assert sorted(map(bytes, judge.vectors)) == sorted(map(bytes, vectors))


# --- label fidelity ----------------------------------------------------------------------------------


def test_correct_labels_read_as_their_label(batch, classifier):
    result = label_fidelity(**shard_arrays(batch), classifier=classifier)
    assert result.digits == 4 * len(batch)
    assert result.blank_boxes == 0
    assert result.read_as_label >= 0.85  # 0.89 measured: only 100 training digits per class
    assert result.numbers_read >= 0.55
    assert result.numbers_read <= result.read_as_label
    assert set(result.per_digit) == {str(d) for d in range(10)}
    assert min(result.per_digit.values()) >= 0.5


def test_wrong_labels_read_low(batch, classifier):
    arrays = shard_arrays(batch)
    # Each digit of each label replaced by the next one: the pictures no longer match.
    shifted = str.maketrans("0123456789", "1234567890")
    arrays["labels"] = np.array([label.translate(shifted) for label in batch.labels])
    result = label_fidelity(**arrays, classifier=classifier)
    assert result.read_as_label <= 0.1
    assert result.numbers_read <= 0.02


def test_swapped_boxes_read_low(batch, classifier):
    # Right labels, boxes in the wrong order: the digits are cut out of the wrong places.
    arrays = shard_arrays(batch)
    arrays["boxes"] = arrays["boxes"][:, ::-1].copy()
    assert label_fidelity(**arrays, classifier=classifier).read_as_label <= 0.35


def test_a_blank_box_is_counted_and_misread(generator, classifier):
    batch = generator.generate_batch(["1234", "5678"], image_width=100, seed=2, split="test")
    arrays = shard_arrays(batch)
    clean = label_fidelity(**arrays, classifier=classifier)
    arrays["boxes"][0, 1] = (0, 0, 3, 28)  # the left margin: no ink
    arrays["boxes"][1, 2] = (10, 5, 10, 20)  # no columns at all
    result = label_fidelity(**arrays, classifier=classifier)
    assert clean.blank_boxes == 0
    assert result.blank_boxes == 2
    assert result.digits == 8
    assert result.read_as_label <= clean.read_as_label - 2 / 8
    assert result.numbers_read == 0.0


def test_padded_images_of_different_widths_and_lengths(generator, classifier):
    rng = np.random.default_rng(5)
    labels = ["7", "42", "90210", "1", "3141", "666", "08", "24680"]
    results = [
        generator.generate(label, seed=int(rng.integers(2**32)), split="test", image_width=width)
        for label, width in zip(labels, [None, 60, None, 28, 150, None, 50, None], strict=True)
    ]
    arrays = padded(results)
    assert arrays["boxes"].shape == (8, 5, 4)
    result = label_fidelity(**arrays, classifier=classifier)
    assert result.digits == sum(map(len, labels))
    assert result.blank_boxes == 0
    assert result.read_as_label >= 0.8
    assert set(result.per_digit) == set("".join(labels))
    # The padding rows of short labels are never read: corrupting them changes nothing.
    arrays["boxes"][0, 1:] = (0, 0, 3, 3)
    assert label_fidelity(**arrays, classifier=classifier) == result


def test_to_dict_is_json_ready(batch, classifier):
    result = label_fidelity(**shard_arrays(batch), classifier=classifier)
    data = json.loads(json.dumps(result.to_dict()))
    assert data == result.to_dict()
    assert set(data) == {"digits", "read_as_label", "numbers_read", "per_digit", "blank_boxes"}
    assert isinstance(data["digits"], int) and isinstance(data["read_as_label"], float)
    assert FidelityResult(**data) == result


def test_fidelity_rejects_inconsistent_arrays(batch, classifier):
    arrays = shard_arrays(batch)
    with pytest.raises(ValueError, match="length"):
        label_fidelity(**{**arrays, "lengths": arrays["lengths"] - 1}, classifier=classifier)
    with pytest.raises(ValueError, match="boxes"):
        label_fidelity(**{**arrays, "boxes": arrays["boxes"][:, :2]}, classifier=classifier)
    with pytest.raises(ValueError, match="digits"):
        label_fidelity(**{**arrays, "labels": np.array(["12a4"] * len(batch))}, classifier=classifier)
    with pytest.raises(ValueError, match="no images"):
        label_fidelity(**{k: v[:0] for k, v in arrays.items()}, classifier=classifier)


# --- styled images: any polarity, channels and height ------------------------------------------------

CREAM = (246, 239, 219)
BLUE = (15, 50, 165)


def blue_on_cream(images: np.ndarray, boxes: np.ndarray, height: int) -> tuple[np.ndarray, np.ndarray]:
    """The images as a blue pen on cream paper, resized to ``height`` rows: RGB, with paper grain
    (noise) and light falling off across the sheet; the boxes scaled to cover the same ink."""
    _, rows, columns = images.shape
    width = round(columns * height / rows)
    coverage = np.stack([cv2.resize(im, (width, height), interpolation=cv2.INTER_LINEAR) for im in images])
    alpha = coverage[..., None].astype(np.float32) / 255
    light = np.linspace(1.0, 0.85, width, dtype=np.float32)[None, None, :, None]
    grain = np.random.default_rng(1).normal(0.0, 4.0, (*coverage.shape, 3)).astype(np.float32)
    rgb = (np.float32(CREAM) * (1 - alpha) + np.float32(BLUE) * alpha) * light + grain
    scaled = boxes.astype(np.float64) * [width / columns, height / rows, width / columns, height / rows]
    outer = np.concatenate([np.floor(scaled[..., :2]), np.ceil(scaled[..., 2:])], axis=-1).astype(np.int32)
    return np.clip(np.rint(rgb), 0, 255).astype(np.uint8), outer


def test_mnist_polarity_passes_white_on_black_grey_through_unchanged(batch):
    image = batch.images[0]
    assert mnist_polarity(image) is image
    # Grey on all three channels: its luminance is the grey itself.
    np.testing.assert_array_equal(mnist_polarity(np.repeat(image[..., None], 3, axis=2)), image)


def test_mnist_polarity_turns_dark_ink_on_paper_bright_on_black(batch):
    image = batch.images[0]
    np.testing.assert_array_equal(mnist_polarity(255 - image), image)
    rgb, _ = blue_on_cream(batch.images[:1], np.zeros((1, 1, 4), np.int32), 28)
    grey = mnist_polarity(rgb[0])
    assert grey.dtype == np.uint8 and grey.shape == image.shape
    ink, paper = image >= 250, image == 0
    # Full ink reads at least 150 of 255 (cream less blue's luminance is 186); the paper at most about a
    # fifth of that (grain, and the light falling off by 15 % across the sheet).
    assert np.percentile(grey[ink], 5) >= 150
    assert np.percentile(grey[paper], 99) <= 40
    assert np.corrcoef(grey.ravel(), image.ravel())[0, 1] >= 0.95


def test_mnist_polarity_refuses_what_is_not_an_image():
    with pytest.raises(TypeError, match="uint8"):
        mnist_polarity(np.zeros((28, 28), np.float32))
    with pytest.raises(ValueError, match="RGB"):
        mnist_polarity(np.zeros((28, 28, 4), np.uint8))


def test_dark_ink_on_white_reads_as_the_original(batch, classifier):
    arrays = shard_arrays(batch)
    original = label_fidelity(**arrays, classifier=classifier)
    assert label_fidelity(**{**arrays, "images": 255 - arrays["images"]}, classifier=classifier) == original


@pytest.mark.parametrize("height", [16, 48, 128])
def test_blue_on_cream_rgb_of_any_height_reads_as_well_as_the_original(batch, classifier, height):
    arrays = shard_arrays(batch)
    original = label_fidelity(**arrays, classifier=classifier)
    rgb, boxes = blue_on_cream(arrays["images"], arrays["boxes"], height)
    widths = np.full(len(rgb), rgb.shape[2], dtype=np.int32)
    styled = label_fidelity(
        **{**arrays, "images": rgb, "boxes": boxes, "widths": widths}, classifier=classifier
    )
    assert styled.digits == original.digits
    assert styled.blank_boxes == 0
    # Measured: 0.869 at 16 rows (digits 11 pixels high), 0.906 at 48, 0.913 at 128; the original 0.894.
    assert styled.read_as_label >= original.read_as_label - (0.04 if height < 28 else 0.015)
    # Black padding past each image's width (as a Shard stacks images) is not taken for its paper.
    padded_rgb = np.zeros((len(rgb), height, rgb.shape[2] + 40, 3), np.uint8)
    padded_rgb[:, :, : rgb.shape[2]] = rgb
    again = label_fidelity(
        **{**arrays, "images": padded_rgb, "boxes": boxes, "widths": widths}, classifier=classifier
    )
    assert again == styled


# --- contact sheet -----------------------------------------------------------------------------------


def scaled(image: np.ndarray, scale: int) -> np.ndarray:
    return np.repeat(np.repeat(image, scale, axis=0), scale, axis=1)


@pytest.mark.parametrize(("count", "columns", "scale"), [(10, 4, 2), (8, 8, 1), (3, 8, 3), (1, 8, 2)])
def test_sheet_shape_follows_columns_rows_and_scale(generator, count, columns, scale):
    batch = generator.generate_batch([str(n) for n in range(10, 10 + count)], image_width=60, seed=1)
    sheet = contact_sheet(batch.images, [60] * count, list(batch.labels), columns=columns, scale=scale)
    used = min(columns, count)
    rows = -(-count // columns)
    cell_width = 60 * scale + 2 * sheet_module.BORDER  # the labels are narrower than the images
    cell_height = 28 * scale + 2 * sheet_module.BORDER + sheet_module.STRIP
    margin = sheet_module.MARGIN
    assert sheet.dtype == np.uint8
    assert sheet.shape == (margin + rows * (cell_height + margin), margin + used * (cell_width + margin))


def test_each_cell_holds_its_image_scaled_left_aligned_and_framed(generator):
    labels = ["7", "42", "2026", "12345", "0123456789", "99"]
    results = [generator.generate(label, seed=i, augment="mild") for i, label in enumerate(labels)]
    arrays = padded(results)
    sheet = contact_sheet(arrays["images"], arrays["widths"], arrays["labels"], columns=4, scale=3)
    layout = sheet_layout(28, arrays["widths"], labels, columns=4, scale=3)
    assert (layout.columns, layout.rows) == (4, 2)
    border = sheet_module.BORDER
    for i, result in enumerate(results):
        y, x = layout.image_origin(i)
        cy, cx = layout.cell_origin(i)
        assert (y, x) == (cy + border, cx + border)  # left-aligned, whatever the width
        w = result.width * 3
        np.testing.assert_array_equal(sheet[y : y + 84, x : x + w], scaled(result.image, 3))
        # The frame around the image's true extent, then the sheet's background to the cell's right edge.
        assert (sheet[y - border, x - border : x + w + border] == sheet_module.BORDER_VALUE).all()
        assert (sheet[y : y + 84, x + w] == sheet_module.BORDER_VALUE).all()
        assert (sheet[y : y + 84, x + w + border : cx + layout.cell_width] == sheet_module.BACKGROUND).all()


def test_labels_are_drawn_on_the_strip(generator):
    labels = ["1", "22", "333", "4444", "55555", "1"]
    batch = generator.generate_batch(labels, image_width=80, seed=4)
    sheet = contact_sheet(batch.images, [80] * 6, labels, columns=3)
    layout = sheet_layout(28, [80] * 6, labels, columns=3, scale=2)
    strips = []
    for i in range(6):
        y, x = layout.strip_origin(i)
        strip = sheet[y : y + sheet_module.STRIP, x : x + layout.cell_width]
        assert (strip >= sheet_module.STRIP_VALUE).all()
        text = strip > sheet_module.STRIP_VALUE
        assert text.sum() >= 15 * len(labels[i])  # glyph pixels
        assert text.max(axis=0).sum() >= 5 * len(labels[i])  # wider for longer labels
        strips.append(strip)
    np.testing.assert_array_equal(strips[0], strips[5])  # the same label looks the same
    assert not np.array_equal(strips[0], strips[1])


def test_a_long_label_widens_the_cells(generator):
    label = "0123456789" * 2
    batch = generator.generate_batch([label], image_width=20, seed=1)
    sheet = contact_sheet(batch.images, [20], [label], scale=1)
    layout = sheet_layout(28, [20], [label], columns=8, scale=1)
    assert layout.cell_width > 20 + 2 * sheet_module.BORDER
    y, x = layout.strip_origin(0)
    text_columns = np.flatnonzero((sheet[y : y + sheet_module.STRIP] > sheet_module.STRIP_VALUE).any(axis=0))
    assert x < text_columns[0] and text_columns[-1] < x + layout.cell_width  # the whole label fits


def test_sheet_rejects_bad_input(generator):
    batch = generator.generate_batch(["12", "34"], image_width=40, seed=1)
    with pytest.raises(ValueError, match="one entry per image"):
        contact_sheet(batch.images, [40], ["12", "34"])
    with pytest.raises(ValueError, match="widths"):
        contact_sheet(batch.images, [40, 41], ["12", "34"])
    with pytest.raises(ValueError, match="at least one"):
        contact_sheet(batch.images[:0], [], [])
    with pytest.raises(ValueError, match="uint8"):
        contact_sheet(batch.images.astype(np.float32), [40, 40], ["12", "34"])
    with pytest.raises(ValueError, match="columns"):
        contact_sheet(batch.images, [40, 40], ["12", "34"], columns=0)


def test_sheet_encodes_as_png(generator):
    batch = generator.generate_batch(["2026"] * 3, image_width=100, seed=1)
    sheet = contact_sheet(batch.images, [100] * 3, list(batch.labels))
    assert hng.decode_png(hng.encode_png(sheet)).tobytes() == sheet.tobytes()


def test_boxes_and_masks_are_drawn_in_each_digits_colour(generator):
    batch = generator.generate_batch(["2026", "71"], image_width=[120, 60], seed=4, masks=True)
    boxes = np.full((2, 4, 4), -1, dtype=np.int64)
    for i in range(2):
        rows = slice(int(batch.digit_offsets[i]), int(batch.digit_offsets[i + 1]))
        boxes[i, : rows.stop - rows.start] = batch.boxes[rows, 1:]
    plain = contact_sheet(batch.images, batch.widths, batch.labels, columns=2, scale=3)
    drawn = contact_sheet(
        batch.images, batch.widths, batch.labels, columns=2, scale=3, boxes=boxes, masks=batch.masks
    )
    assert drawn.shape == (*plain.shape, 3)
    layout = sheet_layout(28, batch.widths, batch.labels, columns=2, scale=3)
    for i in range(2):
        iy, ix = layout.image_origin(i)
        for k, (x0, y0, x1, y1) in enumerate(boxes[i].tolist()):
            if x0 < 0:
                continue
            colour = sheet_module.DIGIT_COLOURS[k % len(sheet_module.DIGIT_COLOURS)]
            # The box's frame runs just outside the digit's pixels, in the digit's colour.
            assert tuple(drawn[iy + y0 * 3 - 1, ix + x0 * 3 - 1]) == colour
            assert tuple(drawn[iy + y1 * 3, ix + x1 * 3]) == colour
            # Inside, the ink is tinted that colour: the brightest ink pixel keeps the colour's hue.
            region = drawn[iy + y0 * 3 : iy + y1 * 3, ix + x0 * 3 : ix + x1 * 3].reshape(-1, 3).astype(int)
            mask = np.repeat(np.repeat(batch.masks[i, y0:y1, x0:x1] == k + 1, 3, 0), 3, 1).ravel()
            brightest = region[mask][region[mask].sum(axis=1).argmax()]
            assert np.argmax(brightest) == np.argmax(colour)
    with pytest.raises(ValueError, match="give boxes too"):
        contact_sheet(batch.images, batch.widths, batch.labels, masks=batch.masks)


@pytest.mark.parametrize(
    "look",
    [
        {},
        {"augment": "mild"},
        {"augment": "strong"},
        {"style": "paper", "rotate": (-4, 4), "shear": (-8, 8), "height": 48},
        {"style": "ink", "ink": "pens", "channels": 3},
    ],
    ids=["plain", "mild", "strong", "paper", "ink"],
)
def test_the_fast_reader_gives_the_classifiers_fidelity_digit_for_digit(generator, numbers, classifier, look):
    # finalize reads with fidelity_reader: LabelReader over the classifier's own fitted digits.
    batch = generator.generate_batch(numbers * 3, image_width=96, seed=5, split="test", **look)
    arrays = shard_arrays(batch)
    fast = LabelReader(classifier.vectors, classifier.labels)
    assert label_fidelity(**arrays, classifier=fast) == label_fidelity(**arrays, classifier=classifier)


def test_fidelity_reader_holds_the_fidelity_classifiers_digits(sample_data):
    reader = fidelity_reader(sample_data, "train")
    judge = fidelity_classifier(sample_data, "train")
    np.testing.assert_array_equal(reader.vectors, judge.vectors)
    np.testing.assert_array_equal(reader.labels, judge.labels)


def test_fidelity_reader_reuses_its_cached_axes(sample_data, tmp_path, monkeypatch):
    monkeypatch.setenv("HNG_CACHE_DIR", str(tmp_path))
    first = fidelity_reader(sample_data, "train")  # fits the axes and stores them
    assert list(tmp_path.glob("fidelity-axes-*.npz"))
    again = fidelity_reader(sample_data, "train")  # loads them
    np.testing.assert_array_equal(again.basis, first.basis)
    patches = list(sample_data.train.images[:50])
    np.testing.assert_array_equal(again.read(patches), first.read(patches))
    with pytest.raises(ValueError, match="basis"):
        LabelReader(first.vectors, first.labels, basis=first.basis[:, :3])
