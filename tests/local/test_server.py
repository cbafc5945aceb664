"""hng.local: API Gateway event translation, the HTTP server over loopback HTTP, storage, handler lookup.

The handlers here are fakes (and a small Powertools resolver): the real one is exercised by
tests/local/test_serve.py.
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import importlib
import io
import json
import os
import socket
import sys
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from enum import IntEnum
from pathlib import Path

import pytest
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent

from hng import cli
from hng.local import (
    FUNCTION_TIMEOUT_MS,
    MAX_BODY_BYTES,
    LocalApi,
    LocalLambdaContext,
    MalformedResponse,
    ServeError,
    discover_resources,
    event_response_to_http,
    http_to_event,
    match_resource,
    resolve_handler,
    serve,
    start_storage,
)
from hng.local import net as local_net
from hng.local import storage as local_storage
from hng.local.net import advertised_host, parse_public_url, primary_address

RESOURCES = ["/health", "/generate", "/generate/{taskId}", "/openapi.json"]


# --- http_to_event ------------------------------------------------------------------------------------------


def test_get_without_query_or_body_has_the_none_fields_api_gateway_sends():
    now = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    event = http_to_event("GET", "/health", {"Host": "127.0.0.1:3000"}, b"", request_id="r-1", now=now)
    assert event["httpMethod"] == "GET" and event["path"] == "/health"
    assert event["queryStringParameters"] is None and event["multiValueQueryStringParameters"] is None
    assert event["pathParameters"] is None and event["stageVariables"] is None
    assert event["body"] is None and event["isBase64Encoded"] is False
    assert event["resource"] == "/health"
    context = event["requestContext"]
    assert context["requestId"] == "r-1" and context["stage"] == "local"
    assert context["httpMethod"] == "GET" and context["path"] == "/local/health"
    assert context["resourcePath"] == "/health" and context["protocol"] == "HTTP/1.1"
    assert context["identity"]["sourceIp"] == "127.0.0.1"
    assert context["requestTimeEpoch"] == int(now.timestamp() * 1000)
    assert context["requestTime"] == "02/Jan/2026:03:04:05 +0000"
    assert context["domainName"] == "127.0.0.1:3000"
    json.dumps(event)  # an event is plain JSON, as Lambda receives it


def test_query_string_repeated_keys_blank_values_and_decoding():
    event = http_to_event("GET", "/generate?a=1&b=x%20y&a=2&c=&d=%E2%9C%93", {}, None)
    assert event["queryStringParameters"] == {"a": "2", "b": "x y", "c": "", "d": "✓"}
    assert event["multiValueQueryStringParameters"] == {"a": ["1", "2"], "b": ["x y"], "c": [""], "d": ["✓"]}
    assert event["path"] == "/generate"


def test_path_is_percent_decoded():
    assert http_to_event("GET", "/generate/a%20b?x=1", {}, None)["path"] == "/generate/a b"


def test_headers_keep_their_case_and_repeated_ones_are_multi_valued():
    headers = [("Content-Type", "application/json"), ("X-Trace", "1"), ("x-trace", "2"), ("accept", "*/*")]
    event = http_to_event("POST", "/generate", headers, b"{}")
    assert event["headers"] == {"Content-Type": "application/json", "X-Trace": "2", "accept": "*/*"}
    assert event["multiValueHeaders"] == {
        "Content-Type": ["application/json"],
        "X-Trace": ["1", "2"],
        "accept": ["*/*"],
    }
    # Powertools reads them case-insensitively, as the real handler does.
    parsed = APIGatewayProxyEvent(event)
    assert parsed.headers.get("content-type") == "application/json"
    assert parsed.headers.get("ACCEPT") == "*/*"


def test_no_headers_gives_none():
    event = http_to_event("GET", "/", [], None)
    assert event["headers"] is None and event["multiValueHeaders"] is None


def test_utf8_json_body_is_text():
    body = json.dumps({"number": "٣", "note": "café"}).encode()
    event = http_to_event("POST", "/generate", {"Content-Type": "application/json"}, body)
    assert event["isBase64Encoded"] is False and event["body"] == body.decode()
    assert APIGatewayProxyEvent(event).json_body == {"number": "٣", "note": "café"}


def test_invalid_utf8_in_a_text_body_is_replaced_as_api_gateway_does():
    event = http_to_event("POST", "/generate", {"Content-Type": "application/json"}, b'{"n": "\xff\xfe"}')
    assert event["isBase64Encoded"] is False and event["body"] == '{"n": "\ufffd\ufffd"}'


@pytest.mark.parametrize("content_type", ["image/png", "IMAGE/PNG; q=1"])
def test_binary_media_type_body_is_base64(content_type):
    body = b"\x89PNG\r\n\x1a\n\xff"
    event = http_to_event("POST", "/upload", {"content-type": content_type}, body)
    assert event["isBase64Encoded"] is True and base64.b64decode(event["body"]) == body
    event = http_to_event("POST", "/upload", {"content-type": content_type}, b"plain ascii")
    assert event["isBase64Encoded"] is True and base64.b64decode(event["body"]) == b"plain ascii"


def test_binary_media_types_can_be_configured_with_wildcards():
    for patterns in (["*/*"], ["text/*"], ["text/csv"]):
        event = http_to_event("POST", "/x", {"Content-Type": "text/csv"}, b"a,b", binary_media_types=patterns)
        assert event["isBase64Encoded"] is True, patterns
    event = http_to_event("POST", "/x", {"Content-Type": "image/png"}, b"abc", binary_media_types=[])
    assert event["isBase64Encoded"] is False and event["body"] == "abc"
    event = http_to_event("POST", "/x", {}, b"abc", binary_media_types=["*/*"])  # no content type: text
    assert event["isBase64Encoded"] is False


def test_resource_templates_fill_resource_and_path_parameters():
    event = http_to_event("GET", "/generate/01ABC", {}, None, resources=RESOURCES)
    assert event["resource"] == "/generate/{taskId}"
    assert event["requestContext"]["resourcePath"] == "/generate/{taskId}"
    assert event["pathParameters"] == {"taskId": "01ABC"}
    event = http_to_event("POST", "/generate", {}, None, resources=RESOURCES)
    assert event["resource"] == "/generate" and event["pathParameters"] is None
    # No match: the path stands in for the resource.
    event = http_to_event("GET", "/nowhere/deep", {}, None, resources=RESOURCES)
    assert event["resource"] == "/nowhere/deep" and event["pathParameters"] is None


def test_match_resource_prefers_literals_then_single_segments_then_greedy():
    resources = ["/{proxy+}", "/items/{id}", "/items/special"]
    assert match_resource("/items/special", resources) == ("/items/special", None)
    assert match_resource("/items/7", resources) == ("/items/{id}", {"id": "7"})
    assert match_resource("/items/7/parts", resources) == ("/{proxy+}", {"proxy": "items/7/parts"})
    assert match_resource("/other", ["/items/{id}"]) is None


# --- event_response_to_http ---------------------------------------------------------------------------------


def test_plain_json_response():
    status, headers, body = event_response_to_http(
        {"statusCode": 201, "headers": {"Content-Type": "application/json"}, "body": '{"ok": true}'}
    )
    assert status == 201 and headers == [("Content-Type", "application/json")] and body == b'{"ok": true}'


def test_multi_value_headers_win_over_the_same_single_header():
    _, headers, body = event_response_to_http(
        {
            "statusCode": 200,
            "headers": {"set-cookie": "ignored=1", "X-One": "1", "X-Flag": True, "X-Skip": None},
            "multiValueHeaders": {"Set-Cookie": ["a=1", "b=2"], "X-Many": [1, 2]},
            "body": "",
        }
    )
    assert sorted(headers) == [
        ("Set-Cookie", "a=1"),
        ("Set-Cookie", "b=2"),
        ("X-Flag", "true"),
        ("X-Many", "1"),
        ("X-Many", "2"),
        ("X-One", "1"),
    ]
    assert body == b""


def test_base64_response_body_is_decoded():
    png = b"\x89PNG\r\n\x1a\n\x00\xff"
    status, _, body = event_response_to_http(
        {"statusCode": 200, "body": base64.b64encode(png).decode(), "isBase64Encoded": True}
    )
    assert status == 200 and body == png


def test_missing_body_and_status_and_non_ascii_text():
    assert event_response_to_http({}) == (200, [], b"")
    assert event_response_to_http({"statusCode": "404", "body": "nü"}) == (404, [], "nü".encode())


def test_int_enum_status_is_a_plain_number():
    class Status(IntEnum):
        TOO_LARGE = 413

    status, _, _ = event_response_to_http({"statusCode": Status.TOO_LARGE})
    assert status == 413 and type(status) is int


@pytest.mark.parametrize(
    "response",
    [
        None,
        "a string",
        {"statusCode": 99},
        {"statusCode": 600},
        {"statusCode": True},
        {"statusCode": "OK"},
        {"statusCode": 200, "body": {"not": "a string"}},
        {"statusCode": 200, "body": "not base64!", "isBase64Encoded": True},
        {"statusCode": 200, "headers": ["a"]},
        {"statusCode": 200, "multiValueHeaders": {"X": "not a list"}},
    ],
)
def test_malformed_responses_are_refused(response):
    with pytest.raises(MalformedResponse):
        event_response_to_http(response)


# --- the Lambda context -------------------------------------------------------------------------------------


def test_lambda_context_looks_like_the_runtime_one():
    context = LocalLambdaContext("req-1")
    assert context.aws_request_id == "req-1" and context.function_name == "hng-local"
    assert context.invoked_function_arn == "arn:aws:lambda:us-east-1:123456789012:function:hng-local"
    assert isinstance(context.memory_limit_in_mb, int)
    assert 0 < context.get_remaining_time_in_millis() <= FUNCTION_TIMEOUT_MS


# --- the HTTP server with fake handlers ---------------------------------------------------------------------


def echo_handler(event, context):
    """Answers with what it received, so tests can see the event the server built."""
    body = {"event": event, "requestId": context.aws_request_id, "function": context.function_name}
    return {"statusCode": 200, "headers": {"Content-Type": "application/json"}, "body": json.dumps(body)}


def routed_handler(event, context):
    path = event["path"]
    if path == "/boom":
        raise RuntimeError("handler bug")
    if path == "/malformed":
        return {"statusCode": "abc"}
    if path == "/unserializable":
        return {"statusCode": 200, "body": "x", "headers": {"X-Obj": object()}}
    if path == "/png":
        return {
            "statusCode": 200,
            "headers": {"Content-Type": "image/png"},
            "body": base64.b64encode(b"\x89PNG\x00\xff").decode(),
            "isBase64Encoded": True,
        }
    if path == "/odd-headers":
        return {"statusCode": 200, "headers": {"X-Split": "a\r\nSet-Cookie: evil=1", "X-Utf8": "café"}}
    if path == "/cookies":
        return {"statusCode": 204, "multiValueHeaders": {"Set-Cookie": ["a=1", "b=2"]}, "body": ""}
    return echo_handler(event, context)


@pytest.fixture
def api():
    with LocalApi(routed_handler, storage=False, resources=RESOURCES) as running:
        yield running


def request(method, url, body=None, headers=None):
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=30) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, error.headers, error.read()


def test_get_reaches_the_handler_as_an_api_gateway_event(api):
    status, headers, body = request("GET", f"{api.url}/generate/01XYZ?a=1&a=2", headers={"X-Mixed-Case": "v"})
    assert status == 200 and headers["Content-Type"] == "application/json"
    answer = json.loads(body)
    event = answer["event"]
    assert event["httpMethod"] == "GET" and event["path"] == "/generate/01XYZ"
    assert event["resource"] == "/generate/{taskId}" and event["pathParameters"] == {"taskId": "01XYZ"}
    assert event["multiValueQueryStringParameters"] == {"a": ["1", "2"]}
    assert event["headers"]["X-Mixed-Case"] == "v"
    assert event["requestContext"]["identity"]["sourceIp"] == "127.0.0.1"
    # The request id is the context's, the event's and the answer's header, as API Gateway does.
    assert answer["requestId"] == event["requestContext"]["requestId"] == headers["x-amzn-RequestId"]
    assert answer["function"] == "hng-local"


def test_post_bodies_text_binary_and_empty(api):
    _, _, body = request("POST", f"{api.url}/generate", b'{"n": 1}', {"Content-Type": "application/json"})
    event = json.loads(body)["event"]
    assert event["body"] == '{"n": 1}' and event["isBase64Encoded"] is False

    raw = bytes(range(256))
    _, _, body = request("POST", f"{api.url}/upload", raw, {"Content-Type": "image/png"})
    event = json.loads(body)["event"]
    assert event["isBase64Encoded"] is True and base64.b64decode(event["body"]) == raw
    _, _, body = request("POST", f"{api.url}/upload", raw, {"Content-Type": "application/octet-stream"})
    event = json.loads(body)["event"]
    assert event["isBase64Encoded"] is False and event["body"] == raw.decode("utf-8", errors="replace")

    _, _, body = request("POST", f"{api.url}/generate", b"", {"Content-Type": "application/json"})
    assert json.loads(body)["event"]["body"] is None


def test_handler_exception_is_a_502_like_api_gateway_and_is_logged(api, capsys):
    status, headers, body = request("GET", f"{api.url}/boom")
    assert status == 502
    assert json.loads(body) == {"message": "Internal server error"}
    assert headers["x-amzn-ErrorType"] == "InternalServerErrorException"
    err = capsys.readouterr().err
    assert "RuntimeError: handler bug" in err and "Traceback" in err
    assert request("GET", f"{api.url}/health")[0] == 200  # the server lives on


@pytest.mark.parametrize("path", ["/malformed", "/unserializable"])
def test_malformed_or_unserializable_response_is_a_502(api, path, capsys):
    status, _, body = request("GET", f"{api.url}{path}")
    assert status == 502 and json.loads(body) == {"message": "Internal server error"}
    assert "Traceback" in capsys.readouterr().err


def test_binary_response_and_repeated_headers(api):
    status, headers, body = request("GET", f"{api.url}/png")
    assert status == 200 and body == b"\x89PNG\x00\xff" and headers["Content-Type"] == "image/png"
    assert headers["Content-Length"] == "6"
    status, headers, body = request("GET", f"{api.url}/cookies")
    assert status == 204 and headers.get_all("Set-Cookie") == ["a=1", "b=2"] and body == b""


def test_header_values_cannot_split_the_response_and_utf8_survives(api):
    status, headers, _ = request("GET", f"{api.url}/odd-headers")
    assert status == 200 and headers.get_all("Set-Cookie") is None
    assert headers["X-Split"] == "a  Set-Cookie: evil=1"
    assert headers["X-Utf8"].encode("latin-1").decode("utf-8") == "café"


def test_malformed_request_lines_get_json_errors(api):
    with socket.create_connection(("127.0.0.1", api.port), timeout=30) as sock:
        # A header line one byte over http.server's limit, and nothing after it: the server reads all that
        # was sent before it answers and closes (unread data would turn its close into a reset).
        sock.sendall(b"GET /health HTTP/1.1\r\nX-Long: " + b"a" * (65537 - len(b"X-Long: ")))
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
    head, _, body = reply.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 431 ") and b"application/json" in head
    assert "message" in json.loads(body)


def test_unknown_and_unusual_methods_are_forwarded(api):
    for method in ("FOO", "PATCH", "DELETE", "OPTIONS", "PUT"):
        connection = http.client.HTTPConnection("127.0.0.1", api.port, timeout=30)
        try:
            connection.request(method, "/health", body=b"x" if method == "PUT" else None)
            response = connection.getresponse()
            assert response.status == 200
            assert json.loads(response.read())["event"]["httpMethod"] == method
        finally:
            connection.close()


def test_head_answers_headers_without_body(api):
    connection = http.client.HTTPConnection("127.0.0.1", api.port, timeout=30)
    try:
        connection.request("HEAD", "/health")
        response = connection.getresponse()
        assert response.status == 200 and int(response.headers["Content-Length"]) > 0
        assert response.read() == b""
    finally:
        connection.close()


def test_keep_alive_serves_several_requests_on_one_connection(api):
    connection = http.client.HTTPConnection("127.0.0.1", api.port, timeout=30)
    try:
        sockets = []
        for k in range(3):
            connection.request("POST", f"/generate?k={k}", body=b"{}", headers={"Content-Type": "text/plain"})
            sockets.append(connection.sock)  # http.client reconnects silently: the socket tells
            response = connection.getresponse()
            assert response.headers.get("Connection") != "close"
            assert json.loads(response.read())["event"]["queryStringParameters"] == {"k": str(k)}
        assert sockets[0] is sockets[1] is sockets[2]
    finally:
        connection.close()


def test_chunked_request_body_is_reassembled(api):
    connection = http.client.HTTPConnection("127.0.0.1", api.port, timeout=30)
    try:
        connection.request("POST", "/generate", body=iter([b'{"a": ', b"1}"]), encode_chunked=True)
        response = connection.getresponse()
        assert json.loads(response.read())["event"]["body"] == '{"a": 1}'
    finally:
        connection.close()


def test_body_over_the_api_gateway_limit_is_413_without_calling_the_handler(api):
    with socket.create_connection(("127.0.0.1", api.port), timeout=30) as sock:
        too_long = MAX_BODY_BYTES + 1
        sock.sendall(f"POST /generate HTTP/1.1\r\nHost: x\r\nContent-Length: {too_long}\r\n\r\n".encode())
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
    head, _, body = reply.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413") and json.loads(body) == {"message": "Request Too Long"}


def test_bad_content_length_is_400(api):
    with socket.create_connection(("127.0.0.1", api.port), timeout=30) as sock:
        sock.sendall(b"POST /generate HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n")
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
    assert reply.startswith(b"HTTP/1.1 400")


def exchange(port: int, data: bytes, timeout: float = 30) -> bytes:
    """Send raw bytes and read the answer until the server closes; a reset after an answer keeps it."""
    reply = b""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(data)
        try:
            while chunk := sock.recv(65536):
                reply += chunk
        except ConnectionResetError:
            pass
    return reply


def split_reply(reply: bytes) -> tuple[bytes, bytes]:
    head, _, body = reply.partition(b"\r\n\r\n")
    return head, body


CHUNKED_POST = b"POST /generate HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"


@pytest.mark.parametrize("size", [b"-5", b"-1", b"zz", b"0x10", b"+5", b"1 2"])
def test_malformed_chunk_sizes_are_a_400_json_answer(api, size):
    # -5 used to drop the connection unanswered, -1 to read until the client closed.
    reply = exchange(api.port, CHUNKED_POST + size + b"\r\nabcde\r\n0\r\n\r\n")
    head, body = split_reply(reply)
    assert head.startswith(b"HTTP/1.1 400 "), reply[:200]
    assert b"application/json" in head and "chunk" in json.loads(body)["message"]


def test_chunked_body_over_the_limit_is_413_as_it_streams(api):
    # 1 MiB chunks up to three times the limit: the server answers once the limit is passed and closes, so
    # the client cannot send it all (buffering the whole body would have read it to the end).
    chunk = b"100000\r\n" + b"a" * 0x100000 + b"\r\n"
    sent, reply = 0, b""
    with socket.create_connection(("127.0.0.1", api.port), timeout=30) as sock:
        sock.sendall(CHUNKED_POST)
        try:
            while sent < 3 * MAX_BODY_BYTES:
                sock.sendall(chunk)
                sent += len(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass
        try:
            while data := sock.recv(65536):
                reply += data
        except ConnectionResetError:
            pass
    head, body = split_reply(reply)
    assert head.startswith(b"HTTP/1.1 413 ") and json.loads(body) == {"message": "Request Too Long"}
    assert sent < 3 * MAX_BODY_BYTES


@pytest.mark.parametrize(
    "partial",
    [
        b"POST /generate HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc",
        CHUNKED_POST + b"64\r\nabc",
        b"GET /health HTTP/1.1\r\nHost: x\r\n",  # headers that never end
    ],
    ids=["content-length", "chunked", "headers"],
)
def test_a_client_that_stalls_is_dropped_after_the_read_timeout(partial):
    with LocalApi(routed_handler, storage=False, read_timeout=1) as api:
        stalled = [socket.create_connection(("127.0.0.1", api.port), timeout=30) for _ in range(8)]
        try:
            for sock in stalled:
                sock.sendall(partial)
            # More stalled clients than worker threads: the others are still served meanwhile.
            assert request("GET", f"{api.url}/health")[0] == 200
            for sock in stalled:
                with contextlib.suppress(ConnectionResetError):
                    assert sock.recv(65536) == b""  # closed by the server; a hang fails on the 30 s timeout
        finally:
            for sock in stalled:
                sock.close()


@pytest.mark.parametrize(
    ("line", "status"),
    [
        (b"GET /health HTTP/9.9\r\n\r\n", 505),
        (b"GET /health HTTP/2.0\r\n\r\n", 505),
        (b"GET /health HTTP/0.9\r\n\r\n", 505),
        (b"GET /health\r\n", 400),  # HTTP/0.9: no version, no headers, nothing more will come
        (b"GET /health HTTP/1.10\r\n\r\n", 400),
        (b"NOT A REQUEST LINE\r\n\r\n", 400),
        # API Gateway answers these itself: the handler never sees such an event.
        (b"G-E-T /health HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        (b"GET.X /health HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        (b"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        (b"CONNECT example.com:443 HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        # waitress waits for a CRLF CRLF that a client ending its lines in LF never sends.
        (b"GET /health HTTP/1.1\nHost: x\n\n", 400),
        (b"GET /health HTTP/1.1\r\nHost: x\n\r\n", 400),
    ],
)
def test_request_lines_that_are_not_http_1_get_a_status_line_and_json(api, line, status):
    # Answered as soon as the line is in: a server waiting for more would close at its read timeout
    # (the fixture's: 30 s) with no answer, and the test would fail on the empty reply.
    reply = exchange(api.port, line)
    head, body = split_reply(reply)
    assert head.startswith(f"HTTP/1.1 {status} ".encode()), reply[:200]
    assert b"application/json" in head and json.loads(body)["message"]


def test_a_path_with_an_empty_segment_is_that_path_and_an_absolute_target_gives_its_path(api):
    reply = exchange(api.port, b"GET //generate?a=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    event = json.loads(split_reply(reply)[1])["event"]
    assert event["path"] == "//generate" and event["resource"] == "//generate"  # no resource matches it
    assert event["queryStringParameters"] == {"a": "1"}
    reply = exchange(api.port, b"GET http://x/health?b=2 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    event = json.loads(split_reply(reply)[1])["event"]
    assert event["path"] == "/health" and event["queryStringParameters"] == {"b": "2"}


def test_a_body_with_bare_line_feeds_is_not_a_bare_lf_request(api):
    body = b'{\n  "a": 1\n}\n'
    head = b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nConnection: close\r\n"
    reply = exchange(api.port, head + b"Content-Length: %d\r\n\r\n" % len(body) + body)
    assert json.loads(split_reply(reply)[1])["event"]["body"] == body.decode()


def test_a_chunk_announcing_more_than_the_limit_is_413_before_its_data(api):
    # Only the size line is sent: the answer cannot wait for the data (it used to, until the read timeout).
    size = f"{MAX_BODY_BYTES + 1:x}".encode()
    reply = exchange(api.port, CHUNKED_POST + size + b"\r\nabc")
    head, body = split_reply(reply)
    assert head.startswith(b"HTTP/1.1 413 "), reply[:200]
    assert json.loads(body) == {"message": "Request Too Long"}
    # A chunk within the limit is taken as before.
    small = f"{MAX_BODY_BYTES // 2:x}".encode()
    closing = CHUNKED_POST.replace(b"Host: x\r\n", b"Host: x\r\nConnection: close\r\n")
    reply = exchange(api.port, closing + small + b"\r\n" + b"a" * (MAX_BODY_BYTES // 2) + b"\r\n0\r\n\r\n")
    assert split_reply(reply)[0].startswith(b"HTTP/1.1 200 "), reply[:200]


def test_the_server_is_waitress_with_its_limits():
    # The HTTP work is waitress': its name is in no header, the limits are ours.
    with LocalApi(routed_handler, storage=False) as api:
        status, headers, _ = request("GET", f"{api.url}/health")
        assert status == 200 and headers["Server"] == "hng-local"
    assert api.read_timeout == 10


def test_read_timeout_and_log_format_are_checked():
    with pytest.raises(ValueError, match="read_timeout"):
        LocalApi(echo_handler, storage=False, read_timeout=0)
    with pytest.raises(ValueError, match="log_format"):
        LocalApi(echo_handler, storage=False, log_format="xml")


# --- the access log -----------------------------------------------------------------------------------------


def task_handler(event, context):
    path = event["path"]
    if path == "/generate":
        body = json.dumps({"generatedImage": [[0.5] * 4], "taskId": "01TASKJSON", "seed": 3})
        return {"statusCode": 200, "headers": {"Content-Type": "application/json"}, "body": body}
    if path == "/png":
        headers = {"Content-Type": "image/png", "X-Task-Id": "01TASKPNG"}
        return {"statusCode": 200, "headers": headers, "body": "iVBORw==", "isBase64Encoded": True}
    return {"statusCode": 404, "headers": {"Content-Type": "application/json"}, "body": '{"message": "no"}'}


def test_access_log_is_one_line_per_request_with_the_task_id():
    log = io.StringIO()
    with LocalApi(task_handler, storage=False, access_log=log) as api:
        request("POST", f"{api.url}/generate", b"{}", {"Content-Type": "application/json"})
        request("GET", f"{api.url}/png")
        request("GET", f"{api.url}/nowhere?x=1")
        exchange(api.port, b"GET /health HTTP/9.9\r\n\r\n")
    lines = log.getvalue().splitlines()
    assert len(lines) == 4, lines
    assert lines[0].startswith('127.0.0.1 "POST /generate" 200 ') and lines[0].endswith(" ms task 01TASKJSON")
    assert lines[1].startswith('127.0.0.1 "GET /png" 200 ') and lines[1].endswith(" ms task 01TASKPNG")
    assert lines[2].startswith('127.0.0.1 "GET /nowhere?x=1" 404 ') and lines[2].endswith(" ms")
    assert lines[3].startswith('127.0.0.1 "GET /health HTTP/9.9" 505 ')
    for line in lines:
        float(line.split('" ', 1)[1].split()[1])  # the milliseconds


def test_access_log_as_json():
    log = io.StringIO()
    with LocalApi(task_handler, storage=False, access_log=log, log_format="json") as api:
        _, headers, _ = request("POST", f"{api.url}/generate", b"{}", {"Content-Type": "application/json"})
        request("GET", f"{api.url}/nowhere")
    first, second = (json.loads(line) for line in log.getvalue().splitlines())
    assert first["method"] == "POST" and first["path"] == "/generate" and first["status"] == 200
    assert first["task_id"] == "01TASKJSON" and first["request_id"] == headers["x-amzn-RequestId"]
    assert isinstance(first["duration_ms"], float) and first["level"] == "INFO"
    assert second["status"] == 404 and "task_id" not in second


@pytest.mark.parametrize(
    ("log_format", "expected"),
    [
        ("line", {"POWERTOOLS_METRICS_DISABLED": "true", "POWERTOOLS_LOG_LEVEL": "WARNING"}),
        ("json", {"POWERTOOLS_METRICS_DISABLED": "false", "POWERTOOLS_LOG_LEVEL": "DEBUG"}),
    ],
)
def test_log_format_sets_the_powertools_environment_before_the_handler_is_imported(
    project, monkeypatch, log_format, expected
):
    (project / "functions_t" / "api" / "envcheck.py").write_text(
        "import os\nSEEN = {k: os.environ.get(k) for k in "
        "('POWERTOOLS_METRICS_DISABLED', 'POWERTOOLS_LOG_LEVEL')}\n"
        "def lambda_handler(event, context):\n    return {'statusCode': 200, 'body': 'ok'}\n"
    )
    monkeypatch.setenv("POWERTOOLS_LOG_LEVEL", "DEBUG")
    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED", raising=False)
    handler = "functions_t.api.envcheck.lambda_handler"
    with LocalApi(handler, storage=False, log_format=log_format) as api:
        seen = sys.modules["functions_t.api.envcheck"].SEEN
        assert seen == expected
        assert request("GET", f"{api.url}/x")[0] == 200
    assert os.environ["POWERTOOLS_LOG_LEVEL"] == "DEBUG"  # restored
    assert "POWERTOOLS_METRICS_DISABLED" not in os.environ


def test_handler_calls_are_serialized_by_default():
    # One warm Lambda container handles one event at a time; Powertools relies on it.
    active, peak, lock = 0, 0, threading.Lock()

    def slow_handler(event, context):
        nonlocal active, peak
        with lock:
            active += 1
            peak = max(peak, active)
        time.sleep(0.05)  # room for an overlap, were calls not serialized
        with lock:
            active -= 1
        return {"statusCode": 200, "body": "ok"}

    with LocalApi(slow_handler, storage=False) as api, ThreadPoolExecutor(4) as pool:
        statuses = list(pool.map(lambda _: request("GET", api.url)[0], range(8)))
    assert statuses == [200] * 8 and peak == 1


def test_a_powertools_resolver_runs_behind_the_server():
    app = APIGatewayRestResolver(enable_validation=True)

    @app.get("/items/<item_id>")
    def get_item(item_id: str):
        return {"id": item_id, "q": app.current_event.get_query_string_value("q")}

    @app.post("/items")
    def post_item():
        return Response(201, "application/json", json.dumps(app.current_event.json_body))

    with LocalApi(app.resolve, storage=False) as api:
        status, _, body = request("GET", f"{api.url}/items/7?q=%C3%A9")
        assert status == 200 and json.loads(body) == {"id": "7", "q": "é"}
        status, _, body = request(
            "POST", f"{api.url}/items", b'{"x": [1, 2]}', {"Content-Type": "application/json"}
        )
        assert status == 201 and json.loads(body) == {"x": [1, 2]}
        assert request("GET", f"{api.url}/nothing")[0] == 404


def test_port_zero_picks_a_free_port_and_a_busy_port_is_a_clear_error():
    with LocalApi(echo_handler, storage=False) as first:
        assert first.port > 0 and first.url == f"http://127.0.0.1:{first.port}"
        with pytest.raises(ServeError, match="already in use"):
            LocalApi(echo_handler, port=first.port, storage=False).start()


def test_ipv6_loopback():
    if not socket.has_ipv6:
        pytest.skip("no IPv6")
    try:
        api = LocalApi(echo_handler, host="::1", storage=False)
        api.start()
    except ServeError as exc:
        pytest.skip(f"IPv6 loopback unavailable: {exc}")
    try:
        assert api.url.startswith("http://[::1]:")
        assert request("GET", f"{api.url}/health")[0] == 200
    finally:
        api.stop()


def test_discover_resources_reads_the_handlers_openapi_document():
    def handler(event, context):
        if event["path"] == "/openapi.json":
            document = {"openapi": "3.1.0", "paths": {"/health": {}, "/generate/{taskId}": {}}}
            return {"statusCode": 200, "body": json.dumps(document)}
        return echo_handler(event, context)

    assert discover_resources(handler) == ["/generate/{taskId}", "/health"]
    assert discover_resources(echo_handler) is None
    with LocalApi(handler, storage=False, discover=True) as api:
        _, _, body = request("GET", f"{api.url}/generate/abc")
        assert json.loads(body)["event"]["pathParameters"] == {"taskId": "abc"}


def test_serve_prints_its_urls_and_stops_when_asked():
    out, log, stop = io.StringIO(), io.StringIO(), threading.Event()
    codes = []
    thread = threading.Thread(
        target=lambda: codes.append(
            serve(echo_handler, port=0, embedded_s3=True, out=out, access_log=log, stop=stop)
        )
    )
    thread.start()
    try:
        while "Ctrl-C" not in out.getvalue() and thread.is_alive():
            thread.join(0.05)
        text = out.getvalue()
        url = text.split("API at ", 1)[1].split()[0]
        assert "S3 endpoint: http://127.0.0.1:" in text and f"curl -s {url}/health" in text
        assert request("GET", f"{url}/health")[0] == 200
    finally:
        stop.set()
        thread.join()
    assert codes == [0] and "hng serve: stopping" in out.getvalue()
    assert '"GET /health" 200' in log.getvalue()
    assert "AWS_ENDPOINT_URL_S3" not in os.environ  # the storage environment was restored


# --- storage ------------------------------------------------------------------------------------------------


@pytest.fixture
def no_aws_env(monkeypatch):
    """An environment with no real AWS settings (and no instance-metadata lookups)."""
    for name in list(os.environ):
        if name.startswith("AWS_") or name == "HNG_BUCKET":
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
    return monkeypatch


def test_embedded_storage_sets_the_environment_creates_the_bucket_and_presigned_urls_download(no_aws_env):
    no_aws_env.setenv("AWS_SESSION_TOKEN", "a-real-looking-token")
    storage = start_storage("my-bucket")
    try:
        assert storage.embedded and storage.bucket == "my-bucket"
        assert storage.endpoint.startswith("http://127.0.0.1:")
        assert os.environ["AWS_ENDPOINT_URL_S3"] == storage.endpoint
        assert os.environ["HNG_BUCKET"] == "my-bucket" and os.environ["AWS_DEFAULT_REGION"] == "us-east-1"
        assert "AWS_SESSION_TOKEN" not in os.environ
        import boto3

        client = boto3.client("s3")  # the default client, as the handler makes it: no endpoint given
        client.put_object(Bucket="my-bucket", Key="t/1.png", Body=b"\x89PNG data")
        url = client.generate_presigned_url("get_object", Params={"Bucket": "my-bucket", "Key": "t/1.png"})
        assert url.startswith(storage.endpoint)
        with urllib.request.urlopen(url, timeout=30) as response:  # a plain GET, no signing here
            assert response.read() == b"\x89PNG data"
        # The Idempotency-Key table, in the same server, as the stack declares it.
        assert os.environ["AWS_ENDPOINT_URL_DYNAMODB"] == storage.endpoint
        table = boto3.client("dynamodb").describe_table(TableName=os.environ["HNG_IDEMPOTENCY_TABLE"])[
            "Table"
        ]
        assert table["TableName"] == "my-bucket-idempotency"
        assert table["KeySchema"] == [{"AttributeName": "id", "KeyType": "HASH"}]
        assert os.environ["HNG_EVENT_BUS"] == "default"
        assert os.environ["AWS_ENDPOINT_URL_EVENTBRIDGE"] == storage.endpoint
    finally:
        storage.stop()
    assert "AWS_ENDPOINT_URL_S3" not in os.environ and "HNG_BUCKET" not in os.environ
    assert "HNG_IDEMPOTENCY_TABLE" not in os.environ
    assert os.environ["AWS_SESSION_TOKEN"] == "a-real-looking-token"


def test_storage_choice(no_aws_env):
    # No bucket configured: embedded, whatever the credentials.
    no_aws_env.setattr(local_storage, "_has_aws_credentials", lambda: True)
    storage = start_storage()
    try:
        assert storage.embedded and storage.bucket == "hng-local"
    finally:
        storage.stop()
    # A bucket and credentials: real S3, nothing started, only HNG_BUCKET set.
    no_aws_env.setenv("HNG_BUCKET", "prod-bucket")
    storage = start_storage()
    try:
        assert not storage.embedded and storage.bucket == "prod-bucket" and storage.endpoint is None
        assert "AWS_ENDPOINT_URL_S3" not in os.environ and "real S3" in storage.describe()
    finally:
        storage.stop()
    assert os.environ["HNG_BUCKET"] == "prod-bucket"
    # A bucket but no credentials: embedded, with that bucket's name.
    no_aws_env.setattr(local_storage, "_has_aws_credentials", lambda: False)
    storage = start_storage()
    try:
        assert storage.embedded and storage.bucket == "prod-bucket"
    finally:
        storage.stop()


def test_embedded_storage_on_all_addresses_signs_urls_for_the_public_host(no_aws_env):
    # 127.0.0.2 is this machine (all of 127/8 is loopback) but not an address a 127.0.0.1-only server
    # accepts: a download through it shows the S3 listens on every address and the URL names that host.
    storage = start_storage("pub", host="0.0.0.0", public_host="127.0.0.2")
    try:
        assert storage.endpoint.startswith("http://127.0.0.2:")
        assert os.environ["AWS_ENDPOINT_URL_S3"] == storage.endpoint
        import boto3

        client = boto3.client("s3")
        client.put_object(Bucket="pub", Key="k.png", Body=b"\x89PNG pub")
        url = client.generate_presigned_url("get_object", Params={"Bucket": "pub", "Key": "k.png"})
        assert url.startswith("http://127.0.0.2:")
        with urllib.request.urlopen(url, timeout=30) as response:
            assert response.read() == b"\x89PNG pub"
    finally:
        storage.stop()


def test_embedded_storage_on_a_wildcard_host_advertises_the_primary_address(no_aws_env):
    no_aws_env.setattr(local_net, "primary_address", lambda family=None: "127.0.0.3")
    storage = start_storage("wild", host="0.0.0.0")
    try:
        assert storage.endpoint.startswith("http://127.0.0.3:")
    finally:
        storage.stop()


def test_credentials_lookup_sees_environment_credentials(no_aws_env):
    assert local_storage._has_aws_credentials() is False
    no_aws_env.setenv("AWS_PROFILE", "no-such-profile")
    assert local_storage._has_aws_credentials() is False
    no_aws_env.delenv("AWS_PROFILE")
    no_aws_env.setenv("AWS_ACCESS_KEY_ID", "AKIA...")
    no_aws_env.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    assert local_storage._has_aws_credentials() is True


# --- addresses ----------------------------------------------------------------------------------------------


def test_advertised_host_replaces_wildcards_only(monkeypatch):
    assert advertised_host("127.0.0.1") == "127.0.0.1" and advertised_host("myhost") == "myhost"
    monkeypatch.setattr(local_net, "primary_address", lambda family=None: "192.0.2.7")
    assert advertised_host("0.0.0.0") == "192.0.2.7" and advertised_host("") == "192.0.2.7"
    monkeypatch.setattr(local_net, "primary_address", lambda family=None: None)
    assert advertised_host("0.0.0.0") == "127.0.0.1" and advertised_host("::") == "::1"


def test_primary_address_is_never_loopback_or_wildcard():
    address = primary_address()
    assert address is None or address not in ("127.0.0.1", "0.0.0.0")
    if address is not None:
        assert not address.startswith("127.")


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://192.168.1.5:3000", ("http", "192.168.1.5", 3000)),
        ("https://api.example.com/", ("https", "api.example.com", None)),
        ("http://[fe80::1]:8080", ("http", "fe80::1", 8080)),
    ],
)
def test_parse_public_url(url, expected):
    assert parse_public_url(url) == expected


@pytest.mark.parametrize(
    "url", ["192.168.1.5:3000", "ftp://host", "http://", "http://h/api", "http://u:p@h", "http://h:99999"]
)
def test_bad_public_urls_are_refused_naming_the_option(url):
    with pytest.raises(ValueError, match="--public-url"):
        parse_public_url(url)


def test_wildcard_host_with_a_public_url_answers_there():
    with LocalApi(echo_handler, host="0.0.0.0", storage=False, public_url="http://127.0.0.2") as api:
        assert api.url == f"http://127.0.0.2:{api.port}"
        status, _, body = request("GET", f"{api.url}/health")
        assert status == 200 and json.loads(body)["event"]["headers"]["Host"] == f"127.0.0.2:{api.port}"
    with LocalApi(echo_handler, storage=False, public_url="http://192.0.2.9:8000") as api:
        assert api.url == "http://192.0.2.9:8000"  # a port forwarded elsewhere is kept as given


def test_wildcard_host_without_a_public_url_advertises_the_primary_address(monkeypatch):
    monkeypatch.setattr(local_net, "primary_address", lambda family=None: "127.0.0.4")
    with LocalApi(echo_handler, host="0.0.0.0", storage=False) as api:
        assert api.url == f"http://127.0.0.4:{api.port}"
        assert request("GET", f"{api.url}/health")[0] == 200


# --- resolving the handler ----------------------------------------------------------------------------------


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A folder on sys.path with functions_t/api/app.py; sys.path and sys.modules restored afterwards."""
    package = tmp_path / "functions_t" / "api"
    package.mkdir(parents=True)
    (package / "app.py").write_text(
        "import os\nBUCKET_AT_IMPORT = os.environ.get('HNG_BUCKET')\n"
        "def lambda_handler(event, context):\n    return {'statusCode': 200, 'body': 'from app'}\n"
        "not_callable = 3\n"
    )
    importlib.invalidate_caches()
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    for name in [name for name in sys.modules if name.split(".")[0] == "functions_t"]:
        del sys.modules[name]


def test_resolve_handler_imports_from_sys_path_without_changing_it(project, monkeypatch):
    monkeypatch.chdir(project / "functions_t")
    before = list(sys.path)
    handler = resolve_handler("functions_t.api.app.lambda_handler")
    assert handler({}, None)["body"] == "from app"
    assert sys.path == before
    assert resolve_handler("functions_t.api.app:lambda_handler") is handler


@pytest.mark.parametrize(
    ("dotted", "message"),
    [
        ("lambda_handler", "must look like"),
        ("functions_t.api.nope.lambda_handler", "cannot import the handler module"),
        ("functions_t.api.app.missing", "no callable 'missing'"),
        ("functions_t.api.app.not_callable", "no callable"),
    ],
)
def test_resolve_handler_errors_are_one_line(project, dotted, message):
    with pytest.raises(ServeError, match=message):
        resolve_handler(dotted)


def test_dotted_handler_is_imported_after_the_storage_environment_is_set(project, aws_env):
    with LocalApi("functions_t.api.app.lambda_handler", bucket="late") as api:
        assert sys.modules["functions_t.api.app"].BUCKET_AT_IMPORT == "late"
        status, _, body = request("GET", f"{api.url}/x")
        assert (status, body) == (200, b"from app")


# --- the CLI ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("port", ["70000", "-1", "http"])
def test_cli_bad_port_is_a_one_line_usage_error(port, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["serve", "--port", port])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "port" in err


def test_cli_port_in_use_exits_1_with_a_message_and_no_traceback(capsys):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        code = cli.main(["serve", "--port", str(busy.getsockname()[1]), "--handler", "json.dumps"])
    err = capsys.readouterr().err
    assert code == 1 and "already in use" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_cli_unknown_handler_exits_1(capsys, aws_env):
    code = cli.main(["serve", "--port", "0", "--handler", "no_such_pkg_hng.app.handler"])
    err = capsys.readouterr().err
    assert code == 1 and "cannot import the handler module 'no_such_pkg_hng.app'" in err
    assert "AWS_ENDPOINT_URL_S3" not in os.environ  # the embedded S3 it had started was stopped


def test_cli_help_lists_the_serve_options(capsys):
    with pytest.raises(SystemExit):
        cli.main(["serve", "--help"])
    text = capsys.readouterr().out
    options = ("--host", "--port", "--bucket", "--handler", "--embedded-s3", "--public-url", "--log-format")
    for option in options:
        assert option in text


@pytest.mark.parametrize("args", [["--public-url", "ftp://x"], ["--public-url", "http://h/p"]])
def test_cli_bad_public_url_is_a_one_line_usage_error(args, capsys):
    assert cli.main(["serve", "--port", "0", "--handler", "json.dumps", *args]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "--public-url" in err


def test_cli_bad_log_format_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["serve", "--log-format", "xml"])
    assert exit_info.value.code == 2 and "--log-format" in capsys.readouterr().err


def test_cli_without_waitress_exits_1_naming_the_extra(monkeypatch, capsys):
    monkeypatch.delitem(sys.modules, "hng.local.wsgi", raising=False)
    monkeypatch.setitem(sys.modules, "waitress", None)  # import waitress now fails, as when not installed
    code = cli.main(["serve", "--port", "0", "--handler", "json.dumps"])
    err = capsys.readouterr().err
    assert code == 1 and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert "waitress" in err and "pip install 'hng[local]'" in err


def test_the_local_extra_holds_what_serve_needs_and_dev_pulls_it_in():
    import tomllib

    extras = tomllib.loads((Path(cli.__file__).resolve().parents[2] / "pyproject.toml").read_text())[
        "project"
    ]["optional-dependencies"]
    names = {spec.split(">")[0].split("=")[0].strip() for spec in extras["local"]}
    assert {"moto[server]", "waitress"} <= names
    assert "hng[local]" in extras["dev"]


class _Unclosable:
    """A channel in waitress' map that fails to close with an error waitress' trigger would swallow."""

    def readable(self) -> bool:
        return False

    def writable(self) -> bool:
        return False

    def close(self) -> None:
        raise RuntimeError("closing mid-request")


def test_stopping_closes_the_loop_even_when_a_channel_fails_to_close():
    api = LocalApi(routed_handler, storage=False)
    api.start()
    http = api._http
    assert http is not None
    http._map[-7] = _Unclosable()  # a key no real socket has
    stopped = threading.Event()
    stopper = threading.Thread(target=lambda: (api.stop(), stopped.set()), daemon=True)
    stopper.start()
    # join's timeout only bounds a failure: stopping takes milliseconds, and waits forever when broken.
    stopper.join(timeout=60)
    assert stopped.is_set(), "stop() hung on a channel that failed to close"
