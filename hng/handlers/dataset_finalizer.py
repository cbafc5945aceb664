"""Dataset finalizer: after the Map, ``{"datasetId", "bucket", "prefix"}`` writes manifest.json, the card and
the contact sheet; in the state machine's Catch, ``{..., "failed": true, "error", "cause"}`` records
the failure. Recording a failure needs no MNIST data, so a data source that cannot be loaded never stops
that; finalizing checks the data against the dataset's plan first (hng.handlers.container_data). hng's errors
leave as Step Functions error names (hng.handlers.step_errors).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from hng.datasets.jobs.tasks import finalize_task, records_failure
from hng.handlers.container_data import ContainerData
from hng.handlers.observability import logger_and_tracer
from hng.handlers.step_errors import as_step_errors
from hng.http import InvalidEvent, check_context
from hng.settings import load_settings

settings = load_settings()  # once per container
logger, tracer = logger_and_tracer(settings)
mnist = ContainerData()
data = mnist.data  # None while the data cannot be loaded; each finalization retries


def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    check_context(context)
    with as_step_errors():
        if not isinstance(event, dict):
            raise InvalidEvent(
                f"event must be an object with datasetId, bucket and prefix, got {type(event).__name__}"
            )
        return _handle(event, context)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
def _handle(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    logger.append_keys(dataset_id=event.get("datasetId"))
    # The state machine's ToleratedFailurePercentage, the same template parameter.
    tolerated = settings.tolerated_failure_percentage
    failed = records_failure(event)
    loaded = None if failed else mnist.check_plan(event)
    result = finalize_task(event, data=loaded, tolerated_percentage=tolerated)
    if failed:
        logger.error("dataset failed", extra={"error": result["error"], "cause": result["cause"]})
    else:
        logger.info("dataset finalized", extra=result)
    return result
