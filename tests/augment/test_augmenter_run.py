"""The preset stages' runner draws each transform's probability itself and skips those that do not fire:
the same draws and the same pixels as calling every transform."""

from __future__ import annotations

import random

import numpy as np
import pytest

from hng.augment.albu import A
from hng.augment.augmenter import _run


def transforms() -> list:
    return [
        A.Rotate(limit=15, p=0.5),
        A.GaussNoise(std_range=(0.05, 0.1), p=0.0),  # never
        A.Blur(blur_limit=(3, 3), p=1.0),  # always: no draw
        A.RandomBrightnessContrast(p=0.3),
        A.OneOf([A.MedianBlur(blur_limit=(3, 3)), A.Emboss()], p=0.5),  # a Compose: called as it is
    ]


@pytest.mark.parametrize("seed", range(20))
def test_run_is_calling_every_transform(seed):
    image = np.zeros((40, 48), np.uint8)
    image[10:30, 15:30] = np.random.default_rng(seed).integers(0, 256, (20, 15), dtype=np.uint8)
    results = []
    for runner in (_run, _call_each):
        np_random, py_random = np.random.Generator(np.random.PCG64(seed)), random.Random(seed)
        stage = transforms()
        for transform in stage:
            transform.set_random_state(np_random, py_random)
        out = runner(stage, image=image.copy())["image"]
        results.append((out, py_random.random(), float(np_random.random())))
    (ours, *ours_after), (theirs, *theirs_after) = results
    np.testing.assert_array_equal(ours, theirs)
    assert ours_after == theirs_after  # the streams are left where they would be


def _call_each(stage: list, **data: np.ndarray) -> dict:
    for transform in stage:
        data = transform(**data)
    return data
