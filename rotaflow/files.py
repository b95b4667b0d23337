"""Files that hold personal data are the owner's alone: 0600, in folders made 0700.

The database, a run's outputs (schedules, reports, calendars) and the backups carry names,
emails and shifts. Every place that writes one goes through these helpers, so the mode
does not depend on the process umask (the backups already write through ``mkstemp``, 0600).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

__all__ = ["PRIVATE_DIR", "PRIVATE_FILE", "private_dir", "private_file", "replace_private", "write_private"]

PRIVATE_FILE = 0o600
PRIVATE_DIR = 0o700


def private_dir(path: Path) -> Path:
    """``path`` as a folder; each folder made here (``path`` and missing parents) is 0700.

    A folder that already exists keeps its mode: it was made by someone on purpose.
    """
    missing: list[Path] = []
    current = path
    while not current.exists():
        missing.append(current)
        if current.parent == current:
            break
        current = current.parent
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=PRIVATE_DIR)
        except FileExistsError:  # made meanwhile by another process: it chose its mode
            continue
        os.chmod(folder, PRIVATE_DIR)  # mkdir's mode passes through the umask
    if not path.is_dir():
        raise NotADirectoryError(path)
    return path


def private_file(path: Path) -> Path:
    """Create ``path`` empty with mode 0600 if it is missing, or make the existing file 0600."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, PRIVATE_FILE)
    try:
        os.fchmod(fd, PRIVATE_FILE)
    finally:
        os.close(fd)
    return path


def write_private(path: Path, data: str | bytes) -> Path:
    """Write ``data`` (text as UTF-8) to ``path``, mode 0600 whether the file was there or not."""
    payload = data.encode("utf-8") if isinstance(data, str) else data
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE)
    with os.fdopen(fd, "wb") as handle:
        os.fchmod(handle.fileno(), PRIVATE_FILE)
        handle.write(payload)
    return path


def replace_private(path: Path, data: str | bytes) -> Path:
    """Write ``data`` (text as UTF-8) to ``path`` whole or not at all, mode 0600: a new file in the same
    folder renamed over ``path``, so a reader sees the old content or the new, never a half-written file,
    and two writers never interleave (the last rename wins). ``path`` gets a new inode."""
    payload = data.encode("utf-8") if isinstance(data, str) else data
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)  # 0600
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    return path
