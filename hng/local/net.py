"""Addresses: which host clients use to reach the local API and its embedded S3.

A server bound to a wildcard address (``0.0.0.0``, ``::``) has no address of its own to print or to sign
presigned URLs for; `advertised_host` picks the machine's primary address for it. `parse_public_url`
checks ``--public-url``.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

# Security (B104): names the IPv4 wildcard to recognise it; binds nothing.
_ALL_IPV4 = "0.0.0.0"  # nosec B104
WILDCARD_HOSTS = frozenset({"", _ALL_IPV4, "::"})
# Documentation-only addresses (RFC 5737, RFC 3849): connecting a UDP socket to one sends nothing, it only
# asks the routing table which local address would be used.
_PROBE = {socket.AF_INET: "192.0.2.1", socket.AF_INET6: "2001:db8::1"}


def primary_address(family: socket.AddressFamily = socket.AF_INET) -> str | None:
    """The machine's address on its default route (no packet is sent), None without a non-loopback one."""
    try:
        with socket.socket(family, socket.SOCK_DGRAM) as probe:
            probe.connect((_PROBE[family], 9))
            address = probe.getsockname()[0]
    except (OSError, KeyError):
        return None
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return None
    return None if parsed.is_loopback or parsed.is_unspecified else address


def advertised_host(host: str) -> str:
    """The host clients should use for a server bound to `host`: itself, unless it is a wildcard address
    (then the primary non-loopback address of that family, else loopback)."""
    if host not in WILDCARD_HOSTS:
        return host
    if host == "::":
        return primary_address(socket.AF_INET6) or "::1"
    return primary_address(socket.AF_INET) or "127.0.0.1"


def url_host(host: str) -> str:
    """`host` as it goes in a URL (IPv6 addresses in brackets)."""
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def parse_public_url(text: str) -> tuple[str, str, int | None]:
    """(scheme, host, port or None) of a ``--public-url`` such as ``http://192.168.1.5:3000``.

    Raises ValueError naming the option and the rule: http or https, a host, no path, query or user info.
    """
    try:
        split = urlsplit(text.strip())
        port = split.port
    except ValueError as exc:
        raise ValueError(f"--public-url {text!r} is not a URL: {exc}") from None
    if split.scheme not in ("http", "https") or not split.hostname:
        raise ValueError(
            f"--public-url must be http://HOST[:PORT] or https://HOST[:PORT] (e.g. http://192.168.1.5:3000), "
            f"got {text!r}"
        )
    if split.path not in ("", "/") or split.query or split.fragment or split.username or split.password:
        raise ValueError(f"--public-url must have no path, query or user info, got {text!r}")
    return split.scheme, split.hostname, port
