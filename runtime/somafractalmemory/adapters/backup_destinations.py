"""Where backups live: a local directory, or a prefix of an S3-compatible bucket.

Both hold one folder per backup id. A backup's files are staged in a local directory first, then
published with ``manifest.json`` written last (an atomic rename locally, the last upload on S3), so a
reader never mistakes a backup that is still being written, or that failed, for a complete one.
"""

import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from somafractalmemory.core.backup_format import MANIFEST, parse_backup_id
from somafractalmemory.core.errors import BackendUnavailable
from somafractalmemory.datadir import PRIVATE_MODE, private_directory, private_file

if TYPE_CHECKING:
    from types_boto3_s3 import S3Client

S3_SCHEME = "s3://"
S3_BACKEND = "s3"
DELETE_BATCH = 1000  # the most keys one DeleteObjects request takes


@dataclass(frozen=True, slots=True)
class StoredBackup:
    backup_id: str
    complete: bool


class Destination(Protocol):
    def describe(self) -> str: ...

    def backups(self) -> list[StoredBackup]:
        """Every folder named like a backup id, oldest first; other names are not backups."""
        ...

    def exists(self, backup_id: str) -> bool:
        """Something (complete or not) is stored under this id."""
        ...

    def staging(self, backup_id: str) -> AbstractContextManager[Path]:
        """A local directory to write the backup's files into before ``publish``."""
        ...

    def publish(self, backup_id: str, staged: Path, names: Sequence[str], manifest: bytes) -> None:
        """Store the staged files, then the manifest, last."""
        ...

    def delete(self, backup_id: str) -> None: ...

    def fetch(self, backup_id: str) -> AbstractContextManager[Path]:
        """A local directory holding the backup's files as stored (no check made)."""
        ...


# --- a local directory ---------------------------------------------------------------------------


class LocalDestination:
    def __init__(self, root: Path) -> None:
        self.root = root

    def describe(self) -> str:
        return str(self.root)

    def backups(self) -> list[StoredBackup]:
        if not self.root.is_dir():
            return []
        found = [
            StoredBackup(entry.name, (entry / MANIFEST).is_file())
            for entry in self.root.iterdir()
            if entry.is_dir() and parse_backup_id(entry.name) is not None
        ]
        return sorted(found, key=lambda backup: backup.backup_id)

    def exists(self, backup_id: str) -> bool:
        return (self.root / backup_id).exists()

    @contextmanager
    def staging(self, backup_id: str) -> Iterator[Path]:
        folder = private_directory(self.root) / backup_id
        folder.mkdir(mode=PRIVATE_MODE)
        os.chmod(folder, PRIVATE_MODE)  # whatever the umask: memories are private
        yield folder

    def publish(self, backup_id: str, staged: Path, names: Sequence[str], manifest: bytes) -> None:
        folder = self.root / backup_id
        for name in names:
            _sync(folder / name)
        partial = folder / f".{MANIFEST}.partial"
        private_file(partial).write_bytes(manifest)
        _sync(partial)
        partial.rename(folder / MANIFEST)
        _sync(folder)

    def delete(self, backup_id: str) -> None:
        shutil.rmtree(self.root / backup_id, ignore_errors=True)

    @contextmanager
    def fetch(self, backup_id: str) -> Iterator[Path]:
        yield self.root / backup_id


def _sync(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


# --- S3 ------------------------------------------------------------------------------------------


def _s3_failed(error: Exception) -> BackendUnavailable:
    return BackendUnavailable(S3_BACKEND, str(error))


class S3Destination:
    """``s3://bucket/prefix``: backup ``ID`` is the objects under ``prefix/ID/``."""

    def __init__(self, client: "S3Client", bucket: str, prefix: str) -> None:
        self._client = client
        self.bucket = bucket
        self.prefix = prefix.strip("/")

    @classmethod
    def connect(cls, url: str, endpoint: str | None, region: str) -> "S3Destination":
        import boto3
        from botocore.config import Config

        bucket, _, prefix = url.removeprefix(S3_SCHEME).partition("/")
        client = boto3.client(
            "s3",
            endpoint_url=endpoint,
            region_name=region,
            config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 3}),
        )
        return cls(client, bucket, prefix)

    def describe(self) -> str:
        return f"{S3_SCHEME}{self.bucket}/{self.prefix}" if self.prefix else f"{S3_SCHEME}{self.bucket}"

    def _key(self, *parts: str) -> str:
        return "/".join([self.prefix, *parts] if self.prefix else parts)

    def _keys(self, under: str) -> Iterator[str]:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            pages = self._client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=under)
            for page in pages:
                for item in page.get("Contents", []):
                    yield item["Key"]
        except (BotoCoreError, ClientError) as error:
            raise _s3_failed(error) from error

    def backups(self) -> list[StoredBackup]:
        complete: dict[str, bool] = {}
        root = self._key("")
        for key in self._keys(root):
            backup_id, _, rest = key.removeprefix(root).partition("/")
            if parse_backup_id(backup_id) is not None:
                complete[backup_id] = complete.get(backup_id, False) or rest == MANIFEST
        return [StoredBackup(backup_id, done) for backup_id, done in sorted(complete.items())]

    def exists(self, backup_id: str) -> bool:
        return next(self._keys(self._key(backup_id, "")), None) is not None

    @contextmanager
    def staging(self, backup_id: str) -> Iterator[Path]:
        with tempfile.TemporaryDirectory(prefix=f"soma-backup-{backup_id}-") as folder:
            yield Path(folder)

    def publish(self, backup_id: str, staged: Path, names: Sequence[str], manifest: bytes) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            for name in names:
                self._client.upload_file(str(staged / name), self.bucket, self._key(backup_id, name))
            self._client.put_object(Bucket=self.bucket, Key=self._key(backup_id, MANIFEST), Body=manifest)
        except (BotoCoreError, ClientError) as error:
            raise _s3_failed(error) from error

    def delete(self, backup_id: str) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        manifest = self._key(backup_id, MANIFEST)
        keys = [key for key in self._keys(self._key(backup_id, "")) if key != manifest]
        try:
            # The manifest first: should the rest fail, what is left is an incomplete backup, never a
            # complete-looking one with files missing.
            self._client.delete_object(Bucket=self.bucket, Key=manifest)
            for start in range(0, len(keys), DELETE_BATCH):
                batch = keys[start : start + DELETE_BATCH]
                self._client.delete_objects(
                    Bucket=self.bucket, Delete={"Objects": [{"Key": key} for key in batch], "Quiet": True}
                )
        except (BotoCoreError, ClientError) as error:
            raise _s3_failed(error) from error

    @contextmanager
    def fetch(self, backup_id: str) -> Iterator[Path]:
        """Downloaded into a temporary directory (only plain file names: never a path out of it)."""
        from botocore.exceptions import BotoCoreError, ClientError

        root = self._key(backup_id, "")
        with tempfile.TemporaryDirectory(prefix=f"soma-restore-{backup_id}-") as folder:
            try:
                for key in self._keys(root):
                    name = key.removeprefix(root)
                    if name and "/" not in name and name not in (".", ".."):
                        self._client.download_file(self.bucket, key, str(Path(folder) / name))
            except (BotoCoreError, ClientError) as error:
                raise _s3_failed(error) from error
            yield Path(folder)
