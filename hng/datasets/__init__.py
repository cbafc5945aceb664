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

# `stream` is also a submodule's name: importing the function here keeps the package attribute the
# function whatever imports the module later.
from hng.datasets.shard import Shard, make_shard
from hng.datasets.spec import DatasetSpec, SpecError
from hng.datasets.stream import stream

if TYPE_CHECKING:
    from hng.datasets.engine import make_dataset
    from hng.datasets.finalize import IncompleteDataset, finalize_dataset

# Imported on first use: the API's cold start reads the spec but never runs the engine or finalize.
_LAZY = {
    "IncompleteDataset": "hng.datasets.finalize",
    "finalize_dataset": "hng.datasets.finalize",
    "make_dataset": "hng.datasets.engine",
}
__all__ = [
    "DatasetSpec",
    "IncompleteDataset",
    "Shard",
    "SpecError",
    "finalize_dataset",
    "make_dataset",
    "make_shard",
    "stream",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
