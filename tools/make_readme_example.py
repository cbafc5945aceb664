"""Regenerate the README's pictures: `python tools/make_readme_example.py`.

docs/example.png: "2026" plain, with the mild preset, with the strong preset (width 140), then
"0123456789" at width 280, then "2026" in the ink and paper styles (the paper one tilted), each 28 rows
high. Each row is a real generated image (seeded), scaled 3x with nearest-neighbour.

docs/contact_sheet.png: the contact sheet `hng dataset` writes, of a small 3-8 digit `pad` dataset with
the mild preset and masks, in the ink style with the pen palette at 40 rows, tilted (made in a temporary
folder): each digit's box and mask in its colour.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import cv2
import numpy as np

import hng

DOCS = Path(__file__).resolve().parents[1] / "docs"
OUT = DOCS / "example.png"
SHEET = DOCS / "contact_sheet.png"
SCALE = 3


def main() -> None:
    rows = [
        hng.generate("2026", image_width=140, seed=2026).image,
        hng.generate("2026", image_width=140, seed=2026, augment="mild").image,
        hng.generate("2026", image_width=140, seed=2026, augment="strong").image,
        hng.generate("0123456789", image_width=280, seed=7).image,
        hng.generate("2026", image_width=140, seed=2026, style="ink").image,
        hng.generate("2026", image_width=140, seed=2026, style="paper", rotate=[3, 3]).image,
    ]
    rows = [row if row.ndim == 3 else np.repeat(row[..., None], 3, axis=2) for row in rows]
    width = max(row.shape[1] for row in rows)
    separator = np.full((2, width, 3), 96, dtype=np.uint8)
    padded = [np.pad(row, ((0, 0), (0, width - row.shape[1]), (0, 0))) for row in rows]
    sheet = np.vstack([part for row in padded for part in (row, separator)][:-1])
    big = cv2.resize(sheet, None, fx=SCALE, fy=SCALE, interpolation=cv2.INTER_NEAREST)
    OUT.parent.mkdir(exist_ok=True)
    OUT.write_bytes(hng.encode_png(cv2.cvtColor(big, cv2.COLOR_RGB2BGR)))
    print(OUT)

    folder = Path(tempfile.mkdtemp(prefix="hng-readme-"))
    try:
        spec = {"count": 2000, "shard_size": 1000, "digits": "3-8", "fit": "pad", "preset": "mild", "seed": 3}
        spec.update(masks=True, style="ink", ink="pens", height=40, rotate=3)
        hng.make_dataset(spec, folder / "dataset", workers=1)
        shutil.copyfile(folder / "dataset" / "contact_sheet.png", SHEET)
    finally:
        shutil.rmtree(folder)
    print(SHEET)


if __name__ == "__main__":
    main()
