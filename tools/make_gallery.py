"""Regenerate the document-looks gallery of the docs: `python tools/make_gallery.py`.

docs/gallery/*.png: the same number, "2026" (seed 1, 48 rows high unless the row says otherwise), in
each style and geometry the documents guide shows, every image a real generated one; and
docs/gallery/boxes.png: a contact sheet of `paper` images with their digits' boxes and masks drawn, to
show that boxes and masks follow the ink through the style and the geometry. The background style inks
onto three sheets this script draws with OpenCV (lined, squared and a form), as a user's scans would be.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import cv2
import numpy as np

import hng
from hng.quality.contact_sheet import contact_sheet

DOCS = Path(__file__).resolve().parents[1] / "docs"
OUT = DOCS / "gallery"
NUMBER = "2026"
SEED = 1
WIDTH = 200  # at height 48
SCALE = 2  # the small images are shown enlarged (nearest neighbour)

# (file name, what the docs' table says, the options)
LOOKS: tuple[tuple[str, dict], ...] = (
    ("mnist", {"image_width": 140}),
    ("mnist-48", {"height": 48}),
    ("ink", {"style": "ink", "height": 48}),
    ("ink-blue", {"style": "ink", "ink": "blue", "height": 48}),
    ("paper", {"style": "paper", "height": 48}),
    ("paper-grey", {"style": "paper", "ink": "black", "height": 48}),
    ("paper-tilted", {"style": "paper", "height": 48, "rotate": [4, 4], "shear": [-8, -8]}),
    ("paper-perspective", {"style": "paper", "height": 48, "perspective": [0.08, 0.08]}),
    ("paper-elastic", {"style": "paper", "height": 48, "elastic": [2, 2]}),
    ("paper-strong", {"style": "paper", "height": 48, "augment": "strong", "rotate": 3}),
    ("stroke-natural", {"style": "ink", "height": 48, "seed": 11}),
    ("stroke-uniform", {"style": "ink", "height": 48, "seed": 11, "stroke": "uniform"}),
    ("background", {"style": "background", "height": 48}),
    ("paper-64", {"style": "paper", "height": 64, "rotate": 3}),
)


def draw_sheets(folder: Path) -> None:
    """Three paper sheets, as a user's scans of forms and notebooks would be (RGB PNGs)."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(5)
    lined = np.full((300, 600, 3), (246, 243, 232), np.uint8)
    for y in range(20, 300, 26):
        cv2.line(lined, (0, y), (599, y), (205, 170, 140), 1)
    cv2.line(lined, (60, 0), (60, 299), (120, 120, 220), 1)
    squared = np.full((300, 600, 3), (250, 250, 250), np.uint8)
    for step in range(0, 600, 16):
        cv2.line(squared, (step, 0), (step, 299), (200, 215, 235), 1)
        cv2.line(squared, (0, step), (599, step), (200, 215, 235), 1)
    form = np.full((300, 600, 3), (238, 240, 228), np.uint8)
    for y in range(30, 300, 60):
        cv2.rectangle(form, (20, y), (580, y + 44), (150, 150, 150), 1)
        cv2.putText(form, "Reading", (26, y + 12), cv2.FONT_HERSHEY_SIMPLEX, 0.3, (120, 120, 120), 1)
    for name, sheet in (("lined", lined), ("squared", squared), ("form", form)):
        grain = rng.normal(0, 3, sheet.shape[:2])[..., None]
        noisy = np.clip(sheet.astype(np.float32) + grain, 0, 255).astype(np.uint8)
        cv2.imwrite(str(folder / f"{name}.png"), cv2.cvtColor(noisy, cv2.COLOR_RGB2BGR))


def render(options: dict, backgrounds: Path) -> np.ndarray:
    options = dict(options)
    seed = options.pop("seed", SEED)
    if options.get("style") == "background":
        options["background"] = str(backgrounds)
    if "image_width" not in options:
        options["image_width"] = round(WIDTH * options.get("height", 28) / 48)
    image = hng.generate(NUMBER, seed=seed, **options).image
    big = cv2.resize(image, None, fx=SCALE, fy=SCALE, interpolation=cv2.INTER_NEAREST)
    return big if big.ndim == 3 else np.repeat(big[..., None], 3, axis=2)


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="hng-gallery-"))
    try:
        draw_sheets(folder / "sheets")
        for name, options in LOOKS:
            path = OUT / f"{name}.png"
            picture = render(options, folder / "sheets")
            path.write_bytes(hng.encode_png(cv2.cvtColor(picture, cv2.COLOR_RGB2BGR)))
            print(path)
        batch = hng.generate_batch(
            ["2026", "1984", "30917", "4452", "86", "700"],
            image_width=200,
            seed=SEED,
            style="paper",
            height=48,
            rotate=5,
            shear=6,
            masks=True,
        )
        longest = int(np.diff(batch.digit_offsets).max())
        boxes = np.full((len(batch), longest, 4), -1, np.int32)
        for i in range(len(batch)):
            rows = batch.boxes[batch.digit_offsets[i] : batch.digit_offsets[i + 1], 1:]
            boxes[i, : len(rows)] = rows
        sheet = contact_sheet(
            batch.images, batch.widths, batch.labels, columns=2, scale=2, boxes=boxes, masks=batch.masks
        )
        (OUT / "boxes.png").write_bytes(hng.encode_png(sheet))
        print(OUT / "boxes.png")
    finally:
        shutil.rmtree(folder)


if __name__ == "__main__":
    main()
