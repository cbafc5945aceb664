"""GET /docs (Swagger UI served by the function itself) and the OpenAPI document it shows: every
operation's success answer has its model and an example that the model accepts.

Through the Lambda handler with API Gateway REST events, as on AWS, including events of a stage
(`https://ID.execute-api.REGION.amazonaws.com/STAGE/docs`), whose paths the handler sees without the stage.
tests/browser/test_docs_browser.py renders the page in Chromium.
"""

from __future__ import annotations

import json
from html.parser import HTMLParser
from importlib import resources
from typing import Any
from urllib.parse import urljoin, urlsplit

import jsonschema
import pytest

from hng.http import docs_page
from hng.service import models as api_models
from tests.support.api import FakeContext, api_event, call, json_body

STAGE_URL = "https://a1b2c3d4e5.execute-api.us-east-1.amazonaws.com/dev/"
LAMBDA_RESPONSE_LIMIT = 6 * 1024 * 1024  # bytes of the serialized response
POWERTOOLS_SWAGGER_UI = "aws_lambda_powertools.event_handler.openapi.swagger_ui"


def header(response: dict[str, Any], name: str) -> str | None:
    """A response header, from `headers` or `multiValueHeaders` (Powertools answers in the event's form)."""
    for key, value in (response.get("headers") or {}).items():
        if key.lower() == name.lower():
            return value
    for key, values in (response.get("multiValueHeaders") or {}).items():
        if key.lower() == name.lower():
            return ", ".join(values)
    return None


def stage_event(method: str, path: str) -> dict[str, Any]:
    """A REST proxy event as API Gateway sends it for https://ID.execute-api.../dev{path}."""
    event = api_event(method, path, headers={"Host": urlsplit(STAGE_URL).hostname, "Accept": "text/html"})
    event["requestContext"].update(
        {"stage": "dev", "path": f"/dev{path}", "domainName": urlsplit(STAGE_URL).hostname}
    )
    return event


class _Links(HTMLParser):
    """The URLs a page loads or links (src, href), and any inline script or style it holds."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[tuple[str, str]] = []  # (tag, url)
        self.inline: list[str] = []
        self._open: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        self.urls += [(tag, values[name] or "") for name in ("src", "href") if name in values]
        if "style" in values or any(name.startswith("on") for name in values):
            self.inline.append(f"<{tag}> attributes {sorted(values)}")
        self._open = tag if tag in ("script", "style") else None
        if tag == "style":
            self.inline.append("<style>")

    def handle_data(self, data: str) -> None:
        if self._open == "script" and data.strip():
            self.inline.append(f"inline script {data.strip()[:40]!r}")

    def handle_endtag(self, tag: str) -> None:
        self._open = None


def links(html: str) -> _Links:
    parser = _Links()
    parser.feed(html)
    return parser


def csp_directives(response: dict[str, Any]) -> dict[str, set[str]]:
    policy = header(response, "Content-Security-Policy") or ""
    directives = [part.split() for part in policy.split(";") if part.strip()]
    return {name: set(values) for name, *values in directives}


# --- the page ------------------------------------------------------------------------------------------


def test_docs_page_is_html_with_a_strict_content_security_policy(api):
    response = call(api, "GET", "/docs", headers={"Accept": "text/html"})
    assert response["statusCode"] == 200
    assert header(response, "Content-Type") == "text/html; charset=utf-8"
    assert header(response, "X-Content-Type-Options") == "nosniff"
    assert header(response, "Cache-Control") == "no-cache"  # it names the current asset versions
    csp = csp_directives(response)
    assert csp["default-src"] == {"'none'"}
    for directive in ("script-src", "style-src", "connect-src"):
        assert csp[directive] == {"'self'"}, directive
    assert csp["img-src"] == {"'self'", "data:"}
    assert csp["frame-ancestors"] == {"'none'"} and csp["base-uri"] == {"'none'"}
    # What the policy forbids, the page must not need: no inline script, style or event handler.
    assert links(response["body"]).inline == []


def test_docs_page_links_only_relative_urls_that_the_function_serves(api):
    page = links(call(api, "GET", "/docs")["body"])
    scripts = [url for tag, url in page.urls if tag == "script"]
    styles = [url for tag, url in page.urls if tag == "link" and not url.startswith("data:")]
    assert len(scripts) == 2 and len(styles) == 2  # Swagger UI + init script; Swagger UI's CSS + the page's
    for tag, url in page.urls:
        if url.startswith("data:"):
            assert tag == "link"  # the empty favicon, so the browser asks for no /favicon.ico
            continue
        parts = urlsplit(url)
        assert not parts.scheme and not parts.netloc and not url.startswith("/"), url
        # Relative to /docs: the path the page sits on, with the stage's prefix or without.
        served = call(api, "GET", urlsplit(urljoin("http://127.0.0.1:8000/docs", url)).path)
        assert served["statusCode"] == 200, url


def test_stage_prefixed_page_resolves_every_url_under_the_stage(api):
    # On AWS the browser is at /dev/docs while the handler sees /docs: the URLs must not lose the stage.
    response = api.lambda_handler(stage_event("GET", "/docs"), FakeContext())
    assert response["statusCode"] == 200
    page = links(response["body"])
    urls = [url for _, url in page.urls if not url.startswith("data:")]
    urls.append("openapi.json")  # init.js fetches the page root's openapi.json (data-openapi-url)
    assert 'data-openapi-url="openapi.json"' in response["body"]
    for url in urls:
        absolute = urljoin(STAGE_URL + "docs", url)
        assert absolute.startswith(STAGE_URL), (url, absolute)
        handler_path = "/" + absolute.removeprefix(STAGE_URL)
        served = api.lambda_handler(stage_event("GET", handler_path), FakeContext())
        assert served["statusCode"] == 200, (url, handler_path)


@pytest.mark.parametrize(("path", "location"), [("/docs/", "../docs"), ("/docs//", "../../docs")])
def test_trailing_slash_redirects_to_the_page_relatively(api, path, location):
    response = api.lambda_handler(stage_event("GET", path), FakeContext())
    assert response["statusCode"] == 301
    assert header(response, "Location") == location
    if path == "/docs/":  # (urljoin drops the empty segments of "//", which browsers keep, as RFC 3986 does)
        # Relative, so it lands on the page whatever the stage (or none, with hng serve).
        assert urljoin(f"{STAGE_URL}docs/", location) == STAGE_URL + "docs"
        assert urljoin("http://127.0.0.1:8000/docs/", location) == "http://127.0.0.1:8000/docs"


# --- the assets ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "content_type", "source"),
    [
        ("swagger_js", "text/javascript; charset=utf-8", (POWERTOOLS_SWAGGER_UI, "swagger-ui-bundle.min.js")),
        ("swagger_css", "text/css; charset=utf-8", (POWERTOOLS_SWAGGER_UI, "swagger-ui.min.css")),
        ("init_js", "text/javascript; charset=utf-8", ("hng.http", "docs/init.js")),
        ("page_css", "text/css; charset=utf-8", ("hng.http", "docs/docs.css")),
    ],
)
def test_each_asset_is_served_with_its_type_and_cached_by_its_versioned_name(api, role, content_type, source):
    name = docs_page.asset_names()[role]
    response = call(api, "GET", f"/docs/{name}")
    assert response["statusCode"] == 200
    assert header(response, "Content-Type") == content_type
    assert header(response, "X-Content-Type-Options") == "nosniff"
    assert header(response, "Cache-Control") == "public, max-age=31536000, immutable"
    assert response["isBase64Encoded"] is False  # text: no binary media type needed in API Gateway
    original = resources.files(source[0]).joinpath(source[1]).read_text(encoding="utf-8")
    source_map = "/*# sourceMappingURL=swagger-ui.css.map*/"  # dropped: the map is not served
    assert response["body"].strip() == original.replace(source_map, "").strip()
    # The name changes with the content, which is what makes a year of caching safe.
    stem, extension = source[1].rsplit("/", 1)[-1].rsplit(".", 1)
    assert name.startswith(f"{stem}.") and name.endswith(f".{extension}") and name != source[1]
    # The whole Lambda response (JSON, as the runtime serializes it) fits the 6 MB limit, uncompressed.
    assert len(json.dumps(response).encode()) < LAMBDA_RESPONSE_LIMIT


def test_swagger_ui_renders_openapi_3_1():
    # Swagger UI 4 shows "Unable to render this definition" for the 3.1 documents Powertools writes.
    bundle = docs_page.asset(docs_page.asset_names()["swagger_js"])
    assert bundle is not None
    assert 'PACKAGE_VERSION:"5.' in bundle.body


@pytest.mark.parametrize(
    "name",
    [
        "nope.js",
        "swagger-ui-bundle.min.js",  # the unversioned name
        "swagger-ui-bundle.min.000000000000.js",  # a stale version
        "index.html",  # the page template is not an asset
        "..%2Fapp.py",
    ],
)
def test_unknown_asset_is_a_json_404(api, name):
    response = call(api, "GET", f"/docs/{name}")
    assert response["statusCode"] == 404
    assert header(response, "Content-Type") == "application/json"
    body = json_body(response)
    assert body["statusCode"] == 404 and body["message"] == f"nothing at /docs/{name}"


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH"])
@pytest.mark.parametrize("path", ["/docs", "/docs/", "/docs/ASSET"])
def test_other_methods_on_docs_are_405(api, method, path):
    path = path.replace("ASSET", docs_page.asset_names()["init_js"])
    response = call(api, method, path, body="{}")
    assert response["statusCode"] == 405
    assert header(response, "Allow") == "GET"
    assert json_body(response)["message"] == f"{method} is not allowed on {path}"


# --- the OpenAPI document ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    from hng.handlers import api as app

    return json.loads(app.openapi_document())


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(path, method, op) for path, ops in document["paths"].items() for method, op in ops.items()]


def test_docs_routes_stay_out_of_the_document(document):
    assert not any(path.startswith("/docs") for path in document["paths"])
    assert {(path, method) for path, method, _ in operations(document)} >= {
        ("/health", "get"),
        ("/generate", "post"),
        ("/generate/{task_id}", "get"),
        ("/datasets", "post"),
        ("/datasets/{dataset_id}", "get"),
        ("/datasets/{dataset_id}", "post"),
        ("/datasets/{dataset_id}", "delete"),
    }


def _schema_validator(document: dict[str, Any], ref: str) -> jsonschema.Draft202012Validator:
    # The reference resolves within a root that holds the document's components.
    return jsonschema.Draft202012Validator({"$ref": ref, "components": document["components"]})


def check_example(document: dict[str, Any], name: str, example: dict[str, Any]) -> None:
    model = getattr(api_models, name)
    model.model_validate(example)  # raises, naming the field, when the example breaks the model
    # The models ignore unknown fields: a field the model no longer has would pass unnoticed.
    known = {info.alias or key for key, info in model.model_fields.items()}
    assert set(example) <= known, f"{name}'s example has fields the model lacks: {set(example) - known}"
    _schema_validator(document, f"#/components/schemas/{name}").validate(example)  # as clients read it


def test_every_operation_documents_its_success_model_with_an_example(document):
    for path, method, operation in operations(document):
        where = f"{method.upper()} {path}"
        success = {status: r for status, r in operation["responses"].items() if status.startswith("2")}
        assert len(success) == 1, f"{where}: one success answer, got {sorted(success)}"
        ((status, response),) = success.items()
        content = response["content"]["application/json"]
        ref = content["schema"].get("$ref", "")
        assert ref.startswith("#/components/schemas/"), f"{where}: {status} has no model"
        examples = [example["value"] for example in content.get("examples", {}).values()]
        assert examples, f"{where}: {status} has no example"
        for example in examples:
            check_example(document, ref.rsplit("/", 1)[1], example)


def test_every_success_model_schema_carries_a_valid_example(document):
    # In the schema too: Swagger UI's "Schemas" section and clients that read only components show it.
    referenced = {
        response["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
        for _, _, operation in operations(document)
        for status, response in operation["responses"].items()
        if status.startswith("2")
    }
    assert referenced >= {"HealthResponse", "GenerateResponse", "TaskResponse", "DatasetStatus"}
    for name in referenced:
        examples = document["components"]["schemas"][name].get("examples")
        assert examples, f"{name} has no example"
        for example in examples:
            check_example(document, name, example)


def test_get_task_documents_task_response(document):
    # Before, GET /generate/{taskId} listed only its 404 and TaskResponse appeared in no answer.
    responses = document["paths"]["/generate/{task_id}"]["get"]["responses"]
    assert responses["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/TaskResponse"
    }
    assert "404" in responses


def test_delete_dataset_answers_its_documented_model(api, monkeypatch):
    class Jobs:
        def stop(self, dataset_id: str) -> dict[str, str]:
            return {"datasetId": dataset_id, "status": "ABORTED"}

    monkeypatch.setattr(api, "datasets", Jobs())
    dataset_id = api_models.DATASET_STOPPED_EXAMPLE["datasetId"]
    response = call(api, "DELETE", f"/datasets/{dataset_id}")
    assert response["statusCode"] == 202
    assert api_models.DatasetStopped.model_validate(json_body(response)).status == "ABORTED"
