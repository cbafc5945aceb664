"""The one place hng imports albumentations from.

albumentations asks PyPI for a newer release when it is imported, unless NO_ALBUMENTATIONS_UPDATE is set:
a network call at import (and in every Lambda cold start) that hng never wants.
"""

import os

os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")

import albumentations as A

__all__ = ["A"]
