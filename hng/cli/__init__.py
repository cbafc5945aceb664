"""The ``hng`` command."""

from hng.cli.main import build_parser, main

__all__ = ["build_parser", "main"]
