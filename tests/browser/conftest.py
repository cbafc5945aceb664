"""Pages in a real headless Chromium (selenium + Debian's chromium and chromium-driver), against `hng serve`.

`make test` installs the browser (the Makefile's `browser` target); without it these tests are skipped
locally and fail in CI, like the tests that need the full MNIST build. Helpers: tests/support/browser.py.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from hng.local import ServeProcess
from tests.support.browser import (
    CHROMEDRIVER_CANDIDATES,
    CHROMIUM_CANDIDATES,
    make_driver,
    missing_browser,
    which_binary,
)


@pytest.fixture(scope="session")
def served(full_mnist) -> Iterator[str]:
    """The base URL (ending in /) of `hng serve` with the real handler and its embedded S3."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_") and k != "HNG_BUCKET"}
    env["AWS_EC2_METADATA_DISABLED"] = "true"
    env.setdefault("HNG_MAX_DATASET_IMAGES", "5000")
    with ServeProcess(env=env) as proc:
        yield proc.url.rstrip("/") + "/"


@pytest.fixture(scope="session")
def browser_binaries() -> tuple[str, str]:
    chromium, driver = which_binary(CHROMIUM_CANDIDATES), which_binary(CHROMEDRIVER_CANDIDATES)
    if chromium is None or driver is None:
        missing_browser("chromium or chromedriver is not on PATH")
    try:
        import selenium  # noqa: F401
    except ImportError:
        missing_browser("selenium is not installed (the dev extra)")
    return chromium, driver


@pytest.fixture
def browser(browser_binaries) -> Iterator[Any]:
    """A fresh headless Chromium per test; console and network logs via `get_log`."""
    driver = make_driver(browser_binaries)
    try:
        yield driver
    finally:
        driver.quit()
