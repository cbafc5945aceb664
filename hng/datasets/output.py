"""Where a dataset is written: a local folder or an S3 prefix, behind one small interface.

A shard is written whole or not at all. Shards are made in a local staging folder, then published:
locally by one rename (a file, or a folder shard) on the same file system; on S3 by one PutObject per
file (multipart above 64 MB, which S3 also completes atomically), with a folder shard's index, the file
that lists the others (imagefolder's ``metadata.jsonl``, the trainer formats' ``hng.jsonl``), last.
Either way a shard counts as done only once its record (``.hng/shards/{name}.json``, written after it)
exists, so an interrupted run leaves no half shard behind that a resume or ``finalize`` would take for a
whole one.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from hng.aws.clients import BULK, is_missing, make_client
from hng.core.files import sha256_file, write_atomically
from hng.datasets.checksum import is_trainer_cache, shard_file_sizes
from hng.errors import InvalidData, InvalidInput, Unavailable

RECORDS = ".hng/shards"
STAGING = ".hng/tmp"
# Files hng writes at the top of a dataset; `--overwrite` removes only these (and shards, and .hng/).
DATASET_FILES = ("plan.json", "manifest.json", "README.md", "contact_sheet.png", "numbers.txt")
PART_SIZE = 64 * 2**20  # S3 uploads above this size go in parts of this size
# The file at the top of a folder shard that lists its other files: imagefolder's, the trainer formats'.
FOLDER_INDEXES = ("metadata.jsonl", "hng.jsonl")


class OutputError(Unavailable):
    """The output location cannot be used (not a folder, unreachable bucket, permission denied)."""


def open_output(out: str | os.PathLike[str]) -> Output:
    """A local folder, or ``s3://bucket/prefix`` (boto3; honours ``AWS_ENDPOINT_URL_S3``)."""
    text = os.fspath(out)
    if text.startswith("s3://"):
        bucket, _, prefix = text[len("s3://") :].partition("/")
        if not bucket:
            raise InvalidInput("out", f"out must look like s3://bucket/prefix, got {text!r}")
        return S3Output(bucket, prefix.strip("/"))
    return LocalOutput(Path(text))


class Output:
    """The operations a dataset run needs from its output location."""

    url: str

    def read_text(self, name: str) -> str | None:
        """The UTF-8 text of ``name`` (None if it does not exist); `InvalidData` naming it if not UTF-8."""
        data = self.read_bytes(name)
        if data is None:
            return None
        try:
            return data.decode()
        except UnicodeDecodeError as error:
            raise InvalidData(f"{self.url}/{name} is not UTF-8 text: {error}") from None

    def read_bytes(self, name: str) -> bytes | None:
        raise NotImplementedError

    def write_text(self, name: str, text: str) -> None:
        self.write_bytes(name, text.encode())

    def write_bytes(self, name: str, data: bytes) -> None:
        raise NotImplementedError

    def write_chunks(self, name: str, chunks: Iterable[bytes]) -> None:
        """Write ``name`` from ``chunks`` as they come, whole (a reader sees all of it or the old file),
        without holding it in memory: a file too large for one ``write_bytes``."""
        self.write_bytes(name, b"".join(chunks))

    def names(self, prefix: str = "") -> list[str]:
        """Every object or file under ``prefix`` (relative names, '/'-separated), sorted."""
        raise NotImplementedError

    def top_level(self) -> list[str]:
        """The names directly in the folder or prefix (files and sub-folders), sorted."""
        raise NotImplementedError

    def delete(self, name: str) -> None:
        raise NotImplementedError

    def publish(self, staged: Path, name: str, sha256: str) -> None:
        """Move a finished shard (file or folder) from staging to ``name``, whole."""
        raise NotImplementedError

    def shard_matches(self, name: str, record: dict[str, Any], *, checksum: bool = True) -> bool:
        """Whether the published shard ``name`` is the one ``record`` describes: its size, and unless
        ``checksum`` is False (the shard was hashed by this very run) its sha256."""
        raise NotImplementedError

    def fetch(self, name: str, directory: Path) -> Path:
        """A local path holding shard ``name`` (the shard itself if local, else a download)."""
        raise NotImplementedError

    @contextlib.contextmanager
    def staging(self) -> Iterator[Path]:
        """A private folder for making shards; removed afterwards, whatever happens."""
        raise NotImplementedError
        yield Path()

    def check_writable(self) -> None:
        raise NotImplementedError

    def clean_staging(self) -> None:
        """Remove staging folders left by runs that were killed (never a running one's)."""


class LocalOutput(Output):
    def __init__(self, root: Path) -> None:
        self.root = root
        self.url = str(root)

    def check_writable(self) -> None:
        if self.root.exists() and not self.root.is_dir():
            raise InvalidInput("out", f"out must be a folder, but {self.root} is a file")
        file_above = next((p for p in self.root.parents if p.exists() and not p.is_dir()), None)
        if file_above is not None:
            raise InvalidInput(
                "out", f"out {self.root} lies under {file_above}, which is a file, not a folder"
            )
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            if not os.access(self.root, os.W_OK | os.X_OK):
                raise PermissionError(13, "permission denied")
        except OSError as error:
            raise OutputError(f"cannot write to {self.root}: {error.strerror or error}") from None

    def read_bytes(self, name: str) -> bytes | None:
        try:
            return (self.root / name).read_bytes()
        except FileNotFoundError:
            return None

    def write_bytes(self, name: str, data: bytes) -> None:
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(path, data)

    def write_chunks(self, name: str, chunks: Iterable[bytes]) -> None:
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(path, chunks)

    def names(self, prefix: str = "") -> list[str]:
        if not self.root.is_dir():
            return []
        found = []
        for path in self.root.rglob("*"):
            relative = path.relative_to(self.root).as_posix()
            if relative.startswith(prefix) and (path.is_file() or path.is_symlink()):
                found.append(relative)
        return sorted(found)

    def top_level(self) -> list[str]:
        return sorted(p.name for p in self.root.iterdir()) if self.root.is_dir() else []

    def delete(self, name: str) -> None:
        path = self.root / name
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)
        # A nested name ("annotations/instances_train.json") leaves no empty folder behind, as on S3.
        for parent in path.parents:
            if parent == self.root or self.root not in parent.parents:
                break
            with contextlib.suppress(OSError):  # not empty (the user's files), or already gone
                parent.rmdir()

    def publish(self, staged: Path, name: str, sha256: str) -> None:
        target = self.root / name
        if target.is_dir() and not target.is_symlink():
            # A folder shard cannot be replaced by one rename: move the stale one aside first.
            stale = staged.parent / f".stale-{name}"
            os.rename(target, stale)
            shutil.rmtree(stale)
        os.replace(staged, target)

    def shard_matches(self, name: str, record: dict[str, Any], *, checksum: bool = True) -> bool:
        from hng.datasets.checksum import sha256_path

        path = self.root / name
        if path.is_dir():
            sizes = shard_file_sizes(path)
            size, count = sum(sizes.values()), len(sizes)
        elif path.is_file():
            size, count = path.stat().st_size, 1
        else:
            return False
        if (size, count) != (record.get("bytes"), record.get("files", 1)):
            return False
        return not checksum or sha256_path(path) == record.get("sha256")

    def fetch(self, name: str, directory: Path) -> Path:
        return self.root / name

    @contextlib.contextmanager
    def staging(self) -> Iterator[Path]:
        base = self.root / STAGING
        base.mkdir(parents=True, exist_ok=True)
        # Same file system as the shards, so publishing is a rename; named by host and pid so that
        # processes of other machines sharing this folder (--shards) can tell theirs apart.
        folder = Path(tempfile.mkdtemp(dir=base, prefix=f"{socket.gethostname()}-{os.getpid()}-"))
        try:
            yield folder
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    def clean_staging(self) -> None:
        """Remove the staging folders of this machine's runs that are no longer running (a killed run
        leaves its own). Another run writing the same folder at the same time keeps its staging: each
        run stages in a folder of its own, named by host and process id, and removes it when it ends."""
        base = self.root / STAGING
        if not base.is_dir():
            return
        host = socket.gethostname()
        for folder in base.iterdir():
            owner, _, pid = folder.name.rpartition("-")[0].rpartition("-")  # HOST-PID-random
            if owner == host and pid.isdigit() and not _process_is_running(int(pid)):
                shutil.rmtree(folder, ignore_errors=True)
        with contextlib.suppress(OSError):
            base.rmdir()  # only if nothing is left


def _process_is_running(pid: int) -> bool:
    if os.name == "nt":
        return True  # os.kill there would end the process: keep its folder
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    return True


class S3Output(Output):
    def __init__(self, bucket: str, prefix: str, client: Any = None) -> None:
        self.bucket = bucket
        self.prefix = prefix
        self.url = f"s3://{bucket}/{prefix}" if prefix else f"s3://{bucket}"
        self._client = client

    @property
    def client(self) -> Any:
        if self._client is None:
            # Adaptive retries: backoff with jitter on throttling (SlowDown, 503) and transient faults,
            # plus client-side rate limiting once S3 starts throttling.
            self._client = make_client("s3", BULK)
        return self._client

    def _key(self, name: str) -> str:
        return f"{self.prefix}/{name}" if self.prefix else name

    def _errors(self, action: str) -> contextlib.AbstractContextManager[None]:
        return _s3_errors(f"{action} {self.url}")

    def check_writable(self) -> None:
        with self._errors("cannot reach"):
            self.client.head_bucket(Bucket=self.bucket)

    def read_bytes(self, name: str) -> bytes | None:
        from botocore.exceptions import ClientError

        try:
            with self._errors("cannot read"):
                body = self.client.get_object(Bucket=self.bucket, Key=self._key(name))["Body"]
                return body.read()
        except OutputError as error:
            if isinstance(error.__cause__, ClientError) and is_missing(error.__cause__):
                return None
            raise

    def write_bytes(self, name: str, data: bytes) -> None:
        with self._errors("cannot write to"):
            self.client.put_object(Bucket=self.bucket, Key=self._key(name), Body=data)

    def write_chunks(self, name: str, chunks: Iterable[bytes]) -> None:
        """One PutObject if it all fits in a part, else a multipart upload of 64 MB parts (S3 shows the
        object only once it completes; a failure aborts it)."""
        key = self._key(name)
        buffer = bytearray()
        upload: str | None = None
        parts: list[dict[str, Any]] = []

        def send(data: bytes) -> None:
            number = len(parts) + 1
            answer = self.client.upload_part(
                Bucket=self.bucket, Key=key, UploadId=upload, PartNumber=number, Body=data
            )
            parts.append({"ETag": answer["ETag"], "PartNumber": number})

        with self._errors("cannot write to"):
            try:
                for chunk in chunks:
                    buffer += chunk
                    while len(buffer) >= PART_SIZE:
                        if upload is None:
                            started = self.client.create_multipart_upload(Bucket=self.bucket, Key=key)
                            upload = started["UploadId"]
                        send(bytes(buffer[:PART_SIZE]))
                        del buffer[:PART_SIZE]
                if upload is None:
                    self.client.put_object(Bucket=self.bucket, Key=key, Body=bytes(buffer))
                    return
                if buffer:
                    send(bytes(buffer))
                self.client.complete_multipart_upload(
                    Bucket=self.bucket, Key=key, UploadId=upload, MultipartUpload={"Parts": parts}
                )
            except BaseException:
                if upload is not None:
                    with contextlib.suppress(Exception):
                        self.client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload)
                raise

    def names(self, prefix: str = "") -> list[str]:
        found: list[str] = []
        base = self._key("")
        with self._errors("cannot list"):
            paginator = self.client.get_paginator("list_objects_v2")
            for page in paginator.paginate(Bucket=self.bucket, Prefix=self._key(prefix)):
                found.extend(item["Key"][len(base) :] for item in page.get("Contents", []))
        return sorted(found)

    def top_level(self) -> list[str]:
        # One level only (Delimiter): an imagefolder dataset holds a million keys below its shards.
        found: set[str] = set()
        base = self._key("")
        with self._errors("cannot list"):
            paginator = self.client.get_paginator("list_objects_v2")
            for page in paginator.paginate(Bucket=self.bucket, Prefix=base, Delimiter="/"):
                found.update(item["Key"][len(base) :] for item in page.get("Contents", []))
                found.update(p["Prefix"][len(base) :].rstrip("/") for p in page.get("CommonPrefixes", []))
        return sorted(found)

    def delete(self, name: str) -> None:
        keys = [self._key(n) for n in self.names(name) if n == name or n.startswith(name.rstrip("/") + "/")]
        with self._errors("cannot delete from"):
            for first in range(0, len(keys), 1000):
                objects = [{"Key": key} for key in keys[first : first + 1000]]
                self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": objects, "Quiet": True})

    def publish(self, staged: Path, name: str, sha256: str) -> None:
        transfer = _transfer_config()
        if staged.is_dir():
            files = sorted(p for p in staged.rglob("*") if p.is_file())
            # The index last: a reader that finds it finds every file it lists.
            files.sort(key=lambda p: p.relative_to(staged).as_posix() in FOLDER_INDEXES)
            pairs = [(p, f"{name}/{p.relative_to(staged).as_posix()}") for p in files]
        else:
            pairs = [(staged, name)]
        with self._errors("cannot upload to"):
            for path, key in pairs:
                extra = {"Metadata": {"sha256": sha256 if path == staged else sha256_file(path)}}
                self.client.upload_file(
                    str(path), self.bucket, self._key(key), ExtraArgs=extra, Config=transfer
                )

    def shard_matches(self, name: str, record: dict[str, Any], *, checksum: bool = True) -> bool:
        # S3 keeps each object's sha256 in its metadata: the checksum costs a HEAD either way.
        from botocore.exceptions import ClientError

        if record.get("folder"):
            # Whole once its index is there (uploaded last), with as many files as recorded.
            keys = {key for key in self.names(name + "/") if not is_trainer_cache(key)}
            return len(keys) == record.get("files") and any(
                f"{name}/{index}" in keys for index in FOLDER_INDEXES
            )
        try:
            with self._errors("cannot read"):
                head = self.client.head_object(Bucket=self.bucket, Key=self._key(name))
        except OutputError as error:
            if isinstance(error.__cause__, ClientError) and is_missing(error.__cause__):
                return False
            raise
        return head["ContentLength"] == record.get("bytes") and head["Metadata"].get("sha256") == record.get(
            "sha256"
        )

    def fetch(self, name: str, directory: Path) -> Path:
        target = directory / name
        keys = self.names(name)
        with self._errors("cannot download from"):
            for relative in keys:
                if relative != name and not relative.startswith(name + "/"):
                    continue
                path = directory / relative
                path.parent.mkdir(parents=True, exist_ok=True)
                self.client.download_file(self.bucket, self._key(relative), str(path))
        return target

    @contextlib.contextmanager
    def staging(self) -> Iterator[Path]:
        with tempfile.TemporaryDirectory(prefix="hng-shard-") as folder:
            yield Path(folder)


def _transfer_config() -> Any:
    from boto3.s3.transfer import TransferConfig

    return TransferConfig(multipart_threshold=PART_SIZE, multipart_chunksize=PART_SIZE)


@contextlib.contextmanager
def _s3_errors(what: str) -> Iterator[None]:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        yield
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "?")
        message = error.response.get("Error", {}).get("Message", "")
        raise OutputError(f"{what}: S3 answered {code} {message}".rstrip()) from error
    except BotoCoreError as error:
        raise OutputError(f"{what}: {error}") from error
