"""Shard worker: one invocation per item of the Distributed Map,
``{"datasetId", "bucket", "prefix", "shard"}``.

The MNIST data and the generator load once per container (module import); the work is
hng.datasets.jobs.make_shard_task, the same run_shard every engine calls. Before its first shard of a
dataset the worker checks that the dataset was planned with the data it loaded (hng.handlers.container_data).
hng's errors leave as Step Functions error names (hng.handlers.step_errors).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from hng.core.generation import Generator
from hng.datasets.jobs import make_shard_task
from hng.handlers.container_data import ContainerData
from hng.handlers.observability import logger_and_tracer
from hng.handlers.step_errors import as_step_errors
from hng.http import InvalidEvent, check_context
from hng.settings import load_settings

settings = load_settings()  # once per container
logger, tracer = logger_and_tracer(settings)
mnist = ContainerData()
generator: Generator | None = None if mnist.data is None else Generator(mnist.data)


def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    check_context(context)
    with as_step_errors():
        if not isinstance(event, dict):
            kind = type(event).__name__
            raise InvalidEvent(f"event must be an object with datasetId, bucket, prefix, shard; got {kind}")
        return _handle(event, context)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
def _handle(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    global generator
    logger.append_keys(dataset_id=event.get("datasetId"), shard=event.get("shard"))
    data = mnist.check_plan(event)
    if generator is None or generator.data is not data:
        generator = Generator(data)
    result = make_shard_task(event, generator)
    logger.info("shard made" if result["made"] else "shard already made", extra={"sha256": result["sha256"]})
    return result
