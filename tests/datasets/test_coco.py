"""The coco shard format, loaded with the real readers its users train from.

What ``hng.make_dataset`` writes (each shard's ``annotations/instances_train.json`` and the merged file at
the root) is loaded with pycocotools' ``COCO`` and supervision's ``DetectionDataset.from_coco``, and
every annotation is compared with the generator's own Shard (made again with ``make_shard``): its mask
(``annToMask``) pixel for pixel, its box, its area, its category. hng's numpy RLE encoder is checked
byte for byte against ``pycocotools.mask.encode``. Also: determinism across worker counts, resume, an S3
output (moto) where the merged file goes through ``Output``, the merge limit, and broken shards.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import shutil
from pathlib import Path
from typing import Any

import boto3
import numpy as np
import pytest
from moto import mock_aws
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO

import hng.datasets.engine as engine
from hng.core.png import decode_png
from hng.core.rle import compress_counts, decode_counts, encode_label_maps, encode_mask, paint_label_maps
from hng.datasets import DatasetSpec, IncompleteDataset, finalize_dataset, make_dataset
from hng.datasets.checksum import sha256_path
from hng.datasets.formats import coco as coco_module
from hng.datasets.formats import format_for, get_format
from hng.datasets.formats.coco import instances_text
from hng.datasets.output import LocalOutput, S3Output
from hng.datasets.plan import PLAN_FILE, Plan
from hng.datasets.shard import Shard, make_shard

SPEC: dict[str, Any] = {"count": 50, "shard_size": 20, "digits": "2-5", "seed": 11, "format": "coco"}
SHARDS = ("shard-00000", "shard-00001", "shard-00002")
INSTANCES = "annotations/instances_train.json"
DIGIT_IDS = list(range(1, 11))


def load_coco(path: Path) -> COCO:
    with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints its progress
        return COCO(str(path))


def checksums(root: Path) -> dict[str, str]:
    return {name: sha256_path(root / name) for name in SHARDS}


def visible(shard: Shard, i: int) -> list[int]:
    """The 1-based positions of image i's digits that have pixels (the others have no object)."""
    n = int(shard.lengths[i])
    return [k + 1 for k, (x0, y0, x1, y1) in enumerate(shard.boxes[i, :n].tolist()) if x1 > x0 and y1 > y0]


def xywh(box: Any) -> list[int]:
    x0, y0, x1, y1 = (int(v) for v in box)
    return [x0, y0, x1 - x0, y1 - y0]


def union_box(shard: Shard, i: int) -> list[int]:
    boxes = shard.boxes[i, [k - 1 for k in visible(shard, i)]]
    return xywh([boxes[:, 0].min(), boxes[:, 1].min(), boxes[:, 2].max(), boxes[:, 3].max()])


def check_against_shard(coco: COCO, shard: Shard, root: Path, *, objects: str = "digits") -> int:
    """Every image and annotation ``coco`` holds for ``shard`` is the generator's: image files (under
    ``root``), ids, categories, masks, boxes, areas. Returns the number of annotations checked."""
    checked = 0
    for i in range(len(shard)):
        index = shard.start + i
        (image,) = coco.loadImgs(index)
        assert (image["width"], image["height"]) == (int(shard.widths[i]), 28)
        assert np.array_equal(decode_png((root / image["file_name"]).read_bytes()), shard.image(i))
        annotations = coco.loadAnns(coco.getAnnIds(imgIds=[index]))
        label, mask = str(shard.labels[i]), shard.mask(i)
        want = []
        if objects in ("digits", "both"):
            want += [
                (index * 65 + k, int(label[k - 1]) + 1, mask == k, xywh(shard.boxes[i, k - 1]))
                for k in visible(shard, i)
            ]
        if objects in ("number", "both") and visible(shard, i):
            want.append((index * 65 + 65, 11, mask > 0, union_box(shard, i)))
        assert [a["id"] for a in annotations] == [w[0] for w in want]
        for a, (_, category, pixels, box) in zip(annotations, want, strict=True):
            assert a["image_id"] == index and a["category_id"] == category and a["iscrowd"] == 0
            assert np.array_equal(coco.annToMask(a), pixels.astype(np.uint8))
            assert a["bbox"] == box and a["area"] == int(pixels.sum())
            rle = coco.annToRLE(a)
            assert mask_utils.toBbox(rle).tolist() == box and int(mask_utils.area(rle)) == a["area"]
            checked += 1
    return checked


@pytest.fixture(scope="module")
def truth(generator) -> list[Shard]:
    """The dataset's shards as the generator makes them, with their masks."""
    spec = DatasetSpec.build(**SPEC)
    return [make_shard(spec, k, generator, masks=True) for k in range(3)]


@pytest.fixture(scope="module")
def made(tmp_path_factory, sample_data) -> tuple[Path, dict[str, Any]]:
    root = tmp_path_factory.mktemp("coco") / "data"
    return root, make_dataset(SPEC, root, workers=1, data=sample_data)


# --- the shards and the merged file with pycocotools ----------------------------------------------------


def test_each_shard_loads_with_pycocotools(made, truth):
    root, _ = made
    for name, shard in zip(SHARDS, truth, strict=True):
        coco = load_coco(root / name / INSTANCES)
        assert coco.getImgIds() == list(range(shard.start, shard.start + len(shard)))
        assert coco.getCatIds() == DIGIT_IDS
        assert [c["name"] for c in coco.loadCats(coco.getCatIds())] == list("0123456789")
        assert {c["supercategory"] for c in coco.loadCats(coco.getCatIds())} == {"digit"}
        assert check_against_shard(coco, shard, root / name) == len(coco.getAnnIds())
        assert len(coco.getAnnIds()) == sum(len(visible(shard, i)) for i in range(len(shard)))
        # The digit "7" as pycocotools finds it: every visible 7 of the labels, and no other.
        sevens = {a["id"] for a in coco.loadAnns(coco.getAnnIds(catIds=[8]))}
        assert sevens == {
            (shard.start + i) * 65 + k
            for i in range(len(shard))
            for k in visible(shard, i)
            if str(shard.labels[i])[k - 1] == "7"
        }


def test_the_merged_file_loads_from_the_root_and_joins_the_shards(made, truth):
    root, manifest = made
    merged = root / INSTANCES
    coco = load_coco(merged)
    assert coco.getImgIds() == list(range(50)) and coco.getCatIds() == DIGIT_IDS
    assert coco.loadImgs(20)[0]["file_name"] == "shard-00001/images/000000020.png"
    assert sum(check_against_shard(coco, shard, root) for shard in truth) == len(coco.getAnnIds())
    # The shards' annotations as they are, in order; ids unique across the dataset and never 0.
    parts = [json.loads((root / name / INSTANCES).read_text()) for name in SHARDS]
    whole = json.loads(merged.read_text())
    assert whole["annotations"] == [a for part in parts for a in part["annotations"]]
    assert whole["categories"] == parts[0]["categories"] and whole["info"] == parts[0]["info"]
    ids = [a["id"] for a in whole["annotations"]]
    assert len(set(ids)) == len(ids) and min(ids) > 0
    # Compact JSON in COCO's key order, byte for byte what json.dumps gives.
    text = merged.read_text()
    assert text == json.dumps(whole, separators=(",", ":")) + "\n"
    assert list(whole) == ["info", "licenses", "images", "annotations", "categories"]
    assert list(whole["annotations"][0]) == [
        "id", "image_id", "category_id", "segmentation", "area", "bbox", "iscrowd"
    ]  # fmt: skip
    assert "date_created" not in whole["info"]
    assert manifest["format"] == {
        "files": [INSTANCES],
        "merged": True,
        "annotation_file": INSTANCES,
        "images": 50,
        "merge_limit": 1_000_000,
        "annotations": len(ids),
    }


def test_the_card_gives_the_loading_lines(made):
    root, _ = made
    card = (root / "README.md").read_text()
    assert f'coco = COCO("path/to/dataset/{INSTANCES}")' in card
    assert (
        f'register_coco_instances("hng_train", {{}}, "path/to/dataset/{INSTANCES}", "path/to/dataset")'
        in card
    )
    assert f'dataset = CocoDetection("path/to/dataset", "path/to/dataset/{INSTANCES}")' in card
    assert "INPUT.MASK_FORMAT bitmask MODEL.ROI_HEADS.NUM_CLASSES 10" in card
    assert "`shard-00000` … `shard-00002`" in card and "shard-00000/images/KEY.png" in card
    assert "num_classes=11" in card
    # The test split, numbers only, one shard: the names, classes and ids follow.
    manifest = {"spec": {"split": "test", "objects": "number"}, "shards": [{"name": "shard-00000"}]}
    lines = "\n".join(get_format("coco").card_lines({**manifest, "format": {"merged": True}}))
    assert (
        'register_coco_instances("hng_test", {}, "path/to/dataset/annotations/instances_test.json"' in lines
    )
    assert "NUM_CLASSES 1`" in lines and "num_classes=12" in lines and "(`shard-00000`)" in lines
    assert '`category_id` 11 ("number")' in lines and "digit + 1" not in lines


def test_read_gives_back_the_shard_and_its_masks(made, truth):
    root, _ = made
    fmt = get_format("coco")
    for name, shard in zip(SHARDS, truth, strict=True):
        got = fmt.read(root / name, shard.index, shard.start)
        for array in ("images", "widths", "labels", "lengths", "boxes", "seeds", "indices", "masks"):
            assert np.array_equal(getattr(got, array), getattr(shard, array)), array
        assert got.split == "train" and fmt.count(root / name) == len(shard)


# --- the encoder ----------------------------------------------------------------------------------------


def pycocotools_counts(mask: np.ndarray) -> str:
    return mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))["counts"].decode()


def test_the_rle_encoder_is_byte_compatible_with_pycocotools(truth):
    masks = []
    for shard in truth:
        for i in range(len(shard)):
            masks += [shard.mask(i) == k for k in visible(shard, i)] + [shard.mask(i) > 0]
    rng = np.random.default_rng(3)
    for _ in range(100):  # noise of every density, and shapes down to one pixel
        h, w = rng.integers(1, 40, 2)
        masks.append(rng.random((h, w)) < rng.random())
    corners = np.zeros((28, 4096), dtype=bool)
    corners[0, 0] = corners[27, 4095] = True  # a run at each end of the longest image
    masks += [np.zeros((28, 5), bool), np.ones((28, 5), bool), np.ones((1, 1), bool), corners]
    band = np.zeros((28, 4096), dtype=bool)
    band[3:20, 100:4000] = True  # long runs: counts that need several 5-bit groups, deltas of both signs
    masks.append(band)
    assert len(masks) > 300
    for mask in masks:
        assert encode_mask(mask) == pycocotools_counts(mask)
    # What the shard files hold is pycocotools' encoding of the generator's masks.
    shard = truth[0]
    text = instances_text(shard, "both")
    files = json.loads(text)
    assert text == json.dumps(files, separators=(",", ":")) + "\n"  # hng formats it itself
    assert any("\\" in a["segmentation"]["counts"] for a in files["annotations"]), "escapes are exercised"
    for a in files["annotations"]:
        i, slot = divmod(a["id"] - 1, 65)
        i, slot = i - shard.start, slot + 1
        pixels = shard.mask(i) > 0 if slot == 65 else shard.mask(i) == slot
        assert a["segmentation"] == {"size": [28, int(shard.widths[i])], "counts": pycocotools_counts(pixels)}


def test_the_decoder_inverts_the_encoder_and_refuses_what_is_not_an_rle(truth):
    shard = truth[1]
    images = np.repeat(np.arange(len(shard)), shard.lengths)
    labels = np.concatenate([np.arange(1, n + 1) for n in shard.lengths])
    strings, areas = encode_label_maps(shard.masks, shard.widths, images, labels)
    counts, offsets = decode_counts(strings)
    for s, text in enumerate(strings):
        run = counts[offsets[s] : offsets[s + 1]]
        assert compress_counts(run.tolist()) == text
        assert int(run[1::2].sum()) == areas[s] == int((shard.mask(images[s]) == labels[s]).sum())
    painted = paint_label_maps(shard.masks.shape, counts, offsets, images, labels, shard.widths)
    assert np.array_equal(painted, shard.masks)
    for bad, reason in [
        ("", "empty"),
        ("0\x7f", "outside"),
        ("P", "ends inside a value"),  # 'P' = 48 + 0x20: a continuation with nothing after it
        ("é", "non-ASCII"),
    ]:
        with pytest.raises(ValueError, match=reason):
            decode_counts([bad])
    with pytest.raises(ValueError, match="negative run length"):
        decode_counts(["1O"])  # 1, then -1 ('O' = 48 + 31: sign bit 0x10 set, no continuation 0x20)
    with pytest.raises(ValueError, match="covers 3 pixels"):
        paint_label_maps(
            (1, 2, 2), np.array([1, 2]), np.array([0, 2]), np.array([0]), np.array([1]), np.array([2])
        )
    with pytest.raises(ValueError, match="share a pixel"):
        two = np.array([0, 2, 2, 0, 2, 2])
        paint_label_maps(
            (1, 2, 2), two, np.array([0, 3, 6]), np.array([0, 0]), np.array([1, 2]), np.array([2])
        )
    with pytest.raises(ValueError, match="has no pixel"):
        encode_label_maps(np.zeros((1, 28, 4), np.uint8), np.array([4]), np.array([0]), np.array([1]))
    with pytest.raises(ValueError, match="listed twice"):
        encode_label_maps(np.ones((1, 28, 4), np.uint8), np.array([4]), np.array([0, 0]), np.array([1, 1]))


# --- supervision ----------------------------------------------------------------------------------------


def test_supervision_loads_a_shard_with_its_boxes_and_masks(made, truth):
    import supervision as sv

    root, _ = made
    shard = truth[2]
    folder = root / SHARDS[2]
    ds = sv.DetectionDataset.from_coco(
        images_directory_path=str(folder), annotations_path=str(folder / INSTANCES), force_masks=True
    )
    assert ds.classes == list("0123456789") and len(ds) == len(shard)
    for path, detections in ds.annotations.items():
        i = int(Path(path).stem) - shard.start
        positions = visible(shard, i)
        boxes = np.array([shard.boxes[i, k - 1] for k in positions], dtype=float)
        assert np.array_equal(detections.xyxy, boxes)
        assert detections.class_id.tolist() == [int(str(shard.labels[i])[k - 1]) for k in positions]
        assert np.array_equal(detections.mask, np.stack([shard.mask(i) == k for k in positions]))
        assert detections.data["area"].tolist() == [float((shard.mask(i) == k).sum()) for k in positions]


# --- objects, invisible digits, options -----------------------------------------------------------------


@pytest.mark.parametrize("objects", ["number", "both"])
def test_number_objects(tmp_path, truth, objects):
    fmt = format_for(DatasetSpec.build(**SPEC, objects=objects))
    shard = truth[0]
    fmt.write(shard, tmp_path / "shard-00000")
    coco = load_coco(tmp_path / "shard-00000" / INSTANCES)
    assert coco.getCatIds() == (DIGIT_IDS if objects == "both" else []) + [11]
    (number,) = coco.loadCats(11)
    assert number == {"id": 11, "name": "number", "supercategory": "number"}
    check_against_shard(coco, shard, tmp_path / "shard-00000", objects=objects)
    assert len(coco.getAnnIds(catIds=[11])) == len(shard)
    got = fmt.read(tmp_path / "shard-00000", 0, 0)
    # Digit objects hold every digit's pixels; the number's alone do not say which digit a pixel is.
    assert got.masks is None if objects == "number" else np.array_equal(got.masks, shard.masks)


def test_a_digit_squeezed_out_of_sight_has_no_annotation(tmp_path, generator):
    spec = DatasetSpec.build(count=200, shard_size=200, digits="4-8", image_width=6, seed=5, format="coco")
    shard = make_shard(spec, 0, generator, masks=True)
    hidden = sum(int(shard.lengths[i]) - len(visible(shard, i)) for i in range(len(shard)))
    assert hidden > 0, "the spec must squeeze some digit out of sight"
    fmt = format_for(spec)
    fmt.write(shard, tmp_path / "shard-00000")
    coco = load_coco(tmp_path / "shard-00000" / INSTANCES)
    assert check_against_shard(coco, shard, tmp_path / "shard-00000") == int(shard.lengths.sum()) - hidden
    assert np.array_equal(fmt.read(tmp_path / "shard-00000", 0, 0).masks, shard.masks)


def test_the_format_always_uses_masks_and_takes_the_options():
    plain = format_for(DatasetSpec.build(**SPEC))
    assert plain.masks and plain.objects == "digits"
    stored = format_for(DatasetSpec.build(**SPEC, masks=True, objects="both"))
    assert stored.masks and stored.objects == "both"
    fmt = get_format("coco")
    assert (fmt.holds_masks, fmt.uses_masks, fmt.takes_objects) == (True, True, True)


# --- the engine: determinism, resume, the merge limit, overwrite ----------------------------------------


def test_one_and_two_workers_write_the_same_bytes(made, tmp_path, sample_data):
    root, manifest = made
    two = make_dataset(SPEC, tmp_path, workers=2, data=sample_data)
    assert checksums(tmp_path) == checksums(root)
    assert [s["sha256"] for s in two["shards"]] == [s["sha256"] for s in manifest["shards"]]
    assert (tmp_path / INSTANCES).read_bytes() == (root / INSTANCES).read_bytes()


def test_an_interrupted_run_resumes_to_the_same_dataset(made, tmp_path, sample_data, monkeypatch):
    root, _ = made
    real_run_shard = engine.run_shard
    calls = []

    def interrupted(plan, output, generator, k, staging):
        calls.append(k)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real_run_shard(plan, output, generator, k, staging)

    monkeypatch.setattr(engine, "run_shard", interrupted)
    with pytest.raises(KeyboardInterrupt):
        make_dataset(SPEC, tmp_path, workers=1, data=sample_data)
    assert sorted(p.name for p in tmp_path.iterdir()) == [".hng", "plan.json", "shard-00000"]
    monkeypatch.setattr(engine, "run_shard", real_run_shard)
    manifest = make_dataset(SPEC, tmp_path, workers=1, data=sample_data)
    assert manifest["run"]["shards_skipped"] == 1 and manifest["run"]["shards_made"] == 2
    assert checksums(tmp_path) == checksums(root)
    assert (tmp_path / INSTANCES).read_bytes() == (root / INSTANCES).read_bytes()


def test_above_the_merge_limit_the_shards_files_are_the_ones_to_use(made, tmp_path, sample_data, monkeypatch):
    root, _ = made
    copy = tmp_path / "data"
    shutil.copytree(root, copy)
    shutil.rmtree(copy / "annotations")
    monkeypatch.setattr(coco_module, "MERGE_LIMIT", 49)
    manifest = finalize_dataset(copy, data=sample_data)
    assert not (copy / "annotations").exists()
    assert manifest["format"] == {
        "files": [],
        "merged": False,
        "annotation_file": INSTANCES,
        "images": 50,
        "merge_limit": 49,
    }
    card = (copy / "README.md").read_text()
    assert "more than the 49 a merged file is written for" in card
    assert f'coco = COCO("path/to/dataset/shard-00000/{INSTANCES}")' in card
    assert f'"path/to/dataset/shard-00000/{INSTANCES}", "path/to/dataset/shard-00000")' in card
    # --overwrite removes what hng wrote, the merged file's folder included.
    monkeypatch.undo()
    finalize_dataset(copy, data=sample_data)
    assert (copy / INSTANCES).read_bytes() == (root / INSTANCES).read_bytes()
    make_dataset({**SPEC, "format": "npz"}, copy, workers=1, overwrite=True, data=sample_data)
    assert not (copy / "annotations").exists() and not (copy / "shard-00000").exists()


# --- S3 -------------------------------------------------------------------------------------------------


@pytest.fixture
def s3(aws_env):
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket="data")
        yield client


def test_s3_output_writes_the_same_shards_and_merged_file(made, tmp_path, sample_data, s3):
    root, local = made
    remote = make_dataset(SPEC, "s3://data/sets/c", workers=1, data=sample_data)  # moto: one process
    assert remote["shards"] == local["shards"] and remote["format"] == local["format"]
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="data", Prefix="sets/c/")["Contents"]]
    assert sum(k.startswith("sets/c/shard-00000/") for k in keys) == 22  # 20 PNGs, the instances, hng.jsonl
    body = s3.get_object(Bucket="data", Key=f"sets/c/{INSTANCES}")["Body"].read()
    assert body == (root / INSTANCES).read_bytes()
    (tmp_path / "merged.json").write_bytes(body)
    assert load_coco(tmp_path / "merged.json").getImgIds() == list(range(50))
    again = make_dataset(SPEC, "s3://data/sets/c", workers=1, data=sample_data)
    assert again["run"]["shards_skipped"] == 3
    # The format's dataset_files read each shard's file through the output: one missing is named.
    s3.delete_object(Bucket="data", Key=f"sets/c/shard-00001/{INSTANCES}")
    output = S3Output("data", "sets/c")
    plan = Plan.loads(output.read_text(PLAN_FILE) or "", output.url)
    records = [{"index": k, "name": SHARDS[k], "images": n} for k, n in enumerate([20, 20, 10])]
    with pytest.raises(IncompleteDataset, match=r"shard-00001/annotations/instances_train\.json is missing"):
        format_for(plan.spec).dataset_files(output, plan, records)


def test_s3_write_chunks_uploads_in_parts_and_aborts_on_failure(s3, monkeypatch):
    import hng.datasets.output as output_module

    monkeypatch.setattr(output_module, "PART_SIZE", 5 * 2**20)  # S3's smallest part
    output = S3Output("data", "big")
    data = np.random.default_rng(1).bytes(11 * 2**20 + 17)
    output.write_chunks("a.json", (data[i : i + 2**20] for i in range(0, len(data), 2**20)))
    assert output.read_bytes("a.json") == data
    head = s3.head_object(Bucket="data", Key="big/a.json")
    assert head["ContentLength"] == len(data) and head["ETag"].endswith('-3"')  # three parts

    def failing():
        yield data[: 6 * 2**20]
        raise RuntimeError("a shard went missing")

    with pytest.raises(RuntimeError, match="went missing"):
        output.write_chunks("b.json", failing())
    assert output.read_bytes("b.json") is None
    assert not s3.list_multipart_uploads(Bucket="data").get("Uploads")
    output.write_chunks("c.json", iter([b"{", b"}"]))  # small: one PutObject
    assert output.read_bytes("c.json") == b"{}"


# --- bad input and broken shards ------------------------------------------------------------------------


def test_write_refuses_a_shard_without_masks_or_split(tmp_path, truth):
    fmt = get_format("coco")
    with pytest.raises(ValueError, match=r"shard 0 cannot be written in the coco format: it holds no masks"):
        fmt.write(dataclasses.replace(truth[0], masks=None), tmp_path / "a")
    with pytest.raises(ValueError, match=r"needs the split train or test, got ''"):
        fmt.write(dataclasses.replace(truth[0], split=""), tmp_path / "b")
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()
    # A box whose digit has no pixel in the mask: boxes and masks disagree, which is a bug upstream.
    masks = truth[0].masks.copy()
    masks[0][masks[0] == 1] = 0
    with pytest.raises(ValueError, match=r"shard 0 cannot be written: object 0 .* has no pixel"):
        fmt.write(dataclasses.replace(truth[0], masks=masks), tmp_path / "c")


def test_count_and_read_refuse_broken_shards(made, tmp_path):
    root, _ = made
    fmt = get_format("coco")
    whole = root / SHARDS[0]

    def edit(text: str, change) -> str:
        doc = json.loads(text)
        change(doc)
        return json.dumps(doc, separators=(",", ":"))

    def set_first(field: str, value: Any):
        return lambda doc: doc["annotations"][0].__setitem__(field, value)

    def broken(change) -> Path:
        path = tmp_path / "shard-00007"
        shutil.rmtree(path, ignore_errors=True)
        shutil.copytree(whole, path)
        change(path)
        return path

    def instances(path: Path) -> Path:
        return path / INSTANCES

    def stray(path: Path) -> None:
        (path / "annotations" / "extra.json").write_text("{}")

    def rewrite(change):
        return lambda p: instances(p).write_text(edit(instances(p).read_text(), change))

    cases = {
        f"{INSTANCES} is missing": lambda p: instances(p).unlink(),
        "JSONDecodeError": lambda p: instances(p).write_text(instances(p).read_text()[:-40]),
        "its annotations are not the objects": rewrite(set_first("bbox", [0, 0, 1, 1])),
        "not the objects": rewrite(lambda doc: doc["annotations"].pop()),
        "its images are not those 20": rewrite(lambda doc: doc["images"][3].__setitem__("width", 99)),
        "categories are not those hng writes": rewrite(lambda doc: doc["categories"].pop()),
        "segmentation size or iscrowd": rewrite(set_first("iscrowd", 1)),
        "files hng.jsonl does not list: annotations/extra.json": stray,
    }
    for reason, change in cases.items():
        with pytest.raises(ValueError, match=rf"^shard-00007 is not a whole coco shard: .*{reason}"):
            fmt.count(broken(change))
    # An RLE that no longer covers its image: counting does not decode the RLEs (the checksum covers
    # their bytes), reading does.
    path = broken(rewrite(lambda doc: doc["annotations"][0]["segmentation"].__setitem__("counts", "0")))
    assert fmt.count(path) == 20
    with pytest.raises(ValueError, match="an RLE does not cover its image"):
        fmt.read(path, 0, 0)
    with pytest.raises(FileNotFoundError):
        fmt.read(tmp_path / "missing", 0, 0)


def test_dataset_files_name_a_shard_that_is_not_this_datasets(made, tmp_path):
    root, _ = made
    copy = tmp_path / "data"
    shutil.copytree(root, copy)
    output = LocalOutput(copy)
    plan = Plan.loads((copy / PLAN_FILE).read_text(), str(copy))
    records = [{"index": k, "name": SHARDS[k], "images": n} for k, n in enumerate([20, 20, 10])]
    fmt = format_for(DatasetSpec.build(**SPEC, objects="both"))  # the shards hold digit objects only
    with pytest.raises(IncompleteDataset, match=r"shard-00000/annotations/instances_train\.json is not this"):
        fmt.dataset_files(output, plan, records)
    (copy / "shard-00002" / INSTANCES).write_text('{"images":[')
    with pytest.raises(IncompleteDataset, match=r"--shards 2:3") as caught:
        format_for(plan.spec).dataset_files(output, plan, records)
    assert caught.value.missing == [2]
    assert (copy / INSTANCES).read_bytes() == (root / INSTANCES).read_bytes(), "a failed merge leaves it be"
