"""Recording an absence in a program bundle's absences.csv (``rotaflow absence add``, the absence flow).

The bundle folder is the program's source of truth: an absence is appended to its absences.csv, so
that the next ``repair`` (or ``generate``) of a block reads it with everything else. Only a bundle
folder can take a row (a .zip or an s3:// prefix is a copy made elsewhere). Everything is checked
before a byte is written; the file is replaced atomically, in its own format (columns, line endings,
byte order mark, mode), and the bundle is read back afterwards: when it no longer holds to its
contract, the old file is put back and the error raised, so nothing is lost.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import fcntl
import io
import os
import stat
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from rotaflow.configs.settings import Settings, get_settings, mask_url
from rotaflow.errors import InputError, Problem
from rotaflow.services.ingest import load_bundle
from rotaflow.validations.bundle import Bundle, personal_values
from rotaflow.validations.contracts import ABSENCE_TYPES

__all__ = ["ABSENCES_FILE", "ABSENCES_HEADER", "AbsenceAdded", "add_absence", "record_absence"]

ABSENCES_FILE = "absences.csv"
ABSENCES_HEADER = ("person_id", "start_date", "end_date", "type", "blocking")
"""The header an absences.csv made here gets (docs/formats.md, “absences.csv”)."""


@dataclass(frozen=True)
class AbsenceAdded:
    """What :func:`record_absence` did: the file, and whether the row was new (False: already recorded)."""

    path: Path
    written: bool


def add_absence(
    program: str,
    *,
    person_id: str,
    start: dt.date,
    end: dt.date,
    type: str,  # noqa: A002 - the column's name in absences.csv
    blocking: bool = True,
    settings: Settings | None = None,
) -> Path:
    """Append the absence to the bundle folder's absences.csv and return the file's path.

    ``InputError`` (exit 2), with nothing written, when ``program`` is not a bundle folder, the bundle does
    not hold to its contract, the person is not in people.csv, ``end`` is before ``start``, ``type`` is not
    an absence type, or the bundle would not hold to its contract with the row (the file is then put back).
    The same absence recorded already writes nothing.
    """
    return record_absence(
        program, person_id=person_id, start=start, end=end, type=type, blocking=blocking, settings=settings
    ).path


def record_absence(
    program: str,
    *,
    person_id: str,
    start: dt.date,
    end: dt.date,
    type: str,  # noqa: A002 - the column's name in absences.csv
    blocking: bool = True,
    settings: Settings | None = None,
) -> AbsenceAdded:
    """:func:`add_absence`, also saying whether a row was written."""
    settings = settings or get_settings()
    folder = _bundle_folder(program)
    with _locked(folder):
        bundle = load_bundle(str(folder), settings=settings)
        personal = personal_values(bundle.files)
        problems = _problems(bundle, person_id=person_id, start=start, end=end, type_=type)
        if problems:
            raise InputError(problems, source=str(folder), personal=personal)
        path = folder / ABSENCES_FILE
        recorded = _recorded(bundle, person_id=person_id, start=start, end=end, type_=type)
        if recorded is not None:
            if recorded == blocking:
                return AbsenceAdded(path, written=False)
            was = "blocking" if recorded else "not blocking"
            problem = Problem(ABSENCES_FILE, None, "blocking", "an absence not recorded yet", f"recorded as {was}")
            raise InputError([problem], source=str(folder), personal=personal)
        target = path.resolve() if path.is_symlink() else path  # a link (inside the bundle) stays a link
        old = target.read_bytes() if target.is_file() else None
        new = _appended(old, person_id=person_id, start=start, end=end, type_=type, blocking=blocking)
        mode = stat.S_IMODE(target.stat().st_mode) if old is not None else _new_file_mode(folder)
        _replace(target, new, mode)
        try:
            load_bundle(str(folder), settings=settings)
        except BaseException:
            if old is None:
                target.unlink(missing_ok=True)
            else:
                _replace(target, old, mode)
            raise
    return AbsenceAdded(path, written=True)


# --------------------------------------------------------------------------- checks


def _bundle_folder(program: str) -> Path:
    """The bundle folder, or ``InputError`` when ``program`` is anything else."""
    expected = "a bundle folder (absences are added to the folder's absences.csv, not to a .zip or s3:// copy)"
    if program[:5].lower() == "s3://":
        raise InputError([Problem(mask_url(program), None, None, expected, "an s3:// prefix")], source=program)
    path = Path(program)
    if path.is_dir():
        return path
    got = "a file" if path.exists() else "nothing there"
    raise InputError([Problem(str(path), None, None, expected, got)], source=program)


def _problems(bundle: Bundle, *, person_id: str, start: dt.date, end: dt.date, type_: str) -> list[Problem]:
    problems = []
    people = set(bundle.frames["people"]["person_id"].astype(str))
    if person_id not in people:
        problems.append(Problem(ABSENCES_FILE, None, "person_id", "a person_id of people.csv", person_id))
    if end < start:
        got = f"{end.isoformat()} before start_date {start.isoformat()}"
        problems.append(Problem(ABSENCES_FILE, None, "end_date", "a date on or after start_date", got))
    if type_ not in ABSENCE_TYPES:
        problems.append(Problem(ABSENCES_FILE, None, "type", "one of " + ", ".join(ABSENCE_TYPES), type_))
    return problems


def _recorded(bundle: Bundle, *, person_id: str, start: dt.date, end: dt.date, type_: str) -> bool | None:
    """Whether the absence is blocking as recorded (None: not recorded). A combination of person, dates and
    type appears once in absences.csv."""
    frame = bundle.frames.get("absences")
    if frame is None or frame.empty:
        return None
    for row in frame.itertuples(index=False):
        if (
            str(row.person_id) == person_id
            and pd.Timestamp(row.start_date).date() == start
            and pd.Timestamp(row.end_date).date() == end
            and str(row.type) == type_
        ):
            return True if pd.isna(row.blocking) else bool(row.blocking)
    return None


# --------------------------------------------------------------------------- writing


def _appended(old: bytes | None, *, person_id: str, start: dt.date, end: dt.date, type_: str, blocking: bool) -> bytes:
    """The file's bytes with the row added: in its own columns, line endings and byte order mark."""
    values = {
        "person_id": person_id,
        "start_date": start.isoformat(),
        "end_date": end.isoformat(),
        "type": type_,
        "blocking": "true" if blocking else "false",
    }
    if old is None or not old.strip(b"\xef\xbb\xbf \t\r\n"):
        header, ending = list(ABSENCES_HEADER), "\n"
        prefix = _line(header, ending)
    else:
        text = old.decode("utf-8-sig")
        header = [name.strip() for name in next(csv.reader(io.StringIO(text, newline="")))]
        ending = "\r\n" if "\r\n" in text else ("\r" if "\r" in text and "\n" not in text else "\n")
        if not blocking and "blocking" not in header:
            expected = "absences.csv with a blocking column (to record an absence that is not blocking)"
            raise InputError([Problem(ABSENCES_FILE, None, "blocking", expected, "no such column")])
        prefix = old if old.endswith((b"\n", b"\r")) else old + ending.encode()
    return prefix + _line([values.get(name, "") for name in header], ending)


def _line(cells: list[str], ending: str) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator=ending).writerow(cells)
    return buffer.getvalue().encode("utf-8")


def _new_file_mode(folder: Path) -> int:
    """A new absences.csv gets the mode of the bundle's people.csv (the bundle's files alike)."""
    people = folder / "people.csv"
    return stat.S_IMODE(people.stat().st_mode) if people.is_file() else 0o644


def _replace(path: Path, data: bytes, mode: int) -> None:
    """Write ``path`` atomically: a hidden temporary file in the same folder (the bundle reader skips
    dot files), flushed to disk, then renamed over the old one."""
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
            os.fchmod(handle.fileno(), mode)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def _locked(folder: Path) -> Iterator[None]:
    """The bundle folder locked against another absence being added at the same time (a lock on the folder
    itself: nothing is added to the bundle)."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock
