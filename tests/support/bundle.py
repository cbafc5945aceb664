"""The container bundle's builder (tools/build_bundle.py) as a module; skip-or-fail without its tools."""

from __future__ import annotations

import importlib.util
import os
import sys
from types import ModuleType

import pytest

from tests.support.paths import REPO


def missing_prerequisite(what: str) -> None:
    """Skip locally, fail in CI: a Python 3.12, PyPI or the SAM CLI that the deploy tests need."""
    if os.environ.get("CI"):
        pytest.fail(f"{what} (required in CI)")
    pytest.skip(what)


def load_builder() -> ModuleType:
    spec = importlib.util.spec_from_file_location("build_bundle", REPO / "tools" / "build_bundle.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module
