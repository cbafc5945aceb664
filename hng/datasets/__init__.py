"""Datasets: many labelled images from one ``DatasetSpec``, made shard by shard.

- ``spec``: the spec and its rules; ``shard``: the arrays of one shard and how shard k is made;
- ``formats``: npz, webdataset, imagefolder, yolo and voc shards; ``checksum``: shard checksums;
- ``plan``: plan.json and the rebuild command; ``output``: a local folder or an S3 prefix;
- ``engine``: the local process pool, resume and ``--shards``; ``finalize``: checks, manifest, report;
- ``card``: the dataset card; ``stream``: the shards as numpy batches, without files.
"""

from __future__ import annotations

from hng.datasets.engine import make_dataset
from hng.datasets.finalize import IncompleteDataset, finalize_dataset
from hng.datasets.shard import Shard, make_shard
from hng.datasets.spec import DatasetSpec, SpecError
from hng.datasets.stream import stream

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
