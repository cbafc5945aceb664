"""Retries that never duplicate work: an operation runs once per ``Idempotency-Key``.

Powertools' idempotency utility keeps each key's first answer in a DynamoDB table (the template's, with
TTL on; ``hng serve``'s in its embedded moto server), named by ``HNG_IDEMPOTENCY_TABLE``:

- the same key with the same body gets the first answer, and the operation does not run again;
- the same key with another body is refused (409), as is a key whose first request is still running
  (409: retry shortly);
- a first request that fails stores nothing, so it can be retried with the same key.

Keys are scoped by operation (``generate``, ``datasets``), and answers are kept as long as the presigned
URLs in them live (``HNG_URL_EXPIRES``). Powertools and the DynamoDB client load on the first keyed
request: a cold start without a key does not pay for them.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Mapping
from typing import Any

from hng.errors import Conflict, InvalidInput, Unavailable

HEADER = "Idempotency-Key"
# Powertools' DynamoDBPersistenceLayer defaults, which the template's table declares too.
TABLE_KEY = "id"
TTL_ATTRIBUTE = "expiration"
_KEY = re.compile(r"[\x21-\x7e]{1,255}")  # visible ASCII, as the IETF draft's examples and Stripe's keys


class KeyInProgress(Conflict):
    """The key's first request still runs: a retry later may get its answer."""


def create_table(client: Any, name: str) -> None:
    """The idempotency table as the template declares it (for ``hng serve``'s embedded moto and tests):
    a string key ``id``, on-demand, TTL on ``expiration``. A table of that name already there is kept
    (moto's state is per process, so a second server in one process finds the first one's)."""
    try:
        client.create_table(
            TableName=name,
            KeySchema=[{"AttributeName": TABLE_KEY, "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": TABLE_KEY, "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
    except client.exceptions.ResourceInUseException:
        return
    client.update_time_to_live(
        TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": TTL_ATTRIBUTE}
    )


def parse_idempotency_key(value: str | None) -> str | None:
    """The header's key, or None when there is none; InvalidInput naming the header if it breaks the rule."""
    if value is None:
        return None
    if not _KEY.fullmatch(value):
        raise InvalidInput(HEADER, f"{HEADER} must be 1 to 255 visible ASCII characters, got {value[:40]!r}")
    return value


class Idempotency:
    """Runs operations once per key on the DynamoDB table ``table_name`` (None: keys are refused, 503)."""

    def __init__(self, table_name: str | None, expires_after_seconds: int) -> None:
        self.table_name = table_name
        self.expires_after_seconds = expires_after_seconds
        self._lock = threading.Lock()
        self._function: Callable[..., Any] | None = None
        self._config: Any = None
        self._context: Any = None

    def run(
        self, operation: str, key: str, body: Mapping[str, Any], call: Callable[[], dict[str, Any]]
    ) -> dict[str, Any]:
        """``call()``'s answer (a JSON object) the first time ``key`` comes with ``body`` for ``operation``,
        the stored one after that."""
        from aws_lambda_powertools.utilities.idempotency.exceptions import (
            IdempotencyAlreadyInProgressError,
            IdempotencyPersistenceConnectionError,
            IdempotencyPersistenceConsistencyError,
            IdempotencyPersistenceLayerError,
            IdempotencyValidationError,
        )

        once = self._once()
        if self._context is not None:
            self._config.register_lambda_context(self._context)
        request = {"operation": operation, "key": key, "body": dict(body)}
        try:
            return dict(once(request=request, call=call))
        except IdempotencyValidationError:
            raise Conflict(
                f"{HEADER} {key!r} was first used with another request body: send a new key for a new request"
            ) from None
        except IdempotencyAlreadyInProgressError:
            raise KeyInProgress(
                f"the first request with {HEADER} {key!r} is still in progress: retry in a few seconds"
            ) from None
        except (
            IdempotencyPersistenceLayerError,
            IdempotencyPersistenceConnectionError,
            IdempotencyPersistenceConsistencyError,
        ) as error:
            raise Unavailable(f"the idempotency table cannot be read or written: {error}") from error

    def register_context(self, context: Any) -> None:
        """The invocation's Lambda context: a key whose Lambda timed out mid-way is then "in progress"
        no longer than the invocation could have run (Powertools reads its remaining time)."""
        self._context = context if hasattr(context, "get_remaining_time_in_millis") else None

    def _once(self) -> Callable[..., Any]:
        if self.table_name is None:
            raise Unavailable(
                f"{HEADER} needs a table: set HNG_IDEMPOTENCY_TABLE (the stack and hng serve do)"
            )
        with self._lock:
            if self._function is None:
                from aws_lambda_powertools.utilities.idempotency import (
                    DynamoDBPersistenceLayer,
                    IdempotencyConfig,
                    idempotent_function,
                )

                from hng.aws.clients import CONTROL, make_client

                config = IdempotencyConfig(
                    event_key_jmespath="[operation, key]",
                    payload_validation_jmespath="body",
                    raise_on_no_idempotency_key=True,
                    expires_after_seconds=self.expires_after_seconds,
                    hash_function="sha256",
                )
                store = DynamoDBPersistenceLayer(
                    table_name=self.table_name, boto3_client=make_client("dynamodb", CONTROL)
                )

                @idempotent_function(data_keyword_argument="request", persistence_store=store, config=config)
                def once(request: dict[str, Any], call: Callable[[], dict[str, Any]]) -> dict[str, Any]:
                    return call()

                self._function, self._config = once, config
            return self._function
