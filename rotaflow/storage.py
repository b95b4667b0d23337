"""Object storage: a local folder or any S3-compatible endpoint, behind one interface.

``open_store(url)`` gives a :class:`LocalStore` for a path and an :class:`S3Store` for
``s3://bucket/prefix``. Keys are ``/``-separated and relative to the store's root.

Both stores also move whole files without holding them in memory (``put_file``,
``get_file``, ``iter_chunks``): S3 transfers go through boto3's managed transfer, so a
large file is sent and fetched in parts (multipart). An S3 store can write an object
under Object Lock and read back its retention; a store opened with
``pin_first_version=True`` reads the first version of every key, so a later write or
delete marker never changes what it reads.
"""

from __future__ import annotations

import builtins
import datetime as dt
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Protocol
from urllib.parse import urlparse

from rotaflow.errors import StorageError
from rotaflow.files import private_dir

__all__ = [
    "BlobStore",
    "LocalStore",
    "ObjectLock",
    "ObjectStore",
    "ObjectVersion",
    "Retention",
    "S3Store",
    "TransferSettings",
    "open_store",
    "s3_client",
    "split_s3_url",
]

CHUNK = 1024 * 1024
MB = 1024 * 1024


class ObjectStore(Protocol):
    """What rotaflow needs of a place to keep files."""

    @property
    def url(self) -> str: ...

    def put_bytes(self, key: str, data: bytes) -> None: ...
    def get_bytes(self, key: str) -> bytes: ...
    def list(self, prefix: str = "") -> list[str]: ...
    def exists(self, key: str) -> bool: ...


@dataclass(frozen=True)
class ObjectLock:
    """Write an object under Object Lock: nobody may delete or change it before ``retain_until``."""

    retain_until: dt.datetime
    mode: str = "COMPLIANCE"


@dataclass(frozen=True)
class Retention:
    """The Object Lock retention an S3 server reports for one object version."""

    mode: str | None
    retain_until: dt.datetime | None
    version_id: str | None = None


@dataclass(frozen=True)
class ObjectVersion:
    """One version of a key in a versioned bucket, oldest first in listings."""

    version_id: str
    last_modified: dt.datetime
    is_latest: bool
    delete_marker: bool = False
    size: int = 0


@dataclass(frozen=True)
class TransferSettings:
    """How large files move to and from S3: above the threshold, in parts of ``chunk_bytes``."""

    multipart_threshold: int = 64 * MB
    chunk_bytes: int = 64 * MB
    max_concurrency: int = 4

    def config(self) -> Any:
        from boto3.s3.transfer import TransferConfig

        return TransferConfig(
            multipart_threshold=self.multipart_threshold,
            multipart_chunksize=self.chunk_bytes,
            max_concurrency=self.max_concurrency,
            use_threads=self.max_concurrency > 1,
        )


class BlobStore(ObjectStore, Protocol):
    """A store that also moves whole files as streams: what the backup sets need."""

    def put_file(
        self, key: str, path: Path, *, lock: ObjectLock | None = None, on_chunk: Callable[[int], None] | None = None
    ) -> None: ...
    def get_file(self, key: str, path: Path, *, on_chunk: Callable[[int], None] | None = None) -> None: ...
    def iter_chunks(self, key: str, chunk_size: int = CHUNK) -> Iterator[bytes]: ...
    def size(self, key: str) -> int: ...
    def delete(self, key: str) -> None: ...
    def delete_prefix(self, prefix: str) -> int: ...
    def retention(self, key: str) -> Retention | None: ...
    def versions(self, key: str) -> builtins.list[ObjectVersion]: ...


def _reason(exc: BaseException) -> str:
    """A short, credential-free reason: the S3 error code, the OS error text, or the type name."""
    code = getattr(exc, "response", {}).get("Error", {}).get("Code") if hasattr(exc, "response") else None
    if code:
        return str(code)
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return type(exc).__name__


def _write_atomically(target: Path, fill: Any, what: str) -> None:
    """Create ``target`` through a temporary file in its folder: it appears whole or not at all."""
    try:
        private_dir(target.parent)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
    except OSError as exc:
        raise StorageError(f"{what}: {_reason(exc)}") from exc
    try:
        with os.fdopen(fd, "wb") as handle:
            fill(handle)
        os.replace(tmp, target)
    except StorageError:
        Path(tmp).unlink(missing_ok=True)
        raise
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise StorageError(f"{what}: {_reason(exc)}") from exc
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class _Counted:
    """A file read through ``on_chunk(bytes read)``: the progress of a copy."""

    def __init__(self, handle: Any, on_chunk: Callable[[int], None]) -> None:
        self.handle = handle
        self.on_chunk = on_chunk

    def read(self, size: int = -1) -> bytes:
        data: bytes = self.handle.read(size)
        if data:
            self.on_chunk(len(data))
        return data


def _clean_key(key: str) -> str:
    path = PurePosixPath(key)
    if path.is_absolute() or ".." in path.parts:
        raise StorageError(f"object key {key!r} must be relative and stay inside the store")
    return path.as_posix()


@dataclass
class LocalStore:
    """Files under a folder; writes go through a temporary file and an atomic rename."""

    root: Path

    @property
    def url(self) -> str:
        return str(self.root)

    def _path(self, key: str) -> Path:
        return self.root / _clean_key(key)

    def put_bytes(self, key: str, data: bytes) -> None:
        target = self._path(key)
        try:
            private_dir(target.parent)
            fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
        except OSError as exc:
            raise StorageError(f"could not write {key!r} to {self.url}: {exc.strerror or type(exc).__name__}") from exc
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.replace(tmp, target)
        except OSError as exc:
            Path(tmp).unlink(missing_ok=True)
            raise StorageError(f"could not write {key!r} to {self.url}: {exc.strerror or type(exc).__name__}") from exc
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def get_bytes(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError as exc:
            raise StorageError(f"no object {key!r} in {self.url}") from exc
        except OSError as exc:
            raise StorageError(f"could not read {key!r} from {self.url}: {exc.strerror or type(exc).__name__}") from exc

    def list(self, prefix: str = "") -> list[str]:
        base = self._path(prefix) if prefix else self.root
        if not base.exists():
            return []
        if base.is_file():
            return [_clean_key(prefix)]
        return sorted(
            p.relative_to(self.root).as_posix()
            for p in base.rglob("*")
            if p.is_file() and not p.name.startswith(".tmp-")
        )

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def remove_tree(self, prefix: str) -> None:
        shutil.rmtree(self._path(prefix), ignore_errors=True)

    # ---------------------------------------------------------------- files as streams

    def put_file(
        self, key: str, path: Path, *, lock: ObjectLock | None = None, on_chunk: Callable[[int], None] | None = None
    ) -> None:
        """Copy a file in; a local folder cannot lock it, so a lock request is refused.

        ``on_chunk(bytes)`` hears of each chunk copied."""
        if lock is not None:
            raise StorageError(f"{self.url} is a local folder: it cannot hold an Object Lock (use an s3:// bucket)")
        target = self._path(key)

        def fill(handle: Any) -> None:
            with open(path, "rb") as source:
                shutil.copyfileobj(source if on_chunk is None else _Counted(source, on_chunk), handle, CHUNK)

        _write_atomically(target, fill, f"could not write {key!r} to {self.url}")

    def get_file(self, key: str, path: Path, *, on_chunk: Callable[[int], None] | None = None) -> None:
        source = self._path(key)
        if not source.is_file():
            raise StorageError(f"no object {key!r} in {self.url}")

        def fill(handle: Any) -> None:
            with open(source, "rb") as data:
                shutil.copyfileobj(data if on_chunk is None else _Counted(data, on_chunk), handle, CHUNK)

        _write_atomically(Path(path), fill, f"could not read {key!r} from {self.url}")

    def iter_chunks(self, key: str, chunk_size: int = CHUNK) -> Iterator[bytes]:
        try:
            handle = open(self._path(key), "rb")  # noqa: SIM115 - closed by the generator
        except FileNotFoundError as exc:
            raise StorageError(f"no object {key!r} in {self.url}") from exc
        except OSError as exc:
            raise StorageError(f"could not read {key!r} from {self.url}: {_reason(exc)}") from exc
        with handle:
            while chunk := handle.read(chunk_size):
                yield chunk

    def size(self, key: str) -> int:
        try:
            return self._path(key).stat().st_size
        except FileNotFoundError as exc:
            raise StorageError(f"no object {key!r} in {self.url}") from exc

    def delete(self, key: str) -> None:
        try:
            self._path(key).unlink(missing_ok=True)
        except OSError as exc:
            raise StorageError(f"could not delete {key!r} from {self.url}: {_reason(exc)}") from exc

    def delete_prefix(self, prefix: str) -> int:
        """Delete every object under ``prefix`` (a folder); returns how many."""
        keys = self.list(prefix)
        for key in keys:
            self.delete(key)
        folder = self._path(prefix)
        if folder.is_dir():
            shutil.rmtree(folder, ignore_errors=True)
        return len(keys)

    def retention(self, key: str) -> Retention | None:
        """A local file has no Object Lock."""
        self._path(key)
        return None

    def versions(self, key: str) -> builtins.list[ObjectVersion]:
        """A local file has one version: itself."""
        path = self._path(key)
        if not path.is_file():
            return []
        stat = path.stat()
        modified = dt.datetime.fromtimestamp(stat.st_mtime, dt.UTC)
        return [ObjectVersion("local", modified, True, False, stat.st_size)]


def split_s3_url(url: str) -> tuple[str, str]:
    """``(bucket, prefix)``; an address that carries credentials (``s3://key:secret@…``) is refused.

    Credentials in an address end up in logs, flow parameters and stored records; they are
    given as ROTAFLOW_S3_ACCESS_KEY_ID / ROTAFLOW_S3_SECRET_ACCESS_KEY or a Prefect Secret block.
    """
    from rotaflow.configs.settings import mask_url

    parsed = urlparse(url)
    if parsed.scheme != "s3" or not parsed.netloc:
        raise StorageError(f"expected s3://bucket/prefix, got {mask_url(url)!r}")
    if mask_url(url) != url:
        raise StorageError(
            f"expected s3://bucket/prefix without credentials, got {mask_url(url)!r}: give the keys in "
            "ROTAFLOW_S3_ACCESS_KEY_ID and ROTAFLOW_S3_SECRET_ACCESS_KEY (or ROTAFLOW_S3_CREDENTIALS_BLOCK)"
        )
    return parsed.netloc, parsed.path.lstrip("/")


def s3_client(
    *,
    endpoint_url: str | None = None,
    region: str = "us-east-1",
    access_key_id: str | None = None,
    secret_access_key: str | None = None,
) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client(
        "s3",
        endpoint_url=endpoint_url,
        region_name=region,
        aws_access_key_id=access_key_id,
        aws_secret_access_key=secret_access_key,
        config=Config(retries={"max_attempts": 3, "mode": "standard"}, connect_timeout=5, read_timeout=60),
    )


@dataclass
class S3Store:
    """Objects under ``s3://bucket/prefix`` on any S3-compatible endpoint."""

    bucket: str
    prefix: str
    client: Any
    transfer: TransferSettings = field(default_factory=TransferSettings)
    pin_first_version: bool = False
    _pinned: dict[str, str] = field(default_factory=dict, repr=False, compare=False)

    @property
    def url(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}".rstrip("/")

    def _key(self, key: str) -> str:
        key = _clean_key(key)
        return f"{self.prefix.rstrip('/')}/{key}" if self.prefix else key

    def put_bytes(self, key: str, data: bytes) -> None:
        full = self._key(key)
        try:
            self.client.put_object(Bucket=self.bucket, Key=full, Body=data)
        except Exception as exc:  # botocore raises many kinds; all mean the same here
            raise StorageError(f"could not write {key!r} to {self.url}: {type(exc).__name__}") from exc

    def get_bytes(self, key: str) -> bytes:
        full = self._key(key)
        try:
            body = self.client.get_object(Bucket=self.bucket, Key=full, **self._version_args(key))["Body"]
            return bytes(body.read())
        except StorageError:
            raise
        except Exception as exc:
            raise StorageError(f"could not read {key!r} from {self.url}: {type(exc).__name__}") from exc

    def _iter_keys(self, prefix: str) -> Iterator[str]:
        """Keys under ``prefix`` taken as a folder (``tier1`` never lists ``tier10/…``), or that key."""
        root = self.prefix.rstrip("/") + "/" if self.prefix else ""
        folder = root + _clean_key(prefix).rstrip("/") + "/" if prefix else root
        exact = folder.rstrip("/") if prefix else None
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=exact or folder):
            for item in page.get("Contents", []):
                key = item["Key"]
                if key.startswith(folder) or key == exact:
                    yield key[len(root) :]

    def list(self, prefix: str = "") -> list[str]:
        if prefix:
            _clean_key(prefix)
        try:
            if self.pin_first_version:
                return sorted(self._iter_versioned_keys(prefix))
            return sorted(self._iter_keys(prefix))
        except Exception as exc:
            raise StorageError(f"could not list {self.url}: {type(exc).__name__}") from exc

    def exists(self, key: str) -> bool:
        full = self._key(key)
        if self.pin_first_version:
            return self._first_version(key, required=False) is not None
        try:
            self.client.head_object(Bucket=self.bucket, Key=full)
            return True
        except Exception as exc:
            status = getattr(exc, "response", {}).get("ResponseMetadata", {}).get("HTTPStatusCode")
            if status == 404:
                return False
            raise StorageError(f"could not look up {key!r} in {self.url}: {type(exc).__name__}") from exc

    # ---------------------------------------------------------------- versions

    def _iter_versioned_keys(self, prefix: str) -> Iterator[str]:
        """Keys with at least one real version (a delete marker on top does not hide them)."""
        root = self.prefix.rstrip("/") + "/" if self.prefix else ""
        folder = root + _clean_key(prefix).rstrip("/") + "/" if prefix else root
        exact = folder.rstrip("/") if prefix else None
        seen: set[str] = set()
        paginator = self.client.get_paginator("list_object_versions")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=exact or folder):
            for item in page.get("Versions", []):
                key = item["Key"]
                if (key.startswith(folder) or key == exact) and key not in seen:
                    seen.add(key)
                    yield key[len(root) :]

    def versions(self, key: str) -> builtins.list[ObjectVersion]:
        """Every version of ``key``, delete markers included, oldest first."""
        full = self._key(key)
        found: builtins.list[ObjectVersion] = []
        try:
            paginator = self.client.get_paginator("list_object_versions")
            for page in paginator.paginate(Bucket=self.bucket, Prefix=full):
                for item in page.get("Versions", []):
                    if item["Key"] == full:
                        found.append(
                            ObjectVersion(
                                str(item["VersionId"]),
                                item["LastModified"],
                                bool(item["IsLatest"]),
                                False,
                                int(item.get("Size", 0)),
                            )
                        )
                for item in page.get("DeleteMarkers", []):
                    if item["Key"] == full:
                        found.append(
                            ObjectVersion(str(item["VersionId"]), item["LastModified"], bool(item["IsLatest"]), True)
                        )
        except Exception as exc:
            raise StorageError(f"could not list the versions of {key!r} in {self.url}: {_reason(exc)}") from exc
        # servers list newest first; equal timestamps (one-second clocks) keep that order, reversed
        order = {v.version_id: i for i, v in enumerate(found)}
        return sorted(found, key=lambda v: (v.last_modified, v.is_latest, -order[v.version_id]))

    def _first_version(self, key: str, *, required: bool = True) -> str | None:
        if key in self._pinned:
            return self._pinned[key]
        real = [v for v in self.versions(key) if not v.delete_marker]
        if not real:
            if required:
                raise StorageError(f"no object {key!r} in {self.url}")
            return None
        self._pinned[key] = real[0].version_id
        return real[0].version_id

    def _version_args(self, key: str) -> dict[str, str]:
        if not self.pin_first_version:
            return {}
        version = self._first_version(key)
        return {"VersionId": version} if version and version != "null" else {}

    # ---------------------------------------------------------------- files as streams

    def put_file(
        self, key: str, path: Path, *, lock: ObjectLock | None = None, on_chunk: Callable[[int], None] | None = None
    ) -> None:
        """Upload a file as a stream; above the threshold boto3 sends it in parts (multipart).

        ``on_chunk(bytes)`` hears of each chunk sent (from boto3's threads)."""
        full = self._key(key)
        extra: dict[str, Any] = {}
        if lock is not None:
            extra = {"ObjectLockMode": lock.mode, "ObjectLockRetainUntilDate": lock.retain_until}
        try:
            with open(path, "rb") as handle:
                self.client.upload_fileobj(
                    handle,
                    self.bucket,
                    full,
                    ExtraArgs=extra or None,
                    Callback=on_chunk,
                    Config=self.transfer.config(),
                )
        except OSError as exc:
            raise StorageError(f"could not write {key!r} to {self.url}: {_reason(exc)}") from exc
        except Exception as exc:
            raise StorageError(f"could not write {key!r} to {self.url}: {_reason(exc)}") from exc

    def get_file(self, key: str, path: Path, *, on_chunk: Callable[[int], None] | None = None) -> None:
        """Download to ``path`` through a temporary file: a broken transfer leaves nothing behind.

        ``on_chunk(bytes)`` hears of each chunk received (from boto3's threads)."""
        full = self._key(key)
        extra = self._version_args(key)

        def fill(handle: Any) -> None:
            try:
                self.client.download_fileobj(
                    self.bucket,
                    full,
                    handle,
                    ExtraArgs=extra or None,
                    Callback=on_chunk,
                    Config=self.transfer.config(),
                )
            except Exception as exc:
                raise StorageError(f"could not read {key!r} from {self.url}: {_reason(exc)}") from exc

        _write_atomically(Path(path), fill, f"could not read {key!r} from {self.url}")

    def iter_chunks(self, key: str, chunk_size: int = CHUNK) -> Iterator[bytes]:
        """The object's bytes in order, one chunk at a time (one streaming GET)."""
        full = self._key(key)
        try:
            body = self.client.get_object(Bucket=self.bucket, Key=full, **self._version_args(key))["Body"]
        except StorageError:
            raise
        except Exception as exc:
            raise StorageError(f"could not read {key!r} from {self.url}: {_reason(exc)}") from exc
        try:
            yield from body.iter_chunks(chunk_size)
        except Exception as exc:
            raise StorageError(f"could not read {key!r} from {self.url}: {_reason(exc)}") from exc
        finally:
            body.close()

    def _head(self, key: str) -> dict[str, Any]:
        full = self._key(key)
        try:
            return dict(self.client.head_object(Bucket=self.bucket, Key=full, **self._version_args(key)))
        except StorageError:
            raise
        except Exception as exc:
            status = getattr(exc, "response", {}).get("ResponseMetadata", {}).get("HTTPStatusCode")
            if status == 404:
                raise StorageError(f"no object {key!r} in {self.url}") from exc
            raise StorageError(f"could not look up {key!r} in {self.url}: {_reason(exc)}") from exc

    def size(self, key: str) -> int:
        return int(self._head(key)["ContentLength"])

    def retention(self, key: str) -> Retention | None:
        """The Object Lock mode and retain-until date of the object (the pinned version if pinned)."""
        head = self._head(key)
        mode = head.get("ObjectLockMode")
        until = head.get("ObjectLockRetainUntilDate")
        if isinstance(until, str):
            until = dt.datetime.fromisoformat(until.replace("Z", "+00:00"))
        if isinstance(until, dt.datetime):
            until = until.astimezone(dt.UTC)
        return Retention(mode, until, head.get("VersionId"))

    def delete(self, key: str) -> None:
        """Delete the current object (in a versioned bucket: add a delete marker)."""
        full = self._key(key)
        try:
            self.client.delete_object(Bucket=self.bucket, Key=full)
        except Exception as exc:
            raise StorageError(f"could not delete {key!r} from {self.url}: {_reason(exc)}") from exc

    def delete_prefix(self, prefix: str) -> int:
        """Delete every object under ``prefix`` (a folder), a thousand per request."""
        keys = self.list(prefix)
        for start in range(0, len(keys), 1000):
            batch = [{"Key": self._key(k)} for k in keys[start : start + 1000]]
            try:
                answer = self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": batch, "Quiet": True})
            except Exception as exc:
                raise StorageError(f"could not delete {prefix!r} from {self.url}: {_reason(exc)}") from exc
            if answer.get("Errors"):
                first = answer["Errors"][0]
                raise StorageError(
                    f"could not delete {first.get('Key', prefix)!r} from {self.url}: {first.get('Code', 'error')}"
                )
        return len(keys)

    def object_lock_enabled(self) -> bool:
        """Whether the bucket has Object Lock switched on (it can hold locked versions)."""
        try:
            answer = self.client.get_object_lock_configuration(Bucket=self.bucket)
        except Exception as exc:
            code = _reason(exc)
            if code in ("ObjectLockConfigurationNotFoundError", "ObjectLockConfigurationNotFound"):
                return False
            raise StorageError(f"could not read the Object Lock setting of {self.url}: {code}") from exc
        return answer.get("ObjectLockConfiguration", {}).get("ObjectLockEnabled") == "Enabled"


def open_store(
    url: str,
    *,
    settings: Any | None = None,
    transfer: TransferSettings | None = None,
    pin_first_version: bool = False,
) -> LocalStore | S3Store:
    """Open the store a URL names: a folder path, or ``s3://bucket/prefix``."""
    if url.startswith("s3://"):
        if settings is None:
            from rotaflow.configs.settings import get_settings

            settings = get_settings()
        bucket, prefix = split_s3_url(url)
        access_key_id, secret_access_key = settings.s3_keys()
        client = s3_client(
            endpoint_url=settings.s3_endpoint_url,
            region=settings.s3_region,
            access_key_id=access_key_id,
            secret_access_key=secret_access_key,
        )
        return S3Store(
            bucket=bucket,
            prefix=prefix,
            client=client,
            transfer=transfer or TransferSettings(),
            pin_first_version=pin_first_version,
        )
    return LocalStore(Path(url))
