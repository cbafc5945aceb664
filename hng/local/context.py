"""The Lambda context the local API passes to the handler, and the account and region it runs in."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

# API Gateway's 29 s integration timeout; the function's context says 30 s.
FUNCTION_TIMEOUT_MS = 30_000
# The account and region the local function runs in: its ARN, the events, the embedded S3.
_ACCOUNT_ID = "123456789012"
_REGION = "us-east-1"


@dataclass
class LocalLambdaContext:
    """What the Lambda runtime passes as `context`, for the handler and Powertools (Logger reads it)."""

    aws_request_id: str
    function_name: str = "hng-local"
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 1024
    timeout_ms: int = FUNCTION_TIMEOUT_MS
    log_group_name: str = "/aws/lambda/hng-local"
    log_stream_name: str = "local"
    identity: Any = None
    client_context: Any = None
    tenant_id: str | None = None
    _deadline: float = field(default=0.0, repr=False)

    def __post_init__(self) -> None:
        self._deadline = time.monotonic() + self.timeout_ms / 1000

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:{_REGION}:{_ACCOUNT_ID}:function:{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))
