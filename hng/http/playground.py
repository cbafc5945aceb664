"""The browser playground (`GET /`): one self-contained HTML page (inline CSS and JS, no CDN) and its headers.

The page's inline script and style are admitted by their sha256 in a strict Content-Security-Policy, so
nothing else can run or style the page; it calls the API with relative URLs (same origin), and shows the
images from their presigned URLs, so `img-src` admits the storage's origin as well.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from importlib import resources

from hng.core.encoding import DEFAULT_JPEG_QUALITY
from hng.core.params import DEFAULT_SPACING_RANGE
from hng.document.options import (
    BACKGROUNDS_PREFIX,
    DEFAULT_HEIGHT,
    MAX_ELASTIC,
    MAX_HEIGHT,
    MAX_PERSPECTIVE,
    MAX_ROTATE,
    MAX_SHEAR,
    MIN_HEIGHT,
)

PAGE_FILE = "playground.html"
API_KEY_PLACEHOLDER = "{{API_KEY}}"
HTML_CONTENT_TYPE = "text/html; charset=utf-8"
# The page is small and names the current storage origin in its CSP: browsers revalidate it every time.
CACHE_CONTROL = "no-cache"
_INLINE = {
    "script": re.compile(r"<script>(.*?)</script>", re.S),
    "style": re.compile(r"<style>(.*?)</style>", re.S),
}
_ORIGIN = re.compile(r"^https?://[A-Za-z0-9.\-\[\]:]+$")
# The "verify labels" checkbox: what its label's title and hint say, and whether it is disabled.
_VERIFY_ON = ("Read every digit back and redraw those not read as their label", "redraws misread digits", "")
_VERIFY_OFF = (
    "POST /generate does not take verifyLabels yet",
    "not offered by this API yet",
    " disabled",
)


@dataclass(frozen=True)
class Page:
    html: str
    headers: dict[str, str]


@cache
def _template() -> tuple[str, str, str]:
    """The page's text and the CSP sources of its one inline script and one inline style."""
    text = resources.files("hng.http").joinpath(PAGE_FILE).read_text(encoding="utf-8")
    sources = []
    for kind, pattern in _INLINE.items():
        blocks = pattern.findall(text)
        if len(blocks) != 1:
            raise RuntimeError(f"{PAGE_FILE} must hold exactly one inline <{kind}>, found {len(blocks)}")
        digest = base64.b64encode(hashlib.sha256(blocks[0].encode()).digest()).decode()
        sources.append(f"'sha256-{digest}'")
    return text, sources[0], sources[1]


def content_security_policy(image_origins: Iterable[str] = ()) -> str:
    """Scripts and styles: only the page's own (by hash); connections: this API; images: this API and the
    storage that serves the presigned image URLs."""
    origins = []
    for origin in image_origins:
        if not _ORIGIN.match(origin):
            raise ValueError(f"image origin must be scheme://host[:port], got {origin!r}")
        origins.append(origin)
    _, script, style = _template()
    return "; ".join(
        (
            "default-src 'none'",
            f"script-src {script}",
            f"style-src {style}",
            " ".join(("img-src 'self' data:", *origins)),
            "connect-src 'self'",
            "base-uri 'none'",
            "form-action 'none'",
            "frame-ancestors 'none'",
        )
    )


def playground_page(*, image_origins: Iterable[str] = (), api_key_required: bool = False) -> Page:
    """The page and its response headers; `api_key_required` shows the API key field from the start."""
    text, _, _ = _template()
    html = text.replace(API_KEY_PLACEHOLDER, "required" if api_key_required else "optional")
    for placeholder, value in _values(verify_labels_offered()).items():
        html = html.replace("{{" + placeholder + "}}", value)
    headers = {
        "Content-Type": HTML_CONTENT_TYPE,
        "Content-Security-Policy": content_security_policy(image_origins),
        "Cache-Control": CACHE_CONTROL,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
    }
    return Page(html=html, headers=headers)


@cache
def _values(verify_labels: bool) -> dict[str, str]:
    """The form's defaults and limits as the API has them (none is inside the hashed script), and the
    "verify labels" checkbox offered or disabled."""
    title, hint, disabled = _VERIFY_ON if verify_labels else _VERIFY_OFF
    low, high = DEFAULT_SPACING_RANGE
    return {
        "SPACING_MIN": str(low),
        "SPACING_MAX": str(high),
        "HEIGHT": str(DEFAULT_HEIGHT),
        "HEIGHT_MIN": str(MIN_HEIGHT),
        "HEIGHT_MAX": str(MAX_HEIGHT),
        "ROTATE_MAX": f"{MAX_ROTATE:g}",
        "SHEAR_MAX": f"{MAX_SHEAR:g}",
        "PERSPECTIVE_MAX": f"{MAX_PERSPECTIVE:g}",
        "ELASTIC_MAX": f"{MAX_ELASTIC:g}",
        "JPEG_QUALITY": "{} to {}".format(*DEFAULT_JPEG_QUALITY),
        "BACKGROUNDS": BACKGROUNDS_PREFIX,
        "VERIFY_TITLE": title,
        "VERIFY_HINT": hint,
        "VERIFY_DISABLED": disabled,
    }


def verify_labels_offered() -> bool:
    """Whether POST /generate takes ``verifyLabels``: the page offers the checkbox only then."""
    from hng.service.models import GenerateRequest

    return "verify_labels" in GenerateRequest.model_fields
