"""The API's answers that are protocol, not product: error bodies, field errors, refusals before routing,
and this API's own public URL."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from hng.errors import blamed_field
from hng.service.models import ErrorResponse, FieldError

JSON = "application/json"


def error_body(status: int, message: str, errors: list[FieldError] | None, request_id: str | None) -> str:
    body = ErrorResponse(statusCode=status, message=message, errors=errors, requestId=request_id)
    return body.model_dump_json(exclude_none=True)


def field_error(field: str, message: str, kind: str = "value_error") -> FieldError:
    return FieldError(field=field, message=message, type=kind)


def field_errors(errors: Iterable[Mapping[str, Any]]) -> list[FieldError]:
    """Pydantic error dicts as field errors, each field named as the client sent it (see blamed_field)."""
    return [
        field_error(
            blamed_field(error) or "body",
            str(error.get("msg", "invalid value")).removeprefix("Value error, "),
            str(error.get("type", "value_error")),
        )
        for error in errors
    ]


class Refused(Exception):
    """A request answered before routing (413, 415, a malformed body), as a proxy response."""

    def __init__(self, status: int, message: str, errors: list[FieldError] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.errors = status, message, errors

    def response(self, request_id: str) -> dict[str, Any]:
        return {
            "statusCode": self.status,
            "headers": {"Content-Type": JSON},
            "body": error_body(self.status, self.message, self.errors, request_id),
            "isBase64Encoded": False,
        }


def public_url(event: Mapping[str, Any], headers: Mapping[str, str], path: str) -> str:
    """An absolute URL of this API for ``path``: API Gateway's own domain carries the stage in its paths."""
    context = event.get("requestContext") or {}
    domain = context.get("domainName") or headers.get("host") or "localhost"
    stage_domain = ".execute-api." in domain
    scheme = headers.get("x-forwarded-proto") or ("https" if stage_domain else "http")
    stage = f"/{context['stage']}" if stage_domain and context.get("stage") else ""
    return f"{scheme}://{domain}{stage}{path}"
