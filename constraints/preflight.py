"""Preflight: cheap feasibility screens that run before any solving.

Each screen is sound: it refuses only what no schedule could satisfy, so a refusal is a
reason a chief resident can act on. The screens:

- **coverage supply**: each coverage row has at least ``min`` people who may work the shift
  that day (rotation eligibility, not on blocking leave);
- **simultaneous shifts**: shifts that overlap in time cannot share a person, so for every
  instant of a day the rows of the shifts running then are matched to distinct people
  (a maximum flow, not a head-count);
- **hours budget**: the resident hours that coverage requires fit in what the 80-hour rule
  allows the residents who can work them, per rotation and overall;
- **impossible shifts**: a shift that breaks a must-rule by itself (longer than 24 + 4 hours,
  as a 24-hour call is on the night the clocks go back) is named with its date;
- **supervision capacity**: on a supervised shift, the residents the coverage rows require (disjoint
  rows summed, PGY-1 counted as such only where a row has too few others) need more faculty under the
  supervision ratio than the faculty rows' maximums and the faculty who may work it allow.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field

from ortools.graph.python import max_flow

from rotaflow.constraints.instance import Demand, Instance
from rotaflow.constraints.ruleset import ConfiguredRule
from rotaflow.errors import InfeasibleError

__all__ = ["PreflightFailed", "PreflightReport", "Reason", "preflight"]


@dataclass(frozen=True)
class Reason:
    """Why a screen refused (or warned): plain words, with the ids and dates involved."""

    screen: str
    message: str
    people: tuple[str, ...] = ()
    dates: tuple[str, ...] = ()
    shift: str | None = None
    severity: str = "error"

    def as_dict(self) -> dict[str, object]:
        return {
            "screen": self.screen,
            "message": self.message,
            "people": list(self.people),
            "dates": list(self.dates),
            "shift": self.shift,
            "severity": self.severity,
        }


@dataclass
class PreflightReport:
    reasons: list[Reason] = field(default_factory=list)
    checked: dict[str, int] = field(default_factory=dict)

    @property
    def errors(self) -> list[Reason]:
        return [r for r in self.reasons if r.severity == "error"]

    @property
    def ok(self) -> bool:
        return not self.errors


class PreflightFailed(InfeasibleError):
    """A screen proved the block cannot be scheduled; ``report`` says why."""

    def __init__(self, report: PreflightReport) -> None:
        self.report = report
        lines = [r.message for r in report.errors[:20]]
        more = f"\n  ... and {len(report.errors) - 20} more" if len(report.errors) > 20 else ""
        super().__init__("the block cannot be scheduled:\n  - " + "\n  - ".join(lines) + more)


def _available(inst: Instance, demand: Demand, rules: list[ConfiguredRule]) -> list[str]:
    """People who count for a row and whom the hard rules let work it (eligibility, leave)."""
    eligibility = _binding(rules, "rotation_eligibility") is not None
    leave = _binding(rules, "blocking_absence") is not None
    return sorted(
        p
        for p in demand.people
        if (not eligibility or inst.may_work(p, demand.day, demand.shift))
        and (not leave or demand.day not in inst.blocked_days.get(p, frozenset()))
    )


def _binding(rules: list[ConfiguredRule], name: str) -> ConfiguredRule | None:
    return next((r for r in rules if r.name == name and r.kind == "hard"), None)


def preflight(inst: Instance, rules: list[ConfiguredRule], *, raise_on_error: bool = True) -> PreflightReport:
    """Run every screen; raise :class:`PreflightFailed` when one proves the block infeasible."""
    report = PreflightReport()
    if _binding(rules, "coverage") is not None:
        _coverage_supply(inst, report, rules)
        if report.ok and _binding(rules, "one_shift_at_a_time") is not None:
            _simultaneous(inst, report, rules)  # overlapping shifts, once each shift alone can be staffed
    weekly = _binding(rules, "acgme_weekly_hours")
    if weekly is not None and _binding(rules, "coverage") is not None:
        _hours_budget(inst, weekly, report, rules)
    duty = _binding(rules, "acgme_max_continuous_duty")
    if duty is not None:
        _impossible_shifts(inst, duty, report, rules)
    supervision = _binding(rules, "supervision_ratio")
    if supervision is not None and _binding(rules, "coverage") is not None:
        _supervision_capacity(inst, supervision, report, rules)
    if raise_on_error and not report.ok:
        raise PreflightFailed(report)
    return report


def _coverage_supply(inst: Instance, report: PreflightReport, rules: list[ConfiguredRule]) -> None:
    checked = 0
    for demand in inst.demands:
        if demand.min <= 0:
            continue
        checked += 1
        available = _available(inst, demand, rules)
        if len(available) < demand.min:
            date = inst.date(demand.day).isoformat()
            away = sorted(p for p in demand.people if demand.day in inst.blocked_days.get(p, frozenset()))
            ineligible = sorted(
                p for p in demand.people if p not in away and not inst.may_work(p, demand.day, demand.shift)
            )
            detail = []
            if away:
                detail.append(f"on leave: {', '.join(away)}")
            if ineligible:
                detail.append(f"not allowed this shift by their rotation: {', '.join(ineligible)}")
            who = f" ({'; '.join(detail)})" if detail else ""
            report.reasons.append(
                Reason(
                    "coverage_supply",
                    f"{demand.shift} on {date} needs at least {demand.min} "
                    f"{'person' if demand.min == 1 else 'people'}{_row(demand)} but only {len(available)} "
                    f"can work it{who}",
                    tuple(available),
                    (date,),
                    demand.shift,
                )
            )
    report.checked["coverage_supply"] = checked


def _row(demand: Demand) -> str:
    return f" ({demand.label})" if demand.label else ""


def _simultaneous(inst: Instance, report: PreflightReport, rules: list[ConfiguredRule]) -> None:
    """For each instant a shift starts, the rows of every shift running then need distinct people."""
    by_day: dict[int, list[Demand]] = defaultdict(list)
    for demand in inst.demands:
        if demand.min > 0:
            by_day[demand.day].append(demand)
    slots = sorted(inst.slots(), key=lambda s: s.start)
    checked = 0
    seen: set[tuple[tuple[int, str], ...]] = set()
    for slot in slots:
        running = [s for s in slots if s.start <= slot.start < s.end_with_transition]
        key = tuple(sorted((s.day, s.shift) for s in running))
        if len(running) < 2 or key in seen:
            continue
        seen.add(key)
        # the largest row of each running shift (rows of one shift may share people)
        rows = []
        for s in running:
            candidates = [d for d in by_day.get(s.day, []) if d.shift == s.shift]
            if candidates:
                rows.append(max(candidates, key=lambda d: d.min))
        if len(rows) < 2:
            continue
        checked += 1
        need = sum(d.min for d in rows)
        flow, people = _max_flow(inst, rows, rules)
        if flow < need:
            when = slot.start.astimezone(inst.zone)
            names = ", ".join(f"{d.shift} ({d.min})" for d in rows)
            report.reasons.append(
                Reason(
                    "simultaneous_shifts",
                    f"at {when:%Y-%m-%d %H:%M} the shifts running together need {need} different people "
                    f"[{names}] but at most {flow} can be found among those eligible",
                    tuple(sorted(people)),
                    (when.date().isoformat(),),
                )
            )
    report.checked["simultaneous_shifts"] = checked


def _max_flow(inst: Instance, rows: list[Demand], rules: list[ConfiguredRule]) -> tuple[int, set[str]]:
    graph = max_flow.SimpleMaxFlow()
    people: dict[str, int] = {}
    source, sink = 0, 1
    next_node = 2 + len(rows)
    for n, demand in enumerate(rows):
        graph.add_arc_with_capacity(source, 2 + n, demand.min)
        for person in _available(inst, demand, rules):
            if person not in people:
                people[person] = next_node
                next_node += 1
                graph.add_arc_with_capacity(people[person], sink, 1)
            graph.add_arc_with_capacity(2 + n, people[person], 1)
    if graph.solve(source, sink) != graph.OPTIMAL:
        return 0, set(people)
    return int(graph.optimal_flow()), set(people)


def _hours_budget(inst: Instance, weekly: ConfiguredRule, report: PreflightReport, rules: list[ConfiguredRule]) -> None:
    """Resident hours coverage requires against what the 80-hour rule lets those residents work."""
    from rotaflow.constraints.rules.acgme_weekly_hours import limit_minutes

    params = weekly.params
    bound = {p for p in inst.person_ids if weekly.selector.person_matches(inst, p)}
    # disjoint averaging windows from day 0 cover the block; each caps the work inside it
    length = params.window_days
    windows = [(first, first + length - 1) for first in range(0, inst.days, length)]
    start, end = inst.midnight(0), inst.midnight(windows[-1][1] + 1)
    need: dict[frozenset[str], int] = defaultdict(int)
    for (day, shift), demand in _largest_rows(inst).items():
        available = frozenset(_available(inst, demand, rules))
        if demand.min <= 0 or not available or not demand.people <= bound:
            continue  # nobody available is the supply screen's finding, not the hours budget's
        need[available] += demand.min * inst.slot(day, shift).overlap_minutes(start, end)
    groups = list(need.items())
    # every group of rows that draws on the same people, and all groups together
    checks = [(people, minutes) for people, minutes in groups]
    if len(groups) > 1:
        union: frozenset[str] = frozenset().union(*(g for g, _ in groups))
        checks.append((union, sum(m for _, m in groups)))
    for people, minutes in checks:
        capacity = sum(limit_minutes(inst, params, p, first, last) for p in people for first, last in windows)
        if minutes > capacity:
            report.reasons.append(
                Reason(
                    "hours_budget",
                    f"coverage needs {minutes / 60:.0f} h of work from {len(people)} resident(s) "
                    f"({', '.join(sorted(people)[:12])}{'…' if len(people) > 12 else ''}) but the "
                    f"{params.limit_hours:g}-hour rule allows them at most {capacity / 60:.0f} h in this block",
                    tuple(sorted(people)),
                )
            )
    report.checked["hours_budget"] = len(checks)


def _largest_rows(inst: Instance) -> dict[tuple[int, str], Demand]:
    out: dict[tuple[int, str], Demand] = {}
    for demand in inst.demands:
        key = (demand.day, demand.shift)
        if key not in out or demand.min > out[key].min:
            out[key] = demand
    return out


def _impossible_shifts(
    inst: Instance, duty: ConfiguredRule, report: PreflightReport, rules: list[ConfiguredRule]
) -> None:
    bound = {p for p in inst.person_ids if duty.selector.person_matches(inst, p)}
    # a shift is needed from people the rule binds when a row needs it and only they can fill it
    required = {
        (d.day, d.shift)
        for d in inst.demands
        if d.min > 0 and _available(inst, d, rules) and set(_available(inst, d, rules)) <= bound
    }
    scheduled_cap = dt.timedelta(hours=duty.params.max_scheduled_hours)
    total_cap = dt.timedelta(hours=duty.params.max_total_hours)
    checked = 0
    for slot in inst.slots():
        checked += 1
        scheduled = slot.end - slot.start
        total = slot.end_with_transition - slot.start
        if scheduled <= scheduled_cap and total <= total_cap:
            continue
        date = inst.date(slot.day).isoformat()
        hours = scheduled.total_seconds() / 3600
        extra = duty.params.max_total_hours - duty.params.max_scheduled_hours
        needed = (slot.day, slot.shift) in required
        report.reasons.append(
            Reason(
                "impossible_shift",
                f"shift {slot.shift} on {date} lasts {hours:g} h scheduled "
                f"({total.total_seconds() / 3600:g} h with transition), more than the "
                f"{duty.params.max_scheduled_hours:g} + {extra:g} "
                f"hours allowed{'' if needed else '; nobody will be given it'}",
                (),
                (date,),
                slot.shift,
                "error" if needed else "warning",
            )
        )
    report.checked["impossible_shift"] = checked


def _supervision_capacity(
    inst: Instance, supervision: ConfiguredRule, report: PreflightReport, rules: list[ConfiguredRule]
) -> None:
    """Faculty a supervised shift must have for the residents coverage requires, against the most it can have.

    Sound: the residents counted come from coverage rows with pairwise disjoint people (each must get its
    minimum), each weighs at least 1 ÷ ``others_per_faculty`` (PGY-1 1 ÷ ``pgy1_per_faculty`` where a row
    has fewer available non-PGY-1 residents than its minimum), and the faculty on the shift are at most those
    who may work it, and at most ``max`` of a row plus the available faculty that row does not count.
    """
    params = supervision.params
    faculty = {p.id for p in inst.people if p.role == "faculty"}
    residents = {p.id for p in inst.people if p.role == "resident" and supervision.selector.person_matches(inst, p.id)}
    by_slot: dict[tuple[int, str], list[Demand]] = defaultdict(list)
    for demand in inst.demands:
        by_slot[(demand.day, demand.shift)].append(demand)
    if params.shifts is not None:
        supervised = {(d, s) for d in range(inst.days) for s in params.shifts if s in inst.shift}
    else:
        supervised = {(d.day, d.shift) for d in inst.demands if d.people and d.people <= faculty and d.min > 0}
    checked = 0
    for day, shift in sorted(supervised):
        rows = sorted(
            (d for d in by_slot.get((day, shift), []) if d.min > 0 and d.people <= residents),
            key=lambda d: (-d.min, d.label),
        )
        chosen: list[Demand] = []
        taken: set[str] = set()
        for demand in rows:
            if not demand.people & taken:
                chosen.append(demand)
                taken |= demand.people
        if not chosen:
            continue
        checked += 1
        lcm = params.pgy1_per_faculty * params.others_per_faculty
        weight = 0  # faculty needed, times lcm
        for demand in chosen:
            others = sum(1 for p in _available(inst, demand, rules) if inst.person[p].pgy != 1)
            pgy1 = max(0, demand.min - others)
            weight += pgy1 * params.others_per_faculty + (demand.min - pgy1) * params.pgy1_per_faculty
        needed = -(-weight // lcm)
        probe = Demand(day, shift, frozenset(faculty))
        available = set(_available(inst, probe, rules))
        most = len(available)
        for demand in by_slot.get((day, shift), []):
            if demand.max is not None and demand.people & faculty:
                most = min(most, demand.max + len(available - demand.people))
        if needed > most:
            date = inst.date(day).isoformat()
            count = sum(d.min for d in chosen)
            report.reasons.append(
                Reason(
                    "supervision_capacity",
                    f"{shift} on {date} needs at least {count} resident(s) "
                    f"({'; '.join(d.label or d.shift for d in chosen)}), who need {needed} faculty under the "
                    f"supervision ratio (PGY-1 1:{params.pgy1_per_faculty}, others 1:{params.others_per_faculty}), "
                    f"but at most {most} faculty can be on it",
                    (),
                    (date,),
                    shift,
                )
            )
    report.checked["supervision_capacity"] = checked
