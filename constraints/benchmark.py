"""The Curtois & Qu benchmark on rotaflow's own rule engine (no separate model).

``curtois_problem`` maps a parsed instance onto an :class:`Instance` and a configured rule
set: one shift a day, forbidden successions, caps per shift type, total minutes, runs of
working days and days off, weekends, fixed days off (hard), and the official objective as
the soft rules ``shift_requests`` and ``coverage_target`` with weight 1.
"""

from __future__ import annotations

import datetime as dt
import math
import random
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from constraints.curtois import CurtoisInstance, Roster, evaluate, load_curtois
from constraints.instance import Cell, Demand, Instance, PersonSpec, RequestSpec, ShiftSpec
from constraints.model import BuiltModel
from constraints.ruleset import ConfiguredRule, RuleEntry, RuleSet, configure
from constraints.solve import Progress, SolveResult

__all__ = ["BENCHMARK_START", "curtois_problem", "neighbourhood_search", "roster_of", "solve_curtois"]

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
    path: Path | str, *, time_limit: float, workers: int = 2, seed: int = 0, lns: bool = True
) -> dict[str, Any]:
    """Solve an instance file; the objective reported is the independent evaluator's.

    With ``lns`` (the default) the time goes to a first CP-SAT solve and then to a large
    neighbourhood search over the same model (:func:`neighbourhood_search`).
    """
    from constraints.model import build_model
    from constraints.solve import solve

    ci = load_curtois(path)
    instance, rules = curtois_problem(ci)
    built = build_model(instance, rules)
    if lns:
        result = neighbourhood_search(built, time_limit=time_limit, workers=workers, seed=seed)
    else:
        result = solve(built, time_limit=time_limit, workers=workers, seed=seed)
    evaluation = evaluate(ci, roster_of(result.cells)) if result.cells or result.status == "optimal" else None
    feasible = evaluation is not None and not evaluation.hard_violations
    return {
        "instance": ci.name,
        "status": result.status if feasible or result.status in ("infeasible", "timeout") else "invalid",
        "objective": evaluation.objective if feasible and evaluation is not None else None,
        "bound": result.best_bound,
        "seconds": round(result.seconds, 3),
        "solver_objective": result.objective,
        "hard_violations": len(evaluation.hard_violations) if evaluation is not None else None,
    }


# ---------------------------------------------------------------------- neighbourhood search

KINDS = ("days", "focus", "people", "block")
"""Neighbourhoods: every person on a few days; the same around a day that costs; a few
people over the whole horizon; a random group of people over a stretch of days."""


STEP_PARAMETERS: Mapping[str, Any] = {"linearization_level": 2}
"""CP-SAT parameters of a neighbourhood step: with every clause in the LP a step proves its
neighbourhood optimal several times sooner (the whole model gains nothing from it)."""


def neighbourhood_search(
    built: BuiltModel,
    *,
    time_limit: float,
    workers: int = 2,
    seed: int = 0,
    first: float = 0.1,
    step: float = 2.0,
    kinds: tuple[str, ...] = KINDS,
    parameters: Mapping[str, Any] | None = STEP_PARAMETERS,
    log: bool = False,
) -> SolveResult:
    """CP-SAT on the whole model for a ``first`` share of the time, then large neighbourhood search.

    Each step frees one neighbourhood of the best schedule so far, fixes every other cell
    to it and solves that (hinted with the schedule, at most ``step`` seconds); an equal
    or better answer replaces the best. ``workers`` steps run side by side, one CP-SAT
    worker each. A neighbourhood's size grows while its steps finish (optimal) and shrinks
    while they time out. The model is never changed; the answer keeps the first solve's
    bound and is optimal only when it meets that bound.
    """
    from constraints.solve import solve

    started = time.monotonic()
    deadline = started + time_limit
    result = solve(built, time_limit=max(1.0, first * time_limit), workers=workers, seed=seed)
    if result.status not in ("feasible",) or result.objective is None:
        if result.status == "timeout" and deadline - time.monotonic() > 0.5:
            result = solve(built, time_limit=deadline - time.monotonic(), workers=workers, seed=seed)
        return result
    search = _Search(built, result, kinds, seed, parameters)
    threads = [
        threading.Thread(target=search.run, args=(n, deadline, step), name=f"lns-{n}", daemon=True)
        for n in range(max(1, workers))
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    best = search.best
    bound = result.best_bound
    if log:
        print(f"first solve {result.objective} in {result.seconds:.1f}s; {search.steps} steps")
        for kind, (tries, better, finished) in search.stats.items():
            size = search.difficulty[kind]
            print(f"  {kind:<7} {tries:4} steps {better:3} better {finished:4} optimal  size {size:.3f}")
    proven = bound is not None and best.objective is not None and best.objective <= math.ceil(bound - 1e-6)
    return SolveResult(
        "optimal" if proven else "feasible",
        best.objective,
        bound,
        time.monotonic() - started,
        best.cells,
        best.penalties,
        search.progress,
    )


class _Search:
    """The shared state of the neighbourhood search threads."""

    def __init__(
        self,
        built: BuiltModel,
        start: SolveResult,
        kinds: tuple[str, ...],
        seed: int,
        parameters: Mapping[str, Any] | None = None,
    ) -> None:
        self.built = built
        self.parameters = parameters
        self.instance = built.instance
        self.best = start
        self.started = time.monotonic() - start.seconds
        self.bound = start.best_bound if start.best_bound is not None else float("-inf")
        self.progress = list(start.progress)
        self.kinds = kinds
        self.difficulty = dict.fromkeys(kinds, 0.1)
        self.seed = seed
        self.lock = threading.Lock()
        self.steps = 0
        self.stats = {kind: [0, 0, 0] for kind in kinds}

    def run(self, thread: int, deadline: float, step: float) -> None:
        from constraints.solve import solve

        rng = random.Random(self.seed * 7919 + thread)
        cells_all = self.instance.cells
        while True:
            left = deadline - time.monotonic()
            if left < 0.05:
                return
            with self.lock:
                base = self.best
                kind = rng.choice(self.kinds)
                size = self.difficulty[kind]
                self.steps += 1
                number = self.steps
            free = self.neighbourhood(kind, size, base.cells, rng)
            chosen = base.cells
            fixed = {cell: cell in chosen for cell in cells_all if cell not in free}
            result = solve(
                self.built,
                time_limit=min(step, left),
                workers=1,
                seed=self.seed + number,
                hint=chosen,
                fixed=fixed,
                parameters=self.parameters,
            )
            with self.lock:
                self.stats[kind][0] += 1
                self.stats[kind][2] += result.status == "optimal"
                if (
                    result.objective is not None
                    and self.best.objective is not None
                    and result.objective <= self.best.objective
                ):
                    if result.objective < self.best.objective:
                        self.stats[kind][1] += 1
                        self.progress.append(Progress(time.monotonic() - self.started, result.objective, self.bound))
                    self.best = result
                if result.status == "optimal":
                    self.difficulty[kind] = min(1.0, self.difficulty[kind] * 1.1)
                elif result.status in ("feasible", "timeout"):
                    self.difficulty[kind] = max(0.01, self.difficulty[kind] / 1.1)

    def neighbourhood(self, kind: str, size: float, cells: frozenset[Cell], rng: random.Random) -> set[Cell]:
        inst = self.instance
        people = list(inst.person_ids)
        days = inst.days
        if kind == "people":
            chosen = set(rng.sample(people, max(1, min(len(people), round(size * len(people))))))
            return {c for c in inst.cells if c[0] in chosen}
        if kind in ("days", "focus"):
            width = max(1, min(days, round(size * days)))
            if kind == "focus":
                troubled = _costly_days(inst, cells)
                centre = rng.choices(list(troubled), weights=list(troubled.values()))[0] if troubled else None
            else:
                centre = None
            if centre is None:
                first = rng.randrange(days - width + 1)
            else:
                first = max(0, min(days - width, centre - rng.randrange(width)))
            return {c for c in inst.cells if first <= c[1] < first + width}
        # block: a share of the people over a stretch of days, about size × all cells
        width = rng.randint(min(days, 4), days)
        count = max(2, min(len(people), round(size * len(people) * days / width)))
        chosen = set(rng.sample(people, min(count, len(people))))
        first = rng.randrange(days - width + 1)
        return {c for c in inst.cells if c[0] in chosen and first <= c[1] < first + width}


def _costly_days(inst: Instance, cells: frozenset[Cell]) -> dict[int, int]:
    """Days whose coverage or requests cost something in ``cells``, with that cost."""
    cost: dict[int, int] = {}
    for demand in inst.demands:
        if demand.target is None:
            continue
        have = sum(1 for p in demand.people if (p, demand.day, demand.shift) in cells)
        gap = max(0, demand.target - have) * demand.weight_under + max(0, have - demand.target) * demand.weight_over
        if gap:
            cost[demand.day] = cost.get(demand.day, 0) + gap
    for request in inst.requests:
        if not 0 <= request.day < inst.days:
            continue
        if request.shift is None:
            worked = any((request.person, request.day, s) in cells for s in inst.shift_ids)
        else:
            worked = (request.person, request.day, request.shift) in cells
        if worked != (request.kind == "on"):
            cost[request.day] = cost.get(request.day, 0) + request.weight
    return cost
