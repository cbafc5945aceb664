"""hng.mnist.load.RetryingLoader: the one loader the API service and the dataset functions share."""

from __future__ import annotations

import logging

from hng.mnist.load import RetryingLoader


class Flaky:
    """Fails with the given errors, then returns the data."""

    def __init__(self, data, *errors: Exception) -> None:
        self.data, self.errors, self.calls = data, list(errors), 0

    def __call__(self):
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return self.data


def test_a_failed_load_keeps_the_reason_and_is_retried_on_every_call_without_an_interval(sample_data, caplog):
    loader = Flaky(sample_data, FileNotFoundError("no object at s3://b/k"))
    with caplog.at_level(logging.INFO, logger="hng"):
        mnist = RetryingLoader(loader)  # loads at once; does not raise
        assert mnist.data is None and mnist.error == "no object at s3://b/k"
        assert mnist.available() is sample_data and mnist.error is None
    assert loader.calls == 2
    assert [r.getMessage() for r in caplog.records] == ["MNIST data not loaded", "MNIST data loaded"]
    assert mnist.available() is sample_data and loader.calls == 2  # loaded once, kept


def test_an_interval_holds_retries_back_until_it_has_passed(sample_data):
    loader = Flaky(sample_data, ValueError("y_test: every digit 0-9 must have a sample"))
    mnist = RetryingLoader(loader, retry_after=3600)
    assert mnist.available() is None and mnist.available() is None and loader.calls == 1
    mnist.retry_now()
    assert mnist.available() is sample_data and loader.calls == 2


def test_given_data_or_no_loader_never_loads(sample_data):
    assert RetryingLoader(None).available() is None
    assert RetryingLoader(Flaky(None, OSError("x")), data=sample_data).available() is sample_data
