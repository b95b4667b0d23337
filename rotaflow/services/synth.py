"""Deterministic generator of synthetic program bundles (docs/formats.md).

``build_bundle`` returns the text of every file of a valid, schedulable program bundle:
``program.yaml``, ``people.csv``, ``blocks.csv``, ``shifts.csv``, ``rotations.csv``,
``rotation_assignments.csv``, ``coverage.csv``, ``absences.csv`` and ``requests.csv``, and the
year-planning inputs of ``rotaflow plan-year``: ``rotation_requirements.csv``, ``rotation_capacity.csv`` and
``rotation_requests.csv`` (with the capacity, run and leave columns of ``rotations.csv`` and the ``locked`` and
``source`` columns of ``rotation_assignments.csv``).  The same arguments always give the same text (byte for
byte), so the sample program in ``configs/programs/sample/`` is regenerated from :func:`sample_bundle`.

Design, so that every block can be scheduled within the ACGME rules on its own:

* Residents are spread over the rotations in every block in fixed proportions
  (:data:`ROTATION_WEIGHTS`), so each rotation has the same head-count in each block; each
  resident walks through a rotating cycle of rotations over the year.  Postgraduate years are
  interleaved along the cycle so every rotation gets a mix of juniors and seniors.
* Coverage minimums are sized from those head-counts and then trimmed until the average load
  per resident stays at or under :data:`RESIDENT_HOURS_BUDGET` hours per 28 days (50 h/week) and
  :data:`RESIDENT_DAYS_BUDGET` working days, which leaves room for 4 days off, 14 h rest after
  24-hour calls and at most 9 calls per 28 days.  Faculty rows are sized the same way.
* Every shift with a faculty coverage row is supervised (PGY-1 1:2, others 1:4), so each faculty
  row's maximum is at least half the resident minimums of that shift on its busiest day of the week
  (enough faculty even if every required resident were PGY-1), up to the faculty head-count.  Without
  this, 261+ residents asked for 9 or more home-call residents a night (3 faculty) under a faculty
  maximum of 2, and no block could be scheduled.
* Blocking absences go to residents on clinic/elective rotations (sick days also elsewhere when
  the rotation has spare people) and never take more people away on one day than the rotation's
  spare head-count, so every coverage minimum keeps enough eligible people every day.
* The year-planning inputs are derived from that rotation cycle, so the generated rotation assignments are
  themselves (nearly) a plan: each PGY's requirements span floor(0.8 x) .. ceil(1.2 x) + 1 blocks of a
  rotation, x the blocks the cycle gives that PGY's residents on average (widened to what every one of them
  does), and only the rotations the PGY does; each rotation's head-count bounds are the cycle's head-count
  with slack (less below for inpatient and night-float rotations, none below for electives and vacation);
  ``max_consecutive_blocks`` is the cycle's longest run for every rotation but clinic and electives.  Three
  per-block overrides, a few residents' rows locked (residents whose blocking absences already fall on
  rotations that allow leave) and a handful of rotation wishes come from a second generator seeded from
  ``seed``, so every other file stays what it was before these inputs existed.  The cycle itself can break
  two rules the planner must then repair: an override below a block's head-count, and a sick day on a
  rotation that does not allow leave.

Only the standard library and PyYAML are used; nothing else from rotaflow is imported.
"""

from __future__ import annotations

import csv
import io
import math
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from fractions import Fraction
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from rotaflow.validations.vocabulary import applies_on_weekday

__all__ = [
    "BUNDLE_FILES",
    "BLOCK_DAYS",
    "MAX_FACULTY",
    "MAX_RESIDENTS",
    "MIN_RESIDENTS",
    "RESIDENT_DAYS_BUDGET",
    "RESIDENT_HOURS_BUDGET",
    "ROTATION_WEIGHTS",
    "SAMPLE_KWARGS",
    "build_bundle",
    "sample_bundle",
    "write_bundle",
]

MIN_RESIDENTS = 3
MAX_RESIDENTS = 300
MAX_FACULTY = 300
BLOCK_DAYS = 28

#: Files of a generated bundle, in the order they are written.
BUNDLE_FILES: tuple[str, ...] = (
    "program.yaml",
    "people.csv",
    "blocks.csv",
    "shifts.csv",
    "rotations.csv",
    "rotation_assignments.csv",
    "coverage.csv",
    "absences.csv",
    "requests.csv",
    "rotation_requirements.csv",
    "rotation_capacity.csv",
    "rotation_requests.csv",
)

#: Arguments of :func:`sample_bundle` (the program in ``configs/programs/sample/``).
SAMPLE_KWARGS: dict[str, Any] = {
    "residents": 36,
    "faculty": 12,
    "seed": 2027,
    "timezone": "Pacific/Honolulu",
    "start": date(2027, 7, 1),
    "blocks": 13,
    "name": "Sample Family Medicine Residency",
}

#: Average load per resident per 28-day block the coverage minimums may ask for.
RESIDENT_HOURS_BUDGET = 200.0
RESIDENT_DAYS_BUDGET = 20.0
#: The same for one full-time faculty member.
FACULTY_HOURS_BUDGET = 150.0
FACULTY_DAYS_BUDGET = 16.0
#: Residents one faculty member supervises when all of them are PGY-1 (``supervision_ratio``'s default).
SUPERVISION_PGY1_PER_FACULTY = 2


# --------------------------------------------------------------------------- catalogue


@dataclass(frozen=True)
class _Shift:
    shift_id: str
    name: str
    start: str
    end: str
    transition_minutes: int
    kind: str
    in_house_call: bool
    counts_as_work: bool
    home_call_hours: float | None
    hours: float  # work hours counted toward the 80-hour rule
    days: float  # approximate calendar days it takes away from "days off"


_SHIFTS: tuple[_Shift, ...] = (
    _Shift("DAY", "Day shift", "07:00", "19:00", 0, "day", False, True, None, 12.0, 1.0),
    _Shift("NIGHT", "Night shift", "19:00", "07:00", 0, "night", False, True, None, 12.0, 1.25),
    _Shift("CALL24", "24-hour in-house call", "07:00", "07:00", 240, "call", True, True, None, 28.0, 2.0),
    _Shift("CLINIC_AM", "Clinic morning session", "08:00", "12:00", 0, "clinic", False, True, None, 4.0, 1.0),
    _Shift("CLINIC_PM", "Clinic afternoon session", "13:00", "17:00", 0, "clinic", False, True, None, 4.0, 1.0),
    _Shift("HOME_CALL", "Home call", "17:00", "07:00", 0, "home_call", False, True, 2.0, 2.0, 1.25),
)
_SHIFT_BY_ID = {s.shift_id: s for s in _SHIFTS}


@dataclass(frozen=True)
class _Rotation:
    rotation_id: str
    name: str
    setting: str
    eligible_shifts: tuple[str, ...]


_ROTATIONS: tuple[_Rotation, ...] = (
    _Rotation("INPT", "Inpatient medicine", "inpatient", ("DAY", "CALL24")),
    _Rotation("ICU", "Intensive care", "inpatient", ("DAY", "CALL24")),
    _Rotation("NF", "Night float", "night_float", ("NIGHT",)),
    _Rotation("OB", "Obstetrics", "inpatient", ("DAY", "NIGHT", "HOME_CALL")),
    _Rotation("CLINIC", "Continuity clinic", "outpatient", ("CLINIC_AM", "CLINIC_PM", "HOME_CALL")),
    _Rotation("ELEC", "Elective", "elective", ("CLINIC_AM", "CLINIC_PM")),
    _Rotation("VAC", "Vacation block", "leave", ()),
)
_ROTATION_BY_ID = {r.rotation_id: r for r in _ROTATIONS}

#: Share of the residents on each rotation in every block (out of 18; the cycle order).
ROTATION_WEIGHTS: dict[str, int] = {
    "INPT": 4,
    "ICU": 2,
    "NF": 2,
    "OB": 2,
    "CLINIC": 4,
    "ELEC": 3,
    "VAC": 1,
}

_FIRST_NAMES = (
    "Avery",
    "Blake",
    "Cameron",
    "Devon",
    "Emery",
    "Finley",
    "Gray",
    "Harper",
    "Indigo",
    "Jordan",
    "Kai",
    "Logan",
    "Morgan",
    "Noa",
    "Oakley",
    "Parker",
    "Quinn",
    "Reese",
    "Sage",
    "Tatum",
    "Umi",
    "Val",
    "Wren",
    "Yuki",
    "Ellis",
    "Rio",
)
_LAST_NAMES = (
    "Akamai",
    "Birchwood",
    "Calder",
    "Dunmore",
    "Ellery",
    "Fairbank",
    "Glenholm",
    "Hollis",
    "Ironwood",
    "Juniper",
    "Kestrel",
    "Larkspur",
    "Merrow",
    "Northcote",
    "Oakhurst",
    "Pemberly",
    "Quarry",
    "Rowan",
    "Stillwater",
    "Thornbury",
    "Upfield",
    "Vesper",
    "Whitlock",
    "Yarrow",
    "Zephyrine",
    "Brightmoor",
)

_PROCEDURES = "procedures"
_OB = "ob"
_FACULTY_GROUP = "FACULTY"
_SKILLED_GROUP = "FACULTY_PROCEDURES"


# --------------------------------------------------------------------------- data model


@dataclass(frozen=True)
class _Person:
    person_id: str
    name: str
    email: str
    role: str
    pgy: int | None
    fte: float
    skills: tuple[str, ...]


@dataclass
class _Row:
    """One coverage row while it is being sized."""

    shift_id: str
    applies_on: str
    rotation_id: str | None
    role: str
    min_pgy: int | None
    skill: str | None
    min: int
    max_extra: int | None = None  # max = min + max_extra
    target_extra: int = 0  # target = min + target_extra when the pool allows it
    days_per_block: int = BLOCK_DAYS  # how many of the 28 days the pattern matches
    groups: tuple[str, ...] = ()  # load groups drawing on this row
    pool: int = 0  # eligible head-count (minimum over blocks)

    def max_value(self) -> int | None:
        if self.max_extra is None:
            return None
        return self.min + self.max_extra

    def target_value(self) -> int | None:
        if self.target_extra <= 0:
            return None
        ceiling = self.max_value()
        target = self.min + self.target_extra
        if ceiling is not None:
            target = min(target, ceiling)
        target = min(target, self.pool)
        return target if target > self.min else None


@dataclass
class _Design:
    rows: list[_Row] = field(default_factory=list)
    # blocking-absence allowance per group: at most this many absent on one day
    allowance: dict[str, int] = field(default_factory=dict)


# --------------------------------------------------------------------------- helpers


def _largest_remainder(total: int, weights: dict[str, int]) -> dict[str, int]:
    """Split ``total`` over ``weights`` proportionally (Hamilton method, ties in key order)."""
    weight_sum = sum(weights.values())
    exact = {k: total * w / weight_sum for k, w in weights.items()}
    counts = {k: math.floor(v) for k, v in exact.items()}
    left = total - sum(counts.values())
    order = sorted(weights, key=lambda k: (-(exact[k] - counts[k]), list(weights).index(k)))
    for key in order[:left]:
        counts[key] += 1
    return counts


def _pgy_split(residents: int) -> list[int]:
    """PGY of resident index 0..n-1: PGY-1 first, groups as even as possible."""
    base, extra = divmod(residents, 3)
    pgys: list[int] = []
    for pgy in (1, 2, 3):
        pgys.extend([pgy] * (base + (1 if pgy <= extra else 0)))
    return pgys


def _observed_holiday(first: date, last: date) -> date:
    """A weekday holiday inside [first, last]: observed Independence Day when it falls inside."""
    for year in range(first.year, last.year + 1):
        day = date(year, 7, 4)
        if day.weekday() == 5:
            day -= timedelta(days=1)
        elif day.weekday() == 6:
            day += timedelta(days=1)
        if first <= day <= last:
            return day
    day = first + timedelta(days=7)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day


def _csv_text(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow(["" if value is None else value for value in row])
    return buffer.getvalue()


def _bool(value: bool) -> str:
    return "true" if value else "false"


def _num(value: float) -> str:
    return f"{value:g}"


# --------------------------------------------------------------------------- people


def _make_people(rng: random.Random, residents: int, faculty: int) -> list[_Person]:
    names = [f"{first} {last}" for first in _FIRST_NAMES for last in _LAST_NAMES]
    rng.shuffle(names)
    people: list[_Person] = []
    pgys = _pgy_split(residents)
    for index, pgy in enumerate(pgys):
        number = index + 1
        skills: list[str] = []
        if rng.random() < (0.45 if pgy == 3 else 0.15):
            skills.append(_PROCEDURES)
        if rng.random() < 0.15:
            skills.append(_OB)
        people.append(
            _Person(
                person_id=f"R{number:03d}",
                name=names[index],
                email=f"r{number:03d}@example.org",
                role="resident",
                pgy=pgy,
                fte=1.0,
                skills=tuple(skills),
            )
        )
    skilled_count = min(faculty, max(3, faculty // 2))
    order = list(range(faculty))
    rng.shuffle(order)
    skilled = set(order[:skilled_count])
    part_time_pool = order[skilled_count:]
    part_time = set(part_time_pool[: faculty // 6])
    for index in range(faculty):
        number = index + 1
        skills = []
        if index in skilled:
            skills.append(_PROCEDURES)
        if rng.random() < 0.35:
            skills.append(_OB)
        fte = rng.choice((0.5, 0.6, 0.8)) if index in part_time else 1.0
        people.append(
            _Person(
                person_id=f"F{number:03d}",
                name=names[residents + index],
                email=f"f{number:03d}@example.org",
                role="faculty",
                pgy=None,
                fte=fte,
                skills=tuple(skills),
            )
        )
    return people


# --------------------------------------------------------------------------- rotation cycle


def _rotation_plan(
    rng: random.Random, residents: list[_Person], blocks: int
) -> tuple[dict[str, int], list[dict[str, str]]]:
    """Return (head-count per rotation, [block] -> {person_id: rotation_id})."""
    n = len(residents)
    counts = _largest_remainder(n, ROTATION_WEIGHTS)
    slots: list[str] = []
    for rotation_id in ROTATION_WEIGHTS:
        slots.extend([rotation_id] * counts[rotation_id])
    # Interleave the postgraduate years along the cycle (seeded order within each year), so a
    # contiguous stretch of the cycle - one rotation in one block - mixes juniors and seniors.
    by_pgy: dict[int, list[_Person]] = {}
    for person in residents:
        by_pgy.setdefault(person.pgy or 0, []).append(person)
    for group in by_pgy.values():
        rng.shuffle(group)
    ordered: list[_Person] = []
    depth = max(len(group) for group in by_pgy.values())
    for layer in range(depth):
        for pgy in sorted(by_pgy):
            group = by_pgy[pgy]
            if layer < len(group):
                ordered.append(group[layer])
    step = max(1, round(n / 13))
    plan: list[dict[str, str]] = []
    for block in range(blocks):
        mapping = {person.person_id: slots[(position + block * step) % n] for position, person in enumerate(ordered)}
        plan.append(mapping)
    return counts, plan


# --------------------------------------------------------------------------- coverage design


def _design_coverage(
    counts: dict[str, int],
    seniors_in_call_pool: int,
    people: list[_Person],
) -> _Design:
    faculty = [p for p in people if p.role == "faculty"]
    n_fac = len(faculty)
    n_skilled = sum(1 for p in faculty if _PROCEDURES in p.skills)
    n_inpt, n_icu, n_nf = counts["INPT"], counts["ICU"], counts["NF"]
    n_ob, n_clinic, n_elec = counts["OB"], counts["CLINIC"], counts["ELEC"]
    call_pool = n_inpt + n_icu
    home_pool = n_ob + n_clinic

    rows: list[_Row] = [
        # Inpatient day team: fuller on weekdays.
        _Row("DAY", "weekday", "INPT", "resident", None, None, round(0.35 * n_inpt), 2, 1, 20, ("INPT",), n_inpt),
        _Row(
            "DAY",
            "weekend",
            "INPT",
            "resident",
            None,
            None,
            max(0, round(0.35 * n_inpt) - 1),
            2,
            1,
            8,
            ("INPT",),
            n_inpt,
        ),
        _Row("DAY", "daily", "ICU", "resident", None, None, round(0.3 * n_icu), 1, 1, 28, ("ICU",), n_icu),
        _Row("DAY", "daily", "OB", "resident", None, None, round(0.3 * n_ob), 1, 0, 28, ("OB",), n_ob),
        _Row("DAY", "daily", None, "faculty", None, None, max(1, n_fac // 10), 2, 1, 28, (_FACULTY_GROUP,), n_fac),
        _Row(
            "DAY",
            "daily",
            None,
            "faculty",
            None,
            _PROCEDURES,
            1 if n_skilled >= 3 else 0,
            None,
            1,
            28,
            (_SKILLED_GROUP,),
            n_skilled,
        ),
        # Nights: night float, plus the obstetrics night resident.
        _Row("NIGHT", "daily", "NF", "resident", None, None, n_nf // 2, 1, 1, 28, ("NF",), n_nf),
        _Row("NIGHT", "daily", "OB", "resident", None, None, round(0.25 * n_ob), 1, 0, 28, ("OB",), n_ob),
        # 24-hour in-house call from the inpatient and ICU residents, a senior among them.
        _Row(
            "CALL24",
            "daily",
            None,
            "resident",
            None,
            None,
            (call_pool + 3) // 8 if call_pool >= 5 else 0,
            1,
            0,
            28,
            ("INPT", "ICU"),
            call_pool,
        ),
        _Row("CALL24", "daily", None, "resident", 2, None, 0, None, 1, 28, (), seniors_in_call_pool),
        # Clinic sessions on weekdays; elective residents help on Mon/Wed/Fri mornings.
        _Row(
            "CLINIC_AM",
            "weekday",
            "CLINIC",
            "resident",
            None,
            None,
            round(0.3 * n_clinic),
            2,
            1,
            20,
            ("CLINIC",),
            n_clinic,
        ),
        _Row("CLINIC_AM", "mon;wed;fri", "ELEC", "resident", None, None, n_elec // 3, 1, 0, 12, ("ELEC",), n_elec),
        _Row(
            "CLINIC_AM", "weekday", None, "faculty", None, None, max(1, n_fac // 10), 1, 0, 20, (_FACULTY_GROUP,), n_fac
        ),
        _Row("CLINIC_PM", "weekday", "CLINIC", "resident", None, None, n_clinic // 4, 2, 1, 20, ("CLINIC",), n_clinic),
        _Row(
            "CLINIC_PM",
            "weekday",
            None,
            "faculty",
            None,
            None,
            n_fac // 10 if n_fac >= 6 else 0,
            1,
            1,
            20,
            (_FACULTY_GROUP,),
            n_fac,
        ),
        # Home call for obstetrics and clinic residents, with a faculty back-up.
        _Row(
            "HOME_CALL",
            "daily",
            None,
            "resident",
            None,
            None,
            (home_pool + 3) // 10 if home_pool >= 3 else 0,
            1,
            0,
            28,
            ("OB", "CLINIC"),
            home_pool,
        ),
        _Row(
            "HOME_CALL",
            "daily",
            None,
            "faculty",
            None,
            None,
            1 if n_fac >= 8 else 0,
            1,
            1,
            28,
            (_FACULTY_GROUP,),
            n_fac,
        ),
    ]
    senior_row = rows[9]
    call_row = rows[8]

    sizes: dict[str, float] = {rot: float(count) for rot, count in counts.items()}
    sizes[_FACULTY_GROUP] = sum(p.fte for p in faculty)
    sizes[_SKILLED_GROUP] = float(n_skilled)
    _fit_loads(rows, sizes)

    # Seniors (PGY-2 or above) on every call once enough of them share it: a third of the call
    # team, so that no senior needs more than about one call in five days.
    if call_row.min >= 1 and seniors_in_call_pool >= 5:
        senior_row.min = min(math.ceil(call_row.min / 3), seniors_in_call_pool // 5)
        senior_row.target_extra = 0
    if seniors_in_call_pool < 1:
        senior_row.target_extra = 0

    _room_for_supervision(rows, n_fac)

    design = _Design(rows=rows)
    row_by_key = {(r.shift_id, r.applies_on, r.rotation_id, r.role, r.skill): r for r in rows}
    inpatient_day = {
        "INPT": row_by_key[("DAY", "weekday", "INPT", "resident", None)].min,
        "ICU": row_by_key[("DAY", "daily", "ICU", "resident", None)].min,
        "NF": row_by_key[("NIGHT", "daily", "NF", "resident", None)].min,
        "OB": row_by_key[("DAY", "daily", "OB", "resident", None)].min
        + row_by_key[("NIGHT", "daily", "OB", "resident", None)].min,
    }
    for rotation_id, need in inpatient_day.items():
        size = counts[rotation_id]
        # Short sick leave only, and only where the rotation has people to spare.
        design.allowance[rotation_id] = size // 8 if size >= 6 and size - need >= 3 else 0
    clinic_need = (
        row_by_key[("CLINIC_AM", "weekday", "CLINIC", "resident", None)].min
        + row_by_key[("CLINIC_PM", "weekday", "CLINIC", "resident", None)].min
    )
    design.allowance["CLINIC"] = max(0, (n_clinic - clinic_need - 1) // 2)
    elec_need = row_by_key[("CLINIC_AM", "mon;wed;fri", "ELEC", "resident", None)].min
    design.allowance["ELEC"] = max(0, (n_elec - elec_need) // 2)
    design.allowance["VAC"] = 0
    faculty_need = sum(r.min for r in rows if r.role == "faculty" and r.skill is None)
    design.allowance[_FACULTY_GROUP] = max(0, min((n_fac - faculty_need) // 3, n_fac // 6))
    design.allowance[_SKILLED_GROUP] = max(0, (n_skilled - 2) // 3)
    return design


def _matches(applies_on: str, weekday: int) -> bool:
    """Whether a coverage pattern of this module (daily, weekday, weekend, day names) covers ``weekday``."""
    return applies_on_weekday(applies_on, weekday)


def _room_for_supervision(rows: list[_Row], n_fac: int) -> None:
    """Raise each supervised shift's faculty maximum to what its resident minimums need.

    A shift with a faculty coverage row is supervised (rule ``supervision_ratio``): it needs
    ⌈PGY-1 ÷ :data:`SUPERVISION_PGY1_PER_FACULTY` + other residents ÷ 4⌉ faculty.  The faculty row's
    maximum caps the faculty on the shift, so it must leave room for the residents the resident rows
    ask for even when all of them are PGY-1 (the minimums of the resident rows of the shift that apply
    on one day of the week, on the busiest such day).  Only maximums move; minimums and the load
    budget stay as they were.
    """
    for faculty_row in rows:
        if faculty_row.role != "faculty" or faculty_row.skill is not None or faculty_row.min <= 0:
            continue
        residents = max(
            sum(
                r.min
                for r in rows
                if r.role == "resident" and r.shift_id == faculty_row.shift_id and _matches(r.applies_on, weekday)
            )
            for weekday in range(7)
            if _matches(faculty_row.applies_on, weekday)
        )
        needed = min(n_fac, math.ceil(residents / SUPERVISION_PGY1_PER_FACULTY))
        ceiling = faculty_row.max_value()
        if ceiling is not None and ceiling < needed:
            faculty_row.max_extra = needed - faculty_row.min


def _fit_loads(rows: list[_Row], sizes: dict[str, float]) -> None:
    """Lower row minimums until every group's average load per person is within budget."""

    def budget(group: str) -> tuple[float, float]:
        if group in (_FACULTY_GROUP, _SKILLED_GROUP):
            return FACULTY_HOURS_BUDGET, FACULTY_DAYS_BUDGET
        return RESIDENT_HOURS_BUDGET, RESIDENT_DAYS_BUDGET

    def contribution(row: _Row, group: str) -> tuple[float, float]:
        pool = sum(sizes[g] for g in row.groups)
        if pool <= 0 or row.min <= 0:
            return 0.0, 0.0
        shift = _SHIFT_BY_ID[row.shift_id]
        demand = row.min * row.days_per_block / pool
        return demand * shift.hours, demand * shift.days

    groups = sorted({g for row in rows for g in row.groups})
    for _ in range(10_000):
        changed = False
        for group in groups:
            members = [row for row in rows if group in row.groups]
            if sizes[group] <= 0:
                for row in members:
                    if row.min > 0 and sum(sizes[g] for g in row.groups) <= 0:
                        row.min = 0
                continue
            hours_budget, days_budget = budget(group)
            hours = sum(contribution(row, group)[0] for row in members)
            days = sum(contribution(row, group)[1] for row in members)
            if hours <= hours_budget and days <= days_budget:
                continue
            heaviest = max(
                (row for row in members if row.min > 0),
                key=lambda row: contribution(row, group)[0 if hours > hours_budget else 1],
            )
            heaviest.min -= 1
            changed = True
        if not changed:
            return
    raise RuntimeError("coverage sizing did not converge")  # pragma: no cover


# --------------------------------------------------------------------------- absences and requests


@dataclass(frozen=True)
class _Absence:
    person_id: str
    start: date
    end: date
    type: str
    blocking: bool


def _make_absences(
    rng: random.Random,
    people: list[_Person],
    block_starts: list[date],
    plan: list[dict[str, str]],
    design: _Design,
) -> list[_Absence]:
    used: dict[tuple[int, str], list[int]] = {}  # (block, group) -> absent count per day
    taken: dict[str, list[tuple[date, date]]] = {}
    absences: list[_Absence] = []

    def groups_of(person: _Person, block: int) -> list[str]:
        if person.role == "resident":
            return [plan[block][person.person_id]]
        groups = [_FACULTY_GROUP]
        if _PROCEDURES in person.skills:
            groups.append(_SKILLED_GROUP)
        return groups

    def free_for(person: _Person, start: date, end: date) -> bool:
        for other_start, other_end in taken.get(person.person_id, []):
            # keep at least one day between two absences of the same person
            if start <= other_end + timedelta(days=1) and other_start <= end + timedelta(days=1):
                return False
        return True

    def place(person: _Person, kind: str, low: int, high: int, blocking: bool, rotations: set[str] | None) -> None:
        length = rng.randint(low, high)
        if person.role == "resident":
            candidates = [
                b
                for b in range(len(block_starts))
                if plan[b][person.person_id] != "VAC" and (rotations is None or plan[b][person.person_id] in rotations)
            ]
        else:
            candidates = list(range(len(block_starts)))
        for _attempt in range(12):
            if not candidates:
                return
            block = rng.choice(candidates)
            offset = rng.randint(0, BLOCK_DAYS - length)
            start = block_starts[block] + timedelta(days=offset)
            end = start + timedelta(days=length - 1)
            if not free_for(person, start, end):
                continue
            groups = groups_of(person, block)
            if blocking:
                days = range(offset, offset + length)
                if any(
                    used.get((block, g), [0] * BLOCK_DAYS)[d] + 1 > design.allowance.get(g, 0)
                    for g in groups
                    for d in days
                ):
                    continue
                for g in groups:
                    counts = used.setdefault((block, g), [0] * BLOCK_DAYS)
                    for d in days:
                        counts[d] += 1
            taken.setdefault(person.person_id, []).append((start, end))
            absences.append(_Absence(person.person_id, start, end, kind, blocking))
            return

    order = list(people)
    rng.shuffle(order)
    leave_rotations = {"CLINIC", "ELEC"}
    for person in order:
        if person.role == "resident":
            if rng.random() < 0.85:
                place(person, "vacation", 5, 14, True, leave_rotations)
            if rng.random() < 0.3:
                place(person, "vacation", 3, 7, True, leave_rotations)
            if rng.random() < 0.35:
                place(person, "sick", 1, 3, True, None)
            if rng.random() < 0.3:
                place(person, "conference", 2, 4, False, None)
        else:
            if rng.random() < 0.7:
                place(person, "vacation", 5, 14, True, None)
            if rng.random() < 0.2:
                place(person, "sick", 1, 2, True, None)
            if rng.random() < 0.5:
                place(person, "conference", 2, 5, False, None)
    absences.sort(key=lambda a: (a.start, a.person_id, a.end, a.type))
    return absences


@dataclass(frozen=True)
class _Request:
    person_id: str
    day: date
    shift_id: str | None
    kind: str
    weight: int


def _make_requests(
    rng: random.Random,
    people: list[_Person],
    block_starts: list[date],
    plan: list[dict[str, str]],
    absences: list[_Absence],
    faculty_shifts: list[str],
) -> list[_Request]:
    away: dict[str, set[date]] = {}
    for absence in absences:
        if absence.blocking:
            days = away.setdefault(absence.person_id, set())
            day = absence.start
            while day <= absence.end:
                days.add(day)
                day += timedelta(days=1)
    requests: list[_Request] = []
    for person in people:
        wanted = rng.randint(1, 4) if person.role == "resident" else rng.randint(0, 3)
        seen: set[date] = set()
        for _ in range(wanted):
            for _attempt in range(8):
                block = rng.randrange(len(block_starts))
                day = block_starts[block] + timedelta(days=rng.randrange(BLOCK_DAYS))
                if day in seen or day in away.get(person.person_id, set()):
                    continue
                if person.role == "resident":
                    eligible = list(_ROTATION_BY_ID[plan[block][person.person_id]].eligible_shifts)
                else:
                    eligible = list(faculty_shifts)
                if not eligible:
                    continue
                kind = "off" if rng.random() < 0.6 else "on"
                # an "off" request is for the whole day half of the time
                whole_day = kind == "off" and rng.random() < 0.5
                shift_id = None if whole_day else rng.choice(eligible)
                seen.add(day)
                requests.append(_Request(person.person_id, day, shift_id, kind, rng.randint(1, 5)))
                break
    requests.sort(key=lambda r: (r.day, r.person_id, r.shift_id or ""))
    return requests


# --------------------------------------------------------------------------- year planning inputs

#: Settings whose rotations allow leave when rotations.csv leaves ``leave_allowed`` empty (docs/formats.md).
_LEAVE_SETTINGS = frozenset({"outpatient", "elective", "leave"})


@dataclass
class _Year:
    """What ``rotaflow plan-year`` reads besides the rest of the bundle."""

    requirements: list[tuple[int, str, int, int]]  # pgy, rotation, min_blocks, max_blocks
    bounds: dict[str, tuple[int | None, int | None, int | None]]  # rotation -> min, max, max consecutive
    capacity: list[tuple[str, str, int | None, int | None]]  # block, rotation, min, max
    wishes: list[tuple[str, str, str, str, int]]  # person, block, rotation, kind, weight
    locked: set[str]  # residents whose rows are locked


def _longest_run(sequence: list[str], rotation_id: str) -> int:
    best = run = 0
    for value in sequence:
        run = run + 1 if value == rotation_id else 0
        best = max(best, run)
    return best


def _year_inputs(
    seed: int,
    residents: list[_Person],
    counts: dict[str, int],
    plan: list[dict[str, str]],
    block_ids: list[str],
    block_starts: list[date],
    absences: list[_Absence],
) -> _Year:
    rng = random.Random(f"rotaflow-year-{seed}")  # its own stream: the other files do not move
    blocks = len(plan)
    rows = {p.person_id: [plan[b][p.person_id] for b in range(blocks)] for p in residents}

    # requirements: per PGY and rotation it does, around the cycle's average, wide enough for every resident
    requirements: list[tuple[int, str, int, int]] = []
    allowed: dict[int, list[str]] = {}
    for pgy in sorted({p.pgy or 0 for p in residents}):
        members = [p for p in residents if p.pgy == pgy]
        for rotation_id in ROTATION_WEIGHTS:
            done = [rows[p.person_id].count(rotation_id) for p in members]
            if not any(done):
                continue
            share = Fraction(sum(done), len(done))
            # at least once when every resident of the PGY does it at least once
            low = min(max(1, math.floor(share * Fraction(4, 5))), min(done))
            high = min(blocks, max(math.ceil(share * Fraction(6, 5)) + 1, max(done)))
            requirements.append((pgy, rotation_id, low, high))
            allowed.setdefault(pgy, []).append(rotation_id)

    # head-count bounds and runs from the cycle's head-counts
    bounds: dict[str, tuple[int | None, int | None, int | None]] = {}
    for rotation in _ROTATIONS:
        count = counts[rotation.rotation_id]
        floor: int | None
        if rotation.setting in ("inpatient", "night_float"):
            floor, ceiling = count - math.ceil(count / 10), count + math.ceil(count / 10)
        elif rotation.setting == "outpatient":
            floor, ceiling = count - math.ceil(count / 5), count + math.ceil(count / 10)
        elif rotation.setting == "elective":
            floor, ceiling = None, count + math.ceil(count / 5)
        else:
            floor, ceiling = None, count + math.ceil(count / 2)
        run: int | None = None
        if rotation.setting not in ("outpatient", "elective"):
            run = max(1, max(_longest_run(r, rotation.rotation_id) for r in rows.values()))
        bounds[rotation.rotation_id] = (floor or None, ceiling, run)

    # blocks in which each resident has a blocking absence
    away: set[tuple[str, int]] = set()
    for absence in absences:
        if not absence.blocking:
            continue
        for b, first in enumerate(block_starts):
            if absence.start <= first + timedelta(days=BLOCK_DAYS - 1) and first <= absence.end:
                away.add((absence.person_id, b))
    leave_ok = {r.rotation_id for r in _ROTATIONS if r.setting in _LEAVE_SETTINGS}

    # locked: a few residents whose rows already give every absence a rotation that allows leave
    fits = [
        p.person_id
        for p in residents
        if all(rows[p.person_id][b] in leave_ok for b in range(blocks) if (p.person_id, b) in away)
    ]
    locked = set(rng.sample(fits, min(len(fits), 3 if len(residents) >= 18 else 2 if len(residents) >= 12 else 1)))

    def locked_on(b: int, rotation_id: str) -> int:
        return sum(1 for pid in locked if rows[pid][b] == rotation_id)

    # per-block overrides: fewer electives in one block, fewer on vacation in another, a full ICU in a third
    capacity: list[tuple[str, str, int | None, int | None]] = []
    chosen = rng.sample(range(blocks), 3) if blocks >= 3 else [rng.randrange(blocks) for _ in range(3)]
    elec, vac, icu = counts["ELEC"], counts["VAC"], counts["ICU"]
    if elec >= 2:
        capacity.append(
            (block_ids[chosen[0]], "ELEC", None, max(locked_on(chosen[0], "ELEC"), elec - math.ceil(elec / 3)))
        )
    if vac >= 1:
        capacity.append((block_ids[chosen[1]], "VAC", None, max(locked_on(chosen[1], "VAC"), vac - 1)))
    if icu >= 2:
        capacity.append((block_ids[chosen[2]], "ICU", icu, None))
    capacity.sort(key=lambda row: (block_ids.index(row[0]), row[1]))

    # wishes: on or off a rotation the resident's PGY does, at most one a resident and block
    wishes: dict[tuple[str, str], tuple[str, str, str, str, int]] = {}
    free = [p for p in residents if p.person_id not in locked]
    wanted = min(60, max(2, round(0.4 * len(residents))))
    for _ in range(wanted * 4):
        if len(wishes) >= wanted or not free:
            break
        person = rng.choice(free)
        b = rng.randrange(blocks)
        rotation_id = rng.choice(allowed[person.pgy or 0])
        kind = "on" if rng.random() < 0.6 else "off"
        weight = rng.randint(1, 3)
        key = (person.person_id, block_ids[b])
        if key in wishes or (kind == "on" and (person.person_id, b) in away and rotation_id not in leave_ok):
            continue
        wishes[key] = (person.person_id, block_ids[b], rotation_id, kind, weight)
    return _Year(requirements, bounds, capacity, sorted(wishes.values()), locked)


# --------------------------------------------------------------------------- public API


def build_bundle(
    *,
    residents: int,
    faculty: int | None = None,
    seed: int = 0,
    timezone: str = "Pacific/Honolulu",
    start: date = date(2027, 7, 1),
    blocks: int = 13,
    name: str | None = None,
) -> dict[str, str]:
    """Return ``{filename: file text}`` for a valid, schedulable program bundle.

    ``residents`` must be 3..:data:`MAX_RESIDENTS` (split over PGY-1..3 as evenly as possible);
    ``faculty`` defaults to ``max(4, residents // 3)``.  The same arguments give the same text.
    """
    if isinstance(residents, bool) or not isinstance(residents, int):
        raise ValueError("residents must be an integer")
    if not MIN_RESIDENTS <= residents <= MAX_RESIDENTS:
        raise ValueError(f"residents must be between {MIN_RESIDENTS} and {MAX_RESIDENTS}")
    if faculty is None:
        faculty = max(4, residents // 3)
    if isinstance(faculty, bool) or not isinstance(faculty, int):
        raise ValueError("faculty must be an integer")
    if not 1 <= faculty <= MAX_FACULTY:
        raise ValueError(f"faculty must be between 1 and {MAX_FACULTY}")
    if isinstance(blocks, bool) or not isinstance(blocks, int) or not 1 <= blocks <= 52:
        raise ValueError("blocks must be an integer between 1 and 52")
    if not isinstance(start, date):
        raise ValueError("start must be a date")
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown timezone {timezone!r}") from exc
    if name is None:
        name = f"Synthetic Residency ({residents} residents, seed {seed})"

    rng = random.Random(seed)
    people = _make_people(rng, residents, faculty)
    resident_people = [p for p in people if p.role == "resident"]
    counts, plan = _rotation_plan(rng, resident_people, blocks)
    pgy_of = {p.person_id: p.pgy or 0 for p in resident_people}
    seniors = min(
        sum(1 for pid, rot in mapping.items() if rot in ("INPT", "ICU") and pgy_of[pid] >= 2) for mapping in plan
    )
    design = _design_coverage(counts, seniors, people)

    block_starts = [start + timedelta(days=BLOCK_DAYS * b) for b in range(blocks)]
    last_day = block_starts[-1] + timedelta(days=BLOCK_DAYS - 1)
    block_ids = [f"{start.year}-B{b + 1:02d}" for b in range(blocks)]
    holiday = _observed_holiday(start, last_day)

    absences = _make_absences(rng, people, block_starts, plan, design)
    faculty_shifts = sorted(
        {row.shift_id for row in design.rows if row.role == "faculty"},
        key=lambda s: [x.shift_id for x in _SHIFTS].index(s),
    )
    requests = _make_requests(rng, people, block_starts, plan, absences, faculty_shifts)
    year = _year_inputs(seed, resident_people, counts, plan, block_ids, block_starts, absences)

    files: dict[str, str] = {}
    program = {
        "name": name,
        "timezone": timezone,
        "acgme": {"averaging": "rolling_28d", "leave_excluded_from_average": True},
    }
    files["program.yaml"] = "# Generated by rotaflow.synth (synthetic data; no real people).\n" + yaml.safe_dump(
        program, sort_keys=False, default_flow_style=False, allow_unicode=True
    )
    files["people.csv"] = _csv_text(
        ("person_id", "name", "email", "role", "pgy", "fte", "skills"),
        ((p.person_id, p.name, p.email, p.role, p.pgy, _num(p.fte), ";".join(p.skills)) for p in people),
    )
    files["blocks.csv"] = _csv_text(
        ("block_id", "start_date", "end_date"),
        (
            (block_id, first.isoformat(), (first + timedelta(days=BLOCK_DAYS - 1)).isoformat())
            for block_id, first in zip(block_ids, block_starts, strict=True)
        ),
    )
    files["shifts.csv"] = _csv_text(
        (
            "shift_id",
            "name",
            "start",
            "end",
            "transition_minutes",
            "kind",
            "in_house_call",
            "counts_as_work",
            "home_call_hours",
        ),
        (
            (
                s.shift_id,
                s.name,
                s.start,
                s.end,
                s.transition_minutes,
                s.kind,
                _bool(s.in_house_call),
                _bool(s.counts_as_work),
                None if s.home_call_hours is None else _num(s.home_call_hours),
            )
            for s in _SHIFTS
        ),
    )
    files["rotations.csv"] = _csv_text(
        (
            "rotation_id",
            "name",
            "setting",
            "eligible_shifts",
            "min_residents",
            "max_residents",
            "max_consecutive_blocks",
            "leave_allowed",
        ),
        (
            (
                r.rotation_id,
                r.name,
                r.setting,
                ";".join(r.eligible_shifts),
                *year.bounds[r.rotation_id],
                # the setting's default everywhere; the vacation block says it explicitly
                _bool(True) if r.setting == "leave" else None,
            )
            for r in _ROTATIONS
        ),
    )
    files["rotation_assignments.csv"] = _csv_text(
        ("person_id", "block_id", "rotation_id", "locked", "source"),
        (
            (
                p.person_id,
                block_ids[b],
                plan[b][p.person_id],
                _bool(p.person_id in year.locked),
                "manual" if p.person_id in year.locked else None,
            )
            for p in resident_people
            for b in range(blocks)
        ),
    )
    coverage_rows: list[tuple[object, ...]] = []
    for row in design.rows:
        coverage_rows.append(
            (
                row.shift_id,
                row.applies_on,
                row.rotation_id,
                row.role,
                row.min_pgy,
                row.skill,
                row.min,
                row.max_value(),
                row.target_value(),
            )
        )
        if row.shift_id == "CLINIC_AM" and row.rotation_id == "CLINIC":
            # Holiday override: a half-staffed clinic morning on the observed holiday.
            coverage_rows.append(
                ("CLINIC_AM", holiday.isoformat(), "CLINIC", "resident", None, None, row.min // 2, row.min, None)
            )
    files["coverage.csv"] = _csv_text(
        ("shift_id", "applies_on", "rotation_id", "role", "min_pgy", "skill", "min", "max", "target"),
        coverage_rows,
    )
    files["absences.csv"] = _csv_text(
        ("person_id", "start_date", "end_date", "type", "blocking"),
        ((a.person_id, a.start.isoformat(), a.end.isoformat(), a.type, _bool(a.blocking)) for a in absences),
    )
    files["requests.csv"] = _csv_text(
        ("person_id", "date", "shift_id", "kind", "weight"),
        ((r.person_id, r.day.isoformat(), r.shift_id, r.kind, r.weight) for r in requests),
    )
    files["rotation_requirements.csv"] = _csv_text(
        ("pgy", "rotation_id", "min_blocks", "max_blocks"), year.requirements
    )
    files["rotation_capacity.csv"] = _csv_text(
        ("block_id", "rotation_id", "min_residents", "max_residents"), year.capacity
    )
    files["rotation_requests.csv"] = _csv_text(("person_id", "block_id", "rotation_id", "kind", "weight"), year.wishes)
    return {filename: files[filename] for filename in BUNDLE_FILES}


def write_bundle(out_dir: Path, **kwargs: Any) -> list[Path]:
    """Write the files of :func:`build_bundle` (``kwargs``) into ``out_dir``, creating it."""
    return write_bundle_files(Path(out_dir), build_bundle(**kwargs))


def write_bundle_files(out: Path, bundle: dict[str, str]) -> list[Path]:
    """Write ``bundle`` (file name to text, from :func:`build_bundle`) into ``out``, creating it."""
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for filename, text in bundle.items():
        path = out / filename
        path.write_bytes(text.encode("utf-8"))
        written.append(path)
    return written


def sample_bundle() -> dict[str, str]:
    """The sample program shipped in ``configs/programs/sample/``."""
    return build_bundle(**SAMPLE_KWARGS)
