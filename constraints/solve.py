"""Solve a built model with CP-SAT: always a time limit, progress reports, a kill switch."""

from __future__ import annotations

import contextlib
import math
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from ortools.sat.python import cp_model

from rotaflow.constraints.instance import Cell
from rotaflow.constraints.model import BuiltModel

__all__ = ["Progress", "SolveResult", "Status", "kill_switch", "penalty_totals", "solve", "status_of"]

Status = Literal["optimal", "feasible", "infeasible", "timeout", "cancelled", "invalid_model"]


LIGHT_PRESOLVE: Mapping[str, Any] = {
    "keep_all_feasible_solutions_in_presolve": True,
    "max_presolve_iterations": 1,
    "cp_model_probing_level": 0,
    "symmetry_level": 0,
}
"""CP-SAT parameters for a presolve of one pass without dual reductions, probing or symmetries: on a
residency block of 200 people (190 000 variables) CP-SAT's default presolve alone runs for about 25 CPU
seconds before any search; this one reaches the first schedule in about 5."""

FIRST_SCHEDULE: Mapping[str, Any] = {**LIGHT_PRESOLVE, "stop_after_first_solution": True}
"""CP-SAT parameters of :func:`solve_from_first`'s first step: the light presolve, and a stop at the
first schedule. On the sample program's first block (36 residents, 45 000 variables) CP-SAT's own
presolve runs about 5 s before its first schedule; this step has one in about 1.5 s."""

PROOF_WORKER = 1
"""Threads :func:`solve_from_first`'s whole-model step runs beyond ``workers`` (when that is 2 or more). With
two, CP-SAT's portfolio is its LP-based tree search beside the neighbourhoods; a third thread adds its
core-based search, which proves a small block's optimum in moments. On a 24-resident block (`rotaflow synth
--residents 24 --seed 3`) on 2 busy cores, the tree search alone proved it in 6 to 28 s, and in 1 run of 4
not within 60 s; with the third thread, in 7 to 9 s in each of 5 runs."""


@dataclass(frozen=True)
class Progress:
    """One improving solution: seconds since start, its objective and the best bound then (None: no bound
    is known yet, as when a search starts from a given schedule)."""

    seconds: float
    objective: float
    bound: float | None


@dataclass
class SolveResult:
    status: Status
    objective: float | None
    best_bound: float | None
    seconds: float
    cells: frozenset[Cell]
    penalties: dict[str, int] = field(default_factory=dict)
    progress: list[Progress] = field(default_factory=list)

    @property
    def gap(self) -> float | None:
        if self.objective is None or self.best_bound is None:
            return None
        if self.objective == 0:
            return 0.0
        return abs(self.objective - self.best_bound) / max(abs(self.objective), 1e-9)


class _Callback(cp_model.CpSolverSolutionCallback):
    def __init__(self, started: float, on_progress: Callable[[Progress], None] | None) -> None:
        super().__init__()
        self.started = started
        self.on_progress = on_progress
        self.progress: list[Progress] = []

    def on_solution_callback(self) -> None:
        point = Progress(time.monotonic() - self.started, self.objective_value, self.best_objective_bound)
        self.progress.append(point)
        if self.on_progress is not None:
            self.on_progress(point)


def solve(
    built: BuiltModel,
    *,
    time_limit: float,
    workers: int = 2,
    seed: int = 0,
    relative_gap: float = 0.0,
    hint: Iterable[Cell] | None = None,
    stop: threading.Event | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    log: bool = False,
    fixed: Mapping[Cell, bool] | None = None,
    parameters: Mapping[str, Any] | None = None,
) -> SolveResult:
    """Solve within ``time_limit`` seconds; setting ``stop`` ends the search within moments.

    ``fixed`` holds some cells at a value for this call only (a neighbourhood search frees
    the rest); ``parameters`` sets further CP-SAT parameters by their field names (a list
    for a repeated field, an enum by its name).
    """
    if not isinstance(time_limit, int | float) or not math.isfinite(time_limit) or time_limit <= 0:
        raise ValueError("a positive time limit is required (finite, in seconds)")
    model = built.model
    if fixed:
        model = model.clone()  # fixed for this call only: the built model stays as it was
        model.proto.constraints.add().bool_and.literals.extend(built.x.literals(fixed))
    if hint is not None:
        built.x.hint(model, hint)
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = float(time_limit)
    solver.parameters.num_workers = max(1, workers)
    solver.parameters.random_seed = seed
    solver.parameters.relative_gap_limit = relative_gap
    solver.parameters.log_search_progress = log
    if parameters and not solver.parameters.merge_text_format(_parameters_text(parameters)):
        raise ValueError(f"not CP-SAT parameters: {dict(parameters)}")
    started = time.monotonic()
    callback = _Callback(started, on_progress)
    if stop is not None and stop.is_set():
        return SolveResult("cancelled", None, None, 0.0, frozenset())
    with kill_switch(solver, stop) as cancelled:
        code = solver.solve(model, callback)
    seconds = time.monotonic() - started
    has_solution = code in (cp_model.OPTIMAL, cp_model.FEASIBLE)
    status = status_of(code, cancelled.is_set())
    cells = built.x.extract(solver.value) if has_solution else frozenset()
    penalties = penalty_totals(built, solver.value) if has_solution else {}
    objective = solver.objective_value if has_solution else None
    bound = solver.best_objective_bound if has_solution or code == cp_model.UNKNOWN else None
    return SolveResult(status, objective, bound, seconds, cells, penalties, callback.progress)


@contextlib.contextmanager
def kill_switch(
    solver: cp_model.CpSolver, stop: threading.Event | None, name: str = "cp-sat-kill-switch"
) -> Iterator[threading.Event]:
    """While the ``with`` block solves, setting ``stop`` ends ``solver``'s search within moments; the event it
    yields says whether it did."""
    cancelled = threading.Event()
    finished = threading.Event()
    watcher = None
    if stop is not None:

        def watch() -> None:
            while not finished.is_set():
                if stop.wait(0.1):
                    cancelled.set()
                    while not finished.wait(0.05):  # repeat: a stop before the search starts is ignored
                        solver.stop_search()
                    return

        watcher = threading.Thread(target=watch, name=name, daemon=True)
        watcher.start()
    try:
        yield cancelled
    finally:
        finished.set()
        if watcher is not None:
            watcher.join(timeout=1)


def status_of(code: Any, cancelled: bool) -> Status:
    """The status of a CP-SAT ``code``, ``cancelled`` when the kill switch ended a search without a proof."""
    if code == cp_model.OPTIMAL:
        return "optimal"
    if code == cp_model.INFEASIBLE:
        return "infeasible"
    if code == cp_model.MODEL_INVALID:
        return "invalid_model"
    if cancelled:
        return "cancelled"
    if code == cp_model.FEASIBLE:
        return "feasible"
    return "timeout"


def penalty_totals(built: BuiltModel, value: Callable[[Any], int]) -> dict[str, int]:
    """Each soft rule's weighted penalty in a solution (``value`` reads a variable or literal)."""
    totals: dict[str, int] = {}
    for penalty in built.penalties:
        amount = sum(c * value(v) for c, v in penalty.terms) + penalty.constant
        totals[penalty.rule] = totals.get(penalty.rule, 0) + penalty.weight * amount
    return totals


def _parameters_text(parameters: Mapping[str, Any]) -> str:
    """CP-SAT parameters in protobuf text format (``merge_text_format`` validates the names)."""
    lines = []
    for name, value in parameters.items():
        for item in value if isinstance(value, list | tuple) else [value]:
            if isinstance(item, bool):
                text = "true" if item else "false"
            elif isinstance(item, int | float):
                text = repr(item)
            elif isinstance(item, str) and item.isupper():
                text = item  # an enum value by name
            else:
                text = '"' + str(item).replace("\\", "\\\\").replace('"', '\\"') + '"'
            lines.append(f"{name}: {text}")
    return "\n".join(lines)


def solve_from_first(
    built: BuiltModel,
    *,
    time_limit: float,
    workers: int = 2,
    seed: int = 0,
    relative_gap: float = 0.0,
    hint: Iterable[Cell] | None = None,
    stop: threading.Event | None = None,
    on_progress: Callable[[Progress], None] | None = None,
) -> SolveResult:
    """:func:`solve` in two steps within ``time_limit``: a first schedule with a light presolve
    (:data:`FIRST_SCHEDULE`), then CP-SAT with its whole presolve on the whole model for the time left,
    hinted with that schedule, on :data:`PROOF_WORKER` more threads. The schedule in hand comes early,
    however long the full presolve takes; the answer is the better of the two steps' (the first one's when
    the second finds none in time), with the tighter bound of the two. A first step that ends with a proof
    (optimal, infeasible) or without a schedule is the answer."""
    started = time.monotonic()
    common: dict[str, Any] = {"workers": workers, "seed": seed, "relative_gap": relative_gap, "stop": stop}
    first = solve(built, time_limit=time_limit, hint=hint, on_progress=on_progress, parameters=FIRST_SCHEDULE, **common)
    left = time_limit - (time.monotonic() - started)
    if first.status != "feasible" or first.objective is None or left <= 0:
        return replace(first, seconds=time.monotonic() - started)
    best, offset = first.objective, time.monotonic() - started

    def shifted(point: Progress) -> None:  # only what improves on the first schedule, timed from the start
        if on_progress is not None and point.objective < best:
            on_progress(replace(point, seconds=point.seconds + offset))

    whole = {**common, "workers": workers + PROOF_WORKER if workers >= 2 else workers}
    second = solve(built, time_limit=left, hint=first.cells, on_progress=shifted, **whole)
    seconds = time.monotonic() - started
    progress = first.progress + [replace(p, seconds=p.seconds + offset) for p in second.progress if p.objective < best]
    bounds = [b for b in (first.best_bound, second.best_bound) if b is not None]
    bound = max(bounds) if bounds else None  # a minimisation: the higher lower bound is the tighter
    if second.status == "cancelled":
        return replace(second, seconds=seconds, progress=progress)
    if second.cells and second.objective is not None and second.objective <= best:
        return replace(second, best_bound=bound, seconds=seconds, progress=progress)
    return replace(first, best_bound=bound, seconds=seconds, progress=progress)
