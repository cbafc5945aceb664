"""Task ids: unique, URL-safe, and sorting by creation time (ULID layout)."""

from __future__ import annotations

import secrets
import time

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_task_id(now_ms: int | None = None) -> str:
    """26 characters of Crockford base32: 48 bits of milliseconds since the epoch, then 80 random bits."""
    ms = time.time_ns() // 1_000_000 if now_ms is None else now_ms
    value = (ms << 80) | secrets.randbits(80)
    return "".join(_CROCKFORD[(value >> shift) & 31] for shift in range(125, -1, -5))


def is_task_id(text: str) -> bool:
    """Whether `text` has the form of a task id (26 Crockford base32 characters)."""
    return len(text) == 26 and all(c in _CROCKFORD for c in text)


def task_id_time_ms(task_id: str) -> int:
    """The creation time, in milliseconds since the epoch, encoded in a task id."""
    if not is_task_id(task_id):
        raise ValueError(f"task id must be 26 Crockford base32 characters, got {task_id!r}")
    value = 0
    for c in task_id:
        value = (value << 5) | _CROCKFORD.index(c)
    return value >> 80
