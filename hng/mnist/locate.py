"""Find the MNIST npz: explicit path, $HNG_MNIST_PATH, $HNG_MNIST_S3_URI, /opt (layer or image), local build.

A source someone chose (a path, $HNG_MNIST_PATH, an S3 URI) may hold another digit set in MNIST's layout;
the two places hng's own build lives (/opt in the image, `hng data fetch`'s output) hold MNIST itself.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

from hng.errors import Unavailable
from hng.settings import load_settings

# Lambda mounts layer content (layers/mnist/ here) at /opt; the container image copies it there too.
DEFAULT_OPT_PATH = Path("/opt/mnist/mnist.npz")
ENV_PATH = "HNG_MNIST_PATH"
ENV_S3_URI = "HNG_MNIST_S3_URI"
BUILD_RELPATH = Path("layers/mnist/mnist/mnist.npz")


def _checkout_root() -> Path | None:
    # A fresh clone may have no layers/ yet (git keeps no empty directories, the build output is ignored),
    # so the project's own pyproject.toml also marks a checkout. Installed copies (site-packages,
    # /var/task on Lambda) have neither next to them.
    root = Path(__file__).resolve().parents[2]
    pyproject = root / "pyproject.toml"
    if not pyproject.is_file():
        return None
    if (root / "layers").is_dir() or 'name = "hng"' in pyproject.read_text(errors="replace"):
        return root
    return None


def default_build_path() -> Path:
    """Where `hng data fetch` writes by default: the checkout's layers/mnist/mnist/mnist.npz when hng runs
    from a source checkout, else $XDG_CACHE_HOME/hng/mnist.npz (~/.cache/hng/mnist.npz)."""
    root = _checkout_root()
    if root is not None:
        return root / BUILD_RELPATH
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "hng" / "mnist.npz"


def parse_s3_uri(uri: str) -> tuple[str, str]:
    """Split `s3://bucket/key` into (bucket, key); ValueError naming the variable otherwise."""
    if not uri.startswith("s3://"):
        raise ValueError(f"{ENV_S3_URI} must look like s3://bucket/key, got {uri!r}")
    bucket, _, key = uri[len("s3://") :].partition("/")
    if not bucket or not key or key.endswith("/"):
        raise ValueError(f"{ENV_S3_URI} must name a bucket and an object key (s3://bucket/key), got {uri!r}")
    return bucket, key


def s3_cache_path(uri: str) -> Path:
    """The local file an S3 URI is downloaded to: one per URI, in the temp dir (/tmp on Lambda)."""
    digest = hashlib.sha256(uri.encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"hng-mnist-{digest}.npz"


class MnistSourceUnavailable(Unavailable, FileNotFoundError):
    """The configured S3 object could not be read (missing, access denied, network).

    A FileNotFoundError, as every caller already treats "no data where configured": the API reports it
    in /health and answers 503, the CLI prints one line.
    """


@dataclass(frozen=True)
class MnistLocation:
    """Where the data to load is: the local file, what to call it (an S3 URI or the path), and whether
    it is hng's own MNIST build (checked as MNIST) or a chosen file (checked as a digit set)."""

    path: Path
    source: str
    builtin: bool
    s3_uri: str | None = None


# One download per process and URI (on Lambda, per container): the URI's temp file, once fetched.
_downloaded: dict[str, Path] = {}
_download_lock = threading.Lock()


def download_s3(uri: str) -> Path:
    """Download `s3://bucket/key` to `s3_cache_path(uri)` once per process and return that path.

    Each process fetches the object again (a file left in the temp dir by an earlier process may be
    stale), with one GetObject streamed to a temporary file that is renamed into place, so a concurrent
    or interrupted download never leaves a partial file under the final name. Raises
    MnistSourceUnavailable naming the URI when the object cannot be read.
    """
    bucket, key = parse_s3_uri(uri)
    with _download_lock:
        cached = _downloaded.get(uri)
        if cached is not None and cached.is_file():
            return cached
        target = s3_cache_path(uri)
        _fetch(uri, bucket, key, target)
        _downloaded[uri] = target
        return target


def forget_download(uri: str) -> None:
    """Drop this process's copy of `uri` (it held bad data): the next load downloads the object again."""
    with _download_lock:
        path = _downloaded.pop(uri, None)
        if path is not None:
            path.unlink(missing_ok=True)


def _fetch(uri: str, bucket: str, key: str, target: Path) -> None:
    from botocore.exceptions import BotoCoreError, ClientError  # lazily: ~0.2 s to import

    from hng.aws.clients import ACCESS_DENIED_CODES, BULK, MISSING_CODES, error_code, make_client

    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            body = make_client("s3", BULK).get_object(Bucket=bucket, Key=key)["Body"]
            with contextlib.closing(body):
                shutil.copyfileobj(body, fh, 1 << 20)
        os.replace(tmp_name, target)
    except ClientError as exc:
        Path(tmp_name).unlink(missing_ok=True)
        error = exc.response.get("Error", {})
        code = error_code(exc)
        if code in MISSING_CODES:
            raise MnistSourceUnavailable(f"no object at {ENV_S3_URI}={uri} ({code})") from exc
        if code in ACCESS_DENIED_CODES:
            raise MnistSourceUnavailable(
                f"access denied reading {ENV_S3_URI}={uri}: the function needs s3:GetObject on "
                f"arn:aws:s3:::{bucket}/{key} (the template grants it when MnistS3Uri is set); without "
                "s3:ListBucket, S3 also answers a missing object with 403"
            ) from exc
        raise MnistSourceUnavailable(
            f"could not read {ENV_S3_URI}={uri}: {code} {error.get('Message', '')}".rstrip()
        ) from exc
    except BotoCoreError as exc:  # no credentials, no network, a broken stream
        Path(tmp_name).unlink(missing_ok=True)
        raise MnistSourceUnavailable(f"could not read {ENV_S3_URI}={uri}: {exc}") from exc
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise


def locate_mnist(path: str | os.PathLike[str] | None = None) -> MnistLocation:
    """Where the data to load is, looking in this order:

    1. `path` if given (it must exist);
    2. $HNG_MNIST_PATH if set (it must exist);
    3. $HNG_MNIST_S3_URI (s3://bucket/key) if set, downloaded once per process to the temp dir: a
       deployed stack's `MnistS3Uri`, which must win over the data the image carries;
    4. /opt/mnist/mnist.npz (Lambda layer or container image);
    5. `default_build_path()`, where `hng data fetch` writes.

    Raises FileNotFoundError saying where it looked and to run `hng data fetch`.
    """
    if path is not None:
        explicit = Path(path)
        if not explicit.is_file():
            raise FileNotFoundError(
                f"MNIST npz not found at the given path: {explicit}; run `hng data fetch` or give a path"
            )
        return MnistLocation(explicit, str(explicit), builtin=False)
    settings = load_settings()
    env_path = settings.mnist_path
    if env_path:
        if not Path(env_path).is_file():
            raise FileNotFoundError(
                f"MNIST npz not found at {ENV_PATH}={env_path}; run `hng data fetch` (or fix {ENV_PATH})"
            )
        return MnistLocation(Path(env_path), env_path, builtin=False)
    s3_uri = settings.mnist_s3_uri
    if s3_uri:
        return MnistLocation(download_s3(s3_uri), s3_uri, builtin=False, s3_uri=s3_uri)
    if DEFAULT_OPT_PATH.is_file():
        return MnistLocation(DEFAULT_OPT_PATH, str(DEFAULT_OPT_PATH), builtin=True)
    build_path = default_build_path()
    if build_path.is_file():
        return MnistLocation(build_path, str(build_path), builtin=True)
    raise FileNotFoundError(
        "MNIST data not found; run `hng data fetch` to build it. Looked at: "
        f"${ENV_PATH} (unset), ${ENV_S3_URI} (unset), {DEFAULT_OPT_PATH}, {build_path}"
    )


def find_mnist_npz(path: str | os.PathLike[str] | None = None) -> Path:
    """The local file `locate_mnist(path)` finds (downloading $HNG_MNIST_S3_URI if that is the source)."""
    return locate_mnist(path).path


def configured_source(path: str | os.PathLike[str] | None = None) -> str | None:
    """The source `locate_mnist(path)` would use, named without downloading or checking it: the path,
    $HNG_MNIST_PATH, $HNG_MNIST_S3_URI, or the first of /opt and the local build that exists."""
    if path is not None:
        return str(path)
    settings = load_settings()
    if settings.mnist_path or settings.mnist_s3_uri:
        return settings.mnist_path or settings.mnist_s3_uri
    for candidate in (DEFAULT_OPT_PATH, default_build_path()):
        if candidate.is_file():
            return str(candidate)
    return None
