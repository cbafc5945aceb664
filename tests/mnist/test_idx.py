import gzip
import struct

import numpy as np
import pytest

from hng.mnist.idx import decompress_if_gzip, parse_idx, read_idx

TYPE_CODES = {np.dtype(np.uint8): 0x08, np.dtype(np.int8): 0x09, np.dtype(">i2"): 0x0B, np.dtype(">i4"): 0x0C}


def idx_bytes(array: np.ndarray, type_code: int = 0x08) -> bytes:
    header = bytes([0, 0, type_code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.tobytes()


@pytest.fixture
def images() -> np.ndarray:
    return np.arange(3 * 28 * 28, dtype=np.uint32).reshape(3, 28, 28).astype(np.uint8)


def test_parses_uint8_images(images):
    parsed = parse_idx(idx_bytes(images))
    assert parsed.dtype == np.uint8
    assert parsed.shape == (3, 28, 28)
    np.testing.assert_array_equal(parsed, images)
    assert parsed.flags.writeable


def test_parses_big_endian_ints_to_native_order():
    values = np.array([[1, -2, 70000], [3, 4, -5]], dtype=">i4")
    parsed = parse_idx(idx_bytes(values, 0x0C))
    assert parsed.dtype == np.dtype("=i4")
    np.testing.assert_array_equal(parsed, [[1, -2, 70000], [3, 4, -5]])


@pytest.mark.parametrize("compress", [False, True])
def test_read_idx_gzip_or_raw_by_content(tmp_path, images, compress):
    data = idx_bytes(images)
    path = tmp_path / "train-images-idx3-ubyte"  # no .gz suffix: gzip is detected from the bytes
    path.write_bytes(gzip.compress(data) if compress else data)
    np.testing.assert_array_equal(read_idx(path), images)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\x00\x00", "truncated"),
        (b"\x01\x00\x08\x01" + struct.pack(">I", 1) + b"\x05", "magic number"),
        (b"\x00\x00\x07\x01" + struct.pack(">I", 1) + b"\x05", "type code"),
        (b"\x00\x00\x08\x00", "0 dimensions"),
        (b"\x00\x00\x08\x03" + struct.pack(">I", 10), "header needs 16"),
    ],
)
def test_rejects_bad_headers(data, message):
    with pytest.raises(ValueError, match=message):
        parse_idx(data, name="f.idx")


def test_rejects_truncated_data(images):
    data = idx_bytes(images)
    with pytest.raises(ValueError, match=r"f\.idx: truncated IDX file"):
        parse_idx(data[:-1], name="f.idx")


def test_rejects_trailing_bytes(images):
    with pytest.raises(ValueError, match="trailing bytes"):
        parse_idx(idx_bytes(images) + b"\x00")


def test_truncated_gzip_file_gives_value_error(tmp_path, images):
    blob = gzip.compress(idx_bytes(images))
    path = tmp_path / "t10k-images-idx3-ubyte.gz"
    path.write_bytes(blob[: len(blob) // 2])
    with pytest.raises(ValueError, match=r"t10k-images-idx3-ubyte\.gz: corrupt or truncated gzip"):
        read_idx(path)


def test_corrupt_gzip_gives_value_error():
    blob = bytearray(gzip.compress(b"\x00\x00\x08\x01" + struct.pack(">I", 4) + b"abcd"))
    blob[12] ^= 0xFF
    with pytest.raises(ValueError, match="corrupt or truncated gzip"):
        decompress_if_gzip(bytes(blob))


def test_plain_data_passes_through():
    assert decompress_if_gzip(b"\x00\x00\x08\x01") == b"\x00\x00\x08\x01"
