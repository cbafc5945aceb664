"""The errors hng raises on purpose: one base, four kinds, each carrying what a caller needs.

- `InvalidInput` (also a ValueError; `InvalidType` also a TypeError): a value breaks a rule. ``field`` names
  the value as the caller wrote it, ``rule`` says what is wrong; ``problems`` lists every (field, rule) when
  several values are wrong at once.
- `NotFound` (also a LookupError): no ``resource`` called ``name``.
- `Conflict`: the resource exists but its state does not allow the request.
- `Unavailable`: something hng depends on (S3, the MNIST data, an engine, a file system) cannot serve now;
  ``retryable`` says whether trying again may help (a throttled or unreachable service) or not (corrupt
  data, a plan made from other MNIST data, permission denied).

Each entry point maps these in one place: the API to an HTTP status and JSON body (hng.handlers.api), the
CLI to an exit code and one line (hng.cli.main), the dataset functions to a Step Functions error name
(hng.handlers.step_errors). Nothing maps by message text.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


def _rebuild(cls: type[HngError], args: tuple[Any, ...], state: dict[str, Any]) -> HngError:
    error = cls.__new__(cls)
    error.args = args
    error.__dict__.update(state)
    return error


class HngError(Exception):
    """Base of every error hng raises on purpose."""

    def __reduce__(self) -> tuple[Any, ...]:
        # Errors cross process pools pickled; the kinds' constructors take other arguments than ``args``.
        return _rebuild, (type(self), self.args, dict(self.__dict__))


class InvalidInput(HngError, ValueError):
    """A value broke a rule: ``field`` (as the caller named it) and ``rule`` (the message)."""

    def __init__(self, field: str, rule: str, *, problems: Sequence[tuple[str, str]] | None = None) -> None:
        super().__init__(rule)
        self.field = field
        self.rule = rule
        self.problems: list[tuple[str, str]] = list(problems) if problems else [(field, rule)]

    @classmethod
    def many(cls, problems: Sequence[tuple[str, str]]) -> InvalidInput:
        """One error for several broken rules; its message joins them as ``field: rule; ...``."""
        if not problems:
            raise ValueError("InvalidInput.many needs at least one problem")
        first_field = problems[0][0]
        message = "; ".join(f"{field}: {rule}" for field, rule in problems)
        return cls(first_field, message, problems=problems)


class InvalidType(InvalidInput, TypeError):
    """A value of the wrong type (an `InvalidInput` that is also a TypeError)."""


class NotFound(HngError, LookupError):
    """No ``resource`` (a kind, such as "task") called ``name``."""

    def __init__(self, resource: str, name: str, message: str | None = None) -> None:
        super().__init__(message or f"no {resource} {name!r}")
        self.resource = resource
        self.name = name


class Conflict(HngError):
    """The resource's state does not allow the request (restarting a running job, finishing an incomplete
    dataset)."""


class Unavailable(HngError):
    """Something hng depends on cannot serve now; ``retryable``: whether trying again may help."""

    def __init__(self, message: str, *, retryable: bool = True) -> None:
        super().__init__(message)
        self.retryable = retryable


def blamed_field(error: Mapping[str, Any]) -> str | None:
    """The field a pydantic error (one item of ``ValidationError.errors()``) blames: its location, or, for
    a rule across fields (a model validator: no location), the field of the `InvalidInput` it raised."""
    location = [str(part) for part in error.get("loc", ()) if part != "body"]
    if location:
        return ".".join(location)
    cause = (error.get("ctx") or {}).get("error")
    return cause.field if isinstance(cause, InvalidInput) else None


class InvalidData(Unavailable, ValueError):
    """Data hng reads (an MNIST file, a stored plan or record) breaks its format: what it needs is not
    available, and reading it again will not help. Also a ValueError, as the readers always raised."""

    def __init__(self, message: str) -> None:
        super().__init__(message, retryable=False)
