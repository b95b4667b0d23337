"""The screens: the demand arithmetic (shortfalls, the lower bound of a repair), the supply screen
(rows and overlapping shifts against the people left) and the hours screen (the 80-hour rule)."""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ortools.graph.python import max_flow

from rotaflow.constraints.instance import Demand
from rotaflow.constraints.rules.acgme_weekly_hours import limit_minutes

if TYPE_CHECKING:
    from rotaflow.validations.contingency.context import ContingencyContext

__all__: list[str] = []


# --------------------------------------------------------------------------- demand arithmetic


def _supervision_deficit(context: ContingencyContext, day: int, shift: str, on: set[str]) -> int:
    if (day, shift) not in context.supervised:
        return 0
    rule = context.rule("supervision_ratio")
    assert rule is not None
    inst = context.instance
    scope = context.supervision_scope
    faculty = pgy1 = others = 0
    for person in on:
        spec = inst.person[person]
        if spec.role == "faculty":
            faculty += 1
        elif person in scope:
            if spec.pgy == 1:
                pgy1 += 1
            else:
                others += 1
    needed = math.ceil(pgy1 / rule.params.pgy1_per_faculty + others / rule.params.others_per_faculty - 1e-9)
    return max(0, needed - faculty)


def _deficit(context: ContingencyContext, day: int, shift: str, on: set[str]) -> int:
    """Changes at least needed on (day, shift): the largest row shortfall or the supervision deficit."""
    worst = _supervision_deficit(context, day, shift, on)
    for demand in context.demands_at.get((day, shift), ()):
        if demand.min > 0:
            worst = max(worst, demand.min - len(on & demand.people))
    return worst


def _over_max(context: ContingencyContext, day: int, shift: str, on: set[str]) -> bool:
    return any(
        demand.max is not None and len(on & demand.people) > demand.max
        for demand in context.demands_at.get((day, shift), ())
    )


def _lower_bound(context: ContingencyContext, on: dict[tuple[int, str], set[str]]) -> dict[tuple[int, str], int]:
    keys = set(context.demands_at) | set(context.supervised)
    out = {}
    for day, shift in keys:
        if day < context.from_day:
            continue
        need = _deficit(context, day, shift, on.get((day, shift), set()))
        if need > 0:
            out[(day, shift)] = need
    return out


# --------------------------------------------------------------------------- supply screen


@dataclass(frozen=True)
class _Group:
    """Shifts running at one instant: their rows need distinct people (a maximum flow)."""

    instant: dt.datetime
    day: int
    shift: str
    rows: tuple[tuple[Demand, frozenset[str]], ...]
    need: int
    flow: int
    assigned: dict[str, int]
    """A maximum flow of ``flow``: the row (a place in ``rows``) each person it runs through fills. Losing only
    others leaves that flow whole, so it stays the largest (the remaining graph is a part of the whole)."""


def _available(context: ContingencyContext, demand: Demand) -> frozenset[str]:
    inst = context.instance
    eligibility = context.rule("rotation_eligibility") is not None
    leave = context.rule("blocking_absence") is not None
    return frozenset(
        p
        for p in demand.people
        if (not eligibility or inst.may_work(p, demand.day, demand.shift))
        and (not leave or demand.day not in inst.blocked_days.get(p, frozenset()))
    )


def _screen_rows(context: ContingencyContext) -> list[tuple[Demand, frozenset[str]]]:
    inst = context.instance
    rows = [(d, _available(context, d)) for d in inst.demands if d.min > 0 and context.rule("coverage") is not None]
    rule = context.rule("supervision_ratio")
    if rule is not None:
        lcm = math.lcm(rule.params.pgy1_per_faculty, rule.params.others_per_faculty)
        scope = context.supervision_scope
        faculty = frozenset(p.id for p in inst.people if p.role == "faculty")
        for day, shift in sorted(context.supervised):
            # residents coverage requires there: rows of residents in scope, pairwise disjoint
            chosen: list[Demand] = []
            for demand in sorted(
                context.demands_at.get((day, shift), ()), key=lambda d: (-d.min, d.label, sorted(d.people))
            ):
                if (
                    demand.min > 0
                    and demand.people
                    and demand.people <= scope - faculty
                    and all(not (demand.people & other.people) for other in chosen)
                ):
                    chosen.append(demand)
            weight = 0
            for demand in chosen:
                per = min(
                    lcm // (rule.params.pgy1_per_faculty if inst.person[p].pgy == 1 else rule.params.others_per_faculty)
                    for p in demand.people
                )
                weight += demand.min * per
            need = -(-weight // lcm)
            if need > 0:
                virtual = Demand(day, shift, faculty, min=need, label="supervision_ratio")
                rows.append((virtual, _available(context, virtual)))
    rows.sort(key=lambda r: (inst.slot(r[0].day, r[0].shift).start, r[0].shift, r[0].label))
    return rows


def _disjoint(rows: list[tuple[Demand, frozenset[str]]]) -> list[tuple[Demand, frozenset[str]]]:
    """Rows of one shift that share nobody (one person counts for every row they belong to)."""
    chosen: list[tuple[Demand, frozenset[str]]] = []
    for demand, free in sorted(rows, key=lambda r: (-r[0].min, r[0].label, sorted(r[0].people))):
        if all(not (demand.people & other.people) for other, _ in chosen):
            chosen.append((demand, free))
    return chosen


def _groups(context: ContingencyContext) -> list[_Group]:
    inst = context.instance
    if context.rule("one_shift_at_a_time") is None:
        return []
    by_slot: dict[tuple[int, str], list[tuple[Demand, frozenset[str]]]] = defaultdict(list)
    for demand, free in context.screen_rows:
        by_slot[(demand.day, demand.shift)].append((demand, free))
    slots = sorted(inst.slots(), key=lambda s: (s.start, s.shift))
    out = []
    seen: set[tuple[tuple[int, str], ...]] = set()
    for slot in slots:
        running = [s for s in slots if s.start <= slot.start < s.end_with_transition and (s.day, s.shift) in by_slot]
        key = tuple(sorted((s.day, s.shift) for s in running))
        if len(running) < 2 or key in seen:
            continue
        seen.add(key)
        rows = tuple(r for s in running for r in _disjoint(by_slot[(s.day, s.shift)]))
        need = sum(d.min for d, _ in rows)
        flow, assigned = _flow(rows)
        out.append(_Group(slot.start, slot.day, slot.shift, rows, need, flow, assigned))
    return out


def _flow(rows: Sequence[tuple[Demand, frozenset[str]]]) -> tuple[int, dict[str, int]]:
    """The maximum flow from the rows' minimums through the people free for them, each person one unit, and
    the row each person it runs through fills (:attr:`_Group.assigned`)."""
    graph = max_flow.SimpleMaxFlow()
    nodes: dict[str, int] = {}
    arcs: list[tuple[int, str, int]] = []  # (row, person, arc)
    for n, (demand, free) in enumerate(rows):
        graph.add_arc_with_capacity(0, 2 + n, demand.min)
        for person in sorted(free):
            if person not in nodes:
                nodes[person] = 2 + len(rows) + len(nodes)
                graph.add_arc_with_capacity(nodes[person], 1, 1)
            arcs.append((n, person, graph.add_arc_with_capacity(2 + n, nodes[person], 1)))
    if graph.solve(0, 1) != graph.OPTIMAL:  # pragma: no cover - a bipartite flow always solves
        return 0, {}
    return int(graph.optimal_flow()), {person: n for n, person, arc in arcs if graph.flow(arc)}


def _flow_without(group: _Group, lost: frozenset[str], from_day: int) -> int:
    """The group's maximum flow once ``lost`` may fill no row from ``from_day`` on: its flow less the units they
    carried there, each regained by an augmenting path (breadth first, over the rows) where one exists.

    The group's flow is a maximum, so the only new paths start at the rows that lost a unit, or reach a lost
    person freed for the earlier rows; every row short of its minimum is searched from until none gains."""
    rows = group.rows
    free = [free if demand.day < from_day else free - lost for demand, free in rows]
    assigned = {p: n for p, n in group.assigned.items() if not (p in lost and rows[n][0].day >= from_day)}
    filled = [0] * len(rows)
    for n in assigned.values():
        filled[n] += 1
    flow = len(assigned)
    stuck: set[int] = set()  # rows short of their minimum that no path reaches a free person from
    while True:
        short = [n for n, (demand, _) in enumerate(rows) if filled[n] < demand.min and n not in stuck]
        if not short:
            return flow
        start = short[0]
        came: dict[int, tuple[int, str] | None] = {start: None}  # row -> (row before, person moved from it)
        queue = [start]
        end: tuple[int, str] | None = None
        for row in queue:
            for person in free[row]:  # any order: the largest flow has one size
                other = assigned.get(person)
                if other is None:
                    end = (row, person)
                    break
                if other not in came:
                    came[other] = (row, person)
                    queue.append(other)
            if end is not None:
                break
        if end is None:
            stuck.add(start)
            continue
        row, person = end
        while True:  # person fills row, whose person on the path moves to the row before it, back to the start
            assigned[person] = row
            step = came[row]
            if step is None:
                break
            row, person = step
        filled[start] += 1
        flow += 1


@dataclass(frozen=True)
class _Budget:
    """Resident rows the weekly-hours rule caps: their minutes in each averaging window."""

    rows: tuple[tuple[int, str, int, frozenset[str]], ...]
    """(window, shift, minutes the row needs inside its window, who is free to fill it), by start."""
    days: tuple[int, ...]
    capacity: dict[str, tuple[int, ...]]
    """Each person's limit in minutes, per window."""


def _budget(context: ContingencyContext) -> _Budget | None:
    weekly = context.rule("acgme_weekly_hours")
    if weekly is None or context.rule("coverage") is None:
        return None
    inst = context.instance
    bound = frozenset(p for p in inst.person_ids if weekly.selector.person_matches(inst, p))
    length = weekly.params.window_days
    windows = [(first, first + length - 1) for first in range(0, inst.days, length)]
    by_slot: dict[tuple[int, str], list[tuple[Demand, frozenset[str]]]] = defaultdict(list)
    for demand, free in context.screen_rows:
        if demand.label != "supervision_ratio" and demand.people <= bound:
            by_slot[(demand.day, demand.shift)].append((demand, free))
    rows = []
    days = []
    for (day, shift), options in sorted(by_slot.items(), key=lambda kv: (inst.slot(*kv[0]).start, kv[0][1])):
        window = day // length
        first, last = windows[window]
        minutes = inst.slot(day, shift).overlap_minutes(inst.midnight(first), inst.midnight(last + 1))
        for demand, free in _disjoint(options):
            rows.append((window, shift, demand.min * minutes, free))
            days.append(day)
    capacity = {p: tuple(limit_minutes(inst, weekly.params, p, a, b) for a, b in windows) for p in bound}
    return _Budget(tuple(rows), tuple(days), capacity)


def _budget_screen(context: ContingencyContext, removed: Sequence[str]) -> tuple[dt.date, str] | None:
    """Hours screen: the rows only a set of residents can fill need more than the 80-hour rule lets them
    work in an averaging window. Returns the row whose minutes first overflow a window, or None."""
    budget: _Budget | None = context._derived("budget", lambda: _budget(context))
    if budget is None or not budget.rows:
        return None
    gone = set(removed)
    f = context.from_day
    free = [fr if day < f else fr - gone for (_, _, _, fr), day in zip(budget.rows, budget.days, strict=True)]
    groups = set(free)
    groups.add(frozenset().union(*free))
    first: tuple[int, str] | None = None
    for group in groups:
        caps = [
            sum(budget.capacity.get(p, (0,) * (w + 1))[w] for p in group)
            for w in range(max(r[0] for r in budget.rows) + 1)
        ]
        used = [0] * len(caps)
        for n, ((window, shift, minutes, _), who) in enumerate(zip(budget.rows, free, strict=True)):
            if first is not None and n >= first[0]:
                break
            if who <= group:
                used[window] += minutes
                if used[window] > caps[window]:
                    first = (n, shift)
                    break
    if first is None:
        return None
    return context.instance.date(budget.days[first[0]]), first[1]


def _supply_screen(context: ContingencyContext, removed: Sequence[str]) -> tuple[dt.date, str] | None:
    """The first (date, shift) no choice of the remaining people can staff, or None."""
    inst = context.instance
    gone = set(removed)
    f = context.from_day
    failures: list[tuple[dt.datetime, int, str]] = []
    for demand, free in context.screen_rows:
        if demand.day >= f and len(free - gone) < demand.min:
            failures.append((inst.slot(demand.day, demand.shift).start, demand.day, demand.shift))
            break  # rows are in start order: the first is the earliest
    flows: dict[tuple[int, frozenset[str]], int] = context._derived("flows", dict)
    for n, group in enumerate(context.groups):
        if failures and group.instant >= failures[0][0]:
            break
        if all(d.day < f for d, _ in group.rows):
            continue
        lost = frozenset().union(*(free for d, free in group.rows if d.day >= f)) & gone
        if group.flow - len(lost) >= group.need:  # one person less takes at most one unit of flow
            continue
        if (n, lost) not in flows:  # pairs mostly share the loss of one member: remember each
            flows[(n, lost)] = _flow_without(group, lost, f)
        if flows[(n, lost)] < group.need:
            failures = [(group.instant, group.day, group.shift)]
            break
    if not failures:
        return None
    instant, day, shift = min(failures)
    return inst.date(day), shift
