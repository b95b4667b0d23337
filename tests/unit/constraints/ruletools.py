"""Helpers for rule tests: small instances, one-rule models, pins and exact penalties."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable
from typing import Any

from rotaflow.constraints.instance import Cell, HistoryShift, Instance, PersonSpec, Schedule, ShiftSpec
from rotaflow.constraints.model import build_model, check_schedule
from rotaflow.constraints.registry import Violation
from rotaflow.constraints.ruleset import ConfiguredRule, RuleEntry, RuleSet, configure
from rotaflow.constraints.solve import SolveResult, solve

__all__ = [
    "configured",
    "exactly",
    "found",
    "found_with_severity",
    "history",
    "instance",
    "solve_with",
    "status",
    "violations",
    "Cells",
    "DAY",
    "NIGHT",
    "CALL24",
]

Cells = set[Cell]
"""A schedule as its cells: (person, day, shift)."""

DAY = ShiftSpec("DAY", start=dt.time(7), end=dt.time(19), kind="day")
NIGHT = ShiftSpec("NIGHT", start=dt.time(19), end=dt.time(7), kind="night")
CALL24 = ShiftSpec("CALL24", start=dt.time(7), end=dt.time(7), transition_minutes=240, kind="call", in_house_call=True)


def instance(
    *,
    people: Iterable[str | PersonSpec] = ("R1",),
    shifts: Iterable[ShiftSpec] = (DAY,),
    days: int = 7,
    start: dt.date = dt.date(2027, 7, 5),
    timezone: str = "Pacific/Honolulu",
    **kwargs: Any,
) -> Instance:
    """A small instance; people given as ids become PGY-2 residents."""
    specs = tuple(p if isinstance(p, PersonSpec) else PersonSpec(p, "resident", 2) for p in people)
    return Instance(
        name="test", start=start, days=days, people=specs, shifts=tuple(shifts), timezone=timezone, **kwargs
    )


def history(inst: Instance, person: str, days: Iterable[int], shift: str) -> tuple[HistoryShift, ...]:
    """``shift`` worked by ``person`` on each of ``days`` (negative: before the horizon), as history."""
    out = []
    for day in days:
        slot, spec = inst.make_slot(day, shift), inst.shift[shift]
        out.append(
            HistoryShift(
                person,
                slot.start,
                slot.end_with_transition,
                slot.work_minutes,
                spec.in_house_call,
                spec.kind,
                slot.scheduled_minutes,
                shift,
            )
        )
    return tuple(out)


def configured(
    rule: str,
    *,
    kind: str | None = None,
    weight: int = 1,
    params: dict[str, Any] | None = None,
    applies_to: dict[str, Any] | None = None,
) -> list[ConfiguredRule]:
    entry: dict[str, Any] = {"rule": rule, "weight": weight, "params": params or {}}
    if kind:
        entry["kind"] = kind
    if applies_to:
        entry["applies_to"] = applies_to
    return configure(RuleSet(name="test", rules=[RuleEntry.model_validate(entry)]))


def solve_with(
    inst: Instance, rules: list[ConfiguredRule], *, pins: dict[Cell, bool] | None = None, time_limit: float = 10.0
) -> SolveResult:
    """Solve ``inst`` under ``rules`` with cells pinned on/off (every unpinned cell is free)."""
    inst.pins = dict(pins or {})
    built = build_model(inst, rules)
    return solve(built, time_limit=time_limit, workers=1, seed=0)


def violations(inst: Instance, rules: list[ConfiguredRule], cells: Iterable[Cell]) -> list[Violation]:
    return check_schedule(Schedule.of(inst, cells), rules)


def exactly(inst: Instance, cells: Collection[Cell]) -> dict[Cell, bool]:
    """Pins that make ``cells`` the whole schedule."""
    return {c: c in cells for c in inst.cells}


def found(inst: Instance, rules: list[ConfiguredRule], cells: Iterable[Cell]) -> list[tuple[Any, ...]]:
    """The checker's findings on ``cells``: (rule, person, first day, last day, value, limit) each."""
    return [(v.rule, v.person, v.first_day, v.last_day, v.value, v.limit) for v in violations(inst, rules, cells)]


def found_with_severity(inst: Instance, rules: list[ConfiguredRule], cells: Iterable[Cell]) -> list[tuple[Any, ...]]:
    """As :func:`found`, each finding with its severity last (a violation or a warning)."""
    return [
        (v.rule, v.person, v.first_day, v.last_day, v.value, v.limit, v.severity)
        for v in violations(inst, rules, cells)
    ]


def status(inst: Instance, rules: list[ConfiguredRule], cells: Collection[Cell]) -> str:
    """The solver's status with ``cells`` pinned as the whole schedule (5 seconds at most)."""
    return solve_with(inst, rules, pins=exactly(inst, cells), time_limit=5).status
