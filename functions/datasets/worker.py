"""The shard worker function's entry point (template.yaml): the handler lives in the package."""

from hng.handlers.dataset_worker import lambda_handler

__all__ = ["lambda_handler"]
