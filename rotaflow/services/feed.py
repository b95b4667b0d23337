"""The calendar feed residents subscribe to: one .ics per person of a program, at a path that never changes.

``var/calendars/<program>/<person_id>.ics`` (under the settings' ``var_dir``) holds every event the
database publishes for that person now: every published block of the program, not only the last one.
Events keep the UID and SEQUENCE stored with each published row (``rotaflow.services.calendars``), so
a calendar app that subscribed once updates its events in place when a new version is published.

The files are rewritten from the database after each publish commits (``refresh_after_commit``, which
``rotaflow.services.generate.publish_cells`` registers: generation, repair and swaps all publish through
it) and after a publish is withdrawn, so they always say what the database says. A file is written to
a temporary name and renamed (a reader never sees half a file), 0600 in a 0700 folder, and only when its
content changed. A file carries its person's name: serve each only to its person.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import logging
import os
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event, select
from sqlalchemy.orm import Session

from rotaflow.configs.settings import get_settings
from rotaflow.db.models import Assignment, Program, ProgramVersion, ScheduleRun, utcnow
from rotaflow.db.repositories import ProgramRepository
from rotaflow.db.session import UnitOfWork
from rotaflow.files import private_dir, private_file, write_private
from rotaflow.services.calendars import CalendarLabels, calendar_file, default_uid

__all__ = ["FEED_FOLDER", "Feed", "feed_dir", "feed_files", "read_feed", "refresh_after_commit", "refresh_feed"]

log = logging.getLogger(__name__)

FEED_FOLDER = "calendars"
"""The feed's folder under ``var_dir``: one subfolder per program key."""

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
    """Live published assignments as calendar rows (``calendar_file``'s), each with its block, UID and SEQUENCE."""
    labels: CalendarLabels = CalendarLabels()


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def read_feed(engine: Engine, program_key: str) -> Feed | None:
    """The program's live published rows, people, shift and rotation names and locations (None: no such
    program). A row stored before calendar identities were kept has the UID its calendar was given then."""
    with UnitOfWork(engine) as uow:
        s = uow.s
        program = s.scalars(select(Program).where(Program.key == program_key)).one_or_none()
        if program is None:
            return None
        programs = ProgramRepository(s)
        people = {p.person_id: p.name for p in programs.live_rows("people", program.id)}
        shifts = {r.shift_id: r.name for r in programs.live_rows("shifts", program.id)}
        rotations = {r.rotation_id: r.name for r in programs.live_rows("rotations", program.id)}
        settings = s.scalars(
            select(ProgramVersion.settings).where(
                ProgramVersion.program_id == program.id, ProgramVersion.version == program.current_version
            )
        ).one_or_none()
        places = (settings or {}).get("locations") or {}
        labels = CalendarLabels(
            shifts=shifts,
            rotations=rotations,
            shift_locations=dict(places.get("shifts") or {}),
            rotation_locations=dict(places.get("rotations") or {}),
        )
        found = s.execute(
            select(Assignment, ScheduleRun.block_id)
            .join(ScheduleRun, ScheduleRun.id == Assignment.run_id)
            .where(Assignment.program_id == program.id, Assignment.run_id.is_not(None))
            .order_by(Assignment.person_id, Assignment.start, Assignment.shift_id)
        ).all()
        rows = []
        for a, block_id in found:
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
        return Feed(program.key, program.name, program.timezone, people, rows, labels)


def feed_files(feed: Feed, also: tuple[str, ...] = ()) -> dict[str, bytes]:
    """One calendar per person of the program, with a published row or in ``also`` (a person whose file is
    there already: left with nothing, their calendar empties), keyed by person_id, named “{name} — {program
    name}”. A person without events gets a calendar without events."""
    mine: dict[str, list[dict[str, Any]]] = {p: [] for p in (*feed.people, *also)}
    for row in feed.rows:
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
    """Write ``data`` to ``path`` through a temporary file and a rename (0600); False when it had it already."""
    if path.is_file() and path.read_bytes() == data:
        return False
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        write_private(temporary, data)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    return True


def refresh_feed(engine: Engine, program: str | int, *, var_dir: Path | None = None) -> list[Path]:
    """Rewrite the program's feed (``program``: its key, or its database id) from the database: one .ics per
    person, every published block's current events. Returns the files written (those whose content changed);
    nothing for a program the database does not have."""
    if isinstance(program, int):
        with UnitOfWork(engine) as uow:
            found = uow.s.get(Program, program)
            if found is None:
                return []
            program = found.key
    folder = private_dir(feed_dir(program, var_dir))
    with _locked(folder):
        feed = read_feed(engine, program)
        if feed is None:
            return []
        there = tuple(sorted(p.stem for p in folder.glob("*.ics")))
        files = feed_files(feed, there)
        return [folder / f"{person}.ics" for person, data in files.items() if _replace(folder / f"{person}.ics", data)]


def refresh_after_commit(session: Session, program: str | int) -> None:
    """Rewrite the program's feed once ``session``'s transaction commits (never when it rolls back).

    The publish has happened by then: a feed that cannot be written (a full disk, say) is logged, not raised,
    and the next publish writes it whole again.
    """
    bind = session.get_bind()
    engine = bind if isinstance(bind, Engine) else bind.engine

    def refresh(_: Session) -> None:
        try:
            refresh_feed(engine, program)
        except Exception as error:  # the publish stands; the feed catches up at the next one
            log.warning("the calendar feed of program %s was not rewritten: %s", program, error)

    event.listen(session, "after_commit", refresh, once=True)
