"""Datasets without files: the same shards as ``hng dataset`` writes, as numpy batches, for training loops."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np

from hng.core.generation import Generator
from hng.datasets.shard import make_shard
from hng.datasets.spec import DatasetSpec
from hng.mnist.load import MnistData, load_mnist


def stream(
    spec: DatasetSpec | Mapping[str, Any],
    *,
    shard: int | None = None,
    num_shards: int | None = None,
    data: MnistData | str | os.PathLike[str] | None = None,
) -> Iterator[tuple[np.ndarray, ...]]:
    """Yield ``(images, labels, boxes)`` one plan shard at a time (``spec.shard_size`` images each), and
    ``(images, labels, boxes, masks)`` when the spec asks for masks.

    ``shard=k, num_shards=n`` (worker k of n: a PyTorch DataLoader worker, a tf.data shard, a rank)
    gets the plan's shards k, k + n, k + 2n, ...: disjoint parts whose union is the whole dataset, each
    byte-identical to the shard file ``hng dataset`` writes for the same spec. ``images`` is (N, 28, W)
    uint8 padded with black to the batch's widest image, ``labels`` '<U..', ``boxes`` (N, longest, 4)
    x0, y0, x1, y1 with -1 past each label's length, ``masks`` (N, 28, W) uint8: 0 background, k the
    k-th digit's pixels (``hng.core.masks``).
    """
    from hng.datasets.engine import as_spec

    spec = as_spec(spec)
    if (shard is None) != (num_shards is None):
        raise ValueError("give both shard and num_shards (worker shard of num_shards), or neither")
    if num_shards is None:
        shard, num_shards = 0, 1
    if isinstance(num_shards, bool) or not isinstance(num_shards, int) or num_shards < 1:
        raise ValueError(f"num_shards must be a positive integer, got {num_shards!r}")
    if isinstance(shard, bool) or not isinstance(shard, int) or not 0 <= shard < num_shards:
        raise ValueError(f"shard must be an integer in 0-{num_shards - 1}, got {shard!r}")
    generator = Generator(data if isinstance(data, MnistData) else load_mnist(data))
    for k in range(shard, spec.num_shards, num_shards):
        part = make_shard(spec, k, generator, masks=spec.masks)
        if part.masks is not None:
            yield part.images, part.labels, part.boxes, part.masks
        else:
            yield part.images, part.labels, part.boxes
