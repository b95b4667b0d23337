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
import random
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from ortools.sat.python import cp_model

from rotaflow.constraints.curtois import (
    CurtoisInstance,
    CurtoisRequest,
    CurtoisStaff,
    Roster,
    evaluate,
    load_curtois,
    roster_to_csv,
)
from rotaflow.constraints.instance import Cell, Demand, Instance, PersonSpec, RequestSpec, ShiftSpec
from rotaflow.constraints.model import build_model
from rotaflow.constraints.ruleset import ConfiguredRule, RuleEntry, RuleSet, configure
from rotaflow.constraints.search import neighbourhood_search
from rotaflow.constraints.solve import SolveResult, solve
from rotaflow.files import replace_private

__all__ = ["BENCHMARK_START", "construct_curtois", "curtois_problem", "improve_roster", "roster_of", "solve_curtois"]

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
    On instances above ``CONSTRUCT_ABOVE`` cells the search starts instead from a roster built person
    by person (:func:`construct_curtois`). When too little time is left after building it
    (``SEARCH_AFTER``), that roster, improved person by person for the rest of the time, is the answer;
    otherwise the search has all the time left (on Instance20, seed 0, 300 s: 5582 from the roster as
    built, 8678 after improving it person by person for three quarters of the time).
    The objective reported is the independent evaluator's; a roster it finds a hard violation in
    is reported ``invalid`` with no objective. With ``roster_path``, a roster found is written there
    as CSV (:func:`~rotaflow.constraints.curtois.roster_to_csv`, whole or not at all) and the result
    names it under ``roster``.
    """
    began = time.monotonic()
    ci = load_curtois(path)
    start: Roster | None = None
    if lns and ci.horizon * len(ci.staff) * len(ci.shifts) > CONSTRUCT_ABOVE:
        deadline = began + (1 - CONSTRUCT_MARGIN) * time_limit
        # without it no roster at all: it may take the time but a last share
        start = construct_curtois(ci, deadline=deadline, seed=seed, workers=workers, improve=False)
        if start is not None and time_limit - (time.monotonic() - began) < SEARCH_AFTER * time_limit:
            improve_roster(ci, start, deadline=deadline, seed=seed, workers=workers)
            return _report(ci, began, start, SolveResult("feasible", None, None, 0.0, frozenset()), roster_path)
    built = build_model(*curtois_problem(ci))
    left = max(MIN_SEARCH, time_limit - (time.monotonic() - began))
    if lns:
        cells = None if start is None else frozenset((p, d, s) for p, days in start.items() for d, s in days.items())
        result = neighbourhood_search(built, time_limit=left, workers=workers, seed=seed, start=cells)
    else:
        result = solve(built, time_limit=left, workers=workers, seed=seed)
    found = roster_of(result.cells)
    if start is not None and not _better(ci, found, start):
        # the search could not complete the built roster in the whole model in time, or ended worse: the built
        # roster stays the answer, and the whole model's bound still holds for it
        return _report(
            ci, began, start, SolveResult("feasible", None, result.best_bound, 0.0, frozenset()), roster_path
        )
    return _report(ci, began, found, result, roster_path)


def _better(ci: CurtoisInstance, found: Roster, start: Roster) -> bool:
    """Whether the search's roster replaces the built one: it breaks no hard rule and costs no more."""
    if not found:
        return False
    candidate = evaluate(ci, found)
    return not candidate.hard_violations and candidate.objective <= evaluate(ci, start).objective


def _report(
    ci: CurtoisInstance, began: float, roster: Roster, result: SolveResult, roster_path: Path | None
) -> dict[str, Any]:
    """The JSON line of a run: the evaluator's objective of ``roster``, what the solver said, the roster written."""
    evaluation = evaluate(ci, roster) if roster or result.cells or result.status == "optimal" else None
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


CONSTRUCT_ABOVE = 30_000
"""Instances with more cells (days x staff x shift types) than this start the search from a roster
built person by person (:func:`construct_curtois`): CP-SAT alone finds no roster of the whole model
in time there (Instance20-22 have 54 600 to 182 000; Instance12, the largest of 1-12, 16 800)."""

SEARCH_AFTER = 0.2
"""The share of the time limit that must be left after that roster for the whole model to be built
and searched; with less (Instance21 at 60 s), the roster is the answer."""

CONSTRUCT_MARGIN = 0.1
"""The share of the time limit kept for completing the roster built in the whole model and scoring it."""

MIN_SEARCH = 1.0
"""Seconds the solver gets however long reading and building the model took."""


def construct_curtois(
    ci: CurtoisInstance,
    *,
    deadline: float,
    seed: int = 0,
    workers: int = 2,
    improve: bool = True,
) -> Roster | None:
    """A roster that keeps every hard rule, built a few people at a time; None when time runs out first.

    Every hard rule of the benchmark concerns one person, so each person's roster is solved on
    its own (a small CP-SAT model of that person's hard rules), ``workers`` people side by side
    and the next ones after them, in an order drawn from ``seed``. The objective is what the
    person's shifts add to the official one given the people before: requests granted or not,
    cover still short (its under weight saved) or already met (its over weight paid). The
    evaluator, and the whole model the search completes it in, check the result; it is the start
    of the search on instances whose whole model finds no roster in time.

    With ``improve``, the time left goes to improving it (as :func:`improve_roster` does).
    """
    order = list(ci.staff)
    random.Random(seed).shuffle(order)
    assigned: Counter[tuple[int, str]] = Counter()
    roster: Roster = {}
    size = max(1, workers)
    rounds = [order[i : i + size] for i in range(0, len(order), size)]
    began = time.monotonic()
    with ThreadPoolExecutor(max_workers=size, thread_name_prefix="construct") as pool:
        for n, group in enumerate(rounds):
            now = time.monotonic()
            share = min(ALONE_SECONDS, (deadline - now) / (len(rounds) - n))
            if share <= 0:
                return None
            # behind time (the rounds so far took longer than what is left allows): any roster that keeps the rules
            late = n > 0 and (now - began) / n * (len(rounds) - n) > deadline - now
            models = [_alone_model(ci, person, Counter() if late else _gains(ci, person, assigned)) for person in group]
            found = list(pool.map(partial(_solve_alone, share=share, deadline=deadline, seed=seed), models))
            for person, shifts in zip(group, found, strict=True):
                if shifts is None:
                    return None
                for day, shift in shifts.items():
                    assigned[day, shift] += 1
                roster[person.id] = shifts
        if improve:
            _descend(ci, roster, assigned, pool, deadline=deadline, seed=seed, workers=size)
    return roster


def improve_roster(ci: CurtoisInstance, roster: Roster, *, deadline: float, seed: int = 0, workers: int = 2) -> None:
    """Improves ``roster`` (one that keeps every hard rule) in place until ``deadline``: the best roster
    of one person drawn at random given all the others', taken when it lowers the objective, until
    as many steps in a row as there are people gained nothing; ``workers`` people side by side."""
    assigned = Counter((day, shift) for days in roster.values() for day, shift in days.items())
    size = max(1, workers)
    with ThreadPoolExecutor(max_workers=size, thread_name_prefix="improve") as pool:
        _descend(ci, roster, assigned, pool, deadline=deadline, seed=seed, workers=size)


def _descend(
    ci: CurtoisInstance,
    roster: Roster,
    assigned: Counter[tuple[int, str]],
    pool: ThreadPoolExecutor,
    *,
    deadline: float,
    seed: int,
    workers: int,
) -> None:
    """Until ``deadline``, or as many steps in a row as there are people without a gain: the best
    rosters of a few people drawn at random given everyone else's (hinted with their own), taken
    when they lower the objective, in place; ``workers`` groups side by side."""
    rng = random.Random(seed)
    staff = list(ci.staff)
    size = min(GROUP, len(staff))
    idle = 0  # steps in a row that gained nothing
    while time.monotonic() < deadline and idle < len(staff):
        drawn = rng.sample(staff, min(len(staff), size * max(1, workers)))
        groups = [drawn[i : i + size] for i in range(0, len(drawn), size)]
        models = []
        for group in groups:
            others = assigned.copy()
            for person in group:
                others.subtract(roster[person.id].items())
            models.append(_group_model(ci, group, others, roster))
        share = min(GROUP_SECONDS, deadline - time.monotonic())
        found = list(
            pool.map(partial(_solve_group, share=share, deadline=deadline, seed=rng.randrange(1 << 30)), models)
        )
        for group, shifts in zip(groups, found, strict=True):
            idle += 1
            if shifts is None:
                continue
            before = _objective(ci, roster, assigned)
            trial = dict(roster)
            counts = assigned.copy()
            for person in group:
                counts.subtract(roster[person.id].items())
                counts.update(shifts[person.id].items())
                trial[person.id] = shifts[person.id]
            if _objective(ci, trial, counts) < before:
                idle = 0
                roster.update(trial)
                assigned.clear()
                assigned.update(counts)


def _objective(ci: CurtoisInstance, roster: Roster, assigned: Counter[tuple[int, str]]) -> int:
    """The official objective of ``roster`` whose cover counts are ``assigned``."""
    total = 0
    for c in ci.cover:
        n = assigned[c.day, c.shift]
        total += max(0, c.requirement - n) * c.weight_under + max(0, n - c.requirement) * c.weight_over
    total += sum(r.weight for r in ci.on_requests if roster[r.staff].get(r.day) != r.shift)
    total += sum(r.weight for r in ci.off_requests if roster[r.staff].get(r.day) == r.shift)
    return total


def _group_model(
    ci: CurtoisInstance, group: list[CurtoisStaff], others: Counter[tuple[int, str]], roster: Roster
) -> _GroupModel:
    """The hard rules of the people of ``group`` and the official objective given the ``others``' cover,
    hinted with their rosters."""
    model = cp_model.CpModel()
    rules = {person.id: _person_rules(model, ci, person) for person in group}
    xs = {pid: x for pid, (x, _) in rules.items()}
    terms: list[Any] = []
    for c in ci.cover:
        mine = [xs[p.id][c.day, c.shift] for p in group]
        have = others[c.day, c.shift]
        if have >= c.requirement:
            terms.extend(c.weight_over * v for v in mine)
            continue
        under = model.new_int_var(0, c.requirement, f"under{c.day}_{c.shift}")
        model.add(under >= c.requirement - have - sum(mine))
        over = model.new_int_var(0, len(group), f"over{c.day}_{c.shift}")
        model.add(over >= have + sum(mine) - c.requirement)
        terms.append(c.weight_under * under + c.weight_over * over)
        n = have + sum(1 for p in group if roster[p.id].get(c.day) == c.shift)  # the hint: every variable
        model.add_hint(under, max(0, c.requirement - n))
        model.add_hint(over, max(0, n - c.requirement))
    ids = set(xs)
    for r in ci.on_requests:
        if r.staff in ids:
            terms.append(r.weight * (1 - xs[r.staff][r.day, r.shift]))
    for r in ci.off_requests:
        if r.staff in ids:
            terms.append(r.weight * xs[r.staff][r.day, r.shift])
    model.minimize(sum(terms))
    for pid, (x, works) in rules.items():
        for (day, shift), var in x.items():
            model.add_hint(var, roster[pid].get(day) == shift)
        for var, days in works:
            model.add_hint(var, any(d in roster[pid] for d in days))
    return _GroupModel(model, xs)


@dataclass
class _GroupModel:
    model: cp_model.CpModel
    x: dict[str, dict[tuple[int, str], cp_model.IntVar]]


def _solve_group(group: _GroupModel, *, share: float, deadline: float, seed: int) -> dict[str, dict[int, str]] | None:
    solver = _solver(seed, deadline)
    solver.parameters.max_time_in_seconds = max(0.05, min(share, deadline - time.monotonic()))
    code = solver.solve(group.model)
    if code not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return None
    return {pid: {d: s for (d, s), var in x.items() if solver.value(var)} for pid, x in group.x.items()}


def _gains(ci: CurtoisInstance, person: CurtoisStaff, others: Counter[tuple[int, str]]) -> Counter[tuple[int, str]]:
    """What ``person`` working each (day, shift) adds to the official objective given the cover of the
    ``others``: a request granted or not, a shift short of cover (its under weight saved) or not (its
    over weight paid)."""
    gain: Counter[tuple[int, str]] = Counter()
    for c in ci.cover:
        gain[c.day, c.shift] += -c.weight_under if others[c.day, c.shift] < c.requirement else c.weight_over
    on, off = _requests(ci)
    for r in on.get(person.id, ()):
        gain[r.day, r.shift] -= r.weight
    for r in off.get(person.id, ()):
        gain[r.day, r.shift] += r.weight
    return gain


_BY_STAFF: list[tuple[CurtoisInstance, dict[str, list[CurtoisRequest]], dict[str, list[CurtoisRequest]]]] = []


def _requests(ci: CurtoisInstance) -> tuple[dict[str, list[CurtoisRequest]], dict[str, list[CurtoisRequest]]]:
    """The on- and off-requests of each staff member (kept for the instance last asked about)."""
    for known, on, off in list(_BY_STAFF):
        if known is ci:
            return on, off
    on, off = {}, {}
    for r in ci.on_requests:
        on.setdefault(r.staff, []).append(r)
    for r in ci.off_requests:
        off.setdefault(r.staff, []).append(r)
    _BY_STAFF[:] = [(ci, on, off)]
    return on, off


@dataclass
class _AloneModel:
    model: cp_model.CpModel
    x: dict[tuple[int, str], cp_model.IntVar]


def _alone_model(ci: CurtoisInstance, person: CurtoisStaff, gain: Counter[tuple[int, str]]) -> _AloneModel:
    """One person's hard rules, and as objective what their shifts add to the official one (``gain``)."""
    model = cp_model.CpModel()
    x, _ = _person_rules(model, ci, person)
    cells = [cell for cell, weight in gain.items() if weight]
    model.minimize(cp_model.LinearExpr.weighted_sum([x[cell] for cell in cells], [gain[cell] for cell in cells]))
    return _AloneModel(model, x)


def _person_rules(
    model: cp_model.CpModel, ci: CurtoisInstance, person: CurtoisStaff
) -> tuple[dict[tuple[int, str], Any], list[tuple[Any, tuple[int, ...]]]]:
    """The benchmark's hard rules for ``person`` in ``model``: their (day, shift) variables, and the
    variables that say whether they work on some days (one day, or a weekend's) with those days."""
    horizon, shifts = ci.horizon, ci.shifts
    p = person.id
    x = {(d, s.id): model.new_bool_var(f"x{p}_{d}_{s.id}") for d in range(horizon) for s in shifts}
    works = []
    off = ci.days_off.get(person.id, frozenset())
    for d in range(horizon):
        w = model.new_bool_var(f"w{p}_{d}")
        model.add(cp_model.LinearExpr.sum([x[d, s.id] for s in shifts]) == w)
        if d in off:
            model.add(w == 0)
        works.append(w)
    for s in shifts:
        if s.cannot_follow:  # at most one shift a day, so one sum per day forbids every succession of s
            for d in range(horizon - 1):
                model.add(cp_model.LinearExpr.sum([x[d, s.id]] + [x[d + 1, nxt] for nxt in s.cannot_follow]) <= 1)
        limit = person.max_shifts.get(s.id)
        if limit is not None:
            model.add(cp_model.LinearExpr.sum([x[d, s.id] for d in range(horizon)]) <= limit)
    minutes = cp_model.LinearExpr.weighted_sum(
        [x[d, s.id] for d in range(horizon) for s in shifts], [s.minutes for _ in range(horizon) for s in shifts]
    )
    model.add_linear_constraint(minutes, person.min_total_minutes, person.max_total_minutes)
    most = person.max_consecutive_shifts
    for d in range(horizon - most):
        model.add(cp_model.LinearExpr.sum(works[d : d + most + 1]) <= most)
    for d in range(1, horizon):  # a run that starts inside the horizon lasts its minimum or reaches the end
        for j in range(1, min(person.min_consecutive_shifts, horizon - d)):
            model.add_bool_or([works[d - 1], ~works[d], works[d + j]])
        for j in range(1, min(person.min_consecutive_days_off, horizon - d)):
            model.add_bool_or([~works[d - 1], works[d], ~works[d + j]])
    weekends = []
    for days in ci.weekends:
        worked = model.new_bool_var(f"weekend{p}_{days[0]}")
        model.add_max_equality(worked, [works[d] for d in days])
        weekends.append(worked)
    model.add(cp_model.LinearExpr.sum(weekends) <= person.max_weekends)
    return x, [(w, (d,)) for d, w in enumerate(works)] + list(
        zip(weekends, [tuple(w) for w in ci.weekends], strict=True)
    )


GROUP = 1
"""How many people a step of the improving passes solves together (on Instance20 under load, two or
four people found nothing better within seconds where one alone gained several per cent)."""

GROUP_SECONDS = 1.5
"""The most such a step may take."""

ALONE_SECONDS = 0.5
"""The most one person's roster may take to improve once a roster is found (the rest goes to the search)."""

ALONE_PARAMETERS: dict[str, Any] = {
    "num_workers": 1,
    "linearization_level": 0,
    "search_branching": cp_model.PORTFOLIO_WITH_QUICK_RESTART_SEARCH,
}
"""CP-SAT parameters of one person's roster: one worker, no LP, quick restarts finds a first roster
within a few tenths of a second where the default single worker may find none in seconds (a tight
window of total minutes over half a year)."""


class _StopAfter(cp_model.CpSolverSolutionCallback):
    """Ends the search at ``at`` (monotonic seconds) if it has a solution by then, else at its first."""

    def __init__(self, solver: cp_model.CpSolver, at: float) -> None:
        super().__init__()
        self.solver = solver
        self.at = at
        self.found = threading.Event()
        self.timer = threading.Timer(max(0.0, at - time.monotonic()), self._due)

    def _due(self) -> None:
        if self.found.is_set():
            self.solver.stop_search()

    def on_solution_callback(self) -> None:
        self.found.set()
        if time.monotonic() >= self.at:
            self.stop_search()


def _solver(seed: int, deadline: float) -> cp_model.CpSolver:
    solver = cp_model.CpSolver()
    for name, value in ALONE_PARAMETERS.items():
        setattr(solver.parameters, name, value)
    solver.parameters.random_seed = seed
    solver.parameters.max_time_in_seconds = max(0.05, deadline - time.monotonic())
    return solver


def _solve_alone(alone: _AloneModel, *, share: float, deadline: float, seed: int) -> dict[int, str] | None:
    """The best roster of one person within ``share`` seconds, else the first found (until ``deadline``)."""
    solver = _solver(seed, deadline)
    callback = _StopAfter(solver, time.monotonic() + share)
    callback.timer.start()
    try:
        code = solver.solve(alone.model, callback)
    finally:
        callback.timer.cancel()
    if code not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return None
    return {day: shift for (day, shift), var in alone.x.items() if solver.value(var)}
