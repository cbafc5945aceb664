"""The request queue function's entry point (template.yaml, the image's Command): the handler is in hng."""

from hng.handlers.queue import lambda_handler

__all__ = ["lambda_handler"]
