"""Dataset finalizer: after the Map, ``{"datasetId", "bucket", "prefix"}`` writes manifest.json, the card and
the contact sheet; in the state machine's Catch, ``{..., "failed": true, "error", "cause"}`` records
the failure. Recording a failure needs no MNIST data, so a data source that cannot be loaded never stops
that; finalizing checks the data against the dataset's plan first (functions/datasets/mnist.py).
"""

from __future__ import annotations

import os
from typing import Any

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.datasets.mnist import ContainerData
from hng.datasets.jobs import finalize_task
from hng.web import check_context

SERVICE_NAME = os.environ.get("POWERTOOLS_SERVICE_NAME", "hng")
logger = Logger(service=SERVICE_NAME)
tracer = Tracer(service=SERVICE_NAME)
mnist = ContainerData(log=logger)
data = mnist.data  # None while the data cannot be loaded; each finalization retries


def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    check_context(context)
    if not isinstance(event, dict):
        raise ValueError(
            f"event must be an object with datasetId, bucket and prefix, got {type(event).__name__}"
        )
    return _handle(event, context)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
def _handle(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    logger.append_keys(dataset_id=event.get("datasetId"))
    # The state machine's ToleratedFailurePercentage, the same template parameter.
    tolerated = float(os.environ.get("HNG_TOLERATED_FAILURE_PERCENTAGE", "0"))
    loaded = None if event.get("failed") else mnist.check_plan(event)
    result = finalize_task(event, data=loaded, tolerated_percentage=tolerated)
    if event.get("failed"):
        logger.error("dataset failed", extra={"error": result["error"], "cause": result["cause"]})
    else:
        logger.info("dataset finalized", extra=result)
    return result
