"""The scenarios of one order, each settled by the cheapest step that can decide it (trivial, screen,
greedy repair) or left as a job for the solver."""

from __future__ import annotations

import datetime as dt
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from itertools import combinations
from typing import Any

from rotaflow import events
from rotaflow.constraints.instance import Cell
from rotaflow.validations.contingency.context import ContingencyContext, _hard_violations, _personal_ok
from rotaflow.validations.contingency.results import RepairJob, ScenarioResult, Screened
from rotaflow.validations.contingency.screens import (
    _budget_screen,
    _deficit,
    _lower_bound,
    _over_max,
    _supervision_deficit,
    _supply_screen,
)

__all__ = ["screen_scenarios"]


# --------------------------------------------------------------------------- greedy repair


def _on_left(context: ContingencyContext, removed: Sequence[str]) -> dict[tuple[int, str], set[str]]:
    """Who works each (day, shift) once ``removed`` work no more from the date on: the published schedule's
    people, less theirs."""
    on: dict[tuple[int, str], set[str]] = defaultdict(set)
    on.update((slot, set(people)) for slot, people in context.published_on.items())
    shifts = context.shifts_of
    for person in removed:
        for _, day, shift in shifts.get(person, ((), 0))[0]:
            if day >= context.from_day:
                on[(day, shift)].discard(person)
    return on


def _greedy(
    context: ContingencyContext,
    removed: tuple[str, ...],
    reduced: frozenset[Cell],
    need: dict[tuple[int, str], int],
    on: dict[tuple[int, str], set[str]],
) -> tuple[frozenset[Cell], tuple[str, ...], bool]:
    """One added shift per missing unit; (cells, stand-ins, whether every unit was filled). ``on``: who works
    each shift of ``reduced`` (:func:`_on_left`), which the added shifts join."""
    inst = context.instance
    gone = set(removed)
    eligibility = context.rule("rotation_eligibility") is not None
    leave = context.rule("blocking_absence") is not None
    cells = set(reduced)
    shifts = context.shifts_of  # the stand-ins' own shifts are as published: only the removed people's change
    mine: dict[str, set[Cell]] = defaultdict(set)  # the shifts added to each stand-in
    minutes: Counter[str] = Counter({p: shifts[p][1] for p in shifts if p not in gone})
    added: list[str] = []
    complete = True
    for day, shift in sorted(need, key=lambda k: (inst.slot(*k).start, k[1])):
        here = on[(day, shift)]
        pool: set[str] = set()
        for demand in context.demands_at.get((day, shift), ()):
            if demand.min > len(here & demand.people):
                pool |= demand.people
        if _supervision_deficit(context, day, shift, here):
            pool |= {p.id for p in inst.people if p.role == "faculty"}
        candidates = sorted(
            (
                p
                for p in pool - gone - here
                if (not eligibility or inst.may_work(p, day, shift))
                and (not leave or day not in inst.blocked_days.get(p, frozenset()))
            ),
            key=lambda p: (minutes[p], p),
        )
        while (current := _deficit(context, day, shift, here)) > 0:
            chosen = None
            for person in candidates:
                trial = here | {person}
                if _deficit(context, day, shift, trial) != current - 1 or _over_max(context, day, shift, trial):
                    continue
                own = shifts.get(person, (frozenset(), 0))[0] | mine[person]
                if _personal_ok(context, person, own | {(person, day, shift)}):
                    chosen = person
                    break
            if chosen is None:  # go on: the more units it fills, the better the solver's hint
                complete = False
                break
            cell = (chosen, day, shift)
            cells.add(cell)
            mine[chosen].add(cell)
            minutes[chosen] += inst.slot(day, shift).work_minutes
            here.add(chosen)
            candidates.remove(chosen)
            added.append(chosen)
    return frozenset(cells), tuple(sorted(set(added))), complete


# --------------------------------------------------------------------------- screening


def _scenarios(context: ContingencyContext, order: int) -> list[tuple[str, ...]]:
    people = sorted(context.instance.person_ids)
    return [tuple(c) for c in combinations(people, order)]


def _settle(context: ContingencyContext, removed: tuple[str, ...]) -> ScenarioResult | RepairJob:
    """Trivial, screen or greedy; otherwise the job for the solver."""
    started = time.perf_counter()
    f = context.from_day
    gone = set(removed)
    reduced = frozenset(c for c in context.published if c[0] not in gone or c[1] < f)

    def result(**kw: Any) -> ScenarioResult:
        return ScenarioResult(
            people=removed,
            order=len(removed),
            from_date=context.from_date,
            seconds=round(time.perf_counter() - started, 4),
            **kw,
        )

    on = _on_left(context, removed)
    need = _lower_bound(context, on)
    bound = sum(need.values())
    if reduced == context.published or (
        not need and not _hard_violations(context, reduced, changed=(), removed=removed, on=on)
    ):
        return result(outcome="covered", settled_by="trivial", repair_size=0, repair_minimal=True, lower_bound=0)
    failed = _supply_screen(context, removed)
    if failed is not None:
        return result(
            outcome="uncovered", settled_by="screen", first_uncovered_date=failed[0], first_uncovered_shift=failed[1]
        )
    cells, stand_ins, complete = _greedy(context, removed, reduced, need, on)
    # each stand-in's shifts passed their personal rules as each was added (_personal_ok, the same rules): the
    # rules of the shifts themselves are left to check
    if complete and not _hard_violations(context, cells, changed=(), removed=removed, on=on):
        return result(
            outcome="covered",
            settled_by="greedy",
            repair_size=bound,
            repair_minimal=True,
            lower_bound=bound,
            stand_ins=stand_ins,
        )
    failed = _budget_screen(context, removed)  # only worth its time where greedy could not repair
    if failed is not None:
        return result(
            outcome="uncovered", settled_by="screen", first_uncovered_date=failed[0], first_uncovered_shift=failed[1]
        )
    return RepairJob(removed, bound, cells, round(time.perf_counter() - started, 4))


def screen_scenarios(context: ContingencyContext, order: int, *, singles: Sequence[ScenarioResult] = ()) -> Screened:
    """Settle the order-``order`` scenarios the screens can; N-2 needs the N-1 results."""
    if order not in (1, 2):
        raise ValueError("order is 1 (N-1) or 2 (N-2)")
    fallen = {r.people[0]: r for r in singles if r.order == 1 and r.outcome == "uncovered"}
    settled: list[ScenarioResult] = []
    jobs: list[RepairJob] = []
    scenarios = _scenarios(context, order)
    events.scenarios_planned(order, len(scenarios))  # the observers of rotaflow.events, if any
    for removed in scenarios:
        critical = [fallen[p] for p in removed if p in fallen]
        if critical:
            started = time.perf_counter()
            dates = [(r.first_uncovered_date, r.first_uncovered_shift) for r in critical if r.first_uncovered_date]
            own = _supply_screen(context, removed)
            if own is not None:
                dates.append(own)
            first = min(dates, key=lambda d: _when(context, d)) if dates else (None, None)
            settled.append(
                ScenarioResult(
                    removed,
                    order,
                    context.from_date,
                    "uncovered",
                    "n-1",
                    first_uncovered_date=first[0],
                    first_uncovered_shift=first[1],
                    seconds=round(time.perf_counter() - started, 4),
                )
            )
            events.scenarios_done(order)
            continue
        outcome = _settle(context, removed)
        if isinstance(outcome, RepairJob):
            jobs.append(outcome)
        else:
            settled.append(outcome)
            events.scenarios_done(order)
    return Screened(settled, jobs)


def _when(context: ContingencyContext, where: tuple[dt.date | None, str | None]) -> tuple[dt.date, dt.datetime]:
    inst = context.instance
    date = where[0] or inst.date(inst.days - 1)
    day = inst.day_index(date)
    return date, inst.slot(day, where[1]).start if where[1] in inst.shift else inst.midnight(day)
