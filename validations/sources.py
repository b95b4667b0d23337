"""Fetch a program bundle's files from a folder, a ``.zip`` or an ``s3://`` prefix."""

from __future__ import annotations

import zipfile
from pathlib import Path, PurePosixPath
from typing import Any

from backups.storage import open_store
from rotaflow.errors import InputError, Problem, StorageError

__all__ = ["MAX_BUNDLE_BYTES", "read_bundle_files"]

MAX_BUNDLE_BYTES = 200 * 1024 * 1024
"""A bundle larger than this (uncompressed) is refused rather than read into memory."""


def read_bundle_files(source: str, *, settings: Any | None = None) -> dict[str, bytes]:
    """Return ``{file name: bytes}`` for the bundle at ``source``."""
    if source.startswith("s3://"):
        return _from_s3(source, settings)
    path = Path(source)
    if path.is_dir():
        return _from_folder(path)
    if path.is_file() and zipfile.is_zipfile(path):
        try:
            return _from_zip(path)
        except InputError:
            raise
        except Exception as exc:  # zlib.error, encrypted or unsupported members, truncated archives …
            raise InputError(
                [Problem(path.name, None, None, "a readable .zip archive", type(exc).__name__)], source=str(path)
            ) from exc
    if path.is_file():
        raise InputError(
            [Problem(path.name, None, None, "a bundle folder, a .zip file or an s3:// prefix", "another kind of file")],
            source=source,
        )
    raise InputError(
        [Problem(str(source), None, None, "an existing bundle folder, .zip file or s3:// prefix", "nothing there")],
        source=source,
    )


def _from_folder(path: Path) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    total = 0
    for item in sorted(path.iterdir()):
        if item.is_file() and not item.name.startswith("."):
            total += item.stat().st_size
            _check_size(total, str(path))
            files[item.name] = item.read_bytes()
    return files


def _from_zip(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        members = [m for m in archive.infolist() if not m.is_dir() and not _hidden(m.filename)]
        roots = {
            str(PurePosixPath(m.filename).parent) for m in members if PurePosixPath(m.filename).name == "program.yaml"
        }
        root = min(roots, key=len) if roots else "."
        files: dict[str, bytes] = {}
        total = 0
        for member in members:
            pure = PurePosixPath(member.filename)
            if str(pure.parent) != root:
                continue
            total += member.file_size
            _check_size(total, str(path))
            try:
                files[pure.name] = archive.read(member)
            except Exception as exc:  # a bad CRC, zlib.error, encryption, an unknown method
                raise InputError(
                    [Problem(pure.name, None, None, "a readable zip member", type(exc).__name__)], source=str(path)
                ) from exc
        return files


def _hidden(name: str) -> bool:
    return any(part.startswith(".") or part == "__MACOSX" for part in PurePosixPath(name).parts)


def _from_s3(source: str, settings: Any | None) -> dict[str, bytes]:
    try:
        store = open_store(source.rstrip("/"), settings=settings)
    except StorageError as exc:
        raise InputError(
            [Problem(source, None, None, "an s3://bucket/prefix address", str(exc))], source=source
        ) from exc
    try:
        keys = [k for k in store.list() if "/" not in k.strip("/")]
        files: dict[str, bytes] = {}
        total = 0
        for key in keys:
            data = store.get_bytes(key)
            total += len(data)
            _check_size(total, source)
            files[key.strip("/")] = data
    except StorageError as exc:
        raise InputError(
            [Problem(source, None, None, "a readable s3:// bundle prefix", str(exc))], source=source
        ) from exc
    if not files:
        raise InputError(
            [Problem(source, None, None, "bundle files under the s3:// prefix", "no objects")], source=source
        )
    return files


def _check_size(total: int, source: str) -> None:
    if total > MAX_BUNDLE_BYTES:
        raise InputError(
            [
                Problem(
                    source, None, None, f"a bundle of at most {MAX_BUNDLE_BYTES // (1024 * 1024)} MB", "a larger one"
                )
            ],
            source=source,
        )
