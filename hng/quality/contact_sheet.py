"""A contact sheet: a grid of generated images with their labels, to see at a glance what a dataset holds.

Each cell shows one image enlarged ``scale`` times by pixel repetition (nearest neighbour, so nothing is
smoothed or distorted), framed by a thin grey border that marks the image's true extent, with its label
printed under it on a dark grey strip. Cells are equal; narrower images sit at their cell's left edge.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

BACKGROUND = 24  # the sheet between cells: darker than the label strip, lighter than the images' black
BORDER_VALUE = 128  # the frame around each image
STRIP_VALUE = 56  # the label strip under each image
TEXT_VALUE = 255
MARGIN = 6  # pixels around and between cells
BORDER = 1  # frame thickness
STRIP = 20  # label strip height
FONT = cv2.FONT_HERSHEY_SIMPLEX
FONT_SCALE = 0.5
FONT_THICKNESS = 1
TEXT_PAD = 4  # pixels left of the label text


@dataclass(frozen=True)
class SheetLayout:
    """Where everything goes: ``columns`` × ``rows`` cells of ``cell_width`` × ``cell_height`` pixels."""

    columns: int
    rows: int
    cell_width: int
    cell_height: int
    image_height: int  # of a scaled image
    scale: int

    @property
    def shape(self) -> tuple[int, int]:
        return (
            MARGIN + self.rows * (self.cell_height + MARGIN),
            MARGIN + self.columns * (self.cell_width + MARGIN),
        )

    def cell_origin(self, i: int) -> tuple[int, int]:
        """(y, x) of cell i's top-left corner (its frame's outer corner)."""
        row, column = divmod(i, self.columns)
        return MARGIN + row * (self.cell_height + MARGIN), MARGIN + column * (self.cell_width + MARGIN)

    def image_origin(self, i: int) -> tuple[int, int]:
        """(y, x) of image i's scaled top-left pixel."""
        y, x = self.cell_origin(i)
        return y + BORDER, x + BORDER

    def strip_origin(self, i: int) -> tuple[int, int]:
        """(y, x) of the top-left corner of image i's label strip (``STRIP`` rows, the cell's width)."""
        y, x = self.cell_origin(i)
        return y + 2 * BORDER + self.image_height, x


def sheet_layout(
    height: int,
    widths: Sequence[int] | np.ndarray,
    labels: Sequence[str] | np.ndarray,
    *,
    columns: int,
    scale: int,
) -> SheetLayout:
    """The layout for images of ``height`` rows and these widths: cells fit the widest image and label."""
    count = len(widths)
    if count == 0:
        raise ValueError("a contact sheet needs at least one image")
    if columns < 1 or scale < 1:
        raise ValueError(f"columns and scale must be at least 1, got {columns} and {scale}")
    text = max(cv2.getTextSize(str(label), FONT, FONT_SCALE, FONT_THICKNESS)[0][0] for label in labels)
    columns = min(columns, count)
    return SheetLayout(
        columns=columns,
        rows=math.ceil(count / columns),
        cell_width=max(int(np.max(widths)) * scale + 2 * BORDER, text + 2 * TEXT_PAD),
        cell_height=height * scale + 2 * BORDER + STRIP,
        image_height=height * scale,
        scale=scale,
    )


def contact_sheet(
    images: np.ndarray,
    widths: Sequence[int] | np.ndarray,
    labels: Sequence[str] | np.ndarray,
    *,
    columns: int = 8,
    scale: int = 2,
) -> np.ndarray:
    """A 2-D uint8 grey grid of the images (white ink on black), each labelled underneath.

    ``images`` is (N, height, W) uint8, padded: image i is ``images[i, :, :widths[i]]``. The sheet has
    ``min(columns, N)`` columns and ``ceil(N / columns)`` rows of equal cells (``sheet_layout`` gives
    the geometry). Encode it with ``hng.core.png.encode_png``.
    """
    images = np.asarray(images)
    if images.ndim != 3 or images.dtype != np.uint8:
        raise ValueError(f"images must be (N, height, width) uint8, got {images.shape} {images.dtype}")
    if not len(widths) == len(labels) == len(images):
        raise ValueError("widths and labels must have one entry per image")
    layout = sheet_layout(images.shape[1], widths, labels, columns=columns, scale=scale)
    sheet = np.full(layout.shape, BACKGROUND, dtype=np.uint8)
    for i, (image, width, label) in enumerate(zip(images, widths, labels, strict=True)):
        width = int(width)
        if not 0 < width <= images.shape[2]:
            raise ValueError(f"widths[{i}] = {width} is outside 1..{images.shape[2]}")
        y, x = layout.cell_origin(i)
        framed_width = width * scale + 2 * BORDER
        sheet[y : y + layout.image_height + 2 * BORDER, x : x + framed_width] = BORDER_VALUE
        scaled = np.repeat(np.repeat(image[:, :width], scale, axis=0), scale, axis=1)
        iy, ix = layout.image_origin(i)
        sheet[iy : iy + layout.image_height, ix : ix + width * scale] = scaled
        sy, sx = layout.strip_origin(i)
        sheet[sy : sy + STRIP, sx : sx + layout.cell_width] = STRIP_VALUE
        (_, text_height), _ = cv2.getTextSize(str(label), FONT, FONT_SCALE, FONT_THICKNESS)
        text_y = sy + (STRIP + text_height) // 2  # the baseline: digits, which have no descenders, centred
        cv2.putText(
            sheet,
            str(label),
            (sx + TEXT_PAD, text_y),
            FONT,
            FONT_SCALE,
            TEXT_VALUE,
            FONT_THICKNESS,
            cv2.LINE_AA,
        )
    return sheet
