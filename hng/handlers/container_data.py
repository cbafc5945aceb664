"""The data of the dataset functions: loaded once per container, and checked against each dataset's plan.

The API writes a dataset's plan with the sha256 of the MNIST file it loaded; the shard workers and the
finalizer run in other containers (the same image, the same `HNG_MNIST_S3_URI` from the template), and a
shard made from other data would silently differ from what the plan promises, so each checks its data
against the plan before working on a dataset. A data source that cannot be loaded does not fail the
container's start (the finalizer must still record a failure): the invocations that need the data retry
the load and fail with its reason, which the state machine records in failure.json.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hng.datasets.engine import mnist_sha256
from hng.datasets.output import S3Output
from hng.datasets.plan import PLAN_FILE, Plan
from hng.errors import Unavailable
from hng.mnist.load import MnistData, RetryingLoader, load_mnist


class MnistUnavailable(Unavailable):
    """The function's MNIST data could not be loaded (the source and the rule it breaks)."""


class MnistMismatch(Unavailable):
    """The dataset was planned with other MNIST data than this function loaded: no retry can fix that."""

    def __init__(self, message: str) -> None:
        super().__init__(message, retryable=False)


class ContainerData:
    """The MNIST data of one container: loaded at once, retried by `get` while it is missing."""

    def __init__(self, loader: Callable[[], MnistData] = load_mnist) -> None:
        self._mnist = RetryingLoader(loader)  # every invocation that needs the data retries a failed load
        self._checked: set[tuple[str, str]] = set()

    @property
    def data(self) -> MnistData | None:
        return self._mnist.data

    @property
    def error(self) -> str | None:
        return self._mnist.error

    def get(self) -> MnistData:
        """The data; MnistUnavailable with the reason if it still cannot be loaded."""
        data = self._mnist.available()
        if data is None:
            raise MnistUnavailable(f"the MNIST data is not available: {self._mnist.error}")
        return data

    def check_plan(self, event: dict[str, Any], client: Any = None) -> MnistData:
        """The data, after checking that the dataset at the event's bucket and prefix was planned with it
        (once per container and dataset). Events without a usable bucket, prefix or plan are left to the
        task, which names what is wrong."""
        data = self.get()
        bucket, prefix = event.get("bucket"), event.get("prefix")
        if not (isinstance(bucket, str) and bucket and isinstance(prefix, str) and prefix):
            return data
        key = (bucket, prefix.rstrip("/"))
        if key in self._checked:
            return data
        output = S3Output(bucket, key[1], client=client)
        text = output.read_text(PLAN_FILE)
        if text is None:
            return data
        planned = Plan.loads(text, output.url).mnist_sha256
        loaded = mnist_sha256(data)
        if planned != loaded:
            raise MnistMismatch(
                f"{output.url} was planned with the MNIST file sha256 {planned} but this function loaded "
                f"{loaded} from {data.source}: every function of the stack must read the same data "
                "(one MnistS3Uri for all; an object replaced under the same key while a dataset runs "
                "also causes this: publish a new version under a new key)"
            )
        self._checked.add(key)
        return data
