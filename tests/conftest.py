"""Shared fixtures: the committed MNIST sample (fast unit tests) and the full build (integration tests).

The sample (tests/data/mnist_sample.npz) holds real MNIST digits: the first 100 training and 30 test
samples of each digit. Tests that need the full build take `full_mnist` or `full_generator` and carry the
`full_data` marker; without the build they are skipped locally and fail in CI (as
tests/integration/test_data_fetch_full.py does).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import hng

REPO = Path(__file__).resolve().parents[1]
SAMPLE_PATH = REPO / "tests" / "data" / "mnist_sample.npz"


@pytest.fixture(scope="session", autouse=True)
def _private_cache(tmp_path_factory) -> None:
    """Tests (and the CLIs they start) cache into a folder of their own, never the user's ~/.cache."""
    os.environ["HNG_CACHE_DIR"] = str(tmp_path_factory.mktemp("hng-cache"))


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO


@pytest.fixture(scope="session")
def sample_data() -> hng.MnistData:
    return hng.MnistData.from_npz(SAMPLE_PATH, strict=False)


@pytest.fixture(scope="session")
def generator(sample_data) -> hng.Generator:
    return hng.Generator(sample_data)


@pytest.fixture
def sample_default_generator(monkeypatch, generator) -> hng.Generator:
    """Make the process-wide default generator (hng.generate, hng.generator.*) use the sample data."""
    import hng.core.generation

    monkeypatch.setattr(hng.core.generation, "_default", generator)
    return generator


def _missing_full_data(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"the full MNIST build is missing in CI: {reason}")
    pytest.skip(f"the full MNIST build is missing: {reason}")


@pytest.fixture(scope="session")
def full_mnist() -> hng.MnistData:
    """The full build (layers/mnist/mnist/mnist.npz or wherever hng.load_mnist() finds it)."""
    try:
        data = hng.load_mnist()
    except FileNotFoundError as exc:
        _missing_full_data(str(exc))
    if (len(data.train), len(data.test)) != (60000, 10000):
        _missing_full_data(
            f"{data.path} holds {len(data.train)} + {len(data.test)} samples, not 60000 + 10000"
        )
    return data


@pytest.fixture(scope="session")
def full_generator(full_mnist) -> hng.Generator:
    return hng.Generator(full_mnist)
