"""Find the built MNIST npz: explicit path, $HNG_MNIST_PATH, /opt (Lambda layer or image), S3, local build."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

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


def download_s3(uri: str) -> Path:
    """Download `s3://bucket/key` once to `s3_cache_path(uri)` and return that path.

    The object goes to a temporary file that is renamed into place, so a concurrent or interrupted
    download never leaves a partial file under the final name.
    """
    bucket, key = parse_s3_uri(uri)
    target = s3_cache_path(uri)
    if target.is_file():
        return target
    import boto3  # lazily: only this case needs it, and it costs ~0.2 s to import
    from botocore.exceptions import ClientError

    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    os.close(fd)
    try:
        boto3.client("s3").download_file(bucket, key, tmp_name)
        os.replace(tmp_name, target)
    except ClientError as exc:
        Path(tmp_name).unlink(missing_ok=True)
        code = str(exc.response.get("Error", {}).get("Code", ""))
        if code in {"404", "NoSuchKey", "NoSuchBucket"}:
            raise FileNotFoundError(f"MNIST npz not found at {ENV_S3_URI}={uri}") from exc
        raise
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return target


def find_mnist_npz(path: str | os.PathLike[str] | None = None) -> Path:
    """Return the MNIST npz to load, looking in this order:

    1. `path` if given (it must exist);
    2. $HNG_MNIST_PATH if set (it must exist);
    3. /opt/mnist/mnist.npz (Lambda layer or container image);
    4. $HNG_MNIST_S3_URI (s3://bucket/key), downloaded once to the temp dir;
    5. `default_build_path()`, where `hng data fetch` writes.

    Raises FileNotFoundError saying where it looked and to run `hng data fetch`.
    """
    if path is not None:
        explicit = Path(path)
        if not explicit.is_file():
            raise FileNotFoundError(
                f"MNIST npz not found at the given path: {explicit}; run `hng data fetch` or give a path"
            )
        return explicit
    env_path = os.environ.get(ENV_PATH)
    if env_path:
        if not Path(env_path).is_file():
            raise FileNotFoundError(
                f"MNIST npz not found at {ENV_PATH}={env_path}; run `hng data fetch` (or fix {ENV_PATH})"
            )
        return Path(env_path)
    if DEFAULT_OPT_PATH.is_file():
        return DEFAULT_OPT_PATH
    s3_uri = os.environ.get(ENV_S3_URI)
    if s3_uri:
        return download_s3(s3_uri)
    build_path = default_build_path()
    if build_path.is_file():
        return build_path
    raise FileNotFoundError(
        "MNIST data not found; run `hng data fetch` to build it. Looked at: "
        f"${ENV_PATH} (unset), {DEFAULT_OPT_PATH}, ${ENV_S3_URI} (unset), {build_path}"
    )
