"""ServeError: why the local API could not start, raised by the server and the handler loader alike."""

from __future__ import annotations

from hng.errors import Unavailable


class ServeError(Unavailable):
    """The local API could not start (port in use, bad address, handler not importable): one-line message."""

    def __init__(self, message: str) -> None:
        super().__init__(message, retryable=False)
