"""ServeError: why the local API could not start, raised by the server and the handler loader alike."""

from __future__ import annotations


class ServeError(Exception):
    """The local API could not start (port in use, bad address, handler not importable): one-line message."""
