"""Object storage: a local folder or any S3-compatible endpoint, behind one interface.

``open_store(url)`` gives a :class:`LocalStore` for a path and an :class:`S3Store` for
``s3://bucket/prefix``. Keys are ``/``-separated and relative to the store's root.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Protocol
from urllib.parse import urlparse

from rotaflow.errors import StorageError

__all__ = ["LocalStore", "ObjectStore", "S3Store", "open_store", "s3_client", "split_s3_url"]


class ObjectStore(Protocol):
    """What rotaflow needs of a place to keep files."""

    @property
    def url(self) -> str: ...

    def put_bytes(self, key: str, data: bytes) -> None: ...
    def get_bytes(self, key: str) -> bytes: ...
    def list(self, prefix: str = "") -> list[str]: ...
    def exists(self, key: str) -> bool: ...


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
            target.parent.mkdir(parents=True, exist_ok=True)
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


def split_s3_url(url: str) -> tuple[str, str]:
    parsed = urlparse(url)
    if parsed.scheme != "s3" or not parsed.netloc:
        raise StorageError(f"expected s3://bucket/prefix, got {url!r}")
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
            body = self.client.get_object(Bucket=self.bucket, Key=full)["Body"]
            return bytes(body.read())
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
            return sorted(self._iter_keys(prefix))
        except Exception as exc:
            raise StorageError(f"could not list {self.url}: {type(exc).__name__}") from exc

    def exists(self, key: str) -> bool:
        full = self._key(key)
        try:
            self.client.head_object(Bucket=self.bucket, Key=full)
            return True
        except Exception as exc:
            status = getattr(exc, "response", {}).get("ResponseMetadata", {}).get("HTTPStatusCode")
            if status == 404:
                return False
            raise StorageError(f"could not look up {key!r} in {self.url}: {type(exc).__name__}") from exc


def open_store(url: str, *, settings: Any | None = None) -> ObjectStore:
    """Open the store a URL names: a folder path, or ``s3://bucket/prefix``."""
    if url.startswith("s3://"):
        if settings is None:
            from configs.settings import get_settings

            settings = get_settings()
        bucket, prefix = split_s3_url(url)
        client = s3_client(
            endpoint_url=settings.s3_endpoint_url,
            region=settings.s3_region,
            access_key_id=settings.s3_access_key_id.get_secret_value() if settings.s3_access_key_id else None,
            secret_access_key=(
                settings.s3_secret_access_key.get_secret_value() if settings.s3_secret_access_key else None
            ),
        )
        return S3Store(bucket=bucket, prefix=prefix, client=client)
    return LocalStore(Path(url))
