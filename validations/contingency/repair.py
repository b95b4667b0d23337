"""The CP-SAT repair of a scenario the screens left open: the block's hard model built once per
process, cloned per scenario; deterministic (one worker, a fixed seed, a deterministic time limit)."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ortools.sat.python import cp_model

from rotaflow import events
from rotaflow.constraints.instance import Cell
from rotaflow.constraints.model import BuiltModel, build_model
from rotaflow.validations.contingency.context import ContingencyContext
from rotaflow.validations.contingency.results import RepairJob, ScenarioResult

__all__ = ["repair_scenario", "solve_serially"]


# --------------------------------------------------------------------------- CP-SAT repair


@dataclass
class _Base:
    built: BuiltModel
    lock: threading.Lock
    objective: list[tuple[int, int]]
    """(variable index, coefficient): Σ x of unpublished cells − Σ x of published ones, which is the
    number of changed cells minus |published|."""


_BASES: OrderedDict[str, _Base] = OrderedDict()
_BASES_LOCK = threading.Lock()
_BUILD_LOCKS: dict[str, threading.Lock] = {}


def _base(context: ContingencyContext) -> _Base:
    """The hard model of the block with the change-count objective, built once per process."""
    with _BASES_LOCK:
        if context.key in _BASES:
            _BASES.move_to_end(context.key)
            return _BASES[context.key]
        lock = _BUILD_LOCKS.setdefault(context.key, threading.Lock())
    with lock:
        with _BASES_LOCK:
            if context.key in _BASES:
                return _BASES[context.key]
        built = build_model(context.instance, context.rules, enforce=False)
        variables = [var for _, var in built.x.items()]
        weights = [-1 if cell in context.published else 1 for cell, _ in built.x.items()]
        built.model.clear_objective()
        built.model.minimize(cp_model.LinearExpr.weighted_sum(variables, weights))
        built.model = _compact(built.model, _never(context, built))
        objective = [(var.index, w) for var, w in zip(variables, weights, strict=True)]
        base = _Base(built, threading.Lock(), objective)
        with _BASES_LOCK:
            _BASES[context.key] = base
            while len(_BASES) > 2:
                _BASES.popitem(last=False)
        return base


def _never(context: ContingencyContext, built: BuiltModel) -> set[int]:
    """Variable indexes of the cells no scenario may fill: outside the person's rotation, on blocking leave.

    Every scenario holds them at 0: hard rules forbid them to everyone still there, and the
    removed people's cells are fixed (to 0, or before the date to the published value, which
    meets those rules).
    """
    inst = context.instance
    eligibility = context.rule("rotation_eligibility")
    leave = context.rule("blocking_absence")
    out = set()
    for (person, day, shift), index in built.x.indices().items():
        if (
            eligibility is not None
            and inst.allowed is not None
            and eligibility.selector.person_matches(inst, person)
            and not inst.may_work(person, day, shift)
        ) or (
            leave is not None
            and leave.selector.person_matches(inst, person)
            and day in inst.blocked_days.get(person, frozenset())
        ):
            out.add(index)
    return out


def _compact(model: cp_model.CpModel, zero: set[int]) -> cp_model.CpModel:
    """The model with the ``zero`` variables fixed at 0 and the constraints that leaves always true
    dropped (variable indexes unchanged): a third of the size, so each scenario presolves faster.

    Each constraint is read once into plain lists (every read of the model's proto is a call into
    OR-Tools), and the kept ones are copied in one call.
    """
    proto = model.proto
    bounds = []  # each variable's (lowest, highest) value once the zero ones are fixed
    for n, variable in enumerate(proto.variables):
        domain = list(variable.domain)
        bounds.append((0, 0) if n in zero else (domain[0], domain[-1]))

    def always(constraint: Any) -> bool:
        for literal in list(constraint.enforcement_literal):
            if literal >= 0 and literal in zero:  # an enforcement literal known false
                return True
        if constraint.has_bool_or():  # a literal known true
            return any(literal < 0 and -literal - 1 in zero for literal in list(constraint.bool_or.literals))
        if constraint.has_linear():
            linear = constraint.linear
            low = high = 0
            for var, coefficient in zip(list(linear.vars), list(linear.coeffs), strict=True):
                lo, hi = bounds[var]
                if coefficient >= 0:
                    low += coefficient * lo
                    high += coefficient * hi
                else:
                    low += coefficient * hi
                    high += coefficient * lo
            domain = list(linear.domain)
            return any(domain[i] <= low and high <= domain[i + 1] for i in range(0, len(domain), 2))
        if constraint.has_at_most_one():
            literals = list(constraint.at_most_one.literals)
            return sum(1 for literal in literals if not (literal >= 0 and literal in zero)) <= 1
        if constraint.has_bool_and():
            return all(literal < 0 and -literal - 1 in zero for literal in list(constraint.bool_and.literals))
        return False

    kept = [constraint for constraint in proto.constraints if not always(constraint)]
    out = cp_model.CpModel()
    target = out.proto
    target.variables.extend(list(proto.variables))
    for n in zero:
        domain = target.variables[n].domain
        domain.clear()
        domain.extend([0, 0])
    target.constraints.extend(kept)
    target.objective.copy_from(proto.objective)
    return out


def _scenario_model(
    context: ContingencyContext,
    base: _Base,
    removed: tuple[str, ...],
    *,
    until: tuple[int, frozenset[str]] | None = None,
    lower_bound: int = 0,
    hint: frozenset[Cell] | None = None,
) -> tuple[cp_model.CpModel, int]:
    """A clone of the base model for one scenario, and the offset: repair size = objective + offset.

    ``until=(day, shifts)``: a prefix probe — demand rules bind on days before ``day`` and on
    ``day`` for ``shifts`` only; the objective is dropped.
    """
    with base.lock:
        model = base.built.model.clone()
    proto = model.proto
    gone = set(removed)
    f = context.from_day

    def fix(index: int, value: int) -> None:
        var = proto.variables[index]
        var.domain.clear()
        var.domain.extend([value, value])

    for guard in base.built.guards.values():
        person = guard.detail.get("person")
        if person in gone or any(
            guard.subject.startswith(f"person={p},") or guard.subject == f"person={p}" for p in gone
        ):
            continue  # the removed people's own rules no longer bind
        if until is not None and "day" in guard.detail and person is None:
            day = int(guard.detail["day"])
            if day > until[0] or (day == until[0] and guard.detail.get("shift") not in until[1]):
                continue
        fix(guard.literal.index, 1)
    removed_cells = 0
    for (person, day, shift), index in base.built.x.indices().items():
        published = (person, day, shift) in context.published
        if day < f:
            fix(index, int(published))
        elif person in gone:
            fix(index, 0)
            removed_cells += published
    offset = len(context.published) - removed_cells
    if until is not None:
        model.clear_objective()
    else:
        # Σ changes of everybody else ≥ the lower bound
        ct = proto.constraints.add()
        ct.linear.vars.extend(i for i, _ in base.objective)
        ct.linear.coeffs.extend(c for _, c in base.objective)
        ct.linear.domain.extend([lower_bound - offset, cp_model.INT_MAX])
    if hint is not None:
        indices = base.built.x.indices()
        proto.solution_hint.vars.extend(indices.values())
        proto.solution_hint.values.extend(int(cell in hint) for cell in indices)
    return model, offset


def _solver(context: ContingencyContext) -> cp_model.CpSolver:
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = 1
    solver.parameters.random_seed = context.seed
    solver.parameters.max_deterministic_time = context.deterministic_time
    solver.parameters.max_time_in_seconds = context.wall_limit
    # the hint (the greedy screen's partial repair) guides the search, without
    # CP-SAT's phase that repairs it first: on the 22 open N-1 scenarios of five synthetic blocks (24 to 48
    # residents) the same repairs or smaller, 22 proved minimal (21 with that phase), 59.7 s against 67.2 s.
    # Probing and symmetry detection cost more than they give here
    solver.parameters.cp_model_probing_level = 0
    solver.parameters.symmetry_level = 0
    # the fuller linear relaxation proves the fewest changes: on the sample's N-1 repairs, 12 of 12 shown
    # minimal (2 of 12 without) in 0.6 times the time, the repairs found half as large (75 changes against 159)
    solver.parameters.linearization_level = 2
    # one presolve pass: the model is the block with most cells fixed, and the later passes mostly spent the
    # deterministic budget the search then lacked. Same jobs, both ways: the sample's 8 open N-1
    # scenarios 8 of 8 proved minimal (1 of 8 with three passes), 2 to 11 changes each (2 to 69), 3.1 s against
    # 3.7 s a job; a 48-resident block's job 3.8 s against 5.0, a 24-resident's two 1.3 and 1.9 s against 2.0,
    # the same repairs
    solver.parameters.max_presolve_iterations = 1
    return solver


def repair_scenario(context: ContingencyContext, job: RepairJob) -> ScenarioResult:
    """CP-SAT decides a scenario the screens left open (deterministic: one worker, fixed seed)."""
    result = _repair(context, job)
    events.scenarios_done(result.order)  # the observers of rotaflow.events, if any
    return result


def _repair(context: ContingencyContext, job: RepairJob) -> ScenarioResult:
    started = time.perf_counter()
    base = _base(context)
    model, offset = _scenario_model(context, base, job.people, lower_bound=job.lower_bound, hint=job.hint)
    solver = _solver(context)
    code = solver.solve(model)
    common: dict[str, Any] = {"people": job.people, "order": len(job.people), "from_date": context.from_date}
    if code in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        size = int(round(solver.objective_value)) + offset
        gone = set(job.people)
        stand_ins = sorted(
            {
                cell[0]
                for cell, var in base.built.x.items()
                if cell[0] not in gone and cell not in context.published and solver.value(var)
            }
        )
        return ScenarioResult(
            **common,
            outcome="covered",
            settled_by="solver",
            repair_size=size,
            repair_minimal=code == cp_model.OPTIMAL or size == job.lower_bound,
            lower_bound=job.lower_bound,
            stand_ins=tuple(stand_ins),
            seconds=round(job.screened_seconds + time.perf_counter() - started, 4),
        )
    if code == cp_model.INFEASIBLE:
        date, shift = _first_uncovered(context, base, job.people)
        return ScenarioResult(
            **common,
            outcome="uncovered",
            settled_by="solver",
            first_uncovered_date=date,
            first_uncovered_shift=shift,
            lower_bound=job.lower_bound,
            seconds=round(job.screened_seconds + time.perf_counter() - started, 4),
        )
    return ScenarioResult(
        **common,
        outcome="unknown",
        settled_by="solver",
        lower_bound=job.lower_bound,
        seconds=round(job.screened_seconds + time.perf_counter() - started, 4),
    )


def _infeasible(
    context: ContingencyContext, base: _Base, removed: tuple[str, ...], day: int, shifts: Iterable[str]
) -> bool:
    model, _ = _scenario_model(context, base, removed, until=(day, frozenset(shifts)))
    return _solver(context).solve(model) == cp_model.INFEASIBLE


def _first_uncovered(context: ContingencyContext, base: _Base, removed: tuple[str, ...]) -> tuple[dt.date, str | None]:
    """The earliest day whose prefix is shown infeasible, and the first shift of it that makes it so."""
    inst = context.instance
    lo, hi = context.from_day, inst.days - 1  # the whole block is infeasible: hi is
    while lo < hi:
        mid = (lo + hi) // 2
        if _infeasible(context, base, removed, mid, inst.shift_ids):
            hi = mid
        else:
            lo = mid + 1
    order = sorted(inst.shift_ids, key=lambda s: (inst.slot(hi, s).start, s))
    for n in range(1, len(order)):
        if _infeasible(context, base, removed, hi, order[:n]):
            return inst.date(hi), order[n - 1]
    return inst.date(hi), order[-1]


def solve_serially(context: ContingencyContext, jobs: list[RepairJob]) -> list[ScenarioResult]:
    """The default mapper: one job after another in this process."""
    return [repair_scenario(context, job) for job in jobs]
