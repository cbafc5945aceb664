"""The dataset jobs behind POST/GET/DELETE /datasets: plan, shard list, engine runs, progress, results.

datasets/{id}/plan.json        the spec with its seed (what every engine and finalize agree on)
datasets/{id}/items.json       [{"shard": 0}, ...]: the Distributed Map's ItemReader reads it
datasets/{id}/job.json         the engine and its runs (a restart adds one)
datasets/{id}/shard-*, .hng/shards/*.json, manifest.json, README.md, contact_sheet.png | failure.json
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from hng.core.ids import is_task_id, new_task_id
from hng.datasets.jobs.engines import Engine, EngineRun, LocalEngine, StepFunctionsEngine
from hng.datasets.output import RECORDS, S3Output
from hng.datasets.plan import PLAN_FILE, Plan
from hng.datasets.shard import shard_bounds
from hng.datasets.spec import DatasetSpec, SpecError
from hng.document.options import BACKGROUNDS_PREFIX
from hng.errors import Conflict, NotFound
from hng.mnist.load import MnistData
from hng.settings import load_settings

PREFIX = "datasets"
ITEMS_FILE = "items.json"
JOB_FILE = "job.json"
FAILURE_FILE = "failure.json"
MANIFEST_FILE = "manifest.json"
DEFAULT_MAX_IMAGES = 10_000_000
# A Distributed Map returns its children's outputs as one array (256 KiB at most without a ResultWriter);
# each worker's is {} (OutputPath null), so 50,000 shards stay near 150 KB.
MAX_SHARDS = 50_000


class DatasetNotFound(NotFound):
    """No dataset with this id."""

    def __init__(self, dataset_id: str) -> None:
        super().__init__("dataset", dataset_id)


class DatasetConflict(Conflict):
    """The dataset is not in a state that allows the request (e.g. restarting a running one)."""


class DatasetJobs:
    """Dataset jobs in one bucket, run by one engine."""

    def __init__(
        self,
        bucket: str,
        engine: Engine,
        *,
        client: Any = None,
        max_images: int = DEFAULT_MAX_IMAGES,
        url_expiry: int = 3600,
    ) -> None:
        self.bucket, self.engine, self.client = bucket, engine, client
        self.max_images, self.url_expiry = max_images, url_expiry

    @classmethod
    def from_env(
        cls,
        bucket: str | None,
        *,
        client: Any = None,
        url_expiry: int = 3600,
        environ: Mapping[str, str] | None = None,
    ) -> DatasetJobs | None:
        """Step Functions when HNG_DATASET_STATE_MACHINE_ARN is set (the stack), the local engine when
        HNG_DATASET_ENGINE=local (``hng serve``); None (dataset routes answer 503) otherwise."""
        if not bucket:
            return None
        settings = load_settings(environ)
        max_images = settings.max_dataset_images
        engine: Engine
        if settings.dataset_state_machine_arn:
            engine = StepFunctionsEngine(settings.dataset_state_machine_arn)
        elif settings.dataset_engine == "local":
            engine = LocalEngine()
        else:
            return None
        return cls(bucket, engine, client=client, max_images=max_images, url_expiry=url_expiry)

    def output(self, dataset_id: str) -> S3Output:
        return S3Output(self.bucket, f"{PREFIX}/{dataset_id}", client=self.client)

    def check(self, spec: DatasetSpec) -> None:
        """The service's own limits, named by field (the spec's rules are the spec's)."""
        if spec.count > self.max_images:
            raise SpecError(
                [("count", f"must be at most {self.max_images:,} on this service, got {spec.count:,}")]
            )
        if spec.num_shards > MAX_SHARDS:
            raise SpecError(
                [
                    (
                        "shardSize",
                        f"makes {spec.num_shards:,} shards; at most {MAX_SHARDS:,}: use larger shards",
                    )
                ]
            )

    def with_background_uri(self, spec: DatasetSpec) -> DatasetSpec:
        """The spec with its background (a key prefix under BACKGROUNDS_PREFIX of this bucket, as the API
        takes it) as the s3:// URI the shard workers read; SpecError for any other background."""
        if spec.background is None:
            return spec
        if not spec.background.startswith(BACKGROUNDS_PREFIX) or ".." in spec.background.split("/"):
            raise SpecError(
                [
                    (
                        "background",
                        f"must be a key prefix under {BACKGROUNDS_PREFIX} in this deployment's bucket, "
                        f"got {spec.background!r:.100}",
                    )
                ]
            )
        return DatasetSpec.build(**{**spec.to_json(), "background": f"s3://{self.bucket}/{spec.background}"})

    def start(self, spec: DatasetSpec, data: MnistData) -> dict[str, Any]:
        """Write the plan and the shard list, start the engine; the 202 answer's fields."""
        from hng.datasets.engine import check_backgrounds, mnist_sha256  # the shard engine: not at import

        self.check(spec)
        spec = self.with_background_uri(spec)
        check_backgrounds(spec)
        dataset_id = new_task_id()
        output = self.output(dataset_id)
        plan = Plan(spec=spec, mnist_sha256=mnist_sha256(data))
        output.write_text(PLAN_FILE, plan.dumps())
        output.write_text(ITEMS_FILE, json.dumps([{"shard": k} for k in range(spec.num_shards)]))
        job = {"datasetId": dataset_id, "engine": self.engine.name, "createdAt": _now(), "runs": []}
        return self._run(output, job, plan)

    def restart(self, dataset_id: str) -> dict[str, Any]:
        """A new run over the same plan: shards already made are kept, the others made, then finalized."""
        output, job, plan = self._load(dataset_id)
        state = self.engine.describe(job["runs"][-1])
        if state.status == "RUNNING":
            raise DatasetConflict(f"dataset {dataset_id} is still running")
        if state.status == "SUCCEEDED" and not self._missing_shards(output):
            raise DatasetConflict(f"dataset {dataset_id} is complete")
        output.delete(FAILURE_FILE)
        return self._run(output, job, plan)

    def _run(self, output: S3Output, job: dict[str, Any], plan: Plan) -> dict[str, Any]:
        ref = self.engine.start(job["datasetId"], self.bucket, output.prefix, len(job["runs"]) + 1)
        job["runs"].append(ref)
        output.write_text(JOB_FILE, json.dumps(job, indent=2) + "\n")
        return {
            "datasetId": job["datasetId"],
            "status": "RUNNING",
            "shardsTotal": plan.num_shards,
            "imagesTotal": plan.spec.count,
            "prefix": f"{output.url}/",
        }

    def describe(self, dataset_id: str) -> dict[str, Any]:
        output, job, plan = self._load(dataset_id)
        state = self.engine.describe(job["runs"][-1])
        done = recorded_shards(output, plan)
        answer: dict[str, Any] = {
            "datasetId": dataset_id,
            "status": state.status,
            "shardsDone": len(done),
            "shardsTotal": plan.num_shards,
            "imagesDone": sum(_shard_size(plan, k) for k in done),
            "imagesTotal": plan.spec.count,
            "startedAt": state.started_at,
            "stoppedAt": state.stopped_at,
            "prefix": f"{output.url}/",
            "runs": len(job["runs"]),
        }
        answer.update(self._failure(output, state))
        if state.status == "SUCCEEDED":
            answer.update(self._results(output))
        return answer

    def stop(self, dataset_id: str) -> dict[str, Any]:
        _, job, _ = self._load(dataset_id)
        ref = job["runs"][-1]
        if self.engine.describe(ref).status == "RUNNING":
            self.engine.stop(ref, f"DELETE /datasets/{dataset_id}")
        return {"datasetId": dataset_id, "status": self.engine.describe(ref).status}

    def _load(self, dataset_id: str) -> tuple[S3Output, dict[str, Any], Plan]:
        if not is_task_id(dataset_id):
            raise DatasetNotFound(dataset_id)
        output = self.output(dataset_id)
        text = output.read_text(JOB_FILE)
        plan_text = output.read_text(PLAN_FILE)
        if text is None or plan_text is None:
            raise DatasetNotFound(dataset_id)
        return output, json.loads(text), Plan.loads(plan_text, output.url)

    def _missing_shards(self, output: S3Output) -> list[int]:
        text = output.read_text(MANIFEST_FILE)
        return [] if text is None else list(json.loads(text).get("missing_shards", []))

    def _failure(self, output: S3Output, state: EngineRun) -> dict[str, Any]:
        recorded = output.read_text(FAILURE_FILE) if state.status == "FAILED" else None
        if recorded is not None:
            failure = json.loads(recorded)
            return {"error": failure.get("error"), "cause": failure.get("cause")}
        return {"error": state.error, "cause": state.cause}

    def _results(self, output: S3Output) -> dict[str, Any]:
        text = output.read_text(MANIFEST_FILE)
        if text is None:
            return {}
        manifest = json.loads(text)
        shards = []
        for shard in manifest["shards"]:
            key = f"{output.prefix}/{shard['name']}"
            entry = {
                "index": shard["index"],
                "key": key,
                "images": shard["images"],
                "sha256": shard["sha256"],
            }
            if not shard["name"].endswith("/") and "." in shard["name"]:  # a file, not an imagefolder folder
                entry["url"] = self._presign(key)
            shards.append(entry)
        sheet = manifest.get("report", {}).get("contact_sheet")
        return {
            "manifestUrl": self._presign(f"{output.prefix}/{MANIFEST_FILE}"),
            "contactSheetUrl": self._presign(f"{output.prefix}/{sheet}") if sheet else None,
            "expiresIn": self.url_expiry,
            "missingShards": manifest.get("missing_shards", []),
            "shards": shards,
        }

    def _presign(self, key: str) -> str:
        # The outputs' client when none was given: the one boto3 makes from the environment.
        client = self.client or S3Output(self.bucket, PREFIX).client
        return client.generate_presigned_url(
            "get_object", Params={"Bucket": self.bucket, "Key": key}, ExpiresIn=self.url_expiry
        )


def recorded_shards(output: S3Output, plan: Plan) -> list[int]:
    """The shards whose records are in the output (one LIST per 1,000 shards, no GET), in order."""
    index = {plan.record_name(k): k for k in range(plan.num_shards)}
    return sorted(index[name] for name in output.names(f"{RECORDS}/") if name in index)


def _shard_size(plan: Plan, k: int) -> int:
    start, stop = shard_bounds(plan.spec, k)
    return stop - start


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
