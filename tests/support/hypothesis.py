"""Example counts relative to the Hypothesis profile (registered in tests/conftest.py, HYPOTHESIS_PROFILE).

A property whose inputs deserve more (or fewer) cases than the profile's count asks for a multiple of it,
so that every profile scales the whole suite alike: ``@examples(25)`` is 2,500 cases under "default"
(100), 500 under "fast" (20) and 12,500 under "ci" (500).
"""

from __future__ import annotations

from hypothesis import settings


def examples(relative: float = 1.0) -> settings:
    """The loaded profile's settings with ``relative`` times its max_examples (at least one)."""
    return settings(max_examples=max(1, round(settings.default.max_examples * relative)))
