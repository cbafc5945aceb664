"""The on-disk shard formats of ``hng dataset``.

Every format writes one shard (a file, or a folder) from a ``Shard``'s arrays, deterministically, and
can count and read it back. ``format_for(spec)`` gives the format a dataset's spec names, configured
with the spec's options (masks, objects, the YOLO task); it may also write files for the whole dataset
when it is finalized (``dataset_files``), such as YOLO's ``data.yaml``.
"""

from __future__ import annotations

import abc
import copy
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, NamedTuple

import numpy as np

from hng.core.compose import HEIGHT
from hng.core.encoding import (
    DEFAULT_JPEG_QUALITY,
    ENCODING_OF_SUFFIX,
    SUFFIXES,
    jpeg_frame,
    sniff_encoding,
)
from hng.datasets.shard import PAD, Shard

if TYPE_CHECKING:
    from hng.datasets.output import Output
    from hng.datasets.plan import Plan
    from hng.datasets.spec import DatasetSpec

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# The last 12 bytes of every whole PNG: the empty IEND chunk and its CRC.
_PNG_END = b"\x00\x00\x00\x00IEND\xaeB`\x82"
_JPEG_END = b"\xff\xd9"  # EOI
# PNG colour types by channels: 0 greyscale, 2 truecolour (RGB); JPEG components are the channels.
_PNG_COLOUR_TYPES = {1: 0, 3: 2}
_CHANNEL_NAMES = {1: "grey", 3: "RGB"}


class ShardProblem(Exception):
    """Raised inside a format's readers with the reason a shard is not whole; ``count``/``read`` turn it
    into the ValueError that names the shard (a distinct type, so it is never mistaken for a library's)."""


class ShardFormat(abc.ABC):
    """How one shard is laid out on disk: its name, and how to write, count and read it."""

    name: ClassVar[str]
    suffix: ClassVar[str]  # appended to "shard-00000": ".npz", ".tar", or "" for a folder
    holds_masks: ClassVar[bool] = False  # can store the digits' masks (the spec's `masks`)
    uses_masks: ClassVar[bool] = False  # needs the masks whatever the spec says (COCO's segmentation)
    takes_objects: ClassVar[bool] = False  # writes one object per digit and can add the number's (`objects`)
    encodes_images: ClassVar[bool] = True  # stores encoded image files (PNG or JPEG: `image_encoding`)
    # Set by `configure` from the dataset's spec.
    masks: bool = False  # the shards it writes carry masks (stored, or used to write segmentation)
    objects: str = "digits"

    def options_problem(self, spec: DatasetSpec) -> tuple[str, str] | None:
        """(field, message) when the spec's options contradict each other for this format (beyond the
        capabilities above, which the spec checks itself); None when they do not."""
        return None

    def configure(self, spec: DatasetSpec) -> ShardFormat:
        """This format with the options of ``spec`` (which has checked that the format takes them)."""
        configured = copy.copy(self)
        configured.masks = spec.masks or self.uses_masks
        configured.objects = spec.objects
        return configured

    def card_lines(self, manifest: Mapping[str, Any]) -> list[str]:
        """The dataset card's "Loading" section for this format (Markdown lines): what a shard holds, the
        two lines that load it with its users' library, and the trainer command or config that uses it.
        ``manifest["shards"]`` names the shards; ``manifest["format"]`` holds ``dataset_files``' facts."""
        return [f"Format `{self.name}`: see `manifest.json` for the files."]

    def dataset_files(self, output: Output, plan: Plan, records: list[dict[str, Any]]) -> dict[str, Any]:
        """Write the files the whole dataset needs besides its shards, when it is finalized (``records``:
        those of the shards made, in order). Returns the manifest's ``format`` entry: ``{"files": [their
        names], ...}`` and any fact a reader needs; empty (no entry) for most formats."""
        return {}

    def shard_name(self, k: int) -> str:
        """The file (or folder) name of shard ``k``: 5 digits, more from shard 100,000 on."""
        if k < 0:
            raise ValueError(f"shard index must be >= 0, got {k}")
        return f"shard-{k:05d}{self.suffix}"

    @abc.abstractmethod
    def write(self, shard: Shard, path: Path, *, compress: bool = False) -> None:
        """Write ``shard`` at ``path``, which must not exist; the same arrays always give the same bytes."""

    @abc.abstractmethod
    def count(self, path: Path) -> int:
        """How many images the shard at ``path`` holds; ValueError naming it if it is not whole."""

    @abc.abstractmethod
    def read(self, path: Path, index: int, start: int) -> Shard:
        """Read the shard at ``path`` back into the ``Shard`` it was written from."""

    def read_rows(self, path: Path, index: int, start: int, rows: Sequence[int]) -> Shard:
        """Only the images ``rows`` (increasing) of the shard at ``path``, as a Shard of len(rows) images
        (its ``key(i)`` no longer applies): a sample for the report without decoding every image."""
        return self.read(path, index, start).take(rows)

    def _bad(self, path: Path, reason: str) -> ValueError:
        return ValueError(f"{Path(path).name} is not a whole {self.name} shard: {reason}")

    @staticmethod
    def _check(shard: Shard) -> None:
        # A malformed Shard is a bug upstream: refuse it rather than write a shard that reads back different.
        problem = arrays_problem(shard_arrays(shard))
        if problem:
            raise ValueError(f"shard {shard.index} cannot be written: {problem}")

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"


class ImageKind(NamedTuple):
    """What a shard's image files are, all alike: their encoding ("png" or "jpeg"), height and channels."""

    encoding: str
    height: int
    channels: int

    @property
    def suffix(self) -> str:
        return SUFFIXES[self.encoding]


def spec_image_kind(spec: Mapping[str, Any]) -> ImageKind:
    """The kind of a dataset's image files, from its spec as its manifest holds it (``DatasetSpec.to_json``
    leaves out the document fields at their defaults: 28 high, grey, PNG)."""
    return ImageKind(
        str(spec.get("image_encoding") or "png"),
        int(spec.get("height") or HEIGHT),
        int(spec.get("channels") or 1),
    )


def image_suffix(spec: Mapping[str, Any]) -> str:
    """The suffix of a dataset's image files, ".png" or ".jpg", from its manifest's spec."""
    return spec_image_kind(spec).suffix


def image_phrase(spec: Mapping[str, Any]) -> str:
    """How a dataset card describes its image files, from its manifest's spec: "8-bit grey PNG, 28 ×
    width", "8-bit RGB JPEG (quality 75-95, drawn per image), 48 × width"."""
    kind = spec_image_kind(spec)
    what = f"8-bit {_CHANNEL_NAMES[kind.channels]} {kind.encoding.upper()}"
    if kind.encoding == "jpeg":
        low, high = spec.get("jpeg_quality") or DEFAULT_JPEG_QUALITY
        what += f" (quality {low})" if low == high else f" (quality {low}-{high}, drawn per image)"
    return f"{what}, {kind.height} × width"


class Scan(NamedTuple):
    """A shard read through by its format's checks (``RecordFormat._scan``)."""

    records: list[dict[str, Any]]  # Shard.record(i) of each image, in order
    images: list[np.ndarray]  # decoded images (empty unless decoding)
    masks: list[np.ndarray] | None  # decoded masks; None if the shard holds none, or when not decoding
    kind: ImageKind | None  # of its images (None for a shard without images)


class RecordFormat(ShardFormat):
    """A format storing each image as an encoded file (PNG or JPEG) beside its JSON record (webdataset,
    imagefolder, the folder formats, lmdb): counting and reading both scan the shard, checking it member
    by member (``ImageFiles``); only reading decodes the images."""

    @abc.abstractmethod
    def _scan(self, path: Path, *, decode: bool) -> Scan:
        """The shard's records and (if ``decode``) images and masks; ValueError naming it if it is not
        whole."""

    def count(self, path: Path) -> int:
        return len(self._scan(path, decode=False).records)

    def read(self, path: Path, index: int, start: int) -> Shard:
        scan = self._scan(path, decode=True)
        try:
            return shard_from_scan(index, start, scan)
        except ValueError as exc:
            raise self._bad(path, str(exc)) from exc


# The arrays of a shard, in the order the npz format stores them (then "masks", when it has them).
ARRAY_NAMES = ("images", "widths", "labels", "lengths", "boxes", "seeds", "indices")
MASKS = "masks"
_DTYPES = {
    "images": np.dtype(np.uint8),
    "widths": np.dtype(np.int32),
    "lengths": np.dtype(np.int32),
    "boxes": np.dtype(np.int32),
    "seeds": np.dtype(np.int64),
    "indices": np.dtype(np.int32),
}


def shard_arrays(shard: Shard) -> dict[str, np.ndarray]:
    """The shard's arrays by name, in ``ARRAY_NAMES`` order, then its masks if it has them."""
    arrays = {name: getattr(shard, name) for name in ARRAY_NAMES}
    if shard.masks is not None:
        arrays[MASKS] = shard.masks
    return arrays


def arrays_problem(arrays: dict[str, np.ndarray]) -> str | None:
    """What is wrong with a shard's arrays (None if nothing): dtypes, shapes against N and the padding.

    The padding matters because webdataset and imagefolder do not store it: a shard whose pixels past an
    image's width are not 0, or whose boxes past its label are not ``PAD``, would read back different.
    """
    for name, dtype in _DTYPES.items():
        if arrays[name].dtype != dtype:
            return f"{name} must be {dtype}, got {arrays[name].dtype}"
    images, widths, labels, lengths = (arrays[k] for k in ("images", "widths", "labels", "lengths"))
    if labels.dtype.kind != "U":
        return f"labels must be fixed-width unicode, got {labels.dtype}"
    if not (images.ndim == 3 or (images.ndim == 4 and images.shape[3] == 3)) or images.shape[1] < 1:
        return f"images must be (N, H, W) grey or (N, H, W, 3) RGB, got {images.shape}"
    n, width = images.shape[0], images.shape[2]
    longest = labels.dtype.itemsize // 4
    expected = {
        "widths": (n,),
        "labels": (n,),
        "lengths": (n,),
        "boxes": (n, longest, 4),
        "seeds": (n,),
        "indices": (n, longest),
    }
    for name, shape in expected.items():
        if arrays[name].shape != shape:
            got = arrays[name].shape
            return f"{name} must be {shape} for {n} images of labels up to {longest} digits, got {got}"
    if n == 0:
        return None
    if widths.min() < 1 or widths.max() > width:
        return f"widths must lie in 1..{width} (the images' width), got {widths.min()}..{widths.max()}"
    if not np.array_equal(np.strings.str_len(labels), lengths):
        return "lengths are not the lengths of the labels"
    if int(lengths.max()) != longest:  # else webdataset and imagefolder would read back a narrower dtype
        return f"labels must be '<U{int(lengths.max())}' (the longest label), got '{labels.dtype.str}'"
    past_label = np.arange(longest)[None, :] >= lengths[:, None]
    if np.any(arrays["boxes"][past_label] != PAD) or np.any(arrays["indices"][past_label] != PAD):
        return f"boxes and indices past a label's length must be {PAD}"
    # The brightest pixel of each column: (N, W), an H-th of the images, so nothing shard-sized is copied.
    past_width = np.arange(width)[None, :] >= widths[:, None]
    brightest = images.max(axis=1)
    if brightest.ndim == 3:
        brightest = brightest.max(axis=2)
    if np.any(brightest[past_width]):
        return "pixels past an image's width must be 0"
    masks = arrays.get(MASKS)
    if masks is not None:
        if masks.dtype != np.uint8 or masks.shape != images.shape[:3]:
            want = images.shape[:3]
            return f"masks must be uint8 {want} like the images, got {masks.dtype} {masks.shape}"
        if np.any(masks.max(axis=(1, 2)) > lengths):
            return "masks hold a label greater than their image's number of digits"
        if np.any(masks.max(axis=1)[past_width]):
            return "mask pixels past an image's width must be 0"
    return None


RECORD_FIELDS = frozenset({"key", "label", "width", "boxes", "seed", "indices", "split"})


def record_problem(record: Any, key: str) -> str | None:
    """What is wrong with an image's JSON record (``Shard.record``) stored under ``key`` (None if nothing)."""
    if not isinstance(record, dict):
        return f"the record of {key} is not a JSON object"
    if not record.keys() >= RECORD_FIELDS:
        return f"the record of {key} lacks {', '.join(sorted(RECORD_FIELDS - record.keys()))}"
    if record["key"] != key:
        return f"the record stored as {key} has key {record['key']!r}"
    label = record["label"]
    if not (isinstance(label, str) and label.isascii() and label.isdigit()):
        return f"the record of {key} has label {label!r}, not a string of digits"
    for name in ("boxes", "indices"):
        if not isinstance(record[name], list) or len(record[name]) != len(label):
            return f"the record of {key} has label {label!r} but not one {name} entry per digit"
    if not all(isinstance(box, list) and len(box) == 4 for box in record["boxes"]):
        return f"the record of {key} has boxes that are not [x0, y0, x1, y1]"
    if not (isinstance(record["width"], int) and record["width"] >= 1):
        return f"the record of {key} has width {record['width']!r}"
    return None


def image_header(data: bytes, encoding: str) -> tuple[ImageKind, int] | str:
    """The kind and width of an image file from its header, or why ``data`` is not a whole ``encoding``
    file hng writes: a PNG (8-bit grey or RGB, ending with its IEND chunk) or a baseline JPEG (8-bit, 1
    or 3 components, ending with its EOI marker).

    Reads only the header and the end marker, so checking a shard's thousands of images stays cheap;
    decoding (``read``) checks the rest.
    """
    if encoding == "png":
        if not data.startswith(_PNG_SIGNATURE) or data[12:16] != b"IHDR" or len(data) < 45:
            return "not a PNG file"
        if not data.endswith(_PNG_END):
            return "truncated PNG (no IEND chunk at its end)"
        bit_depth, colour_type = data[24], data[25]
        channels = next((c for c, t in _PNG_COLOUR_TYPES.items() if t == colour_type), None)
        if bit_depth != 8 or channels is None:
            return f"PNG is not 8-bit grey or RGB (bit depth {bit_depth}, colour type {colour_type})"
        kind = ImageKind("png", int.from_bytes(data[20:24], "big"), channels)
        return kind, int.from_bytes(data[16:20], "big")
    if encoding == "jpeg":
        frame = jpeg_frame(data)
        if frame is None:
            return "not a JPEG file (no SOI marker and frame header)"
        if not data.endswith(_JPEG_END):
            return "truncated JPEG (no EOI marker at its end)"
        if frame.precision != 8 or frame.components not in _CHANNEL_NAMES:
            return f"JPEG is not 8-bit grey or RGB ({frame.precision}-bit, {frame.components} components)"
        return ImageKind("jpeg", frame.height, frame.components), frame.width
    raise ValueError(f"unknown image encoding {encoding!r}")


def png_problem(data: bytes, width: int, height: int = HEIGHT, channels: int = 1) -> str | None:
    """Why ``data`` is not a whole 8-bit PNG of ``height`` x ``width``, grey or RGB by ``channels`` (None
    if it is one): masks, always grey PNGs, are checked with it."""
    header = image_header(data, "png")
    if isinstance(header, str):
        return header
    kind, png_width = header
    if (png_width, kind.height) != (width, height):
        return f"PNG is {png_width} x {kind.height}, its record says {width} x {height}"
    if kind.channels != channels:
        return f"PNG is {_CHANNEL_NAMES[kind.channels]}, not {_CHANNEL_NAMES[channels]}"
    return None


class ImageFiles:
    """The checks of a shard's image files, as its reader meets them (one instance per shard).

    Each file must be whole (``image_header``) and of its record's width; its encoding must be the one
    its name's suffix says (.png or .jpg) and its bytes hold. The first file sets the shard's ``kind``
    (encoding, height, channels): every other must be of that kind. Masks are grey PNGs of their
    image's size.
    """

    def __init__(self) -> None:
        self.kind: ImageKind | None = None

    def problem(self, data: bytes, width: int, name: str | None = None) -> str | None:
        """Why image file ``data`` (called ``name``, whose suffix gives the encoding; without a name, its
        bytes do) is not one of this shard's (None if it is)."""
        encoding = sniff_encoding(data) if name is None else ENCODING_OF_SUFFIX.get(Path(name).suffix)
        if encoding is None:
            return "not a PNG or JPEG file" if name is None else f"{name} is not a .png or .jpg file"
        header = image_header(data, encoding)
        if isinstance(header, str):
            return header
        kind, file_width = header
        if self.kind is None:
            self.kind = kind
        if file_width != width:
            return f"{kind.encoding.upper()} is {file_width} wide, its record says {width}"
        if kind != self.kind:
            first = self.kind
            return (
                f"{kind.encoding.upper()} {_CHANNEL_NAMES[kind.channels]} {kind.height} high, where the "
                f"shard's first image is {first.encoding.upper()} {_CHANNEL_NAMES[first.channels]} "
                f"{first.height} high"
            )
        return None

    def mask_problem(self, data: bytes, width: int) -> str | None:
        """Why mask file ``data`` is not a grey PNG the size of its image (checked first)."""
        return png_problem(data, width, HEIGHT if self.kind is None else self.kind.height)


def shard_from_records(
    index: int,
    start: int,
    records: Sequence[dict[str, Any]],
    images: Sequence[np.ndarray],
    rows: Sequence[int] | None = None,
    masks: Sequence[np.ndarray] | None = None,
    encoding: str = "png",
) -> Shard:
    """Rebuild a ``Shard``'s arrays from per-image records (``Shard.record``), decoded images and (if
    the shard holds them) decoded masks; ``encoding``: that of the files they were decoded from.

    The first image gives the height and channels (grey (H, W) or RGB (H, W, 3)); every image must share
    them. Padding follows the npz layout: images with 0 up to the widest, boxes and indices with ``PAD``
    up to the longest label. Raises ValueError if a record disagrees with its image or the shard's place.
    The JPEG quality range is not stored in the files: the Shard keeps the default.
    """
    n = len(records)
    if len(images) != n:
        raise ValueError(f"{n} records but {len(images)} images")
    labels = [str(r["label"]) for r in records]
    longest = max((len(label) for label in labels), default=1)
    widths = np.array([int(r["width"]) for r in records], dtype=np.int32)
    height, pixel = (images[0].shape[0], images[0].shape[2:]) if n else (HEIGHT, ())
    out_images = np.zeros((n, height, int(widths.max(initial=0)), *pixel), dtype=np.uint8)
    out_masks = None if masks is None else np.zeros(out_images.shape[:3], dtype=np.uint8)
    if masks is not None and len(masks) != n:
        raise ValueError(f"{n} records but {len(masks)} masks")
    boxes = np.full((n, longest, 4), PAD, dtype=np.int32)
    indices = np.full((n, longest), PAD, dtype=np.int32)
    splits = {str(r["split"]) for r in records}
    if len(splits) > 1:
        raise ValueError(f"images of several splits in one shard: {sorted(splits)}")
    for i, (record, image, label) in enumerate(zip(records, images, labels, strict=True)):
        key = f"{start + (i if rows is None else rows[i]):09d}"
        if record["key"] != key:
            raise ValueError(f"image {i} has key {record['key']!r}, expected {key!r}")
        if image.shape != (height, int(widths[i]), *pixel):
            want = (height, int(widths[i]), *pixel)
            raise ValueError(f"image {key} is {image.shape}, its record and the first image say {want}")
        n_digits = len(label)
        if len(record["boxes"]) != n_digits or len(record["indices"]) != n_digits:
            raise ValueError(f"image {key}: label {label!r} but {len(record['boxes'])} boxes")
        out_images[i, :, : image.shape[1]] = image
        if out_masks is not None and masks is not None:
            if masks[i].shape != image.shape[:2]:
                raise ValueError(f"the mask of image {key} is {masks[i].shape}, its image {image.shape}")
            if int(masks[i].max(initial=0)) > len(label):
                raise ValueError(f"the mask of image {key} holds labels past its {len(label)} digits")
            out_masks[i, :, : image.shape[1]] = masks[i]
        if n_digits:
            boxes[i, :n_digits] = record["boxes"]
            indices[i, :n_digits] = record["indices"]
    return Shard(
        index=index,
        start=start,
        images=out_images,
        widths=widths,
        labels=np.array(labels, dtype=f"<U{longest}"),
        lengths=np.array([len(label) for label in labels], dtype=np.int32),
        boxes=boxes,
        seeds=np.array([int(r["seed"]) for r in records], dtype=np.int64),
        indices=indices,
        split=splits.pop() if splits else "",
        masks=out_masks,
        encoding=encoding,
    )


def shard_from_scan(index: int, start: int, scan: Scan, rows: Sequence[int] | None = None) -> Shard:
    """``shard_from_records`` of a shard's (or some rows') scan."""
    encoding = "png" if scan.kind is None else scan.kind.encoding
    return shard_from_records(
        index, start, scan.records, scan.images, rows=rows, masks=scan.masks, encoding=encoding
    )


NUMBER_CLASS = 10  # the class of a whole number's object (`objects` "number" or "both"); digits are 0-9
CLASS_NAMES = (*"0123456789", "number")


class ImageObject(NamedTuple):
    """One object of an image: a digit (category 0-9) or the whole number (``NUMBER_CLASS``); its box
    in pixels, half-open; ``label`` is the digit's value in the image's mask (1-based), 0 for a number."""

    category: int
    x0: int
    y0: int
    x1: int
    y1: int
    label: int


def image_objects(shard: Shard, i: int, objects: str) -> list[ImageObject]:
    """Image i's objects: its digits (``objects`` "digits" or "both"; a digit squeezed or augmented out
    of sight has no pixel and no object), then the whole number, the union of its digits' boxes
    ("number" or "both")."""
    n = int(shard.lengths[i])
    label = str(shard.labels[i])
    digits = [
        ImageObject(int(label[k]), box[0], box[1], box[2], box[3], label=k + 1)
        for k, box in enumerate(shard.boxes[i, :n].tolist())
        if box[2] > box[0] and box[3] > box[1]
    ]
    out = digits if objects in ("digits", "both") else []
    if objects in ("number", "both") and digits:
        x0 = min(d.x0 for d in digits)
        y0 = min(d.y0 for d in digits)
        x1 = max(d.x1 for d in digits)
        y1 = max(d.y1 for d in digits)
        out = [*out, ImageObject(NUMBER_CLASS, x0, y0, x1, y1, label=0)]
    return out


def object_mask(shard: Shard, i: int, obj: ImageObject) -> np.ndarray:
    """The boolean mask of one of ``image_objects``: its digit's pixels, or all the number's."""
    mask = shard.mask(i)
    return mask > 0 if obj.label == 0 else mask == obj.label


# The formats import ShardFormat and the helpers above, so they come after them.
from hng.datasets.formats.coco import CocoFormat  # noqa: E402
from hng.datasets.formats.doctr import DoctrFormat  # noqa: E402
from hng.datasets.formats.imagefolder import ImageFolderFormat  # noqa: E402
from hng.datasets.formats.lmdb_format import LmdbFormat  # noqa: E402
from hng.datasets.formats.npz import NpzFormat  # noqa: E402
from hng.datasets.formats.paddleocr import PaddleOcrFormat  # noqa: E402
from hng.datasets.formats.voc import VocFormat  # noqa: E402
from hng.datasets.formats.webdataset import WebDatasetFormat  # noqa: E402
from hng.datasets.formats.yolo import YoloFormat  # noqa: E402

FORMATS: dict[str, ShardFormat] = {
    fmt.name: fmt
    for fmt in (
        NpzFormat(),
        WebDatasetFormat(),
        ImageFolderFormat(),
        YoloFormat(),
        CocoFormat(),
        VocFormat(),
        PaddleOcrFormat(),
        LmdbFormat(),
        DoctrFormat(),
    )
}
DEFAULT_FORMAT = "npz"


def get_format(name: str) -> ShardFormat:
    """The format called ``name`` (unconfigured: no masks, digit objects); ValueError listing the choices."""
    try:
        return FORMATS[name]
    except (KeyError, TypeError):
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, got {name!r}") from None


def format_for(spec: DatasetSpec) -> ShardFormat:
    """The format of a dataset's spec, configured with its options."""
    return get_format(spec.format).configure(spec)


__all__ = ["DEFAULT_FORMAT", "FORMATS", "ShardFormat", "format_for", "get_format"]
