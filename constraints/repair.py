"""Repair a published block: keep the days before a date, change as little as possible after it.

When a resident falls out of a published schedule (a new absence), the days before the repair
date stay exactly as published (``Instance.frozen_days``) and the rest is solved again under
every hard rule, lexicographically: first as few changed assignments as possible (phase 1, whose
bound is the proved minimum we report), then the usual objective among the schedules with no
more changes than phase 1 found (phase 2).

A change is one assignment gained or lost on a day at or after the repair date (one row of
changes.csv): a shift moved from one person to another counts two.
"""

from __future__ import annotations

import dataclasses
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ortools.sat.python import cp_model

from rotaflow.constraints.instance import Cell, Instance
from rotaflow.constraints.model import BuiltModel, build_model, penalty_objective
from rotaflow.constraints.ruleset import ConfiguredRule
from rotaflow.constraints.solve import Progress, SolveResult, Status, solve

__all__ = ["RepairResult", "changes_expression", "count_changes", "forced_removals", "repair_solve"]

_PHASE_ONE_SHARE = 0.5
"""The share of the time limit phase 1 may use (it ends early when it proves its minimum)."""


@dataclass
class RepairResult:
    """A repaired schedule and how far its number of changes is proved minimal."""

    result: SolveResult
    """The final schedule: its status, the usual objective and phase 2's bound on it."""
    changes: int | None
    """Changed assignments of the final schedule (counted from its cells), None without one."""
    min_changes_bound: int | None
    """The lower bound phase 1 proved on the number of changes (None when it proved nothing)."""
    proved_minimal: bool
    """The final schedule has no more changes than the proved lower bound."""
    phase_seconds: tuple[float, float]
    """Seconds spent in phase 1 (fewest changes) and phase 2 (usual objective)."""

    @property
    def status(self) -> Status:
        return self.result.status


def _after(instance: Instance, cell: Cell) -> bool:
    return instance.frozen_days <= cell[1] < instance.days


def changes_expression(built: BuiltModel) -> tuple[Any, int]:
    """``(expression, constant)``: the number of changes after the frozen days is their sum.

    Σ over published cells of (1 - x) plus Σ over the other cells of x, on days ``>= frozen_days``;
    the constant counts the published cells (a published cell without a decision variable is
    always lost, so it stays in the constant with no term to cancel it).
    """
    instance = built.instance
    variables: list[cp_model.IntVar] = []
    coefficients: list[int] = []
    for cell, var in built.x.items():
        if _after(instance, cell):
            variables.append(var)
            coefficients.append(-1 if cell in instance.previous else 1)
    constant = sum(1 for cell in instance.previous if _after(instance, cell))
    return cp_model.LinearExpr.weighted_sum(variables, coefficients), constant


def count_changes(instance: Instance, cells: frozenset[Cell]) -> int:
    """Changed assignments of a schedule against ``instance.previous``, after the frozen days."""
    return sum(1 for cell in cells ^ instance.previous if _after(instance, cell))


def forced_removals(instance: Instance) -> frozenset[Cell]:
    """Published cells after the frozen days that no schedule can keep any more.

    The person is blocked that day (a new absence) or may no longer work that shift (rotation
    eligibility): losing them is the repair's cause, not churn it chose.
    """
    return frozenset(
        cell
        for cell in instance.previous
        if _after(instance, cell)
        and (
            cell[1] in instance.blocked_days.get(cell[0], frozenset())
            or not instance.may_work(cell[0], cell[1], cell[2])
        )
    )


def repair_solve(
    instance: Instance,
    rules: list[ConfiguredRule],
    *,
    time_limit: float,
    workers: int = 2,
    seed: int = 0,
    stop: threading.Event | None = None,
    on_progress: Callable[[Progress], None] | None = None,
) -> RepairResult:
    """Fewest changes first, then the usual objective, within ``time_limit`` seconds in all.

    An infeasible repair comes back with status ``infeasible`` (the caller explains it with
    :func:`rotaflow.constraints.explain.diagnose`); no schedule within the time gives ``timeout``;
    ``stop`` set gives ``cancelled`` (with the best schedule found so far, if any). The result's
    progress is phase 2's; ``on_progress`` hears both phases (phase 1's objective is the changes).
    """
    if not isinstance(time_limit, int | float) or not math.isfinite(time_limit) or time_limit <= 0:
        raise ValueError("a positive time limit is required (finite, in seconds)")
    started = time.monotonic()
    built = build_model(instance, rules)
    expression, constant = changes_expression(built)
    built.model.clear_objective()
    built.model.minimize(expression + constant)
    common: dict[str, Any] = {"workers": workers, "seed": seed, "stop": stop, "on_progress": on_progress}

    first = solve(built, time_limit=time_limit * _PHASE_ONE_SHARE, hint=instance.previous, **common)
    if first.objective is None:  # infeasible, timeout, cancelled or invalid: nothing to repair with
        return RepairResult(dataclasses.replace(first, best_bound=None), None, None, False, (first.seconds, 0.0))
    found = int(round(first.objective))
    bound = math.ceil(first.best_bound - 1e-6) if first.best_bound is not None else None
    if first.status == "cancelled":
        return _finish(instance, first, first, bound, (first.seconds, 0.0), started, "cancelled")

    # phase 2: the usual objective among schedules with no more changes than phase 1 found
    built.model.add(expression + constant <= found)
    built.model.clear_objective()
    objective = penalty_objective(built.penalties)
    if objective is not None:
        built.model.minimize(objective)
    remaining = max(time_limit - (time.monotonic() - started), 0.05)
    second = solve(built, time_limit=remaining, hint=first.cells, **common)
    seconds = (first.seconds, second.seconds)
    if second.objective is None:  # nothing found in time (or stopped): phase 1's schedule stands
        status: Status = "cancelled" if second.status == "cancelled" else "feasible"
        return _finish(instance, first, first, bound, seconds, started, status)
    if second.status == "cancelled":
        status = "cancelled"
    elif first.status == "optimal" and second.status == "optimal":
        status = "optimal"
    else:
        status = "feasible"
    return _finish(instance, second, first, bound, seconds, started, status)


def _finish(
    instance: Instance,
    final: SolveResult,
    first: SolveResult,
    bound: int | None,
    seconds: tuple[float, float],
    started: float,
    status: Status,
) -> RepairResult:
    """The repair's result from the schedule kept (``final``) and phase 1's proof."""
    if final is first:  # phase 1's schedule: its objective and bound are changes, not the usual terms
        final = dataclasses.replace(first, objective=None, best_bound=None, penalties={}, progress=[])
    result = dataclasses.replace(final, status=status, seconds=time.monotonic() - started)
    changes = count_changes(instance, result.cells)
    return RepairResult(result, changes, bound, bound is not None and changes == bound, seconds)
