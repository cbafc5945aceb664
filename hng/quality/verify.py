"""A fast digit reader for ``--verify-labels``: does each augmented digit still read as its label?

Every digit of a verified dataset is read back after its augmentation, so reading must cost a small
part of augmenting (the ``strong`` preset: 350-440 µs a digit here). This reader makes the decisions of
the report's label-fidelity reader (``hng.quality.readability``: 3 nearest neighbours by cosine among
10,000 MNIST digits of the other split, the same digits), so that a digit it accepts also reads right
in the report, at a fraction of the cost:

- the same view of each digit, to float rounding (faint pixels dropped, sheared upright, cropped,
  20 x 20, padded, blurred, unit length): the same OpenCV calls per digit, but thresholds, moments,
  blur and normalisation for the whole batch in a few numpy operations, not ``np.mgrid`` per digit;
- candidates first: the ``CANDIDATES`` nearest fitted digits in a ``DIMS``-dimensional PCA projection
  (a brute-force search, cheap in 32 dimensions), then the 3 nearest of those by the exact cosine over
  all 576 values, voted as the report's reader votes, float32 rounding of its tie-break included.
  On the 10,000 MNIST test digits, raw and through the mild and strong presets, the reading is the
  report reader's for every one of the 30,000.

Also tried: fewer PCA dimensions save little (most of the cost is numpy calls, not arithmetic); an
inverted-file index (k-means cells) was slower here and changed 7-62 readings of the 30,000; a numpy
MLP on the same vectors read at most 0.972 of the test digits, and as a reader of its own it would
accept digits the report's reader reads as others.

Figures: ``LabelReader``. Fitted on the other split of MNIST at first use in a process (about 0.5 s);
not cached on disk: the 23 MB of vectors it keeps would save that half second per process only.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Sequence

import cv2
import numpy as np

from hng.core.params import parse_split
from hng.errors import InvalidInput, InvalidType
from hng.mnist.load import MnistData, MnistSplit
from hng.quality.readability import BLANK, BLUR_SIGMA, INK_SHARE, PAD, SIZE

SIDE = SIZE + 2 * PAD  # the normalised digit is SIDE x SIDE
FEATURES = SIDE * SIDE
DIMS = 32  # PCA dimensions of the candidate search
CANDIDATES = 16  # nearest in the projection, ranked again by the exact cosine
K = 3
READER_DIGITS = 10_000  # as the report's reader: all of the test split, a sixth of train
READER_SEED = 0

# OpenBLAS runs a matrix product on several threads once m * n * k exceeds 4 * 65536, and a threaded
# product of a few rows costs a millisecond on a busy machine instead of tens of microseconds. Every
# product here stays below: QUERY_ROWS digits at a time, against as many fitted digits as fit.
_BLAS_SINGLE_THREAD = 4 * 65_536
QUERY_ROWS = 8
if QUERY_ROWS * FEATURES * DIMS >= _BLAS_SINGLE_THREAD:
    raise AssertionError("hng bug: QUERY_ROWS is too large for a single-threaded product")


def _blur_matrix() -> np.ndarray:
    """(SIDE, SIDE) B with B @ X @ B.T == cv2.GaussianBlur(X, (0, 0), BLUR_SIGMA) to float rounding:
    OpenCV's kernel (9 taps for sigma 1) and its default border, reflected about the edge pixel."""
    taps = cv2.getGaussianKernel(round(BLUR_SIGMA * 8 + 1) | 1, BLUR_SIGMA, cv2.CV_32F).ravel()
    radius = len(taps) // 2
    matrix = np.zeros((SIDE, SIDE), dtype=np.float64)
    for i in range(SIDE):
        for offset in range(-radius, radius + 1):
            j = i + offset
            j = -j if j < 0 else (2 * (SIDE - 1) - j if j >= SIDE else j)
            matrix[i, j] += taps[offset + radius]
    return matrix.astype(np.float32)


_BLUR = _blur_matrix()
_BLUR_T = np.ascontiguousarray(_BLUR.T)


def _stack(digits: Sequence[np.ndarray] | np.ndarray) -> np.ndarray:
    """The digits as one (N, H, W) uint8 stack, top-left aligned on zeros (moments do not care)."""
    if isinstance(digits, np.ndarray):
        if digits.ndim != 3 or digits.dtype != np.uint8:
            raise InvalidType(
                "digits", f"digits must be (N, height, width) uint8, got {digits.shape} {digits.dtype}"
            )
        return digits
    shapes = []
    for i, digit in enumerate(digits):
        if not isinstance(digit, np.ndarray) or digit.ndim != 2 or digit.dtype != np.uint8:
            raise InvalidType(f"digits[{i}]", f"digits[{i}] must be a 2-d uint8 array (ink > 0)")
        shapes.append(digit.shape)
    if not shapes:
        return np.zeros((0, 1, 1), np.uint8)
    height = max(shape[0] for shape in shapes)
    width = max(shape[1] for shape in shapes)
    same = all(shape == (height, width) for shape in shapes)
    stack = (np.empty if same else np.zeros)((len(shapes), height, width), dtype=np.uint8)
    for i, digit in enumerate(digits):
        stack[i, : digit.shape[0], : digit.shape[1]] = digit
    return stack


_moment_bases: dict[tuple[int, int], np.ndarray] = {}


def _moment_basis(height: int, width: int) -> np.ndarray:
    """(height * width, 5) float64: columns 1, x, y, y^2, x * y over the pixels of a (height, width)
    image, so that image.ravel() @ basis is its raw moments m00, m10, m01, m02, m11."""
    basis = _moment_bases.get((height, width))
    if basis is None:
        ys, xs = np.divmod(np.arange(height * width, dtype=np.float64), width)
        basis = np.stack([np.ones_like(ys), xs, ys, ys * ys, xs * ys], axis=1)
        _moment_bases[(height, width)] = basis
    return basis


def normalise_batch(digits: Sequence[np.ndarray] | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(N, 576) float32 unit vectors (zeros for a blank digit) and the (N,) blank mask.

    Each vector is ``hng.quality.readability.normalise(digit)`` (the robust reading) to float rounding:
    pixels below INK_SHARE of the brightest dropped, crop, deskew (shear by the moments, crop again),
    resize to SIZE x SIZE (INTER_AREA), pad, blur, L2-normalise. The same OpenCV calls per digit; the
    thresholds and moments for the whole batch (the moments exact: integer sums in float64), and the
    blur and normalisation too.
    """
    stack = _stack(digits)
    count = len(stack)
    if count == 0:
        return np.zeros((0, FEATURES), np.float32), np.zeros(0, bool)
    _, height, width = stack.shape
    peak = stack.max(axis=(1, 2))
    # readability drops pixels p < INK_SHARE * peak: for integer pixels, p < ceil(INK_SHARE * peak).
    floor = np.ceil(INK_SHARE * peak).astype(np.uint8)
    kept = stack * (stack >= floor[:, None, None])
    # Raw moments m00, m10, m01, m02, m11 about the stack's origin (central ones do not depend on it):
    # sums of integers below 2^53, so exact in float64 whatever the order; a few digits a product,
    # below OpenBLAS's threading size.
    pixels = kept.reshape(count, -1).astype(np.float64)
    basis = _moment_basis(height, width)
    step = max(1, _BLAS_SINGLE_THREAD // (basis.shape[0] * basis.shape[1]))
    moments = np.concatenate([pixels[i : i + step] @ basis for i in range(0, count, step)]).tolist()

    ink = kept.astype(np.float32)
    sized = np.zeros((count, SIDE, SIDE), dtype=np.float32)
    blank = np.zeros(count, dtype=bool)
    for i, (mass, sum_x, sum_y, sum_yy, sum_xy) in enumerate(moments):
        if mass == 0:
            blank[i] = True
            continue
        x, y, w, h = cv2.boundingRect(kept[i])
        crop = ink[i, y : y + h, x : x + w]
        centre_y = sum_y / mass
        mu02 = sum_yy - sum_y * centre_y
        # readability._deskew leaves a digit with (nearly) no vertical spread as it is.
        if mu02 > 1e-3 * mass:
            s = min(max((sum_xy - sum_x * centre_y) / mu02, -1.0), 1.0)
            # readability's matrix, in its crop's coordinates.
            matrix = np.array([[1, -s, s * (centre_y - y) + h], [0, 1, 0]], dtype=np.float32)
            sheared = cv2.warpAffine(crop, matrix, (w + 2 * h, h), flags=cv2.INTER_LINEAR)
            bx, by, bw, bh = cv2.boundingRect((sheared > 0).view(np.uint8))
            if bw:
                crop = sheared[by : by + bh, bx : bx + bw]
        cv2.resize(
            crop, (SIZE, SIZE), dst=sized[i, PAD : PAD + SIZE, PAD : PAD + SIZE], interpolation=cv2.INTER_AREA
        )
    # B @ X @ B.T per digit; numpy folds a stack times one matrix into one product, so a few digits
    # at a time keep it below OpenBLAS's threading size.
    blur_step = _BLAS_SINGLE_THREAD // SIDE**3
    vectors = np.concatenate(
        [(_BLUR @ sized[i : i + blur_step] @ _BLUR_T) for i in range(0, count, blur_step)]
    ).reshape(count, FEATURES)
    norms = np.sqrt(np.einsum("ij,ij->i", vectors, vectors))
    vectors /= np.maximum(norms, np.float32(1e-6))[:, None]
    return vectors, blank


class LabelReader:
    """Reads digits as the report's label-fidelity reader does (see the module docstring), fast.

    Measured on this 2-core machine, one core, CPU time, the best of several runs (the machine was
    shared): normalising costs about 45 µs a digit in calls of 5 and 30 µs in calls of 512; reading
    (normalising and the search) about 130 µs and 80 µs; a call for one digit about 350 µs. The
    ``strong`` augmentation costs 350-440 µs a digit, ``mild`` 130-170 µs.

    Fitted on MNIST train it reads 0.9745 of the 10,000 test digits right, as the report's reader does,
    digit for digit. Fitted on test it reads 3.1 % of the 60,000 raw train digits as another digit
    (0: 0.9 %, 6: 1.1 %, 1: 1.6 %, up to 5: 4.9 % and 8: 5.7 %), 3.9 % of mild and 7.1 % of strong
    augmented ones.

    A digit's reading does not depend on the other digits of the call (to float rounding at the edge
    of the candidate search: never seen on 3,000 strong digits read in calls of 1, 2, 5, 7 and 3,000).
    """

    def __init__(self, vectors: np.ndarray, labels: np.ndarray, *, basis: np.ndarray | None = None) -> None:
        """From fitted unit vectors (``normalise_batch``, or readability's) and their digits 0-9.
        ``basis``: the candidate search's principal axes of these vectors (``self.basis``) as computed
        before, saving their 0.2 s; by default computed here."""
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        labels = np.asarray(labels, dtype=np.int64)
        if vectors.ndim != 2 or vectors.shape[1] != FEATURES or len(vectors) == 0:
            raise InvalidInput("vectors", f"vectors must be (N >= 1, {FEATURES}), got {vectors.shape}")
        if labels.shape != (len(vectors),) or labels.min() < 0 or labels.max() > 9:
            raise InvalidInput("labels", "labels must hold one digit 0-9 per vector")
        self.vectors = vectors
        self.labels = labels
        if basis is None:
            basis = _principal_axes(vectors, DIMS)
        elif basis.shape != (FEATURES, min(DIMS, FEATURES)) or basis.dtype != np.float32:
            raise InvalidInput("basis", f"basis must be ({FEATURES}, {DIMS}) float32, got {basis.shape}")
        self.basis = basis  # (FEATURES, dims) float32
        count = len(vectors)
        # Fitted digit c belongs to group c % groups: a group's members lie `groups` apart, so the
        # nearest member of every group is one elementwise minimum over the rows of a reshape.
        members = max(1, round((count / CANDIDATES) ** 0.5))
        self._groups = -(-count // members)
        self._padded = self._groups * members
        projected = vectors @ self.basis
        # One product gives -2 q.r + |r|^2 (|q - r|^2 less |q|^2, the same for every r): the query gets
        # a last component 1, the reference a last row |r|^2.
        norms = np.einsum("ij,ij->i", projected, projected)[:, None]
        self._reference = np.ascontiguousarray(np.hstack([-2.0 * projected, norms]).T, dtype=np.float32)

    @classmethod
    def fit(cls, split: MnistSplit, count: int = READER_DIGITS, seed: int = READER_SEED) -> LabelReader:
        """Fitted on ``count`` digits of ``split`` drawn without replacement (all if fewer): the same
        digits as ``hng.quality.readability.fit_classifier(split, count, seed)``. About 0.5 s for
        10,000 digits."""
        if isinstance(count, bool) or not isinstance(count, int | np.integer) or count < 1:
            raise InvalidInput("count", f"count must be an integer of at least 1, got {count!r}")
        picks = np.random.default_rng(seed).choice(
            len(split), size=min(int(count), len(split)), replace=False
        )
        vectors, blank = normalise_batch(split.images[picks])
        return cls(vectors[~blank], split.labels[picks][~blank])

    def __len__(self) -> int:
        return len(self.labels)

    def read(self, digits: Sequence[np.ndarray] | np.ndarray) -> np.ndarray:
        """The digit each image reads as (int64), BLANK (-1) for one with no ink.

        ``digits``: 2-d uint8 images, ink > 0 on 0 (MNIST polarity), any size (MNIST's are 28 x 28;
        augmented ones 28 rows); a list of them or an (N, H, W) stack.
        """
        vectors, blank = normalise_batch(digits)
        read = np.full(len(vectors), BLANK, dtype=np.int64)
        inked = np.flatnonzero(~blank)
        for start in range(0, len(inked), QUERY_ROWS):
            rows = inked[start : start + QUERY_ROWS]
            read[rows] = self._vote(vectors[rows])
        return read

    def accepts(
        self, digits: Sequence[np.ndarray] | np.ndarray, labels: Sequence[int] | np.ndarray
    ) -> np.ndarray:
        """Whether each digit reads as its label (bool); a blank digit is never accepted."""
        expected = np.asarray(labels)
        if expected.shape != (len(digits),):
            raise InvalidInput(
                "labels", f"labels must hold one digit per image ({len(digits)}), got {expected.shape}"
            )
        if expected.size and (expected.dtype.kind not in "iu" or expected.min() < 0 or expected.max() > 9):
            raise InvalidInput("labels", "labels must be digits 0-9")
        return self.read(digits) == expected

    def _vote(self, queries: np.ndarray) -> np.ndarray:
        """The reading of 1 to QUERY_ROWS unit vectors."""
        if len(queries) == 1:
            # numpy multiplies one row by a matrix with gemv, which OpenBLAS threads at a lower size:
            # two copies of the row go through gemm instead.
            return self._vote(np.concatenate([queries, queries]))[:1]
        count = len(self.labels)
        rows = len(queries)
        dims = self.basis.shape[1]
        query = np.empty((rows, dims + 1), dtype=np.float32)
        np.matmul(queries, self.basis, out=query[:, :dims])
        query[:, dims] = 1.0
        distances = np.empty((rows, self._padded), dtype=np.float32)
        block = _BLAS_SINGLE_THREAD // (rows * (dims + 1)) - 1  # fitted digits a product
        for start in range(0, count, block):
            stop = min(start + block, count)
            np.matmul(query, self._reference[:, start:stop], out=distances[:, start:stop])
        if self._padded > count:
            distances[:, count:] = np.inf
        wanted = min(CANDIDATES, count)
        if self._groups > wanted:
            members = self._padded // self._groups
            nearest = distances.reshape(rows, members, self._groups).min(axis=1)
            groups = np.argpartition(nearest, wanted - 1, axis=1)[:, :wanted]
            pool = (groups[:, None, :] + (np.arange(members) * self._groups)[None, :, None]).reshape(rows, -1)
        else:
            pool = np.broadcast_to(np.arange(count), (rows, count))
        # Flat indices into distances: one gather instead of take_along_axis (a third of the time).
        flat = pool + (np.arange(rows) * self._padded)[:, None]
        pick = np.argpartition(distances.ravel()[flat], wanted - 1, axis=1)[:, :wanted]
        pool = pool.ravel()[pick + (np.arange(rows) * pool.shape[1])[:, None]]
        # In index order, so that exact ties go to the lower index whatever order the search found them in.
        candidates = np.sort(pool, axis=1)
        similarity = np.matmul(self.vectors[candidates], queries[:, :, None])[:, :, 0]
        order = np.argsort(-similarity, axis=1, kind="stable")[:, : min(K, count)]
        nearest = order + (np.arange(rows) * candidates.shape[1])[:, None]
        votes = self.labels[candidates.ravel()[nearest]].tolist()
        # readability's vote, rounding included: one vote per neighbour plus a thousandth of its
        # similarity in float32 (which ties similarities closer than about 1e-4); the highest score
        # wins, the lowest digit among equal scores. Plain Python: a few rows of three.
        weights = (np.float32(1.0) + np.float32(1e-3) * similarity.ravel()[nearest]).tolist()
        read = []
        for row_votes, row_weights in zip(votes, weights, strict=True):
            scores: dict[int, float] = {}
            for label, weight in zip(row_votes, row_weights, strict=True):
                scores[label] = scores.get(label, 0.0) + weight
            best = max(scores.values())
            read.append(min(label for label, score in scores.items() if score == best))
        return np.array(read, dtype=np.int64)


def _principal_axes(vectors: np.ndarray, dims: int) -> np.ndarray:
    """(FEATURES, dims) float32: the leading principal axes of ``vectors``, each signed so that its
    largest component is positive (eigenvectors have no sign of their own)."""
    data = vectors.astype(np.float64)
    data -= data.mean(axis=0)
    values, axes = np.linalg.eigh(data.T @ data)
    leading = axes[:, np.argsort(values)[::-1][: min(dims, len(values))]]
    signs = np.sign(leading[np.abs(leading).argmax(axis=0), np.arange(leading.shape[1])])
    return np.ascontiguousarray(leading * signs, dtype=np.float32)


_readers: weakref.WeakKeyDictionary[MnistData, dict[str, LabelReader]] = weakref.WeakKeyDictionary()
_readers_lock = threading.Lock()


def label_reader(data: MnistData, dataset_split: str) -> LabelReader:
    """The reader that checks digits drawn from ``dataset_split``: fitted on the other split, on the
    digits of the report's reader (``hng.quality.fidelity.fidelity_classifier``: all 10,000 test
    digits, or 10,000 train digits drawn with seed 0). Fitted once per process and data set, on first
    use (about 0.5 s), under a lock; thread-safe after that."""
    other = "test" if parse_split(dataset_split) == "train" else "train"
    with _readers_lock:
        fitted = _readers.setdefault(data, {})
        if other not in fitted:
            fitted[other] = LabelReader.fit(data.split(other), READER_DIGITS, READER_SEED)
        return fitted[other]


# Read a split this many digits at a time when tabulating it (bounds the normalised vectors held).
_TABLE_CHUNK = 512
# Part of the cached table's file name: bump it whenever the reader's decisions change.
_TABLE_VERSION = 1
_accepted: weakref.WeakKeyDictionary[MnistData, dict[str, np.ndarray]] = weakref.WeakKeyDictionary()


def accepted_samples(data: MnistData, split: str) -> np.ndarray:
    """Whether ``label_reader(data, split)`` reads each sample of ``split`` as its label: (N,) bool.

    verify_labels judges plain (unaugmented) digits by this table: the same reading as calling the
    reader on them, done once per process and data set (about 20 µs a digit: 1-2 s for the train split)
    instead of once per drawn digit, so plain batches stay vectorised. The table is also kept in the
    user's cache folder, as the report's reader is (``hng.quality.fidelity``).
    """
    from hng.quality.fidelity import cache_path, store_arrays

    split = parse_split(split)
    with _readers_lock:
        table = _accepted.setdefault(data, {}).get(split)
    if table is not None:
        return table
    path = cache_path(data, f"verify-v{_TABLE_VERSION}-{split}")
    pool = data.split(split)
    if path is not None and path.is_file():
        try:
            with np.load(path, allow_pickle=False) as cached:
                table = cached["accepted"]
        except (OSError, ValueError, KeyError):
            table = None
        if table is not None and (table.dtype != bool or table.shape != (len(pool),)):
            table = None
    if table is None:
        reader = label_reader(data, split)
        table = np.empty(len(pool), dtype=bool)
        for start in range(0, len(pool), _TABLE_CHUNK):
            stop = min(start + _TABLE_CHUNK, len(pool))
            table[start:stop] = reader.accepts(pool.images[start:stop], pool.labels[start:stop])
        if path is not None:
            store_arrays(path, accepted=table)
    with _readers_lock:
        _accepted.setdefault(data, {})[split] = table
    return table
