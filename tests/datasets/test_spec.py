"""DatasetSpec: defaults, rules (each error names its field), label drawing, shard seeds and bounds."""

from __future__ import annotations

import numpy as np
import pytest

from hng.datasets.plan import differences, rebuild_command
from hng.datasets.shard import draw_labels, make_shard, shard_bounds, shard_seed
from hng.datasets.spec import DatasetSpec, SpecError, parse_digits, read_numbers_file


def test_defaults_are_filled_in_and_a_seed_is_drawn():
    spec = DatasetSpec.build(count=12)
    data = spec.to_json()
    assert data["digits"] == [5, 5]
    assert data["image_width"] == 140  # 28 x the longest length
    assert (data["spacing_min"], data["spacing_max"]) == (5, 10)
    assert (data["fit"], data["preset"], data["split"], data["format"]) == ("stretch", "none", "train", "npz")
    assert data["shard_size"] == 10_000
    assert isinstance(data["seed"], int) and spec.seed_drawn
    assert not DatasetSpec.build(count=12, seed=3).seed_drawn
    assert DatasetSpec.build(count=3, digits="3-8").image_width == 28 * 8


def test_the_json_form_builds_the_same_spec():
    spec = DatasetSpec.build(count=7, digits="2-4", width_per_digit=20, fit="pad", seed=9, shardSize=3)
    again = DatasetSpec.build(**spec.to_json())
    assert again.to_json() == spec.to_json()
    assert spec.num_shards == 3


@pytest.mark.parametrize(
    ("value", "expected"),
    [(5, (5, 5)), ("5", (5, 5)), ("3-8", (3, 8)), (" 3-8 ", (3, 8)), ([3, 8], (3, 8)), ((2, 2), (2, 2))],
)
def test_digits_forms(value, expected):
    assert parse_digits(value) == expected


@pytest.mark.parametrize(
    ("fields", "field", "words"),
    [
        ({"count": 0}, "count", [">= 1"]),
        ({"count": -5}, "count", [">= 1"]),
        ({"count": 10**8 + 1}, "count", ["<= 100000000"]),
        ({"count": "10"}, "count", ["integer"]),
        ({"count": 1.5}, "count", ["integer"]),
        ({"count": True}, "count", ["integer"]),
        ({}, "count", ["required"]),
        ({"count": 5, "shard_size": 0}, "shard_size", [">= 1"]),
        ({"count": 5, "shard_size": 100_001}, "shard_size", ["<= 100000"]),
        ({"count": 5, "digits": "3-x"}, "digits", ["3-8"]),
        ({"count": 5, "digits": "8-3"}, "digits", ["minimum length 8", "maximum 3"]),
        ({"count": 5, "digits": 0}, "digits", [">= 1"]),
        ({"count": 5, "digits": 65}, "digits", ["<= 64"]),
        ({"count": 5, "digits": [1, 2, 3]}, "digits", ["[min, max]"]),
        ({"count": 5, "numbers": []}, "numbers", ["empty"]),
        ({"count": 5, "numbers": ["12", "4x"]}, "numbers", ["numbers[1]", "digits 0-9"]),
        ({"count": 5, "numbers": "123"}, "numbers", ["list"]),
        ({"count": 5, "numbers": ["1"], "digits": 3}, "digits", ["exclude"]),
        ({"count": 5, "numbers_mode": "shuffle"}, "numbers_mode", ["cycle", "sample"]),
        ({"count": 5, "spacing_min": -1}, "spacing_min", [">= 0"]),
        ({"count": 5, "spacing_max": 257}, "spacing_max", ["<= 256"]),
        ({"count": 5, "spacing_min": 9, "spacing_max": 3}, "spacing_min", ["greater than spacing_max"]),
        ({"count": 5, "image_width": 0}, "image_width", [">= 1"]),
        ({"count": 5, "image_width": 4097}, "image_width", ["<= 4096"]),
        ({"count": 5, "image_width": 50, "width_per_digit": 10}, "image_width", ["exclude"]),
        ({"count": 5, "digits": 8, "width_per_digit": 600}, "width_per_digit", ["4096"]),
        ({"count": 5, "fit": "pad", "image_width": 20}, "image_width", ["too small for fit=pad", "at least"]),
        ({"count": 5, "fit": "pad", "width_per_digit": 4}, "width_per_digit", ["too small for fit=pad"]),
        ({"count": 5, "fit": "fill"}, "fit", ["'stretch'", "'pad'"]),
        ({"count": 5, "preset": "wild"}, "preset", ["'mild'"]),
        ({"count": 5, "split": "validation"}, "split", ["'train'", "'test'"]),
        ({"count": 5, "format": "csv"}, "format", ["'npz'", "'webdataset'", "'imagefolder'"]),
        ({"count": 5, "seed": -1}, "seed", [">= 0"]),
        ({"count": 5, "seed": 2**63}, "seed", ["<="]),
        ({"count": 5, "compress": "yes"}, "compress", ["true or false"]),
        ({"count": 5, "colour": "red"}, "colour", ["not a dataset field"]),
    ],
)
def test_each_rule_names_its_field(fields, field, words):
    with pytest.raises(SpecError) as caught:
        DatasetSpec.build(**fields)
    assert isinstance(caught.value, ValueError)
    fields_named = [f for f, _ in caught.value.errors]
    assert field in fields_named, caught.value.errors
    message = str(caught.value)
    for word in words:
        assert word in message, message


def test_stretch_allows_any_width():
    assert DatasetSpec.build(count=5, image_width=20).image_width == 20


def test_numbers_file(tmp_path):
    path = tmp_path / "numbers.txt"
    path.write_text("007\n  42 \n\n2026\r\n")
    assert read_numbers_file(path) == ["007", "42", "2026"]
    path.write_text("12\nx1\n")
    with pytest.raises(ValueError, match=r"numbers\.txt line 2"):
        read_numbers_file(path)
    path.write_text("\n\n")
    with pytest.raises(ValueError, match="holds no numbers"):
        read_numbers_file(path)
    with pytest.raises(ValueError, match="is not a file"):
        read_numbers_file(tmp_path)


def test_random_labels_are_uniform_over_lengths_then_digits():
    spec = DatasetSpec.build(count=60_000, digits="3-8", seed=1)
    labels = draw_labels(spec, 0, 60_000, np.random.default_rng(0))
    assert labels.dtype == np.dtype("<U8")
    lengths = np.char.str_len(labels)
    counts = np.bincount(lengths, minlength=9)[3:]
    assert counts.sum() == 60_000 and np.all(np.abs(counts - 10_000) < 500), counts
    digits = np.frombuffer("".join(labels.tolist()).encode(), dtype=np.uint8) - 48
    histogram = np.bincount(digits, minlength=10)
    assert np.all(np.abs(histogram / histogram.sum() - 0.1) < 0.005), histogram
    assert any(label.startswith("0") for label in labels.tolist()), "leading zeros are allowed"


def test_numbers_cycle_by_dataset_index_or_are_sampled():
    spec = DatasetSpec.build(count=10, numbers=["1", "22", "333"], seed=1)
    labels = draw_labels(spec, 4, 5, np.random.default_rng(0))
    assert labels.tolist() == ["22", "333", "1", "22", "333"]  # images 4..8
    sampled = DatasetSpec.build(count=3000, numbers=["1", "22", "333"], numbers_mode="sample", seed=1)
    drawn = draw_labels(sampled, 0, 3000, np.random.default_rng(0)).tolist()
    assert {drawn.count(n) for n in ("1", "22", "333")} != {1000}
    assert all(abs(drawn.count(n) - 1000) < 120 for n in ("1", "22", "333"))


def test_shard_bounds_and_seeds():
    spec = DatasetSpec.build(count=25, shard_size=10, seed=3)
    assert [shard_bounds(spec, k) for k in range(3)] == [(0, 10), (10, 20), (20, 25)]
    with pytest.raises(ValueError, match="0-2"):
        shard_bounds(spec, 3)
    seeds = {shard_seed(spec, k) for k in range(3)}
    assert len(seeds) == 3 and all(0 <= s < 2**63 for s in seeds)
    other = DatasetSpec.build(count=25, shard_size=10, seed=4)
    assert shard_seed(other, 0) not in seeds


def test_a_shard_depends_only_on_the_spec_and_its_index(generator):
    spec = DatasetSpec.build(count=30, shard_size=10, digits="2-4", seed=8, width_per_digit=20)
    a, b = make_shard(spec, 1, generator), make_shard(spec, 1, generator)
    assert np.array_equal(a.images, b.images) and np.array_equal(a.labels, b.labels)
    assert a.start == 10 and len(a) == 10
    assert a.labels.dtype == np.dtype("<U4") and a.boxes.shape == (10, 4, 4) and a.indices.shape == (10, 4)
    assert a.widths.tolist() == (a.lengths * 20).tolist()
    for i in range(len(a)):
        n = int(a.lengths[i])
        assert (a.boxes[i, n:] == -1).all() and (a.indices[i, n:] == -1).all()
        again = generator.generate(str(a.labels[i]), seed=int(a.seeds[i]), image_width=int(a.widths[i]))
        assert np.array_equal(again.image, a.image(i))
        assert [list(box)[1:] for box in again.boxes] == a.boxes[i, :n].tolist()
    c = make_shard(spec, 2, generator)
    assert not np.array_equal(a.labels, c.labels)


def test_differences_and_the_rebuild_command():
    a = DatasetSpec.build(count=100, digits="3-8", seed=1, fit="pad", width_per_digit=24, format="webdataset")
    b = DatasetSpec.build(count=200, digits="3-8", seed=2, fit="pad", width_per_digit=24, format="webdataset")
    assert differences(a, b) == ["count: 100 → 200", "seed: 1 → 2"]
    assert differences(a, b, ignore_seed=True) == ["count: 100 → 200"]
    command = rebuild_command(a, "out dir")
    assert command == (
        "hng dataset --count 100 --shard-size 10000 --digits 3-8 --spacing-min 5 --spacing-max 10 "
        "--width-per-digit 24 --fit pad --preset none --split train --seed 1 --format webdataset "
        "--out 'out dir'"
    )
