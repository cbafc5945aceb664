"""hng.service.idempotency on a moto DynamoDB table: an operation runs once per key, whoever retries."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from moto import mock_aws

from hng.errors import Conflict, InvalidInput, Unavailable
from hng.service.idempotency import Idempotency, create_table, parse_idempotency_key
from tests.support.api import FakeContext
from tests.support.aws import REGION, shared_session

TABLE = "hng-idempotency-test"
REPLAYS = 8


@pytest.fixture
def replays(aws_env) -> Iterator[Idempotency]:
    with mock_aws():
        create_table(shared_session().client("dynamodb", region_name=REGION), TABLE)
        replays = Idempotency(TABLE, expires_after_seconds=600)
        replays.register_context(FakeContext())
        yield replays


class Operation:
    """Counts its runs; each answer names its run."""

    def __init__(self) -> None:
        self.runs = 0

    def __call__(self) -> dict[str, Any]:
        self.runs += 1
        return {"taskId": f"task-{self.runs}", "nested": {"boxes": [[1, 2, 3, 4]]}}


def test_the_same_key_and_body_get_the_first_answer_without_running_again(replays):
    operation = Operation()
    first = replays.run("generate", "key-1", {"number": 42}, operation)
    again = replays.run("generate", "key-1", {"number": 42}, operation)
    assert first == again == {"taskId": "task-1", "nested": {"boxes": [[1, 2, 3, 4]]}}
    assert operation.runs == 1
    # Another key, or the same key for another operation, is another request.
    assert replays.run("generate", "key-2", {"number": 42}, operation)["taskId"] == "task-2"
    assert replays.run("datasets", "key-1", {"number": 42}, operation)["taskId"] == "task-3"


def test_the_same_key_with_another_body_is_a_conflict(replays):
    operation = Operation()
    replays.run("generate", "key-1", {"number": 42}, operation)
    with pytest.raises(Conflict, match="Idempotency-Key 'key-1' was first used with another request body"):
        replays.run("generate", "key-1", {"number": 43}, operation)
    assert operation.runs == 1


def test_a_failed_first_request_stores_nothing_and_can_be_retried(replays):
    def failing() -> dict[str, Any]:
        raise Unavailable("S3 is down")

    with pytest.raises(Unavailable, match="S3 is down"):
        replays.run("generate", "key-1", {"number": 42}, failing)
    operation = Operation()
    assert replays.run("generate", "key-1", {"number": 42}, operation)["taskId"] == "task-1"


def test_concurrent_replays_never_run_the_operation_twice(replays):
    inside, release = threading.Event(), threading.Event()
    operation = Operation()

    def slow() -> dict[str, Any]:
        inside.set()
        release.wait(timeout=60)
        return operation()

    with ThreadPoolExecutor(REPLAYS) as pool:
        first = pool.submit(replays.run, "generate", "key-1", {"number": 42}, slow)
        assert inside.wait(timeout=60)  # the first request is running: its key is in progress

        def replay() -> Any:
            try:
                return replays.run("generate", "key-1", {"number": 42}, slow)
            except Conflict as error:
                return error

        during = list(pool.map(lambda _: replay(), range(REPLAYS - 1)))
        release.set()
        answer = first.result(timeout=60)
        after = list(pool.map(lambda _: replay(), range(REPLAYS)))
    assert all(isinstance(e, Conflict) and "still in progress" in str(e) for e in during), during
    assert after == [answer] * REPLAYS and answer["taskId"] == "task-1"
    assert operation.runs == 1


def test_keys_are_checked_and_a_missing_table_is_unavailable(aws_env):
    assert parse_idempotency_key(None) is None
    assert parse_idempotency_key("a" * 255) == "a" * 255
    for bad in ("", "a" * 256, "with space", "é"):
        with pytest.raises(InvalidInput, match="Idempotency-Key must be 1 to 255 visible ASCII"):
            parse_idempotency_key(bad)
    with pytest.raises(Unavailable, match="HNG_IDEMPOTENCY_TABLE"):
        Idempotency(None, 600).run("generate", "k", {}, Operation())
    missing = Idempotency("no-such-table", 600)
    missing.register_context(FakeContext())
    with mock_aws(), pytest.raises(Unavailable, match="idempotency table cannot be read or written"):
        missing.run("generate", "k", {}, Operation())
