"""The handlers' Powertools Logger and Tracer, and the library's standard loggers joined to them."""

from __future__ import annotations

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers

from hng.settings import Settings


def logger_and_tracer(settings: Settings) -> tuple[Logger, Tracer]:
    """A Logger and a Tracer for the service, with the library's ``hng.*`` loggers writing through the
    Logger's JSON handler: under the service name "hng" they are its children already; under another,
    the ``hng`` logger gets its handler and level (and stops propagating to the runtime's root logger)."""
    logger = Logger(service=settings.service_name)
    copy_config_to_registered_loggers(source_logger=logger, include={"hng"})
    return logger, Tracer(service=settings.service_name)
