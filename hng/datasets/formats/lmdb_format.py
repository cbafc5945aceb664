"""The lmdb shard format: an LMDB environment per shard, as deep-text-recognition-benchmark and MMOCR read.

A shard is a folder ``shard-00000/`` holding two files. ``data.mdb`` is the LMDB environment, with the keys
of DTRB's ``create_lmdb_dataset.py`` and nothing else (image i of the shard is number i + 1: numbering
starts at 1 in every shard):

- ``image-%09d``: the image file's bytes (``Shard.encoded_image``): PNG, 8-bit grey or RGB, H x width, or
  with ``--image-encoding jpeg`` JPEG. DTRB reads them with ``PIL.Image.open(...).convert("RGB")`` with
  its ``--rgb`` flag, else ``.convert("L")``: either encoding, either channels;
- ``label-%09d``: its label, UTF-8;
- ``num-samples``: how many images, ASCII decimal.

``hng.jsonl`` is hng's record of every image, as in the folder formats (``{"image": "image-000000001",
**Shard.record(i)}``, compact, in order), so that hng can count, check and read the shard back (seeds
and MNIST indices, which no trainer reads). It sits beside data.mdb rather than inside it: data.mdb
then holds exactly what DTRB and MMOCR read, the records stay readable without LMDB, and LMDB readers
ignore other files in the folder.

Writing: ``lock=False``, so no ``lock.mdb`` is ever created; one write transaction putting the keys in
sorted order with ``append=True`` (images, labels, then num-samples: ``i`` < ``l`` < ``n``), so pages are
filled in order and none is freed. The map size (``map_size``) comes from the shard's dimensions: twice
the most its images could take (each image file at its incompressible worst, plus a page of rounding),
rounded up to MiB. The file never reaches it (it grows only as pages are written); LMDB records it in
data.mdb's meta page, and readers need not know it (a read-only open maps the file at its own size). Two
writes of the same shard give the same data.mdb byte for byte (tested, also through the engine with 1
and 2 workers) on machines of the same page size: LMDB's page is the OS page, 4 KiB on x86-64 (arm64
kernels may use 4, 16 or 64 KiB), and a machine with other pages writes other, equally valid, bytes.

Readers must open a shard with ``lock=False`` (as DTRB and MMOCR do): LMDB opened with locking creates
``lock.mdb`` in the shard's folder, which then no longer matches its checksum (and ``count`` refuses it).
"""

from __future__ import annotations

import json
import mmap
import os
import struct
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from hng.core.compose import HEIGHT
from hng.core.encoding import decode_image
from hng.datasets.formats import (
    ImageFiles,
    RecordFormat,
    Scan,
    ShardProblem,
    image_phrase,
    record_problem,
    shard_from_scan,
    spec_image_kind,
)
from hng.datasets.formats.folder import RECORDS
from hng.datasets.shard import Shard

if TYPE_CHECKING:
    import lmdb

    from hng.datasets.output import Output
    from hng.datasets.plan import Plan

DATA = "data.mdb"
IMAGE_KEY = "image-%09d"
LABEL_KEY = "label-%09d"
NUM_SAMPLES = b"num-samples"
_MIB = 1 << 20

# LMDB's meta page (lmdb.h, mdb.c; 64-bit builds): a 16-byte page header, then MDB_meta: magic, version,
# address, map size, the free and main databases (48 bytes each; the free one's first field is the page
# size), the last page number and the transaction id. Pages 0 and 1 are meta pages; the newer one counts.
_MAGIC = 0xBEEFC0DE
_VERSION = 1
_META = struct.Struct("<II Q Q I 44x 48x Q Q")  # from the end of the page header


def page_size() -> int:
    """LMDB's page size here: the operating system's."""
    return mmap.PAGESIZE


def map_size(
    images: int,
    width: int,
    digits: int,
    psize: int | None = None,
    *,
    height: int = HEIGHT,
    channels: int = 1,
    encoding: str = "png",
) -> int:
    """The map size of a shard of ``images`` images of ``height`` rows and ``channels`` up to ``width``
    pixels wide, encoded as ``encoding``, with labels up to ``digits`` digits: twice the most its keys and
    values could take, rounded up to MiB.

    An image takes at most: its file, incompressible, a page of overflow rounding, its label, and 2 keys
    with their node headers; twice that covers half-full pages and the tree's branch pages. A PNG at
    its worst holds ``height`` rows of a filter byte and ``width * channels`` bytes, zlib's stored blocks
    and the PNG chunks. A JPEG is bounded by 2 bytes per sample of its frame padded to 16 x 16 blocks
    plus 2 KiB of headers (white noise at quality 100, the worst measured, takes 1.6)."""
    psize = psize or page_size()
    raw = height * (width * channels + 1)
    size = raw + raw // 1024 + 256
    if encoding == "jpeg":
        size = max(size, 2 * channels * -(-height // 16) * 16 * -(-width // 16) * 16 + 2048)
    per_image = size + psize + digits + 2 * (16 + 16)
    return -(-(2 * images * per_image + _MIB) // _MIB) * _MIB


def _meta_problem(path: Path) -> str | None:
    """Why ``path`` (a data.mdb) is not a whole LMDB file (None if it is): the newer of its two meta pages
    gives the page size and the last page; the file must hold exactly that many pages. Checked before
    LMDB maps the file: reading a page past the end of a truncated file would kill the process (SIGBUS)."""
    size = path.stat().st_size
    with open(path, "rb") as fh:
        head = fh.read(16 + _META.size)
        if len(head) < 16 + _META.size:
            return f"{DATA} holds {size} bytes, not even a meta page (truncated?)"
        first = _META.unpack_from(head, 16)
        psize = first[4]
        if first[0] != _MAGIC or first[1] != _VERSION or psize < 512 or psize & (psize - 1):
            return f"{DATA} is not an LMDB file (no LMDB meta page)"
        fh.seek(psize)
        second_page = fh.read(16 + _META.size)
    metas = [first]
    if len(second_page) == 16 + _META.size:
        second = _META.unpack_from(second_page, 16)
        if second[0] == _MAGIC and second[1] == _VERSION:
            metas.append(second)
    newest = max(metas, key=lambda meta: meta[6])
    expected = (newest[5] + 1) * psize
    if size != expected:
        return f"{DATA} holds {size} bytes, its meta page says {expected} (truncated?)"
    return None


class LmdbFormat(RecordFormat):
    """An LMDB environment (data.mdb) and hng.jsonl in a folder per shard (see the module docstring)."""

    name = "lmdb"
    suffix = ""

    def write(self, shard: Shard, path: Path, *, compress: bool = False) -> None:
        """Write data.mdb in one transaction, keys in order, then hng.jsonl; ``compress`` is ignored."""
        import lmdb

        self._check(shard)
        path = Path(path)
        path.mkdir()
        n = len(shard)
        size = map_size(
            n,
            int(shard.images.shape[2]),
            int(shard.lengths.max(initial=1)),
            height=shard.height,
            channels=shard.channels,
            encoding=shard.encoding,
        )
        env = lmdb.open(str(path), map_size=size, subdir=True, lock=False, readahead=False, max_dbs=0)
        try:
            with env.begin(write=True) as txn:
                for i in range(n):
                    txn.put(_key(IMAGE_KEY, i), shard.encoded_image(i), append=True)
                for i in range(n):
                    txn.put(_key(LABEL_KEY, i), str(shard.labels[i]).encode("utf-8"), append=True)
                txn.put(NUM_SAMPLES, str(n).encode("ascii"), append=True)
        except lmdb.MapFullError as exc:  # a bug in map_size: say so rather than leave a half shard
            raise RuntimeError(f"shard {shard.index} outgrew its LMDB map size {size}: {exc}") from exc
        finally:
            env.close()
        with open(path / RECORDS, "x", encoding="utf-8", newline="\n") as records:
            for i in range(n):
                line = {"image": IMAGE_KEY % (i + 1), **shard.record(i)}
                records.write(json.dumps(line, separators=(",", ":")) + "\n")

    @contextmanager
    def _reading(self, path: Path) -> Iterator[None]:
        """Turns what reading the shard raises into the ValueError naming it (FileNotFoundError passes)."""
        import lmdb

        try:
            yield
        except FileNotFoundError:
            raise
        except ShardProblem as exc:
            raise self._bad(path, str(exc)) from exc
        except (lmdb.Error, OSError, ValueError, KeyError, IndexError, TypeError) as exc:  # JSON, PNG, …
            raise self._bad(path, f"{type(exc).__name__}: {exc}") from exc

    @contextmanager
    def _open(self, path: Path) -> Iterator[tuple[list[str], lmdb.Transaction, int]]:
        """The shard's hng.jsonl lines, a read transaction of its environment opened as DTRB opens it
        (read-only, no lock file) and its number of keys, once the folder holds data.mdb and hng.jsonl
        alone and data.mdb is whole; ShardProblem otherwise."""
        import lmdb

        if not path.exists():
            raise FileNotFoundError(f"shard folder not found: {path}")
        if not path.is_dir():
            raise ShardProblem("not a folder")
        held = set(os.listdir(path))
        for name in (DATA, RECORDS):
            if name not in held:
                raise ShardProblem(f"no {name}")
        extra = sorted(held - {DATA, RECORDS})
        if extra:
            hint = " (lock.mdb: it was opened with locking)" if "lock.mdb" in extra else ""
            raise ShardProblem(f"files besides {DATA} and {RECORDS}: {', '.join(extra[:5])}{hint}")
        text = (path / RECORDS).read_text(encoding="utf-8")
        if text and not text.endswith("\n"):
            raise ShardProblem(f"{RECORDS} does not end with a newline (truncated?)")
        problem = _meta_problem(path / DATA)
        if problem:
            raise ShardProblem(problem)
        try:
            env = lmdb.open(
                str(path), max_readers=32, readonly=True, lock=False, readahead=False, meminit=False
            )
        except lmdb.Error as exc:
            raise ShardProblem(f"LMDB cannot open {DATA}: {type(exc).__name__}: {exc}") from exc
        try:
            entries = env.stat()["entries"]
            with env.begin() as txn:
                yield text.splitlines(), txn, entries
        finally:
            env.close()

    def read_rows(self, path: Path, index: int, start: int, rows: Sequence[int]) -> Shard:
        """The images ``rows`` only: their hng.jsonl lines and image files, by key."""
        path = Path(path)
        with self._reading(path), self._open(path) as (lines, txn, _):
            records, images = [], []
            files = ImageFiles()
            for row in rows:
                record = json.loads(lines[row])
                name = record.pop("image")
                data = _get(txn, name.encode("ascii"))
                problem = files.problem(data, int(record["width"]))
                if problem:
                    raise ShardProblem(f"{name}: {problem}")
                images.append(decode_image(data))
                records.append(record)
            return shard_from_scan(index, start, Scan(records, images, None, files.kind), rows=list(rows))

    def _scan(self, path: Path, *, decode: bool) -> Scan:
        """Check hng.jsonl line by line, and data.mdb against it: num-samples, each image's file (whole,
        of its record's width, all of the first's kind) and label (its record's), and no other key."""
        path = Path(path)
        with self._reading(path), self._open(path) as (lines, txn, entries):
            count = _num_samples(txn)
            if count != len(lines):
                raise ShardProblem(f"num-samples is {count}, {RECORDS} lists {len(lines)} images")
            if entries != 2 * count + 1:
                raise ShardProblem(f"{entries} keys in {DATA}, not 2 per image and num-samples")
            records: list[dict[str, Any]] = []
            images: list[np.ndarray] = []
            files = ImageFiles()
            previous: int | None = None
            for i, line in enumerate(lines):
                row = json.loads(line)
                if not isinstance(row, dict) or row.get("image") != IMAGE_KEY % (i + 1):
                    raise ShardProblem(f"{RECORDS} line {i + 1} does not name image {IMAGE_KEY % (i + 1)}")
                record = {k: v for k, v in row.items() if k != "image"}
                key = str(record.get("key"))
                problem = record_problem(record, key)
                if problem:
                    raise ShardProblem(f"{RECORDS} line {i + 1}: {problem}")
                if previous is not None and int(key) != previous + 1:
                    raise ShardProblem(f"{RECORDS} line {i + 1}: key {key} follows {previous:09d}")
                previous = int(key)
                data = _get(txn, _key(IMAGE_KEY, i))
                problem = files.problem(data, int(record["width"]))
                if problem:
                    raise ShardProblem(f"{IMAGE_KEY % (i + 1)}: {problem}")
                label = _get(txn, _key(LABEL_KEY, i)).decode("utf-8")
                if label != record["label"]:
                    raise ShardProblem(
                        f"{LABEL_KEY % (i + 1)} is {label[:20]!r}, its record's label {record['label']!r}"
                    )
                records.append(record)
                if decode:
                    images.append(decode_image(data))
            return Scan(records, images, None, files.kind)

    def dataset_files(self, output: Output, plan: Plan, records: list[dict[str, Any]]) -> dict[str, Any]:
        """No file: the facts a reader or a writer of the shards may want."""
        spec = plan.spec
        longest = spec.lengths[1]
        kind = spec_image_kind(spec.to_json())
        width = spec.width_for_length(longest)  # in pixels at the images' height
        return {
            "files": [],
            # The largest map size of any shard (full, widest images, longest labels), for this page size.
            "lmdb_map_size": map_size(
                spec.shard_size,
                width,
                longest,
                height=kind.height,
                channels=kind.channels,
                encoding=kind.encoding,
            ),
            "page_size": page_size(),
            "byte_stable": True,
            "keys": ["image-%09d", "label-%09d", "num-samples"],
            "records": RECORDS,
        }

    def card_lines(self, manifest: Mapping[str, Any]) -> list[str]:
        shards = manifest.get("shards") or []
        first = str(shards[0]["name"]) if shards else self.shard_name(0)
        spec = manifest["spec"]
        longest = spec["digits"][1] if spec.get("digits") else max(len(n) for n in spec["numbers"])
        kind = spec_image_kind(spec)
        return [
            f"Each shard is an LMDB environment, a folder `{first}/` holding `data.mdb` with the keys of "
            f"deep-text-recognition-benchmark (DTRB) and MMOCR: `image-%09d` (the {kind.encoding.upper()} "
            f"file's bytes: {image_phrase(spec)}) and `label-%09d` (UTF-8), numbered from 1 in each shard, "
            "and `num-samples`; "
            "beside it, `hng.jsonl` holds hng's record of each image. Open it read-only with `lock=False`, "
            "as DTRB does (with locking, LMDB adds a `lock.mdb` to the folder):",
            "",
            "```python",
            "import lmdb",
            f'env = lmdb.open("path/to/dataset/{first}", max_readers=32, readonly=True, lock=False, '
            "readahead=False, meminit=False)",
            f"with env.begin() as txn: {kind.suffix[1:]}, label = "
            'txn.get(b"image-000000001"), txn.get(b"label-000000001").decode()',
            "```",
            "",
            '(`int(txn.get(b"num-samples"))` images). With DTRB, every leaf folder under `--train_data` must '
            "be an LMDB, and the dataset's root also holds `.hng/shards/`, so give it a shard, or a folder "
            "of hard-linked copies of the shards (`mkdir dtrb && cp -rl path/to/dataset/shard-* dtrb/`):",
            "",
            "```bash",
            f"python train.py --train_data path/to/dataset/{first} "
            "--valid_data path/to/test-dataset/shard-00000 "
            f"--select_data / --batch_ratio 1 --character 0123456789 --batch_max_length {int(longest)} "
            f"{'--rgb ' if kind.channels == 3 else ''}"
            "--Transformation None --FeatureExtraction VGG --SequenceModeling BiLSTM --Prediction CTC",
            "```",
        ]


def _key(pattern: str, i: int) -> bytes:
    """The key of image i (0-based) of the shard: numbered from 1."""
    return (pattern % (i + 1)).encode("ascii")


def _get(txn: lmdb.Transaction, key: bytes) -> bytes:
    value = txn.get(key)
    if value is None:
        raise ShardProblem(f"no key {key.decode('ascii')}")
    return bytes(value)


def _num_samples(txn: lmdb.Transaction) -> int:
    text = _get(txn, NUM_SAMPLES)
    if not text.isdigit():
        raise ShardProblem(f"num-samples is {text[:20]!r}, not a count")
    return int(text)
