"""The Lambda handler (functions/api/app.py) over API Gateway events and direct invocation, S3 in moto."""

from __future__ import annotations

import base64
import json

import numpy as np
import pytest

import hng
from hng.core.png import decode_png
from hng.http import InvalidEvent
from hng.service.image_service import GenerationService, ServiceConfig
from tests.support.api import BUCKET, FakeContext, api_event, call, content_type, json_body, stored_keys

OLD_BODY = {"augment": "true", "number": 42, "spacing_min": 5, "spacing_max": 10, "image_width": 56}


def test_health_reports_data_and_old_status(api):
    response = call(api, "GET", "/health")
    assert response["statusCode"] == 200
    body = json_body(response)
    assert body["Status"] == "Running"
    assert body["status"] == "ok"
    assert body["version"] == hng.__version__
    # The committed sample is real MNIST digits, but not the canonical content: health says so.
    assert body["mnist"] == {
        "loaded": True,
        "digits": 1300,
        "sha256": api.service.data.content_sha256,
        "canonical": False,
        "source": api.service.data.source,
        "error": None,
    }
    assert len(body["mnist"]["sha256"]) == 64


def test_health_is_degraded_without_data(api, monkeypatch):
    monkeypatch.setattr(api, "service", GenerationService(ServiceConfig(bucket=BUCKET), None))
    body = json_body(call(api, "GET", "/health"))
    assert body["status"] == "degraded"
    assert body["mnist"] == {
        "loaded": False,
        "digits": 0,
        "sha256": None,
        "canonical": False,
        "source": None,
        "error": None,
    }


def test_generate_with_the_old_body_stores_png_and_metadata(api, s3):
    response = call(api, "POST", "/generate", OLD_BODY)
    assert response["statusCode"] == 200, response["body"]
    body = json_body(response)
    for field, value in OLD_BODY.items():
        assert body[field] == value
    task_id = body["taskId"]
    assert len(task_id) == 26
    pixels = body["generatedImage"]
    assert len(pixels) == 28 and all(len(row) == 56 for row in pixels)
    assert all(0.0 <= value <= 1.0 for row in pixels for value in row)
    assert body["preset"] == "mild"
    assert body["key"] == f"tasks/{task_id}/42.png"
    assert body["metadataKey"] == f"tasks/{task_id}/metadata.json"
    assert body["bucket"] == BUCKET and body["expiresIn"] == 600
    assert "X-Amz-Signature=" in body["imageUrl"] and "X-Amz-Expires=600" in body["imageUrl"]
    assert [box["digit"] for box in body["boxes"]] == [4, 2]
    assert stored_keys(s3) == [body["key"], body["metadataKey"]]
    png = s3.get_object(Bucket=BUCKET, Key=body["key"])["Body"].read()
    image = hng.decode_png(png)
    assert image.shape == (28, 56)
    # The JSON pixels are all the stored PNG's pixels, k/255 rounded to 4 decimals.
    np.testing.assert_array_equal(np.rint(np.array(pixels) * 255), image)
    np.testing.assert_allclose(np.array(pixels), np.round(image / 255, 4), rtol=0, atol=1e-9)
    metadata = json.loads(s3.get_object(Bucket=BUCKET, Key=body["metadataKey"])["Body"].read())
    assert metadata["taskId"] == task_id and metadata["seed"] == body["seed"]
    assert metadata["request"]["number"] == 42 and metadata["boxes"] == body["boxes"]


def test_seed_makes_the_stored_image_reproducible(api, s3):
    first = json_body(call(api, "POST", "/generate", {"number": "2026", "seed": 11, "augment": True}))
    second = json_body(call(api, "POST", "/generate", {"number": "2026", "seed": 11, "augment": True}))
    assert first["taskId"] != second["taskId"]
    images = [s3.get_object(Bucket=BUCKET, Key=b["key"])["Body"].read() for b in (first, second)]
    assert images[0] == images[1]
    assert first["generatedImage"] == second["generatedImage"]


def test_include_image_false_omits_pixels(api):
    body = json_body(call(api, "POST", "/generate", {"number": "007", "includeImage": False}))
    assert "generatedImage" not in body
    assert body["label"] == "007" and body["number"] == "007"


def test_include_mask_stores_the_mask_and_presigns_it(api, s3, sample_data):
    request = {"number": "2026", "seed": 8, "image_width": 140, "includeImage": False, "includeMask": True}
    body = json_body(call(api, "POST", "/generate", request))
    assert body["maskKey"] == body["key"].replace(".png", "_mask.png")
    assert body["maskKey"] in body["maskUrl"]
    mask = decode_png(s3.get_object(Bucket=BUCKET, Key=body["maskKey"])["Body"].read())
    expected = hng.Generator(sample_data).generate("2026", seed=8, image_width=140, masks=True)
    np.testing.assert_array_equal(mask, expected.mask)
    assert [[b["x0"], b["y0"], b["x1"], b["y1"]] for b in body["boxes"]] == [
        list(b[1:]) for b in expected.boxes
    ]
    task = json_body(call(api, "GET", f"/generate/{body['taskId']}"))
    assert body["maskKey"] in task["maskUrl"] and task["metadata"]["maskKey"] == body["maskKey"]
    plain = json_body(call(api, "POST", "/generate", {"number": "7", "includeImage": False}))
    assert "maskUrl" not in plain and "maskKey" not in plain
    assert json_body(call(api, "GET", f"/generate/{plain['taskId']}")).get("maskUrl") is None


def test_include_mask_must_be_a_boolean(api):
    response = call(api, "POST", "/generate", {"number": "7", "includeMask": "yes"})
    assert response["statusCode"] == 400
    assert "includeMask" in response["body"]


@pytest.mark.parametrize("augment", [True, False, "true", "false", 1, 0, "1", "0"])
def test_augment_accepts_old_flag_spellings(api, augment):
    body = json_body(call(api, "POST", "/generate", {"number": 5, "augment": augment, "seed": 1}))
    expected = "mild" if augment in (True, "true", 1, "1") else "none"
    assert body["preset"] == expected


def test_preset_implies_augmentation(api):
    assert json_body(call(api, "POST", "/generate", {"number": 5, "preset": "strong"}))["preset"] == "strong"


def test_accept_png_answers_the_image_itself(api, s3):
    response = call(
        api,
        "POST",
        "/generate",
        {"number": 314, "image_width": 90},
        headers={"Content-Type": "application/json", "Accept": "image/png"},
    )
    assert response["statusCode"] == 200
    assert response["isBase64Encoded"] is True
    assert content_type(response) == "image/png"
    image = hng.decode_png(base64.b64decode(response["body"]))
    assert image.shape == (28, 90)
    task_id = response["multiValueHeaders"]["X-Task-Id"][0]
    assert f"tasks/{task_id}/314.png" in stored_keys(s3)


def test_get_task_returns_metadata_and_a_fresh_url(api):
    created = json_body(call(api, "POST", "/generate", {"number": 12, "seed": 3}))
    response = call(api, "GET", f"/generate/{created['taskId']}")
    assert response["statusCode"] == 200
    body = json_body(response)
    assert body["taskId"] == created["taskId"]
    assert body["key"] == created["key"]
    assert body["metadata"]["seed"] == 3
    assert "X-Amz-Signature=" in body["imageUrl"]


@pytest.mark.parametrize("task_id", ["01ARZ3NDEKTSV4RRFFQ69G5FAV", "not-a-task-id", "../../etc"])
def test_unknown_task_is_404(api, task_id):
    response = call(api, "GET", f"/generate/{task_id}")
    assert response["statusCode"] == 404
    assert json_body(response)["requestId"] == "req-123"


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({"number": "4a"}, "number", "digits 0-9"),
        ({"number": -3}, "number", "negative"),
        ({"number": ""}, "number", "empty"),
        ({"number": 4.5}, "number", "integer or a string"),
        ({"number": True}, "number", "integer or a string"),
        ({"number": "1" * 65}, "number", "at most 64"),
        ({"number": 1, "image_width": 0}, "image_width", "greater than or equal to 1"),
        ({"number": 1, "image_width": 5000}, "image_width", "less than or equal to 4096"),
        ({"number": 1, "image_width": "56"}, "image_width", "valid integer"),
        ({"number": 1, "spacing_min": -1}, "spacing_min", "greater than or equal to 0"),
        ({"number": 1, "spacing_min": 9, "spacing_max": 2}, "spacing_max", "spacing_min"),
        ({"number": 1, "spacing_min": 20}, "spacing_max", "spacing_min"),
        ({"number": 1, "augment": "maybe"}, "augment", "true or false"),
        ({"number": 1, "preset": "wild"}, "preset", "mild"),
        ({"number": 1, "preset": "mild", "augment": "false"}, "preset", "contradicts"),
        ({"number": 1, "seed": -1}, "seed", "greater than or equal to 0"),
        ({"number": 1, "split": "validation"}, "split", "train"),
        ({"number": 1, "fit": "crop"}, "fit", "stretch"),
        ({"number": 1, "colour": "red"}, "colour", "not permitted"),
        ({}, "number", "required"),
    ],
)
def test_invalid_fields_are_400_naming_the_field(api, s3, body, field, words):
    response = call(api, "POST", "/generate", body)
    assert response["statusCode"] == 400, response["body"]
    errors = json_body(response)["errors"]
    matching = [e for e in errors if e["field"] == field]
    assert matching, errors
    assert any(words.lower() in e["message"].lower() for e in matching), matching
    assert stored_keys(s3) == []


@pytest.mark.parametrize("raw", ["{bad json", "[1, 2]", "null", '"42"'])
def test_malformed_or_non_object_json_is_400(api, raw):
    response = call(api, "POST", "/generate", raw)
    assert response["statusCode"] == 400, response["body"]
    assert json_body(response)["errors"]


@pytest.mark.parametrize("kind", ["text/plain", "application/x-www-form-urlencoded", "application/xml"])
def test_wrong_content_type_is_415(api, kind):
    response = call(api, "POST", "/generate", "number=4", headers={"Content-Type": kind})
    assert response["statusCode"] == 415
    assert kind in json_body(response)["message"]


def test_oversized_body_is_413(api):
    response = call(api, "POST", "/generate", {"number": 1, "padding": "x" * 20_000})
    assert response["statusCode"] == 413


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("DELETE", "/generate", "POST"),
        ("GET", "/generate", "POST"),
        ("POST", "/health", "GET"),
        ("PUT", "/generate/01ARZ3NDEKTSV4RRFFQ69G5FAV", "GET"),
    ],
)
def test_wrong_method_is_405_with_allow(api, method, path, allowed):
    response = call(api, method, path, {"number": 1})
    assert response["statusCode"] == 405
    assert response["multiValueHeaders"]["Allow"] == [allowed]


def test_unknown_route_is_404(api):
    response = call(api, "GET", "/nowhere")
    assert response["statusCode"] == 404
    assert json_body(response)["message"] == "no route /nowhere"


def test_openapi_document_is_generated_from_the_models(api):
    response = call(api, "GET", "/openapi.json")
    assert response["statusCode"] == 200
    document = json_body(response)
    assert set(document["paths"]) >= {"/health", "/generate", "/generate/{task_id}"}
    schema = document["components"]["schemas"]["GenerateRequest"]
    assert schema["properties"]["image_width"]["anyOf"][0]["maximum"] == hng.MAX_IMAGE_WIDTH
    assert "includeImage" in schema["properties"]


class FailingPuts:
    """An S3 client whose put_object fails for keys ending in `suffix` and works otherwise."""

    def __init__(self, client, suffix: str) -> None:
        self._client = client
        self._suffix = suffix

    def put_object(self, **kwargs):
        from botocore.exceptions import ClientError

        if kwargs["Key"].endswith(self._suffix):
            raise ClientError(
                {"Error": {"Code": "SlowDown", "Message": "Please reduce your request rate."}}, "PutObject"
            )
        return self._client.put_object(**kwargs)

    def __getattr__(self, name):
        return getattr(self._client, name)


@pytest.mark.parametrize("failing", [".png", "metadata.json"])
def test_s3_failure_is_503_and_leaves_no_orphan(api, s3, failing):
    api.service.store._client = FailingPuts(s3, failing)
    response = call(api, "POST", "/generate", {"number": 99})
    assert response["statusCode"] == 503
    body = json_body(response)
    assert "SlowDown" in body["message"] and body["requestId"] == "req-123"
    assert stored_keys(s3) == []


def test_unexpected_fault_is_500_with_request_id_and_no_details(api, monkeypatch):
    def explode(request):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(api.service, "generate", explode)
    response = call(api, "POST", "/generate", {"number": 1})
    assert response["statusCode"] == 500
    body = json_body(response)
    assert body == {"statusCode": 500, "message": "internal error", "requestId": "req-123"}


def test_missing_bucket_is_503(api, monkeypatch, sample_data):
    monkeypatch.setattr(api, "service", GenerationService(ServiceConfig(bucket=None), sample_data))
    response = call(api, "POST", "/generate", {"number": 1})
    assert response["statusCode"] == 503
    assert "HNG_BUCKET" in json_body(response)["message"]


def test_direct_invocation_returns_the_same_fields(api, s3):
    result = api.lambda_handler(
        {"number": "2026", "image_width": 140, "seed": 5, "augment": True}, FakeContext()
    )
    assert result["label"] == "2026" and result["seed"] == 5 and result["preset"] == "mild"
    assert len(result["generatedImage"]) == 28 and len(result["generatedImage"][0]) == 140
    assert result["key"] in stored_keys(s3)


@pytest.mark.parametrize(
    ("event", "field"),
    [({"number": "x1"}, "number"), ({"number": 1, "image_width": -4}, "image_width"), ({}, "number")],
)
def test_direct_invocation_with_a_bad_event_raises_naming_the_field(api, event, field):
    with pytest.raises(InvalidEvent, match=field):
        api.lambda_handler(event, FakeContext())


def test_direct_invocation_rejects_a_non_object_event(api):
    with pytest.raises(InvalidEvent, match="JSON object"):
        api.lambda_handler(["number", 1], FakeContext())


def test_config_from_env_caps_url_expiry(monkeypatch):
    monkeypatch.setenv("HNG_BUCKET", "b")
    monkeypatch.setenv("HNG_URL_EXPIRES", str(8 * 24 * 3600))
    with pytest.raises(ValueError, match="7 days"):
        ServiceConfig.from_env()
    monkeypatch.setenv("HNG_URL_EXPIRES", "soon")
    with pytest.raises(ValueError, match="HNG_URL_EXPIRES"):
        ServiceConfig.from_env()
    monkeypatch.setenv("HNG_URL_EXPIRES", "120")
    assert ServiceConfig.from_env() == ServiceConfig(bucket="b", url_expiry=120)


def test_deeply_nested_json_is_400_not_500(api):
    body = '{"number": ' + "[" * 1000 + "]" * 1000 + "}"
    response = call(api, "POST", "/generate", body)
    assert response["statusCode"] == 400
    assert json_body(response)["errors"][0]["field"] == "body"


def test_base64_body_that_is_not_utf8_is_400(api):
    event = api_event("POST", "/generate", base64.b64encode(b'{"number": "\xff\xfe"}').decode())
    event["isBase64Encoded"] = True
    response = api.lambda_handler(event, FakeContext())
    assert response["statusCode"] == 400


def test_openapi_documents_the_400_this_api_answers_not_powertools_422(api):
    document = json_body(call(api, "GET", "/openapi.json"))
    responses = document["paths"]["/generate"]["post"]["responses"]
    assert "422" not in responses
    assert responses["400"]["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorResponse")
    assert "HTTPValidationError" not in json.dumps(document)


def test_fit_pad_keeps_the_strip_and_pads_with_black(api, s3):
    natural = json_body(call(api, "POST", "/generate", {"number": "42", "seed": 3, "includeImage": False}))
    asked = natural["image_width"] + 20
    padded = json_body(
        call(api, "POST", "/generate", {"number": "42", "seed": 3, "image_width": asked, "fit": "pad"})
    )
    stretched = json_body(call(api, "POST", "/generate", {"number": "42", "seed": 3, "image_width": asked}))
    assert (padded["fit"], stretched["fit"], natural["fit"]) == ("pad", "stretch", "stretch")
    assert padded["image_width"] == stretched["image_width"] == asked
    pixels = np.array(padded["generatedImage"])
    natural_pixels = np.array(
        json_body(call(api, "POST", "/generate", {"number": "42", "seed": 3}))["generatedImage"]
    )
    # pad: the natural strip's pixels, then black; stretch: the same ink spread over the whole width.
    assert np.array_equal(pixels[:, : natural["image_width"]], natural_pixels)
    assert pixels[:, natural["image_width"] :].max() == 0
    assert np.array(stretched["generatedImage"])[:, -20:].max() > 0
    assert padded["boxes"] == natural["boxes"]


def test_a_direct_invocation_logs_and_counts_as_the_route_does(api, caplog, monkeypatch):
    added: list[str] = []
    monkeypatch.setattr(api.metrics, "add_metric", lambda name, **kwargs: added.append(name))

    def messages() -> list[str]:
        logged = [r.getMessage() for r in caplog.records if r.name.startswith("hng")]
        caplog.clear()
        return logged

    caplog.set_level("INFO", logger="hng")
    assert call(api, "POST", "/generate", {"number": 42, "seed": 3})["statusCode"] == 200
    routed, routed_metrics = messages(), list(added)
    added.clear()
    assert api.lambda_handler({"number": 42, "seed": 3}, FakeContext())["taskId"]
    assert (messages(), added) == (routed, routed_metrics)
    assert "image generated" in routed and {"ImagesGenerated", "GenerationLatency"} <= set(routed_metrics)
