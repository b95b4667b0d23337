"""The Curtois & Qu benchmark on rotaflow's own rule engine (no separate model).

``curtois_problem`` maps a parsed instance onto an :class:`Instance` and a configured rule
set: one shift a day, forbidden successions, caps per shift type, total minutes, runs of
working days and days off, weekends, fixed days off (hard), and the official objective as
the soft rules ``shift_requests`` and ``coverage_target`` with weight 1.

``solve_curtois`` solves an instance with the large neighbourhood search of
:mod:`rotaflow.constraints.search` and scores its roster with the independent evaluator.
"""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from typing import Any

from rotaflow.constraints.curtois import CurtoisInstance, Roster, evaluate, load_curtois, roster_to_csv
from rotaflow.constraints.instance import Cell, Demand, Instance, PersonSpec, RequestSpec, ShiftSpec
from rotaflow.constraints.model import build_model
from rotaflow.constraints.ruleset import ConfiguredRule, RuleEntry, RuleSet, configure
from rotaflow.constraints.search import neighbourhood_search
from rotaflow.constraints.solve import solve
from rotaflow.files import replace_private

__all__ = ["BENCHMARK_START", "curtois_problem", "roster_of", "solve_curtois"]

BENCHMARK_START = dt.date(2024, 1, 1)
"""A Monday: day 0 of every benchmark instance."""


def curtois_problem(ci: CurtoisInstance) -> tuple[Instance, list[ConfiguredRule]]:
    staff = [s.id for s in ci.staff]
    instance = Instance(
        name=ci.name,
        start=BENCHMARK_START,
        days=ci.horizon,
        people=tuple(PersonSpec(id=s) for s in staff),
        shifts=tuple(ShiftSpec(id=s.id, minutes=s.minutes) for s in ci.shifts),
        timezone="UTC",
        demands=tuple(
            Demand(
                day=c.day,
                shift=c.shift,
                people=frozenset(staff),
                target=c.requirement,
                weight_under=c.weight_under,
                weight_over=c.weight_over,
                label=f"cover day {c.day} {c.shift}",
            )
            for c in ci.cover
        ),
        requests=tuple(
            [RequestSpec(r.staff, r.day, r.shift, "on", r.weight) for r in ci.on_requests]
            + [RequestSpec(r.staff, r.day, r.shift, "off", r.weight) for r in ci.off_requests]
        ),
    )
    rules = RuleSet(
        name=f"curtois-{ci.name}",
        rules=[
            RuleEntry(rule="one_shift_per_day"),
            RuleEntry(rule="fixed_days_off", params={"days": {k: sorted(v) for k, v in ci.days_off.items()}}),
            RuleEntry(
                rule="forbidden_successions",
                params={"pairs": [(s.id, nxt) for s in ci.shifts for nxt in s.cannot_follow]},
            ),
            RuleEntry(rule="max_shifts_per_type", params={"limits": {s.id: dict(s.max_shifts) for s in ci.staff}}),
            RuleEntry(
                rule="total_minutes",
                params={
                    "min": {s.id: s.min_total_minutes for s in ci.staff},
                    "max": {s.id: s.max_total_minutes for s in ci.staff},
                },
            ),
            RuleEntry(
                rule="consecutive_working_days",
                params={
                    "max_days": {s.id: s.max_consecutive_shifts for s in ci.staff},
                    "min_days": {s.id: s.min_consecutive_shifts for s in ci.staff},
                },
            ),
            RuleEntry(
                rule="consecutive_days_off", params={"min_days": {s.id: s.min_consecutive_days_off for s in ci.staff}}
            ),
            RuleEntry(rule="max_weekends", params={"limits": {s.id: s.max_weekends for s in ci.staff}}),
            RuleEntry(rule="coverage_target", weight=1),
            RuleEntry(rule="shift_requests", weight=1),
        ],
    )
    return instance, configure(rules)


def roster_of(cells: frozenset[Cell]) -> Roster:
    """A solution's cells as the benchmark's roster (staff → day → shift)."""
    roster: Roster = {}
    for person, day, shift in cells:
        roster.setdefault(person, {})[day] = shift
    return roster


def solve_curtois(
    path: Path | str,
    *,
    time_limit: float,
    workers: int = 2,
    seed: int = 0,
    lns: bool = True,
    roster_path: Path | None = None,
) -> dict[str, Any]:
    """Solve an instance file within ``time_limit`` seconds in all (reading and building included).

    With ``lns`` (the default) the time goes to a first CP-SAT solve and then to a large
    neighbourhood search over the same model (:func:`~rotaflow.constraints.search.neighbourhood_search`).
    The objective reported is the independent evaluator's; a roster it finds a hard violation in
    is reported ``invalid`` with no objective. With ``roster_path``, a roster found is written there
    as CSV (:func:`~rotaflow.constraints.curtois.roster_to_csv`, whole or not at all) and the result
    names it under ``roster``.
    """
    began = time.monotonic()
    ci = load_curtois(path)
    instance, rules = curtois_problem(ci)
    built = build_model(instance, rules)
    left = max(MIN_SEARCH, time_limit - (time.monotonic() - began))
    if lns:
        result = neighbourhood_search(built, time_limit=left, workers=workers, seed=seed)
    else:
        result = solve(built, time_limit=left, workers=workers, seed=seed)
    roster = roster_of(result.cells)
    evaluation = evaluate(ci, roster) if result.cells or result.status == "optimal" else None
    feasible = evaluation is not None and not evaluation.hard_violations
    written: dict[str, str] = {}
    if roster_path is not None and evaluation is not None:
        replace_private(roster_path, roster_to_csv(roster))
        written["roster"] = str(roster_path)
    return {
        "instance": ci.name,
        "status": result.status if feasible or result.status in ("infeasible", "timeout") else "invalid",
        "objective": evaluation.objective if feasible and evaluation is not None else None,
        "bound": result.best_bound,
        "seconds": round(time.monotonic() - began, 3),
        "solver_objective": result.objective,
        "hard_violations": len(evaluation.hard_violations) if evaluation is not None else None,
        **written,
    }


MIN_SEARCH = 1.0
"""Seconds the solver gets however long reading and building the model took."""
