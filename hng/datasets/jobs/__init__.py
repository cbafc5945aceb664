"""Dataset jobs: a dataset made in the background by an engine, in a bucket under ``datasets/{id}/``.

POST /datasets writes the plan and the shard list (``items.json``) and starts an engine; GET
/datasets/{id} reads the engine's state and the shard records. Two engines run the same shards:

- `StepFunctionsEngine`: the stack's state machine, a Distributed Map of shard-worker Lambdas over
  ``items.json``, then the finalizer Lambda (``tasks.make_shard_task`` / ``tasks.finalize_task``);
- `LocalEngine`: ``hng dataset resume`` in a child process (``hng serve``, no AWS).

Either way shard k is `engine.run_shard(plan, output, generator, k)`, so the bytes do not depend on
the engine.
"""

from typing import TYPE_CHECKING, Any

from hng.datasets.jobs.dataset_jobs import (
    FAILURE_FILE,
    ITEMS_FILE,
    JOB_FILE,
    PREFIX,
    DatasetConflict,
    DatasetJobs,
    DatasetNotFound,
)
from hng.datasets.jobs.engines import Engine, EngineRun, EngineUnavailable, LocalEngine, StepFunctionsEngine

if TYPE_CHECKING:
    from hng.datasets.jobs.tasks import finalize_task, make_shard_task

__all__ = [
    "FAILURE_FILE",
    "ITEMS_FILE",
    "JOB_FILE",
    "PREFIX",
    "DatasetConflict",
    "DatasetJobs",
    "DatasetNotFound",
    "Engine",
    "EngineRun",
    "EngineUnavailable",
    "LocalEngine",
    "StepFunctionsEngine",
    "finalize_task",
    "make_shard_task",
]


def __getattr__(name: str) -> Any:
    # The Lambda tasks need the shard engine, which the API's cold start does without.
    if name in ("finalize_task", "make_shard_task"):
        from hng.datasets.jobs import tasks

        return getattr(tasks, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
