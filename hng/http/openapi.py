"""The OpenAPI answers of the API's routes, and the document as this API means it (no Powertools 422s)."""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.event_handler import content_types
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
from pydantic import BaseModel

JSON = content_types.APPLICATION_JSON


def success(description: str, model: type[BaseModel], *others: str) -> OpenAPIResponse:
    """A success response: the JSON model with the model's own example, and other media types."""
    example = model.model_config["json_schema_extra"]["examples"][0]  # type: ignore[index]
    content: dict[str, Any] = {JSON: {"model": model, "examples": {"example": {"value": example}}}}
    content.update({other: {} for other in others})
    return {"description": description, "content": content}


def error(description: str, model: type[BaseModel]) -> OpenAPIResponse:
    """An error response with the JSON error model."""
    return {"description": description, "content": {JSON: {"model": model}}}


def without_validation_errors(document_json: str) -> str:
    """The document without the 422 Powertools adds to every validated route (this API answers 400)."""
    document = json.loads(document_json)
    for path in document.get("paths", {}).values():
        for operation in path.values():
            operation.get("responses", {}).pop("422", None)
    schemas = document.get("components", {}).get("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError", "ResponseValidationError"):
        schemas.pop(unused, None)
    return json.dumps(document)
