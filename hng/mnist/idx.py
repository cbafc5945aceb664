"""Parse IDX files, the format of the original MNIST distribution (http://yann.lecun.com/exdb/mnist/).

Layout: two zero bytes, a type code, the number of dimensions, then one big-endian uint32 per dimension,
then the values in big-endian C order. Files may be gzip-compressed (detected by the gzip magic bytes,
not the file name).
"""

from __future__ import annotations

import gzip
import os
import struct
import zlib
from pathlib import Path

import numpy as np

from hng.errors import InvalidData

GZIP_MAGIC = b"\x1f\x8b"

# IDX type code -> big-endian numpy dtype.
IDX_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


def idx_header(array: np.ndarray, *, name: str = "array") -> bytes:
    """The IDX header of `array`: two zero bytes, type code, rank, one big-endian uint32 per dimension.

    Followed by the array's big-endian bytes, it makes the IDX file; for uint8 (all of MNIST) those are
    its plain bytes. Raises ValueError naming `name` for a dtype IDX cannot hold or a rank above 255.
    """
    codes = {dtype.newbyteorder("="): code for code, dtype in IDX_DTYPES.items()}
    code = codes.get(array.dtype.newbyteorder("="))
    if code is None:
        raise InvalidData(f"{name}: IDX cannot hold dtype {array.dtype}")
    if not 1 <= array.ndim <= 255 or any(n >= 2**32 for n in array.shape):
        raise InvalidData(f"{name}: IDX cannot hold shape {array.shape}")
    return bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)


def parse_idx(data: bytes, *, name: str = "IDX data") -> np.ndarray:
    """Parse the bytes of an uncompressed IDX file into a native-endian array.

    Raises ValueError naming `name` if the magic number, the type code or the length is wrong.
    """
    if len(data) < 4:
        raise InvalidData(f"{name}: truncated IDX file: {len(data)} bytes, the header alone needs 4")
    zero, type_code, ndim = data[:2], data[2], data[3]
    if zero != b"\x00\x00":
        raise InvalidData(
            f"{name}: not an IDX file: magic number must start with two zero bytes, got {zero!r}"
        )
    if type_code not in IDX_DTYPES:
        raise InvalidData(f"{name}: unknown IDX type code 0x{type_code:02X}")
    if ndim == 0:
        raise InvalidData(f"{name}: IDX file declares 0 dimensions")
    header_len = 4 + 4 * ndim
    if len(data) < header_len:
        raise InvalidData(f"{name}: truncated IDX file: {len(data)} bytes, the header needs {header_len}")
    shape = struct.unpack(f">{ndim}I", data[4:header_len])
    dtype = IDX_DTYPES[type_code]
    expected = header_len + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(data) < expected:
        raise InvalidData(
            f"{name}: truncated IDX file: {len(data)} bytes, shape {shape} of {dtype.name} needs {expected}"
        )
    if len(data) > expected:
        raise InvalidData(
            f"{name}: corrupt IDX file: {len(data) - expected} trailing bytes after shape {shape} data"
        )
    array = np.frombuffer(data, dtype=dtype, offset=header_len).reshape(shape)
    return array.astype(dtype.newbyteorder("="), copy=True)


def decompress_if_gzip(data: bytes, *, name: str = "data") -> bytes:
    """Return `data` gunzipped if it starts with the gzip magic, else unchanged."""
    if not data.startswith(GZIP_MAGIC):
        return data
    try:
        return gzip.decompress(data)
    except (EOFError, OSError, zlib.error) as exc:  # gzip.BadGzipFile is an OSError
        raise InvalidData(f"{name}: corrupt or truncated gzip data: {exc}") from exc


def read_idx(path: str | os.PathLike[str]) -> np.ndarray:
    """Read an IDX file, gzip-compressed or raw, into a native-endian array."""
    path = Path(path)
    data = path.read_bytes()
    return parse_idx(decompress_if_gzip(data, name=str(path)), name=str(path))
