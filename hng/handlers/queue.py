"""The request queue's Lambda: SQS batches of requests, each carried out once, failures reported per message.

A message's body is a direct-invocation event (hng.http.direct): the ``POST /generate`` fields make an
image, ``{"dataset": {the POST /datasets fields}}`` starts a dataset job; an optional top-level
``idempotencyKey`` names the request (by default the message id), and an image request's optional
``keyPrefix`` (``run-42/``) puts its objects under ``tasks/run-42/{taskId}/``. Powertools' batch utility calls
`handle_record` for each message and answers the messages that failed (``batchItemFailures``), so one
bad message never fails or repeats the others:

- a request that can never succeed (not JSON, a field that breaks a rule, a status request) goes to the
  dead-letter queue at once with its reason (hng.service.dead_letters), and is not retried;
- a request that failed for now (S3, Step Functions or the data unavailable, the same key still in
  progress) is reported failed: SQS retries it, then its redrive policy moves it to the dead-letter queue;
- a request seen before (the same key and body) is not carried out again (hng.service.idempotency).

The operations, their logs, metrics and events are the API's (hng.handlers.api), with ``via: queue``.
"""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from hng.errors import Conflict, InvalidInput, NotFound
from hng.handlers import api
from hng.http.direct import DescribeDatasetCall, parse_direct_event
from hng.http.event import InvalidEvent
from hng.service.dead_letters import DeadLetters
from hng.service.idempotency import KeyInProgress, parse_idempotency_key
from hng.service.spec_drops import DroppedSpec, dropped_spec, error_body, read_spec, result_body
from hng.service.task_store import check_key_group

KEY_FIELD = "idempotencyKey"
GROUP_FIELD = "keyPrefix"
# What a request's errors mean when they would be the same on every delivery (KeyInProgress, a Conflict
# that passes, is caught before these).
NEVER_SUCCEEDS = (InvalidInput, NotFound, Conflict)

processor = BatchProcessor(event_type=EventType.SQS)
dead_letters = DeadLetters(api.settings.dead_letter_queue_url)


def parse_body(body: str) -> dict[str, Any]:
    """A message body's JSON object; InvalidEvent otherwise."""
    try:
        event = json.loads(body)
    except ValueError as error:
        raise InvalidEvent(f"invalid message: the body is not JSON ({error})", field="body") from None
    if not isinstance(event, dict):
        raise InvalidEvent("invalid message: the body must be a JSON object", field="body")
    return event


def parse_message(event: dict[str, Any]) -> tuple[dict[str, Any], str | None, str]:
    """The request a message's object holds, its idempotency key if it names one, and the key prefix of
    its image's objects under tasks/ ("" by default); InvalidEvent otherwise."""
    event = dict(event)
    group = event.pop(GROUP_FIELD, "")
    if group:
        try:
            group = check_key_group(group, GROUP_FIELD)
        except InvalidInput as error:
            raise InvalidEvent(f"invalid message: {error}", field=GROUP_FIELD) from None
        if "dataset" in event:
            raise InvalidEvent(
                f"invalid message: {GROUP_FIELD} places an image; a dataset has its own prefix", GROUP_FIELD
            )
    key = event.pop(KEY_FIELD, None)
    if key is not None and not isinstance(key, str):
        raise InvalidEvent(f"invalid message: {KEY_FIELD} must be a string", field=KEY_FIELD)
    try:
        key = parse_idempotency_key(key)
    except InvalidInput as error:
        raise InvalidEvent(f"invalid message: {error}", field=KEY_FIELD) from None
    if isinstance(parse_direct_event(event), DescribeDatasetCall):
        raise InvalidEvent(
            "invalid message: a queue message makes an image or starts a dataset job; datasetId (a status "
            "request) is for a direct invocation or GET /datasets/{datasetId}",
            field="datasetId",
        )
    return event, key, group


def handle_record(record: SQSRecord) -> None:
    try:
        message = parse_body(record.body)
        drop = dropped_spec(message)
        if drop is not None:
            start_dropped_spec(drop)
            return
        event, key, group = parse_message(message)
        request = {**event, GROUP_FIELD: group}  # what the key stands for, the prefix included
        api.replays.run(
            "queue", key or record.message_id, request, lambda: api.invoke_direct(event, "queue", group)
        )
    except KeyInProgress:
        raise  # its first delivery is still being carried out: try again later
    except NEVER_SUCCEEDS as error:
        # Would fail the same way on every receive: moved aside now, with why.
        api.logger.error(
            "queue message refused", extra={"message_id": record.message_id, "reason": str(error)}
        )
        dead_letters.send(record.body, record.message_id, str(error))


def start_dropped_spec(drop: DroppedSpec) -> None:
    """Start the dataset job a spec file dropped under requests/ asks for, and write its result beside it:
    the job's answer, or the error naming the field (then nothing was started)."""
    store = api.service.store
    if store is None or drop.bucket != store.bucket:
        api.logger.warning("a spec dropped in another bucket is ignored", extra={"bucket": drop.bucket})
        return
    raw = store.read_object(drop.key)  # unreadable for now: retried
    try:
        dataset = read_spec(raw)
    except ValueError as error:  # not JSON, not an object
        store.write_object(drop.result_key, error_body(str(error), "spec"), "application/json")
        return
    try:
        answer = api.replays.run(
            "requests",
            drop.request_id,
            {"key": drop.key, "etag": drop.etag},
            lambda: api.invoke_direct({"dataset": dataset}, via="queue"),
        )
        body = result_body({**answer, "spec": drop.key})
    except KeyInProgress:
        raise
    except NEVER_SUCCEEDS as error:
        field = error.problems[0][0].removeprefix("dataset.") if isinstance(error, InvalidInput) else "spec"
        body = error_body(str(error).replace("dataset.", ""), field)
        api.logger.info("dropped spec refused", extra={"key": drop.key, "reason": str(error)})
    store.write_object(drop.result_key, body, "application/json")


@api.logger.inject_lambda_context(clear_state=True)
@api.tracer.capture_lambda_handler(capture_response=False)
@api.metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """An SQS event source mapping's batch (with ReportBatchItemFailures): the messages to retry."""
    api.replays.register_context(context)
    return dict(
        process_partial_response(
            event=event, record_handler=handle_record, processor=processor, context=context
        )
    )
