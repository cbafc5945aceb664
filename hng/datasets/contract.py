"""The dataset's public contract beside the plan: a shard's record and the manifest, as models.

Every engine writes a shard's record (``.hng/shards/NAME.json``) when it publishes the shard, and
finalize writes ``manifest.json``; readers (finalize, resume, the dataset routes, a user's own tooling)
rely on their fields. The models fix those fields and their types, so a record or manifest that is not
what hng writes is refused by name (`InvalidData`) instead of failing somewhere later.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from hng.errors import InvalidData


class ShardRecord(BaseModel):
    """What finalize needs to know of a shard without reading it again."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    index: int
    name: str
    folder: bool  # a folder of files (imagefolder), not one file
    images: int
    start: int  # the index of the shard's first image in the dataset
    sha256: str  # of the file, or of the folder's files (hng.datasets.checksum)
    bytes: int
    label_lengths: dict[str, int]  # number length (as text) -> images
    digits: dict[str, int]  # digit -> how many times it is drawn
    image_digests: str  # base64 of one little-endian uint64 digest per image (duplicate counting)
    hng_version: str
    files: int | None = None
    seconds: float | None = None  # how long the shard took to make, publish included
    redrawn: int | None = None  # verify_labels: digits drawn again (the reader did not read their label)
    unread: int | None = None  # verify_labels: digits still not read as their label after the redraws

    @classmethod
    def loads(cls, text: str, where: str) -> ShardRecord:
        try:
            return cls.model_validate_json(text)
        except ValidationError as error:
            raise InvalidData(f"{where} is not a shard record hng writes: {error}") from None

    def dumps(self) -> str:
        return json.dumps(self.model_dump(exclude_none=True), separators=(",", ":")) + "\n"


class ManifestShard(BaseModel):
    model_config = ConfigDict(extra="forbid")

    index: int
    name: str
    images: int
    sha256: str
    bytes: int
    label_lengths: dict[str, int]


class Manifest(BaseModel):
    """manifest.json: the spec, the data it was made from, every shard with its checksum, the report."""

    model_config = ConfigDict(extra="forbid")

    manifest_version: int
    hng_version: str
    created_at: str
    plan_created_at: str
    mnist: dict[str, str]  # sha256 of the MNIST file, the split drawn from
    spec: dict[str, Any]  # DatasetSpec.to_json()
    command: str  # the hng dataset command that makes this dataset again
    images: int
    complete: bool
    missing_shards: list[int]
    shards: list[ManifestShard]
    report: dict[str, Any]  # label lengths, digits, duplicates, label fidelity, timing
    run: dict[str, Any] | None = None  # the run that finalized it, when a run did
    # What the format wrote for the whole dataset (its "files", such as YOLO's data.yaml) and its facts.
    format: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(exclude_none=True)
