"""MnistSplit's precomputed views of the data."""

from __future__ import annotations

import numpy as np


def test_column_bank_holds_every_column_of_every_image_and_a_blank_row(sample_data):
    for split in (sample_data.train, sample_data.test):  # 1,000 and 300 images: a partial last chunk
        bank = split.column_bank
        count = len(split)
        assert bank.shape == (count * 28 + 1, 28) and bank.dtype == np.uint8
        np.testing.assert_array_equal(bank[:-1].reshape(count, 28, 28), split.images.transpose(0, 2, 1))
        assert not bank[-1].any()
