"""Curtois & Qu employee shift scheduling benchmark: reader, roster grid and independent evaluator.

The text format is the one published at schedulingbenchmarks.org/nrp (instances 1-24): ``#``
starts a comment, blank lines are ignored, and the data sit in sections introduced by a header
line (``SECTION_HORIZON``, ``SECTION_SHIFTS``, ``SECTION_STAFF``, ``SECTION_DAYS_OFF``,
``SECTION_SHIFT_ON_REQUESTS``, ``SECTION_SHIFT_OFF_REQUESTS``, ``SECTION_COVER``) in any order.
Day 0 is a Monday.

The reader tolerates a byte order mark, CRLF/LF/CR line endings, whitespace around fields and
trailing commas; numbers are read as a plain integer reader reads them (``-0``, ``+3``, ``007``),
and a negative one (other than ``-0``) is an error. Files above :data:`MAX_FILE_BYTES` or
:data:`MAX_LINES`, numbers above :data:`MAX_VALUE` and horizons above :data:`MAX_HORIZON` are refused.
It collects every problem it can find and raises one
:class:`~rotaflow.errors.InputError` whose problems name the file, the 1-based line number, the
field and what was expected. ``SECTION_HORIZON``, ``SECTION_SHIFTS``, ``SECTION_STAFF`` and
``SECTION_COVER`` are required; the days-off and request sections may be absent (no rows).

:func:`evaluate` checks a roster against the official hard rules and computes the official
objective, independently of any solver model.
"""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from rotaflow.errors import InputError, Problem

__all__ = [
    "REQUIRED_SECTIONS",
    "SECTIONS",
    "CurtoisCover",
    "CurtoisInstance",
    "CurtoisRequest",
    "CurtoisShift",
    "CurtoisStaff",
    "Evaluation",
    "Roster",
    "evaluate",
    "load_curtois",
    "parse_curtois",
    "roster_from_csv",
    "roster_from_text",
    "roster_to_csv",
    "roster_to_text",
]

Roster = dict[str, dict[int, str]]
"""Staff id -> day index -> shift id; a day absent from the inner dict is a day off."""

SECTIONS: tuple[str, ...] = (
    "SECTION_HORIZON",
    "SECTION_SHIFTS",
    "SECTION_STAFF",
    "SECTION_DAYS_OFF",
    "SECTION_SHIFT_ON_REQUESTS",
    "SECTION_SHIFT_OFF_REQUESTS",
    "SECTION_COVER",
)
REQUIRED_SECTIONS: tuple[str, ...] = ("SECTION_HORIZON", "SECTION_SHIFTS", "SECTION_STAFF", "SECTION_COVER")

_STAFF_FIELDS = (
    "ID",
    "MaxShifts",
    "MaxTotalMinutes",
    "MinTotalMinutes",
    "MaxConsecutiveShifts",
    "MinConsecutiveShifts",
    "MinConsecutiveDaysOff",
    "MaxWeekends",
)
_REQUEST_FIELDS = ("EmployeeID", "Day", "ShiftID", "Weight")
_COVER_FIELDS = ("Day", "ShiftID", "Requirement", "WeightUnder", "WeightOver")
_INTEGER = re.compile(r"[+-]?[0-9]+")
MAX_FILE_BYTES = 64 * 1024 * 1024
"""The largest instance file read (the published ones are under 130 kB)."""
MAX_LINES = 1_000_000
"""The most lines an instance file may have."""
MAX_VALUE = 1_000_000_000
"""The largest number a field may hold (minutes, weights, counts)."""
MAX_OBJECTIVE = 2**53
"""The largest objective an instance may reach (every request missed, every cover as far off as its
weights and the staff allow): below it, every sum the solver and the evaluator form stays exact, in
64-bit integers and in floating point alike."""
MAX_HORIZON = 3_660
"""The longest horizon read, in days (ten years)."""


# --------------------------------------------------------------------------- data


@dataclass(frozen=True)
class CurtoisShift:
    """A shift type: its length and the shift types that may not be worked on the next day."""

    id: str
    minutes: int
    cannot_follow: tuple[str, ...] = ()


@dataclass(frozen=True)
class CurtoisStaff:
    """One employee's hard limits. A shift type missing from ``max_shifts`` has no limit."""

    id: str
    max_shifts: dict[str, int]
    max_total_minutes: int
    min_total_minutes: int
    max_consecutive_shifts: int
    min_consecutive_shifts: int
    min_consecutive_days_off: int
    max_weekends: int


@dataclass(frozen=True)
class CurtoisRequest:
    """A wish to work (on-request) or not to work (off-request) a shift on a day."""

    staff: str
    day: int
    shift: str
    weight: int


@dataclass(frozen=True)
class CurtoisCover:
    """How many staff a shift needs on a day, and the penalty per person short or extra."""

    day: int
    shift: str
    requirement: int
    weight_under: int
    weight_over: int


@dataclass(frozen=True)
class CurtoisInstance:
    """A whole benchmark instance."""

    name: str
    horizon: int
    shifts: tuple[CurtoisShift, ...]
    staff: tuple[CurtoisStaff, ...]
    days_off: dict[str, frozenset[int]]
    on_requests: tuple[CurtoisRequest, ...]
    off_requests: tuple[CurtoisRequest, ...]
    cover: tuple[CurtoisCover, ...]

    @cached_property
    def shift_by_id(self) -> dict[str, CurtoisShift]:
        return {s.id: s for s in self.shifts}

    @cached_property
    def staff_by_id(self) -> dict[str, CurtoisStaff]:
        return {s.id: s for s in self.staff}

    @property
    def shift_ids(self) -> list[str]:
        return [s.id for s in self.shifts]

    @property
    def staff_ids(self) -> list[str]:
        return [s.id for s in self.staff]

    @property
    def weekends(self) -> list[tuple[int, ...]]:
        """Each weekend's day indexes inside the horizon: ``(sat, sun)``, or ``(sat,)`` if the horizon
        ends on a Saturday. Day 0 is a Monday, so Saturdays are days 5, 12, 19, ..."""
        return [(sat, sat + 1) if sat + 1 < self.horizon else (sat,) for sat in range(5, self.horizon, 7)]


# --------------------------------------------------------------------------- reader


def load_curtois(path: str | Path) -> CurtoisInstance:
    """Read an instance file; the instance is named after the file's stem (``Instance1``)."""
    p = Path(path)
    try:
        with p.open("rb") as handle:
            data = handle.read(MAX_FILE_BYTES + 1)  # never more than the limit in memory
    except OSError as exc:
        raise InputError(
            [Problem(str(p), None, None, "a readable instance file", type(exc).__name__)], source=str(p)
        ) from None
    if len(data) > MAX_FILE_BYTES:
        try:
            got = f"{p.stat().st_size} bytes"
        except OSError:
            got = "a larger file"
        raise InputError(
            [Problem(p.name, None, None, f"a file of at most {MAX_FILE_BYTES} bytes", got)],
            source=str(p),
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(
            [Problem(p.name, None, None, "UTF-8 text", f"a byte that is not UTF-8 at offset {exc.start}")],
            source=str(p),
        ) from None
    return parse_curtois(text, name=p.stem, file=p.name)


def parse_curtois(text: str, *, name: str = "instance", file: str | None = None) -> CurtoisInstance:
    """Parse the text of an instance. Problems are reported against ``file`` (default: ``name``)."""
    return _Reader(file or name).read(text, name)


_Row = tuple[int, list[str]]  # (1-based line number, fields)


def _short(value: str, limit: int = 60) -> str:
    if value == "":
        return "nothing"
    return repr(value if len(value) <= limit else value[: limit - 3] + "...")


def _split(line: str) -> list[str]:
    fields = [f.strip() for f in line.split(",")]
    while fields and fields[-1] == "":
        fields.pop()
    return fields


class _Reader:
    def __init__(self, file: str) -> None:
        self.file = file
        self.problems: list[Problem] = []
        self.horizon: int | None = None
        self.shift_ids: set[str] = set()
        self.staff_ids: set[str] = set()

    # -- helpers

    def problem(self, line: int | None, column: str | None, expected: str, got: str | None) -> None:
        self.problems.append(Problem(self.file, line, column, expected, got))

    def whole(self, line: int, column: str, raw: str, expected: str, *, maximum: int | None = None) -> int | None:
        """A whole number as a plain integer reader takes it (``-0``, ``+3``, ``007``), from 0 to
        ``maximum`` (``expected`` names the range) or else to :data:`MAX_VALUE`."""
        value = None
        if _INTEGER.fullmatch(raw):  # thousands of digits would trip int()'s own limit: cap them first
            digits = raw.lstrip("+-").lstrip("0")
            value = int(raw) if len(digits) <= 12 else (MAX_VALUE + 1) * (-1 if raw.startswith("-") else 1)
        if value is None or value < 0 or (maximum is not None and value > maximum):
            self.problem(line, column, expected, _short(raw))
            return None
        if value > MAX_VALUE:
            self.problem(line, column, f"{expected}, at most {MAX_VALUE}", _short(raw))
            return None
        return value

    def day(self, line: int, column: str, raw: str) -> int | None:
        if self.horizon is None:  # the horizon itself is broken or missing: only check the form
            return self.whole(line, column, raw, "a whole-number day index")
        return self.whole(line, column, raw, f"a day index from 0 to {self.horizon - 1}", maximum=self.horizon - 1)

    def shift_ref(self, line: int, column: str, raw: str) -> str | None:
        if raw in self.shift_ids:
            return raw
        self.problem(line, column, "a shift id defined in SECTION_SHIFTS", _short(raw))
        return None

    def staff_ref(self, line: int, column: str, raw: str) -> str | None:
        if raw in self.staff_ids:
            return raw
        self.problem(line, column, "a staff id defined in SECTION_STAFF", _short(raw))
        return None

    def count(self, section: str, line: int, fields: list[str], names: tuple[str, ...]) -> bool:
        if len(fields) == len(names):
            return True
        self.problem(line, section, f"{len(names)} fields: {', '.join(names)}", _plural(len(fields), "field"))
        return False

    # -- structure

    def sections(self, text: str) -> dict[str, list[_Row]]:
        found: dict[str, list[_Row]] = {}
        header_line: dict[str, int] = {}
        current: str | None = None
        skipping = False  # inside an unknown or repeated section: its rows are not read
        lines = text.lstrip("\ufeff").splitlines()
        if len(lines) > MAX_LINES:
            self.problem(None, None, f"a file of at most {MAX_LINES} lines", f"{len(lines)} lines")
            return {}
        for number, raw in enumerate(lines, start=1):
            line = raw.split("#", 1)[0].strip()
            if not line:
                continue
            if line.upper().startswith("SECTION_"):
                title = line.rstrip(", \t").upper()
                if title not in SECTIONS:
                    self.problem(number, None, "a known section header (" + ", ".join(SECTIONS) + ")", _short(line))
                    skipping = True
                elif title in header_line:
                    self.problem(number, title, f"each section once (first on line {header_line[title]})", "a repeat")
                    skipping = True
                else:
                    header_line[title] = number
                    found[title] = []
                    current, skipping = title, False
                continue
            if skipping:
                continue
            if current is None:
                self.problem(number, None, "a SECTION_ header before any data", _short(line))
                skipping = True
                continue
            fields = _split(line)
            if fields:  # a line of bare commas carries no data
                found[current].append((number, fields))
        for title in REQUIRED_SECTIONS:
            if title not in found:
                self.problem(None, title, f"a {title} section", "none")
        return found

    # -- sections

    def read_horizon(self, rows: list[_Row]) -> int | None:
        if not rows:
            self.problem(None, "SECTION_HORIZON", "one line with the number of days", "nothing")
            return None
        for line, _fields in rows[1:]:
            self.problem(line, "SECTION_HORIZON", "one line with the number of days", "another line")
        line, fields = rows[0]
        raw = ",".join(fields)
        expected = "a whole number of days, at least 1"
        value = self.whole(line, "horizon", raw, expected)
        if value == 0:
            self.problem(line, "horizon", expected, _short(raw))
            return None
        if value is not None and value > MAX_HORIZON:
            self.problem(line, "horizon", f"{expected} and at most {MAX_HORIZON}", _short(raw))
            return None
        return value

    def read_shift_ids(self, rows: list[_Row]) -> None:
        first: dict[str, int] = {}
        for line, fields in rows:
            sid = fields[0] if fields else ""
            if not sid:
                self.problem(line, "ShiftID", "a shift id", "nothing")
            elif sid in first:
                self.problem(
                    line, "ShiftID", f"a shift id not already defined (first on line {first[sid]})", _short(sid)
                )
            else:
                first[sid] = line
        self.shift_ids = set(first)

    def read_shifts(self, rows: list[_Row]) -> tuple[CurtoisShift, ...]:
        shifts: list[CurtoisShift] = []
        seen: set[str] = set()
        for line, fields in rows:
            if not 2 <= len(fields) <= 3:
                self.problem(
                    line,
                    "SECTION_SHIFTS",
                    "2 or 3 fields: ShiftID, Length, CannotFollow",
                    _plural(len(fields), "field"),
                )
                continue
            sid = fields[0]
            minutes = self.whole(line, "Length", fields[1], "a whole number of minutes")
            follow: list[str] = []
            tokens = [t.strip() for t in fields[2].split("|")] if len(fields) == 3 else []
            for token in tokens:
                if not token:
                    continue
                if self.shift_ref(line, "CannotFollow", token) is not None and token not in follow:
                    follow.append(token)
            if sid and sid not in seen and minutes is not None:
                seen.add(sid)
                shifts.append(CurtoisShift(sid, minutes, tuple(follow)))
        return tuple(shifts)

    def read_staff_ids(self, rows: list[_Row]) -> None:
        first: dict[str, int] = {}
        for line, fields in rows:
            sid = fields[0] if fields else ""
            if not sid:
                self.problem(line, "ID", "a staff id", "nothing")
            elif sid in first:
                self.problem(line, "ID", f"a staff id not already defined (first on line {first[sid]})", _short(sid))
            else:
                first[sid] = line
        self.staff_ids = set(first)

    def read_max_shifts(self, line: int, raw: str) -> dict[str, int] | None:
        limits: dict[str, int] = {}
        ok = True
        for part in raw.split("|"):
            part = part.strip()
            if not part:
                continue
            sid, eq, value = (p.strip() for p in part.partition("="))
            if not eq:
                self.problem(line, "MaxShifts", "ShiftID=max pairs separated by |", _short(part))
                ok = False
                continue
            known = self.shift_ref(line, "MaxShifts", sid)
            limit = self.whole(line, "MaxShifts", value, "a whole number of shifts after =")
            if known is None or limit is None:
                ok = False
            elif known in limits:
                self.problem(line, "MaxShifts", "each shift id once", _short(part))
                ok = False
            else:
                limits[known] = limit
        return limits if ok else None

    def read_staff(self, rows: list[_Row]) -> tuple[CurtoisStaff, ...]:
        staff: list[CurtoisStaff] = []
        seen: set[str] = set()
        units = ("minutes", "minutes", "days", "days", "days", "weekends")
        for line, fields in rows:
            if not self.count("SECTION_STAFF", line, fields, _STAFF_FIELDS):
                continue
            limits = self.read_max_shifts(line, fields[1])
            numbers = [
                self.whole(line, column, raw, f"a whole number of {unit}")
                for column, raw, unit in zip(_STAFF_FIELDS[2:], fields[2:], units, strict=True)
            ]
            sid = fields[0]
            if not sid or sid in seen or limits is None:
                continue
            values = [n for n in numbers if n is not None]
            if len(values) == len(numbers):
                seen.add(sid)
                staff.append(CurtoisStaff(sid, limits, *values))
        return tuple(staff)

    def read_days_off(self, rows: list[_Row]) -> dict[str, frozenset[int]]:
        days_off: dict[str, set[int]] = {}
        for line, fields in rows:
            sid = self.staff_ref(line, "EmployeeID", fields[0])
            days = {d for raw in fields[1:] if raw and (d := self.day(line, "DayIndexes", raw)) is not None}
            if sid is not None:
                days_off.setdefault(sid, set()).update(days)
        return {sid: frozenset(days) for sid, days in days_off.items()}

    def read_requests(self, section: str, rows: list[_Row]) -> tuple[CurtoisRequest, ...]:
        requests: list[CurtoisRequest] = []
        for line, fields in rows:
            if not self.count(section, line, fields, _REQUEST_FIELDS):
                continue
            sid = self.staff_ref(line, "EmployeeID", fields[0])
            day = self.day(line, "Day", fields[1])
            shift = self.shift_ref(line, "ShiftID", fields[2])
            weight = self.whole(line, "Weight", fields[3], "a whole-number weight")
            if sid is not None and day is not None and shift is not None and weight is not None:
                requests.append(CurtoisRequest(sid, day, shift, weight))
        return tuple(requests)

    def read_cover(self, rows: list[_Row]) -> tuple[CurtoisCover, ...]:
        cover: list[CurtoisCover] = []
        first: dict[tuple[int, str], int] = {}
        for line, fields in rows:
            if not self.count("SECTION_COVER", line, fields, _COVER_FIELDS):
                continue
            day = self.day(line, "Day", fields[0])
            shift = self.shift_ref(line, "ShiftID", fields[1])
            requirement = self.whole(line, "Requirement", fields[2], "a whole number of staff")
            under = self.whole(line, "WeightUnder", fields[3], "a whole-number weight")
            over = self.whole(line, "WeightOver", fields[4], "a whole-number weight")
            if day is None or shift is None or requirement is None or under is None or over is None:
                continue
            if (day, shift) in first:
                self.problem(
                    line,
                    "ShiftID",
                    f"one cover row per day and shift (first on line {first[day, shift]})",
                    _short(shift),
                )
                continue
            first[day, shift] = line
            cover.append(CurtoisCover(day, shift, requirement, under, over))
        return tuple(cover)

    # -- whole file

    def read(self, text: str, name: str) -> CurtoisInstance:
        found = self.sections(text)
        if "SECTION_HORIZON" in found:
            self.horizon = self.read_horizon(found["SECTION_HORIZON"])
        self.read_shift_ids(found.get("SECTION_SHIFTS", []))
        self.read_staff_ids(found.get("SECTION_STAFF", []))
        shifts = self.read_shifts(found.get("SECTION_SHIFTS", []))
        staff = self.read_staff(found.get("SECTION_STAFF", []))
        days_off = self.read_days_off(found.get("SECTION_DAYS_OFF", []))
        on_requests = self.read_requests("SECTION_SHIFT_ON_REQUESTS", found.get("SECTION_SHIFT_ON_REQUESTS", []))
        off_requests = self.read_requests("SECTION_SHIFT_OFF_REQUESTS", found.get("SECTION_SHIFT_OFF_REQUESTS", []))
        cover = self.read_cover(found.get("SECTION_COVER", []))
        if not self.problems:
            worst = sum(r.weight for r in on_requests + off_requests) + sum(
                max(c.weight_under * c.requirement, c.weight_over * max(len(staff) - c.requirement, 0)) for c in cover
            )
            if worst > MAX_OBJECTIVE:
                self.problem(None, None, f"weights whose worst total stays within {MAX_OBJECTIVE}", str(worst))
        if self.problems or self.horizon is None:
            raise InputError(self.problems, source=self.file)
        return CurtoisInstance(
            name=name,
            horizon=self.horizon,
            shifts=shifts,
            staff=staff,
            days_off=days_off,
            on_requests=on_requests,
            off_requests=off_requests,
            cover=cover,
        )


# --------------------------------------------------------------------------- roster grid


def roster_to_text(instance: CurtoisInstance, roster: Roster) -> str:
    """One line per staff member, in instance order: the id, then per day the shift id or ``.``."""
    lines = []
    for person in instance.staff:
        days = roster.get(person.id, {})
        lines.append(" ".join([person.id, *(days.get(d, ".") for d in range(instance.horizon))]))
    return "\n".join(lines) + "\n"


def roster_from_text(text: str, *, file: str = "roster") -> Roster:
    """Read the grid written by :func:`roster_to_text`; blank lines and ``#`` comments are ignored."""
    roster: Roster = {}
    first: dict[str, int] = {}
    problems: list[Problem] = []
    for number, raw in enumerate(text.lstrip("\ufeff").splitlines(), start=1):
        tokens = raw.split("#", 1)[0].split()
        if not tokens:
            continue
        sid, cells = tokens[0], tokens[1:]
        if sid in first:
            problems.append(
                Problem(file, number, "staff", f"each staff id once (first on line {first[sid]})", _short(sid))
            )
            continue
        first[sid] = number
        roster[sid] = {day: cell for day, cell in enumerate(cells) if cell != "."}
    if problems:
        raise InputError(problems, source=file)
    return roster


ROSTER_COLUMNS = ("employee", "day", "shift")
"""The header of a roster written as CSV."""


def roster_to_csv(roster: Roster) -> str:
    """The roster as CSV: header ``employee,day,shift``, one row per worked day (day 0 is the first),
    sorted by employee id then day."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(ROSTER_COLUMNS)
    for sid in sorted(roster):
        for day in sorted(roster[sid]):
            writer.writerow((sid, day, roster[sid][day]))
    return out.getvalue()


def roster_from_csv(text: str, *, file: str = "roster.csv") -> Roster:
    """Read a roster written by :func:`roster_to_csv`; problems name the file, row and column."""
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    if not rows or tuple(c.strip() for c in rows[0]) != ROSTER_COLUMNS:
        got = ",".join(rows[0]) if rows else ""
        raise InputError([Problem(file, None, None, "a header employee,day,shift", _short(got))], source=file)
    roster: Roster = {}
    problems: list[Problem] = []
    for number, row in enumerate(rows[1:], start=1):
        if not any(c.strip() for c in row):
            continue
        if len(row) != len(ROSTER_COLUMNS):
            problems.append(Problem(file, number, None, "3 fields: employee, day, shift", _plural(len(row), "field")))
            continue
        sid, raw_day, shift = (c.strip() for c in row)
        if len(raw_day) > 12 or not _INTEGER.fullmatch(raw_day) or int(raw_day) < 0:
            problems.append(Problem(file, number, "day", "a whole-number day index", _short(raw_day)))
            continue
        day = int(raw_day)
        if day in roster.get(sid, {}):
            problems.append(Problem(file, number, "day", f"one row per employee and day ({sid!r} twice)", str(day)))
            continue
        roster.setdefault(sid, {})[day] = shift
    if problems:
        raise InputError(problems, source=file)
    return roster


# --------------------------------------------------------------------------- evaluator


@dataclass
class Evaluation:
    """The official objective of a roster, its parts, and every hard rule it breaks."""

    objective: int
    hard_violations: list[str] = field(default_factory=list)
    breakdown: dict[str, int] = field(default_factory=dict)

    @property
    def feasible(self) -> bool:
        return not self.hard_violations


def _span(start: int, end: int) -> str:
    return f"day {start}" if start == end else f"days {start} to {end}"


def _runs(worked: list[bool], value: bool) -> list[tuple[int, int]]:
    """Maximal runs ``(first, last)`` of days where ``worked[d] == value``."""
    runs: list[tuple[int, int]] = []
    start: int | None = None
    for d, w in enumerate(worked):
        if w == value and start is None:
            start = d
        elif w != value and start is not None:
            runs.append((start, d - 1))
            start = None
    if start is not None:
        runs.append((start, len(worked) - 1))
    return runs


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def evaluate(instance: CurtoisInstance, roster: Roster) -> Evaluation:
    """Check ``roster`` against the hard rules and compute the objective (lower is better).

    Entries naming an unknown staff member, an unknown shift or a day outside the horizon are
    reported as hard violations and otherwise ignored. Staff missing from the roster are off
    every day.
    """
    horizon = instance.horizon
    shifts = instance.shift_by_id
    violations: list[str] = []
    work: dict[str, dict[int, str]] = {p.id: {} for p in instance.staff}

    for sid, days in roster.items():
        if sid not in work:
            violations.append(f"unknown staff: the roster names staff {sid!r}, who is not in the instance")
            continue
        for day, shift in sorted(days.items()):
            if not 0 <= day < horizon:
                violations.append(
                    f"day outside horizon: staff {sid} has shift {shift} on day {day}; days run from 0 to {horizon - 1}"
                )
            elif shift not in shifts:
                violations.append(
                    f"unknown shift: staff {sid} has shift {shift!r} on day {day}, which is not in the instance"
                )
            else:
                work[sid][day] = shift

    weekends = instance.weekends
    for person in instance.staff:
        sid, mine = person.id, work[person.id]
        for day in sorted(instance.days_off.get(sid, frozenset())):
            if day in mine:
                violations.append(f"fixed day off: staff {sid} works {mine[day]} on day {day}, a fixed day off")
        for day in range(horizon - 1):
            a, b = mine.get(day), mine.get(day + 1)
            if a is not None and b is not None and b in shifts[a].cannot_follow:
                violations.append(
                    f"forbidden succession: staff {sid} works {a} on day {day} then {b} on day {day + 1}, "
                    f"and {b} cannot follow {a}"
                )
        counts = Counter(mine.values())
        for kind in instance.shifts:
            limit = person.max_shifts.get(kind.id)
            if limit is not None and counts[kind.id] > limit:
                violations.append(
                    f"max shifts: staff {sid} works {counts[kind.id]} {kind.id} shifts, at most {limit} allowed"
                )
        minutes = sum(shifts[s].minutes for s in mine.values())
        if minutes > person.max_total_minutes:
            violations.append(
                f"max total minutes: staff {sid} works {minutes} minutes, at most {person.max_total_minutes} allowed"
            )
        if minutes < person.min_total_minutes:
            violations.append(
                f"min total minutes: staff {sid} works {minutes} minutes, at least {person.min_total_minutes} required"
            )
        worked = [d in mine for d in range(horizon)]
        for start, end in _runs(worked, True):
            length = end - start + 1
            if length > person.max_consecutive_shifts:
                violations.append(
                    f"max consecutive shifts: staff {sid} works {_plural(length, 'day')} in a row "
                    f"({_span(start, end)}), at most {person.max_consecutive_shifts} allowed"
                )
            inner = start > 0 and end < horizon - 1
            if inner and length < person.min_consecutive_shifts:
                violations.append(
                    f"min consecutive shifts: staff {sid} works {_plural(length, 'day')} in a row "
                    f"({_span(start, end)}), at least {person.min_consecutive_shifts} required"
                )
        for start, end in _runs(worked, False):
            length = end - start + 1
            inner = start > 0 and end < horizon - 1
            if inner and length < person.min_consecutive_days_off:
                violations.append(
                    f"min consecutive days off: staff {sid} has {_plural(length, 'day')} off in a row "
                    f"({_span(start, end)}), at least {person.min_consecutive_days_off} required"
                )
        worked_weekends = [w for w in weekends if any(d in mine for d in w)]
        if len(worked_weekends) > person.max_weekends:
            listed = ", ".join(_span(w[0], w[-1]) for w in worked_weekends)
            violations.append(
                f"max weekends: staff {sid} works {len(worked_weekends)} weekends ({listed}), "
                f"at most {person.max_weekends} allowed"
            )

    on = sum(r.weight for r in instance.on_requests if work.get(r.staff, {}).get(r.day) != r.shift)
    off = sum(r.weight for r in instance.off_requests if work.get(r.staff, {}).get(r.day) == r.shift)
    assigned = Counter((day, shift) for mine in work.values() for day, shift in mine.items())
    under = sum(max(0, c.requirement - assigned[c.day, c.shift]) * c.weight_under for c in instance.cover)
    over = sum(max(0, assigned[c.day, c.shift] - c.requirement) * c.weight_over for c in instance.cover)
    breakdown = {"on_requests": on, "off_requests": off, "under_cover": under, "over_cover": over}
    return Evaluation(objective=on + off + under + over, hard_violations=violations, breakdown=breakdown)
