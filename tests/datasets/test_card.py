"""The dataset card: YAML front matter the Hub reads, and a body that says how to make and load the data."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml

from hng.datasets.card import render_card, size_category

MNIST_SHA256 = "85264b9b2b9b6e1f2a4a4b5e7a5c6d3f0e9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b"
EXTENSIONS = {"npz": ".npz", "webdataset": ".tar", "imagefolder": ""}


def make_manifest(
    fmt: str = "webdataset", images: int = 100_000, shards: int = 10, split: str = "train"
) -> dict[str, Any]:
    """A manifest of the shape `hng dataset` writes (keys fixed)."""
    per_shard = max(images // shards, 1)
    return {
        "manifest_version": 1,
        "hng_version": "0.1.0",
        "created_at": "2026-11-26T12:00:00Z",
        "mnist": {"sha256": MNIST_SHA256, "split": split},
        "spec": {
            "count": images,
            "shard_size": per_shard,
            "digits": [3, 8],
            "numbers": None,
            "numbers_mode": "cycle",
            "spacing_min": 5,
            "spacing_max": 10,
            "image_width": None,
            "width_per_digit": 28,
            "fit": "pad",
            "preset": "none",
            "split": split,
            "seed": 12345,
            "format": fmt,
            "compress": False,
        },
        "command": f"hng dataset --count {images} --digits 3-8 --format {fmt} --seed 12345 --out DIR",
        "images": images,
        "shards": [
            {
                "index": k,
                "name": f"shard-{k:05d}{EXTENSIONS[fmt]}",
                "images": per_shard,
                "sha256": f"{k + 0xABC000:064x}",
                "bytes": 123456 + k,
                "label_lengths": {"3": per_shard // 2, "4": per_shard - per_shard // 2},
            }
            for k in range(shards)
        ],
        "report": {
            "images": images,
            "shards": shards,
            "seconds": 4.2,
            "images_per_second": images / 4.2,
            "label_lengths": {"3": images // 2, "4": images - images // 2, "10": 0},
            "digits": {str(d): images // 3 for d in range(10)},
            "duplicates": 0,
            "fidelity": {
                "digits": 2750,
                "read_as_label": 0.97,
                "numbers_read": 0.88,
                "per_digit": {str(d): 0.9 + d / 100 for d in range(10)},
                "blank_boxes": 1,
                "sample_images": 500,
            },
            "contact_sheet": "contact_sheet.png",
        },
    }


def front_matter(card: str) -> dict[str, Any]:
    assert card.startswith("---\n")
    header, _, _ = card[4:].partition("\n---\n")
    data = yaml.safe_load(header)
    assert isinstance(data, dict)
    return data


def body(card: str) -> str:
    return card[4:].partition("\n---\n")[2]


@pytest.mark.parametrize("fmt", ["npz", "webdataset", "imagefolder"])
def test_the_front_matter_parses_and_names_licence_task_and_tags(fmt):
    data = front_matter(render_card(make_manifest(fmt)))
    assert data["license"] == "cc-by-sa-3.0"
    assert data["task_categories"] == ["image-to-text"]
    assert set(data["tags"]) >= {"ocr", "mnist", "synthetic", "handwritten-digits"}
    assert data["size_categories"] == ["100K<n<1M"]
    assert data["pretty_name"] == "hng handwritten numbers: 100,000 images of 3-8 digits"


@pytest.mark.parametrize(
    ("count", "category"),
    [
        (1, "n<1K"),
        (999, "n<1K"),
        (1_000, "1K<n<10K"),
        (9_999, "1K<n<10K"),
        (10_000, "10K<n<100K"),
        (99_999, "10K<n<100K"),
        (100_000, "100K<n<1M"),
        (999_999, "100K<n<1M"),
        (1_000_000, "1M<n<10M"),
        (9_999_999, "1M<n<10M"),
        (10_000_000, "10M<n<100M"),
        (99_999_999, "10M<n<100M"),
        (100_000_000, "100M<n<1B"),
        (999_999_999, "100M<n<1B"),
        (1_000_000_000, "1B<n<10B"),
    ],
)
def test_size_category_at_the_boundaries(count, category):
    assert size_category(count) == category
    assert front_matter(render_card(make_manifest(images=count, shards=1)))["size_categories"] == [category]


def test_size_category_rejects_negative_counts():
    with pytest.raises(ValueError):
        size_category(-1)


@pytest.mark.parametrize(
    ("fmt", "split", "files"),
    [
        ("webdataset", "train", "shard-*.tar"),
        ("webdataset", "test", "shard-*.tar"),
        ("imagefolder", "train", "shard-*/*"),
        ("imagefolder", "test", "shard-*/*"),
    ],
)
def test_configs_point_the_hub_at_the_shards(fmt, split, files):
    data = front_matter(render_card(make_manifest(fmt, split=split)))
    assert data["configs"] == [{"config_name": "default", "data_files": [{"split": split, "path": files}]}]


def test_npz_has_no_configs_since_the_hub_has_no_loader_for_it():
    card = render_card(make_manifest("npz"))
    assert "configs" not in front_matter(card)
    assert 'np.load("shard-00000.npz", allow_pickle=False)' in card
    assert "load_dataset" not in card


def test_the_shard_pattern_follows_the_shard_names():
    manifest = make_manifest("webdataset", shards=3)
    for shard in manifest["shards"]:
        shard["name"] = shard["name"].replace("shard-", "part-")
    card = render_card(manifest)
    assert front_matter(card)["configs"][0]["data_files"][0]["path"] == "part-*.tar"
    assert 'wds.WebDataset("part-{00000..00002}.tar"' in card


def test_loading_snippets_per_format():
    webdataset = render_card(make_manifest("webdataset", split="test"))
    assert 'wds.WebDataset("shard-{00000..00009}.tar"' in webdataset
    assert 'load_dataset("path/to/dataset", split="test")' in webdataset
    imagefolder = render_card(make_manifest("imagefolder"))
    assert 'load_dataset("path/to/dataset", split="train")' in imagefolder
    assert "WebDataset" not in imagefolder


def test_the_command_provenance_and_spec_appear():
    manifest = make_manifest()
    text = body(render_card(manifest))
    assert f"```bash\n{manifest['command']}\n```" in text
    assert MNIST_SHA256 in text
    assert "LeCun" in text and "CC BY-SA 3.0" in text
    assert "hng 0.1.0" in text
    assert "| `seed` | `12345` |" in text
    assert "| `digits` | `[3, 8]` |" in text
    assert "| `image_width` | `null` |" in text


def test_a_command_with_backticks_keeps_its_fence():
    manifest = make_manifest()
    manifest["command"] = "hng dataset --out ```odd```"
    assert "````bash\nhng dataset --out ```odd```\n````" in render_card(manifest)


def test_the_report_figures_appear():
    text = body(render_card(make_manifest()))
    assert "100,000 images in 10 shards, made in 4.2 s (23,810 images/s)." in text
    assert "| 3 | 50,000 | 50.0% |" in text  # label lengths
    assert "| 10 | 0 | 0.0% |" in text
    assert "| 9 | 33,333 | 10.0% |" in text  # digits
    assert "Duplicate images: 0." in text
    assert "Of 2,750 digits, **97.0%** read as their label; **88.0%** of the images" in text
    assert "500 sampled images" in text
    assert "fitted on MNIST test digits" in text  # a train-split dataset is judged by test digits
    assert "| read as label | 90.0% | 91.0% |" in text
    assert "![contact sheet](contact_sheet.png)" in text


def test_a_test_split_dataset_is_judged_by_train_digits():
    assert "fitted on MNIST train digits" in render_card(make_manifest(split="test"))


def test_the_worker_count_is_given_when_known():
    manifest = make_manifest()
    manifest["report"]["workers"] = 2
    assert "made in 4.2 s (23,810 images/s) with 2 workers." in render_card(manifest)


def test_unmeasured_time_is_said_not_invented():
    manifest = make_manifest()
    manifest["report"]["seconds"] = None
    manifest["report"]["images_per_second"] = None
    text = render_card(manifest)
    assert "time not measured" in text
    assert "images/s" not in text


def test_at_most_twenty_shards_are_listed():
    manifest = make_manifest(shards=25)
    text = render_card(manifest)
    listed = [s for s in manifest["shards"] if s["sha256"] in text]
    assert [s["index"] for s in listed] == list(range(20))
    assert "| 19 | `shard-00019.tar` | 4,000 | 123,475 |" in text
    assert "shard-00020.tar" not in text
    assert "... 5 more in manifest.json" in text


def test_twenty_shards_or_fewer_are_all_listed():
    for count in (1, 20):
        manifest = make_manifest(shards=count)
        text = render_card(manifest)
        assert all(s["sha256"] in text for s in manifest["shards"])
        assert "more in manifest.json" not in text


def test_the_card_does_not_change_the_manifest():
    manifest = make_manifest()
    before = copy.deepcopy(manifest)
    render_card(manifest)
    assert manifest == before


def test_the_hub_reads_the_card():
    hub = pytest.importorskip("huggingface_hub")
    card = hub.DatasetCard(render_card(make_manifest("webdataset", images=5_000)))
    assert card.data.license == "cc-by-sa-3.0"
    assert card.data.size_categories == ["1K<n<10K"]
    assert card.data.task_categories == ["image-to-text"]
    assert card.data.configs[0]["data_files"] == [{"split": "train", "path": "shard-*.tar"}]
