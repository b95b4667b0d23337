"""Repair a published block: keep the days before a date, change as little as possible after it.

When a resident falls out of a published schedule (a new absence), the days before the repair
date stay exactly as published (``Instance.frozen_days``) and the rest is solved again under
every hard rule, lexicographically: first as few changed assignments as possible (the solver's
bound proves the minimum we report), then the usual objective among the schedules with that few.
Both levels are one weighted objective, so the model is built and presolved once.

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
from rotaflow.constraints.registry import _range
from rotaflow.constraints.ruleset import ConfiguredRule
from rotaflow.constraints.solve import Progress, SolveResult, Status, solve

__all__ = ["RepairResult", "changes_expression", "count_changes", "forced_removals", "repair_solve"]


@dataclass
class RepairResult:
    """A repaired schedule and how far its number of changes is proved minimal."""

    result: SolveResult
    """The final schedule: its status, the usual objective (the soft rules' penalties) and its bound."""
    changes: int | None
    """Changed assignments of the final schedule (counted from its cells), None without one."""
    min_changes_bound: int | None
    """The lower bound the solver proved on the number of changes (None when it proved nothing)."""
    proved_minimal: bool
    """The final schedule has no more changes than the proved lower bound."""
    build_seconds: float
    """Seconds spent building the model (the rest of ``result.seconds`` is the solver's)."""

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


def usual_range(built: BuiltModel) -> tuple[int, int]:
    """The least and greatest value the usual objective (the soft rules' weighted penalties) can take."""
    low = high = 0
    for penalty in built.penalties:
        if penalty.weight:
            terms_low, terms_high = _range(penalty.terms)
            low += penalty.weight * (terms_low + penalty.constant)
            high += penalty.weight * (terms_high + penalty.constant)
    return min(low, high), max(low, high)


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
    """Fewest changes first, then the usual objective, in one solve within ``time_limit`` seconds in all.

    The objective is ``W × changes + usual`` with ``W`` one more than the usual objective's whole range, so
    one change more always costs more than any usual penalty saved: lexicographic, with one presolve of the
    model instead of two. The solver's bound ``B`` proves ``changes ≥ ⌈(B − U) / W⌉`` (``U`` the usual
    objective's greatest value): the proved minimum, equal to the changes when the solve is optimal.

    The search starts from the published schedule without what the absences take away (a near-feasible hint
    CP-SAT repairs). An infeasible repair comes back with status ``infeasible`` (the caller explains it with
    :func:`rotaflow.constraints.explain.diagnose`); no schedule within the time gives ``timeout``; ``stop`` set
    gives ``cancelled`` (with the best schedule found so far, if any). ``on_progress`` hears each improving
    schedule as its changes (``objective``) and the proved minimum so far (``bound``).
    """
    if not isinstance(time_limit, int | float) or not math.isfinite(time_limit) or time_limit <= 0:
        raise ValueError("a positive time limit is required (finite, in seconds)")
    started = time.monotonic()
    built = build_model(instance, rules)
    expression, constant = changes_expression(built)
    usual = penalty_objective(built.penalties)
    low, high = usual_range(built)
    weight = high - low + 1
    built.model.clear_objective()
    built.model.minimize(weight * (expression + constant) + (usual if usual is not None else 0))
    build_seconds = time.monotonic() - started

    def proved(bound: float) -> int:
        """The fewest changes the combined bound proves (at least 0)."""
        whole = math.ceil(bound - 1e-6)
        return max(0, -((high - whole) // weight))  # ⌈(whole − high) / weight⌉ in integers

    def as_changes(point: Progress) -> Progress:
        """A point of the combined objective as the repair's: its changes, and the fewest proved so far."""
        changes = (int(round(point.objective)) - low) // weight
        return Progress(point.seconds, float(changes), None if point.bound is None else float(proved(point.bound)))

    def heard(point: Progress) -> None:
        if on_progress is not None:
            on_progress(as_changes(point))

    found = solve(
        built,
        time_limit=max(time_limit - build_seconds, 0.1),
        hint=instance.previous - forced_removals(instance),
        parameters={"repair_hint": True},
        workers=workers,
        seed=seed,
        stop=stop,
        on_progress=heard,
    )
    seconds = time.monotonic() - started
    if not found.cells and found.objective is None:  # infeasible, timeout, cancelled or invalid
        result = dataclasses.replace(found, best_bound=None, progress=[], seconds=seconds)
        return RepairResult(result, None, None, False, build_seconds)
    changes = count_changes(instance, found.cells)
    bound = proved(found.best_bound) if found.best_bound is not None else None
    objective = sum(found.penalties.values())  # the usual objective of the schedule found
    usual_bound = None
    if found.status == "optimal":
        usual_bound = objective
    elif bound is not None and bound == changes and found.best_bound is not None:
        usual_bound = max(low, math.ceil(found.best_bound - 1e-6) - weight * changes)
    result = dataclasses.replace(
        found,
        objective=objective,
        best_bound=usual_bound,
        seconds=seconds,
        progress=[as_changes(p) for p in found.progress],
    )
    return RepairResult(result, changes, bound, bound is not None and changes <= bound, build_seconds)
