"""A contact sheet: a grid of generated images with their labels, to see at a glance what a dataset holds.

Each cell shows one image enlarged ``scale`` times by pixel repetition (nearest neighbour, so nothing is
smoothed or distorted), framed by a thin grey border that marks the image's true extent, with its label
printed under it on a dark grey strip. Cells are equal; narrower images sit at their cell's left edge.
Given the digits' boxes (and masks), the sheet is in colour: each digit's box is drawn just outside its
pixels in the digit's colour, and with masks each digit's ink is tinted that colour, so a box that
misses ink or a mask that strays shows at a glance. Images may be grey or RGB (hng's arrays: RGB order)
and of any height; the sheet is drawn with OpenCV, so a colour sheet is BGR, as ``encode_png`` takes it.
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
# BGR colours of digits 1, 2, ... (cycling), bright on black.
DIGIT_COLOURS = (
    (48, 59, 255), (89, 199, 52), (255, 122, 0), (0, 204, 255),
    (222, 82, 175), (0, 149, 255), (250, 200, 90), (85, 45, 255),
)  # fmt: skip


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
    boxes: np.ndarray | None = None,
    masks: np.ndarray | None = None,
) -> np.ndarray:
    """A 2-D uint8 grey grid of grey images, each labelled underneath; a (rows, columns, 3) BGR one of
    RGB images, or with ``boxes`` (N, L, 4) x0, y0, x1, y1 (rows past a label, or empty boxes, skipped)
    and optionally ``masks`` (N, height, W) label maps, drawn over the images.

    ``images`` is (N, height, W) grey or (N, height, W, 3) RGB uint8, padded: image i is
    ``images[i, :, :widths[i]]``. The sheet has ``min(columns, N)`` columns and ``ceil(N / columns)``
    rows of equal cells (``sheet_layout`` gives the geometry). Encode it with ``hng.core.png.encode_png``
    (which takes BGR).
    """
    if masks is not None and boxes is None:
        raise ValueError("masks are drawn with their boxes: give boxes too")
    images = np.asarray(images)
    rgb = images.ndim == 4 and images.shape[3] == 3
    if not (images.ndim == 3 or rgb) or images.dtype != np.uint8:
        raise ValueError(
            f"images must be (N, height, width) or (N, height, width, 3) uint8, got {images.shape} "
            f"{images.dtype}"
        )
    if not len(widths) == len(labels) == len(images):
        raise ValueError("widths and labels must have one entry per image")
    layout = sheet_layout(images.shape[1], widths, labels, columns=columns, scale=scale)
    sheet: np.ndarray = np.full(layout.shape, BACKGROUND, dtype=np.uint8)
    for i, (image, width, label) in enumerate(zip(images, widths, labels, strict=True)):
        width = int(width)
        if not 0 < width <= images.shape[2]:
            raise ValueError(f"widths[{i}] = {width} is outside 1..{images.shape[2]}")
        y, x = layout.cell_origin(i)
        framed_width = width * scale + 2 * BORDER
        sheet[y : y + layout.image_height + 2 * BORDER, x : x + framed_width] = BORDER_VALUE
        if not rgb:
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
    if rgb:
        # The frames, strips and labels are grey: the sheet turns BGR, then takes the images, RGB -> BGR.
        sheet = cv2.cvtColor(sheet, cv2.COLOR_GRAY2BGR)
        for i, width in enumerate(widths):
            width = int(width)
            iy, ix = layout.image_origin(i)
            scaled = np.repeat(np.repeat(images[i, :, :width, ::-1], scale, axis=0), scale, axis=1)
            sheet[iy : iy + layout.image_height, ix : ix + width * scale] = scaled
    if boxes is None:
        return sheet
    return _draw_labels(sheet, layout, images, widths, np.asarray(boxes), masks)


def _draw_labels(
    sheet: np.ndarray,
    layout: SheetLayout,
    images: np.ndarray,
    widths: Sequence[int] | np.ndarray,
    boxes: np.ndarray,
    masks: np.ndarray | None,
) -> np.ndarray:
    colour = sheet if sheet.ndim == 3 else cv2.cvtColor(sheet, cv2.COLOR_GRAY2BGR)
    scale = layout.scale
    palette = np.array(DIGIT_COLOURS, dtype=np.float32) / 255
    for i, width in enumerate(widths):
        width = int(width)
        iy, ix = layout.image_origin(i)
        if masks is not None:
            labels = np.repeat(np.repeat(masks[i, :, :width], scale, axis=0), scale, axis=1)
            ink = colour[iy : iy + layout.image_height, ix : ix + width * scale].astype(np.float32)
            tint = palette[(labels.astype(np.int64) - 1) % len(palette)]
            tinted = np.where(labels[..., None] > 0, _tint(ink, tint), ink)
            colour[iy : iy + layout.image_height, ix : ix + width * scale] = tinted.astype(np.uint8)
        for k, (x0, y0, x1, y1) in enumerate(boxes[i].tolist()):
            if x1 <= x0 or y1 <= y0:
                continue  # past the label, or a digit with no pixel left
            cv2.rectangle(
                colour,
                (ix + x0 * scale - 1, iy + y0 * scale - 1),
                (ix + x1 * scale, iy + y1 * scale),
                DIGIT_COLOURS[k % len(DIGIT_COLOURS)],
                1,
            )
    return colour


def _tint(ink: np.ndarray, tint: np.ndarray) -> np.ndarray:
    """An image's pixels (H, W, 3 float BGR) coloured by ``tint`` (H, W, 3 in [0, 1]) as much as they are
    ink. White ink on black (MNIST's look): the pixel times the tint, so the ink's brightness is kept.
    Ink on paper (a background that is not black: its most common grey value): the pixel moves from the
    paper's colour towards the tint's in proportion to its distance from the paper, the strongest ink
    reaching the tint's full colour."""
    grey = ink.mean(axis=2)
    paper = np.bincount(np.rint(grey).astype(np.int64).ravel(), minlength=256).argmax()
    if paper == 0:
        return ink * tint
    background = np.median(ink[np.rint(grey) == paper], axis=0)
    distance = np.abs(grey - paper)
    strength = (distance / max(float(distance.max()), 1.0))[..., None]
    return background + (tint * 255 - background) * strength
