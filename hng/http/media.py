"""Media types (RFC 9110 §8.3.1) and content negotiation with q-values (RFC 9110 §12.5.1).

Type and subtype are case-insensitive tokens; parameters follow ``;``. ``negotiate`` picks, for each
offered type, the q-value of the most specific range that matches it (``type/subtype`` over ``type/*``
over ``*/*``), refuses q=0, and breaks ties by the order the client listed its ranges.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

# Security (B105): RFC 9110's token characters, not a password.
_TOKEN = r"[!#$%&'*+.^_`|~0-9A-Za-z-]+"  # nosec B105
_MEDIA_TYPE = re.compile(rf"^\s*({_TOKEN})/({_TOKEN})\s*$")
_QVALUE = re.compile(r"^(0(\.\d{0,3})?|1(\.0{0,3})?)$")


def parse_media_type(value: str | None) -> tuple[str, dict[str, str]] | None:
    """``"Application/JSON; charset=UTF-8"`` → ``("application/json", {"charset": "UTF-8"})``.

    None for a missing or malformed value. Parameter names are lower-cased, values unquoted.
    """
    if not value or not isinstance(value, str):
        return None
    kind, *raw_params = value.split(";")
    match = _MEDIA_TYPE.match(kind)
    if match is None:
        return None
    params: dict[str, str] = {}
    for raw in raw_params:
        name, sep, param_value = raw.partition("=")
        name = name.strip().lower()
        if not name:
            continue
        if not sep:
            return None
        params[name] = param_value.strip().strip('"')
    return f"{match[1]}/{match[2]}".lower(), params


def is_json_media_type(media_type: str) -> bool:
    """application/json, or a structured-syntax ``+json`` type such as application/merge-patch+json."""
    top, _, sub = media_type.partition("/")
    return top == "application" and (sub == "json" or sub.endswith("+json"))


def _accept_ranges(accept: str) -> list[tuple[str, str, float]]:
    ranges = []
    for element in accept.split(","):
        parsed = parse_media_type(element)
        if parsed is None:
            if element.strip() == "*":  # some old clients send a bare "*"
                ranges.append(("*", "*", 1.0))
            continue
        (kind, params) = parsed
        raw_q = params.get("q", "1")
        if not _QVALUE.match(raw_q):
            continue  # a malformed element is ignored, not the whole header
        top, _, sub = kind.partition("/")
        ranges.append((top, sub, float(raw_q)))
    return ranges


def negotiate(accept: str | None, offers: Sequence[str]) -> str | None:
    """The offer the client prefers, or None when it accepts none of them.

    A missing or empty Accept accepts anything: the first offer (the server's default) wins.
    """
    if not offers:
        return None
    if accept is None or not accept.strip():
        return offers[0]
    ranges = _accept_ranges(accept)
    if not ranges:
        return offers[0]
    best: tuple[float, int, int] | None = None
    chosen = None
    for offer_index, offer in enumerate(offers):
        top, _, sub = offer.lower().partition("/")
        match: tuple[int, float, int] | None = None  # (specificity, q, position in the header)
        for position, (range_top, range_sub, q) in enumerate(ranges):
            if range_top == top and range_sub == sub:
                specificity = 2
            elif range_top == top and range_sub == "*":
                specificity = 1
            elif range_top == "*" and range_sub == "*":
                specificity = 0
            else:
                continue
            if match is None or specificity > match[0]:
                match = (specificity, q, position)
        if match is None or match[1] <= 0:
            continue
        rank = (match[1], -match[2], -offer_index)
        if best is None or rank > best:
            best, chosen = rank, offer
    return chosen
