"""API Gateway (REST) events for the Lambda handler, a Lambda context, and reading the handler's answers."""

from __future__ import annotations

import json
from typing import Any

BUCKET = "hng-unit-test"  # the moto bucket of the `s3` and `api` fixtures (tests/handlers/conftest.py)


class FakeContext:
    aws_request_id = "req-123"
    function_name = "hng-api"
    memory_limit_in_mb = 1024
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:hng-api"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


def api_event(method: str, path: str, body: Any = None, headers: dict[str, str] | None = None) -> dict:
    if body is not None and not isinstance(body, str):
        body = json.dumps(body)
    headers = {"Content-Type": "application/json"} if headers is None else headers
    return {
        "resource": path,
        "path": path,
        "httpMethod": method,
        "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": None,
        "stageVariables": None,
        "requestContext": {"requestId": "api-req-1", "stage": "test", "path": path, "httpMethod": method},
        "body": body,
        "isBase64Encoded": False,
    }


def call(api, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None) -> dict:
    """The handler module's answer to one API Gateway event."""
    return api.lambda_handler(api_event(method, path, body, headers), FakeContext())


def json_body(response: dict) -> dict:
    return json.loads(response["body"])


def content_type(response: dict) -> str:
    return response["multiValueHeaders"]["Content-Type"][0]


def stored_keys(s3, bucket: str = BUCKET) -> list[str]:
    return sorted(item["Key"] for item in s3.list_objects_v2(Bucket=bucket).get("Contents", []))
