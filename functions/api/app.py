"""The hng API Lambda: API Gateway (REST, proxy) routes and direct invocation, on AWS Lambda Powertools.

Routes parse the request, call one library function and shape the answer; the work is in hng.service.
The MNIST data loads when the container starts (module import), never per request.
"""

from __future__ import annotations

import functools
import json
import os
import re
import time
import warnings
from http import HTTPStatus
from typing import Annotated, Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
)
from aws_lambda_powertools.event_handler.openapi.params import Body, Path
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

from hng import __version__
from hng.api_models import ErrorResponse, GenerateRequest, GenerateResponse, HealthResponse, TaskResponse
from hng.service import GenerationService, ServiceUnavailable
from hng.store import StorageError, TaskNotFound

MAX_BODY_BYTES = 16 * 1024
ROUTE_METHODS = {  # for 405 answers: Powertools reports a known path with another method as 404
    re.compile(r"^/health/?$"): ("GET",),
    re.compile(r"^/generate/?$"): ("POST",),
    re.compile(r"^/generate/[^/]+/?$"): ("GET",),
    re.compile(r"^/openapi\.json$"): ("GET",),
}
_ERROR_JSON = {"application/json": {"model": ErrorResponse}}
ERROR_RESPONSES = {
    status: {"description": description, "content": _ERROR_JSON}
    for status, description in (
        (400, "Malformed JSON, or fields that break a rule (each named in `errors`)"),
        (413, "Body over 16 KiB"),
        (415, "Content-Type is not application/json"),
        (503, "S3 or the MNIST data unavailable"),
    )
}

# Defaults for running outside the template (tests, hng serve); the template's environment overrides them.
SERVICE_NAME = os.environ.get("POWERTOOLS_SERVICE_NAME", "hng")
# GET /health and refused requests legitimately publish no metric: Powertools would warn on each.
warnings.filterwarnings("ignore", "No application metrics to publish", UserWarning)
logger = Logger(service=SERVICE_NAME)
tracer = Tracer(service=SERVICE_NAME)
metrics = Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "hng"), service=SERVICE_NAME)
app = APIGatewayRestResolver(enable_validation=True)
service = GenerationService.from_env(log=logger)


def _error(status: int, message: str, errors: list[dict[str, str]] | None = None) -> Response:
    request_id = app.lambda_context.aws_request_id if getattr(app, "lambda_context", None) else None
    body = ErrorResponse(statusCode=status, message=message, errors=errors, requestId=request_id)
    return Response(status, content_types.APPLICATION_JSON, body.model_dump_json(exclude_none=True))


@app.get("/health", summary="Service status and whether the MNIST data is loaded")
def health() -> HealthResponse:
    return service.health()


@app.post(
    "/generate",
    summary="Generate a number image, store it in S3 and answer with a presigned URL",
    description="With `Accept: image/png` the answer is the PNG itself (headers carry the task id and URL).",
    responses={
        200: {
            "description": "The generated image's URL and facts (or the PNG itself)",
            "content": {"application/json": {"model": GenerateResponse}, "image/png": {}},
        },
        **ERROR_RESPONSES,
    },
)
# No return annotation on purpose: Powertools would re-validate the response (and refuse the PNG).
def generate(request: Annotated[GenerateRequest, Body(embed=False)]):
    started = time.perf_counter()
    task = service.generate(request)
    elapsed_ms = (time.perf_counter() - started) * 1000
    metrics.add_metric(name="GenerationLatency", unit=MetricUnit.Milliseconds, value=elapsed_ms)
    metrics.add_metric(name="ImagesGenerated", unit=MetricUnit.Count, value=1)
    logger.append_keys(task_id=task.response.taskId)
    logger.info("image generated", extra={"key": task.response.key, "seed": task.response.seed})
    if wants_png(app.current_event.headers.get("accept", "")):
        headers = {"X-Task-Id": task.response.taskId, "X-Image-Url": task.response.imageUrl}
        return Response(HTTPStatus.OK, "image/png", task.png, headers=headers)
    return Response(
        HTTPStatus.OK, content_types.APPLICATION_JSON, task.response.model_dump_json(exclude_none=True)
    )


@app.get(
    "/generate/<task_id>",
    summary="A stored task's metadata and a fresh presigned URL",
    responses={404: {"description": "No such task", "content": _ERROR_JSON}},
)
def get_task(
    task_id: Annotated[str, Path(description="The taskId returned by POST /generate")],
) -> TaskResponse:
    return service.describe(task_id)


@app.get("/openapi.json", summary="This API's OpenAPI document", include_in_schema=False)
def openapi():  # no return annotation: no response validation
    return Response(HTTPStatus.OK, content_types.APPLICATION_JSON, openapi_document())


@functools.cache
def openapi_document() -> str:
    document = json.loads(app.get_openapi_json_schema(title="hng", version=__version__, description=__doc__))
    # Powertools documents a 422 for every validated route; this API answers validation errors with 400.
    for path in document.get("paths", {}).values():
        for operation in path.values():
            operation.get("responses", {}).pop("422", None)
    schemas = document.get("components", {}).get("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError", "ResponseValidationError"):
        schemas.pop(unused, None)
    return json.dumps(document)


def wants_png(accept: str) -> bool:
    return any(part.split(";")[0].strip() == "image/png" for part in accept.split(","))


def field_errors(errors: list[dict[str, Any]]) -> list[dict[str, str]]:
    """Pydantic error dicts as {field, message, type}, with the field named as the client sent it."""
    out = []
    for error in errors:
        location = [str(part) for part in error.get("loc", ()) if part != "body"]
        if error.get("type") == "json_invalid":
            message = f"malformed JSON: {error.get('ctx', {}).get('error', 'cannot be parsed')}"
            out.append({"field": "body", "message": message, "type": "json_invalid"})
            continue
        message = str(error.get("msg", "invalid value")).removeprefix("Value error, ")
        field = ".".join(location) or "body"
        out.append({"field": field, "message": message, "type": str(error.get("type", "value_error"))})
    return out


@app.exception_handler(RequestUnsupportedContentType)
def unsupported_content_type(error: RequestUnsupportedContentType) -> Response:
    content_type = app.current_event.headers.get("content-type", "")
    return _error(
        HTTPStatus.UNSUPPORTED_MEDIA_TYPE, f"Content-Type must be application/json, got {content_type!r}"
    )


@app.exception_handler(RequestValidationError)
def invalid_request(error: RequestValidationError) -> Response:
    content_type = app.current_event.headers.get("content-type", "")
    if content_type and not content_type.split(";")[0].strip().lower().endswith("json"):
        return _error(
            HTTPStatus.UNSUPPORTED_MEDIA_TYPE, f"Content-Type must be application/json, got {content_type!r}"
        )
    return _error(HTTPStatus.BAD_REQUEST, "invalid request", field_errors(error.errors()))


@app.exception_handler(RecursionError)
def too_deep(error: RecursionError) -> Response:
    # json.loads on a body nested a thousand levels deep; the JSON decoder reports nothing else this way.
    return _error(HTTPStatus.BAD_REQUEST, "invalid request", [_body_error("JSON nested too deeply")])


@app.exception_handler(UnicodeDecodeError)
def not_utf8(error: UnicodeDecodeError) -> Response:
    return _error(HTTPStatus.BAD_REQUEST, "invalid request", [_body_error("body is not UTF-8 text")])


def _body_error(message: str) -> dict[str, str]:
    return {"field": "body", "message": f"malformed JSON: {message}", "type": "json_invalid"}


@app.exception_handler(TaskNotFound)
def task_not_found(error: TaskNotFound) -> Response:
    return _error(HTTPStatus.NOT_FOUND, f"no task {error.args[0]!r}")


@app.exception_handler([StorageError, ServiceUnavailable])
def unavailable(error: Exception) -> Response:
    logger.error("service unavailable", extra={"reason": str(error)})
    metrics.add_metric(name="Errors", unit=MetricUnit.Count, value=1)
    return _error(HTTPStatus.SERVICE_UNAVAILABLE, str(error))


@app.not_found
def not_found(error: NotFoundError) -> Response:
    path = app.current_event.path
    for pattern, methods in ROUTE_METHODS.items():
        if pattern.match(path):
            method = app.current_event.http_method
            response = _error(HTTPStatus.METHOD_NOT_ALLOWED, f"{method} is not allowed on {path}")
            response.headers["Allow"] = ", ".join(methods)
            return response
    return _error(HTTPStatus.NOT_FOUND, f"no route {path}")


@app.exception_handler(Exception)
def internal_error(error: Exception) -> Response:
    logger.exception("unhandled error")
    metrics.add_metric(name="Errors", unit=MetricUnit.Count, value=1)
    return _error(HTTPStatus.INTERNAL_SERVER_ERROR, "internal error")


class InvalidEvent(ValueError):
    """A direct invocation's event broke a rule; the message names each field."""


def invoke_direct(event: dict[str, Any]) -> dict[str, Any]:
    """A plain event from Step Functions, EventBridge or another Lambda: the same fields as POST /generate."""
    try:
        request = GenerateRequest.model_validate(event)
    except ValidationError as error:
        problems = "; ".join(f"{e['field']}: {e['message']}" for e in field_errors(error.errors()))
        raise InvalidEvent(f"invalid event: {problems}") from None
    return json.loads(service.generate(request).response.model_dump_json(exclude_none=True))


def is_api_gateway_event(event: Any) -> bool:
    return isinstance(event, dict) and "httpMethod" in event and "requestContext" in event


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if not is_api_gateway_event(event):
        if not isinstance(event, dict):
            raise InvalidEvent(
                f"event must be a JSON object with the POST /generate fields, got {type(event).__name__}"
            )
        return invoke_direct(event)
    body = event.get("body") or ""
    if len(body) > MAX_BODY_BYTES:
        return {
            "statusCode": HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
            "headers": {"Content-Type": content_types.APPLICATION_JSON},
            "body": ErrorResponse(
                statusCode=413,
                message=f"request body over {MAX_BODY_BYTES} bytes",
                requestId=context.aws_request_id,
            ).model_dump_json(exclude_none=True),
            "isBase64Encoded": False,
        }
    return app.resolve(event, context)
