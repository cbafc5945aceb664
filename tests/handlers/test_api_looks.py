"""POST /generate with the document options: the stored image has the look, JPEG is stored and answered
as JPEG, and bad options are 400s naming the field (backgrounds only under backgrounds/ of the bucket)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

import hng
from hng.core.encoding import decode_image
from tests.support.api import BUCKET, call, content_type, json_body, stored_keys

JSON = {"Content-Type": "application/json"}


def test_a_styled_image_is_stored_with_its_look(api, s3, sample_data) -> None:
    request = {"number": "2026", "seed": 3, "image_width": 200, "style": "paper", "height": 48,
               "rotate": 4, "includeImage": False, "includeMask": True}  # fmt: skip
    body = json_body(call(api, "POST", "/generate", request))
    assert (body["height"], body["channels"], body["style"]) == (48, 3, "paper")
    image = decode_image(s3.get_object(Bucket=BUCKET, Key=body["key"])["Body"].read())
    expected = hng.Generator(sample_data).generate(
        "2026", seed=3, image_width=200, style="paper", height=48, rotate=4, masks=True
    )
    np.testing.assert_array_equal(image, expected.image)
    assert [[b["x0"], b["y0"], b["x1"], b["y1"]] for b in body["boxes"]] == [
        list(b[1:]) for b in expected.boxes
    ]
    task = json_body(call(api, "GET", f"/generate/{body['taskId']}"))
    assert task["metadata"]["style"] == "paper" and task["metadata"]["height"] == 48


def test_jpeg_is_stored_as_jpg_and_answered_when_accepted(api, s3) -> None:
    request = {"number": "42", "seed": 1, "style": "ink", "height": 32, "imageEncoding": "jpeg",
               "jpegQuality": 85, "includeImage": False}  # fmt: skip
    body = json_body(call(api, "POST", "/generate", request))
    assert body["key"].endswith("/42.jpg")
    stored = s3.get_object(Bucket=BUCKET, Key=body["key"])
    assert stored["ContentType"] == "image/jpeg"
    assert decode_image(stored["Body"].read()).shape[0] == 32
    answer = call(
        api, "POST", "/generate", request, {"Content-Type": "application/json", "Accept": "image/jpeg"}
    )
    assert answer["statusCode"] == 200 and content_type(answer) == "image/jpeg"
    refused = call(
        api, "POST", "/generate", request, {"Content-Type": "application/json", "Accept": "image/png"}
    )
    assert refused["statusCode"] == 406 and "image/jpeg" in json_body(refused)["message"]


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"style": "sepia"}, "style"),
        ({"style": "ink", "ink": "blue", "channels": 1}, "channels"),
        ({"rotate": [9, 2]}, "rotate"),
        ({"rotate": "abc"}, "rotate"),
        ({"elastic": [1, 2, 3]}, "elastic"),
        ({"height": 300}, "height"),
        ({"ink": "black"}, "ink"),
        ({"style": "background", "background": "tasks/"}, "background"),
        ({"style": "background", "background": "backgrounds/../tasks/"}, "background"),
        ({"style": "background"}, "background"),
        ({"jpegQuality": 80}, "jpegQuality"),
        ({"imageEncoding": "gif"}, "imageEncoding"),
    ],
)
def test_bad_document_options_are_400_naming_the_field(api, s3, fields: dict, field: str) -> None:
    response = call(api, "POST", "/generate", {"number": "7", **fields})
    assert response["statusCode"] == 400, response["body"]
    errors = json_body(response)["errors"]
    assert [e["field"] for e in errors] == [field], errors
    assert stored_keys(s3) == []


def test_backgrounds_come_from_the_bucket_prefix(api, s3) -> None:
    sheet = np.full((100, 300, 3), (40, 40, 220), np.uint8)  # red paper (BGR)
    s3.put_object(Bucket=BUCKET, Key="backgrounds/red/a.png", Body=cv2.imencode(".png", sheet)[1].tobytes())
    request = {"number": "10", "seed": 2, "style": "background", "background": "backgrounds/red/",
               "height": 40, "includeImage": False, "includeMask": True}  # fmt: skip
    body = json_body(call(api, "POST", "/generate", request))
    image = decode_image(s3.get_object(Bucket=BUCKET, Key=body["key"])["Body"].read())
    mask = decode_image(s3.get_object(Bucket=BUCKET, Key=body["maskKey"])["Body"].read())
    paper = image[mask == 0].astype(int)
    assert np.median(paper[:, 0]) > 150 and np.median(paper[:, 2]) < 120  # red, as the sheet
    empty = call(api, "POST", "/generate", {**request, "background": "backgrounds/none/"})
    assert empty["statusCode"] == 400 and json_body(empty)["errors"][0]["field"] == "background"


def test_a_bad_range_is_one_message_naming_the_rule(api) -> None:
    response = call(api, "POST", "/generate", {"number": "7", "rotate": "abc"})
    (error,) = json_body(response)["errors"]
    assert error["field"] == "rotate" and "a number or a [low, high] pair" in error["message"]
