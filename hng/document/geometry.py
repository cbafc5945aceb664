"""Placing the composed strip on the output canvas: scaled to the output height, with whole-image geometry
(rotation, shear, perspective, a small elastic warp) in one resampling pass, every digit's mask carried.

Coordinates. A transform maps strip pixels to output pixels. ``Transform.matrix`` works on pixel centres
(pixel ``(i, j)`` at ``x = j, y = i``), OpenCV's convention, so it can be handed to ``cv2.warpAffine`` or
``cv2.warpPerspective`` as is. The strip's rectangle (28 x W0) maps onto the output's (height x width),
``sx = width / W0`` and ``sy = height / 28``, as ``cv2.resize`` places it; the geometry then acts about the
centre of the ink's bounding box, in output pixels (y down):

- ``rotate`` (degrees): positive turns the number counter-clockwise as seen on screen.
- ``shear`` (degrees): positive slants it to the right (its top moves right, as italics do).
- ``perspective`` (fraction of the height): each corner of the canvas moves by up to this fraction of the
  height in x and in y; the homography through those corners is re-centred so that the ink's centre stays.
- ``elastic`` (output pixels): a smooth random displacement field (random values on a grid of about one
  cell per digit height, cubic-interpolated), scaled so that its largest component is the amplitude drawn.

Nothing is clipped. After drawing the geometry, the ink's bounds are transformed (exactly for rotation,
shear and perspective, as the bounds of the warped corners; padded by the elastic amplitude, by half a
pixel when supersampling, and by a 20th of a pixel for OpenCV's fixed-point positions). They must stay
inside the canvas minus a margin of 4 pixels at MNIST scale (``4 * height / 28``), widened on any side
where the unwarped ink already reaches further (so a slight turn never shrinks a number whose ink touches
the strip's edge). If they do not, the number is shrunk about the ink's centre just enough to fit, then
moved the least distance that brings it inside: it stays centred where it was as far as possible. Columns
without ink (``fit=pad``'s black columns) take no part in this. A long number turned far in a low canvas
shrinks accordingly; below a tenth of its size a digit can round away to nothing (its box is then
(0, 0, 0, 0)).

Sampling (``Transform.sampling``). Bilinear (``INTER_LINEAR``): unlike cubic it never rings, so the ink's
support stays tight. When the number ends up smaller than ``SUPERSAMPLE_BELOW`` times its MNIST size
(heights below 22, or a long number shrunk to fit a rotation), bilinear sampling at the output's spacing
skips source pixels: MNIST's 2-3 pixel strokes turn to beads and dots. Then a plain scale is one
``INTER_AREA`` resize (each output pixel the average of the area it covers: the strip's own rule for
squeezing, ``hng.core.compose``), and a geometric warp samples a k-times finer grid (k = ceil(1 / scale),
at most 4: at least one sample per source pixel) that is averaged k x k. Measured on real numbers at
heights 12-36 against a 4x supersampled reference, the error (summed absolute difference over the ink)
drops from 13-54 % with plain bilinear sampling to 3-10 % (k = 2) and 1-5 % (k = 3); area-reducing each
layer first and warping that (a prefilter) was worse than plain bilinear under rotation (18-62 %): two
interpolations blur twice.

Masks are exact. A pixel belongs to the digit contributing the most ink to it (its source pixels times
their interpolation weights); a tie goes to the lower k (the digit on the left). The mask is non-zero
exactly where the image is, and each box is the tight bounds of its label. With bilinear sampling the
whole strip is resampled once (``cv2.resize``, or ``cv2.remap`` for a warp) and each output pixel's owner is
read from the 2 x 2 source pixels it interpolates: one label among them decides it; where two digits meet,
their contributions are summed from the same taps and weights and compared. Otherwise (area and
supersampled sampling) each digit's layer (the image where the mask is k) is resampled alone over only
the output rectangle it can reach, the image is the saturating sum of the layers, and the strongest layer
owns each pixel.

Determinism: every draw comes from the ``rng`` given, 12 uniforms per image (then the elastic grid, when
there is one); identity geometry draws nothing.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

import cv2
import numpy as np

from hng.core.compose import HEIGHT
from hng.errors import InvalidInput, InvalidType

MARGIN = 4.0  # MNIST-scale pixels between the warped ink and the canvas edge
SUPERSAMPLE_BELOW = 0.8  # final scale (output pixels per strip pixel) below which bilinear sampling aliases
MAX_COUNT = 127  # digits per strip: the label keeps bit 7 free for the ambiguity flag
_MAX_SUPERSAMPLE = 4
_ROI_PAD = 2  # output pixels around a layer's mapped box: interpolation support and fixed-point rounding
_ELASTIC_CELL = 28.0  # strip pixels per cell of the elastic grid (one MNIST digit height)
_AMBIGUOUS = 128  # flag in a tap-block key: the block holds pixels of two digits or more
_LIMITS = {
    "rotate": (-180.0, 180.0),
    "shear": (-45.0, 45.0),
    "perspective": (0.0, 0.25),
    "elastic": (0.0, 64.0),
}
# label_boxes gives each label a bit: the narrowest type with as many bits as labels.
_BIT_TYPES = ((np.uint8, 8), (np.uint16, 16), (np.uint32, 32), (np.uint64, 64))
_DRAWS = 12  # uniforms per image: rotate, shear, perspective strength, elastic amplitude, 8 corner offsets

Box = tuple[int, int, int, int]
Sampling = Literal["resize", "area", "warp", "supersample"]


@dataclass(frozen=True, slots=True)
class Geometry:
    """Ranges the whole-image geometry is drawn from, uniformly; see the module docstring for the units."""

    rotate: tuple[float, float] = (0.0, 0.0)  # degrees; positive = counter-clockwise
    shear: tuple[float, float] = (0.0, 0.0)  # degrees of horizontal shear; positive = slanted right
    perspective: tuple[float, float] = (0.0, 0.0)  # each corner moved by up to this fraction of the height
    elastic: tuple[float, float] = (0.0, 0.0)  # elastic displacement amplitude in output pixels

    def __post_init__(self) -> None:
        for name, (minimum, maximum) in _LIMITS.items():
            value = getattr(self, name)
            if (
                not isinstance(value, tuple | list)
                or len(value) != 2
                or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
            ):
                raise InvalidType(name, f"{name} must be a (low, high) pair of numbers, got {value!r}")
            low, high = float(value[0]), float(value[1])
            if not (math.isfinite(low) and math.isfinite(high)):
                raise InvalidInput(name, f"{name} must be finite, got {value!r}")
            if low > high:
                raise InvalidInput(name, f"{name} must have low <= high, got {value!r}")
            if low < minimum or high > maximum:
                raise InvalidInput(name, f"{name} must lie within [{minimum:g}, {maximum:g}], got {value!r}")
            object.__setattr__(self, name, (low, high))

    @property
    def is_identity(self) -> bool:
        """True when every range is (0, 0): nothing to draw, nothing moves."""
        zero = (0.0, 0.0)
        return (
            self.rotate == zero and self.shear == zero and self.perspective == zero and self.elastic == zero
        )


@dataclass(frozen=True, slots=True, eq=False)
class Transform:
    """One drawn placement of a strip on the canvas (``draw_transform``).

    ``matrix`` (3 x 3) maps strip pixel centres to output pixel centres (a homography when its last row is
    not (0, 0, 1)); ``inverse`` is its inverse. ``displacement`` (height, width, 2) float32, or None:
    output pixel p shows what ``matrix`` puts at ``p + displacement[p]``. ``shrink``: the factor the fit
    rule applied (1 = none). ``reach`` (x0, y0, x1, y1): the output pixels the ink can reach.
    ``sampling``: "resize" (a plain scale, ``cv2.resize`` bilinear), "area" (a plain scale below
    ``SUPERSAMPLE_BELOW``, ``INTER_AREA``), "warp" (bilinear ``cv2.remap``) or "supersample" (bilinear on a
    grid ``supersample`` times finer, then ``INTER_AREA`` back).
    """

    matrix: np.ndarray
    inverse: np.ndarray
    displacement: np.ndarray | None
    size: tuple[int, int]
    source_shape: tuple[int, int]
    shrink: float
    reach: Box
    sampling: Sampling
    supersample: int = 1

    @property
    def work_size(self) -> tuple[int, int]:
        """(rows, columns) of the grid that is sampled: the output's, times ``supersample``."""
        return self.size[0] * self.supersample, self.size[1] * self.supersample

    @property
    def work_matrix(self) -> np.ndarray:
        """``matrix`` onto the sampled grid: a fine pixel's centre is ``k (x + 0.5) - 0.5``."""
        k = self.supersample
        if k == 1:
            return self.matrix
        return np.array([[k, 0.0, (k - 1) / 2], [0.0, k, (k - 1) / 2], [0.0, 0.0, 1.0]]) @ self.matrix

    def work_displacement(self) -> np.ndarray | None:
        """``displacement`` on the sampled grid, in its pixels (bilinear, times ``supersample``)."""
        k = self.supersample
        if self.displacement is None or k == 1:
            return self.displacement
        rows, columns = self.work_size
        return cv2.resize(self.displacement, (columns, rows), interpolation=cv2.INTER_LINEAR) * np.float32(k)

    def source_map(self, window: Box | None = None) -> np.ndarray:
        """(rows, columns, 2) float32: the strip point each pixel of the sampled grid (``work_size``) reads,
        for ``cv2.remap``; over ``window`` (x0, y0, x1, y1) of that grid only, if given."""
        map_x, map_y = self._maps(window)
        return np.dstack([map_x, map_y]) if map_y is not None else map_x

    def _maps(self, window: Box | None) -> tuple[np.ndarray, np.ndarray | None]:
        """``source_map`` the cheapest way: one (h, w, 2) map for an affine matrix (``cv2.transform``),
        x and y maps for a homography (numpy: ``cv2.perspectiveTransform`` costs as much again)."""
        rows, columns = self.work_size
        x0, y0, x1, y1 = window or (0, 0, columns, rows)
        inverse = self.inverse if self.supersample == 1 else np.linalg.inv(self.work_matrix)
        displacement = self.work_displacement()
        points = _centres(rows, columns)[y0:y1, x0:x1]
        if inverse[2, 0] == 0 and inverse[2, 1] == 0:
            if displacement is not None:
                points = points + displacement[y0:y1, x0:x1]
            return cv2.transform(points, inverse[:2] / inverse[2, 2]), None
        (a, b, c), (d, e, f), (g, h, i) = inverse.astype(np.float32)
        if displacement is None:
            xs, ys = points[:1, :, 0], points[:, :1, 1]  # a row of x and a column of y: outer sums
        else:
            xs, ys = (
                points[..., 0] + displacement[y0:y1, x0:x1, 0],
                points[..., 1] + displacement[y0:y1, x0:x1, 1],
            )
        w = np.reciprocal(xs * g + (ys * h + i))
        map_x = xs * a + (ys * b + c)
        map_x *= w
        map_y = xs * d + (ys * e + f)
        map_y *= w
        return map_x, map_y


@functools.lru_cache(maxsize=16)
def _centres(rows: int, columns: int) -> np.ndarray:
    """(rows, columns, 2) float32 pixel centres (x, y); read-only, shared."""
    grid = np.empty((rows, columns, 2), dtype=np.float32)
    grid[..., 0] = np.arange(columns, dtype=np.float32)
    grid[..., 1] = np.arange(rows, dtype=np.float32)[:, None]
    grid.flags.writeable = False
    return grid


# 3 x 3 matrices as row-major 9-tuples while drawing: plain float products cost a fraction of as many
# numpy calls on tiny arrays.
_Matrix = tuple[float, float, float, float, float, float, float, float, float]


def _mul(p: _Matrix, q: _Matrix) -> _Matrix:
    a, b, c, d, e, f, g, h, i = p
    j, k, l, m, n, o, r, s, t = q  # noqa: E741
    return (
        a * j + b * m + c * r,
        a * k + b * n + c * s,
        a * l + b * o + c * t,
        d * j + e * m + f * r,
        d * k + e * n + f * s,
        d * l + e * o + f * t,
        g * j + h * m + i * r,
        g * k + h * n + i * s,
        g * l + h * o + i * t,
    )


def _inverse(p: _Matrix) -> _Matrix:
    """The inverse by the adjugate (``np.linalg.inv`` costs several microseconds on a 3 x 3)."""
    a, b, c, d, e, f, g, h, i = p
    ei_fh, fg_di, dh_eg = e * i - f * h, f * g - d * i, d * h - e * g
    det = a * ei_fh + b * fg_di + c * dh_eg
    if g == 0 and h == 0:  # affine: keep the last row exactly (0, 0, 1)
        return (
            e / det * i,
            -b / det * i,
            (b * f - c * e) / det,
            -d / det * i,
            a / det * i,
            (c * d - a * f) / det,
            0.0,
            0.0,
            1.0,
        )
    return (
        ei_fh / det,
        (c * h - b * i) / det,
        (b * f - c * e) / det,
        fg_di / det,
        (a * i - c * g) / det,
        (c * d - a * f) / det,
        dh_eg / det,
        (b * g - a * h) / det,
        (a * e - b * d) / det,
    )


def _point(m: _Matrix, x: float, y: float) -> tuple[float, float]:
    w = m[6] * x + m[7] * y + m[8]
    return (m[0] * x + m[1] * y + m[2]) / w, (m[3] * x + m[4] * y + m[5]) / w


def _square_to_quad(quad: list[tuple[float, float]]) -> _Matrix:
    """The homography taking the unit square's corners (0,0), (1,0), (1,1), (0,1) to ``quad``'s, in
    closed form (Heckbert 1989); ``cv2.getPerspectiveTransform`` solves a system and costs 40 µs."""
    (x0, y0), (x1, y1), (x2, y2), (x3, y3) = quad
    sx, sy = x0 - x1 + x2 - x3, y0 - y1 + y2 - y3
    dx1, dx2, dy1, dy2 = x1 - x2, x3 - x2, y1 - y2, y3 - y2
    den = dx1 * dy2 - dx2 * dy1
    g, h = (sx * dy2 - dx2 * sy) / den, (dx1 * sy - sx * dy1) / den
    return (x1 - x0 + g * x1, x3 - x0 + h * x3, x0, y1 - y0 + g * y1, y3 - y0 + h * y3, y0, g, h, 1.0)


def _fit_shift(
    low: float, high: float, centre: float, limits: tuple[float, float], f: float, e: float
) -> float:
    """The least shift bringing [low, high], shrunk by ``f`` about ``centre`` and padded by ``e``, inside
    ``limits`` (a rounding error's worth outside counts as inside)."""
    low, high = centre + f * (low - centre) - e, centre + f * (high - centre) + e
    if low < limits[0] - 1e-9:
        return limits[0] - low
    if high > limits[1] + 1e-9:
        return limits[1] - high
    return 0.0


def _fit(
    bx0: float,
    by0: float,
    bx1: float,
    by1: float,
    cx: float,
    cy: float,
    limits_x: tuple[float, float],
    limits_y: tuple[float, float],
    spread: float,
) -> tuple[float, float, float]:
    """The shrink about (cx, cy) and the least shift that bring the bounds, padded by ``spread``, inside
    the limits: (f, tx, ty); f is 0 when the padding alone leaves no room."""
    room_x = limits_x[1] - limits_x[0] - 2 * spread
    room_y = limits_y[1] - limits_y[0] - 2 * spread
    if room_x <= 0 or room_y <= 0:
        return 0.0, 0.0, 0.0
    f = min(1.0, room_x / max(bx1 - bx0, 1e-9), room_y / max(by1 - by0, 1e-9))
    return f, _fit_shift(bx0, bx1, cx, limits_x, f, spread), _fit_shift(by0, by1, cy, limits_y, f, spread)


def draw_transform(
    image: np.ndarray, size: tuple[int, int], geometry: Geometry, rng: np.random.Generator | None
) -> Transform:
    """The placement ``place`` draws for the strip ``image`` on a canvas of ``size`` = (height, width):
    the same generator state gives the same transform. Exposed so that tests can warp layers themselves."""
    x, y, w, h = cv2.boundingRect(image)
    if w == 0:
        raise InvalidInput("image", "image has no ink to place")
    if geometry.is_identity:
        return _scale_only(image.shape[0], image.shape[1], size[0], size[1])
    return _draw((x, y, x + w, y + h), (image.shape[0], image.shape[1]), size, geometry, rng)


def _draw(
    ink: Box,
    source_shape: tuple[int, int],
    size: tuple[int, int],
    geometry: Geometry,
    rng: np.random.Generator | None,
) -> Transform:
    """The transform for a strip whose ink spans ``ink`` (x0, y0, x1, y1); see the module docstring."""
    height, width = size
    rows, columns = source_shape
    sx, sy = width / columns, height / rows
    # Pixel-edge coordinates here (pixel j covers [j, j + 1)), where the scale is a plain product.
    # Bilinear sampling spreads ink half a strip pixel beyond the outermost ink pixels' edges.
    ex0, ey0, ex1, ey1 = ink[0] - 0.5, ink[1] - 0.5, ink[2] + 0.5, ink[3] + 0.5
    x0, y0, x1, y1 = sx * ex0, sy * ey0, sx * ex1, sy * ey1  # the ink, scaled
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    m: _Matrix = (sx, 0.0, 0.0, 0.0, sy, 0.0, 0.0, 0.0, 1.0)

    if geometry.is_identity:
        draws = [0.0] * _DRAWS
    else:
        if rng is None:
            raise InvalidInput("rng", "a generator is required when the geometry is not the identity")
        draws = rng.random(_DRAWS).tolist()
    (r0, r1), (s0, s1), (p0, p1), (e0, e1) = (
        geometry.rotate,
        geometry.shear,
        geometry.perspective,
        geometry.elastic,
    )
    angle, shear = r0 + (r1 - r0) * draws[0], s0 + (s1 - s0) * draws[1]
    strength, e = p0 + (p1 - p0) * draws[2], e0 + (e1 - e0) * draws[3]
    if angle or shear:
        cos, sin = math.cos(math.radians(angle)), math.sin(math.radians(angle))
        slant = -math.tan(math.radians(shear))  # y points down: the top (smaller y) moves right
        # The slant, then the rotation (counter-clockwise on screen takes +x towards -y), about the centre.
        a, b, d, e_ = cos, cos * slant + sin, -sin, -sin * slant + cos
        linear: _Matrix = (a, b, cx - a * cx - b * cy, d, e_, cy - d * cx - e_ * cy, 0.0, 0.0, 1.0)
        m = _mul(linear, m)
    if strength:
        reach = strength * height
        quad = [
            (x + (2 * draws[4 + 2 * n] - 1) * reach, y + (2 * draws[5 + 2 * n] - 1) * reach)
            for n, (x, y) in enumerate(((0, 0), (width, 0), (width, height), (0, height)))
        ]
        perspective = _mul(_square_to_quad(quad), (1 / width, 0.0, 0.0, 0.0, 1 / height, 0.0, 0.0, 0.0, 1.0))
        px, py = _point(perspective, cx, cy)
        recentre: _Matrix = (1.0, 0.0, cx - px, 0.0, 1.0, cy - py, 0.0, 0.0, 1.0)
        m = _mul(_mul(recentre, perspective), m)

    # The warped ink's bounds: a homography takes the ink's box to a convex quadrilateral.
    (ax, ay), (bx, by), (qx, qy), (dx, dy) = (
        _point(m, ex0, ey0),
        _point(m, ex1, ey0),
        _point(m, ex1, ey1),
        _point(m, ex0, ey1),
    )
    bx0, bx1, by0, by1 = min(ax, bx, qx, dx), max(ax, bx, qx, dx), min(ay, by, qy, dy), max(ay, by, qy, dy)
    # Allowed: the canvas minus the margin, widened where the unwarped ink already reaches further.
    margin = MARGIN * height / HEIGHT
    limits_x = (min(margin, x0), max(width - margin, x1))
    limits_y = (min(margin, y0), max(height - margin, y1))
    plain = not (angle or shear or strength or e)
    # Beyond the warped bounds: the elastic amplitude, and a 20th of a pixel for OpenCV's fixed-point
    # sampling positions (1/32 pixel).
    spread = 0.0 if plain else e + 0.05
    f, tx, ty = _fit(bx0, by0, bx1, by1, cx, cy, limits_x, limits_y, spread)
    if not plain and max(sx, sy) * f < SUPERSAMPLE_BELOW:
        # Supersampled, an output pixel shows ink when any of its k x k samples does: up to half a
        # pixel beyond the bounds that its centre alone would see.
        f, tx, ty = _fit(bx0, by0, bx1, by1, cx, cy, limits_x, limits_y, spread + 0.5)
    if f <= 0:
        raise InvalidInput(
            "elastic", f"an elastic amplitude of {e:g} pixels leaves no room on a {width}x{height} canvas"
        )
    if f < 1.0 or tx or ty:
        m = _mul((f, 0.0, cx + tx - f * cx, 0.0, f, cy + ty - f * cy, 0.0, 0.0, 1.0), m)
        bx0, bx1 = cx + tx + f * (bx0 - cx), cx + tx + f * (bx1 - cx)
        by0, by1 = cy + ty + f * (by0 - cy), cy + ty + f * (by1 - cy)

    displacement = None
    if e > 0:
        if rng is None:
            raise AssertionError("hng bug: rng is unset")
        cell = _ELASTIC_CELL * sy * f  # about one digit height on the output
        grid = rng.random((math.ceil(height / cell) + 1, math.ceil(width / cell) + 1, 2), dtype=np.float32)
        field = cv2.resize(2 * grid - 1, (width, height), interpolation=cv2.INTER_CUBIC)
        peak = cv2.norm(field, cv2.NORM_INF)
        if peak > 0:
            displacement = field * np.float32(e / peak)

    # The pixels the ink can reach (edges; a pixel's worth more for fixed-point rounding), on the canvas.
    pad = e + 1.0  # the elastic amplitude, and a pixel for rounding and supersampling
    reach_box = (
        max(0, math.floor(bx0 - pad)),
        max(0, math.floor(by0 - pad)),
        min(width, math.ceil(bx1 + pad)),
        min(height, math.ceil(by1 + pad)),
    )
    scale = max(sx, sy) * f
    sampling: Sampling
    supersample = 1
    if scale >= SUPERSAMPLE_BELOW:
        sampling = "resize" if plain else "warp"
    elif plain:
        sampling = "area"
    else:
        sampling = "supersample"
        supersample = min(_MAX_SUPERSAMPLE, math.ceil(1 / scale))
    # Edges to centres on both sides: centre = edge - 0.5, so M becomes T(-0.5) M T(0.5).
    a, b, c, d, e_, f_, g, h, i = m
    u, v, w = (g + h) / 2 + i, (a + b) / 2 + c, (d + e_) / 2 + f_
    m = (a - g / 2, b - h / 2, v - u / 2, d - g / 2, e_ - h / 2, w - u / 2, g, h, u)
    matrix = np.array(m).reshape(3, 3)
    inverse = np.array(_inverse(m)).reshape(3, 3)
    for array in (matrix, inverse) if displacement is None else (matrix, inverse, displacement):
        array.flags.writeable = False  # the identity's transform is cached and shared
    return Transform(
        matrix, inverse, displacement, (height, width), (rows, columns), f, reach_box, sampling, supersample
    )


@functools.lru_cache(maxsize=32)
def _scale_only(rows: int, columns: int, height: int, width: int) -> Transform:
    """The identity geometry's transform: a plain scale, which depends on the sizes only."""
    return _draw((0, 0, columns, rows), (rows, columns), (height, width), Geometry(), None)


@dataclass(frozen=True, slots=True)
class _ResizeTaps:
    """Where ``cv2.resize`` (bilinear) samples: per output row and column, the first source tap (clamped as
    OpenCV clamps at the borders) and the second tap's weight; ``keys``, each output pixel's index into
    the flattened ``_block_keys``."""

    y0: np.ndarray
    fy: np.ndarray
    x0: np.ndarray
    fx: np.ndarray
    keys: np.ndarray


def _linear_taps(source: int, output: int) -> tuple[np.ndarray, np.ndarray]:
    x = (np.arange(output) + 0.5) * (source / output) - 0.5
    first = np.floor(x)
    fraction = x - first
    clamped = (first < 0) | (first >= source - 1)
    first = np.clip(first, 0, source - 1).astype(np.intp)
    fraction[clamped] = 0.0
    return first, fraction


@functools.lru_cache(maxsize=32)
def _resize_taps(rows: int, columns: int, height: int, width: int) -> _ResizeTaps:
    y0, fy = _linear_taps(rows, height)
    x0, fx = _linear_taps(columns, width)
    keys = (y0 + 1)[:, None] * (columns + 1) + (x0 + 1)[None, :]
    for array in (y0, fy, x0, fx, keys):
        array.flags.writeable = False
    return _ResizeTaps(y0, fy, x0, fx, keys)


def _check(
    image: np.ndarray, mask: np.ndarray, count: int, size: tuple[int, int], geometry: Geometry
) -> None:
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.shape[:1] != (HEIGHT,):
        raise InvalidInput("image", f"image must be a ({HEIGHT}, W) uint8 array")
    if image.ndim != 2:
        raise InvalidInput("image", f"image must be a ({HEIGHT}, W) uint8 array, got shape {image.shape}")
    if not isinstance(mask, np.ndarray) or mask.dtype != np.uint8 or mask.shape != image.shape:
        raise InvalidInput("mask", f"mask must be a uint8 array of the image's shape {image.shape}")
    if not isinstance(count, int) or not 1 <= count <= MAX_COUNT:
        raise InvalidInput("count", f"count must be an int in [1, {MAX_COUNT}], got {count!r}")
    if not (isinstance(size, tuple) and len(size) == 2 and all(isinstance(v, int) and v >= 1 for v in size)):
        raise InvalidInput("size", f"size must be a (height, width) pair of positive ints, got {size!r}")
    if not isinstance(geometry, Geometry):
        raise InvalidType("geometry", f"geometry must be a Geometry, got {type(geometry).__name__}")


def _label_boxes(mask: np.ndarray, count: int, dx: int = 0, dy: int = 0) -> list[Box]:
    """Each label's tight box in ``mask``, moved by (dx, dy); (0, 0, 0, 0) for a label without pixels.
    (One image: a bounding rectangle per label costs less than ``label_boxes``' fixed passes.)"""
    boxes: list[Box] = []
    for k in range(1, count + 1):
        x0, y0, x1, y1 = _bounding_box(mask == k)
        boxes.append((x0 + dx, y0 + dy, x1 + dx, y1 + dy) if x1 > x0 else (0, 0, 0, 0))
    return boxes


def label_boxes(masks: np.ndarray, count: int) -> np.ndarray:
    """(N, count, 4) int32: each label 1..``count``'s tight box (x0, y0, x1, y1) in each of ``masks``
    (N, H, W) uint8; (0, 0, 0, 0) for a label without pixels.

    A box's columns are exactly the columns holding its label and its rows the rows: each label is a bit,
    OR-ed down the columns and along the rows, so a whole batch takes a few numpy passes."""
    masks = np.asarray(masks)
    if count > 64:
        return np.array(
            [[_bounding_box(mask == k) for k in range(1, count + 1)] for mask in masks], dtype=np.int32
        ).reshape(len(masks), count, 4)
    bit_type = next(t for t, bits in _BIT_TYPES if count <= bits)
    table: np.ndarray = np.zeros(256, dtype=bit_type)
    table[1 : count + 1] = np.left_shift(np.ones(count, dtype=bit_type), np.arange(count, dtype=bit_type))
    bits: np.ndarray
    if count <= 16:  # cv2.LUT: a fifth of numpy's take (its tables hold 8 or 16-bit values here)
        bits = cv2.LUT(np.ascontiguousarray(masks).reshape(-1, masks.shape[-1]), table).reshape(masks.shape)
    else:
        bits = table.take(masks)
    shifts = np.arange(count, dtype=bit_type)[None, :, None]
    one = bit_type(1)
    in_columns = (np.bitwise_or.reduce(bits, axis=1)[:, None, :] >> shifts) & one  # (N, count, W)
    in_rows = (np.bitwise_or.reduce(bits, axis=2)[:, None, :] >> shifts) & one  # (N, count, H)
    width, height = masks.shape[2], masks.shape[1]
    boxes = np.stack(
        [
            in_columns.argmax(axis=2),
            in_rows.argmax(axis=2),
            width - in_columns[..., ::-1].argmax(axis=2),
            height - in_rows[..., ::-1].argmax(axis=2),
        ],
        axis=2,
    ).astype(np.int32)
    boxes[~in_columns.any(axis=2)] = 0
    return boxes


def _bounding_box(selected: np.ndarray) -> Box:
    x, y, w, h = cv2.boundingRect(selected.view(np.uint8))
    return (x, y, x + w, y + h) if w else (0, 0, 0, 0)


def place(
    image: np.ndarray,
    mask: np.ndarray,
    count: int,
    size: tuple[int, int],
    geometry: Geometry,
    rng: np.random.Generator | None,
) -> tuple[np.ndarray, np.ndarray, list[Box]]:
    """The strip ``image`` (28, W0) uint8 with its ``mask`` (labels 1..``count``, non-zero exactly where
    the image is) placed on a canvas of ``size`` = (height, width), geometry drawn from ``geometry`` by
    ``rng`` (None only for the identity).

    Returns (image (height, width) uint8, mask (height, width) uint8, boxes: ``count`` x (x0, y0, x1, y1),
    (0, 0, 0, 0) for a digit without pixels). The number is scaled, then rotated, sheared, put in
    perspective and warped about its ink's centre, in one resampling pass. Nothing is clipped: if the
    warped ink would leave the canvas minus a margin (4 pixels at MNIST scale, or less where the unwarped
    ink already reaches further), the number is shrunk about its centre just enough and moved the least
    distance that makes it fit. Identity geometry at the strip's own size returns ``image`` and ``mask``
    themselves. See the module docstring for the conventions, the sampling and the mask rule.
    """
    _check(image, mask, count, size, geometry)
    if geometry.is_identity and size == image.shape:
        return image, mask, _label_boxes(mask, count)
    out = np.empty(size, dtype=np.uint8)
    labels = np.empty(size, dtype=np.uint8)
    x0, y0, x1, y1 = _place_into(image, mask, count, geometry, rng, out, labels)
    return out, labels, _label_boxes(labels[y0:y1, x0:x1], count, x0, y0)


def place_many(
    images: np.ndarray,
    masks: np.ndarray,
    counts: Sequence[int],
    size: tuple[int, int],
    geometry: Geometry,
    rngs: Iterable[np.random.Generator | None],
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``place`` for strips of one width (N, 28, W0) of ``counts`` digits, byte for byte what ``place``
    gives each: (images (N, height, width), masks, boxes (N, max(counts), 4) int32, 0 past an image's
    count). ``rngs`` gives one generator per image (None for the identity), taken in order just before
    its image is placed (so a re-seeded thread generator may be yielded each time). The identity
    geometry at a plain scale is ``place_batch``; otherwise each image is warped on its own and the rest
    is done for the batch."""
    most = max(counts)
    if geometry.is_identity:
        placed = place_batch(images, masks, most, size)
        if placed is not None:
            return placed
    else:
        _check_strips(images, masks)
    out = np.empty((len(images), *size), dtype=np.uint8)
    labels = np.empty_like(out)
    padded_masks, keys = _block_keys(masks)
    draws = iter(rngs)
    for i, count in enumerate(counts):
        image_keys = (padded_masks[i : i + 1], keys[i : i + 1])
        _place_into(images[i], masks[i], count, geometry, next(draws), out[i], labels[i], image_keys)
    return out, labels, label_boxes(labels, most)


def _place_into(
    image: np.ndarray,
    mask: np.ndarray,
    count: int,
    geometry: Geometry,
    rng: np.random.Generator | None,
    out: np.ndarray,
    labels: np.ndarray,
    block_keys: tuple[np.ndarray, np.ndarray] | None = None,
) -> Box:
    """``place``'s image and mask written into ``out`` and ``labels`` (the canvas, every pixel written);
    returns the rectangle (x0, y0, x1, y1) outside which both are 0. ``block_keys``: ``_block_keys`` of
    ``mask[None]`` (padded mask and keys, each with a first axis of 1), if already made for a batch."""
    height, width = size = out.shape
    x, y, w, h = cv2.boundingRect(image)
    if w == 0:
        out.fill(0)
        labels.fill(0)
        return (0, 0, 0, 0)
    if geometry.is_identity:
        transform = _scale_only(image.shape[0], image.shape[1], height, width)
    else:
        transform = _draw((x, y, x + w, y + h), (image.shape[0], image.shape[1]), size, geometry, rng)

    if transform.sampling == "resize":
        out[...], labels[...] = (array[0] for array in _resize_batch(image[None], mask[None], size))
        return (0, 0, width, height)
    if transform.sampling != "warp":
        out[...], labels[...] = _by_layers(image, mask, count, transform)
        return (0, 0, width, height)

    # One bilinear remap of the strip over the rectangle the ink can reach.
    rx0, ry0, rx1, ry1 = transform.reach
    out.fill(0)
    labels.fill(0)
    if rx1 <= rx0 or ry1 <= ry0:
        return (0, 0, 0, 0)
    map1, map2 = _fixed_maps(transform, transform.reach)
    window = (slice(ry0, ry1), slice(rx0, rx1))
    out[window] = cv2.remap(image, map1, map2, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    padded_masks, keys = block_keys if block_keys is not None else _block_keys(mask[None])
    # map1 holds each pixel's first tap (the integer part); the key is indexed from tap -1.
    owners = cv2.remap(
        keys[0], map1 + np.int16(1), _NO_MAP, cv2.INTER_NEAREST, borderMode=cv2.BORDER_CONSTANT
    )
    stride = image.shape[1] + 2

    def warp_taps(pixels: np.ndarray) -> tuple[np.ndarray, ...]:
        first = map1.reshape(-1, 2)[pixels].astype(np.intp)
        fraction = map2.ravel()[pixels]
        return (first[:, 1] + 1) * stride + first[:, 0] + 1, (fraction & 31) / 32.0, (fraction >> 5) / 32.0

    labels[window] = _settle(out[window], owners, image[None], padded_masks, warp_taps)
    return (rx0, ry0, rx1, ry1)


_NO_MAP = np.empty((0, 0), dtype=np.uint16)  # OpenCV reads an empty second map as none


def _fixed_maps(transform: Transform, window: Box | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``transform.source_map(window)`` as OpenCV's fixed-point maps: integer first taps (CV_16SC2) and
    5-bit fractions (the form ``cv2.remap`` converts any map to, once per call)."""
    map_x, map_y = transform._maps(window)
    map1, map2 = cv2.convertMaps(map_x, _NO_MAP if map_y is None else map_y, cv2.CV_16SC2)
    return np.asarray(map1), np.asarray(map2)


def _block_keys(masks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The masks (N, rows, columns) padded by one pixel, and (N, rows + 1, columns + 1) uint8: for the
    2 x 2 block of source pixels starting at (y - 1, x - 1) (a bilinear sample's taps), its label if it
    holds one, 0 if none, ``_AMBIGUOUS`` plus its highest label if it holds two or more."""
    count, rows, columns = masks.shape
    padded = np.zeros((count, rows + 2, columns + 2), dtype=np.uint8)
    padded[:, 1:-1, 1:-1] = masks
    high = np.maximum(padded[:, :-1], padded[:, 1:])
    high = np.maximum(high[:, :, :-1], high[:, :, 1:])
    low = padded - np.uint8(1)  # wraps: no label becomes 255, above every label
    low = np.minimum(low[:, :-1], low[:, 1:])
    low = np.minimum(low[:, :, :-1], low[:, :, 1:]) + np.uint8(1)  # and back: 0 again where there is none
    return padded, high | ((low != high).view(np.uint8) << 7)


def _settle(
    out: np.ndarray,
    owners: np.ndarray,
    images: np.ndarray,
    padded_masks: np.ndarray,
    taps_at: Callable[[np.ndarray], tuple[np.ndarray, ...]],
) -> np.ndarray:
    """The mask of ``out`` from each pixel's tap-block key (``owners``, overwritten): the block's label
    where it has one; where it holds two digits, the one contributing the most ink (``_strongest``).
    ``taps_at(pixels)`` gives the flat positions of ``pixels``' first taps in ``padded_masks`` and their
    second taps' weights (fx, fy); ``images`` are the sources of ``padded_masks``."""
    np.multiply(owners, out > 0, out=owners)
    if owners.max(initial=0) >= _AMBIGUOUS:
        mixed = np.flatnonzero(owners >= _AMBIGUOUS)
        owners.ravel()[mixed] = _strongest(images, padded_masks, *taps_at(mixed))
    return owners


def _strongest(
    images: np.ndarray, padded_masks: np.ndarray, first: np.ndarray, fx: np.ndarray, fy: np.ndarray
) -> np.ndarray:
    """For samples whose first taps are at the flat positions ``first`` of ``padded_masks`` (the masks of
    ``images`` padded by one pixel) with second-tap weights (fx, fy): the label contributing the most ink
    over the 2 x 2 taps (source pixel times weight, summed per label); a tie goes to the lower label."""
    stride = padded_masks.shape[-1]
    index = first[:, None] + np.array([0, 1, stride, stride + 1])
    # (n, 4): taps (y0, x0), (y0, x0 + 1), (y0 + 1, x0), (y0 + 1, x0 + 1)
    labels = padded_masks.ravel()[index]
    padded = np.zeros(padded_masks.shape, dtype=np.uint8)
    padded[:, 1:-1, 1:-1] = images
    ink = padded.ravel()[index]
    wx = np.stack([1 - fx, fx], axis=1)
    wy = np.stack([1 - fy, fy], axis=1)
    ink = ink * (wy[:, :, None] * wx[:, None, :]).reshape(-1, 4)
    # Each tap's label's total: the ink of every tap with the same label; taps without one never win.
    totals = np.where(labels[:, :, None] == labels[:, None, :], ink[:, None, :], 0.0).sum(axis=2)
    totals[labels == 0] = -1.0
    best = totals.max(axis=1, keepdims=True)
    return np.where(totals == best, labels, 255).min(axis=1).astype(np.uint8)


def place_batch(
    images: np.ndarray, masks: np.ndarray, count: int, size: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """``place`` with the identity geometry for strips of one width at once, byte for byte what ``place``
    gives each: (images (N, height, width), masks (N, height, width), boxes (N, ``count``, 4) int32) from
    ``images`` and ``masks`` (N, 28, W0) with at most ``count`` labels each. None when the scale takes
    per-digit sampling (``place`` then does each image)."""
    _check_strips(images, masks)
    if size == images.shape[1:]:
        return images, masks, label_boxes(masks, count)
    if _scale_only(HEIGHT, images.shape[2], *size).sampling != "resize":
        return None
    out, labels = _resize_batch(images, masks, size)
    return out, labels, label_boxes(labels, count)


def _check_strips(images: np.ndarray, masks: np.ndarray) -> None:
    if images.ndim != 3 or images.shape[1] != HEIGHT or masks.shape != images.shape:
        raise InvalidInput("images", f"images and masks must be (N, {HEIGHT}, W) arrays of one shape")


def _resize_batch(
    images: np.ndarray, masks: np.ndarray, size: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray]:
    """The "resize" sampling of ``place`` for (N, 28, W0) strips: one bilinear ``cv2.resize`` each (OpenCV's
    fixed-point sums: batching them as channels or stacked rows would change the borders or cost more),
    the masks of the whole batch in numpy. Returns (images, masks)."""
    height, width = size
    number, rows, columns = images.shape
    out = np.empty((number, height, width), dtype=np.uint8)
    for image, resized in zip(images, out, strict=True):
        cv2.resize(image, (width, height), dst=resized, interpolation=cv2.INTER_LINEAR)
    taps = _resize_taps(rows, columns, height, width)
    padded_masks, keys = _block_keys(masks)
    owners = keys.reshape(number, -1).take(taps.keys, axis=1)
    plane = padded_masks.shape[1] * padded_masks.shape[2]
    stride = columns + 2

    def resize_taps(pixels: np.ndarray) -> tuple[np.ndarray, ...]:
        n, within = np.divmod(pixels, height * width)
        r, c = np.divmod(within, width)
        first = n * plane + (taps.y0[r] + 1) * stride + taps.x0[c] + 1
        return first, taps.fx[c], taps.fy[r]

    return out, _settle(out, owners, images, padded_masks, resize_taps)


def _by_layers(
    image: np.ndarray, mask: np.ndarray, count: int, transform: Transform
) -> tuple[np.ndarray, np.ndarray]:
    """Image and mask from one resampled layer per digit ("area" and "supersample" sampling): each
    over only the output rectangle it can reach; the image is their saturating sum, the strongest owns."""
    height, width = transform.size
    out = np.zeros((height, width), dtype=np.uint8)
    labels = np.zeros((height, width), dtype=np.uint8)
    strongest = np.zeros((height, width), dtype=np.uint8)
    k = transform.supersample
    if transform.sampling == "supersample":
        # Maps over the rectangle the ink can reach only: a strong homography's horizon may cross the
        # rest of the canvas.
        wx0, wy0, wx1, wy1 = transform.reach
        map1, map2 = _fixed_maps(transform, (k * wx0, k * wy0, k * wx1, k * wy1))
        pad = _ROI_PAD + (
            0.0 if transform.displacement is None else cv2.norm(transform.displacement, cv2.NORM_INF)
        )
    for label in range(1, count + 1):
        selected = mask == label
        x, y, w, h = cv2.boundingRect(selected.view(np.uint8))
        if w == 0:
            continue
        layer = np.multiply(image, selected, dtype=np.uint8)
        if transform.sampling == "area":
            # A non-integer area reduction has no grid a crop could share: the whole layer, whose
            # output is small (this is the shrinking case).
            warped = cv2.resize(layer, (width, height), interpolation=cv2.INTER_AREA)
            rx0, ry0, rx1, ry1 = 0, 0, width, height
        else:
            # Its box, one pixel wider, in pixel centres; mapped and padded, on the canvas.
            corners = np.array(
                [
                    [x - 1.5, y - 1.5],
                    [x + w + 0.5, y - 1.5],
                    [x + w + 0.5, y + h + 0.5],
                    [x - 1.5, y + h + 0.5],
                ]
            )
            reach = cv2.perspectiveTransform(corners.reshape(-1, 1, 2), transform.matrix).reshape(4, 2)
            rx0, ry0 = np.maximum(np.floor(reach.min(axis=0) - pad), (wx0, wy0)).astype(int).tolist()
            rx1, ry1 = np.minimum(np.ceil(reach.max(axis=0) + pad) + 1, (wx1, wy1)).astype(int).tolist()
            if rx1 <= rx0 or ry1 <= ry0:
                continue
            fine = (slice(k * (ry0 - wy0), k * (ry1 - wy0)), slice(k * (rx0 - wx0), k * (rx1 - wx0)))
            warped = cv2.remap(
                layer, map1[fine], map2[fine], cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT
            )
            warped = cv2.resize(warped, (rx1 - rx0, ry1 - ry0), interpolation=cv2.INTER_AREA)  # k x k means
        roi = (slice(ry0, ry1), slice(rx0, rx1))
        out_roi = out[roi]
        cv2.add(out_roi, warped, dst=out_roi)  # saturating
        best = strongest[roi]
        # Strictly stronger than every earlier (lower) label: a tie stays with the digit on the left.
        np.copyto(labels[roi], label, where=warped > best)
        np.maximum(best, warped, out=best)
    return out, labels
