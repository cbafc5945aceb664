"""Regenerate docs/example.png, the picture in the README: `python tools/make_readme_example.py`.

Rows: "2026" plain, with the mild preset, with the strong preset (width 140), then "0123456789" at
width 280. Each row is a real generated image (seeded), scaled 3x with nearest-neighbour for viewing.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

import hng

OUT = Path(__file__).resolve().parents[1] / "docs" / "example.png"
SCALE = 3


def main() -> None:
    rows = [
        hng.generate("2026", image_width=140, seed=2026).image,
        hng.generate("2026", image_width=140, seed=2026, augment="mild").image,
        hng.generate("2026", image_width=140, seed=2026, augment="strong").image,
        hng.generate("0123456789", image_width=280, seed=7).image,
    ]
    width = max(row.shape[1] for row in rows)
    separator = np.full((2, width), 96, dtype=np.uint8)
    padded = [np.pad(row, ((0, 0), (0, width - row.shape[1]))) for row in rows]
    sheet = np.vstack([part for row in padded for part in (row, separator)][:-1])
    big = cv2.resize(sheet, None, fx=SCALE, fy=SCALE, interpolation=cv2.INTER_NEAREST)
    OUT.parent.mkdir(exist_ok=True)
    OUT.write_bytes(hng.encode_png(big))
    print(OUT)


if __name__ == "__main__":
    main()
