"""Fetch a program bundle's files from a folder, a ``.zip`` or an ``s3://`` prefix.

Every file is read through a stream that stops one byte past its limit (validations/limits.py):
the bytes counted are the bytes actually produced — a zip member's header is never trusted —
so a bomb costs at most the limit in memory. An archive or folder that could be read in more than
one way is refused rather than guessed at: two bundle folders at the same depth, a repeated member
name, a member path outside the archive, a symlink out of the bundle folder.
"""

from __future__ import annotations

import os
import re
import zipfile
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import replace
from pathlib import Path, PurePosixPath
from typing import Any, NoReturn

from rotaflow.errors import InputError, Problem, StorageError
from rotaflow.storage import open_store
from rotaflow.validations.limits import LIMITS, BundleLimits

__all__ = ["read_bundle_files", "read_capped_file"]

CHUNK = 64 * 1024
_DRIVE = re.compile(r"^[A-Za-z]:")


def read_bundle_files(source: str, *, settings: Any | None = None, limits: BundleLimits = LIMITS) -> dict[str, bytes]:
    """Return ``{file name: bytes}`` for the bundle at ``source``."""
    if source.startswith("s3://"):
        return _from_s3(source, settings, limits)
    path = Path(source)
    if path.is_dir():
        return _from_folder(path, limits)
    if path.is_file() and zipfile.is_zipfile(path):
        try:
            return _from_zip(path, limits)
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


def read_capped_file(path: Path, cap: int) -> bytes:
    """The bytes of one file, read through a stream that stops one chunk past ``cap`` bytes.

    A file past the cap is refused (``InputError`` naming the file and the cap) without being held whole.
    """
    with path.open("rb") as handle:
        return _Budget(path.name, str(path), replace(LIMITS, file_bytes=cap, bundle_bytes=cap)).take(
            path.name, _chunks(handle)
        )


class _Budget:
    """Reads files through capped streams: at most ``file_bytes`` each, ``bundle_bytes`` in all."""

    def __init__(self, label: str, source: str, limits: BundleLimits) -> None:
        self.label, self.source, self.limits = label, source, limits
        self.total = 0

    def take(self, name: str, chunks: Iterable[bytes]) -> bytes:
        cap, whole = self.limits.file_bytes, self.limits.bundle_bytes
        data = bytearray()
        for chunk in chunks:
            data += chunk
            if len(data) > cap:
                self._refuse(Problem(name, None, None, f"at most {cap} bytes", f"more than {cap}"))
            if self.total + len(data) > whole:
                self._refuse(Problem(self.label, None, None, f"at most {whole} bytes in all", "more"))
        self.total += len(data)
        return bytes(data)

    def _refuse(self, problem: Problem) -> NoReturn:
        raise InputError([problem], source=self.source)


def _chunks(handle: Any) -> Iterator[bytes]:
    while chunk := handle.read(CHUNK):
        yield chunk


# --------------------------------------------------------------------------- folders


def _from_folder(path: Path, limits: BundleLimits) -> dict[str, bytes]:
    names: list[str] = []
    with os.scandir(path) as entries:
        for entry in entries:  # counted before anything is sorted or read
            names.append(entry.name)
            if len(names) > limits.files:
                raise InputError(
                    [Problem(path.name, None, None, f"at most {limits.files} files", f"more than {limits.files}")],
                    source=str(path),
                )
    root = path.resolve()
    items = [path / name for name in sorted(names) if not name.startswith(".")]
    outside = [item.name for item in items if item.is_symlink() and not item.resolve().is_relative_to(root)]
    if outside:  # named by the link, never by where it points: that is not the bundle's to show
        raise InputError(
            [
                Problem(name, None, None, "a file inside the bundle folder", "a link to somewhere outside it")
                for name in outside
            ],
            source=str(path),
        )
    budget = _Budget(path.name, str(path), limits)
    files: dict[str, bytes] = {}
    for item in items:
        if item.is_file():
            with item.open("rb") as handle:
                files[item.name] = budget.take(item.name, _chunks(handle))
    return files


# --------------------------------------------------------------------------- zips


def _from_zip(path: Path, limits: BundleLimits) -> dict[str, bytes]:
    def refuse(problems: list[Problem]) -> NoReturn:
        raise InputError(problems, source=str(path))

    largest = limits.bundle_bytes + limits.files * 1024  # every member stored, with generous headers
    if (size := path.stat().st_size) > largest:  # before its directory is read into memory
        refuse([Problem(path.name, None, None, f"a .zip of at most {largest} bytes", str(size))])
    with zipfile.ZipFile(path) as archive:
        infos = archive.infolist()
        if len(infos) > limits.files:
            refuse([Problem(path.name, None, None, f"at most {limits.files} files", str(len(infos)))])
        outside = sorted({info.filename for info in infos if _outside(info.filename)})
        if outside:
            refuse(
                [
                    Problem(
                        name, None, None, "a member path inside the archive (no absolute path, no ..)", "one outside it"
                    )
                    for name in outside
                ]
            )
        members = sorted(
            (info for info in infos if not info.is_dir() and not _hidden(info.filename)), key=lambda i: i.filename
        )
        repeated = Counter(str(PurePosixPath(m.filename)) for m in members)
        if twice := sorted(name for name, count in repeated.items() if count > 1):
            refuse(
                [
                    Problem(name, None, None, "each file once in the zip", f"{repeated[name]} members with this name")
                    for name in twice
                ]
            )
        root = _bundle_root(path, members)
        budget = _Budget(path.name, str(path), limits)
        files: dict[str, bytes] = {}
        for member in members:
            pure = PurePosixPath(member.filename)
            if str(pure.parent) != root:
                continue
            try:
                with archive.open(member) as stream:  # a stream: the bytes produced are counted, not the header's
                    files[pure.name] = budget.take(pure.name, _chunks(stream))
            except InputError:
                raise
            except Exception as exc:  # a bad CRC, zlib.error, encryption, an unknown method
                expected = "a readable zip member"
                if isinstance(exc, zipfile.BadZipFile) and str(exc).startswith("Bad CRC-32"):
                    expected = "a zip member whose contents match its header (size, CRC-32)"
                raise InputError(
                    [Problem(pure.name, None, None, expected, type(exc).__name__)], source=str(path)
                ) from exc
        return files


def _bundle_root(path: Path, members: list[zipfile.ZipInfo]) -> str:
    """The folder of the shallowest program.yaml ("." for the top); two at that depth are refused."""
    roots = sorted(
        {str(PurePosixPath(m.filename).parent) for m in members if PurePosixPath(m.filename).name == "program.yaml"}
    )
    if not roots:
        return "."
    depth = min(_depth(f) for f in roots)
    top = [f for f in roots if _depth(f) == depth]
    if len(top) > 1:
        raise InputError(
            [
                Problem(
                    path.name,
                    None,
                    None,
                    "one bundle folder (one program.yaml at the top)",
                    f"{len(top)} at the same depth: {', '.join(top)}",
                )
            ],
            source=str(path),
        )
    return top[0]


def _depth(folder: str) -> int:
    return len(PurePosixPath(folder).parts)


def _outside(name: str) -> bool:
    parts = re.split(r"[/\\]", name)
    return name.startswith(("/", "\\")) or _DRIVE.match(name) is not None or ".." in parts


def _hidden(name: str) -> bool:
    return any(part.startswith(".") or part == "__MACOSX" for part in PurePosixPath(name).parts)


# --------------------------------------------------------------------------- s3


def _from_s3(source: str, settings: Any | None, limits: BundleLimits) -> dict[str, bytes]:
    try:
        store = open_store(source.rstrip("/"), settings=settings)
    except StorageError as exc:
        raise InputError(
            [Problem(source, None, None, "an s3://bucket/prefix address", str(exc))], source=source
        ) from exc
    try:
        listed = store.list()
        if len(listed) > limits.files:
            raise InputError(
                [Problem(source, None, None, f"at most {limits.files} files", str(len(listed)))], source=source
            )
        keys = sorted(k for k in listed if "/" not in k.strip("/"))
        budget = _Budget(source, source, limits)
        files: dict[str, bytes] = {}
        for key in keys:
            files[key.strip("/")] = budget.take(key.strip("/"), store.iter_chunks(key))
    except StorageError as exc:
        raise InputError(
            [Problem(source, None, None, "a readable s3:// bundle prefix", str(exc))], source=source
        ) from exc
    if not files:
        raise InputError(
            [Problem(source, None, None, "bundle files under the s3:// prefix", "no objects")], source=source
        )
    return files
