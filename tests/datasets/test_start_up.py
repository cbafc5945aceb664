"""What a process pays once before its first shard: `import hng.datasets` (which the API's cold start pays)
leaves the shard engine and finalize unimported until they are used, and the MNIST file's sha256 is
hashed once per file, not once per process."""

from __future__ import annotations

import subprocess
import sys

from tests.support.paths import REPO

CHECK = """
import sys
import hng.datasets, hng.datasets.jobs
from hng.datasets.jobs.dataset_jobs import DatasetJobs
assert "hng.datasets.engine" not in sys.modules and "hng.datasets.finalize" not in sys.modules, sorted(
    name for name in sys.modules if name.startswith("hng.datasets")
)
import hng.datasets.stream
module = sys.modules["hng.datasets.stream"]
from hng.datasets.engine import make_dataset
from hng.datasets.finalize import finalize_dataset
assert hng.datasets.make_dataset is make_dataset and hng.datasets.finalize_dataset is finalize_dataset
assert hng.datasets.stream is module.stream  # the function, not the submodule of the same name
from hng.datasets.jobs.tasks import make_shard_task
assert hng.datasets.jobs.make_shard_task is make_shard_task
try:
    hng.datasets.no_such_name
except AttributeError as error:
    assert "no_such_name" in str(error)
else:
    raise AssertionError("no AttributeError")
"""


def test_the_engine_is_imported_on_first_use_only():
    result = subprocess.run(
        [sys.executable, "-c", CHECK], cwd=REPO, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr


def test_the_mnist_files_sha256_is_cached_by_its_identity(tmp_path, monkeypatch):
    from hng.core.files import sha256_file
    from hng.datasets import engine

    monkeypatch.setenv("HNG_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(engine, "_sha_cache", {})
    data = tmp_path / "digits.npz"
    data.write_bytes(b"first")
    assert engine._sha256_cached(str(data)) == sha256_file(data)
    assert len(list((tmp_path / "cache").glob("sha256-*.txt"))) == 1

    def no_hashing(path):
        raise AssertionError("hashed again")

    monkeypatch.setattr(engine, "_sha_cache", {})  # a new process
    monkeypatch.setattr(engine, "sha256_file", no_hashing)
    assert engine._sha256_cached(str(data)) == sha256_file(data)

    monkeypatch.setattr(engine, "sha256_file", sha256_file)
    data.write_bytes(b"second, longer")  # another size and time: another identity
    assert engine._sha256_cached(str(data)) == sha256_file(data)
    for stored in (tmp_path / "cache").glob("sha256-*.txt"):
        stored.write_text("not a digest")
    monkeypatch.setattr(engine, "_sha_cache", {})
    assert engine._sha256_cached(str(data)) == sha256_file(data)  # a damaged entry is recomputed
