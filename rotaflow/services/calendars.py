"""Per-person iCalendar files that follow a block's versions.

Calendar apps match events by UID and keep the one with the highest SEQUENCE: an event that changes
keeps its UID and gets a higher SEQUENCE, and an event a version drops is written once more as
cancelled, so a subscribed calendar updates in place rather than showing the old and the new shift.
``calendar_identities`` decides each row's (uid, sequence) from the previous version's; the caller
stores them with the assignments. An event's title is the shift's and the day's rotation's names
(``CalendarLabels``), its description the codes and hours, its location the bundle's when it gives one.
These are pure functions: no database, no files (the subscription feed is ``rotaflow.services.feed``'s).
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import pandas as pd

from rotaflow.services.changes import Row
from rotaflow.validations.contracts import LINE_BREAKING

if TYPE_CHECKING:
    from rotaflow.validations.bundle import Bundle

__all__ = [
    "CalendarId",
    "CalendarLabels",
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


def _text(value: Any) -> str:
    """A frame's or a row's cell as text: empty for NA/None."""
    if value is None or value is pd.NA or (isinstance(value, float) and value != value):
        return ""
    return one_line(str(value))


def _column(frame: Any, key: str, column: str) -> dict[str, str]:
    """``column`` of a bundle frame by its ``key``, the rows that give one (an absent column gives none)."""
    if frame is None or column not in frame.columns:
        return {}
    pairs = zip(frame[key], frame[column], strict=True)
    return {str(k): text for k, value in pairs if (text := _text(value))}


@dataclass(frozen=True)
class CalendarLabels:
    """What a calendar event says besides its codes: the shift's and the rotation's names (shifts.csv's and
    rotations.csv's ``name``) and where it is (their optional ``location``; the shift's wins). Nothing
    here is personal data. Without labels an event is titled by its codes."""

    shifts: Mapping[str, str] = field(default_factory=dict)
    rotations: Mapping[str, str] = field(default_factory=dict)
    shift_locations: Mapping[str, str] = field(default_factory=dict)
    rotation_locations: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def of_bundle(cls, bundle: Bundle) -> CalendarLabels:
        shifts, rotations = bundle.frames["shifts"], bundle.frames["rotations"]
        return cls(
            shifts=_column(shifts, "shift_id", "name"),
            rotations=_column(rotations, "rotation_id", "name"),
            shift_locations=_column(shifts, "shift_id", "location"),
            rotation_locations=_column(rotations, "rotation_id", "location"),
        )

    def locations(self) -> dict[str, dict[str, str]]:
        """The locations as stored with a program's version (empty when the bundle gives none)."""
        found = {"shifts": dict(self.shift_locations), "rotations": dict(self.rotation_locations)}
        return {kind: dict(sorted(places.items())) for kind, places in found.items() if places}

    def title(self, row: Mapping[str, Any]) -> str:
        """“{shift name} — {rotation name}” (the shift's name alone without a rotation or when both are the
        same); an id stands for a name the labels do not have."""
        shift, rotation = _text(row.get("shift_id")), _text(row.get("rotation_id"))
        shift_name = self.shifts.get(shift) or shift
        rotation_name = (self.rotations.get(rotation) or rotation) if rotation else ""
        if not rotation_name or rotation_name.casefold() == shift_name.casefold():
            return shift_name
        return f"{shift_name} — {rotation_name}"

    def location(self, row: Mapping[str, Any]) -> str:
        """The shift's location, else the rotation's, else empty."""
        shift, rotation = _text(row.get("shift_id")), _text(row.get("rotation_id"))
        return self.shift_locations.get(shift) or (self.rotation_locations.get(rotation, "") if rotation else "")


def _description(row: Mapping[str, Any]) -> str:
    """The codes and hours behind the title, one per line (no names)."""
    lines = [f"shift: {_text(row.get('shift_id'))}"]
    if rotation := _text(row.get("rotation_id")):
        lines.append(f"rotation: {rotation}")
    hours = row.get("hours")
    if hours is not None and _text(hours):
        lines.append(f"hours: {float(hours):g}")
    if block := _text(row.get("block_id")):
        lines.append(f"block: {block}")
    return "\n".join(lines)


def calendar_file(
    events: list[dict[str, Any]],
    cancelled: list[dict[str, Any]],
    *,
    timezone: str,
    calendar_name: str,
    dtstamp: dt.datetime,
    labels: CalendarLabels | None = None,
) -> bytes:
    """One iCalendar file (METHOD:PUBLISH) of ``events`` and ``cancelled`` events.

    Each event is an assignments.csv row (``start``/``end`` ISO with offset, ``shift_id``, ``rotation_id``,
    ``date``, ``person_id``, ``hours``; optionally ``block_id`` and an aware ``dtstamp`` of its own) with its
    ``uid`` and ``sequence``. SUMMARY is ``labels``' title (the shift's and the rotation's names), DESCRIPTION
    the codes and hours, LOCATION the labels' location when there is one. A cancelled event keeps its
    instants, says STATUS:CANCELLED and “Cancelled: ” before its summary. ``dtstamp``: when the version was
    made (written in UTC). Text is escaped as RFC 5545 requires and long lines are folded; the calendar's
    name is one line. A file without events still holds the program zone's VTIMEZONE.
    """
    from icalendar import Calendar, Event, vText

    if dtstamp.tzinfo is None:
        raise ValueError("dtstamp must be an aware datetime (the time the version was made)")
    labels = labels or CalendarLabels()
    zone = ZoneInfo(timezone)
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
        event.add("summary", ("Cancelled: " if is_cancelled else "") + labels.title(row))
        event.add("description", _description(row))
        if place := labels.location(row):
            event.add("location", place)
        event.add("dtstart", start_of[id(row)].astimezone(zone))
        event.add("dtend", dt.datetime.fromisoformat(row["end"]).astimezone(zone))
        own = row.get("dtstamp")
        event.add("dtstamp", (own if isinstance(own, dt.datetime) and own.tzinfo else dtstamp).astimezone(dt.UTC))
        if is_cancelled:
            event.add("status", "CANCELLED")
        calendar.add_component(event)
    # the program zone's VTIMEZONE, first (as icalendar's add_missing_timezones puts it), so instants read back
    # exactly: every event is in that zone, and a calendar without events holds it as its one component (RFC 5545)
    calendar.subcomponents.insert(0, vtimezone(timezone))
    return bytes(calendar.to_ical())


@functools.lru_cache(maxsize=32)
def vtimezone(tzid: str) -> Any:
    """The VTIMEZONE of ``tzid`` (icalendar's ``Timezone.from_tzid`` over its default span of dates), made once per
    process and shared by every calendar written: icalendar builds it from the zone's transitions and asks its
    callers to cache it (in a py-spy profile of a 144-resident run, 4.6 of the 6 s its calendars took, export and
    feed). Read only: a calendar's ``to_ical`` only reads its components."""
    from icalendar import Timezone

    return Timezone.from_tzid(tzid)


def calendar_files(
    events: list[dict[str, Any]],
    cancelled: list[dict[str, Any]],
    *,
    timezone: str,
    block_id: str,
    names: Mapping[str, str] | None,
    dtstamp: dt.datetime,
    labels: CalendarLabels | None = None,
    people: Iterable[str] = (),
) -> dict[str, bytes]:
    """One calendar per person of ``people`` (one with no shift gets a calendar without events) and per person
    in ``events`` or ``cancelled`` (a person left with no shift still gets one, to cancel the old ones), keyed
    by ``person_id`` and named “{name or person_id} — {block_id}”. A file carries its person's name: give
    each only to its person."""
    mine: dict[str, tuple[list[dict[str, Any]], list[dict[str, Any]]]] = {str(p): ([], []) for p in people}
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
            labels=labels,
        )
        for person, (active, gone) in sorted(mine.items())
    }
