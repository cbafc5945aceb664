"""hng.errors: every error hng raises on purpose has one base and a kind, and each entry point maps the
kinds in one place (HTTP status, CLI exit code, Step Functions error name). The fault probes that found
errors without a home are tested here, one per class of fault."""

from __future__ import annotations

import errno
import os
import pickle
from pathlib import Path

import numpy as np
import pytest
from numpy._core.multiarray import _reconstruct

import hng.cli
from hng.cli.main import exit_status
from hng.datasets.finalize import IncompleteDataset
from hng.datasets.jobs import DatasetConflict, DatasetNotFound, EngineUnavailable
from hng.datasets.jobs.tasks import finalize_task, records_failure
from hng.datasets.output import LocalOutput, OutputError
from hng.datasets.plan import Plan
from hng.datasets.spec import DatasetSpec, SpecError
from hng.errors import (
    Conflict,
    HngError,
    InvalidData,
    InvalidInput,
    InvalidType,
    NotFound,
    Unavailable,
    blamed_field,
)
from hng.handlers.container_data import MnistMismatch, MnistUnavailable
from hng.handlers.step_errors import (
    HngConflict,
    HngInvalidInput,
    HngNotFound,
    HngPermanentlyUnavailable,
    HngUnavailable,
    as_step_errors,
    step_error,
)
from hng.http import BodyError, InvalidEvent
from hng.local.serve_error import ServeError
from hng.mnist.build import NotCanonicalError
from hng.mnist.locate import MnistSourceUnavailable
from hng.mnist.safe_pickle import restricted_loads
from hng.mnist.sources import SourceUnavailable
from hng.service.image_service import ServiceUnavailable
from hng.service.task_store import CorruptTaskMetadata, StorageError, TaskNotFound

# Every error class hng defines, an instance of it, and its kind.
INSTANCES = [
    (SpecError([("count", "must be >= 1")]), InvalidInput),
    (BodyError(400, "body must be a JSON object"), InvalidInput),
    (InvalidEvent("invalid event: number is required"), InvalidInput),
    (TaskNotFound("01ABC"), NotFound),
    (DatasetNotFound("01ABC"), NotFound),
    (DatasetConflict("still running"), Conflict),
    (IncompleteDataset("2 shards missing", [1, 2]), Conflict),
    (StorageError("S3 timed out"), Unavailable),
    (CorruptTaskMetadata("task x: not JSON"), Unavailable),
    (ServiceUnavailable("no MNIST data"), Unavailable),
    (OutputError("cannot write"), Unavailable),
    (EngineUnavailable("no state machine"), Unavailable),
    (MnistSourceUnavailable("no object"), Unavailable),
    (SourceUnavailable("PyPI unreachable"), Unavailable),
    (NotCanonicalError("edited labels"), Unavailable),
    (MnistUnavailable("cannot load"), Unavailable),
    (MnistMismatch("other data"), Unavailable),
    (ServeError("port in use"), Unavailable),
    (InvalidData("truncated"), Unavailable),
]


@pytest.mark.parametrize(("error", "kind"), INSTANCES, ids=lambda v: type(v).__name__)
def test_every_error_is_an_hng_error_of_one_kind(error, kind):
    assert isinstance(error, HngError) and isinstance(error, kind)
    kinds = [k for k in (InvalidInput, NotFound, Conflict, Unavailable) if isinstance(error, k)]
    assert kinds == [kind]


@pytest.mark.parametrize(("error", "kind"), INSTANCES, ids=lambda v: type(v).__name__)
def test_errors_survive_a_process_pool(error, kind):
    # Shard workers' errors reach the parent pickled; the kinds' constructors take other arguments.
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is type(error) and str(copy) == str(error) and copy.__dict__ == error.__dict__


def test_what_each_kind_carries():
    invalid = InvalidInput("count", "count must be >= 1, got 0")
    assert (invalid.field, invalid.rule, invalid.problems) == (
        "count",
        str(invalid),
        [("count", str(invalid))],
    )
    assert isinstance(InvalidType("seed", "seed must be an integer"), TypeError)
    many = InvalidInput.many([("a", "is required"), ("b", "must be > 0")])
    assert many.field == "a" and str(many) == "a: is required; b: must be > 0" and len(many.problems) == 2
    missing = TaskNotFound("01ABC")
    assert (missing.resource, missing.name, str(missing)) == ("task", "01ABC", "no task '01ABC'")
    assert StorageError("slow").retryable and not CorruptTaskMetadata("bad").retryable
    assert not MnistMismatch("other").retryable and MnistUnavailable("later").retryable


@pytest.mark.parametrize(
    ("error", "name"),
    [
        (SpecError([("count", "bad")]), HngInvalidInput),
        (TaskNotFound("x"), HngNotFound),
        (IncompleteDataset("missing", [3]), HngConflict),
        (StorageError("S3 answered 503 SlowDown"), HngUnavailable),
        (MnistMismatch("planned with other data"), HngPermanentlyUnavailable),
        (InvalidData("plan.json is not JSON"), HngPermanentlyUnavailable),
    ],
)
def test_step_functions_error_names_say_whether_a_retry_may_help(error, name):
    assert type(step_error(error)) is name and str(step_error(error)) == str(error)
    with pytest.raises(name) as raised, as_step_errors():
        raise error
    assert raised.value.__cause__ is error


@pytest.mark.parametrize(
    ("error", "code", "line"),
    [
        (InvalidInput("spacing_min", "spacing_min (9) must not exceed spacing_max (3)"), 2, "error: -smin"),
        (InvalidInput("shards", "shards 5:2 is not a range"), 2, "error: --shards 5:2 is not a range"),
        (TaskNotFound("x"), 1, "no task 'x'"),
        (IncompleteDataset("2 of 5 shards missing", [1, 2]), 1, "2 of 5 shards missing"),
        (StorageError("S3 unreachable"), 1, "S3 unreachable"),
        (OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), "/data/x.npz"), 1, "/data/x.npz: No space left"),
        (ValueError("a library rule"), 2, "error: a library rule"),
    ],
)
def test_the_cli_maps_each_kind_to_one_exit_code_and_one_line(error, code, line):
    got_code, got_line = exit_status("dataset", error)
    assert got_code == code and got_line.startswith("hng dataset: ") and line in got_line
    assert "\n" not in got_line


def test_the_cli_lets_a_bug_through_rather_than_calling_it_a_usage_error():
    with pytest.raises(KeyError):
        exit_status("generate", KeyError("bug"))


def test_a_full_disk_during_hng_dataset_is_one_line_exit_1(tmp_path, monkeypatch, capsys, sample_data):
    import hng.datasets.engine as engine

    def full_disk(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(tmp_path / "out" / "shard-00000.npz"))

    monkeypatch.setattr(engine, "run_shard", full_disk)
    monkeypatch.setenv("HNG_MNIST_PATH", str(sample_data.path))
    args = [
        "dataset",
        "--count",
        "20",
        "--shard-size",
        "10",
        "--workers",
        "1",
        "--out",
        str(tmp_path / "out"),
    ]
    assert hng.cli.main(args) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == f"hng dataset: {tmp_path / 'out' / 'shard-00000.npz'}: No space left on device", err


def test_a_full_disk_during_hng_data_fetch_is_one_line_exit_1(tmp_path, monkeypatch, capsys, sample_data):
    # The write fails deep inside fetch_mnist; what matters is the CLI's answer to the OSError.
    import hng.mnist.build as build

    def full_disk(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(tmp_path / "mnist.npz"))

    monkeypatch.setattr(build, "fetch_mnist", full_disk)
    code = hng.cli.main(
        ["data", "fetch", "--source", str(sample_data.path), "--out", str(tmp_path / "mnist.npz"), "--force"]
    )
    assert code == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == f"hng data fetch: {tmp_path / 'mnist.npz'}: No space left on device", err


def test_a_pickle_declaring_an_array_larger_than_memory_is_invalid_data_not_a_memory_error():
    class Huge:
        def __reduce__(self):
            return _reconstruct, (np.ndarray, (0,), b"b"), (1, (2**40,), np.dtype("O"), False, [None])

    with pytest.raises(InvalidData, match="larger than this machine's memory"):
        restricted_loads(pickle.dumps(Huge(), protocol=4))


def test_a_spacing_range_must_be_a_pair_not_any_sequence(generator):
    # range(5, 7) is (5, 6) as a sequence but reads as "5 to 7": refused rather than guessed.
    with pytest.raises(InvalidType, match="spacing_range must be a"):
        generator.generate("12", spacing_range=range(5, 7))
    assert generator.generate("12", spacing_range=[5, 7], seed=1).image.shape[0] == 28


def test_a_rule_across_fields_blames_its_field_without_reading_the_message():
    with pytest.raises(SpecError) as raised:
        DatasetSpec.build(count=10, digits=3, numbers=["12"])
    assert raised.value.problems == [("digits", "digits and numbers exclude each other: give one")]
    item = {"loc": (), "msg": "Value error, whatever it says", "ctx": {"error": InvalidInput("fit", "x")}}
    assert blamed_field(item) == "fit"
    assert blamed_field({"loc": ("body", "count"), "msg": "count is nothing"}) == "count"
    assert blamed_field({"loc": (), "msg": "count is nothing", "ctx": {"error": ValueError("x")}}) is None


@pytest.mark.parametrize(
    "text",
    [b"not json", b"[1, 2]", b"\xff\xfe not UTF-8", b'{"spec": {"count": -5}}'],
    ids=["not JSON", "a list", "invalid UTF-8", "count -5"],
)
def test_a_corrupt_plan_is_invalid_data_naming_the_file(tmp_path, text):
    output = LocalOutput(tmp_path)
    (tmp_path / "plan.json").write_bytes(text)
    with pytest.raises(InvalidData, match=f"{tmp_path}/plan.json") as raised:
        Plan.loads(output.read_text("plan.json") or "", output.url)
    assert not raised.value.retryable


@pytest.mark.parametrize("failed", ["no", "false", 0, 1, None])
def test_the_finalizer_reads_failed_as_a_boolean_only(failed):
    with pytest.raises(InvalidInput, match="'failed' must be true or false"):
        records_failure({"failed": failed})
    with pytest.raises(InvalidInput):
        finalize_task({"bucket": "b", "prefix": "p", "failed": failed}, client=object())
    assert records_failure({}) is False and records_failure({"failed": True}) is True


def test_out_under_a_file_is_a_usage_error_like_out_naming_a_file(tmp_path):
    afile = tmp_path / "afile"
    afile.write_text("x")
    for out in (afile, afile / "sub", afile / "sub" / "deeper"):
        with pytest.raises(InvalidInput) as raised:
            LocalOutput(Path(out)).check_writable()
        assert raised.value.field == "out"


def test_no_module_maps_errors_by_message_text():
    # The fixes above replace matching on message prefixes; keep them out.
    root = Path(hng.cli.__file__).resolve().parents[1]
    offenders = []
    for path in root.rglob("*.py"):
        text = path.read_text()
        for pattern in ("str(error).startswith", 'text.startswith("out', 'message.split(" ", 1)[0]'):
            if pattern in text:
                offenders.append(f"{path.relative_to(root)}: {pattern}")
    assert not offenders, offenders
