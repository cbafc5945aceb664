"""hng's environment variables: read in this one module, each validated with an error naming it.

`load_settings()` reads them all (cheaply: call it where a setting is needed, so a test or ``hng serve``
that changes the environment is seen). The Lambda handlers read them once, at container start.

| variable | setting | default |
| --- | --- | --- |
| HNG_BUCKET | ``bucket``: where images and datasets are stored | none (no storage) |
| HNG_URL_EXPIRES | ``url_expiry``: presigned URLs' lifetime, seconds (1 to 604800) | 3600 |
| HNG_MAX_DATASET_IMAGES | ``max_dataset_images``: the largest dataset a request may ask for | 10,000,000 |
| HNG_DATASET_STATE_MACHINE_ARN | ``dataset_state_machine_arn``: dataset jobs on Step Functions | none |
| HNG_DATASET_ENGINE | ``dataset_engine``: ``local`` runs dataset jobs in a child process | none |
| HNG_API_KEY_REQUIRED | ``api_key_required``: the playground asks for an API key | false |
| HNG_TOLERATED_FAILURE_PERCENTAGE | ``tolerated_failure_percentage``: shards a job may lose (0-100) | 0 |
| HNG_DEAD_LETTER_QUEUE_URL | ``dead_letter_queue_url``: where refused queue messages go, with why | none |
| HNG_EVENT_BUS | ``event_bus``: the EventBridge bus of hng.service.events | none (no events) |
| HNG_IDEMPOTENCY_TABLE | ``idempotency_table``: DynamoDB table of Idempotency-Key answers | none (refused) |
| HNG_MNIST_PATH | ``mnist_path``: the MNIST npz to load | found (hng.mnist.locate) |
| HNG_MNIST_S3_URI | ``mnist_s3_uri``: s3://bucket/key of the digit set to load | none |
| HNG_CACHE_DIR | ``cache_dir``: hng's cache (the digit reader) | $XDG_CACHE_HOME/hng or ~/.cache/hng |
| POWERTOOLS_SERVICE_NAME | ``service_name``: the handlers' log and metric service | hng |
| POWERTOOLS_METRICS_NAMESPACE | ``metrics_namespace``: the handlers' CloudWatch namespace | hng |
| HNG_TEST_PAUSE_AFTER_SHARDS | test-only (`pause_after_shards_for_tests`): ``N:PATH``, see below | none |

HNG_TEST_PAUSE_AFTER_SHARDS is for the tests alone (not a `Settings` field): a run of the local dataset
engine (``hng dataset``) makes the first N of its pending shards, then writes the file PATH and makes
nothing more while it exists (or until Ctrl-C), so a test can interrupt a run at a known point instead of
racing it.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from hng.errors import InvalidInput

DEFAULT_URL_EXPIRY = 3600
MAX_URL_EXPIRY = 7 * 24 * 3600  # SigV4's limit
DEFAULT_MAX_DATASET_IMAGES = 10_000_000
DATASET_ENGINES = ("local",)
TRUE_WORDS = ("true", "1", "yes")
FALSE_WORDS = ("false", "0", "no", "")


class InvalidSetting(InvalidInput):
    """An environment variable breaks its rule; ``field`` is the variable's name."""


@dataclass(frozen=True)
class Settings:
    bucket: str | None = None
    url_expiry: int = DEFAULT_URL_EXPIRY
    max_dataset_images: int = DEFAULT_MAX_DATASET_IMAGES
    dataset_state_machine_arn: str | None = None
    dataset_engine: str | None = None
    api_key_required: bool = False
    tolerated_failure_percentage: float = 0.0
    idempotency_table: str | None = None
    event_bus: str | None = None
    dead_letter_queue_url: str | None = None
    mnist_path: str | None = None
    mnist_s3_uri: str | None = None
    cache_dir: Path = Path.home() / ".cache" / "hng"
    service_name: str = "hng"
    metrics_namespace: str = "hng"


def _text(environ: Mapping[str, str], name: str) -> str | None:
    return environ.get(name) or None


def _whole(
    environ: Mapping[str, str], name: str, default: int, what: str, low: int, high: int, unit: str = ""
) -> int:
    raw = environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise InvalidSetting(name, f"{name} must be a whole number{what}, got {raw!r}") from None
    if not low <= value <= high:
        raise InvalidSetting(name, f"{name} must be between {low} and {high}{unit}, got {value}")
    return value


def _flag(environ: Mapping[str, str], name: str) -> bool:
    raw = environ.get(name, "").strip().lower()
    if raw in TRUE_WORDS:
        return True
    if raw in FALSE_WORDS:
        return False
    raise InvalidSetting(name, f"{name} must be true or false, got {environ[name]!r}")


def _percentage(environ: Mapping[str, str], name: str) -> float:
    raw = environ.get(name)
    if raw is None or raw == "":
        return 0.0
    try:
        value = float(raw)
    except ValueError:
        raise InvalidSetting(name, f"{name} must be a percentage (0 to 100), got {raw!r}") from None
    if not (math.isfinite(value) and 0 <= value <= 100):
        raise InvalidSetting(name, f"{name} must be a percentage (0 to 100), got {raw!r}")
    return value


def default_cache_dir(environ: Mapping[str, str]) -> Path:
    if environ.get("HNG_CACHE_DIR"):
        return Path(environ["HNG_CACHE_DIR"])
    return Path(environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "hng"


def pause_after_shards_for_tests(environ: Mapping[str, str] | None = None) -> tuple[int, Path] | None:
    """Test-only: HNG_TEST_PAUSE_AFTER_SHARDS=``N:PATH`` as (N, PATH); None when unset (production)."""
    raw = (os.environ if environ is None else environ).get("HNG_TEST_PAUSE_AFTER_SHARDS")
    if not raw:
        return None
    count, sep, path = raw.partition(":")
    if not (sep and count.isdigit() and int(count) >= 1 and path):
        raise InvalidSetting(
            "HNG_TEST_PAUSE_AFTER_SHARDS", f"HNG_TEST_PAUSE_AFTER_SHARDS must be N:PATH (N >= 1), got {raw!r}"
        )
    return int(count), Path(path)


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Every setting from ``environ`` (the process environment by default); `InvalidSetting` naming the
    first variable that breaks its rule."""
    env = os.environ if environ is None else environ
    engine = _text(env, "HNG_DATASET_ENGINE")
    if engine is not None and engine not in DATASET_ENGINES:
        raise InvalidSetting(
            "HNG_DATASET_ENGINE",
            f"HNG_DATASET_ENGINE must be one of {', '.join(DATASET_ENGINES)}, got {engine!r}",
        )
    return Settings(
        bucket=_text(env, "HNG_BUCKET"),
        url_expiry=_whole(
            env, "HNG_URL_EXPIRES", DEFAULT_URL_EXPIRY, " of seconds", 1, MAX_URL_EXPIRY, " seconds (7 days)"
        ),
        max_dataset_images=_whole(env, "HNG_MAX_DATASET_IMAGES", DEFAULT_MAX_DATASET_IMAGES, "", 1, 10**12),
        dataset_state_machine_arn=_text(env, "HNG_DATASET_STATE_MACHINE_ARN"),
        dataset_engine=engine,
        api_key_required=_flag(env, "HNG_API_KEY_REQUIRED"),
        tolerated_failure_percentage=_percentage(env, "HNG_TOLERATED_FAILURE_PERCENTAGE"),
        idempotency_table=_text(env, "HNG_IDEMPOTENCY_TABLE"),
        event_bus=_text(env, "HNG_EVENT_BUS"),
        dead_letter_queue_url=_text(env, "HNG_DEAD_LETTER_QUEUE_URL"),
        mnist_path=_text(env, "HNG_MNIST_PATH"),
        mnist_s3_uri=_text(env, "HNG_MNIST_S3_URI"),
        cache_dir=default_cache_dir(env),
        service_name=_text(env, "POWERTOOLS_SERVICE_NAME") or "hng",
        metrics_namespace=_text(env, "POWERTOOLS_METRICS_NAMESPACE") or "hng",
    )
