"""`import hng.datasets` (which the API's cold start pays) leaves the shard engine and finalize unimported
until they are used, and the package's names stay what they were."""

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
