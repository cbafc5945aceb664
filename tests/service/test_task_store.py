"""hng.service.task_store: S3 faults (stalls, failed clean-up, refused reads, corrupt metadata), normal path.

S3 is moto (`mock_aws`), a botocore Stubber, or a TCP server that accepts connections and never answers.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber
from moto import mock_aws

from hng.aws.clients import S3_CONNECT_TIMEOUT, S3_MAX_ATTEMPTS, S3_READ_TIMEOUT
from hng.core.ids import new_task_id
from hng.service.image_service import GenerationService, ServiceConfig
from hng.service.task_store import (
    DEFAULT_URL_EXPIRY,
    LOAD_WORST_CASE,
    MAX_URL_EXPIRY,
    SAVE_WORST_CASE,
    CorruptTaskMetadata,
    StorageError,
    StoredImage,
    TaskNotFound,
    TaskStore,
    check_url_expiry,
    client_config,
    image_key,
    make_client,
    metadata_key,
)

BUCKET = "hng-store-test"
PNG = b"\x89PNG\r\n\x1a\n fake image bytes"
HANG_LIMIT = 60.0  # seconds: only a call that hangs gets near this


@pytest.fixture
def s3(aws_env) -> Iterator[Any]:
    """A moto S3 client built with the store's own config, and the test bucket."""
    with mock_aws():
        client = make_client()
        client.create_bucket(Bucket=BUCKET)
        yield client


def stored_keys(s3) -> list[str]:
    return sorted(item["Key"] for item in s3.list_objects_v2(Bucket=BUCKET).get("Contents", []))


def injected_error(code: str, operation: str, status: int = 500) -> ClientError:
    return ClientError(
        {
            "Error": {"Code": code, "Message": f"{code} (injected)"},
            "ResponseMetadata": {"HTTPStatusCode": status},
        },
        operation,
    )


class FaultyClient:
    """A real S3 client whose operations named in `faults` raise a ClientError when the predicate holds.

    With `land`, the real call is made first, as when S3 stored the object but its answer was lost.
    """

    def __init__(self, client: Any, faults: dict[str, Callable[[dict], bool]], land: bool = False) -> None:
        self._client = client
        self._faults = faults
        self._land = land

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._client, name)
        fails = self._faults.get(name)
        if fails is None:
            return method

        def call(**kwargs: Any) -> Any:
            if not fails(kwargs):
                return method(**kwargs)
            if self._land:
                method(**kwargs)
            raise injected_error("InternalError", name)

        return call


def metadata_put(kwargs: dict) -> bool:
    return kwargs["Key"].endswith("/metadata.json")


def always(kwargs: dict) -> bool:
    return True


class NoCalls:
    """A client that records any use of it and refuses it."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def __getattr__(self, name: str) -> Any:
        self.calls.append(name)
        raise AssertionError(f"S3 was called: {name}")


def run_bounded(function: Callable[[], Any], limit: float = HANG_LIMIT) -> tuple[BaseException | None, float]:
    """Run `function` in a thread; fail if it has not returned after `limit` s. Its exception, and seconds."""
    outcome: dict[str, Any] = {}

    def target() -> None:
        started = time.monotonic()
        try:
            function()
        except BaseException as error:  # handed to the test
            outcome["error"] = error
        outcome["seconds"] = time.monotonic() - started

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(limit)
    assert not thread.is_alive(), f"the call was still waiting after {limit:.0f} s"
    return outcome.get("error"), outcome["seconds"]


class StalledServer:
    """A TCP server on 127.0.0.1 that accepts connections, reads nothing, answers nothing."""

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.2)
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self.connections: list[socket.socket] = []
        self._accepted = threading.Condition()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                connection, _ = self._listener.accept()
            except TimeoutError:
                continue
            with self._accepted:
                self.connections.append(connection)
                self._accepted.notify_all()
            self._answer(connection)

    def _answer(self, connection: socket.socket) -> None:
        """Nothing: the connection is held open, never read or answered."""

    def requests(self, count: int) -> list[bytes]:
        """What the first `count` connections sent (waiting, up to 10 s, until they are accepted)."""
        with self._accepted:
            self._accepted.wait_for(lambda: len(self.connections) >= count, timeout=10)
        sent = []
        for connection in self.connections:
            connection.setblocking(False)
            try:
                sent.append(connection.recv(1 << 20))
            except BlockingIOError:
                sent.append(b"")
        return sent

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        for connection in self.connections:
            connection.close()
        self._listener.close()


@pytest.fixture
def stalled(aws_env) -> Iterator[StalledServer]:
    server = StalledServer()
    yield server
    server.close()


# A stalled S3 fails fast.


@pytest.mark.slow  # waits out the S3 client's timeouts (about 4 s)
def test_stalled_s3_fails_save_within_the_budget(stalled, monkeypatch, capsys):
    # The default client, pointed at the stall the way `hng serve` points it at its S3.
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", stalled.url)
    store = TaskStore(BUCKET)
    error, seconds = run_bounded(lambda: store.save(new_task_id(), "42", PNG, {}))
    assert isinstance(error, StorageError), error
    assert "could not store the image" in str(error) and error.orphan_key is None
    # One connection per attempt (a timed-out connection is dropped), each an immediate PUT: no 1 s
    # wait for "100 Continue" on top of the timeouts.
    sent = stalled.requests(S3_MAX_ATTEMPTS)
    assert len(sent) == S3_MAX_ATTEMPTS
    assert all(request.startswith(b"PUT /") for request in sent)
    assert not any(b"expect:" in request.lower() for request in sent)
    with capsys.disabled():
        print(f"\nsave() against a stalled S3 raised StorageError after {seconds:.1f} s")


@pytest.mark.slow  # waits out the S3 client's timeouts (about 4 s)
def test_stalled_s3_fails_load_metadata_within_the_budget(stalled, capsys):
    store = TaskStore.from_endpoint(BUCKET, stalled.url)
    task_id = new_task_id()
    error, seconds = run_bounded(lambda: store.load_metadata(task_id))
    assert isinstance(error, StorageError), error
    assert task_id in str(error)
    sent = stalled.requests(S3_MAX_ATTEMPTS)
    assert len(sent) == S3_MAX_ATTEMPTS and all(request.startswith(b"GET /") for request in sent)
    with capsys.disabled():
        print(f"\nload_metadata() against a stalled S3 raised StorageError after {seconds:.1f} s")


def test_client_config_carries_the_budget(aws_env):
    config = client_config()
    assert (config.connect_timeout, config.read_timeout) == (S3_CONNECT_TIMEOUT, S3_READ_TIMEOUT)
    assert config.retries == {"mode": "standard", "total_max_attempts": S3_MAX_ATTEMPTS}
    assert config.signature_version == "s3v4"
    # The default client uses it; API Gateway gives up at 29 s, and a cold start needs a few of them.
    client = TaskStore(BUCKET).client
    assert client.meta.config.connect_timeout == S3_CONNECT_TIMEOUT
    assert client.meta.config.read_timeout == S3_READ_TIMEOUT
    assert client.meta.config.retries["total_max_attempts"] == S3_MAX_ATTEMPTS
    assert SAVE_WORST_CASE <= 21 and LOAD_WORST_CASE <= 7


# A failed clean-up names the image it leaves behind.


def test_metadata_failure_deletes_the_image_and_reports_no_orphan(s3):
    store = TaskStore(BUCKET, client=FaultyClient(s3, {"put_object": metadata_put}))
    with pytest.raises(StorageError, match="could not store the metadata") as caught:
        store.save(new_task_id(), "42", PNG, {})
    assert caught.value.orphan_key is None
    assert stored_keys(s3) == []


def test_a_mask_is_stored_beside_its_image_and_named_in_the_metadata(s3):
    store = TaskStore(BUCKET, client=s3)
    task_id = new_task_id()
    stored = store.save(task_id, "42", PNG, {"label": "42"}, mask_png=b"mask")
    assert stored.mask_key == f"tasks/{task_id}/42_mask.png"
    assert s3.get_object(Bucket=BUCKET, Key=stored.mask_key)["Body"].read() == b"mask"
    assert store.load_metadata(task_id)["maskKey"] == stored.mask_key


@pytest.mark.parametrize("failing", ["mask", "metadata"])
def test_a_failed_mask_or_metadata_put_deletes_every_object_of_the_task(s3, failing):
    def fails(kwargs: dict) -> bool:
        return kwargs["Key"].endswith("_mask.png" if failing == "mask" else "/metadata.json")

    store = TaskStore(BUCKET, client=FaultyClient(s3, {"put_object": fails}))
    with pytest.raises(StorageError, match=f"could not store the {failing}") as caught:
        store.save(new_task_id(), "42", PNG, {}, mask_png=b"mask")
    assert caught.value.orphan_key is None
    assert stored_keys(s3) == []


def test_failed_clean_up_reports_the_orphaned_image(s3):
    faults = {"put_object": metadata_put, "delete_objects": always, "delete_object": always}
    store = TaskStore(BUCKET, client=FaultyClient(s3, faults))
    task_id = new_task_id()
    with pytest.raises(StorageError) as caught:
        store.save(task_id, "42", PNG, {})
    orphan = image_key(task_id, "42")
    assert caught.value.orphan_key == orphan
    assert f"s3://{BUCKET}/{orphan}" in str(caught.value) and "lifecycle" in str(caught.value)
    assert stored_keys(s3) == [orphan]


def test_clean_up_refused_for_the_image_alone_reports_the_orphan(s3):
    task_id = new_task_id()
    orphan = image_key(task_id, "7")

    class RefusesImageDeletion(FaultyClient):
        def delete_objects(self, **kwargs: Any) -> dict:
            # DeleteObjects answers 200 and lists the keys it could not delete.
            others = [item for item in kwargs["Delete"]["Objects"] if item["Key"] != orphan]
            self._client.delete_objects(Bucket=kwargs["Bucket"], Delete={"Objects": others, "Quiet": True})
            return {"Errors": [{"Key": orphan, "Code": "AccessDenied", "Message": "Access Denied"}]}

    store = TaskStore(BUCKET, client=RefusesImageDeletion(s3, {"put_object": metadata_put}))
    with pytest.raises(StorageError, match="AccessDenied") as caught:
        store.save(task_id, "7", PNG, {})
    assert caught.value.orphan_key == orphan
    assert stored_keys(s3) == [orphan]


def test_metadata_stored_despite_an_error_is_deleted_with_the_image(s3):
    # The PUT reached S3 but its answer was lost: neither object may stay behind a failed save.
    store = TaskStore(BUCKET, client=FaultyClient(s3, {"put_object": metadata_put}, land=True))
    with pytest.raises(StorageError) as caught:
        store.save(new_task_id(), "42", PNG, {})
    assert caught.value.orphan_key is None
    assert stored_keys(s3) == []


# Which read failures mean "no such task".


@pytest.fixture
def stubbed(aws_env) -> Iterator[tuple[TaskStore, Stubber]]:
    client = make_client()
    with Stubber(client) as stubber:
        yield TaskStore(BUCKET, client=client), stubber
        stubber.assert_no_pending_responses()


@pytest.mark.parametrize("code, status", [("NoSuchKey", 404), ("404", 404), ("NotFound", 404)])
def test_missing_metadata_is_task_not_found(stubbed, code, status):
    store, stubber = stubbed
    task_id = new_task_id()
    stubber.add_client_error(
        "get_object",
        service_error_code=code,
        http_status_code=status,
        expected_params={"Bucket": BUCKET, "Key": metadata_key(task_id)},
    )
    with pytest.raises(TaskNotFound):
        store.load_metadata(task_id)


@pytest.mark.parametrize("code", ["AccessDenied", "403", "Forbidden"])
def test_access_denied_is_a_storage_error_not_a_missing_task(stubbed, code):
    store, stubber = stubbed
    task_id = new_task_id()
    stubber.add_client_error("get_object", service_error_code=code, http_status_code=403)
    with pytest.raises(StorageError) as caught:
        store.load_metadata(task_id)
    message = str(caught.value)
    assert task_id in message and "access denied" in message and "IAM policy" in message
    assert not isinstance(caught.value, CorruptTaskMetadata)


def test_other_read_errors_are_storage_errors(stubbed):
    store, stubber = stubbed
    task_id = new_task_id()
    stubber.add_client_error("get_object", service_error_code="InternalError", http_status_code=500)
    with pytest.raises(StorageError, match=f"could not read task {task_id}: InternalError"):
        store.load_metadata(task_id)


def test_unknown_task_in_moto_is_task_not_found(s3):
    with pytest.raises(TaskNotFound):
        TaskStore(BUCKET, client=s3).load_metadata(new_task_id())


@pytest.mark.parametrize(
    "task_id",
    ["", "short", "01KA" + "z" * 22, "01KA" + "U" * 22, "../../etc/passwd", "01KAXXXXXXXXXXXXXXXXXXXXXXX"],
)
def test_malformed_task_id_is_not_found_without_calling_s3(task_id):
    client = NoCalls()
    with pytest.raises(TaskNotFound):
        TaskStore(BUCKET, client=client).load_metadata(task_id)
    assert client.calls == []


# Corrupt metadata is a StorageError naming the task and the fault.


def corrupt_documents(task_id: str) -> list[tuple[bytes, str]]:
    return [
        (b"not json {", "is not valid JSON"),
        (b"\xff\xfe\x00garbage", "is not valid JSON"),
        (b"", "is not valid JSON"),
        (b"[1, 2, 3]", "is a JSON array, not an object"),
        (b"42", "is a JSON number, not an object"),
        (b'"tasks/x/1.png"', "is a JSON string, not an object"),
        (b"null", "is a JSON null, not an object"),
        (b"[" * 100_000, "is not valid JSON"),
        (json.dumps({"taskId": task_id}).encode(), 'has no string "key"'),
        (json.dumps({"key": 42}).encode(), 'has no string "key"'),
        (json.dumps({"key": f"tasks/{new_task_id()}/1.png"}).encode(), "not a .png or .jpg under"),
        (json.dumps({"key": "elsewhere/secret.png"}).encode(), "not a .png or .jpg under"),
        (json.dumps({"key": f"tasks/{task_id}/../other/1.png"}).encode(), "not a .png or .jpg under"),
        (json.dumps({"key": f"tasks/{task_id}/metadata.json"}).encode(), "not a .png or .jpg under"),
        (json.dumps({"key": f"tasks/{task_id}/.png"}).encode(), "not a .png or .jpg under"),
    ]


@pytest.mark.parametrize("case", range(len(corrupt_documents("X"))))
def test_corrupt_metadata_is_a_storage_error_naming_task_and_fault(s3, case):
    task_id = new_task_id()
    body, problem = corrupt_documents(task_id)[case]
    s3.put_object(Bucket=BUCKET, Key=metadata_key(task_id), Body=body)
    with pytest.raises(CorruptTaskMetadata) as caught:
        TaskStore(BUCKET, client=s3).load_metadata(task_id)
    message = str(caught.value)
    assert isinstance(caught.value, StorageError)
    assert f"task {task_id}" in message and metadata_key(task_id) in message and problem in message


def test_corrupt_metadata_reaches_describe_as_a_storage_error(s3):
    # service.describe reads metadata["key"]: corrupt metadata must stop at the store, not as a KeyError.
    task_id = new_task_id()
    s3.put_object(Bucket=BUCKET, Key=metadata_key(task_id), Body=b'{"taskId": "x"}')
    service = GenerationService(ServiceConfig(bucket=BUCKET), None, TaskStore(BUCKET, client=s3))
    with pytest.raises(CorruptTaskMetadata, match='has no string "key"'):
        service.describe(task_id)


# The normal path.


def test_save_then_load_round_trip(s3):
    store = TaskStore(BUCKET, client=s3)
    task_id = new_task_id()
    metadata = {"taskId": task_id, "seed": 7, "boxes": [{"digit": 4, "x0": 0, "y0": 0, "x1": 28, "y1": 28}]}
    stored = store.save(task_id, "4", PNG, metadata)
    assert stored == StoredImage(BUCKET, f"tasks/{task_id}/4.png", f"tasks/{task_id}/metadata.json")
    assert stored_keys(s3) == [stored.key, stored.metadata_key]
    image = s3.get_object(Bucket=BUCKET, Key=stored.key)
    assert image["Body"].read() == PNG and image["ContentType"] == "image/png"
    assert s3.head_object(Bucket=BUCKET, Key=stored.metadata_key)["ContentType"] == "application/json"
    assert store.load_metadata(task_id) == {**metadata, "bucket": BUCKET, "key": stored.key}


def test_presign_signs_a_get_of_the_key(s3):
    store = TaskStore(BUCKET, client=s3)
    key = image_key(new_task_id(), "12")
    url = urlsplit(store.presign(key, 600))
    query = parse_qs(url.query)
    assert url.path.endswith(f"/{key}") and BUCKET in url.netloc + url.path
    assert query["X-Amz-Expires"] == ["600"] and query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]


@pytest.mark.parametrize(
    "expires_in, error", [(0, ValueError), (MAX_URL_EXPIRY + 1, ValueError), (True, TypeError)]
)
def test_presign_checks_the_expiry_before_signing(expires_in, error):
    with pytest.raises(error, match="URL expiry"):
        TaskStore(BUCKET, client=NoCalls()).presign("tasks/x/1.png", expires_in)


@pytest.mark.parametrize("seconds", [1, DEFAULT_URL_EXPIRY, MAX_URL_EXPIRY])
def test_url_expiry_accepts_one_second_to_seven_days(seconds):
    assert check_url_expiry(seconds) == seconds


@pytest.mark.parametrize("seconds", [0, -1, MAX_URL_EXPIRY + 1])
def test_url_expiry_out_of_range_is_a_value_error(seconds):
    with pytest.raises(ValueError, match=f"between 1 and {MAX_URL_EXPIRY} seconds .* got {seconds}"):
        check_url_expiry(seconds)


@pytest.mark.parametrize("seconds", [True, 1.5, "60", None])
def test_url_expiry_of_another_type_is_a_type_error(seconds):
    with pytest.raises(TypeError, match="URL expiry must be an integer"):
        check_url_expiry(seconds)


def test_bucket_is_required():
    with pytest.raises(ValueError, match="bucket name is required"):
        TaskStore("")


# A server that trickles bytes defeats the socket timeouts: each call also has a deadline.


class TricklingServer(StalledServer):
    """Answers every request with an endless status line and headers, one byte at a time, each well
    inside the client's read timeout: botocore's timeouts alone would wait for ever."""

    def _answer(self, connection: socket.socket) -> None:
        threading.Thread(target=self._trickle, args=(connection,), daemon=True).start()

    def _trickle(self, connection: socket.socket) -> None:
        answer = b"HTTP/1.1 200 OK\r\n" + b"x-amz-trickle: " + b"a" * 10_000
        for byte in answer:
            if self._stop.wait(0.2):  # paces the server; no assertion depends on it
                return
            try:
                connection.sendall(bytes([byte]))
            except OSError:
                return


@pytest.fixture
def trickling(aws_env) -> Iterator[TricklingServer]:
    server = TricklingServer()
    yield server
    server.close()


def test_a_trickling_s3_ends_at_the_call_deadline(trickling):
    from hng.aws.clients import INTERACTIVE, DeadlineClient, DeadlineExceeded, make_client

    raw = make_client("s3", replace(INTERACTIVE, deadline=None), endpoint_url=trickling.url)
    store = TaskStore(BUCKET, client=DeadlineClient(raw, 0.5))
    error, _ = run_bounded(lambda: store.load_metadata(new_task_id()))
    assert isinstance(error, StorageError), error
    assert isinstance(error.__cause__, DeadlineExceeded), error.__cause__
    assert "did not finish within 0.5 s" in str(error)


def test_the_store_client_has_a_deadline_that_bounds_each_call(aws_env):
    from hng.aws.clients import S3_CALL_DEADLINE, DeadlineClient

    client = TaskStore(BUCKET).client
    assert isinstance(client, DeadlineClient) and client.deadline == S3_CALL_DEADLINE == LOAD_WORST_CASE
    assert SAVE_WORST_CASE == 3 * S3_CALL_DEADLINE <= 21
    # Presigning is local: never through a thread or a deadline.
    url = client.generate_presigned_url("get_object", Params={"Bucket": BUCKET, "Key": "k"}, ExpiresIn=60)
    assert "X-Amz-Signature=" in url
