"""hng.settings: the test-only pause of the dataset engine (HNG_TEST_PAUSE_AFTER_SHARDS)."""

from __future__ import annotations

from pathlib import Path

import pytest

from hng.settings import InvalidSetting, pause_after_shards_for_tests


def test_the_pause_is_off_unless_set():
    assert pause_after_shards_for_tests({}) is None
    assert pause_after_shards_for_tests({"HNG_TEST_PAUSE_AFTER_SHARDS": ""}) is None


def test_the_pause_reads_a_count_and_a_path():
    assert pause_after_shards_for_tests({"HNG_TEST_PAUSE_AFTER_SHARDS": "3:/tmp/x:y"}) == (
        3,
        Path("/tmp/x:y"),
    )


@pytest.mark.parametrize("raw", ["3", "0:/tmp/x", "-1:/tmp/x", "x:/tmp/x", "3:"])
def test_a_bad_pause_names_the_variable(raw):
    with pytest.raises(InvalidSetting, match="HNG_TEST_PAUSE_AFTER_SHARDS must be N:PATH"):
        pause_after_shards_for_tests({"HNG_TEST_PAUSE_AFTER_SHARDS": raw})
