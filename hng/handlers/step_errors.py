"""hng's errors as Step Functions error names: the one place the dataset functions map them.

Lambda reports an unhandled exception by its class name (``errorType``), and Step Functions matches a
state's ``Retry`` and ``Catch`` on that name. The dataset state machine (statemachines/dataset.asl.json)
retries `HngUnavailable` (something may come back: S3, the data) besides Lambda's own service errors, and
fails at once on the others, whose cause (the message) the finalizer records in failure.json.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from hng.errors import Conflict, HngError, InvalidInput, NotFound, Unavailable

RETRYABLE = "HngUnavailable"


class StepError(Exception):
    """An hng error on its way out of a Step Functions task; the class name is the state's error name."""


class HngInvalidInput(StepError):
    """The event or the dataset's stored spec breaks a rule: no retry can help."""


class HngNotFound(StepError):
    """The dataset, its plan or a shard record does not exist."""


class HngConflict(StepError):
    """The dataset's state does not allow the task (finalizing with shards missing)."""


class HngUnavailable(StepError):
    """S3 or the data is unavailable for now: retried by the state machine."""


class HngPermanentlyUnavailable(StepError):
    """What the task needs is unavailable for good (corrupt data, a plan made from other MNIST data)."""


def step_error(error: HngError) -> StepError:
    """The Step Functions error an hng error leaves a task as (the same message)."""
    kind: type[StepError]
    if isinstance(error, InvalidInput):
        kind = HngInvalidInput
    elif isinstance(error, NotFound):
        kind = HngNotFound
    elif isinstance(error, Conflict):
        kind = HngConflict
    elif isinstance(error, Unavailable):
        kind = HngUnavailable if error.retryable else HngPermanentlyUnavailable
    else:
        kind = HngPermanentlyUnavailable
    return kind(str(error))


@contextmanager
def as_step_errors() -> Iterator[None]:
    """Re-raise hng errors raised inside as their Step Functions errors (the original chained)."""
    try:
        yield
    except HngError as error:
        raise step_error(error) from error
