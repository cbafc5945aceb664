"""The npz shard format (the default): ``shard-00000.npz``, the shard's arrays as they are.

Members, in this order: ``images`` uint8 (N, H, W) grey or (N, H, W, 3) RGB (H: the spec's height, 28 by
default) padded with 0 to the widest image, ``widths`` int32 (N,), ``labels`` '<U{longest}' (N,),
``lengths`` int32 (N,), ``boxes`` int32 (N, longest, 4) and ``indices`` int32 (N, longest) padded with
-1, ``seeds`` int64 (N,), and with ``--masks`` ``masks`` uint8 (N, H, W): 0 background, k the k-th
digit's ink (``hng.core.masks``). The pixels are stored as they are, never encoded (so never as JPEG:
the spec refuses ``image_encoding`` jpeg with npz, and ``write`` a Shard whose encoding is not png).
``np.load(path, allow_pickle=False)`` opens it. The zip is written as hng writes its MNIST npz
(hng.mnist.npzfile): fixed 1980 timestamps, Unix attributes, STORED unless ``compress`` (then DEFLATED),
so the same arrays always give the same bytes.

The split is not stored (the dataset's manifest holds it): ``read`` returns ``split=""``.
"""

from __future__ import annotations

import struct
import zipfile
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

import numpy as np

from hng.datasets.formats import ARRAY_NAMES, MASKS, ShardFormat, arrays_problem, shard_arrays
from hng.datasets.shard import Shard
from hng.mnist.npzfile import _zip_info


class NpzFormat(ShardFormat):
    """One npz file per shard, holding the ``Shard``'s arrays (see the module docstring)."""

    name = "npz"
    encodes_images = False  # the pixels as arrays
    suffix = ".npz"
    holds_masks = True

    def write(self, shard: Shard, path: Path, *, compress: bool = False) -> None:
        if shard.encoding != "png":
            raise ValueError(
                f"shard {shard.index} cannot be written in the npz format: it stores the pixels as they "
                f"are, not {shard.encoding} files (image_encoding {shard.encoding} needs another format)"
            )
        self._check(shard)
        # "x": the caller guarantees a new path; failing beats overwriting if it is wrong.
        with open(path, "xb") as fh, zipfile.ZipFile(fh, "w") as zf:
            for name, array in shard_arrays(shard).items():
                array = np.ascontiguousarray(array)  # a view, no copy, for the arrays a Shard holds
                info = _zip_info(f"{name}.npy", compress)
                with zf.open(info, "w", force_zip64=array.nbytes > 2**31) as member:
                    _write_npy(member, array)

    def _load(self, path: Path) -> dict[str, np.ndarray]:
        path = Path(path)
        try:
            members, arrays = _read_members(path)
        except (FileNotFoundError, IsADirectoryError, PermissionError):
            raise
        except (zipfile.BadZipFile, EOFError, ValueError, OSError, KeyError, zlib.error) as exc:
            raise self._bad(path, f"{type(exc).__name__}: {exc}") from exc
        if members is None:
            raise self._bad(path, "it holds a single .npy array, not an npz archive")
        if arrays is None:
            held = ", ".join(members) or "nothing"
            raise self._bad(path, f"it holds {held}; expected {', '.join(ARRAY_NAMES)}")
        problem = arrays_problem(arrays)
        if problem:
            raise self._bad(path, problem)
        return arrays

    def count(self, path: Path) -> int:
        # Reads every member, so zip's CRCs vouch for all the bytes, not just the directory.
        return int(self._load(path)["labels"].shape[0])

    def read(self, path: Path, index: int, start: int) -> Shard:
        arrays: dict[str, Any] = self._load(path)  # the arrays only: encoding keeps its default
        return Shard(index=index, start=start, split="", **arrays)

    def read_rows(self, path: Path, index: int, start: int, rows: Sequence[int]) -> Shard:
        """Only the images ``rows``: the pixels of those rows read where they lie in the (uncompressed)
        archive, the small arrays whole. A compressed or unexpected archive is read whole (and refused
        as ``read`` refuses it)."""
        try:
            arrays: dict[str, Any] | None = _read_stored_rows(Path(path), np.asarray(rows, dtype=np.int64))
        except (zipfile.BadZipFile, EOFError, ValueError, OSError, KeyError, zlib.error):
            arrays = None
        if arrays is None or arrays_problem(arrays):
            return super().read_rows(path, index, start, rows)
        return Shard(index=index, start=start, split="", **arrays).take(np.arange(len(rows)))


def _write_npy(member: IO[bytes], array: np.ndarray) -> None:
    """``np.lib.format.write_array``'s bytes (a version 1.0 header, as it picks for these arrays), the data
    handed over as it is: numpy copies a file-like object's data out 16 MB at a time, which for a shard's
    pixels costs a copy of them all in memory not touched before."""
    if array.dtype.hasobject or not array.flags.c_contiguous or array.size == 0:
        np.lib.format.write_array(member, array, allow_pickle=False)
        return
    np.lib.format.write_array_header_1_0(member, np.lib.format.header_data_from_array_1_0(array))
    member.write(array.reshape(-1).view(np.uint8).data)


def _read_members(path: Path) -> tuple[list[str] | None, dict[str, np.ndarray] | None]:
    """The npz's member names and, if they are the shard's, its arrays (never unpickling)."""
    # Owning the handle: np.load(path) leaks it when the zip directory is corrupt.
    with open(path, "rb") as fh:
        loaded = np.load(fh, allow_pickle=False)
        if not isinstance(loaded, np.lib.npyio.NpzFile):
            return None, None
        with loaded as npz:
            names = list(ARRAY_NAMES) + ([MASKS] if MASKS in npz.files else [])
            if sorted(npz.files) != sorted(names):
                return npz.files, None
            return npz.files, {name: npz[name] for name in names}


_PIXEL_MEMBERS = ("images", MASKS)
_LOCAL_HEADER = struct.Struct("<4s22xHH")  # signature, then the name's and the extra field's lengths


def _read_stored_rows(path: Path, rows: np.ndarray) -> dict[str, np.ndarray] | None:
    """The shard's arrays with only ``rows`` of the pixel arrays (``images``, ``masks``), those read in
    place from stored members; None when a pixel member is compressed or its header is not a plain
    uint8 array."""
    with open(path, "rb") as fh, zipfile.ZipFile(fh) as zf:
        names = {info.filename.removesuffix(".npy"): info for info in zf.infolist()}
        expected = set(ARRAY_NAMES) | ({MASKS} if MASKS in names else set())
        if set(names) != expected:
            return None
        arrays: dict[str, np.ndarray] = {}
        for name, info in names.items():
            if name not in _PIXEL_MEMBERS:
                with zf.open(info) as member:
                    arrays[name] = np.lib.format.read_array(member, allow_pickle=False)
                continue
            if info.compress_type != zipfile.ZIP_STORED:
                return None
            fh.seek(info.header_offset)
            signature, name_length, extra_length = _LOCAL_HEADER.unpack(fh.read(_LOCAL_HEADER.size))
            if signature != b"PK\x03\x04":
                return None
            member_start = info.header_offset + _LOCAL_HEADER.size + name_length + extra_length
            fh.seek(member_start)
            version = np.lib.format.read_magic(fh)
            read_header = (
                np.lib.format.read_array_header_1_0
                if version == (1, 0)
                else np.lib.format.read_array_header_2_0
            )
            shape, fortran_order, dtype = read_header(fh)
            offset = fh.tell()
            if (
                fortran_order
                or dtype != np.uint8
                or len(shape) < 3
                or offset - member_start + int(np.prod(shape)) != info.file_size
                or (rows.size and not 0 <= int(rows.min()) <= int(rows.max()) < shape[0])
            ):
                return None
            pixels = np.memmap(fh, dtype=np.uint8, mode="r", offset=offset, shape=tuple(shape))
            arrays[name] = np.array(pixels[rows])
            del pixels
        return {name: arrays[name] if name in _PIXEL_MEMBERS else arrays[name][rows] for name in arrays}
