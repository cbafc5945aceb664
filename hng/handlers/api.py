"""The hng API Lambda: API Gateway (REST, proxy) routes and direct invocation, on AWS Lambda Powertools.

Routes parse the request, call one operation and shape the answer; the work is in hng.service and
hng.datasets, the protocol in hng.http. A direct invocation (hng.http.direct) reaches the same operations,
so it gets the same log lines and metrics. hng's errors become HTTP answers in one place (`hng_error`).
The MNIST data loads when the container starts (module import), never per request.
"""

from __future__ import annotations

import functools
import json
import time
import warnings
from http import HTTPStatus
from typing import Annotated, Any

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.openapi.params import Body, Header, Path
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from hng import __version__
from hng.core.encoding import MEDIA_TYPES
from hng.datasets.jobs import DatasetJobs
from hng.datasets.spec import DatasetSpec, SpecError
from hng.errors import Conflict, HngError, InvalidInput, NotFound, Unavailable
from hng.handlers.observability import logger_and_tracer
from hng.http import (
    BodyError,
    EventKind,
    check_context,
    classify_event,
    docs_page,
    negotiate,
    request_body,
    with_json_body,
)
from hng.http import openapi as answers_doc
from hng.http.answers import Refused, error_body, field_error, field_errors, public_url
from hng.http.direct import (
    DescribeDatasetCall,
    GenerateCall,
    StartDatasetCall,
    invalid_fields,
    parse_direct_event,
)
from hng.http.playground import playground_page
from hng.http.routes import RouteTable
from hng.service.events import EventPublisher
from hng.service.idempotency import HEADER as IDEMPOTENCY_HEADER
from hng.service.idempotency import Idempotency, parse_idempotency_key
from hng.service.image_service import GeneratedTask, GenerationService, ServiceUnavailable
from hng.service.models import (
    DatasetStarted,
    DatasetStatus,
    DatasetStopped,
    ErrorResponse,
    FieldError,
    GenerateRequest,
    GenerateResponse,
    HealthResponse,
    TaskResponse,
)
from hng.settings import load_settings

API_DESCRIPTION = (
    "Images of handwritten numbers made from real MNIST digits, for OCR and digit-sequence training data. "
    "`POST /generate` makes one image, stores the PNG in S3 and answers with a presigned URL; "
    "`POST /datasets` makes a labelled dataset in shards. The playground is at `/`, these docs at `/docs`."
)
MAX_BODY_BYTES = 16 * 1024  # counted in bytes, after base64 decoding
JSON = content_types.APPLICATION_JSON
PNG = "image/png"

ERROR_RESPONSES = {
    status: answers_doc.error(description, ErrorResponse)
    for status, description in (
        (
            400,
            "Malformed JSON, a body that is not an object, or fields that break a rule "
            "(each named in `errors`)",
        ),
        (406, "Accept allows neither application/json nor the image's type (image/png or image/jpeg)"),
        (413, f"Body over {MAX_BODY_BYTES} bytes"),
        (409, "The Idempotency-Key was first used with another body, or its first request still runs"),
        (415, "Content-Type is not application/json (or a +json type) with UTF-8"),
        (503, "S3 or the MNIST data unavailable"),
    )
}
NO_SUCH_DATASET = answers_doc.error("No such dataset", ErrorResponse)
KEY_DOC = (
    "Makes retries safe: the first request with a key runs, a repeat with the same body gets its answer "
    "(for HNG_URL_EXPIRES seconds), the same key with another body or while the first still runs is a 409. "
    "1 to 255 visible ASCII characters."
)

# The template's environment, read once per container (hng.settings names a variable that breaks a rule).
settings = load_settings()
# GET /health and refused requests legitimately publish no metric: Powertools would warn on each.
warnings.filterwarnings("ignore", "No application metrics to publish", UserWarning)
logger, tracer = logger_and_tracer(settings)
metrics = Metrics(namespace=settings.metrics_namespace, service=settings.service_name)
app = APIGatewayRestResolver(enable_validation=True)
routes = RouteTable()
service = GenerationService.from_env()
# Answers are kept as long as their presigned URLs live.
replays = Idempotency(settings.idempotency_table, settings.url_expiry)
events = EventPublisher(settings.event_bus)
datasets = DatasetJobs.from_env(
    service.config.bucket,
    client=service.store.client if service.store is not None else None,
    url_expiry=service.config.url_expiry,
)


def _error(status: int, message: str, errors: list[FieldError] | None = None) -> Response:
    request_id = app.lambda_context.aws_request_id if getattr(app, "lambda_context", None) else None
    return Response(status, JSON, error_body(status, message, errors, request_id))


# --- the operations: the same for a route and a direct invocation (logs and metrics included) ------------


def generate_task(request: GenerateRequest, via: str = "api", group: str = "") -> GeneratedTask:
    started = time.perf_counter()
    task = service.generate(request, group)
    elapsed_ms = (time.perf_counter() - started) * 1000
    metrics.add_metric(name="GenerationLatency", unit=MetricUnit.Milliseconds, value=elapsed_ms)
    metrics.add_metric(name="ImagesGenerated", unit=MetricUnit.Count, value=1)
    logger.append_keys(task_id=task.response.taskId)
    logger.info("image generated", extra={"key": task.response.key, "seed": task.response.seed})
    events.task_generated(task.response.model_dump(mode="json"), via=via)
    return task


def _dataset_jobs() -> DatasetJobs:
    if datasets is None:
        raise ServiceUnavailable(
            "dataset jobs are not configured (HNG_DATASET_STATE_MACHINE_ARN on AWS; hng serve runs them)"
        )
    return datasets


def start_dataset_job(spec: DatasetSpec) -> dict[str, Any]:
    answer = _dataset_jobs().start(spec, service.require_data())
    logger.info("dataset started", extra={"dataset_id": answer["datasetId"], "images": spec.count})
    metrics.add_metric(name="DatasetsStarted", unit=MetricUnit.Count, value=1)
    return answer


# --- routes ---------------------------------------------------------------------------------------------


@routes.route(app, "GET", "/", summary="The browser playground", include_in_schema=False)
def playground():  # no return annotation: no response validation
    origin = service.store.url_origin() if service.store is not None else None
    page = playground_page(
        image_origins=[origin] if origin else [],
        api_key_required=settings.api_key_required,
    )
    return Response(HTTPStatus.OK, page.headers["Content-Type"], page.html, headers=page.headers)


@routes.route(
    app,
    "GET",
    "/health",
    summary="Service status and whether the MNIST data is loaded",
    responses={200: answers_doc.success("The service's status", HealthResponse)},
)
def health() -> HealthResponse:
    return service.health()


@routes.route(
    app,
    "POST",
    "/generate",
    json_body="with at least `number`",
    summary="Generate a number image, store it in S3 and answer with a presigned URL",
    description="With `Accept: image/png` (`image/jpeg` for `imageEncoding` jpeg) the answer is the image "
    "itself (headers carry the task id and URL).",
    responses={
        200: answers_doc.success(
            "The generated image's URL and facts (or the PNG itself)", GenerateResponse, PNG
        ),
        **ERROR_RESPONSES,
    },
)
# No return annotation on purpose: Powertools would re-validate the response (and refuse the PNG).
def generate(
    request: Annotated[GenerateRequest, Body(embed=False)],
    idempotency_key: Annotated[str | None, Header(alias=IDEMPOTENCY_HEADER, description=KEY_DOC)] = None,
):
    image_type = MEDIA_TYPES[request.image_encoding]
    answer_as = negotiate(app.current_event.headers.get("accept"), (JSON, image_type))
    if answer_as is None:
        return _error(HTTPStatus.NOT_ACCEPTABLE, f"Accept must allow {JSON} or {image_type}")
    key = parse_idempotency_key(idempotency_key)
    if key is None:
        task = generate_task(request)
        if answer_as == image_type:
            headers = {"X-Task-Id": task.response.taskId, "X-Image-Url": task.response.imageUrl}
            return Response(HTTPStatus.OK, task.media_type, task.image, headers=headers)
        return Response(HTTPStatus.OK, JSON, task.response.model_dump_json(exclude_none=True))
    made: list[GeneratedTask] = []

    def first() -> dict[str, Any]:
        made.append(generate_task(request))
        return made[0].response.model_dump(mode="json", exclude_none=True)

    answer = replays.run("generate", key, request.model_dump(mode="json", exclude_unset=True), first)
    if answer_as == image_type:
        # A replay answers the first request's image, read back from where it was stored.
        image = made[0].image if made else service.read_image(answer["key"])
        headers = {"X-Task-Id": answer["taskId"], "X-Image-Url": answer["imageUrl"]}
        return Response(HTTPStatus.OK, image_type, image, headers=headers)
    return Response(HTTPStatus.OK, JSON, json.dumps(answer, separators=(",", ":")))


@routes.route(
    app,
    "GET",
    "/generate/<task_id>",
    summary="A stored task's metadata and a fresh presigned URL",
    responses={
        200: answers_doc.success("The task's metadata and a fresh presigned URL", TaskResponse),
        404: answers_doc.error("No such task", ErrorResponse),
    },
)
def get_task(
    task_id: Annotated[str, Path(description="The taskId returned by POST /generate")],
) -> TaskResponse:
    return service.describe(task_id)


def _status_url(dataset_id: str) -> str:
    return public_url(app.current_event, app.current_event.headers, f"/datasets/{dataset_id}")


@routes.route(
    app,
    "POST",
    "/datasets",
    json_body="with at least `count`",
    summary="Start a dataset job: shards made by Step Functions (or hng serve's local engine) in S3",
    description="The body is `hng dataset`'s spec. The job runs in the background: poll the status URL.",
    responses={202: answers_doc.success("Started", DatasetStarted), **ERROR_RESPONSES},
)
def start_dataset(
    spec: Annotated[DatasetSpec, Body(embed=False)],
    idempotency_key: Annotated[str | None, Header(alias=IDEMPOTENCY_HEADER, description=KEY_DOC)] = None,
):
    key = parse_idempotency_key(idempotency_key)
    if key is None:
        answer = start_dataset_job(spec)
    else:
        answer = replays.run("datasets", key, spec.to_json(), lambda: start_dataset_job(spec))
    answer["statusUrl"] = _status_url(answer["datasetId"])
    return Response(HTTPStatus.ACCEPTED, JSON, DatasetStarted(**answer).model_dump_json())


@routes.route(
    app,
    "GET",
    "/datasets/<dataset_id>",
    summary="A dataset job's status, progress and, once done, its manifest and shards (presigned URLs)",
    responses={
        200: answers_doc.success("The job's state (the example: a finished job)", DatasetStatus),
        404: NO_SUCH_DATASET,
        503: ERROR_RESPONSES[503],
    },
)
def describe_dataset(
    dataset_id: Annotated[str, Path(description="The datasetId returned by POST /datasets")],
) -> DatasetStatus:
    return DatasetStatus(**_dataset_jobs().describe(dataset_id))


@routes.route(
    app,
    "POST",
    "/datasets/<dataset_id>",
    summary="Run a failed or stopped dataset job again: shards already made are kept",
    responses={
        202: answers_doc.success("Started again", DatasetStarted),
        404: NO_SUCH_DATASET,
        409: answers_doc.error("Still running, or complete", ErrorResponse),
        503: ERROR_RESPONSES[503],
    },
)
def restart_dataset(dataset_id: Annotated[str, Path(description="The datasetId returned by POST /datasets")]):
    answer = _dataset_jobs().restart(dataset_id)
    answer["statusUrl"] = _status_url(dataset_id)
    return Response(HTTPStatus.ACCEPTED, JSON, DatasetStarted(**answer).model_dump_json())


@routes.route(
    app,
    "DELETE",
    "/datasets/<dataset_id>",
    summary="Stop a running dataset job (shards already made stay)",
    responses={
        202: answers_doc.success("Stopped (or already ended): the job's state", DatasetStopped),
        404: NO_SUCH_DATASET,
        503: ERROR_RESPONSES[503],
    },
)
def stop_dataset(dataset_id: Annotated[str, Path(description="The datasetId returned by POST /datasets")]):
    stopped = DatasetStopped(**_dataset_jobs().stop(dataset_id))
    return Response(HTTPStatus.ACCEPTED, JSON, stopped.model_dump_json())


@routes.route(app, "GET", "/openapi.json", summary="This API's OpenAPI document", include_in_schema=False)
def openapi():  # no return annotation: no response validation
    return Response(HTTPStatus.OK, JSON, openapi_document())


@routes.route(
    app, "GET", "/docs", summary="Swagger UI over this API's OpenAPI document", include_in_schema=False
)
def docs():  # no return annotation: no response validation
    return _web_answer(docs_page.page(app.current_event.path))


@routes.route(app, "GET", "/docs/<asset>", summary="The files of the /docs page", include_in_schema=False)
def docs_asset(asset: str):
    answer = docs_page.asset(asset)
    if answer is None:
        return _error(HTTPStatus.NOT_FOUND, f"nothing at {app.current_event.path}")
    return _web_answer(answer)


def _web_answer(answer: docs_page.WebAnswer) -> Response:
    return Response(answer.status, answer.content_type, answer.body, headers=answer.headers)


@functools.cache
def openapi_document() -> str:
    schema = app.get_openapi_json_schema(title="hng", version=__version__, description=API_DESCRIPTION)
    return answers_doc.without_validation_errors(schema)


# --- errors: hng's kinds as HTTP answers, in this one place ---------------------------------------------


@app.exception_handler(RequestValidationError)
def invalid_request(error: RequestValidationError) -> Response:
    return _error(HTTPStatus.BAD_REQUEST, "invalid request", field_errors(error.errors()))


@app.exception_handler(HngError)
def hng_error(error: HngError) -> Response:
    if isinstance(error, InvalidInput):
        errors = [field_error(field, rule) for field, rule in error.problems]
        return _error(HTTPStatus.BAD_REQUEST, "invalid request", errors)
    if isinstance(error, NotFound):
        return _error(HTTPStatus.NOT_FOUND, str(error))
    if isinstance(error, Conflict):
        return _error(HTTPStatus.CONFLICT, str(error))
    if isinstance(error, Unavailable):
        logger.error("service unavailable", extra={"reason": str(error), "retryable": error.retryable})
        metrics.add_metric(name="Errors", unit=MetricUnit.Count, value=1)
        orphan = getattr(error, "orphan_key", None)
        if orphan:
            # The lifecycle rule expires it; until then it is an image without metadata.
            logger.error("orphaned image left in the bucket", extra={"key": orphan})
            metrics.add_metric(name="OrphanedImages", unit=MetricUnit.Count, value=1)
        return _error(HTTPStatus.SERVICE_UNAVAILABLE, str(error))
    return internal_error(error)


@app.not_found
def not_found(error: NotFoundError) -> Response:
    path, method = app.current_event.path, app.current_event.http_method
    rule = routes.rule(path)
    if rule is not None and method not in rule.methods:
        response = _error(HTTPStatus.METHOD_NOT_ALLOWED, f"{method} is not allowed on {path}")
        response.headers["Allow"] = ", ".join(rule.methods)
        return response
    # A known path and method that Powertools' router did not match: a path parameter with characters
    # no id has (NUL, backslash, CR/LF...), i.e. no such resource.
    return _error(HTTPStatus.NOT_FOUND, f"no route {path}" if rule is None else f"nothing at {path}")


@app.exception_handler(Exception)
def internal_error(error: Exception) -> Response:
    logger.exception("unhandled error")
    metrics.add_metric(name="Errors", unit=MetricUnit.Count, value=1)
    return _error(HTTPStatus.INTERNAL_SERVER_ERROR, "internal error")


# --- the entry point ------------------------------------------------------------------------------------


def invoke_direct(event: dict[str, Any], via: str = "api", group: str = "") -> dict[str, Any]:
    """A direct invocation (hng.http.direct): the answer the matching route gives, as a plain object.
    ``via`` names the entry point in the Task Generated event (``queue`` for hng.handlers.queue);
    ``group``, a queue message's keyPrefix, where an image's objects go under tasks/."""
    call = parse_direct_event(event)
    if isinstance(call, GenerateCall):
        task = generate_task(call.request, via, group)
        return json.loads(task.response.model_dump_json(exclude_none=True))
    if isinstance(call, DescribeDatasetCall):
        return DatasetStatus(**_dataset_jobs().describe(call.dataset_id)).model_dump()
    if not isinstance(call, StartDatasetCall):
        raise AssertionError(f"hng bug: no operation for {type(call).__name__}")
    try:
        return start_dataset_job(call.spec)
    except SpecError as error:  # the service's own limits, named as the event's fields
        raise invalid_fields(error.problems, "dataset.") from None


def check_request(event: dict[str, Any]) -> dict[str, Any]:
    """hng.http's body rules, before routing: the REST event to route, or `Refused`.

    Every body is counted in bytes after base64 decoding (413); a route declared with a JSON body gets its
    Content-Type and body checked once, here.
    """
    raw = request_body(event)
    if len(raw) > MAX_BODY_BYTES:
        raise Refused(413, f"request body is {len(raw)} bytes; the limit is {MAX_BODY_BYTES}")
    rule = routes.rule(event["path"])
    required = rule.body.get(event["httpMethod"]) if rule else None
    if required is None:
        return event
    try:
        return with_json_body(event, required=required, max_bytes=MAX_BODY_BYTES)
    except BodyError as error:
        if error.status == HTTPStatus.UNSUPPORTED_MEDIA_TYPE:
            raise Refused(error.status, str(error)) from None
        errors = [field_error(error.field, str(error), error.kind)]
        raise Refused(error.status, "invalid request", errors) from None


def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """API Gateway REST proxy events, and direct invocations (hng.http.direct)."""
    check_context(context)
    replays.register_context(context)
    return _handle(event, context)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True)
# Responses hold presigned URLs (bearer credentials) and whole images: never copy them into X-Ray.
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def _handle(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if classify_event(event) is EventKind.DIRECT:
        return invoke_direct(event)
    try:
        checked = check_request(event)
    except Refused as refusal:
        return refusal.response(context.aws_request_id)
    return app.resolve(checked, context)
