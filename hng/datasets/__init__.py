"""Datasets: many labelled images from one ``DatasetSpec``, made shard by shard.

- ``spec``: the spec and its rules; ``shard``: the arrays of one shard and how shard k is made;
- ``formats``: npz, webdataset, imagefolder, yolo and voc shards; ``checksum``: shard checksums;
- ``plan``: plan.json and the rebuild command; ``output``: a local folder or an S3 prefix;
- ``engine``: the local process pool, resume and ``--shards``; ``finalize``: checks, manifest, report;
- ``card``: the dataset card; ``stream``: the shards as numpy batches, without files.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hng.datasets.engine import make_dataset
    from hng.datasets.finalize import IncompleteDataset, finalize_dataset
    from hng.datasets.shard import Shard, make_shard
    from hng.datasets.spec import DatasetSpec, SpecError
    from hng.datasets.stream import stream

# Imported on first use: the API's cold start reads the spec (hng.datasets.spec) but never runs the engine.
_EXPORTS = {
    "DatasetSpec": "hng.datasets.spec",
    "IncompleteDataset": "hng.datasets.finalize",
    "Shard": "hng.datasets.shard",
    "SpecError": "hng.datasets.spec",
    "finalize_dataset": "hng.datasets.finalize",
    "make_dataset": "hng.datasets.engine",
    "make_shard": "hng.datasets.shard",
    "stream": "hng.datasets.stream",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
