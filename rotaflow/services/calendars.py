"""Per-person iCalendar files that follow a block's versions.

Calendar apps match events by UID and keep the one with the highest SEQUENCE: an event that changes
keeps its UID and gets a higher SEQUENCE, and an event a version drops is written once more as
cancelled, so a subscribed calendar updates in place rather than showing the old and the new shift.
``calendar_identities`` decides each row's (uid, sequence) from the previous version's; the caller
stores them with the assignments. These are pure functions: no database, no files.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from typing import Any
from zoneinfo import ZoneInfo

from rotaflow.services.changes import Row
from rotaflow.validations.contracts import LINE_BREAKING

__all__ = [
    "CalendarId",
    "calendar_file",
    "calendar_files",
    "calendar_identities",
    "default_uid",
    "one_line",
]

CalendarId = tuple[str, int]
"""An event's identity in calendar apps: (UID, SEQUENCE)."""


def default_uid(program: str, row: Row, version: int | None = None) -> str:
    """The UID of a row that is new in ``version``: ``{program}-{person}-{date}-{shift}@rotaflow`` for a first
    version (as calendars have always been written), with ``-v{version}`` before ``@rotaflow`` after that, so a
    shift removed in one version and added again later never takes back a cancelled UID."""
    person, day, shift = row
    suffix = f"-v{version}" if version is not None and version > 1 else ""
    return f"{program}-{person}-{day.isoformat()}-{shift}{suffix}@rotaflow"


def _pair_moves(removed: list[Row], added: list[Row]) -> list[tuple[Row, Row]]:
    """One person's removed and added rows paired as moves: the same shift id first, then the nearest date,
    ties broken by date and shift so the pairing never depends on input order."""
    candidates = sorted(
        (r[2] != a[2], abs((a[1] - r[1]).days), r[1], r[2], a[1], a[2], r, a) for r in removed for a in added
    )
    used_removed: set[Row] = set()
    used_added: set[Row] = set()
    pairs: list[tuple[Row, Row]] = []
    for *_, r, a in candidates:
        if r in used_removed or a in used_added:
            continue
        used_removed.add(r)
        used_added.add(a)
        pairs.append((r, a))
    return pairs


def calendar_identities(
    program: str,
    to_version: int,
    old: Mapping[Row, CalendarId],
    new: Iterable[Row],
    *,
    retired: Iterable[str] = (),
) -> tuple[dict[Row, CalendarId], dict[Row, CalendarId]]:
    """The identities of version ``to_version``'s rows, and of the rows it cancels.

    ``old``: the previous version's rows and their identities (empty before the first version). A row in
    both keeps its identity. Per person, a removed row and an added row are paired as a move (the same shift
    id first, then the nearest date): the added row takes the removed row's UID with SEQUENCE + 1, and the
    removed row is not cancelled. Any other added row gets :func:`default_uid` (unversioned when ``old`` is
    empty) with SEQUENCE 0; any other removed row is cancelled: its UID with SEQUENCE + 1. ``retired``: UIDs
    used by versions before ``old`` (cancelled long ago); a fresh UID never repeats one of them or of ``old``.
    """
    rows = set(new)
    identities = {row: old[row] for row in rows if row in old}
    removed: dict[str, list[Row]] = {}
    added: dict[str, list[Row]] = {}
    for row in sorted(set(old) - rows):
        removed.setdefault(row[0], []).append(row)
    for row in sorted(rows - set(old)):
        added.setdefault(row[0], []).append(row)

    cancelled: dict[Row, CalendarId] = {}
    for person in sorted(set(removed) | set(added)):
        pairs = _pair_moves(removed.get(person, []), added.get(person, []))
        for was, now in pairs:
            uid, sequence = old[was]
            identities[now] = (uid, sequence + 1)
        moved_from = {was for was, _ in pairs}
        for was in removed.get(person, []):
            if was not in moved_from:
                uid, sequence = old[was]
                cancelled[was] = (uid, sequence + 1)

    taken = {uid for uid, _ in old.values()} | set(retired)
    for row in sorted(rows - set(identities)):
        uid = default_uid(program, row, None if not old else to_version)
        if uid in taken:
            uid = default_uid(program, row, to_version)
        if uid in taken:
            raise ValueError(f"version {to_version} is not after the versions whose calendar UIDs are given")
        taken.add(uid)
        identities[row] = (uid, 0)
    return dict(sorted(identities.items())), dict(sorted(cancelled.items()))


# --------------------------------------------------------------------------- files

_BREAKS = re.compile(f"[{LINE_BREAKING}]+")


def one_line(text: str) -> str:
    """``text`` on one line: line breaks and control characters (stored before the contract refused them)
    become single spaces."""
    return " ".join(_BREAKS.sub(" ", text).split())


def _summary(row: Mapping[str, Any]) -> str:
    rotation = row.get("rotation_id") or ""
    return f"{row['shift_id']}" + (f" ({rotation})" if rotation else "")


def calendar_file(
    events: list[dict[str, Any]],
    cancelled: list[dict[str, Any]],
    *,
    timezone: str,
    calendar_name: str,
    dtstamp: dt.datetime,
) -> bytes:
    """One iCalendar file (METHOD:PUBLISH) of ``events`` and ``cancelled`` events.

    Each event is an assignments.csv row (``start``/``end`` ISO with offset, ``shift_id``, ``rotation_id``,
    ``date``, ``person_id``) with its ``uid`` and ``sequence``. A cancelled event keeps its instants, says
    STATUS:CANCELLED and “Cancelled: ” before its summary. ``dtstamp``: when the version was made (written in
    UTC). Text is escaped as RFC 5545 requires and long lines are folded; the calendar's name is one line.
    """
    from icalendar import Calendar, Event, vText

    if dtstamp.tzinfo is None:
        raise ValueError("dtstamp must be an aware datetime (the time the version was made)")
    zone = ZoneInfo(timezone)
    stamp = dtstamp.astimezone(dt.UTC)
    calendar = Calendar()
    calendar.add("prodid", "-//rotaflow//schedule//EN")
    calendar.add("version", "2.0")
    calendar.add("method", "PUBLISH")
    # an X- property is written as it is unless typed: vText escapes it
    calendar.add("x-wr-calname", vText(one_line(calendar_name)))
    calendar.add("x-wr-timezone", timezone)
    items = [(row, False) for row in events] + [(row, True) for row in cancelled]
    start_of = {id(row): dt.datetime.fromisoformat(row["start"]) for row, _ in items}
    for row, is_cancelled in sorted(items, key=lambda item: (start_of[id(item[0])], str(item[0]["uid"]))):
        event = Event()
        event.add("uid", str(row["uid"]))
        event.add("sequence", int(row["sequence"]))
        event.add("summary", ("Cancelled: " if is_cancelled else "") + _summary(row))
        event.add("dtstart", start_of[id(row)].astimezone(zone))
        event.add("dtend", dt.datetime.fromisoformat(row["end"]).astimezone(zone))
        event.add("dtstamp", stamp)
        if is_cancelled:
            event.add("status", "CANCELLED")
        calendar.add_component(event)
    calendar.add_missing_timezones()  # a VTIMEZONE for the program's zone, so instants read back exactly
    return bytes(calendar.to_ical())


def calendar_files(
    events: list[dict[str, Any]],
    cancelled: list[dict[str, Any]],
    *,
    timezone: str,
    block_id: str,
    names: Mapping[str, str] | None,
    dtstamp: dt.datetime,
) -> dict[str, bytes]:
    """One calendar per person in ``events`` or ``cancelled`` (a person left with no shift still gets one, to
    cancel the old ones), keyed by ``person_id`` and named “{name or person_id} — {block_id}”. A file carries
    its person's name: give each only to its person."""
    mine: dict[str, tuple[list[dict[str, Any]], list[dict[str, Any]]]] = {}
    for row in events:
        mine.setdefault(str(row["person_id"]), ([], []))[0].append(row)
    for row in cancelled:
        mine.setdefault(str(row["person_id"]), ([], []))[1].append(row)
    return {
        person: calendar_file(
            active,
            gone,
            timezone=timezone,
            calendar_name=f"{(names or {}).get(person) or person} — {block_id}",
            dtstamp=dtstamp,
        )
        for person, (active, gone) in sorted(mine.items())
    }
