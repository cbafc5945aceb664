"""The local dataset engine on the committed MNIST sample: determinism across worker counts and engines,
resume after an interruption, refusals, --shards + finalize, S3 output (moto in-process), stream."""

from __future__ import annotations

import json
import logging
import os
import socket
import time
from concurrent.futures import ThreadPoolExecutor

import boto3
import numpy as np
import pytest
from moto import mock_aws

import hng.datasets.engine as engine
from hng.datasets import DatasetSpec, IncompleteDataset, finalize_dataset, make_dataset, stream
from hng.datasets.checksum import sha256_path
from hng.datasets.formats import get_format
from tests.support.images import coloured_pixels, decode_sheet

SPEC = {"count": 50, "shard_size": 20, "digits": "2-5", "seed": 11}


def shard_files(root):
    return sorted(p.name for p in root.iterdir() if p.name.startswith("shard-"))


def checksums(root):
    return {name: sha256_path(root / name) for name in shard_files(root)}


@pytest.mark.parametrize("fmt", ["npz", "webdataset", "imagefolder"])
def test_shards_are_byte_identical_with_one_and_two_workers(tmp_path, sample_data, fmt):
    spec = {**SPEC, "format": fmt, "preset": "mild"}
    one = make_dataset(spec, tmp_path / "one", workers=1, data=sample_data)
    two = make_dataset(spec, tmp_path / "two", workers=2, data=sample_data)
    assert checksums(tmp_path / "one") == checksums(tmp_path / "two")
    assert len(checksums(tmp_path / "one")) == 3
    assert [s["sha256"] for s in one["shards"]] == [s["sha256"] for s in two["shards"]]
    assert one["shards"][0]["sha256"] == sha256_path(tmp_path / "one" / get_format(fmt).shard_name(0))


def test_the_manifest_card_report_and_contact_sheet(tmp_path, sample_data):
    manifest = make_dataset({**SPEC, "preset": "strong"}, tmp_path, workers=2, data=sample_data)
    on_disk = json.loads((tmp_path / "manifest.json").read_text())
    assert on_disk == manifest
    assert manifest["spec"]["seed"] == 11 and manifest["images"] == 50
    assert manifest["mnist"]["sha256"] == sha256_path(sample_data.path)
    assert [s["images"] for s in manifest["shards"]] == [20, 20, 10]
    report = manifest["report"]
    assert sum(report["label_lengths"].values()) == 50
    assert set(report["label_lengths"]) <= {"2", "3", "4", "5"}
    assert sum(report["digits"].values()) == sum(int(n) * c for n, c in report["label_lengths"].items())
    assert report["duplicates"] == 0
    assert report["seconds"] > 0 and report["images_per_second"] > 0 and report["first_shard_seconds"] > 0
    assert report["fidelity"]["digits"] > 0 and 0 <= report["fidelity"]["read_as_label"] <= 1
    assert manifest["command"].startswith("hng dataset --count 50 --shard-size 20 --digits 2-5 ")
    sheet = decode_sheet((tmp_path / "contact_sheet.png").read_bytes())
    assert sheet.any() and coloured_pixels(sheet) > 0  # each digit's box, in its colour
    card = (tmp_path / "README.md").read_text()
    assert card.startswith("---\n") and "cc-by-sa-3.0" in card and manifest["command"] in card


def test_duplicates_are_counted(tmp_path, sample_data):
    # Ten numbers cycled through 40 images of plain one-digit numbers from a 100-per-digit sample.
    spec = {"count": 40, "shard_size": 40, "numbers": ["7"], "seed": 1, "image_width": 28}
    manifest = make_dataset(spec, tmp_path, workers=1, data=sample_data)
    assert manifest["report"]["duplicates"] > 0
    assert (tmp_path / "numbers.txt").read_text() == "7\n"
    assert f"--numbers-file {tmp_path / 'numbers.txt'} --numbers-mode cycle" in manifest["command"]


def test_an_interrupted_run_leaves_only_whole_shards_and_resumes(tmp_path, sample_data, monkeypatch, caplog):
    reference = tmp_path / "reference"
    make_dataset(SPEC, reference, workers=1, data=sample_data)

    out = tmp_path / "out"
    real_run_shard = engine.run_shard
    calls = []

    def interrupted(plan, output, generator, k, staging):
        calls.append(k)
        if len(calls) == 2:
            # Half a shard in staging, then Ctrl-C.
            (staging / "shard-00001.npz").write_bytes(b"PK\x03\x04 half")
            raise KeyboardInterrupt
        return real_run_shard(plan, output, generator, k, staging)

    monkeypatch.setattr(engine, "run_shard", interrupted)
    with pytest.raises(KeyboardInterrupt):
        make_dataset(SPEC, out, workers=1, data=sample_data)
    assert shard_files(out) == ["shard-00000.npz"]
    assert not any((out / ".hng" / "tmp").iterdir()), "staging must be cleaned up"
    assert not (out / "manifest.json").exists()

    monkeypatch.setattr(engine, "run_shard", real_run_shard)
    caplog.set_level(logging.INFO, logger="hng")
    manifest = make_dataset(SPEC, out, workers=1, data=sample_data)
    assert any("resuming: 1 of 3 shards already made" in line for line in caplog.messages)
    assert manifest["run"]["shards_skipped"] == 1 and manifest["run"]["shards_made"] == 2
    assert checksums(out) == checksums(reference)
    # Timing covers the whole dataset only when one run made every shard.
    assert manifest["report"]["seconds"] is None


@pytest.mark.parametrize("workers", [1, 2])
def test_the_test_pause_holds_a_run_after_its_first_shards_until_released(
    tmp_path, sample_data, monkeypatch, workers
):
    """HNG_TEST_PAUSE_AFTER_SHARDS (test-only): the run makes exactly N shards, writes the marker, makes
    nothing more while it exists, and finishes once it is removed."""
    spec = {**SPEC, "count": 100}  # 5 shards
    marker = tmp_path / "paused"
    monkeypatch.setenv("HNG_TEST_PAUSE_AFTER_SHARDS", f"2:{marker}")
    out = tmp_path / "out"
    with ThreadPoolExecutor(1) as pool:
        run = pool.submit(make_dataset, spec, out, workers=workers, data=sample_data)
        deadline = time.monotonic() + 120  # a hang guard only
        while not marker.exists():
            assert not run.done(), run.result()
            assert time.monotonic() < deadline, "the run never paused"
            time.sleep(0.01)
        records = sorted(p.name for p in (out / ".hng" / "shards").glob("*.json"))
        assert records == ["shard-00000.npz.json", "shard-00001.npz.json"]
        assert shard_files(out) == ["shard-00000.npz", "shard-00001.npz"] and not run.done()
        marker.unlink()
        manifest = run.result(timeout=120)
    assert [s["images"] for s in manifest["shards"]] == [20] * 5


def test_a_damaged_shard_is_made_again(tmp_path, sample_data):
    make_dataset(SPEC, tmp_path, workers=1, data=sample_data)
    before = checksums(tmp_path)
    (tmp_path / "shard-00001.npz").write_bytes(b"garbage")
    (tmp_path / "shard-00002.npz").unlink()
    manifest = make_dataset(SPEC, tmp_path, workers=2, data=sample_data)
    assert manifest["run"] == {**manifest["run"], "shards_skipped": 1, "shards_made": 2}
    assert checksums(tmp_path) == before


def test_rerunning_without_a_seed_adopts_the_plans_seed(tmp_path, sample_data):
    spec = {k: v for k, v in SPEC.items() if k != "seed"}
    first = make_dataset(spec, tmp_path, workers=1, data=sample_data)
    again = make_dataset(spec, tmp_path, workers=1, data=sample_data)
    assert again["spec"]["seed"] == first["spec"]["seed"]
    assert again["run"]["shards_skipped"] == 3


def test_another_spec_is_refused_unless_overwrite(tmp_path, sample_data):
    make_dataset(SPEC, tmp_path, workers=1, data=sample_data)
    with pytest.raises(ValueError, match=r"holds another dataset \(count: 50 → 60\).*--overwrite"):
        make_dataset({**SPEC, "count": 60}, tmp_path, workers=1, data=sample_data)
    (tmp_path / "notes.txt").write_text("mine")
    manifest = make_dataset(
        {**SPEC, "count": 60, "format": "webdataset"}, tmp_path, overwrite=True, data=sample_data
    )
    assert manifest["images"] == 60
    assert shard_files(tmp_path) == ["shard-00000.tar", "shard-00001.tar", "shard-00002.tar"]
    assert (tmp_path / "notes.txt").read_text() == "mine", "overwrite removes only what hng wrote"


def test_a_foreign_folder_or_a_file_is_refused(tmp_path, sample_data):
    (tmp_path / "photos").mkdir()
    (tmp_path / "photos" / "cat.jpg").write_bytes(b"x")
    with pytest.raises(ValueError, match=r"is not empty .*photos.* no hng dataset plan"):
        make_dataset(SPEC, tmp_path, data=sample_data)
    target = tmp_path / "file"
    target.write_text("x")
    with pytest.raises(ValueError, match="out must be a folder"):
        make_dataset(SPEC, target, data=sample_data)


def test_shards_made_in_parts_then_finalized_equal_one_run(tmp_path, sample_data):
    whole = make_dataset(SPEC, tmp_path / "whole", workers=2, data=sample_data)
    parts = tmp_path / "parts"
    first = make_dataset(SPEC, parts, shards="0:2", workers=1, data=sample_data)
    assert "report" not in first and first["run"]["shards_made"] == 2
    assert not (parts / "manifest.json").exists()
    with pytest.raises(IncompleteDataset, match=r"1 of 3 shards .*shards 2\).*--shards 2:3") as caught:
        finalize_dataset(parts, data=sample_data)
    assert caught.value.missing == [2]
    make_dataset(SPEC, parts, shards="2:", workers=1, data=sample_data)
    manifest = finalize_dataset(parts, data=sample_data)
    assert manifest["shards"] == whole["shards"]
    assert manifest["report"]["seconds"] is None and manifest["report"]["shard_seconds_total"] > 0


def test_finalize_refuses_a_damaged_shard(tmp_path, sample_data):
    make_dataset({**SPEC, "format": "imagefolder"}, tmp_path, workers=1, data=sample_data)
    next((tmp_path / "shard-00001").glob("*.png")).unlink()
    with pytest.raises(IncompleteDataset, match="shards 1"):
        finalize_dataset(tmp_path, data=sample_data)


@pytest.mark.parametrize("shards", ["3", "2:1", "0:4", "a:b", "5:"])
def test_bad_shard_ranges(tmp_path, sample_data, shards):
    with pytest.raises(ValueError, match="shards"):
        make_dataset(SPEC, tmp_path, shards=shards, data=sample_data)


@pytest.mark.parametrize(("workers", "error"), [(0, ValueError), ("2", TypeError), (True, TypeError)])
def test_bad_worker_counts(tmp_path, sample_data, workers, error):
    with pytest.raises(error, match="workers"):
        make_dataset(SPEC, tmp_path, workers=workers, data=sample_data)


@pytest.fixture
def s3(aws_env):
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket="data")
        yield client


# The files of a 20-image folder shard: imagefolder's PNGs + metadata.jsonl; yolo's PNGs, label files and
# hng.jsonl; voc's PNGs, XMLs, ImageSets/Main/train.txt and hng.jsonl.
@pytest.mark.parametrize(("fmt", "files"), [("npz", 1), ("imagefolder", 21), ("yolo", 41), ("voc", 42)])
def test_s3_output_matches_local_and_resumes(tmp_path, sample_data, s3, fmt, files):
    spec = {**SPEC, "format": fmt}
    local = make_dataset(spec, tmp_path, workers=1, data=sample_data)
    # One worker: moto's in-process S3 lives in this process only.
    remote = make_dataset(spec, "s3://data/sets/a", workers=1, data=sample_data)
    assert remote["shards"] == local["shards"]
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="data", Prefix="sets/a/")["Contents"]]
    assert "sets/a/manifest.json" in keys and "sets/a/README.md" in keys and "sets/a/plan.json" in keys
    name = get_format(fmt).shard_name(0)
    if fmt == "npz":
        body = s3.get_object(Bucket="data", Key=f"sets/a/{name}")["Body"].read()
        assert (tmp_path / name).read_bytes() == body
    else:
        assert sum(k.startswith(f"sets/a/{name}/") for k in keys) == files
    again = make_dataset(spec, "s3://data/sets/a", workers=1, data=sample_data)
    assert again["run"]["shards_skipped"] == 3


def test_s3_finalize_finds_a_missing_shard(sample_data, s3):
    make_dataset(SPEC, "s3://data/x", workers=1, data=sample_data)
    s3.delete_object(Bucket="data", Key="x/shard-00000.npz")
    with pytest.raises(IncompleteDataset, match="shards 0"):
        finalize_dataset("s3://data/x", data=sample_data)


def test_stream_gives_the_shards_disjointly(tmp_path, sample_data):
    make_dataset(SPEC, tmp_path, workers=1, data=sample_data)
    fmt = get_format("npz")
    files = [fmt.read(tmp_path / fmt.shard_name(k), k, 20 * k) for k in range(3)]
    parts = [list(stream(SPEC, shard=w, num_shards=2, data=sample_data)) for w in range(2)]
    assert [len(p) for p in parts] == [2, 1]  # worker 0: shards 0 and 2; worker 1: shard 1
    for (images, labels, boxes), k in zip([*parts[0], *parts[1]], [0, 2, 1], strict=True):
        assert np.array_equal(images, files[k].images)
        assert np.array_equal(labels, files[k].labels)
        assert np.array_equal(boxes, files[k].boxes)
    whole = list(stream(SPEC, data=sample_data))
    assert sum(len(labels) for _, labels, _ in whole) == 50
    with pytest.raises(ValueError, match="both shard and num_shards"):
        next(stream(SPEC, shard=1, data=sample_data))
    with pytest.raises(ValueError, match="shard must be an integer in 0-1"):
        next(stream(SPEC, shard=2, num_shards=2, data=sample_data))


def test_specs_and_mappings_are_both_accepted(tmp_path, sample_data):
    spec = DatasetSpec.build(**SPEC)
    assert make_dataset(spec, tmp_path, data=sample_data, workers=1)["spec"] == spec.to_json()
    with pytest.raises(TypeError, match="spec must be a DatasetSpec"):
        make_dataset([1, 2], tmp_path / "x", data=sample_data)


def test_finalize_loads_each_shard_so_a_consistent_but_broken_one_is_caught(tmp_path, sample_data):
    make_dataset({**SPEC, "shard_size": 5}, tmp_path, workers=1, data=sample_data)  # 10 shards
    shard = tmp_path / "shard-00002.npz"  # not one of the four the report samples (0, 3, 6, 9)
    shard.write_bytes(shard.read_bytes()[:-100])  # truncated, and its record made to agree
    record_path = tmp_path / ".hng" / "shards" / "shard-00002.npz.json"
    record = json.loads(record_path.read_text())
    record.update(sha256=sha256_path(shard), bytes=shard.stat().st_size)
    record_path.write_text(json.dumps(record))
    finalize_dataset(tmp_path, data=sample_data, verify="checksum")  # checksums alone agree
    with pytest.raises(IncompleteDataset, match="shards 2"):
        finalize_dataset(tmp_path, data=sample_data)
    # A sampled shard that does not load is reported the same way, even without load_shards.
    sampled = tmp_path / "shard-00003.npz"
    sampled.write_bytes(b"PK")
    record_path = tmp_path / ".hng" / "shards" / "shard-00003.npz.json"
    record = json.loads(record_path.read_text())
    record.update(sha256=sha256_path(sampled), bytes=2)
    record_path.write_text(json.dumps(record))
    with pytest.raises(IncompleteDataset, match=r"shard-00003\.npz is not a whole npz shard"):
        finalize_dataset(tmp_path, data=sample_data, verify="size")


def test_image_digests_see_every_pixel_and_not_the_padding(generator):
    import dataclasses

    from hng.datasets.engine import image_digests
    from hng.datasets.shard import make_shard

    shard = make_shard(DatasetSpec.build(count=40, digits="2-6", width_per_digit=20, seed=3), 0, generator)
    digests = image_digests(shard, varying_widths=True)
    assert len(set(digests.tolist())) == 40
    wider = dataclasses.replace(shard, images=np.pad(shard.images, ((0, 0), (0, 0), (0, 9))))
    assert np.array_equal(image_digests(wider, varying_widths=True), digests)
    for i, (row, column) in enumerate([(0, 0), (27, 3), (14, 11)]):
        changed = dataclasses.replace(shard, images=shard.images.copy())
        changed.images[i, row, column] ^= 1
        assert (image_digests(changed, varying_widths=True) != digests).tolist() == [
            k == i for k in range(40)
        ]
    twin = dataclasses.replace(shard, images=shard.images.copy())
    twin.images[7] = twin.images[3]
    twin.widths[7] = twin.widths[3]
    again = image_digests(twin, varying_widths=True)
    assert again[7] == again[3]


def test_the_fidelity_classifier_is_cached(sample_data, tmp_path, monkeypatch):
    from hng.quality import fidelity

    monkeypatch.setenv("HNG_CACHE_DIR", str(tmp_path))
    first = fidelity.fidelity_classifier(sample_data, "train")
    (cached,) = tmp_path.glob("fidelity-*-test-*.npz")
    monkeypatch.setattr(fidelity, "fit_classifier", lambda *a, **k: pytest.fail("fitted again"))
    second = fidelity.fidelity_classifier(sample_data, "train")
    assert np.array_equal(first.vectors, second.vectors) and np.array_equal(first.labels, second.labels)
    cached.write_bytes(b"not an npz")
    monkeypatch.undo()
    monkeypatch.setenv("HNG_CACHE_DIR", str(tmp_path))
    third = fidelity.fidelity_classifier(sample_data, "train")  # a broken cache is fitted again
    assert np.array_equal(first.vectors, third.vectors)


def test_overwrite_removes_the_files_the_old_format_wrote_for_the_whole_dataset(tmp_path, sample_data):
    make_dataset({**SPEC, "format": "yolo"}, tmp_path, workers=1, data=sample_data)
    (tmp_path / "notes.txt").write_text("mine")
    assert (tmp_path / "data.yaml").is_file()
    make_dataset({**SPEC, "format": "npz"}, tmp_path, overwrite=True, workers=1, data=sample_data)
    assert not (tmp_path / "data.yaml").exists()
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_a_trainers_cache_in_a_shard_is_not_damage(tmp_path, sample_data):
    # Ultralytics writes labels/{split}.cache into the first shard it reads; the shard is still whole.
    spec = {**SPEC, "format": "yolo"}
    first = make_dataset(spec, tmp_path, workers=1, data=sample_data)
    cache = tmp_path / "shard-00000" / "labels" / "train.cache"
    cache.write_bytes(b"ultralytics cache")
    assert sha256_path(tmp_path / "shard-00000") == first["shards"][0]["sha256"]
    assert finalize_dataset(tmp_path, data=sample_data)["shards"] == first["shards"]  # verify="load"
    again = make_dataset(spec, tmp_path, workers=1, data=sample_data)  # resumes: nothing to make
    assert again["shards"] == first["shards"] and cache.is_file()


@pytest.mark.parametrize("look", [{}, {"style": "ink", "height": 48, "ink": "pens"}])
def test_shards_made_into_one_buffer_are_the_shards_made_alone(generator, look):
    from hng.datasets.shard import ImageBuffer, make_shard

    spec = DatasetSpec.build(count=90, digits="3-5", shard_size=40, seed=5, **look)
    buffer = ImageBuffer()
    first = make_shard(spec, 0, generator, masks=True, buffer=buffer)
    alone = make_shard(spec, 0, generator, masks=True)
    for name in ("images", "masks", "boxes", "indices", "widths"):
        np.testing.assert_array_equal(getattr(first, name), getattr(alone, name))
    kept = first.images
    second = make_shard(spec, 1, generator, buffer=buffer)
    assert second.images is kept  # the same memory, the first shard's images overwritten
    np.testing.assert_array_equal(second.images, make_shard(spec, 1, generator).images)
    last = make_shard(spec, 2, generator, buffer=buffer)  # 10 images: another shape, a new array
    assert last.images.shape[0] == 10 and last.images is not kept


# --- two runs writing one dataset at once (a scheduler's retry starts the same command again) ----------


def test_a_second_process_writing_the_same_folder_keeps_its_staging(tmp_path, sample_data):
    """Run B (another process) pauses after its first shard with its staging folder open; run A makes
    the rest and finalizes (cleaning staging); B then goes on, ends well, and the dataset is whole."""
    import subprocess
    import sys

    from tests.support.cli import wait_for
    from tests.support.paths import REPO, SAMPLE_PATH

    spec = {**SPEC, "count": 100}  # 5 shards
    out = tmp_path / "out"
    marker = tmp_path / "paused"
    script = (
        "import sys; from hng.datasets import make_dataset; "
        f"make_dataset({spec!r}, sys.argv[1], workers=1, data={str(SAMPLE_PATH)!r})"
    )
    env = {**os.environ, "HNG_TEST_PAUSE_AFTER_SHARDS": f"1:{marker}"}
    with (tmp_path / "b.err").open("w") as stderr:
        b = subprocess.Popen([sys.executable, "-c", script, str(out)], cwd=REPO, env=env, stderr=stderr)
    try:
        wait_for(marker.exists, "run B's pause after one shard", 120, b)
        staged = list((out / ".hng" / "tmp").iterdir())
        assert len(staged) == 1 and staged[0].name.split("-")[-2] == str(b.pid)
        dead = out / ".hng" / "tmp" / f"{socket.gethostname()}-999999999-left"  # a killed run's
        dead.mkdir()
        manifest = make_dataset(spec, out, workers=2, data=sample_data)  # run A, to the end
        assert manifest["run"]["shards_skipped"] == 1
        assert staged[0].is_dir() and not dead.exists()  # B's staging stays; the dead run's goes
        marker.unlink()
        assert b.wait(timeout=120) == 0, (tmp_path / "b.err").read_text()
    finally:
        if b.poll() is None:
            b.kill()
            b.wait()
    assert not (out / ".hng" / "tmp").exists()  # each run removed its own
    alone = make_dataset(spec, tmp_path / "alone", workers=1, data=sample_data)
    assert checksums(out) == checksums(tmp_path / "alone") and alone["shards"] == manifest["shards"]
    finalize_dataset(out, data=sample_data)  # every shard loads with its planned count


def test_two_runs_writing_the_same_s3_prefix_both_end_well(tmp_path, sample_data, s3, monkeypatch):
    """On S3 each run stages in a local folder of its own and publishes whole objects: a second run of
    the same spec at the same time writes the same bytes, and both end with the whole dataset."""
    spec = {**SPEC, "count": 100}
    marker = tmp_path / "paused"
    monkeypatch.setenv("HNG_TEST_PAUSE_AFTER_SHARDS", f"2:{marker}")
    with ThreadPoolExecutor(1) as pool:
        b = pool.submit(make_dataset, spec, "s3://data/both", workers=1, data=sample_data)
        deadline = time.monotonic() + 120  # a hang guard only
        while not marker.exists():
            assert not b.done(), b.result()
            assert time.monotonic() < deadline, "run B never paused"
            time.sleep(0.01)
        monkeypatch.delenv("HNG_TEST_PAUSE_AFTER_SHARDS")
        a = make_dataset(spec, "s3://data/both", workers=1, data=sample_data)
        marker.unlink()
        b_manifest = b.result(timeout=120)
    assert a["run"]["shards_skipped"] == 2 and b_manifest["run"]["shards_made"] == 5
    assert [s["sha256"] for s in a["shards"]] == [s["sha256"] for s in b_manifest["shards"]]
    alone = make_dataset(spec, tmp_path / "alone", workers=1, data=sample_data)
    assert [s["sha256"] for s in alone["shards"]] == [s["sha256"] for s in a["shards"]]
    finalize_dataset("s3://data/both", data=sample_data, verify="checksum")
