"""The look of a number written with a pen on a sheet that was then scanned or photographed.

This is the machinery of the ``paper`` style (and, in a lighter dose, of the ``background`` style): a pen
colour varied per number, a paper tone, paper texture (fine grain and low-frequency unevenness), uneven
light (a gradient, a vignette, a soft shadow), optical blur, sensor noise, a coarser sensor and JPEG.
Every effect has a probability and a range (`Look`); every draw comes from the generator it is given.

Why not albumentations' own transforms: at 48 x 240 RGB one call of ``PlasmaBrightnessContrast`` costs about
3.2 ms, ``PlasmaShadow`` 2.7 ms, ``ShotNoise`` 4.2 ms, ``Defocus`` 8 ms, ``ISONoise`` 1.1 ms,
``Illumination`` 0.4-0.9 ms, ``MotionBlur`` 0.4 ms, ``RandomShadow`` 0.37 ms, ``GaussNoise`` 0.24 ms, while a
whole ``paper`` image must cost under 0.6 ms. Most of that time is drawing fresh random fields per call, so
the same effects are made here from fields drawn once per process (`fields`: seamless, periodic, from a
fixed seed) and cropped at a random offset per image, with plain OpenCV calls for blur, JPEG and a coarser
sensor (albumentations' ``ImageCompression``, 0.16 ms, and ``Downscale``, 0.05 ms, are the same OpenCV
calls with more overhead per call). Nothing here imports albumentations, which saves its 0.5 s import too.

Artefacts change the rendered pixels only: the label mask stays where the ink was laid down (blur may
spread a digit's edge by a pixel, noise may touch the paper; neither moves a label).
"""

from __future__ import annotations

import functools
import math
import threading
from dataclasses import dataclass

import cv2
import numpy as np

# The random fields' shape: larger outputs wrap around them (they are periodic, so without a seam).
FIELD_SHAPE = (256, 1024)
_FIELD_SEED = 16


@dataclass(frozen=True)
class Fields:
    """Random fields drawn once per process: float ones with mean 0 and standard deviation 1."""

    grain: np.ndarray  # (h, w) float32: paper fibre, about a pixel across
    cloud: np.ndarray  # (h, w) float32: unevenness of paper and ink, tens of pixels across
    noise: np.ndarray  # (h, w, 3) float32: sensor noise, mostly shared by the channels
    flow: np.ndarray  # (h, w) uint8: where a stroke gets less ink, 0..255 (the cloud field, another scale)


def _periodic(rng: np.random.Generator, shape: tuple[int, int], sigma: float) -> np.ndarray:
    """White noise low-passed by a Gaussian of ``sigma`` pixels in the Fourier domain (so the field wraps
    around without a seam), scaled to unit standard deviation."""
    white = rng.standard_normal(shape)
    fy = np.fft.fftfreq(shape[0])[:, None]
    fx = np.fft.rfftfreq(shape[1])[None, :]
    gain = np.exp(-2 * (math.pi * sigma) ** 2 * (fy**2 + fx**2))
    field = np.fft.irfft2(np.fft.rfft2(white) * gain, s=shape)
    field -= field.mean()
    field /= field.std()
    return field.astype(np.float32)


_fields: Fields | None = None
_fields_lock = threading.Lock()


def fields() -> Fields:
    """The process's fields, made on first use (about 0.1 s) and the same in every process."""
    global _fields
    if _fields is None:
        with _fields_lock:
            if _fields is None:
                rng = np.random.Generator(np.random.PCG64(_FIELD_SEED))
                grain = _periodic(rng, FIELD_SHAPE, 0.6)
                cloud = _periodic(rng, FIELD_SHAPE, 24.0) + 0.5 * _periodic(rng, FIELD_SHAPE, 6.0)
                cloud = (cloud / cloud.std()).astype(np.float32)
                shared = rng.standard_normal(FIELD_SHAPE, dtype=np.float32)
                own = rng.standard_normal((*FIELD_SHAPE, 3), dtype=np.float32)
                noise = (shared[..., None] + 0.35 * own) / math.sqrt(1 + 0.35**2)
                flow = np.clip(_periodic(rng, FIELD_SHAPE, 10.0) * 96 + 128, 0, 255)
                _fields = Fields(
                    grain=grain, cloud=cloud, noise=noise.astype(np.float32), flow=flow.astype(np.uint8)
                )
    return _fields


@dataclass(frozen=True)
class Look:
    """What a style does to a sheet, as probabilities and (low, high) ranges; drawn once per image.

    Fractions are of the pixel value (multiplicative); noise is in grey levels of 0..255.
    """

    # The pen: each colour channel c becomes lift + c * lightness (+ a jitter for coloured pens).
    ink_lightness: tuple[float, float] = (0.75, 1.05)
    ink_lift: tuple[float, float] = (6.0, 38.0)  # scanned ink never reaches black: it is thin
    ink_jitter: float = 6.0  # at most, per channel, coloured pens only
    opacity: tuple[float, float] = (0.85, 1.0)  # pen pressure: how much of the coverage inks
    ink_flow: tuple[float, float] = (0.0, 0.3)  # strokes lighter in places (the cloud field)
    # The paper (not used on a background image, which is its own sheet).
    grain: tuple[float, float] = (0.006, 0.03)
    unevenness: tuple[float, float] = (0.005, 0.035)
    # Light: a gradient across the sheet, a vignette, a soft-edged shadow.
    gradient_p: float = 0.7
    gradient: tuple[float, float] = (0.02, 0.16)  # darkening from one edge to the other
    vignette_p: float = 0.25
    vignette: tuple[float, float] = (0.04, 0.15)  # darkening in the corners
    shadow_p: float = 0.12
    shadow: tuple[float, float] = (0.1, 0.28)  # darkening inside the shadow
    # The camera or scanner.
    blur_p: float = 0.45
    blur: tuple[float, float] = (0.35, 0.9)  # Gaussian sigma, pixels
    motion_p: float = 0.06
    motion: tuple[int, int] = (3, 5)  # kernel length, pixels
    noise: tuple[float, float] = (1.0, 5.0)  # standard deviation, grey levels, always applied
    downscale_p: float = 0.15
    downscale: tuple[float, float] = (0.5, 0.8)  # the sensor's resolution, as a fraction of the image's
    jpeg_p: float = 0.35
    jpeg: tuple[int, int] = (40, 90)  # quality


PAPER = Look()
# On the user's own images: their sheet is real already, so only pen variation and a little camera.
LIGHT = Look(
    gradient_p=0.3,
    gradient=(0.02, 0.1),
    vignette_p=0.0,
    shadow_p=0.0,
    blur_p=0.3,
    blur=(0.3, 0.7),
    motion_p=0.0,
    noise=(0.0, 3.0),
    downscale_p=0.0,
    jpeg_p=0.25,
    jpeg=(60, 92),
)

# Paper tones (RGB) and how often each is drawn; each is then lightened or darkened a little.
PAPER_TONES: tuple[tuple[tuple[float, float, float], float], ...] = (
    ((248.0, 248.0, 245.0), 0.4),  # white
    ((246.0, 239.0, 219.0), 0.2),  # cream
    ((226.0, 227.0, 224.0), 0.2),  # grey-ish (recycled paper, a grey scan)
    ((240.0, 230.0, 196.0), 0.2),  # yellowed
)
_TONE_SPREAD = (0.95, 1.02)
_LEVELS = (np.arange(256, dtype=np.float32) / 255)[:, None]
_WHITE = (255.0, 255.0, 255.0)
# Uniform draws per image: all drawn at once (one call), each effect taking the same ones whether it
# fires or not, so that changing one effect's probability leaves the others' draws alone.
_DRAWS = 40


def _between(bounds: tuple[float, float], unit: float) -> float:
    low, high = bounds
    return low + (high - low) * unit


def pick_weighted(weights: tuple[float, ...], unit: float) -> int:
    """The index that a uniform draw ``unit`` in [0, 1) picks among ``weights``."""
    target = unit * sum(weights)
    total = 0.0
    for index, weight in enumerate(weights):
        total += weight
        if target < total:
            return index
    return len(weights) - 1


def pen_colour(colour: tuple[int, int, int], look: Look, units: list[float]) -> tuple[float, float, float]:
    """The pen of one number (5 draws): ``colour`` lightened or darkened, lifted off black (a scanned
    stroke is thin ink over paper) and, if coloured, jittered a little per channel."""
    lift = _between(look.ink_lift, units[0])
    lightness = _between(look.ink_lightness, units[1])
    coloured = not (colour[0] == colour[1] == colour[2])
    pen = []
    for channel, unit in zip(colour, units[2:5], strict=True):
        jitter = look.ink_jitter * (2 * unit - 1) if coloured else 0.0
        pen.append(min(255.0, max(0.0, lift + channel * lightness + jitter)))
    return pen[0], pen[1], pen[2]


def paper_tone(units: list[float]) -> tuple[float, float, float]:
    """A paper tone (2 draws): one of ``PAPER_TONES`` by weight, a little lighter or darker."""
    tone, _ = PAPER_TONES[pick_weighted(tuple(w for _, w in PAPER_TONES), units[0])]
    spread = _between(_TONE_SPREAD, units[1])
    return min(255.0, tone[0] * spread), min(255.0, tone[1] * spread), min(255.0, tone[2] * spread)


def ink_table(pen: tuple[float, ...], sheet: tuple[float, ...]) -> np.ndarray:
    """(256, 1, 3) uint8: coverage v inked with ``pen`` over a ``sheet`` colour (both RGB, 0..255).

    Pen ink filters the light the sheet reflects (a multiply blend): sheet * (1 - a + a * pen / 255), a =
    v / 255. Over white paper that is exactly paper * (1 - a) + pen * a; over anything else the ink is
    always darker than the sheet under it.
    """
    loss = np.array([s * (1 - p / 255) for s, p in zip(sheet, pen, strict=True)], dtype=np.float32)
    # convertScaleAbs rounds and saturates to uint8; nothing here is negative.
    return cv2.convertScaleAbs(np.asarray(sheet, dtype=np.float32) - _LEVELS * loss).reshape(256, 1, 3)


@functools.lru_cache(maxsize=64)
def _axis(length: int) -> np.ndarray:
    """Pixel centres along an axis of ``length`` pixels, from -0.5 to 0.5: distances are measured with the
    image squeezed to a square (a strip is several times wider than high)."""
    axis = (np.arange(length, dtype=np.float32) + 0.5) / length - 0.5
    axis.flags.writeable = False
    return axis


def _light(look: Look, units: list[float], height: int, width: int) -> np.ndarray | None:
    """The light on the sheet (10 draws): (height, width) float32 multipliers, or None for even light.

    A gradient from one edge to the other and a vignette are both separable sums (x part + y part), so
    together they cost one broadcast addition; their product is close enough to their sum at these depths.
    """
    xs, ys = _axis(width), _axis(height)
    row = np.zeros(width, dtype=np.float32)
    column = np.ones(height, dtype=np.float32)
    even = True
    if units[0] < look.gradient_p:
        angle, depth = 2 * math.pi * units[1], _between(look.gradient, units[2])
        dx, dy = math.cos(angle), math.sin(angle)
        norm = depth / (abs(dx) + abs(dy))
        # 1 - depth * (0 on the lit edge .. 1 on the far one).
        row -= norm * dx * xs
        column -= (norm * dy) * ys + depth / 2
        even = False
    if units[3] < look.vignette_p:
        depth = _between(look.vignette, units[4])
        row -= (2 * depth) * xs * xs  # 1 - depth in the corners
        column -= (2 * depth) * (ys * ys)
        even = False
    light = None if even else row + column[:, None]
    if units[5] < look.shadow_p:
        angle, depth = 2 * math.pi * units[6], _between(look.shadow, units[7])
        softness = 0.06 + 0.24 * units[8]
        edge = 0.6 * (units[9] - 0.5)  # where the shadow's edge crosses, near the middle
        dx, dy = math.cos(angle) / softness, math.sin(angle) / softness
        side = (dx * xs)[None, :] + (dy * ys - edge / softness + 0.5)[:, None]
        np.clip(side, 0, 1, out=side)
        shade = 1 - depth * side
        light = shade if light is None else light * shade
    return light


def _motion_kernel(angle: float, length: int) -> np.ndarray:
    kernel = np.zeros((length, length), dtype=np.float32)
    centre = (length - 1) / 2
    dx, dy = centre * math.cos(angle), centre * math.sin(angle)
    # Drawn at 1/16 pixel precision (shift=4) so that short kernels still take any angle.
    start = (round((centre - dx) * 16), round((centre - dy) * 16))
    end = (round((centre + dx) * 16), round((centre + dy) * 16))
    cv2.line(kernel, start, end, 1.0, 1, cv2.LINE_AA, shift=4)
    return kernel / kernel.sum()


def _window(field: np.ndarray, height: int, width: int, unit_y: float, unit_x: float) -> np.ndarray:
    """A (height, width) window of ``field`` at the offset two draws give: a view, or for a window larger
    than the field, a gather that wraps around (the field is periodic, so it shows no seam)."""
    field_height, field_width = field.shape[:2]
    if height <= field_height and width <= field_width:
        y = int(unit_y * (field_height - height + 1))
        x = int(unit_x * (field_width - width + 1))
        return field[y : y + height, x : x + width]
    rows = (int(unit_y * field_height) + np.arange(height)) % field_height
    columns = (int(unit_x * field_width) + np.arange(width)) % field_width
    return field[rows[:, None], columns[None, :]]


def render(
    coverage: np.ndarray,
    rng: np.random.Generator,
    colour: tuple[int, int, int],
    look: Look,
    sheet: np.ndarray | None = None,
) -> np.ndarray:
    """The RGB (H, W, 3) uint8 picture of ``coverage`` written with a pen of ``colour`` and shot as ``look``
    says; on ``sheet`` (an RGB image of the same size: the ``background`` style) or else on paper."""
    height, width = coverage.shape
    fld = fields()
    u = rng.random(_DRAWS).tolist()
    pen = pen_colour(colour, look, u[0:5])
    # Pen pressure and ink flow: the coverage scaled down, by a constant and, in places, by the flow field.
    flow = _between(look.ink_flow, u[6])
    inked = cv2.addWeighted(
        coverage,
        _between(look.opacity, u[5]),
        cv2.multiply(coverage, _window(fld.flow, height, width, u[7], u[8]), scale=flow / 255),
        -1.0,
        0.0,
    )
    shade = _light(look, u[9:19], height, width)
    if sheet is None:
        base = cv2.applyColorMap(inked, ink_table(pen, paper_tone(u[19:21])))
        texture = cv2.addWeighted(
            _window(fld.grain, height, width, u[21], u[22]),
            _between(look.grain, u[23]),
            _window(fld.cloud, height, width, u[24], u[25]),
            _between(look.unevenness, u[26]),
            1.0,
        )
        shade = texture if shade is None else cv2.multiply(texture, shade)
    else:
        # The multiply blend per pixel: the fraction of the sheet's light each pixel keeps, times the sheet.
        keep = cv2.applyColorMap(inked, ink_table(pen, _WHITE))
        base = cv2.multiply(sheet, keep, scale=1 / 255)

    image: np.ndarray = base.astype(np.float32)
    if shade is not None:
        cv2.multiply(image, cv2.cvtColor(shade, cv2.COLOR_GRAY2RGB), dst=image)
    if u[27] < look.blur_p:
        sigma = _between(look.blur, u[28])
        image = cv2.GaussianBlur(image, (3, 3) if sigma < 0.6 else (5, 5), sigma)
    if u[29] < look.motion_p:
        length = look.motion[0] + int(u[30] * (look.motion[1] - look.motion[0] + 1))
        kernel = _motion_kernel(math.pi * u[31], length)
        image = cv2.filter2D(image, -1, kernel, borderType=cv2.BORDER_REFLECT)
    sigma = _between(look.noise, u[32])
    if sigma > 0:
        cv2.scaleAdd(_window(fld.noise, height, width, u[33], u[34]), sigma, image, dst=image)
    cv2.threshold(image, 0, 0, cv2.THRESH_TOZERO, dst=image)
    out = cv2.convertScaleAbs(image)  # rounds and saturates to uint8

    if u[35] < look.downscale_p:
        scale = _between(look.downscale, u[36])
        small = (max(1, round(width * scale)), max(1, round(height * scale)))
        out = cv2.resize(cv2.resize(out, small, interpolation=cv2.INTER_AREA), (width, height))
    if u[37] < look.jpeg_p:
        quality = look.jpeg[0] + int(u[38] * (look.jpeg[1] - look.jpeg[0] + 1))
        # OpenCV's JPEG codec takes BGR: its luma and chroma are computed from the channels in that order.
        encoded = cv2.imencode(
            ".jpg", cv2.cvtColor(out, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality]
        )[1]
        decoded = cv2.imdecode(encoded, cv2.IMREAD_COLOR)
        if decoded is None:
            raise AssertionError("hng bug: decoded is unset (OpenCV decodes what it just encoded)")
        out = cv2.cvtColor(decoded, cv2.COLOR_BGR2RGB)
    return out
