"""The webdataset shard format: ``shard-00000.tar``, three members per image (four with masks), in order.

For image i with key ``k`` (``Shard.key(i)``, its 9-digit dataset-wide index): the image, ``k.png``
(8-bit grey or RGB, H x width, ``Shard.encoded_image``) or with ``--image-encoding jpeg`` ``k.jpg``,
``k.json`` (``Shard.record(i)``: key, label, width, boxes, seed, indices, split; sorted keys, compact),
``k.txt`` (the label, UTF-8, no newline) and, with ``--masks``, ``k.mask.png`` (the mask: 8-bit
greyscale whose values are the digit labels, 0 background; always PNG, lossless). The ``webdataset``
package groups the members into one sample by key (the mask as ``mask.png``) and picks its decoder by the
extension; Hugging Face ``datasets.load_dataset("webdataset", ...)`` gives columns ``png`` or ``jpg``
(Image), ``json`` (a struct: a dict per row), ``txt`` (str), ``__key__`` and ``__url__``, shards in the
order of ``data_files``. Both need Pillow to decode the images (``webdataset``'s ``decode("l8")`` gives
grey uint8 arrays, ``"rgb8"`` RGB ones; ``"l"`` gives float32 in [0, 1] and ``"pil"`` a PIL image).
``load_dataset(<dataset root>)`` without a builder name guesses it from the files' extensions, and with a
single shard beside manifest.json and contact_sheet.png it guesses wrong; a ``configs`` entry in the
README's YAML with ``data_files: shard-*.tar`` settles it.

The tar is POSIX ustar, byte for byte what ``tarfile`` writes with ``USTAR_FORMAT`` (member names are
short, so no pax headers are ever needed): every member a regular file of mode 0644, mtime 0, uid/gid 0
and empty owner names, so its bytes depend only on the shard's arrays (and on the PNG encoder of the
installed OpenCV).
"""

from __future__ import annotations

import json
import re
import tarfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from hng.core.encoding import decode_image
from hng.core.png import decode_png, encode_png
from hng.datasets.formats import (
    ImageFiles,
    RecordFormat,
    Scan,
    ShardProblem,
    record_problem,
    shard_from_scan,
)
from hng.datasets.shard import Shard

_MEMBER = re.compile(r"(\d{9,})\.(png|jpg|json|txt|mask\.png)")
_IMAGE_EXTENSIONS = ("png", "jpg")  # the image's member: KEY.png, or KEY.jpg with JPEG
_MASK = "mask.png"
_BLOCK = tarfile.BLOCKSIZE


def _ustar_header_template() -> bytes:
    info = tarfile.TarInfo("x")
    info.mtime, info.mode, info.uid, info.gid, info.uname, info.gname = 0, 0o644, 0, 0, "", ""
    return info.tobuf(format=tarfile.USTAR_FORMAT)


# The header of every member (ustar: "ustar\0" magic, version "00") but for its name, size and checksum.
# Filling those in directly is 10 times faster than tarfile.addfile (5 against 50 µs a member, that is
# more than the PNG encoding); the test checks the bytes equal what tarfile writes.
_HEADER = _ustar_header_template()
_NAME, _SIZE, _CHKSUM = slice(0, 100), slice(124, 136), slice(148, 156)
_BETWEEN_NAME_AND_SIZE = _HEADER[100:124]
_BETWEEN_SIZE_AND_CHKSUM = _HEADER[136:148]
_AFTER_CHKSUM = _HEADER[156:]
# The checksum is the sum of the header's bytes with its own field as 8 spaces: all but the name's and
# the size's bytes are the template's.
_FIXED_SUM = sum(_BETWEEN_NAME_AND_SIZE) + sum(_BETWEEN_SIZE_AND_CHKSUM) + 8 * 32 + sum(_AFTER_CHKSUM)


def tar_member(name: str, data: bytes) -> bytes:
    """One tar member as ``tarfile`` (USTAR_FORMAT) writes it: 512-byte header, data, zero padding."""
    encoded = name.encode("ascii")
    if len(encoded) > 100:
        raise ValueError(f"tar member name longer than 100 bytes: {name!r}")
    size = b"%011o\0" % len(data)
    checksum = b"%06o\0 " % (_FIXED_SUM + sum(encoded) + sum(size))
    return b"".join(
        (
            encoded.ljust(100, b"\0"),
            _BETWEEN_NAME_AND_SIZE,
            size,
            _BETWEEN_SIZE_AND_CHKSUM,
            checksum,
            _AFTER_CHKSUM,
            data,
            bytes(-len(data) % _BLOCK),
        )
    )


def tar_end(offset: int) -> bytes:
    """The end of a tar whose members take ``offset`` bytes: two zero blocks, then zeros up to a record."""
    end = offset + 2 * _BLOCK
    return bytes(2 * _BLOCK + (-end % tarfile.RECORDSIZE))


def ustar_members(data: bytes) -> Iterator[tuple[str, int, int]]:
    """(name, data offset, size) of each member of a ustar archive hng wrote, up to its end marker.

    Reads the name and size fields of each header directly: 50 times faster than ``tarfile``, whose
    header parsing takes 70 µs a member (a 10,000-image shard has 30,000 of them). For reading a sample
    of a shard whose checksum vouches for it; ``count`` and ``read`` check every header with ``tarfile``.
    """
    offset = 0
    while offset + _BLOCK <= len(data) and data[offset] != 0:  # a zero block ends the archive
        name = data[offset : offset + 100].split(b"\0", 1)[0].decode("ascii")
        field = data[offset + 124 : offset + 136].split(b"\0", 1)[0].strip()
        if not field or field.strip(b"01234567"):
            raise ShardProblem(f"member header at byte {offset} has no octal size")
        size = int(field, 8)
        if offset + _BLOCK + size > len(data):
            raise ShardProblem(f"member {name!r} runs past the end of the file (truncated?)")
        yield name, offset + _BLOCK, size
        offset += _BLOCK + -(-size // _BLOCK) * _BLOCK


def record_json(record: dict[str, Any]) -> bytes:
    """An image's ``.json`` member: sorted keys, no spaces, so the bytes are fixed."""
    return json.dumps(record, sort_keys=True, separators=(",", ":")).encode("utf-8")


def record_jsons(shard: Shard) -> Iterator[bytes]:
    """``record_json(shard.record(i))`` for every image, in order, the same bytes built from the shard's
    arrays turned into lists once (json.dumps and a record dict per image cost a third of a plain
    image's PNG). Keys in sorted order: boxes, indices, key, label, seed, split, width."""
    split = json.dumps(shard.split)
    boxes, indices = shard.boxes.tolist(), shard.indices.tolist()
    rows = zip(
        shard.lengths.tolist(),
        shard.labels.tolist(),
        shard.seeds.tolist(),
        shard.widths.tolist(),
        strict=True,
    )
    for i, (n, label, seed, width) in enumerate(rows):
        if not label.isascii() or not label.isdigit():
            yield record_json(shard.record(i))  # never for hng's labels; json.dumps escapes the rest
            continue
        yield (
            f'{{"boxes":{_compact(boxes[i][:n])},"indices":{_compact(indices[i][:n])},'
            f'"key":"{shard.key(i)}","label":"{label}","seed":{seed},"split":{split},"width":{width}}}'
        ).encode("ascii")


def _compact(values: list[Any]) -> str:
    """A list of ints (or of lists of ints) as compact JSON."""
    return str(values).replace(" ", "")


class WebDatasetFormat(RecordFormat):
    """One tar per shard, ``{key}.png`` (or ``.jpg``)/``.json``/``.txt`` per image (module docstring)."""

    name = "webdataset"
    suffix = ".tar"
    holds_masks = True

    def write(self, shard: Shard, path: Path, *, compress: bool = False) -> None:
        """Write the tar image by image (each encoded, written, dropped); ``compress`` is ignored."""
        self._check(shard)
        offset = 0
        suffix = shard.image_suffix
        labels = shard.labels.tolist()
        with open(path, "xb") as fh:
            for i, json_bytes in enumerate(record_jsons(shard)):
                key = shard.key(i)
                sample = b"".join(
                    (
                        tar_member(f"{key}{suffix}", shard.encoded_image(i)),
                        tar_member(f"{key}.json", json_bytes),
                        tar_member(f"{key}.txt", labels[i].encode("utf-8")),
                        b""
                        if shard.masks is None
                        else tar_member(f"{key}.{_MASK}", encode_png(np.ascontiguousarray(shard.mask(i)))),
                    )
                )
                fh.write(sample)
                offset += len(sample)
            fh.write(tar_end(offset))

    def read_rows(self, path: Path, index: int, start: int, rows: Sequence[int]) -> Shard:
        """The images ``rows`` only: their members are read, the rest of the tar is skipped."""
        wanted = {f"{start + row:09d}": row for row in rows}
        found: dict[str, dict[str, bytes]] = {}
        try:
            with open(path, "rb") as fh:
                data = fh.read()
            for name, offset, size in ustar_members(data):
                key, _, extension = name.partition(".")
                if key in wanted and extension in (*_IMAGE_EXTENSIONS, "json", _MASK):
                    found.setdefault(key, {})[extension] = data[offset : offset + size]
            images, records, masks = [], [], []
            files = ImageFiles()
            for key in wanted:
                members = found.get(key, {})
                image = next((e for e in _IMAGE_EXTENSIONS if e in members), None)
                if image is None or "json" not in members:
                    raise ShardProblem(f"no image and json for image {key}")
                records.append(json.loads(members["json"]))
                problem = files.problem(members[image], int(records[-1]["width"]), f"{key}.{image}")
                if problem:
                    raise ShardProblem(f"{key}.{image}: {problem}")
                images.append(decode_image(members[image]))
                if _MASK in members:
                    masks.append(decode_png(members[_MASK]))
            if masks and len(masks) != len(images):
                raise ShardProblem("some images have a mask and some do not")
            scan = Scan(records, images, masks or None, files.kind)
            return shard_from_scan(index, start, scan, rows=list(rows))
        except (FileNotFoundError, IsADirectoryError, PermissionError):
            raise
        except ShardProblem as exc:
            raise self._bad(path, str(exc)) from exc
        except (tarfile.TarError, OSError, EOFError, ValueError, KeyError) as exc:
            raise self._bad(path, f"{type(exc).__name__}: {exc}") from exc

    def _scan(self, path: Path, *, decode: bool) -> Scan:
        """Read the whole tar: every member in place, each image whole, the end-of-archive marker present."""
        path = Path(path)
        try:
            return _scan_tar(path, decode)
        except (FileNotFoundError, IsADirectoryError, PermissionError):
            raise
        except ShardProblem as exc:
            raise self._bad(path, str(exc)) from exc
        except (tarfile.TarError, OSError, EOFError, ValueError) as exc:  # ValueError: JSON, UTF-8, images
            raise self._bad(path, f"{type(exc).__name__}: {exc}") from exc


def _scan_tar(path: Path, decode: bool) -> Scan:
    """Check the tar member by member; return its records and (if ``decode``) its decoded images and
    masks (None when the shard has no masks). The first image decides what every image holds: its image
    member's extension (png or jpg) and whether a mask follows."""
    records: list[dict[str, Any]] = []
    images: list[np.ndarray] = []
    masks: list[np.ndarray] = []
    files = ImageFiles()
    base: tuple[str, ...] | None = None  # the first image's members: (png or jpg, json, txt)
    extensions: tuple[str, ...] | None = None  # base, and the mask if the first image has one
    sample: dict[str, bytes] = {}
    key = previous = None
    end = 0  # where the last member's data (padded to a block) ends

    def close_sample(key: str) -> None:
        if base is None:
            raise AssertionError("hng bug: base is unset")
        image = base[0]
        record = json.loads(sample["json"])
        problem = record_problem(record, key)
        if problem is None:
            problem = files.problem(sample[image], int(record["width"]), f"{key}.{image}")
            problem = problem and f"{key}.{image}: {problem}"
        if problem is None and _MASK in sample:
            problem = files.mask_problem(sample[_MASK], int(record["width"]))
            problem = problem and f"{key}.{_MASK}: {problem}"
        if problem is None and sample["txt"].decode("utf-8") != record["label"]:
            problem = f"{key}.txt holds {sample['txt'][:20]!r}, its record's label is {record['label']!r}"
        if problem:
            raise ShardProblem(problem)
        records.append(record)
        if decode:
            images.append(decode_image(sample[image]))
            if _MASK in sample:
                masks.append(decode_png(sample[_MASK]))

    with open(path, "rb") as fh, tarfile.open(fileobj=fh, mode="r:") as tar:
        for member in tar:
            match = _MEMBER.fullmatch(member.name)
            if not member.isreg() or match is None:
                raise ShardProblem(f"unexpected member {member.name!r}")
            key, extension = match.groups()
            if base is None:
                base = (extension if extension in _IMAGE_EXTENSIONS else "png", "json", "txt")
            if extensions is None and len(sample) == len(base):
                # The first image's fourth member (a mask, or the next image) says what every image holds.
                extensions = (*base, _MASK) if extension == _MASK and key == previous else base
            if extensions is not None and len(sample) == len(extensions):
                if previous is None:
                    raise AssertionError("hng bug: previous is unset")
                close_sample(previous)
                sample = {}
            expected = (extensions or (*base, _MASK))[len(sample)]
            if extension != expected or (sample and key != previous):
                raise ShardProblem(f"member {member.name!r} where {previous or key}.{expected} belongs")
            if not sample and previous is not None and int(key) != int(previous) + 1:
                raise ShardProblem(f"key {key} follows {previous}")
            previous = key
            extracted = tar.extractfile(member)
            if extracted is None:
                raise AssertionError("hng bug: extracted is unset (a regular file always has data)")
            sample[extension] = extracted.read()
            end = member.offset_data + -(-member.size // _BLOCK) * _BLOCK
        if sample:
            if base is None:
                raise AssertionError("hng bug: base is unset")
            if extensions is None:
                extensions = (*base, _MASK) if _MASK in sample else base
            if len(sample) < len(extensions):
                raise ShardProblem(
                    f"sample {key} lacks {', '.join(e for e in extensions if e not in sample)}"
                )
            if previous is None:
                raise AssertionError("hng bug: previous is unset")
            close_sample(previous)
        # tarfile stops quietly when a file is cut between members: the end-of-archive marker (two zero
        # blocks) tells a whole tar from a truncated one.
        fh.seek(end)
        tail = fh.read()
    if len(tail) < 2 * _BLOCK or tail.count(0) != len(tail):
        raise ShardProblem("no end-of-archive marker (truncated?)")
    with_masks = extensions is not None and _MASK in extensions and decode
    return Scan(records, images, masks if with_masks else None, files.kind)
