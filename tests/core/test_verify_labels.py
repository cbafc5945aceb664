"""verify_labels: digits the reader does not read as their label are drawn again, deterministically."""

from __future__ import annotations

import numpy as np
import pytest

from hng.core.generation import MAX_REDRAWS
from hng.quality.verify import accepted_samples, label_reader

NUMBERS = ["58383", "12345", "90817", "44621", "73059", "88888"] * 4


@pytest.mark.parametrize("augment", [None, "strong"])
def test_every_kept_digit_reads_as_its_label(generator, sample_data, augment) -> None:
    batch = generator.generate_batch(NUMBERS, image_width=140, seed=3, augment=augment, verify_labels=True)
    plain = generator.generate_batch(NUMBERS, image_width=140, seed=3, augment=augment)
    assert batch.redrawn > 0 and batch.unread == 0
    changed = batch.indices != plain.indices
    assert 0 < changed.sum() <= batch.redrawn
    if augment is None:
        table = accepted_samples(sample_data, "train")
        assert table[batch.indices].all()  # every sample kept is one the reader reads right
        assert not table[plain.indices].all()
    # Digits that were not redrawn are the very same draws.
    unchanged = ~changed
    assert np.array_equal(batch.indices[unchanged], plain.indices[unchanged])


def test_plain_digits_are_judged_as_the_reader_reads_them(sample_data) -> None:
    pool = sample_data.train
    table = accepted_samples(sample_data, "train")
    reader = label_reader(sample_data, "train")
    picks = np.arange(0, len(pool), 7)
    assert np.array_equal(table[picks], reader.accepts(pool.images[picks], pool.labels[picks]))
    assert accepted_samples(sample_data, "train") is table  # once per process


@pytest.mark.parametrize("augment", [None, "mild"])
def test_verified_images_are_deterministic_and_batch_matches_single(generator, augment) -> None:
    seeds = list(range(40, 52))
    batch = generator.generate_batch(
        NUMBERS[:12], image_width=140, seeds=seeds, augment=augment, verify_labels=True
    )
    for i in (0, 5, 11):
        single = generator.generate(
            NUMBERS[i], image_width=140, seed=seeds[i], augment=augment, verify_labels=True
        )
        assert np.array_equal(single.image, batch[i].image)
        assert single.indices == batch[i].indices and single.boxes == batch[i].boxes
    again = generator.generate_batch(
        NUMBERS[:12], image_width=140, seeds=seeds, augment=augment, verify_labels=True
    )
    assert np.array_equal(again.images, batch.images) and again.redrawn == batch.redrawn


def test_counts_reach_the_dataset_report(tmp_path, sample_data) -> None:
    import hng

    spec = {"count": 40, "shard_size": 20, "seed": 2, "preset": "mild", "verify_labels": True}
    manifest = hng.make_dataset(spec, tmp_path / "ds", data=sample_data, workers=1, progress=False)
    verify = manifest["report"]["verify_labels"]
    assert verify["digits"] == 200 and verify["redrawn"] > 0 and verify["unread"] <= verify["redrawn"]
    assert MAX_REDRAWS == 10
    plain = hng.make_dataset({**spec, "verify_labels": False}, tmp_path / "plain", data=sample_data,
                             workers=1, progress=False)  # fmt: skip
    assert "verify_labels" not in plain["report"]


@pytest.mark.parametrize("look", [{}, {"style": "paper", "height": 40, "rotate": 4}])
def test_every_digit_of_a_verified_image_reads_right_where_the_report_reads_it(
    generator, sample_data, look
) -> None:
    from hng.quality.readability import mnist_polarity

    batch = generator.generate_batch(
        NUMBERS,
        image_width=160,
        seeds=list(range(len(NUMBERS))),
        augment="strong",
        verify_labels=True,
        **look,
    )
    reader = label_reader(sample_data, "train")
    misread = 0
    for i in range(len(batch)):
        item = batch[i]
        grey = mnist_polarity(item.image)
        cut_outs = [grey[b.y0 : b.y1, b.x0 : b.x1] for b in item.boxes]
        misread += int((reader.read(cut_outs) != [b.digit for b in item.boxes]).sum())
    assert batch.redrawn > 0 and misread == batch.unread
