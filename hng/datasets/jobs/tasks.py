"""What the Step Functions tasks do, as functions of their events: one shard; finalize or record a failure."""

from __future__ import annotations

import hashlib
import json
import tempfile
from pathlib import Path
from typing import Any

from hng.core.generation import Generator
from hng.datasets.engine import run_shard, shard_is_done
from hng.datasets.finalize import MANIFEST_FILE, IncompleteDataset, finalize_dataset
from hng.datasets.jobs.dataset_jobs import FAILURE_FILE, recorded_shards
from hng.datasets.output import S3Output
from hng.datasets.plan import PLAN_FILE, Plan
from hng.errors import InvalidInput, NotFound, Unavailable


def _output(event: dict[str, Any], client: Any = None) -> S3Output:
    for field in ("bucket", "prefix"):
        if not isinstance(event.get(field), str) or not event[field]:
            raise InvalidInput(field, f"event field {field!r} must be a non-empty string")
    return S3Output(event["bucket"], event["prefix"].rstrip("/"), client=client)


def _plan(output: S3Output) -> Plan:
    text = output.read_text(PLAN_FILE)
    if text is None:
        where = f"{output.url}/{PLAN_FILE}"
        raise NotFound("plan", where, f"{output.url} holds no hng dataset ({PLAN_FILE} is missing)")
    return Plan.loads(text, output.url)


def make_shard_task(event: dict[str, Any], generator: Generator, client: Any = None) -> dict[str, Any]:
    """Make shard ``event["shard"]`` of the dataset in s3://bucket/prefix, unless it is already made.

    A retry, or a restart of the job, finds the shard recorded and its checksum matching, and returns
    at once: a shard's bytes depend only on (spec, seed, k).
    """
    output = _output(event, client)
    plan = _plan(output)
    k = event.get("shard")
    if isinstance(k, bool) or not isinstance(k, int) or not 0 <= k < plan.num_shards:
        raise InvalidInput(
            "shard", f"event field 'shard' must be an integer in [0, {plan.num_shards}), got {k!r}"
        )
    if shard_is_done(output, plan, k):
        record = json.loads(output.read_text(plan.record_name(k)) or "{}")
        return {"shard": k, "sha256": record.get("sha256"), "images": record.get("images"), "made": False}
    with tempfile.TemporaryDirectory(prefix="hng-shard-") as staging:
        record = run_shard(plan, output, generator, k, Path(staging))
    return {"shard": k, "sha256": record["sha256"], "images": record["images"], "made": True}


def finalize_task(
    event: dict[str, Any], data: Any = None, client: Any = None, tolerated_percentage: float = 0.0
) -> dict[str, Any]:
    """Finalize the dataset, or, for ``{"failed": true, "error", "cause"}``, record the failure.

    Missing shards are accepted up to ``tolerated_percentage`` of all shards (the Map's
    ToleratedFailurePercentage, checked here again so that the dataset's completeness does not rest on
    the Map alone) and listed in the manifest; beyond it, `IncompleteDataset` fails the task.
    """
    output = _output(event, client)
    if records_failure(event):
        failure = {"error": event.get("error"), "cause": event.get("cause")}
        output.write_text(FAILURE_FILE, json.dumps(failure, indent=2) + "\n")
        return {"recorded": True, **failure}
    plan = _plan(output)
    missing = missing_shards(output, plan)
    if missing and len(missing) * 100 > tolerated_percentage * plan.num_shards:
        raise IncompleteDataset(
            f"{len(missing)} of {plan.num_shards} shards failed (shards {', '.join(map(str, missing[:20]))}"
            f"{', ...' if len(missing) > 20 else ''}), more than the {tolerated_percentage:g} % tolerated",
            missing,
        )
    manifest = finalize_dataset(output, data=data, verify="checksum", allow_missing=True)
    # The stored manifest's own sha256, which the "Dataset Job Succeeded" event carries.
    stored = output.read_bytes(MANIFEST_FILE)
    if stored is None:
        raise Unavailable(f"{output.url}/{MANIFEST_FILE} could not be read back after it was written")
    return {
        "images": manifest["images"],
        "missingShards": manifest["missing_shards"],
        "manifestSha256": hashlib.sha256(stored).hexdigest(),
    }


def records_failure(event: dict[str, Any]) -> bool:
    """Whether a finalizer event records a failure (``"failed": true``) rather than finalizing."""
    failed = event.get("failed", False)
    if not isinstance(failed, bool):
        raise InvalidInput("failed", f"event field 'failed' must be true or false, got {failed!r}")
    return failed


def missing_shards(output: S3Output, plan: Plan) -> list[int]:
    done = set(recorded_shards(output, plan))
    return [k for k in range(plan.num_shards) if k not in done]
