"""Make tests/data/mnist_sample.npz, the small real-MNIST sample committed for fast unit tests.

Takes the first 100 training and the first 30 test samples of each digit from the full build (kept in
their original order), and writes them deflated and deterministically (same input, same bytes).

    python tools/make_test_sample.py [--src layers/mnist/mnist/mnist.npz] [--out tests/data/mnist_sample.npz]
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # so the script runs from a checkout even when hng is not installed

from hng.mnist.locate import find_mnist_npz  # noqa: E402
from hng.mnist.npzfile import read_mnist_npz, write_mnist_npz  # noqa: E402

DEFAULT_OUT = ROOT / "tests" / "data" / "mnist_sample.npz"
PER_DIGIT = {"train": 100, "test": 30}


def first_per_digit(labels: np.ndarray, per_digit: int) -> np.ndarray:
    """Indices of the first `per_digit` samples of each digit, in ascending (original) order."""
    picked = [np.flatnonzero(labels == digit)[:per_digit] for digit in range(10)]
    short = [d for d, idx in enumerate(picked) if len(idx) < per_digit]
    if short:
        raise ValueError(f"fewer than {per_digit} samples of digit(s) {short}")
    return np.sort(np.concatenate(picked))


def make_sample(full: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    sample: dict[str, np.ndarray] = {}
    for split, per_digit in PER_DIGIT.items():
        index = first_per_digit(full[f"y_{split}"], per_digit)
        sample[f"x_{split}"] = full[f"x_{split}"][index]
        sample[f"y_{split}"] = full[f"y_{split}"][index]
    return sample


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--src", type=Path, default=None, help="full MNIST npz (default: as hng finds it)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"output (default: {DEFAULT_OUT})")
    args = parser.parse_args(argv)
    src = find_mnist_npz(args.src)
    sample = make_sample(read_mnist_npz(src))
    digest = write_mnist_npz(sample, args.out, strict=False, compress=True)
    size = os.path.getsize(args.out)
    counts = f"{len(sample['y_train'])} train + {len(sample['y_test'])} test"
    print(f"{args.out}: {counts}, {size} bytes, sha256 {digest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
