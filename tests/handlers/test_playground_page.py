"""GET / (the playground) through the Lambda handler: one self-contained page under a strict CSP.

The page's behaviour is tested in a real Chromium (tests/browser/test_playground_browser.py); here: what
the handler answers, on every entry point alike."""

from __future__ import annotations

import base64
import hashlib
import json
import re

import pytest

from hng.core.params import DEFAULT_SPACING_RANGE
from hng.http.playground import content_security_policy, playground_page
from hng.settings import load_settings
from tests.support.api import FakeContext, api_event, call

MAX_PAGE_BYTES = 40 * 1024


def page_response(api, path: str = "/", **kwargs) -> dict:
    response = call(api, "GET", path, headers={"Accept": "text/html"}, **kwargs)
    assert response["statusCode"] == 200, response["body"]
    return response


def header(response: dict, name: str) -> str:
    headers = {k.lower(): v for k, v in (response.get("headers") or {}).items()}
    multi = {k.lower(): v for k, v in (response.get("multiValueHeaders") or {}).items()}
    return headers.get(name.lower()) or ",".join(multi.get(name.lower(), []))


def csp_directives(policy: str) -> dict[str, list[str]]:
    return {part.split()[0]: part.split()[1:] for part in policy.split("; ")}


def sha256_source(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def test_the_page_is_one_small_self_contained_html_document(api):
    response = page_response(api)
    html = response["body"]
    assert header(response, "Content-Type") == "text/html; charset=utf-8"
    assert len(html.encode()) < MAX_PAGE_BYTES
    assert html.startswith("<!doctype html>") and "<title>hng playground</title>" in html
    # No external script, style sheet or font; no absolute URL of its own: it works under /{stage}/.
    assert not re.search(r"<script[^>]+src=|<link[^>]+stylesheet|@import|https?://", html)
    assert re.findall(r'href="([^"]+)"', html) == ["data:,", "docs", "openapi.json"]
    assert "fetch(BASE + path" in html and "location.pathname" in html


def test_csp_admits_only_the_pages_own_script_and_style_by_hash(api):
    response = page_response(api)
    html = response["body"]
    policy = csp_directives(header(response, "Content-Security-Policy"))
    (script,) = re.findall(r"<script>(.*?)</script>", html, re.S)
    (style,) = re.findall(r"<style>(.*?)</style>", html, re.S)
    assert policy["default-src"] == ["'none'"]
    assert policy["script-src"] == [sha256_source(script)]
    assert policy["style-src"] == [sha256_source(style)]
    assert policy["connect-src"] == ["'self'"]
    assert policy["frame-ancestors"] == ["'none'"] and policy["base-uri"] == ["'none'"]
    # Images: the page itself and the storage the presigned URLs point at (here moto's stand-in for AWS).
    (image_url_origin,) = [o for o in policy["img-src"] if o.startswith("http")]
    generated = call(api, "POST", "/generate", {"number": 1, "includeImage": False})
    image_url = json.loads(generated["body"])["imageUrl"]
    assert image_url.startswith(image_url_origin + "/")
    assert header(response, "X-Content-Type-Options") == "nosniff"
    assert header(response, "Cache-Control") == "no-cache"
    assert header(response, "Referrer-Policy") == "no-referrer"


def test_the_form_starts_with_the_apis_default_spacing(api):
    html = page_response(api)["body"]
    low, high = DEFAULT_SPACING_RANGE
    assert f'id="spacing_min" name="spacing_min" type="number" inputmode="numeric" value="{low}"' in html
    assert f'id="spacing_max" name="spacing_max" type="number" inputmode="numeric" value="{high}"' in html
    assert "{{" not in html


@pytest.mark.parametrize(
    ("setting", "shown"), [("true", "required"), ("false", "optional"), (None, "optional")]
)
def test_the_api_key_field_follows_the_stacks_setting(api, monkeypatch, setting, shown):
    if setting is None:
        monkeypatch.delenv("HNG_API_KEY_REQUIRED", raising=False)
    else:
        monkeypatch.setenv("HNG_API_KEY_REQUIRED", setting)
    monkeypatch.setattr(api, "settings", load_settings())  # read once, as a new container does
    assert f'<meta name="hng-api-key" content="{shown}">' in page_response(api)["body"]


def test_every_label_names_an_input_of_the_page(api):
    html = page_response(api)["body"]
    ids = set(re.findall(r'<(?:input|select|progress)[^>]*\bid="([^"]+)"', html))
    labelled = set(re.findall(r'<label for="([^"]+)"', html))
    assert ids - {"boxes"} <= labelled, ids - labelled  # the checkbox sits inside its label
    assert labelled <= ids


def test_the_page_is_served_under_a_stage_and_refuses_other_methods(api):
    event = api_event("GET", "/", headers={"Host": "abc.execute-api.us-east-1.amazonaws.com"})
    event["requestContext"].update(
        stage="dev", path="/dev/", domainName="abc.execute-api.us-east-1.amazonaws.com"
    )
    response = api.lambda_handler(event, FakeContext())
    assert response["statusCode"] == 200 and "<title>hng playground</title>" in response["body"]
    refused = call(api, "POST", "/", {"number": 1})
    assert refused["statusCode"] == 405
    assert header(refused, "Allow") == "GET"


def test_without_storage_the_page_still_loads_with_images_from_itself_only(api, monkeypatch):
    monkeypatch.setattr(api.service, "store", None)
    policy = csp_directives(header(page_response(api), "Content-Security-Policy"))
    assert policy["img-src"] == ["'self'", "data:"]


@pytest.mark.parametrize("origin", ["javascript:alert(1)", "http://x/y", "https://a b", "'unsafe-inline'"])
def test_an_image_origin_that_is_not_scheme_host_port_is_refused(origin):
    with pytest.raises(ValueError, match="image origin"):
        content_security_policy([origin])


def test_the_library_builds_the_same_page_the_handler_serves(api):
    page = playground_page(image_origins=["http://127.0.0.1:9000"], api_key_required=True)
    assert page.headers["Content-Security-Policy"].count("http://127.0.0.1:9000") == 1
    assert 'content="required"' in page.html


def test_the_dataset_panel_offers_every_format(api):
    from hng.datasets.formats import FORMATS

    html = call(api, "GET", "/")["body"]
    select = re.search(r'<select id="ds-format".*?</select>', html, re.S)
    assert select is not None
    assert re.findall(r"<option>(\w+)</option>", select.group()) == list(FORMATS)


def select_values(html: str, element_id: str) -> list[str]:
    select = re.search(rf'<select id="{element_id}".*?</select>', html, re.S)
    assert select is not None, element_id
    return re.findall(r'<option value="([^"]*)"', select.group())


def test_the_document_look_is_folded_and_offers_the_apis_choices_at_its_defaults(api):
    from hng.core.encoding import IMAGE_ENCODINGS
    from hng.document.options import (
        BACKGROUNDS_PREFIX,
        DEFAULT_HEIGHT,
        MAX_HEIGHT,
        MAX_ROTATE,
        MAX_SHEAR,
        MIN_HEIGHT,
        STROKES,
        STYLES,
    )
    from hng.document.style import INK_NAMES

    html = page_response(api)["body"]
    # Folded: the form looks as it did until the user opens it; every control of it inside the form.
    look = re.search(r'<details class="look" id="look">.*?</details>', html, re.S)
    assert look is not None and "<form" not in look.group()
    assert html.index('<form id="gen"') < look.start() < look.end() < html.index("</form>")
    assert select_values(html, "style") == list(STYLES)
    assert select_values(html, "ink") == ["", *INK_NAMES, "#"]  # the style's own ink, the names, a colour
    assert select_values(html, "channels") == ["", "1", "3"]
    assert select_values(html, "stroke") == list(STROKES)
    assert select_values(html, "image_encoding") == list(IMAGE_ENCODINGS)
    assert (
        f'id="height" name="height" type="number" inputmode="numeric" min="{MIN_HEIGHT}" '
        f'max="{MAX_HEIGHT}" value="{DEFAULT_HEIGHT}"' in html
    )
    assert f"up to {MAX_ROTATE:g}<" in html and f"up to {MAX_SHEAR:g}<" in html
    assert f"under {BACKGROUNDS_PREFIX} in the bucket" in html
    # Shown only when they apply: the background prefix (style background), the JPEG quality, the colour.
    for field in ("background-field", "jpeg_quality-field", "ink_colour-field"):
        assert re.search(rf'<div class="field" id="{field}" hidden>', html), field
    # Range fields are text: "x" or "low, high".
    for name in ("rotate", "shear", "perspective", "elastic", "jpeg_quality"):
        assert re.search(rf'<input id="{name}" name="{name}" autocomplete="off"', html), name
    # The API's 400s name these fields by their JSON names: the script places them under the inputs.
    for name, field in (("imageEncoding", "image_encoding"), ("jpegQuality", "jpeg_quality")):
        assert f'{name}: "{field}"' in html
    assert "{{" not in html


@pytest.mark.parametrize("offered", [True, False])
def test_verify_labels_is_offered_only_when_the_api_takes_it(api, monkeypatch, offered):
    from hng.http import playground

    monkeypatch.setattr(playground, "verify_labels_offered", lambda: offered)
    html = page_response(api)["body"]
    box = re.search(r'<label for="verify_labels"[^>]*>(<input[^>]*>)', html)
    assert box is not None
    assert (" disabled " in box.group(1)) is not offered
    title = re.search(r'title="([^"]*)"', box.group()).group(1)
    assert ("does not take verifyLabels" in title) is not offered
    # The script sends verifyLabels only from a checked box that is not disabled.
    assert 'if (state.verify_labels && !$("verify_labels").disabled) body.verifyLabels = true;' in html


def test_verify_labels_is_offered_exactly_when_the_request_model_has_the_field():
    """The API takes verifyLabels once GenerateRequest has verify_labels, which it gets when
    Generator.generate takes verify_labels: the page, the model and the library agree."""
    import inspect

    from hng.core.generation import Generator
    from hng.http.playground import verify_labels_offered
    from hng.service.models import GenerateRequest

    in_library = "verify_labels" in inspect.signature(Generator.generate).parameters
    assert verify_labels_offered() == ("verify_labels" in GenerateRequest.model_fields) == in_library, (
        "wire verify_labels through GenerateRequest and image_service when Generator.generate takes it"
    )
