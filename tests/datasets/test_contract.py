"""The dataset's public contract beside the plan: shard records and manifest.json, as hng.datasets.contract
models, written by every run and read back by finalize."""

from __future__ import annotations

import json

import pytest

from hng.datasets import IncompleteDataset, finalize_dataset, make_dataset
from hng.datasets.contract import Manifest, ShardRecord
from hng.errors import InvalidData

SPEC = {"count": 30, "shard_size": 10, "digits": "2-4", "seed": 5}


@pytest.fixture
def made(tmp_path, sample_data):
    out = tmp_path / "ds"
    make_dataset(SPEC, out, workers=1, data=sample_data)
    return out


def test_every_record_and_the_manifest_are_the_contract_models(made):
    records = sorted((made / ".hng" / "shards").glob("*.json"))
    assert len(records) == 3
    for path in records:
        text = path.read_text()
        record = ShardRecord.loads(text, str(path))
        assert record.dumps() == text  # the models write exactly what is stored
        assert record.images == 10 and sum(record.label_lengths.values()) == 10
    manifest = Manifest.model_validate_json((made / "manifest.json").read_text())
    assert manifest.complete and manifest.images == 30 and [s.index for s in manifest.shards] == [0, 1, 2]
    assert Manifest.model_json_schema()["required"][:3] == ["manifest_version", "hng_version", "created_at"]


@pytest.mark.parametrize(
    "text", ["{}", "not json", '{"index": "one"}', "[]"], ids=["empty", "not JSON", "wrong type", "a list"]
)
def test_a_record_hng_did_not_write_is_invalid_data_naming_it(text):
    with pytest.raises(InvalidData, match=r"shard-00001\.json is not a shard record"):
        ShardRecord.loads(text, "ds/.hng/shards/shard-00001.json")


def test_a_damaged_record_makes_its_shard_missing_at_finalize(made, sample_data):
    (record,) = [p for p in (made / ".hng" / "shards").glob("*.json") if "00001" in p.name]
    data = json.loads(record.read_text())
    data["images"] = "ten"
    record.write_text(json.dumps(data))
    with pytest.raises(IncompleteDataset) as raised:
        finalize_dataset(made, data=sample_data)
    assert raised.value.missing == [1]
