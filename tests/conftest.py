"""Shared fixtures and the test tiers.

Fixtures: the committed MNIST sample (fast tests) and the full build; fake AWS credentials (`aws_env`).
The sample (tests/data/mnist_sample.npz) holds real MNIST digits: the first 100 training and 30 test
samples of each digit. Tests that need the full build take `full_mnist` or `full_generator` and carry the
`full_data` marker; without the build they are skipped locally and fail in CI (as
tests/mnist/test_data_fetch_full.py does).

Tiers (markers, registered in pyproject.toml): `make test-fast` runs everything but `slow`, `browser`,
`sam` and `network`; `make test` runs everything. Whole folders get their marker here, by path (below),
so a new test file lands in its folder's tier; a module of a mixed folder sets ``pytestmark``.

Hypothesis: the profile comes from HYPOTHESIS_PROFILE ("default" unless set; "fast" for fewer examples,
"ci" for more). Every profile is derandomized with no example database, so runs are reproducible.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

import hng
from tests.support.aws import fake_aws_environment
from tests.support.paths import REPO, SAMPLE_PATH

# --- Hypothesis profiles ---------------------------------------------------------------------------------
# Every @given test takes the profile's example count; one that deserves more or fewer asks for a multiple
# of it with tests.support.hypothesis.examples(n), never a fixed max_examples.
_COMMON = {
    "derandomize": True,
    "database": None,
    "deadline": None,
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large],
}
settings.register_profile("default", max_examples=100, **_COMMON)
settings.register_profile("fast", max_examples=20, **_COMMON)
settings.register_profile("ci", max_examples=500, **_COMMON)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

# --- tiers by path ---------------------------------------------------------------------------------------
# tests/<folder>: the markers every test under it gets.
FOLDER_MARKERS = {
    "browser": ("browser",),
    "deploy": ("sam",),
    "cli": ("slow",),  # every test runs `python -m hng.cli` as a subprocess
    "docs": ("slow",),  # mkdocs builds the whole site
}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    tests = Path(__file__).resolve().parent
    for item in items:
        try:
            folder = Path(item.path).resolve().relative_to(tests).parts[0]
        except ValueError:
            continue
        for name in FOLDER_MARKERS.get(folder, ()):
            item.add_marker(name)
        if item.get_closest_marker("full_data") is not None:
            item.add_marker("slow")  # the full build: a 55 MB load, and work sized for it


# --- fixtures --------------------------------------------------------------------------------------------


@pytest.fixture(scope="session", autouse=True)
def _private_cache(tmp_path_factory) -> None:
    """Tests (and the CLIs they start) cache into a folder of their own, never the user's ~/.cache."""
    os.environ["HNG_CACHE_DIR"] = str(tmp_path_factory.mktemp("hng-cache"))


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO


@pytest.fixture
def aws_env(monkeypatch) -> pytest.MonkeyPatch:
    """Fake AWS credentials and region; no endpoint, profile, session token or config from the machine."""
    fake_aws_environment(monkeypatch)
    return monkeypatch


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


@pytest.fixture(scope="module")
def hf_datasets(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Hugging Face ``datasets``, offline, with its home under tmp (imported once: it takes seconds)."""
    home = tmp_path_factory.mktemp("hf_home")
    with pytest.MonkeyPatch.context() as mp:
        for var in ("HF_DATASETS_OFFLINE", "HF_HUB_OFFLINE"):
            mp.setenv(var, "1")
        mp.setenv("HF_HOME", str(home))
        import datasets  # a dev dependency: missing, it should fail here, not skip

        mp.setattr(datasets.config, "HF_HUB_OFFLINE", True)  # in case another test imported it first
        yield datasets


@pytest.fixture(scope="module")
def hf_cache(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A cache folder for ``datasets.load_dataset`` (under tmp, one per test module)."""
    return str(tmp_path_factory.mktemp("hf_cache"))
