"""Where things are: the repository's root and the committed MNIST sample."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SAMPLE_PATH = REPO / "tests" / "data" / "mnist_sample.npz"
