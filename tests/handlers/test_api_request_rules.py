"""The API's request rules: every request is answered by its documented rule, through API Gateway events,
direct invocation, the library and the CLI's shared parser. One test (or parametrized set) per rule."""

from __future__ import annotations

import base64
import json
import re

import numpy as np
import pytest

import hng
from hng.core.params import parse_flag, parse_number
from hng.http import InvalidEvent, negotiate, parse_media_type
from tests.support.api import FakeContext, api_event, call, json_body

VALID = {"number": 42, "image_width": 56, "includeImage": False}


def raw_call(api, body: bytes | str | None, headers=None, *, base64_encoded: bool = False, method="POST"):
    event = api_event(method, "/generate", None, headers)
    if isinstance(body, bytes):
        body = base64.b64encode(body).decode() if base64_encoded else body.decode("utf-8")
    event["body"], event["isBase64Encoded"] = body, base64_encoded
    return api.lambda_handler(event, FakeContext())


def errors_of(response: dict) -> list[dict]:
    return json_body(response).get("errors", [])


# --- integer literals past Python's int-string limit -------------------------------------------------


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ('{"number": ' + "9" * 4301 + "}", "number"),
        ('{"number": 42, "seed": ' + "1" * 5000 + "}", "seed"),
        ('{"number": 42, "image_width": -' + "7" * 4400 + "}", "image_width"),
        ('{"number": 42, "extra": [1, {"deep": ' + "3" * 4301 + "}]}", "extra[1].deep"),
    ],
)
def test_integer_literal_past_the_int_string_limit_is_400_naming_the_field(api, body, field):
    response = raw_call(api, body)
    assert response["statusCode"] == 400, response["body"]
    [error] = errors_of(response)
    assert error["field"] == field and "too long" in error["message"]


def test_huge_int_in_the_library_and_a_direct_event_names_number(api, sample_default_generator):
    with pytest.raises(ValueError, match=r"^number may have at most 64 digits"):
        hng.generate(10**5000)
    with pytest.raises(InvalidEvent, match=r"number: .*at most 64 digits"):
        api.lambda_handler({"number": 10**5000}, FakeContext())


# --- the body must be a JSON object --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ('[{"number": 42, "includeImage": false}, "junk", 1]', "it is an array"),
        ('"42"', "it is a string"),
        ("42", "it is a number"),
        ("true", "it is a boolean"),
        ("null", "with at least `number`; it is null"),
        ("", "with at least `number`; it is empty"),
        (" \r\n", "with at least `number`; it is empty"),
        (None, "with at least `number`; it is empty"),
    ],
)
def test_a_body_that_is_not_an_object_is_400_saying_what_it_must_be(api, body, words):
    response = raw_call(api, body, {"Content-Type": "application/json"})
    assert response["statusCode"] == 400, response["body"]
    [error] = errors_of(response)
    assert error["field"] == "body"
    assert error["message"].startswith("the body must be a JSON object") and words in error["message"]


@pytest.mark.parametrize(
    "body",
    [b'{"number": 42, "image_width": NaN}', b'{"number": Infinity}', b"\xff\xfe{}", b'{"number": 4'],
)
def test_non_json_is_400_malformed(api, body):
    response = raw_call(api, body, base64_encoded=True)
    assert response["statusCode"] == 400
    assert errors_of(response)[0]["message"].startswith("malformed JSON")


# --- the 16 KiB limit counts bytes ----------------------------------------------------------------------


def test_the_limit_counts_bytes_not_characters(api):
    body = json.dumps({"number": "\u3000" * 8000 + "42"}, ensure_ascii=False)
    assert len(body) < 16 * 1024 < len(body.encode())
    response = raw_call(api, body)
    assert response["statusCode"] == 413
    assert "bytes" in json_body(response)["message"]


def test_the_limit_counts_decoded_base64_bytes(api):
    padding = " " * (16 * 1024 - len(json.dumps(VALID)) - 10)
    fits = json.dumps(VALID)[:-1] + padding + "}"
    assert len(fits.encode()) <= 16 * 1024 < len(base64.b64encode(fits.encode()))
    assert raw_call(api, fits.encode(), base64_encoded=True)["statusCode"] == 200
    too_big = fits[:-1] + " " * 20 + "}"
    assert raw_call(api, too_big.encode(), base64_encoded=True)["statusCode"] == 413


# --- number: only ASCII space, tab, CR and LF are trimmed -----------------------------------------------


UNICODE_SPACES = ["\u00a042\u2028", "\u300042", "\x1c42", "\x8542", "42\u200b", "\u202f42", "\ufeff42"]


@pytest.mark.parametrize("number", UNICODE_SPACES)
def test_unicode_whitespace_around_digits_is_refused_everywhere(api, number, sample_default_generator):
    response = call(api, "POST", "/generate", {"number": number, "includeImage": False})
    assert response["statusCode"] == 400
    assert errors_of(response)[0]["field"] == "number"
    with pytest.raises(ValueError, match=r"^number must contain only the digits 0-9"):
        hng.generate(number)
    with pytest.raises(ValueError, match="only the digits"):
        parse_number(number)


@pytest.mark.parametrize("number", [" 42", "42\n", "\t42\r\n", " \t 42 "])
def test_ascii_whitespace_is_trimmed(api, number):
    assert (
        json_body(call(api, "POST", "/generate", {"number": number, "includeImage": False}))["label"] == "42"
    )


# --- augment: exactly the documented forms --------------------------------------------------------------


@pytest.mark.parametrize("augment", ["yes", "no", "on", "off", " true", "true ", "2", 2, -1, 1.0, [], {}])
def test_undocumented_augment_forms_are_400(api, augment):
    response = call(api, "POST", "/generate", {"number": 4, "augment": augment})
    assert response["statusCode"] == 400, response["body"]
    assert errors_of(response)[0]["field"] == "augment"


@pytest.mark.parametrize(
    ("augment", "on"),
    [("TRUE", True), ("False", False), ("1", True), ("0", False), (1, True), (False, False)],
)
def test_documented_augment_forms_any_case(api, augment, on):
    body = json_body(call(api, "POST", "/generate", {"number": 4, "augment": augment, "includeImage": False}))
    assert body["preset"] == ("mild" if on else "none")
    assert parse_flag(augment, "augment") is on


def test_openapi_shows_the_accepted_augment_forms(api):
    document = json_body(call(api, "GET", "/openapi.json"))
    schema = document["components"]["schemas"]["GenerateRequest"]["properties"]["augment"]
    forms = {json.dumps(option, sort_keys=True) for option in schema["anyOf"]}
    assert json.dumps({"type": "boolean"}) in forms
    assert any('"enum": [0, 1]' in form or '"const"' in form for form in forms), forms
    [pattern] = [option["pattern"] for option in schema["anyOf"] if option.get("type") == "string"]
    assert all(re.match(pattern, s) for s in ("true", "TRUE", "False", "1", "0"))
    assert not any(re.match(pattern, s) for s in ("yes", "no", " true", "10", ""))


# --- content types ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content_type",
    [
        "APPLICATION/JSON",
        "Application/Json; Charset=UTF-8",
        "application/json;charset=utf-8",
        "application/merge-patch+json",
        "application/vnd.hng.v1+json",
    ],
)
def test_json_media_types_are_accepted_in_any_case(api, content_type):
    response = call(api, "POST", "/generate", VALID, headers={"content-type": content_type})
    assert response["statusCode"] == 200, response["body"]


@pytest.mark.parametrize(
    "content_type",
    [
        "application/jsonx",
        "application/json-seq",
        "application/jsonp",
        "text/json",
        "application/x-www-form-urlencoded",
        "application/json; charset=latin-1",
        "application/json;charset",
        "application",
        "json",
    ],
)
def test_other_media_types_are_415(api, content_type):
    response = call(api, "POST", "/generate", VALID, headers={"Content-Type": content_type})
    assert response["statusCode"] == 415, response["body"]


def test_parse_media_type():
    assert parse_media_type('Text/HTML; Charset="utf-8"') == ("text/html", {"charset": "utf-8"})
    assert parse_media_type("application/json ; q=1") == ("application/json", {"q": "1"})
    for bad in ("", None, "json", "a/b/c", "a b/c", "/json", "application/"):
        assert parse_media_type(bad) is None


# --- paths: a known route with a parameter no id has is 404, not 405 ------------------------------------


@pytest.mark.parametrize("task_id", ["\x00", "\\", "\r\n", "\u202e", "a\x00b", " "])
def test_get_with_an_impossible_task_id_is_404(api, task_id):
    response = call(api, "GET", f"/generate/{task_id}")
    assert response["statusCode"] == 404, response["body"]


def test_another_method_on_a_known_path_is_still_405(api):
    response = call(api, "DELETE", "/generate/\x00")
    assert response["statusCode"] == 405
    assert response["multiValueHeaders"]["Allow"] == ["GET"]


# --- Accept: q-values --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        (None, "application/json"),
        ("", "application/json"),
        ("*/*", "application/json"),
        ("image/png", "image/png"),
        ("image/*", "image/png"),
        ("image/png, application/json", "image/png"),
        ("application/json, image/png", "application/json"),
        ("image/png;q=0.1, application/json", "application/json"),
        ("image/png;q=0.9, application/json;q=0.8", "image/png"),
        ("image/png;q=0, */*", "application/json"),
        ("IMAGE/PNG", "image/png"),
        ("text/html,application/xhtml+xml,image/avif,image/webp,*/*;q=0.8", "application/json"),
        ("text/html", None),
        ("application/json;q=0, image/png;q=0", None),
        ("image/png;q=abc, application/json", "application/json"),
    ],
)
def test_negotiate(accept, expected):
    assert negotiate(accept, ("application/json", "image/png")) == expected


def test_accept_q_values_choose_the_answer(api):
    headers = {"Content-Type": "application/json", "Accept": "image/png;q=0.1, application/json"}
    response = call(api, "POST", "/generate", VALID, headers=headers)
    assert response["statusCode"] == 200
    assert response["multiValueHeaders"]["Content-Type"] == ["application/json"]
    headers["Accept"] = "text/html"
    assert call(api, "POST", "/generate", VALID, headers=headers)["statusCode"] == 406


# --- direct invocation: malformed events -------------------------------------------------------------


def _event(**changes):
    event = api_event("GET", "/health")
    for key, value in changes.items():
        if value is ...:
            event.pop(key)
        else:
            event[key] = value
    return event


@pytest.mark.parametrize(
    ("event", "words"),
    [
        (_event(path=...), "path must be"),
        (_event(httpMethod=None), "httpMethod must be"),
        (_event(httpMethod=...), "httpMethod must be"),
        (_event(requestContext=...), "requestContext must be"),
        (_event(body={"number": 42}), "body must be a string"),
        (_event(headers={"Accept": 1}), "headers['Accept'] must be a string"),
        (_event(headers=["Accept"]), "headers must be an object"),
        (_event(multiValueHeaders={"Accept": "x"}), "multiValueHeaders['Accept'] must be a list"),
        (_event(queryStringParameters={"a": None}), "queryStringParameters['a']"),
        (_event(isBase64Encoded="yes"), "isBase64Encoded must be"),
        (_event(body="!!!", isBase64Encoded=True), "not base64"),
        (
            {"version": "2.0", "routeKey": "GET /health", "rawPath": "/health"},
            "HTTP API (payload format 2.0)",
        ),
        ({"rawPath": "/health", "requestContext": {"http": {"method": "GET"}}}, "HTTP API"),
        ([{"number": 42}], "must be a JSON object"),
        ("42", "must be a JSON object"),
        (None, "must be a JSON object"),
    ],
)
def test_malformed_events_raise_invalid_event_naming_the_key(api, event, words):
    with pytest.raises(InvalidEvent) as raised:
        api.lambda_handler(event, FakeContext())
    assert words in str(raised.value)


def test_invalid_base64_is_refused_on_a_get_too(api):
    with pytest.raises(InvalidEvent, match="not base64"):
        api.lambda_handler(_event(body="%%%", isBase64Encoded=True), FakeContext())


@pytest.mark.parametrize("context", [None, object(), "ctx"])
def test_a_missing_context_is_a_clear_type_error(api, context):
    with pytest.raises(TypeError, match="context must be the Lambda context object"):
        api.lambda_handler({"number": 42}, context)


def test_a_rest_event_without_optional_keys_is_served(api):
    event = {"httpMethod": "GET", "path": "/health", "requestContext": {}}
    assert api.lambda_handler(event, FakeContext())["statusCode"] == 200


# --- storage faults reach the caller as 503, orphans are logged and counted ---------------------------


def test_orphaned_image_is_logged_and_counted(api, monkeypatch, capsys, caplog):
    from hng.service.task_store import StorageError

    def failing_save(*args, **kwargs):
        error = StorageError("could not store the metadata in s3://b: InternalError")
        error.orphan_key = "tasks/01ARZ3NDEKTSV4RRFFQ69G5FAV/42.png"
        raise error

    monkeypatch.setattr(api.service.store, "save", failing_save)
    response = call(api, "POST", "/generate", VALID)
    assert response["statusCode"] == 503
    [orphan] = [r for r in caplog.records if r.getMessage() == "orphaned image left in the bucket"]
    assert orphan.levelname == "ERROR" and orphan.key == "tasks/01ARZ3NDEKTSV4RRFFQ69G5FAV/42.png"
    output = capsys.readouterr().out
    [emf] = [json.loads(line) for line in output.splitlines() if line.startswith("{") and '"_aws"' in line]
    assert emf["OrphanedImages"] in (1, [1], 1.0, [1.0])


# --- X-Ray: responses are never captured ----------------------------------------------------------------


def test_tracer_does_not_capture_responses(api, monkeypatch):
    recorded: list[tuple] = []

    class Subsegment:
        def put_metadata(self, key, value, namespace=None):
            recorded.append((key, value))

        def put_annotation(self, key, value):
            pass

        def add_exception(self, *args, **kwargs):
            pass

    class Provider:
        def in_subsegment(self, name=None, **kwargs):
            import contextlib

            @contextlib.contextmanager
            def segment():
                yield Subsegment()

            return segment()

    monkeypatch.setattr(api.tracer, "provider", Provider())
    monkeypatch.setattr(api.tracer, "disabled", False, raising=False)
    monkeypatch.setattr(type(api.tracer), "_disable_tracer_provider", lambda *a, **k: None, raising=False)
    response = call(api, "POST", "/generate", {"number": 42})
    assert response["statusCode"] == 200
    assert all("imageUrl" not in json.dumps(value, default=str) for _, value in recorded), recorded


# --- generatedImage: the shortest decimal of k/255 rounded to 4 places ---------------------------------


def test_generated_image_values_are_short_exact_decimals(api):
    response = call(api, "POST", "/generate", {"number": 42, "image_width": 56, "seed": 5})
    text = response["body"]
    pixels = json_body(response)["generatedImage"]
    values = {v for row in pixels for v in row}
    assert values <= {round(k / 255, 4) for k in range(256)}
    assert "0000000" not in text and "9999999" not in text
    assert max(len(repr(v)) for v in values) <= 6
    array = np.array(pixels)
    assert np.array_equal(np.rint(array * 255), np.rint(np.round(array * 255)))


def test_generated_image_is_smaller_than_float32_rounding(api):
    body = json_body(call(api, "POST", "/generate", {"number": 42, "image_width": 56, "seed": 5}))
    new_size = len(json.dumps(body["generatedImage"]))
    old_size = len(json.dumps(np.round(np.array(body["generatedImage"], dtype=np.float32), 4).tolist()))
    assert new_size < old_size * 0.8


def test_every_route_with_a_json_body_gets_the_body_rules(api):
    """A route that takes a body must be declared with `json_body`, or it would skip the body rules."""
    document = json_body(call(api, "GET", "/openapi.json"))
    for path, item in document["paths"].items():
        concrete = re.sub(r"\{[^}]+\}", "x", path)
        rule = api.routes.rule(concrete)
        assert rule is not None, path
        for method, operation in item.items():
            assert method.upper() in rule.methods, (method, path)
            assert ("requestBody" in operation) == (method.upper() in rule.body), (method, path)
