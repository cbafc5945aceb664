"""PNG encoding (8-bit greyscale, exact round trip) and task ids (ULID layout, Crockford base32)."""

import struct
import time
import zlib

import cv2
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from hng.core.ids import new_task_id, task_id_time_ms
from hng.core.png import decode_png, encode_png
from tests.support.hypothesis import examples

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def ihdr(png: bytes) -> dict:
    length, kind = struct.unpack(">I4s", png[8:16])
    assert (length, kind) == (13, b"IHDR")
    width, height, depth, colour, compression, filtering, interlace = struct.unpack(">IIBBBBB", png[16:29])
    assert zlib.crc32(png[12:29]) == struct.unpack(">I", png[29:33])[0]
    assert (compression, filtering) == (0, 0)  # the only methods PNG defines
    return {"width": width, "height": height, "depth": depth, "colour": colour, "interlace": interlace}


# --- PNG ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(28, 140), (28, 1), (1, 1), (28, 4096), (100, 3)])
def test_png_round_trip_is_exact(shape):
    image = np.random.default_rng(shape[1]).integers(0, 256, shape, dtype=np.uint8)
    png = encode_png(image)
    assert isinstance(png, bytes) and png.startswith(PNG_SIGNATURE)
    decoded = decode_png(png)
    assert decoded.dtype == np.uint8 and decoded.shape == shape
    np.testing.assert_array_equal(decoded, image)


@examples(0.5)
@given(height=st.integers(1, 40), width=st.integers(1, 200), seed=st.integers(0, 2**32 - 1))
def test_png_round_trip_property(height, width, seed):
    image = np.random.default_rng(seed).integers(0, 256, (height, width), dtype=np.uint8)
    np.testing.assert_array_equal(decode_png(encode_png(image)), image)


def test_png_is_8_bit_greyscale():
    image = np.zeros((28, 140), np.uint8)
    image[5:20, 10:30] = 255
    header = ihdr(encode_png(image))
    assert header == {"width": 140, "height": 28, "depth": 8, "colour": 0, "interlace": 0}


def test_png_of_a_generated_image(generator):
    result = generator.generate("2026", image_width=140, seed=1, augment="mild")
    png = result.to_png()
    assert ihdr(png)["depth"] == 8 and ihdr(png)["colour"] == 0
    assert (ihdr(png)["width"], ihdr(png)["height"]) == (140, 28)
    np.testing.assert_array_equal(decode_png(png), result.image)
    # Any PNG reader sees the same pixels.
    np.testing.assert_array_equal(
        cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_UNCHANGED), result.image
    )


def test_encoding_is_deterministic_and_lossless():
    image = np.random.default_rng(3).integers(0, 256, (28, 90), dtype=np.uint8)
    png = encode_png(image)
    assert png == encode_png(image.copy())
    np.testing.assert_array_equal(cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_UNCHANGED), image)


@pytest.mark.parametrize(
    "image",
    [
        np.zeros((28, 28), np.float32),
        np.zeros((28, 28), np.uint16),
        np.zeros((28, 28, 4), np.uint8),
        np.zeros((28,), np.uint8),
    ],
)
def test_encode_rejects_other_arrays(image):
    with pytest.raises(ValueError, match=r"^image must be a 2-D or \(H, W, 3\) uint8 array"):
        encode_png(image)


def test_encode_writes_colour_images_in_opencvs_channel_order():
    image = np.zeros((4, 5, 3), np.uint8)
    image[1, 2] = (255, 0, 0)  # blue, in BGR
    decoded = cv2.imdecode(np.frombuffer(encode_png(image), np.uint8), cv2.IMREAD_UNCHANGED)
    np.testing.assert_array_equal(decoded, image)
    with pytest.raises(ValueError, match="expected a greyscale PNG"):
        decode_png(encode_png(image))


@pytest.mark.parametrize(
    "data",
    [b"", b"not a png", b"GIF89a" + b"\x00" * 40, b"\xff\xd8\xff\xe0" + b"\x00" * 40],
)
def test_decode_rejects_what_is_not_png(data):
    with pytest.raises(ValueError, match="not a PNG"):
        decode_png(data)


def test_decode_rejects_a_truncated_png():
    png = encode_png(np.random.default_rng(0).integers(0, 256, (28, 60), dtype=np.uint8))
    with pytest.raises(ValueError):
        decode_png(png[:40])
    with pytest.raises(ValueError):
        decode_png(PNG_SIGNATURE + b"\x00" * 30)


def test_decode_rejects_a_colour_png():
    ok, colour = cv2.imencode(".png", np.zeros((4, 5, 3), np.uint8))
    assert ok
    with pytest.raises(ValueError, match="greyscale"):
        decode_png(colour.tobytes())


# --- task ids ----------------------------------------------------------------------------------------


def test_task_id_format():
    for _ in range(200):
        task_id = new_task_id()
        assert len(task_id) == 26
        assert set(task_id) <= set(CROCKFORD)
        assert not set(task_id) & set("ILOU")


def test_task_ids_are_unique():
    ids = [new_task_id() for _ in range(10_000)]
    assert len(set(ids)) == 10_000
    same_ms = [new_task_id(now_ms=1_700_000_000_000) for _ in range(10_000)]
    assert len(set(same_ms)) == 10_000  # 80 random bits, not a counter


def test_task_ids_sort_by_time():
    rng = np.random.default_rng(0)
    times = np.cumsum(rng.integers(1, 5000, 1000)) + 1_600_000_000_000
    times = np.concatenate([times, [2**48 - 1]]).tolist()
    times[5] = times[4] + 1  # neighbours one millisecond apart
    ids = [new_task_id(now_ms=t) for t in times]
    assert sorted(ids) == ids


@pytest.mark.parametrize("ms", [0, 1, 31, 32, 1_700_000_000_123, 2**48 - 1])
def test_task_id_time_round_trip(ms):
    assert task_id_time_ms(new_task_id(now_ms=ms)) == ms


def test_task_id_time_layout():
    """The first 10 characters are the 48-bit millisecond time, as in a ULID."""
    assert new_task_id(now_ms=0)[:10] == "0000000000"
    assert new_task_id(now_ms=1)[:10] == "0000000001"
    assert new_task_id(now_ms=32)[:10] == "0000000010"
    assert new_task_id(now_ms=2**48 - 1)[:10] == "7ZZZZZZZZZ"


def test_task_id_default_time_is_now():
    before = time.time_ns() // 1_000_000
    task_id = new_task_id()
    after = time.time_ns() // 1_000_000
    assert before <= task_id_time_ms(task_id) <= after


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "0" * 25,
        "0" * 27,
        "01ARZ3NDEKTSV4RRFFQ69G5FA" + "I",
        "01arz3ndektsv4rrffq69g5fav",
        "01ARZ3NDEK-SV4RRFFQ69G5FAV",
    ],
)
def test_task_id_time_rejects_malformed_ids(bad):
    with pytest.raises(ValueError, match="task id must be 26 Crockford base32 characters"):
        task_id_time_ms(bad)
