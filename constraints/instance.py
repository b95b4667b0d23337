"""The scheduling problem as the rule engine sees it: people, days, shift slots, demands.

An :class:`Instance` knows nothing of files or databases. Day ``0`` is ``start``; every
shift on a day is a :class:`Slot` with timezone-aware instants computed in the program's
timezone, so a shift across a daylight-saving change is an hour longer or shorter than
its clock times suggest.
"""

from __future__ import annotations

import bisect
import datetime as dt
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Literal
from zoneinfo import ZoneInfo

__all__ = [
    "Demand",
    "HistoryShift",
    "Instance",
    "PersonSpec",
    "PriorLoad",
    "RequestSpec",
    "Schedule",
    "ShiftSpec",
    "Slot",
    "Timeline",
    "local_midnight",
]

UTC = dt.UTC
Cell = tuple[str, int, str]
"""(person id, day index, shift id): one possible assignment."""


@dataclass(frozen=True)
class PersonSpec:
    """Someone who can be scheduled."""

    id: str
    role: Literal["resident", "faculty"] = "resident"
    pgy: int | None = None
    fte: float = 1.0
    skills: frozenset[str] = frozenset()


@dataclass(frozen=True)
class ShiftSpec:
    """A shift type. ``start``/``end`` are local clock times; ``end <= start`` means next day.

    Without clock times (a benchmark shift with only a length) the shift starts at local
    midnight and lasts ``minutes``.
    """

    id: str
    start: dt.time | None = None
    end: dt.time | None = None
    minutes: int | None = None
    transition_minutes: int = 0
    kind: str = "day"
    in_house_call: bool = False
    counts_as_work: bool = True
    home_call_hours: float | None = None


@dataclass(frozen=True)
class Slot:
    """One shift type on one day, with its real instants (UTC)."""

    day: int
    shift: str
    start: dt.datetime
    end: dt.datetime
    end_with_transition: dt.datetime
    work_minutes: int
    """Minutes that count as work: elapsed time plus transition, or home-call hours."""

    @property
    def scheduled_minutes(self) -> int:
        return int((self.end - self.start).total_seconds() // 60)

    @property
    def total_minutes(self) -> int:
        return int((self.end_with_transition - self.start).total_seconds() // 60)

    def overlap_minutes(self, start: dt.datetime, end: dt.datetime) -> int:
        """Work minutes of this slot that fall inside ``[start, end)`` (pro rata for home call)."""
        lo, hi = max(self.start, start), min(self.end_with_transition, end)
        if hi <= lo or self.work_minutes == 0:
            return 0
        span = (self.end_with_transition - self.start).total_seconds()
        share = (hi - lo).total_seconds() / span if span else 1.0
        return int(round(self.work_minutes * share))


@dataclass(frozen=True)
class Demand:
    """How many of ``people`` a shift needs on a day (``label`` names the source row)."""

    day: int
    shift: str
    people: frozenset[str]
    min: int = 0
    max: int | None = None
    target: int | None = None
    weight_under: int = 1
    weight_over: int = 0
    label: str = ""


@dataclass(frozen=True)
class RequestSpec:
    """A wish to work (``on``) or avoid (``off``) a shift, or any shift (``shift=None``), on a day."""

    person: str
    day: int
    shift: str | None
    kind: Literal["on", "off"]
    weight: int = 1


@dataclass(frozen=True)
class HistoryShift:
    """A shift already worked before day 0 (or pinned from an earlier schedule)."""

    person: str
    start: dt.datetime
    end_with_transition: dt.datetime
    work_minutes: int
    in_house_call: bool = False
    kind: str = "day"
    scheduled_minutes: int = 0
    shift: str = ""
    """The shift type's id, when known (succession rules read it)."""


def local_midnight(zone: ZoneInfo, day: dt.date) -> dt.datetime:
    """The instant a local calendar day begins, in UTC."""
    return dt.datetime.combine(day, dt.time(0, 0), tzinfo=zone).astimezone(UTC)


@dataclass(frozen=True)
class PriorLoad:
    """A resident's academic year before the horizon: calls, nights and weekend shifts worked, and the days
    they were available (the year's days so far less leave). Year-scope fairness balances the horizon against it."""

    calls: int = 0
    nights: int = 0
    weekends: int = 0
    available_days: int = 0
    holidays: int = 0
    """Shifts on the program's public holidays."""


@dataclass
class Instance:
    """A block (or any horizon) to schedule."""

    name: str
    start: dt.date
    days: int
    people: tuple[PersonSpec, ...]
    shifts: tuple[ShiftSpec, ...]
    timezone: str = "UTC"
    allowed: dict[tuple[str, int], frozenset[str]] | None = None
    """Shifts each person may work on each day (rotation eligibility); ``None``: any shift."""
    rotation: dict[tuple[str, int], str | None] = field(default_factory=dict)
    blocked_days: dict[str, frozenset[int]] = field(default_factory=dict)
    """Days a person may not work (blocking absences, fixed days off)."""
    leave_days: dict[str, frozenset[int]] = field(default_factory=dict)
    """Days of leave, left out of the work-hour average when the program says so: every day the
    program knows of, before the horizon (negative), inside it and after it (``>= days``), since
    the rolling windows of the horizon reach into the blocks on both sides."""
    demands: tuple[Demand, ...] = ()
    requests: tuple[RequestSpec, ...] = ()
    history: tuple[HistoryShift, ...] = ()
    prior: dict[str, PriorLoad] = field(default_factory=dict)
    holidays: frozenset[int] = frozenset()
    """Days of the horizon that are public holidays (program.yaml's ``holidays``)."""
    """Each resident's year so far before day 0 (none: the year starts with the horizon)."""
    pins: dict[Cell, bool] = field(default_factory=dict)
    previous: frozenset[Cell] = frozenset()
    frozen_days: int = 0
    """Days ``0 .. frozen_days - 1`` are held exactly to ``previous`` (a repair keeps the days before
    its date as published): each cell on those days is assigned iff it is in ``previous``."""
    meta: dict[str, object] = field(default_factory=dict)

    # ------------------------------------------------------------------ lookups

    @cached_property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @cached_property
    def person(self) -> dict[str, PersonSpec]:
        return {p.id: p for p in self.people}

    @cached_property
    def shift(self) -> dict[str, ShiftSpec]:
        return {s.id: s for s in self.shifts}

    @cached_property
    def person_ids(self) -> tuple[str, ...]:
        return tuple(p.id for p in self.people)

    @cached_property
    def shift_ids(self) -> tuple[str, ...]:
        return tuple(s.id for s in self.shifts)

    def date(self, day: int) -> dt.date:
        return self.start + dt.timedelta(days=day)

    def day_index(self, date: dt.date) -> int:
        return (date - self.start).days

    def midnight(self, day: int) -> dt.datetime:
        """Local midnight starting ``day`` (may be negative or past the horizon), in UTC."""
        known = self._midnights
        found = known.get(day)
        if found is None:
            found = known[day] = local_midnight(self.zone, self.date(day))
        return found

    @cached_property
    def _midnights(self) -> dict[int, dt.datetime]:
        """The midnights asked for so far (the work-hour checkers ask for each window's edges, per person)."""
        return {}

    def weekday(self, day: int) -> int:
        """Monday = 0 … Sunday = 6."""
        return self.date(day).weekday()

    # ------------------------------------------------------------------ slots

    def slot(self, day: int, shift_id: str) -> Slot:
        return self._slots[(day, shift_id)] if 0 <= day < self.days else self.make_slot(day, shift_id)

    @cached_property
    def _slots(self) -> dict[tuple[int, str], Slot]:
        return {(d, s.id): self.make_slot(d, s.id) for d in range(self.days) for s in self.shifts}

    def make_slot(self, day: int, shift_id: str) -> Slot:
        spec = self.shift[shift_id]
        date = self.date(day)
        if spec.start is None or spec.end is None:
            start = local_midnight(self.zone, date)
            end = start + dt.timedelta(minutes=spec.minutes or 0)
        else:
            start = dt.datetime.combine(date, spec.start, tzinfo=self.zone).astimezone(UTC)
            end_date = date if spec.end > spec.start else date + dt.timedelta(days=1)
            end = dt.datetime.combine(end_date, spec.end, tzinfo=self.zone).astimezone(UTC)
        with_transition = end + dt.timedelta(minutes=spec.transition_minutes)
        elapsed = int((with_transition - start).total_seconds() // 60)
        if not spec.counts_as_work:
            work = 0
        elif spec.kind == "home_call":
            work = int(round((spec.home_call_hours or 0.0) * 60))
        else:
            work = elapsed
        return Slot(day, shift_id, start, end, with_transition, work)

    def slots(self) -> Iterator[Slot]:
        return iter(self._slots.values())

    @cached_property
    def slot_list(self) -> tuple[Slot, ...]:
        """Every slot of the horizon by day, then shift: slot ``day × len(shifts) + k`` is shift ``k``
        on ``day`` (the order of ``Variables.row``)."""
        return tuple(self._slots.values())

    @cached_property
    def shift_position(self) -> dict[str, int]:
        """Each shift's place in ``shifts`` (``k`` in ``slot_list``'s numbering)."""
        return {s: k for k, s in enumerate(self.shift_ids)}

    def position(self, day: int, shift: str) -> int:
        """The place of a slot of the horizon in ``slot_list``."""
        return day * len(self.shifts) + self.shift_position[shift]

    @cached_property
    def timeline(self) -> Timeline:
        return Timeline(self.slot_list)

    def window_minutes(self, start: dt.datetime, end: dt.datetime) -> list[tuple[int, int]]:
        """(place in ``slot_list``, work minutes inside ``[start, end)``) of every slot with some, by place:
        a slot wholly inside counts its work minutes, one across an edge its share (``Slot.overlap_minutes``)."""
        slots = self.slot_list
        out = []
        for i in self.timeline.overlapping(start, end):
            slot = slots[i]
            if start <= slot.start and slot.end_with_transition <= end:
                minutes = slot.work_minutes
            else:
                minutes = slot.overlap_minutes(start, end)
            if minutes:
                out.append((i, minutes))
        return out

    # ------------------------------------------------------------------ per person

    def history_of(self, person: str) -> tuple[HistoryShift, ...]:
        """The person's shifts in history, in ``history`` order (indexed once per ``history``: a copy of the
        instance given another history, as the swap checks make, indexes its own)."""
        indexed = self.__dict__.get("_history_index")
        if indexed is None or indexed[0] is not self.history:
            out: dict[str, list[HistoryShift]] = {}
            for past in self.history:
                out.setdefault(past.person, []).append(past)
            indexed = self.__dict__["_history_index"] = (self.history, {p: tuple(h) for p, h in out.items()})
        return indexed[1].get(person, ())

    @cached_property
    def _sorted_leave(self) -> dict[str, list[int]]:
        return {person: sorted(days) for person, days in self.leave_days.items()}

    def leave_count(self, person: str, first: int, last: int) -> int:
        """How many of days ``first..last`` (inclusive) the person is on leave."""
        days = self._sorted_leave.get(person)
        if not days or last < first:
            return 0
        return bisect.bisect_right(days, last) - bisect.bisect_left(days, first)

    # ------------------------------------------------------------------ cells

    def may_work(self, person: str, day: int, shift: str) -> bool:
        """Eligibility by rotation alone (absences and pins are rules of their own)."""
        if self.allowed is None:
            return True
        return shift in self.allowed.get((person, day), frozenset())

    @cached_property
    def cells(self) -> tuple[Cell, ...]:
        """Every (person, day, shift) the model has a decision for."""
        return tuple((p, d, s) for p in self.person_ids for d in range(self.days) for s in self.shift_ids)


class Timeline:
    """Slots ordered by start, to find the ones overlapping an interval by bisection, not by a scan."""

    def __init__(self, slots: Iterable[Slot]) -> None:
        self.slots = tuple(slots)
        self.order = sorted(range(len(self.slots)), key=lambda i: (self.slots[i].start, self.slots[i].shift))
        self.starts = [self.slots[i].start for i in self.order]
        self.longest = max((s.end_with_transition - s.start for s in self.slots), default=dt.timedelta(0))

    def overlapping(self, start: dt.datetime, end: dt.datetime) -> list[int]:
        """Places (in the given sequence), ascending, of the slots whose ``[start, end + hand-off)`` meets
        ``[start, end)``: only those starting after ``start`` less the longest slot and before ``end`` are read."""
        lo = bisect.bisect_right(self.starts, start - self.longest)
        hi = bisect.bisect_left(self.starts, end)
        slots = self.slots
        return sorted(i for i in self.order[lo:hi] if start < slots[i].end_with_transition)


@dataclass
class Schedule:
    """A finished schedule: the cells worked, with the instance it answers."""

    instance: Instance
    cells: frozenset[Cell]

    @classmethod
    def of(
        cls,
        instance: Instance,
        cells: Iterable[Cell],
        *,
        by_slot: Mapping[tuple[int, str], Iterable[str]] | None = None,
    ) -> Schedule:
        """The schedule of ``cells``; ``by_slot``, when the caller knows it already: who works each (day, shift) of
        them (a shift nobody works may be left out or empty), then not read from the cells again."""
        schedule = cls(instance, frozenset(cells))
        if by_slot is not None:  # functools.cached_property keeps its value in the instance's __dict__
            schedule.__dict__["by_slot"] = {slot: frozenset(on) for slot, on in by_slot.items() if on}
        return schedule

    @cached_property
    def by_person(self) -> dict[str, list[Slot]]:
        """Each person's slots in time order (history not included)."""
        out: dict[str, list[Slot]] = {p: [] for p in self.instance.person_ids}
        for person, day, shift in self.cells:
            out.setdefault(person, []).append(self.instance.slot(day, shift))
        for slots in out.values():
            slots.sort(key=lambda s: (s.start, s.shift))
        return out

    @cached_property
    def by_slot(self) -> dict[tuple[int, str], frozenset[str]]:
        """Who works each (day, shift) that anyone works: a rule of a shift reads its people, not every cell."""
        out: dict[tuple[int, str], set[str]] = {}
        for person, day, shift in self.cells:
            out.setdefault((day, shift), set()).add(person)
        return {slot: frozenset(people) for slot, people in out.items()}

    def works(self, person: str, day: int, shift: str | None = None) -> bool:
        if shift is not None:
            return (person, day, shift) in self.cells
        return any((person, day, s) in self.cells for s in self.instance.shift_ids)
