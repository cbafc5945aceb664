"""The sha256 of a shard, a file or (imagefolder) a folder, in a form anyone can recompute by hand.

A file's checksum is the sha256 of its bytes (``sha256sum shard-00000.npz``). A folder's is the sha256 of
what ``sha256sum`` prints for every regular file under it but trainers' caches (``*.cache``: Ultralytics
writes ``labels/train.cache`` into the first shard it reads), sorted by relative POSIX path in byte order::

    (cd shard-00000 && find . -type f ! -name '*.cache' | sed 's|^./||' | LC_ALL=C sort | xargs sha256sum) \
        | sha256sum

that is, of the lines ``"{hex}  {relpath}\\n"``. Names holding a newline or a backslash are refused:
sha256sum escapes those, and shards never have them.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from hng.core.files import sha256_file

TRAINER_CACHE_SUFFIX = ".cache"


def is_trainer_cache(name: str) -> bool:
    """Whether a file in a folder shard is a trainer's cache, not part of the shard (no hng format writes
    a ``.cache`` file; Ultralytics writes ``labels/{split}.cache`` when it first reads a yolo dataset)."""
    return name.endswith(TRAINER_CACHE_SUFFIX)


def shard_file_sizes(folder: Path) -> dict[str, int]:
    """The regular files of a folder shard (as ``find -type f``: no symlinks), trainers' caches left out:
    relative POSIX path -> size in bytes. One ``lstat`` per file (``os.scandir``): a shard of the folder
    formats holds one or two files per image."""
    found: dict[str, int] = {}
    pending = [(Path(folder), "")]
    while pending:
        directory, prefix = pending.pop()
        with os.scandir(directory) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    pending.append((Path(entry.path), f"{prefix}{entry.name}/"))
                elif entry.is_file(follow_symlinks=False) and not is_trainer_cache(entry.name):
                    found[prefix + entry.name] = entry.stat(follow_symlinks=False).st_size
    return found


def shard_files(folder: Path) -> list[str]:
    """Relative POSIX paths of the regular files of a folder shard (``shard_file_sizes``' names)."""
    return list(shard_file_sizes(folder))


def sha256_path(path: str | os.PathLike[str]) -> str:
    """The hex sha256 of a shard: of a file's bytes, or of a folder's sha256sum listing (module docstring)."""
    path = Path(path)
    if not path.is_dir():
        return sha256_file(path)
    listing = hashlib.sha256()
    # LC_ALL=C sort orders by bytes; UTF-8 bytes sort as code points, but compare the bytes to be exact.
    for relpath in sorted(shard_files(path), key=lambda p: p.encode("utf-8", "surrogateescape")):
        if "\n" in relpath or "\\" in relpath:
            raise ValueError(f"{path / relpath}: sha256sum escapes names with a newline or backslash")
        line = f"{sha256_file(path / relpath)}  {relpath}\n"
        listing.update(line.encode("utf-8", "surrogateescape"))
    return listing.hexdigest()
