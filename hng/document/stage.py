"""The document stage of one image: the composed MNIST-scale strip placed at the output size with its
geometry (masks carried, boxes re-tightened), then inked by the style.

Built once per ``Appearance`` (the style's pipelines, the user's background images) and reused for every
image; ``get_stage`` keeps the built ones. Each image's randomness comes from its own seed, so an image
is the same whichever batch, worker or process makes it.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence

import numpy as np

from hng.core.compose import HEIGHT
from hng.core.seeding import child_seed, child_seeds, thread_rng
from hng.document.geometry import Geometry, place, place_many
from hng.document.options import Appearance

Box = tuple[int, int, int, int]


class DocumentStage:
    """Places and inks composed strips for one ``Appearance``."""

    def __init__(self, look: Appearance) -> None:
        from hng.document.style import make_style, parse_ink

        self.look = look
        self.geometry = Geometry(
            rotate=look.rotate, shear=look.shear, perspective=look.perspective, elastic=look.elastic
        )
        backgrounds = None
        if look.background is not None:
            from hng.document.backgrounds import load_backgrounds

            backgrounds = load_backgrounds(look.background)
        self.style = make_style(
            look.style,
            ink=None if look.ink is None else parse_ink(look.ink),
            backgrounds=backgrounds,
            pipeline=look.pipeline,
        )

    def composed_width(self, width: int) -> int:
        """The width at MNIST scale of an image ``width`` pixels wide at the output height."""
        return max(1, round(width * HEIGHT / self.look.height))

    def output_width(self, composed_width: int) -> int:
        return max(1, round(composed_width * self.look.height / HEIGHT))

    def apply(
        self, strip: np.ndarray, mask: np.ndarray, count: int, width: int, seed: int
    ) -> tuple[np.ndarray, np.ndarray, list[Box]]:
        """(pixels, mask, boxes) of the image ``width`` wide at the output height, from the composed
        ``strip`` and its ``mask`` (28 rows, MNIST polarity) of ``count`` digits; ``seed`` is the image's
        document seed (``document_seed``)."""
        rng = None if self.geometry.is_identity else thread_rng(child_seed(seed, 0))
        placed, placed_mask, boxes = place(strip, mask, count, (self.look.height, width), self.geometry, rng)
        pixels = self.style.render(placed, child_seed(seed, 1), self.look.channels)
        return pixels, placed_mask, boxes

    def apply_batch(
        self,
        strips: np.ndarray,
        masks: np.ndarray,
        counts: Sequence[int],
        width: int,
        seeds: Sequence[int],
        out: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``apply`` for strips of one composed width (N, 28, W0) of ``counts`` digits and document
        ``seeds``, at one output ``width``: (pixels, masks, boxes (N, max(counts), 4)), byte for byte what
        ``apply`` gives each (boxes past an image's count are 0). The pixels go into ``out`` if given.
        Placed by ``place_many``: the identity geometry at a plain scale for the whole batch at once, any
        other image by image with its masks' keys and boxes made for the batch."""
        rngs = (None if self.geometry.is_identity else thread_rng(seed) for seed in child_seeds(seeds, 0))
        coverage, labels, boxes = place_many(
            strips, masks, counts, (self.look.height, width), self.geometry, rngs
        )
        style_seeds = child_seeds(seeds, 1)
        return self.style.render_batch(coverage, style_seeds, self.look.channels, out), labels, boxes


_CACHE_SIZE = 16
_stages: OrderedDict[Appearance | int, tuple[Appearance, DocumentStage]] = OrderedDict()
_lock = threading.Lock()


def get_stage(look: Appearance) -> DocumentStage:
    """The stage of ``look``, built on first use (backgrounds decoded once) and reused after."""
    # A custom pipeline is keyed by identity: albumentations transforms do not hash by value.
    key: Appearance | int = id(look.pipeline) if look.pipeline is not None else look
    with _lock:
        cached = _stages.get(key)
        if cached is not None and cached[0] == look:
            _stages.move_to_end(key)
            return cached[1]
    stage = DocumentStage(look)
    with _lock:
        _stages[key] = (look, stage)
        if len(_stages) > _CACHE_SIZE:
            _stages.popitem(last=False)
    return stage
