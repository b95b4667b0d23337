"""The calendar feed residents subscribe to: one .ics per person of a program, at a path that never changes.

``var/calendars/<program>/<person_id>.ics`` (under the settings' ``var_dir``) holds the events the database
publishes for that person now: every published block of the program that ends within the retention
(``feed_retention_days`` of the settings, 400 days: blocks that ended longer ago are left out), not only
the last one. Events keep the UID and SEQUENCE stored with each published row
(``rotaflow.services.calendars``), so a calendar app that subscribed once updates its events in place when
a new version is published.

The files are rewritten from the database after each publish commits (``refresh_after_commit``, which
``rotaflow.services.generate.publish_cells`` registers: generation, repair and swaps all publish through
it) and after a publish is withdrawn, so they always say what the database says. A publish rewrites only
the files of the people whose rows it changed (a swap: its two people), reading only their rows in one
query, and writes the file of any person of the program who has none yet. The whole feed is written again
when what every file shows changed since it was last written (the program's name, time zone, people's
names, shift and rotation names and places, the blocks the retention leaves out): the folder's
``.state.json`` keeps a digest of it. A file is written to a temporary name, flushed to disk and renamed
(a reader never sees half a file, a crash never leaves an empty one), 0600 in a 0700 folder, and only when
its content changed. A file carries its person's name: serve each only to its person.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import fcntl
import hashlib
import json
import logging
import os
import re
import threading
import uuid
from collections.abc import Collection, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rotaflow.configs.settings import get_settings
from rotaflow.db.models import Program, utcnow
from rotaflow.db.repositories import ProgramRepository, ScheduleRepository
from rotaflow.db.session import Engine, Session, UnitOfWork, after_commit, bound_engine, unpooled_engine
from rotaflow.files import PRIVATE_FILE, private_dir, private_file
from rotaflow.services.calendars import CalendarLabels, calendar_file, default_uid

__all__ = [
    "FEED_FOLDER",
    "Feed",
    "changed_people",
    "feed_dir",
    "feed_files",
    "read_feed",
    "refresh_after_commit",
    "refresh_feed",
]

log = logging.getLogger(__name__)

FEED_FOLDER = "calendars"
"""The feed's folder under ``var_dir``: one subfolder per program key."""

STATE_FILE = ".state.json"
"""The feed folder's digest of what every file shows (``Feed.digest``): when it changes, every file is rewritten."""

_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:\-]{0,63}$")  # an id of the bundle contract: a file name as it is


def feed_dir(program_key: str, var_dir: Path | None = None) -> Path:
    """``<var_dir>/calendars/<program_key>``: where the program's feed is (made or not)."""
    if not _SAFE_NAME.match(program_key):
        raise ValueError(f"program key {program_key!r} is not a folder name")
    return (var_dir or get_settings().var_dir) / FEED_FOLDER / program_key


@dataclass(frozen=True)
class Feed:
    """A program's published events as the database has them, with what their calendars say."""

    program: str
    program_name: str
    timezone: str
    people: dict[str, str]
    """The program's people: person_id → display name."""
    rows: list[dict[str, Any]] = field(default_factory=list)
    """Live published assignments as calendar rows (``calendar_file``'s), each with its block, UID and SEQUENCE:
    of the blocks within the retention, of everyone or of the people asked for."""
    labels: CalendarLabels = CalendarLabels()
    left_out: tuple[str, ...] = ()
    """The program's blocks that ended before the retention's first day: their events are in no file."""

    @property
    def digest(self) -> str:
        """What every file shows beyond its own rows: when it changes, every file must be written again."""
        shown = {
            "program": [self.program, self.program_name, self.timezone],
            "people": sorted(self.people.items()),
            "labels": [sorted(dict(getattr(self.labels, f.name)).items()) for f in dataclasses.fields(self.labels)],
            "left_out": sorted(self.left_out),
        }
        return hashlib.sha256(json.dumps(shown, sort_keys=True, default=str).encode()).hexdigest()


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def read_feed(
    engine: Engine, program_key: str, *, people: Collection[str] | None = None, since: dt.date | None = None
) -> Feed | None:
    """The program's live published rows, people, shift and rotation names and locations (None: no such
    program). A row stored before calendar identities were kept has the UID its calendar was given then.

    ``people``: only these people's rows (None: everyone's); ``since``: only the rows of blocks ending on or
    after that day (a block blocks.csv no longer has is kept). The rows come in one query."""
    with UnitOfWork(engine) as uow:
        s = uow.s
        schedules = ScheduleRepository(s)
        program = schedules.find_program(program_key)
        if program is None:
            return None
        programs = ProgramRepository(s)
        names = {p.person_id: p.name for p in programs.live_rows("people", program.id)}
        shifts = {r.shift_id: r.name for r in programs.live_rows("shifts", program.id)}
        rotations = {r.rotation_id: r.name for r in programs.live_rows("rotations", program.id)}
        current = programs.version(program.id, program.current_version)
        settings = None if current is None else current.settings
        places = (settings or {}).get("locations") or {}
        labels = CalendarLabels(
            shifts=shifts,
            rotations=rotations,
            shift_locations=dict(places.get("shifts") or {}),
            rotation_locations=dict(places.get("rotations") or {}),
        )
        left_out: tuple[str, ...] = ()
        if since is not None:
            left_out = schedules.blocks_ended_before(program.id, since)
        rows = []
        for a, block_id in schedules.published_with_blocks(program.id, people=people, since=since):
            if a.start is None or a.end is None:  # every published row has its instants
                continue
            cell = (a.person_id, a.date, a.shift_id)
            rows.append(
                {
                    "person_id": a.person_id,
                    "date": a.date.isoformat(),
                    "shift_id": a.shift_id,
                    "start": _aware(a.start).isoformat(),
                    "end": _aware(a.end).isoformat(),
                    "hours": a.hours,
                    "rotation_id": a.rotation_id or "",
                    "block_id": block_id,
                    "uid": a.uid or default_uid(program_key, cell),
                    "sequence": a.sequence,
                    "dtstamp": _aware(a.created_at),
                }
            )
        return Feed(program.key, program.name, program.timezone, names, rows, labels, left_out)


def feed_files(feed: Feed, also: tuple[str, ...] = (), *, only: Collection[str] | None = None) -> dict[str, bytes]:
    """One calendar per person of the program, with a published row or in ``also`` (a person whose file is
    there already: left with nothing, their calendar empties), keyed by person_id, named “{name} — {program
    name}”. A person without events gets a calendar without events. ``only``: these people's calendars alone
    (``feed`` holds their rows)."""
    wanted = (*feed.people, *also) if only is None else tuple(only)
    mine: dict[str, list[dict[str, Any]]] = {p: [] for p in wanted}
    for row in feed.rows:
        if only is None or row["person_id"] in mine:
            mine.setdefault(row["person_id"], []).append(row)
    stamp = utcnow()  # every event carries its own: when its version was made
    return {
        person: calendar_file(
            events,
            [],
            timezone=feed.timezone,
            calendar_name=f"{feed.people.get(person) or person} — {feed.program_name}",
            dtstamp=stamp,
            labels=feed.labels,
        )
        for person, events in sorted(mine.items())
        if _SAFE_NAME.match(person)
    }


def changed_people(before: Iterable[tuple[Any, ...]], after: Iterable[tuple[Any, ...]]) -> set[str]:
    """The people (each tuple's first item) whose rows differ between ``before`` and ``after``: tuples of what
    a calendar shows of a row (person, date, shift, UID, SEQUENCE …), compared person by person."""
    return {str(row[0]) for row in set(before) ^ set(after)}


@contextmanager
def _locked(folder: Path) -> Iterator[None]:
    """The feed folder's lock: two publishes that end together write in turn, and the later one reads the
    database after the earlier one's commit, so the files end as the database is."""
    lock = private_file(folder / ".lock")
    with lock.open("rb") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _replace(path: Path, data: bytes) -> bool:
    """Write ``data`` to ``path`` through a temporary file, flushed to disk, and a rename (0600), then flush the
    folder (the rename survives a crash); False when it had it already."""
    if path.is_file() and path.read_bytes() == data:
        return False
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    folder = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)
    return True


def _written_digest(folder: Path) -> str | None:
    try:
        return str(json.loads((folder / STATE_FILE).read_text())["digest"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def refresh_feed(
    engine: Engine,
    program: str | int,
    *,
    people: Iterable[str] | None = None,
    var_dir: Path | None = None,
    today: dt.date | None = None,
    retention_days: int | None = None,
) -> list[Path]:
    """Rewrite the program's feed (``program``: its key, or its database id) from the database: one .ics per
    person, the current events of every published block ending within ``retention_days`` (default: the
    settings' ``feed_retention_days``) before ``today``. Returns the files written (those whose content
    changed); nothing for a program the database does not have.

    ``people``: the people whose rows a publish changed. Only their files are written, and the file of any
    person of the program who has none yet, unless what every file shows changed since the feed was last
    written (``Feed.digest``, kept in ``.state.json``): then, as with ``people=None``, every file is, and the
    file of a person the program no longer has empties."""
    if isinstance(program, int):
        with UnitOfWork(engine) as uow:
            found = uow.s.get(Program, program)
            if found is None:
                return []
            program = found.key
    retention = get_settings().feed_retention_days if retention_days is None else retention_days
    since = (today or utcnow().date()) - dt.timedelta(days=retention)
    folder = private_dir(feed_dir(program, var_dir))
    with _locked(folder):
        try:
            return _refresh(engine, program, folder, people, since)
        except BaseException:  # some files may be behind the database now: the next refresh writes them all
            with contextlib.suppress(OSError):
                (folder / STATE_FILE).unlink(missing_ok=True)
            raise


def _refresh(engine: Engine, program: str, folder: Path, people: Iterable[str] | None, since: dt.date) -> list[Path]:
    there = {p.stem for p in folder.glob("*.ics")}
    digest = _written_digest(folder)
    only = None if people is None or digest is None else set(people)
    feed = read_feed(engine, program, people=only, since=since)
    if feed is None:
        return []
    if only is not None and feed.digest != digest:  # every file may show something else: all of them
        only, feed = None, read_feed(engine, program, since=since) or feed
    elif only is not None and set(feed.people) - there:  # a person without a file yet gets one
        only |= set(feed.people) - there
        feed = read_feed(engine, program, people=only, since=since) or feed
    files = feed_files(feed, tuple(sorted(there))) if only is None else feed_files(feed, only=only)
    written = [folder / f"{p}.ics" for p, data in files.items() if _replace(folder / f"{p}.ics", data)]
    _replace(folder / STATE_FILE, json.dumps({"digest": feed.digest}).encode())
    return written


def refresh_after_commit(session: Session, program: str | int, people: Iterable[str] | None = None) -> None:
    """Rewrite the program's feed once ``session``'s transaction commits (never when it rolls back): the files
    of ``people`` (those whose rows the transaction changed), or every file (None).

    The publish has happened by then: a feed that cannot be written (a full disk, say) is logged, not raised,
    and the next publish writes it again (whole, when it was never written). Publishes that commit together in
    one process share one writer (``_Pending``): the first does the work, including what the others ask for
    while it runs, and the others return at once, so no committing thread waits on the feed's lock while it
    holds a database connection.
    """
    engine = bound_engine(session)
    touched = None if people is None else frozenset(people)
    after_commit(session, lambda: _PENDING.run(engine, program, touched))


class _Pending:
    """The refreshes asked for in this process and not yet done, per (database, program): one thread at a time
    writes a program's feed, taking what was asked meanwhile in its next round; the others only add to it."""

    def __init__(self) -> None:
        self._mutex = threading.Lock()
        self._asked: dict[tuple[str, str | int], set[str] | None] = {}
        self._busy: set[tuple[str, str | int]] = set()

    def run(self, engine: Engine, program: str | int, people: frozenset[str] | None) -> None:
        key = (engine.url.render_as_string(hide_password=True), program)
        with self._mutex:
            if key in self._asked:
                asked = self._asked[key]
                self._asked[key] = None if asked is None or people is None else asked | people
            else:
                self._asked[key] = None if people is None else set(people)
            if key in self._busy:
                return  # the thread writing this feed takes it in its next round
            self._busy.add(key)
        reader = unpooled_engine(engine)  # a committing session still holds a connection of engine's pool
        while True:
            with self._mutex:
                if key not in self._asked:
                    self._busy.discard(key)
                    return
                round_people = self._asked.pop(key)
            try:
                refresh_feed(reader, program, people=round_people)
            except Exception as error:  # the publish stands; the feed catches up at the next one
                log.warning("the calendar feed of program %s was not rewritten: %s", program, error)


_PENDING = _Pending()
