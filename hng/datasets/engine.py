"""The local engine: make a dataset's shards with a process pool, resumably, then finalize it.

Every engine (this one, a ``--shards I:J`` run under Slurm or Kubernetes, and the Step Functions
workers) calls the same ``run_shard``: make shard k, write it in staging, publish it whole, then write
its record. A shard's bytes depend only on the spec, k, the MNIST file and hng's version, never on
which process or machine made it, so runs can be split, resumed and retried freely.

Workers are forked after the MNIST data (and the column bank of the batched path) is loaded, so they
share those pages instead of each loading a copy; each runs OpenCV single-threaded.
"""

from __future__ import annotations

import base64
import contextlib
import itertools
import json
import logging
import mmap
import multiprocessing
import os
import queue
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from hng import __version__
from hng.core.files import file_identity, sha256_file, write_atomically
from hng.core.generation import Generator
from hng.core.seeding import splitmix64_array
from hng.datasets.checksum import sha256_path, shard_file_sizes
from hng.datasets.contract import ShardRecord
from hng.datasets.formats import format_for
from hng.datasets.output import DATASET_FILES, RECORDS, STAGING, Output, open_output
from hng.datasets.plan import PLAN_FILE, Plan, differences
from hng.datasets.shard import (
    ImageBuffer,
    Shard,
    ShardInputs,
    ShardPart,
    assemble_shard,
    make_part,
    make_shard,
    shard_inputs,
)
from hng.datasets.spec import DatasetSpec
from hng.errors import InvalidData, InvalidInput, InvalidType
from hng.mnist.load import MnistData, load_mnist
from hng.settings import load_settings, pause_after_shards_for_tests

logger = logging.getLogger(__name__)


@dataclass
class RunStats:
    """What one run of the engine did (the report's timing comes from here)."""

    shards_made: int = 0
    shards_skipped: int = 0
    images_made: int = 0
    seconds: float = 0.0
    first_shard_seconds: float | None = None  # start-up: from the call until the first shard is published
    workers: int = 1
    shard_seconds: list[float] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "shards_made": self.shards_made,
            "shards_skipped": self.shards_skipped,
            "images_made": self.images_made,
            "seconds": round(self.seconds, 3),
            "images_per_second": round(self.images_made / self.seconds, 1) if self.seconds else None,
            "first_shard_seconds": None
            if self.first_shard_seconds is None
            else round(self.first_shard_seconds, 3),
            "workers": self.workers,
        }


def as_spec(spec: DatasetSpec | Mapping[str, Any]) -> DatasetSpec:
    if isinstance(spec, DatasetSpec):
        return spec
    if not isinstance(spec, Mapping):
        raise InvalidType(
            "spec", f"spec must be a DatasetSpec or a mapping of its fields, got {type(spec).__name__}"
        )
    return DatasetSpec.build(**spec)


def check_backgrounds(spec: DatasetSpec) -> None:
    """Load the spec's background images now (InvalidInput naming ``background`` when its source holds no
    readable image), so that a bad source stops the run before any work."""
    if spec.background is not None:
        from hng.core.generation import resolve_appearance
        from hng.document.stage import get_stage

        look = resolve_appearance(**spec.document_options)
        if look is None:
            raise AssertionError("hng bug: look is unset (a background means style background)")
        get_stage(look)


def parse_shard_range(text: str | tuple[int, int] | None, num_shards: int) -> tuple[int, int]:
    """``I:J`` (shards I to J-1; either side may be empty) within the plan's shards."""
    if text is None:
        return 0, num_shards
    if isinstance(text, tuple):
        first, stop = text
    else:
        left, colon, right = text.partition(":")
        if not colon or not all(p.strip().isdigit() or not p.strip() for p in (left, right)):
            raise InvalidInput("shards", f"shards must look like I:J (shards I to J-1), got {text!r}")
        first = int(left) if left.strip() else 0
        stop = int(right) if right.strip() else num_shards
    if not 0 <= first < stop <= num_shards:
        raise InvalidInput(
            "shards", f"shards {first}:{stop} is not a non-empty range within this plan's 0:{num_shards}"
        )
    return first, stop


def default_workers() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def make_dataset(
    spec: DatasetSpec | Mapping[str, Any],
    out: str | os.PathLike[str],
    *,
    workers: int | None = None,
    shards: str | tuple[int, int] | None = None,
    overwrite: bool = False,
    finalize: bool | None = None,
    data: MnistData | str | os.PathLike[str] | None = None,
    progress: bool | None = False,
) -> dict[str, Any]:
    """Make the dataset ``spec`` describes in ``out`` (a folder or ``s3://bucket/prefix``).

    Resumes: shards already made (recorded, with a matching checksum) are kept and the rest made. With
    ``shards`` (``"I:J"``) only those shards are made, for spreading one plan over machines; the dataset
    is then finalized by ``finalize_dataset`` once all are there (``finalize`` defaults to True only for
    a whole run). Returns the manifest when finalized, else the run's figures.
    """
    started = time.perf_counter()
    spec = as_spec(spec)
    workers = default_workers() if workers is None else _check_workers(workers)
    first, stop = parse_shard_range(shards, spec.num_shards)  # before anything is written
    check_backgrounds(spec)
    output = open_output(out)
    output.check_writable()
    mnist = data if isinstance(data, MnistData) else load_mnist(data)
    plan = _open_plan(output, spec, mnist, overwrite=overwrite)
    spec = plan.spec
    finalize = (first, stop) == (0, plan.num_shards) if finalize is None else finalize

    pending = []
    stats = RunStats(workers=workers)
    for k in range(first, stop):
        if shard_is_done(output, plan, k):
            stats.shards_skipped += 1
        else:
            pending.append(k)
    if stats.shards_skipped:
        logger.info(f"resuming: {stats.shards_skipped} of {stop - first} shards already made and verified")
    generator = Generator(mnist)
    if pending:
        _run_shards(plan, output, generator, pending, workers, stats, started, progress)
    stats.seconds = time.perf_counter() - started
    if not finalize:
        return {"run": stats.to_json(), "plan": plan.to_json()}
    from hng.datasets.finalize import MANIFEST_FILE, finalize_dataset

    existing = output.read_text(MANIFEST_FILE) if not pending else None
    if existing is not None:
        logger.info(f"{output.url} is already complete: every shard verified, manifest kept")
        manifest = json.loads(existing)
        manifest["run"] = stats.to_json()
        return manifest

    # Every shard was hashed by this run, as it was written or when its resume verified it.
    return finalize_dataset(output, run=stats, data=mnist, verify="size")


def resume_dataset(
    out: str | os.PathLike[str],
    *,
    workers: int | None = None,
    data: MnistData | str | os.PathLike[str] | None = None,
    progress: bool | None = False,
) -> dict[str, Any]:
    """Make the rest of the dataset whose plan.json is in ``out``, and finalize it (what a job started
    elsewhere, e.g. by POST /datasets, leaves to an engine)."""
    text = open_output(out).read_text(PLAN_FILE)
    if text is None:
        raise InvalidInput("out", f"out {out} holds no hng dataset ({PLAN_FILE} is missing)")
    plan = Plan.loads(text, str(out))
    return make_dataset(plan.spec, out, workers=workers, data=data, progress=progress)


def _check_workers(workers: Any) -> int:
    if isinstance(workers, bool) or not isinstance(workers, int):
        raise InvalidType("workers", f"workers must be an integer, got {workers!r}")
    if not 1 <= workers <= 1024:
        raise InvalidInput("workers", f"workers must be between 1 and 1024, got {workers}")
    return workers


def mnist_sha256(data: MnistData) -> str:
    if data.path is None:
        raise ValueError("the MNIST data must come from a file (its sha256 identifies the dataset)")
    return _sha256_cached(data.path)


_sha_cache: dict[str, str] = {}


def _sha256_cached(path: str) -> str:
    """The file's sha256, remembered per process and in hng's cache folder by the file's identity
    (`file_identity`: path, size, modification time in ns): hashing MNIST's 55 MB costs every CLI run
    0.14 s otherwise."""
    key = file_identity(path)
    if key not in _sha_cache:
        stored = load_settings().cache_dir / f"sha256-{key}.txt"
        with contextlib.suppress(OSError, UnicodeDecodeError):
            text = stored.read_text().strip()
            if len(text) == 64 and all(c in "0123456789abcdef" for c in text):
                _sha_cache[key] = text
                return text
        _sha_cache[key] = sha256_file(path)
        with contextlib.suppress(OSError):  # a cache that cannot be written is left alone
            stored.parent.mkdir(parents=True, exist_ok=True)
            write_atomically(stored, (_sha_cache[key] + "\n").encode())
    return _sha_cache[key]


def _open_plan(output: Output, spec: DatasetSpec, data: MnistData, *, overwrite: bool) -> Plan:
    """The plan in ``output`` if it is this spec's (resume), else a new one; refuses to mix datasets."""
    sha = mnist_sha256(data)
    existing_text = output.read_text(PLAN_FILE)
    if existing_text is not None:
        existing = Plan.loads(existing_text, output.url)
        # Without an explicit seed a re-run draws a new one: resuming then means adopting the plan's.
        ignore_seed = spec.seed_drawn
        changed = differences(existing.spec, spec, ignore_seed=ignore_seed)
        if existing.mnist_sha256 != sha:
            changed.append(f"MNIST file sha256 {existing.mnist_sha256[:12]}… → {sha[:12]}…")
        if existing.hng_version != __version__:
            changed.append(f"hng version {existing.hng_version} → {__version__}")
        if not changed:
            return existing
        if not overwrite:
            raise InvalidInput(
                "out",
                f"{output.url} holds another dataset ({'; '.join(changed)}): use an empty folder, "
                "the same options, or --overwrite to replace it",
            )
        logger.info(f"--overwrite: replacing the dataset in {output.url}")
        _remove_dataset(output)
    else:
        foreign = [name for name in output.top_level() if name != ".hng"]
        if foreign and not overwrite:
            shown = ", ".join(foreign[:3]) + (", ..." if len(foreign) > 3 else "")
            raise InvalidInput(
                "out",
                f"{output.url} is not empty ({shown}) and holds no hng dataset plan: use an empty folder "
                "or --overwrite",
            )
        if foreign:
            _remove_dataset(output)
    plan = Plan(spec=spec, mnist_sha256=sha)
    output.write_text(PLAN_FILE, plan.dumps())
    return Plan.loads(output.read_text(PLAN_FILE) or "", output.url)


def _remove_dataset(output: Output) -> None:
    """Remove what hng writes (shards, records, plan, manifest, card, and the files the format wrote for
    the whole dataset, as the manifest lists them); leave anything else alone."""
    from hng.datasets.finalize import MANIFEST_FILE

    try:
        manifest = json.loads(output.read_text(MANIFEST_FILE) or "{}")
        format_files = manifest.get("format", {}).get("files", []) if isinstance(manifest, dict) else []
    except (ValueError, AttributeError):
        format_files = []  # not a manifest hng wrote: its format files cannot be told from the user's
    for name in format_files:
        if isinstance(name, str) and name and not name.startswith(("/", ".")) and ".." not in name:
            output.delete(name)
    for name in output.top_level():
        if name in DATASET_FILES or name == ".hng" or name.startswith("shard-"):
            output.delete(name)


def shard_is_done(output: Output, plan: Plan, k: int) -> bool:
    """Whether shard k is recorded and its stored bytes match the record (size and sha256)."""
    text = output.read_text(plan.record_name(k))
    if text is None:
        return False
    try:
        record = ShardRecord.loads(text, plan.record_name(k))
    except InvalidData:
        return False  # made again, and recorded whole this time
    return record.name == plan.shard_name(k) and output.shard_matches(
        plan.shard_name(k), record.model_dump(exclude_none=True)
    )


# --- running shards -------------------------------------------------------------------------------------

# Set in the parent before forking, so that forked workers inherit the loaded data instead of loading it.
_worker: dict[str, Any] = {}


_buffers = threading.local()


def _image_buffer() -> ImageBuffer:
    """This thread's images buffer: each shard it makes reuses the memory of the one before."""
    buffer = getattr(_buffers, "images", None)
    if buffer is None:
        buffer = _buffers.images = ImageBuffer()
    return buffer


def run_shard(plan: Plan, output: Output, generator: Generator, k: int, staging: Path) -> dict[str, Any]:
    """Make shard k, publish it whole, record it; returns its record. Used by every engine."""
    started = time.time()
    fmt = format_for(plan.spec)
    shard = make_shard(plan.spec, k, generator, masks=fmt.masks, buffer=_image_buffer())
    return publish_shard(plan, output, shard, staging, started)


def publish_shard(plan: Plan, output: Output, shard: Shard, staging: Path, started: float) -> dict[str, Any]:
    """Write ``shard`` in ``staging``, publish it whole and record it (its time counted from
    ``started``, a ``time.time()``); returns its record."""
    fmt = format_for(plan.spec)
    name = plan.shard_name(shard.index)
    folder = Path(tempfile.mkdtemp(dir=staging, prefix=f"{name}."))
    try:
        path = folder / name
        fmt.write(shard, path, compress=plan.spec.compress)
        sha = sha256_path(path)
        is_folder = path.is_dir()  # asked now: the staged copy is gone once published
        sizes = shard_file_sizes(path) if is_folder else {name: path.stat().st_size}
        size = sum(sizes.values())
        output.publish(path, name, sha)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    record = shard_record(plan, shard, name, sha, size, path_is_folder=is_folder)
    record["files"] = len(sizes)
    record["seconds"] = round(time.time() - started, 4)
    output.write_text(plan.record_name(shard.index), ShardRecord(**record).dumps())
    return record


def shard_record(
    plan: Plan, shard: Shard, name: str, sha: str, size: int, *, path_is_folder: bool
) -> dict[str, Any]:
    """A shard's record: what finalize needs without reading the shard again."""
    lengths, counts = np.unique(shard.lengths, return_counts=True)
    codes = shard.labels.view(np.uint32).reshape(len(shard), -1)
    digit_counts = np.bincount(codes[codes != 0] - ord("0"), minlength=10)
    return {
        "index": shard.index,
        "name": name,
        "folder": path_is_folder,
        "images": len(shard),
        "start": shard.start,
        "sha256": sha,
        "bytes": size,
        "label_lengths": {str(n): int(c) for n, c in zip(lengths.tolist(), counts.tolist(), strict=True)},
        "digits": {str(d): int(c) for d, c in enumerate(digit_counts.tolist())},
        "image_digests": base64.b64encode(
            image_digests(shard, varying_widths=plan.spec.width_per_digit is not None).tobytes()
        ).decode("ascii"),
        "hng_version": __version__,
        **({"redrawn": shard.redrawn, "unread": shard.unread} if plan.spec.verify_labels else {}),
    }


_DIGEST_MULTIPLIER = np.uint64(0x9E3779B97F4A7C15)
_DIGEST_CHUNK_BYTES = 1 << 20


def image_digests(shard: Shard, *, varying_widths: bool) -> np.ndarray:
    """A 64-bit digest of each image's pixels and width, to count exact duplicates across a dataset.

    Vectorised over the shard (a hash per image in a Python loop costs as much as making the image):
    each 64-bit word of an image goes through a bijective mixer that keeps 0 at 0 (an odd multiplier,
    then an xorshift), is weighted by an odd constant of its position, and the words are summed (mod
    2**64); the sum and the width go through MurmurHash3's finaliser. Zero
    words add nothing, so the padding past an image's width (whatever the shard's widest image) leaves
    its digest alone. ``varying_widths`` must be the same for every shard of a dataset (its spec has
    ``width_per_digit``), so that equal images get equal digests in any shard.
    """
    n = len(shard)
    per_image = int(np.prod(shard.images.shape[1:]))
    words_per_image = -(-per_image // 8)
    weights = splitmix64_array(np.arange(words_per_image, dtype=np.uint64)) | np.uint64(1)
    digest = np.empty(n, dtype=np.uint64)
    # A few images at a time: the mixing's temporaries stay in cache instead of costing several times
    # the shard's size in fresh memory (a 10,000-image RGB shard is 345 MB).
    chunk = max(1, _DIGEST_CHUNK_BYTES // (8 * words_per_image))
    padded = np.zeros((chunk, 8 * words_per_image), dtype=np.uint8)
    mixed = np.empty((chunk, words_per_image), dtype=np.uint64)
    shifted = np.empty_like(mixed)
    for first in range(0, n, chunk):
        last = min(n, first + chunk)
        images = shard.images[first:last]
        rows = padded[: last - first]
        if not varying_widths:
            rows[:, :per_image] = images.reshape(last - first, -1)
        elif images.ndim == 3:
            # Rows would interleave pixels with padding: column-major, each image's pixels come first.
            rows[:, :per_image].reshape(images.shape[0], images.shape[2], -1)[:] = images.transpose(0, 2, 1)
        else:
            # An RGB image's channels stay together, after its column and row (OpenCV transposes
            # 3-byte pixels several times faster than numpy).
            columns = rows[:, :per_image].reshape(images.shape[0], images.shape[2], images.shape[1], -1)
            for image, column_major in zip(images, columns, strict=True):
                cv2.transpose(image, dst=column_major)
        words, out, spare = rows.view("<u8"), mixed[: last - first], shifted[: last - first]
        with np.errstate(over="ignore"):
            np.multiply(words, _DIGEST_MULTIPLIER, out=out)
            np.right_shift(out, np.uint64(32), out=spare)
            out ^= spare
            out *= weights
            out.sum(axis=1, dtype=np.uint64, out=digest[first:last])
    with np.errstate(over="ignore"):
        digest += _fmix64(shard.widths.astype(np.uint64) + _DIGEST_MULTIPLIER)
        return _fmix64(digest).astype("<u8")


def _fmix64(x: np.ndarray) -> np.ndarray:
    """MurmurHash3's 64-bit finaliser: a bijection of uint64 that maps 0 to 0."""
    x = x ^ (x >> np.uint64(33))
    x = x * np.uint64(0xFF51AFD7ED558CCD)
    x ^= x >> np.uint64(33)
    x *= np.uint64(0xC4CEB9FE1A85EC53)
    x ^= x >> np.uint64(33)
    return x


def _init_worker(spec_json: dict[str, Any], plan_fields: dict[str, str], out: str, data_path: str) -> None:
    # Ctrl-C goes to the whole process group: only the parent handles it (it stops the pool).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if "generator" not in _worker:  # spawned, not forked: load the data here
        import cv2

        cv2.setNumThreads(1)
        _worker["generator"] = Generator(load_mnist(data_path))
    _worker["plan"] = Plan(spec=DatasetSpec.build(**spec_json), **plan_fields)
    _worker["output"] = open_output(out)  # a fresh S3 client per process


def _worker_shard(task: tuple[int, str]) -> tuple[str, Any]:
    k, staging = task
    record = run_shard(_worker["plan"], _worker["output"], _worker["generator"], k, Path(staging))
    record.pop("image_digests")
    return "record", record


def _worker_part(task: tuple[int, int, int]) -> tuple[str, Any]:
    """Images first..stop - 1 of a split shard, made into the shard's shared arrays."""
    k, first, stop = task
    started = time.time()
    split = _worker["split"][k]
    part = make_part(
        _worker["plan"].spec, split.inputs, first, stop, _worker["generator"], split.images, split.masks
    )
    return "part", (k, part, started)


def _worker_write(task: tuple[int, list[ShardPart], str, float]) -> tuple[str, Any]:
    """A split shard, all its parts made: assembled from the shared arrays, published and recorded."""
    k, parts, staging, started = task
    split = _worker["split"][k]
    shard = assemble_shard(_worker["plan"].spec, split.inputs, split.images, split.masks, parts)
    record = publish_shard(_worker["plan"], _worker["output"], shard, Path(staging), started)
    record.pop("image_digests")
    return "record", record


@dataclass
class _SplitShard:
    """A shard made in parts by several workers: its inputs and its arrays in memory they all share
    (mapped before the workers are forked)."""

    inputs: ShardInputs
    images: np.ndarray
    masks: np.ndarray | None
    parts: list[tuple[int, int]]
    _maps: list[mmap.mmap] = field(default_factory=list)

    @classmethod
    def create(cls, plan: Plan, k: int, parts: int, masks: bool) -> _SplitShard:
        inputs = shard_inputs(plan.spec, k)
        shape = inputs.images_shape(plan.spec)
        maps = [mmap.mmap(-1, int(np.prod(shape)))]  # anonymous and shared: forked workers see one array
        images = np.frombuffer(maps[0], dtype=np.uint8).reshape(shape)
        mask_array = None
        if masks:
            maps.append(mmap.mmap(-1, int(np.prod(shape[:3]))))
            mask_array = np.frombuffer(maps[1], dtype=np.uint8).reshape(shape[:3])
        bounds = np.linspace(0, len(inputs), parts + 1).round().astype(int).tolist()
        ranges = [(a, b) for a, b in itertools.pairwise(bounds) if b > a]
        return cls(inputs, images, mask_array, ranges, maps)

    def close(self) -> None:
        self.images = self.masks = None  # type: ignore[assignment]  # the arrays hold the maps' buffers
        for shared in self._maps:
            shared.close()


def split_tail(pending: Sequence[int], workers: int) -> tuple[list[int], list[int]]:
    """(shards made whole, shards made in parts): whole shards while every worker gets one, the last
    ``len(pending) % workers`` in parts so that no worker waits for the slowest one at the end."""
    tail = len(pending) % workers if workers > 1 else 0
    return list(pending[: len(pending) - tail]), list(pending[len(pending) - tail :])


def _run_shards(
    plan: Plan,
    output: Output,
    generator: Generator,
    pending: Sequence[int],
    workers: int,
    stats: RunStats,
    started: float,
    progress: bool | None,
) -> None:
    total_images = sum(min(plan.spec.shard_size, plan.spec.count - k * plan.spec.shard_size) for k in pending)
    if plan.spec.preset == "none":
        _ = generator.data.split(plan.spec.split).column_bank  # built once here, shared by forked workers
    bar = _progress_bar(total_images, progress)
    pause = pause_after_shards_for_tests()  # test-only; None in production

    def done(record: dict[str, Any]) -> None:
        stats.shards_made += 1
        stats.images_made += record["images"]
        stats.shard_seconds.append(record["seconds"])
        if stats.first_shard_seconds is None:
            stats.first_shard_seconds = time.perf_counter() - started
        if bar is not None:
            bar.update(record["images"])
        else:
            elapsed = time.perf_counter() - started
            logger.info(
                f"{record['name']}: {record['images']} images, sha256 {record['sha256'][:12]}… "
                f"({stats.shards_made}/{len(pending)} shards, {stats.images_made / elapsed:,.0f} images/s)"
            )
        if pause is not None and stats.shards_made == pause[0]:
            _hold_for_test(pause[1])

    with output.staging() as staging:
        try:
            if workers == 1:
                for k in pending:
                    done(run_shard(plan, output, generator, k, staging))
            else:
                _run_pool(plan, output, generator, pending, workers, staging, done, pause)
        finally:
            if bar is not None:
                bar.close()


def _run_pool(
    plan: Plan,
    output: Output,
    generator: Generator,
    pending: Sequence[int],
    workers: int,
    staging: Path,
    done: Callable[[dict[str, Any]], None],
    pause: tuple[int, Path] | None = None,
) -> None:
    """Make ``pending`` with a pool of ``workers`` processes: whole shards while there are enough for
    every worker, then the rest in parts (``split_tail``), each split shard assembled and written by one
    worker once its parts are made. Parts need forked workers (their arrays are shared memory mapped
    before the fork); where processes are spawned, every shard is made whole."""
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
    forking = context.get_start_method() == "fork"
    # Test-only (HNG_TEST_PAUSE_AFTER_SHARDS=N:PATH): the pool gets the run's first N shards, and the rest
    # only once `done` returns from the pause, so nothing more is made while it lasts.
    batches = [list(pending)] if pause is None else [list(pending[: pause[0]]), list(pending[pause[0] :])]
    rounds = [split_tail(batch, workers if forking else 1) for batch in batches]
    masks = format_for(plan.spec).masks
    split = {k: _SplitShard.create(plan, k, workers, masks) for _, tail in rounds for k in tail}
    if forking:
        _worker["generator"] = generator
        _worker["split"] = split
    plan_fields = {
        "mnist_sha256": plan.mnist_sha256,
        "hng_version": plan.hng_version,
        "created_at": plan.created_at,
    }
    init_args = (plan.spec.to_json(), plan_fields, output.url, generator.data.path or "")
    with _single_threaded_opencv():
        # Forked children inherit OpenCV's thread count but not its threads: a child of a parent whose
        # thread pool is running hangs at its first parallel call. One thread in the parent at fork time
        # means no pool to inherit, and one OpenCV thread per worker process is what we want anyway.
        processes = workers if split else min(workers, len(pending))
        pool = context.Pool(processes, initializer=_init_worker, initargs=init_args)
    results: queue.Queue[tuple[bool, Any]] = queue.Queue()

    def submit(work: Callable[[Any], tuple[str, Any]], task: Any) -> None:
        pool.apply_async(
            work,
            (task,),
            callback=lambda result: results.put((True, result)),
            error_callback=lambda error: results.put((False, error)),
        )

    try:
        for whole, tail in rounds:
            for k in whole:
                submit(_worker_shard, (k, str(staging)))
            made: dict[int, list[ShardPart]] = {k: [] for k in tail}
            started: dict[int, float] = {}
            for k in tail:
                for first, stop in split[k].parts:
                    submit(_worker_part, (k, first, stop))
            outstanding = len(whole) + sum(len(split[k].parts) for k in tail)
            while outstanding:
                ok, result = results.get()
                outstanding -= 1
                if not ok:
                    raise result
                kind, value = result
                if kind == "record":
                    done(value)
                    continue
                k, part, part_started = value
                made[k].append(part)
                started[k] = min(started.get(k, part_started), part_started)
                if len(made[k]) == len(split[k].parts):
                    submit(_worker_write, (k, made[k], str(staging), started[k]))
                    outstanding += 1
        pool.close()
    except BaseException:
        # Ctrl-C or a failed shard: stop every worker now; their staging goes with `staging`.
        pool.terminate()
        raise
    finally:
        pool.join()
        _worker.pop("generator", None)
        _worker.pop("split", None)
        for shard in split.values():
            shard.close()


def _hold_for_test(marker: Path) -> None:
    """Test-only (HNG_TEST_PAUSE_AFTER_SHARDS=N:PATH, see hng.settings): pause a run at a known point.

    Called once this run has made (published and recorded) its first N shards, with no other shard
    started: write `marker`, then wait while it exists. Ctrl-C interrupts the wait like any other
    (the pool's workers ignore SIGINT and are terminated with it). Never reached in production.
    """
    marker.write_text(f"{os.getpid()}\n")
    while marker.exists():
        time.sleep(0.01)


@contextlib.contextmanager
def _single_threaded_opencv() -> Iterator[None]:
    import cv2

    threads = cv2.getNumThreads()
    cv2.setNumThreads(1)
    try:
        yield
    finally:
        cv2.setNumThreads(threads)


def _progress_bar(total: int, progress: bool | None) -> Any:
    """tqdm on a terminal (images/s and ETA); None otherwise: then the log gets a line per shard."""
    if progress is False or (progress is None and not sys.stderr.isatty()):
        return None
    from tqdm import tqdm

    return tqdm(total=total, unit="img", unit_scale=True, file=sys.stderr, smoothing=0.1)


__all__ = ["RECORDS", "STAGING", "RunStats", "make_dataset", "parse_shard_range", "run_shard"]
