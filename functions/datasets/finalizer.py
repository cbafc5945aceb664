"""Dataset finalizer: after the Map, ``{"datasetId", "bucket", "prefix"}`` writes manifest.json, the card and
the contact sheet; in the state machine's Catch, ``{..., "failed": true, "error", "cause"}`` records
the failure.
"""

from __future__ import annotations

import os
from typing import Any

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext

from hng.datasets.jobs import finalize_task
from hng.mnist.dataset import load_mnist
from hng.web import check_context

SERVICE_NAME = os.environ.get("POWERTOOLS_SERVICE_NAME", "hng")
logger = Logger(service=SERVICE_NAME)
tracer = Tracer(service=SERVICE_NAME)
data = load_mnist()


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
    result = finalize_task(event, data=data, tolerated_percentage=tolerated)
    if event.get("failed"):
        logger.error("dataset failed", extra={"error": result["error"], "cause": result["cause"]})
    else:
        logger.info("dataset finalized", extra=result)
    return result
