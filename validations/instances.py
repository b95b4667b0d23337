"""A bundle as the rule engine's input: the instance of a block, its configured rules."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

import pandas as pd

from rotaflow.constraints.instance import Demand, HistoryShift, Instance, PersonSpec, RequestSpec, ShiftSpec
from rotaflow.constraints.ruleset import ConfiguredRule, configure, load_ruleset, merge_overrides
from rotaflow.errors import InputError, Problem
from rotaflow.validations.bundle import Bundle
from rotaflow.validations.vocabulary import applies_on_weekday

__all__ = [
    "HISTORY_DAYS",
    "block_instance",
    "coverage_rows_for_day",
    "history_shifts",
    "rules_for",
    "shift_specs",
]

HISTORY_DAYS = 40
"""How far back before a block its history reaches: the longest rolling window (28 days) with room to spare."""


def _clock(value: str) -> dt.time:
    hour, minute = value.split(":")
    return dt.time(int(hour), int(minute))


def _none(value: Any) -> Any:
    return None if value is None or (not isinstance(value, str) and pd.isna(value)) else value


def _pattern_matches(pattern: str, date: dt.date) -> bool:
    return applies_on_weekday(pattern, date.weekday())


def coverage_rows_for_day(coverage: pd.DataFrame, date: dt.date) -> pd.DataFrame:
    """The coverage rows that apply on a date: a dated row replaces the pattern rows of its shift."""
    iso = date.isoformat()
    dated = coverage[coverage["applies_on"] == iso]
    overridden = set(dated["shift_id"])
    pattern = coverage[
        coverage["applies_on"].map(lambda p: len(p) != 10 and _pattern_matches(p, date))
        & ~coverage["shift_id"].isin(overridden)
    ]
    return pd.concat([pattern, dated])


def rules_for(bundle: Bundle) -> list[ConfiguredRule]:
    """The default rule set with the bundle's constraints.yaml applied."""
    return configure(merge_overrides(load_ruleset(), bundle.constraints))


def block_instance(
    bundle: Bundle,
    block_id: str,
    *,
    history: Iterable[tuple[str, dt.date, str]] = (),
    previous: Iterable[tuple[str, dt.date, str]] = (),
    pins: dict[tuple[str, dt.date, str], bool] | None = None,
    frozen_before: dt.date | None = None,
) -> Instance:
    """The instance of one block: eligibility, absences, coverage demands, requests, history.

    ``frozen_before`` (a repair's date) holds the block's days before it exactly as ``previous``.
    """
    frames = bundle.frames
    blocks = frames["blocks"].set_index("block_id")
    if block_id not in blocks.index:
        known = ", ".join(blocks.index)
        raise InputError([Problem("command line", None, "--block", f"a block id from blocks.csv ({known})", block_id)])
    assignments = bundle.rotation_assignments()
    _require_rotations(frames["people"], assignments, block_id)
    first = blocks.at[block_id, "start_date"].date()
    last = blocks.at[block_id, "end_date"].date()
    days = (last - first).days + 1

    people = tuple(
        PersonSpec(
            id=row.person_id,
            role=row.role,
            pgy=None if pd.isna(row.pgy) else int(row.pgy),
            fte=1.0 if pd.isna(row.fte) else float(row.fte),
            skills=frozenset(str(row.skills).split(";")) if _none(row.skills) else frozenset(),
        )
        for row in frames["people"].itertuples()
    )
    shifts = shift_specs(bundle)
    rotations = frames["rotations"].set_index("rotation_id")
    eligible = {
        rid: frozenset(str(cell).split(";")) if _none(cell) else frozenset()
        for rid, cell in rotations["eligible_shifts"].items()
    }
    settings = {rid: rotations.at[rid, "setting"] for rid in rotations.index}
    ra = assignments
    on_rotation = dict(
        zip(
            ra.loc[ra["block_id"] == block_id, "person_id"],
            ra.loc[ra["block_id"] == block_id, "rotation_id"],
            strict=True,
        )
    )
    coverage = frames["coverage"]
    faculty_shifts = frozenset(coverage.loc[coverage["role"] == "faculty", "shift_id"])

    allowed: dict[tuple[str, int], frozenset[str]] = {}
    rotation: dict[tuple[str, int], str | None] = {}
    leave: dict[str, set[int]] = {}
    for person in people:
        rid = on_rotation.get(person.id)
        if rid is not None:
            shifts_ok = eligible.get(rid, frozenset())
        elif person.role == "faculty":
            shifts_ok = faculty_shifts
        else:
            shifts_ok = frozenset()
        for day in range(days):
            allowed[(person.id, day)] = shifts_ok
            rotation[(person.id, day)] = rid

    # Leave on every day the program knows of, before, inside and after the block: the rolling
    # windows of the block reach into the blocks on both sides, and their limits count it there too.
    leave_rotations = {rid for rid, setting in settings.items() if setting == "leave"}
    on_leave = ra[ra["rotation_id"].isin(leave_rotations)].merge(frames["blocks"], on="block_id")
    for row in on_leave.itertuples():
        lo, hi = (row.start_date.date() - first).days, (row.end_date.date() - first).days
        leave.setdefault(row.person_id, set()).update(range(lo, hi + 1))

    blocked: dict[str, set[int]] = {}
    for row in frames["absences"].itertuples():
        lo = (row.start_date.date() - first).days
        hi = (row.end_date.date() - first).days
        is_blocking = True if pd.isna(row.blocking) else bool(row.blocking)
        if not is_blocking or hi < lo:
            continue
        leave.setdefault(row.person_id, set()).update(range(lo, hi + 1))
        inside = range(max(lo, 0), min(hi, days - 1) + 1)
        if inside:
            blocked.setdefault(row.person_id, set()).update(inside)

    by_id = {p.id: p for p in people}
    demands: list[Demand] = []
    for day in range(days):
        date = first + dt.timedelta(days=day)
        for row in coverage_rows_for_day(coverage, date).itertuples():
            members = frozenset(
                p.id
                for p in people
                if (_none(row.rotation_id) is None or on_rotation.get(p.id) == row.rotation_id)
                and (_none(row.role) is None or p.role == row.role)
                and (_none(row.min_pgy) is None or (p.pgy is not None and p.pgy >= int(row.min_pgy)))
                and (_none(row.skill) is None or row.skill in p.skills)
            )
            demands.append(
                Demand(
                    day=day,
                    shift=row.shift_id,
                    people=members,
                    min=int(row.min),
                    max=None if pd.isna(row.max) else int(row.max),
                    target=None if pd.isna(row.target) else int(row.target),
                    label=f"coverage.csv row {row.Index}",
                )
            )

    requests = tuple(
        RequestSpec(
            person=row.person_id,
            day=(row.date.date() - first).days,
            shift=_none(row.shift_id),
            kind=row.kind,
            weight=1 if pd.isna(row.weight) else int(row.weight),
        )
        for row in frames["requests"].itertuples()
        if first <= row.date.date() <= last and row.person_id in by_id
    )

    instance = Instance(
        name=f"{bundle.program.key}/{block_id}",
        start=first,
        days=days,
        people=people,
        shifts=shifts,
        timezone=bundle.program.timezone,
        allowed=allowed,
        rotation=rotation,
        blocked_days={p: frozenset(d) for p, d in blocked.items()},
        leave_days={p: frozenset(d) for p, d in leave.items()},
        demands=tuple(demands),
        requests=requests,
        meta={"acgme": bundle.program.acgme.model_dump(), "block_id": block_id, "program": bundle.program.key},
    )
    past = list(history) + [(row.person_id, row.date.date(), row.shift_id) for row in frames["history"].itertuples()]
    instance.history = tuple(history_shifts(instance, past))
    instance.previous = frozenset(
        (p, (d - first).days, s) for p, d, s in previous if 0 <= (d - first).days < days and s in instance.shift
    )
    instance.pins = {
        (p, (d - first).days, s): v for (p, d, s), v in (pins or {}).items() if 0 <= (d - first).days < days
    }
    instance.holidays = frozenset((d - first).days for d in bundle.program.holidays if 0 <= (d - first).days < days)
    if frozen_before is not None:
        instance.frozen_days = min(max((frozen_before - first).days, 0), days)
    return instance


def shift_specs(bundle: Bundle) -> tuple[ShiftSpec, ...]:
    """shifts.csv's shift types, as an instance reads them."""
    return tuple(
        ShiftSpec(
            id=row.shift_id,
            start=_clock(row.start),
            end=_clock(row.end),
            transition_minutes=0 if pd.isna(row.transition_minutes) else int(row.transition_minutes),
            kind=row.kind,
            in_house_call=bool(row.in_house_call),
            counts_as_work=True if pd.isna(row.counts_as_work) else bool(row.counts_as_work),
            home_call_hours=None if pd.isna(row.home_call_hours) else float(row.home_call_hours),
        )
        for row in bundle.frames["shifts"].itertuples()
    )


def _require_rotations(people: pd.DataFrame, ra: pd.DataFrame, block_id: str) -> None:
    """Every resident has a rotation in the block: rotation_assignments.csv may leave a block out (a year
    still to plan), but a block's schedule is made for the rotations its residents are on."""
    residents = sorted(set(people.loc[people["role"] == "resident", "person_id"].dropna()))
    have = set(ra.loc[ra["block_id"] == block_id, "person_id"].dropna())
    if residents and not have.intersection(residents):
        raise InputError(
            [
                Problem(
                    "rotation_assignments.csv",
                    None,
                    "block_id",
                    f"a row for each resident in block {block_id} (or plan the year: rotaflow plan-year)",
                    f"no row for block {block_id}",
                )
            ]
        )
    missing = [person for person in residents if person not in have]
    if missing:
        raise InputError(
            [
                Problem(
                    "rotation_assignments.csv",
                    None,
                    "rotation_id",
                    f"a rotation for resident {person} in block {block_id}",
                    "no row",
                )
                for person in missing
            ]
        )


def history_shifts(instance: Instance, rows: Iterable[tuple[str, dt.date, str]]) -> list[HistoryShift]:
    """The shifts ``rows`` (person, date, shift) as the instance's history: those of the ``HISTORY_DAYS`` days
    before its first day, each once, of shift types it knows."""
    out = []
    seen = set()
    for person, date, shift in rows:
        offset = (date - instance.start).days
        if offset >= 0 or offset < -HISTORY_DAYS or (person, date, shift) in seen or shift not in instance.shift:
            continue
        seen.add((person, date, shift))
        slot = instance.make_slot(offset, shift)
        spec = instance.shift[shift]
        out.append(
            HistoryShift(
                person=person,
                start=slot.start,
                end_with_transition=slot.end_with_transition,
                work_minutes=slot.work_minutes,
                in_house_call=spec.in_house_call,
                kind=spec.kind,
                scheduled_minutes=slot.scheduled_minutes,
                shift=shift,
            )
        )
    return out
