"""Direct invocations (Step Functions, EventBridge, another Lambda): the plain events, read into the same
models as the HTTP routes' bodies, so both reach the same operations.

- the `POST /generate` fields: make one image;
- ``{"dataset": {the POST /datasets fields}}``: start a dataset job;
- ``{"datasetId": id}``: a dataset job's status (as GET /datasets/{id}).

Every problem is an `InvalidEvent` naming each field (``dataset.count: ...`` inside a dataset event).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from hng.datasets.spec import DatasetSpec
from hng.http.answers import field_errors
from hng.http.event import InvalidEvent
from hng.service.models import GenerateRequest


@dataclass(frozen=True)
class GenerateCall:
    request: GenerateRequest


@dataclass(frozen=True)
class StartDatasetCall:
    spec: DatasetSpec


@dataclass(frozen=True)
class DescribeDatasetCall:
    dataset_id: str


DirectCall = GenerateCall | StartDatasetCall | DescribeDatasetCall


def invalid_fields(problems: list[tuple[str, str]], prefix: str = "") -> InvalidEvent:
    listed = "; ".join(f"{prefix}{field}: {message}" for field, message in problems)
    return InvalidEvent(
        f"invalid event: {listed}", field=f"{prefix}{problems[0][0]}" if problems else "event"
    )


def _problems(error: ValidationError) -> list[tuple[str, str]]:
    return [(problem.field, problem.message) for problem in field_errors(error.errors())]


def parse_direct_event(event: Mapping[str, Any]) -> DirectCall:
    """The operation a direct event asks for, with its validated request; `InvalidEvent` otherwise."""
    if "dataset" not in event and "datasetId" not in event:
        try:
            return GenerateCall(GenerateRequest.model_validate(event))
        except ValidationError as error:
            raise invalid_fields(_problems(error)) from None
    if set(event) == {"datasetId"}:
        if not isinstance(event["datasetId"], str):
            raise InvalidEvent("invalid event: datasetId must be a string", field="datasetId")
        return DescribeDatasetCall(event["datasetId"])
    if set(event) != {"dataset"} or not isinstance(event["dataset"], dict):
        raise InvalidEvent(
            'invalid event: a dataset event is {"dataset": {the POST /datasets fields}} or {"datasetId": id}'
        )
    try:
        return StartDatasetCall(DatasetSpec.model_validate(event["dataset"]))
    except ValidationError as error:
        raise invalid_fields(_problems(error), "dataset.") from None
