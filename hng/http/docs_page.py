"""GET /docs: Swagger UI over the served OpenAPI document, every file of it served by the function itself.

Swagger UI 5 (the first to render OpenAPI 3.1, the version Powertools writes) ships inside
aws-lambda-powertools (`event_handler/openapi/swagger_ui/`), already a runtime dependency: no CDN, no
extra package, so the page works offline (`hng serve`) and on a stage without internet egress for the
browser beyond the API. Powertools' own `enable_swagger` inlines that bundle and its init script into the
page, which a Content-Security-Policy without inline scripts forbids; here the page links its files:

    /docs                   the HTML page (never cached: it names the current files)
    /docs/NAME.HASH.EXT     Swagger UI's bundle and stylesheet, this page's init script and stylesheet,
                            named by a digest of their content, hence cacheable for a year

Every URL in the page is relative (`docs/...`, `openapi.json`), so it works under API Gateway's stage
prefix (`https://ID.execute-api.REGION.amazonaws.com/STAGE/docs`) and on any host `hng serve` listens on.
The assets are text (JS and CSS: no binary media type in API Gateway) and the largest, Swagger UI's
bundle, is 1.5 MB, well under Lambda's 6 MB response limit, so they go uncompressed.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass, field
from http import HTTPStatus
from importlib import resources
from string import Template

SWAGGER_UI_PACKAGE = "aws_lambda_powertools.event_handler.openapi.swagger_ui"
PAGE_PACKAGE, PAGE_FOLDER = "hng.http", "docs"  # hng/http/docs/: the page's template, init script, stylesheet

JAVASCRIPT = "text/javascript; charset=utf-8"
CSS = "text/css; charset=utf-8"
HTML = "text/html; charset=utf-8"

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "connect-src 'self'",  # openapi.json and "Try it out"
        "img-src 'self' data:",  # Swagger UI's icons are data: URLs in its stylesheet
        "font-src 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "form-action 'none'",
    )
)
PAGE_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-cache",
    "Referrer-Policy": "no-referrer",
}
ASSET_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    # The name carries a digest of the content: a changed file is a new URL.
    "Cache-Control": "public, max-age=31536000, immutable",
}


@dataclass(frozen=True)
class WebAnswer:
    """What a route answers: status, Content-Type, body and further headers."""

    status: int
    content_type: str
    body: str
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class _Source:
    key: str  # the name in the page template
    package: str
    path: str
    content_type: str


_SOURCES = (
    _Source("swagger_js", SWAGGER_UI_PACKAGE, "swagger-ui-bundle.min.js", JAVASCRIPT),
    _Source("swagger_css", SWAGGER_UI_PACKAGE, "swagger-ui.min.css", CSS),
    _Source("init_js", PAGE_PACKAGE, f"{PAGE_FOLDER}/init.js", JAVASCRIPT),
    _Source("page_css", PAGE_PACKAGE, f"{PAGE_FOLDER}/docs.css", CSS),
)


@dataclass(frozen=True)
class Asset:
    name: str  # e.g. swagger-ui-bundle.min.3f0c2a9b1d4e.js
    content_type: str
    body: str


def _read(package: str, path: str) -> str:
    return resources.files(package).joinpath(path).read_text(encoding="utf-8")


def _versioned_name(path: str, body: str) -> str:
    stem, _, extension = path.rpartition("/")[2].rpartition(".")
    digest = hashlib.sha256(body.encode("utf-8")).hexdigest()[:12]
    return f"{stem}.{digest}.{extension}"


@functools.cache
def _assets() -> dict[str, tuple[str, Asset]]:
    """Template key -> (name, asset), read once per process (on the first request for the docs)."""
    out = {}
    for source in _SOURCES:
        body = _read(source.package, source.path)
        # A source map link would make browser devtools ask for a file that is not served.
        body = body.replace("/*# sourceMappingURL=swagger-ui.css.map*/", "")
        name = _versioned_name(source.path, body)
        out[source.key] = (name, Asset(name, source.content_type, body))
    return out


def asset_names() -> dict[str, str]:
    """The asset names the page links, by role: swagger_js, swagger_css, init_js, page_css."""
    return {key: name for key, (name, _) in _assets().items()}


def asset(name: str) -> WebAnswer | None:
    """GET /docs/NAME: the asset, or None when no asset has that name (the route answers 404)."""
    found = next((a for _, a in _assets().values() if a.name == name), None)
    if found is None:
        return None
    return WebAnswer(HTTPStatus.OK, found.content_type, found.body, dict(ASSET_HEADERS))


@functools.cache
def _page() -> str:
    return Template(_read(PAGE_PACKAGE, f"{PAGE_FOLDER}/index.html")).substitute(asset_names())


def page(request_path: str) -> WebAnswer:
    """GET /docs: the HTML page; with trailing slashes, a redirect to the page (its relative URLs need
    the page's own URL to end in `/docs`)."""
    slashes = len(request_path) - len(request_path.rstrip("/"))
    if slashes:
        location = "../" * slashes + "docs"  # /STAGE/docs/ -> /STAGE/docs, whatever the stage
        return WebAnswer(HTTPStatus.MOVED_PERMANENTLY, HTML, "", {"Location": location, **PAGE_HEADERS})
    return WebAnswer(HTTPStatus.OK, HTML, _page(), dict(PAGE_HEADERS))
