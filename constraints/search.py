"""Large neighbourhood search around CP-SAT: the best schedule a time budget finds on a built model.

:func:`neighbourhood_search` takes what :func:`rotaflow.constraints.solve.solve` takes (a model built
from an :class:`Instance` and its configured rules, a time limit, workers, a seed) and returns the
same :class:`SolveResult`.

1. **Heaviest penalties first.** When the penalties weigh differently, a first share of the time
   searches on the heaviest ones alone; its answer is the hint the rest starts from.
2. **A companion worker.** With two workers or more, one runs CP-SAT on the whole model beside the
   search (:class:`_Companion`); its schedules join the search, and it lends its worker to the
   search once it stops gaining.
3. **Destroy and repair.** Every other worker frees one neighbourhood of the best schedule (a few
   days for everyone, a few people over the whole horizon, the same weekdays of every week, ...),
   fixes every other cell to it and solves that part with CP-SAT, hinted with the schedule; an
   equal or better answer replaces the best. Kinds that gained recently are chosen more often;
   a kind grows while its steps finish (faster while they finish within moments) and shrinks while
   they time out.

The neighbourhoods centre on the days and people whose ``coverage_target`` and ``shift_requests``
penalties cost the most; without those rules they are drawn uniformly.
"""

from __future__ import annotations

import itertools
import math
import random
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from ortools.sat.python import cp_model

from rotaflow.constraints.instance import Cell
from rotaflow.constraints.model import BuiltModel, penalty_objective
from rotaflow.constraints.solve import LIGHT_PRESOLVE, Progress, SolveResult, kill_switch, penalty_totals

__all__ = ["ALL_KINDS", "KINDS", "LIGHT_PRESOLVE", "neighbourhood_search"]

ALL_KINDS = ("days", "focus", "people", "helpers", "block", "patch", "weekly", "rota")
"""Neighbourhoods: every person on a few days; the same around a day that costs; a few
people over the whole horizon; the same, chosen among those off on a day short of cover;
a random group of people over a stretch of days; the same around a day short of cover."""

KINDS = ALL_KINDS

EXPLORE = 0.15
"""The share of steps whose kind is drawn uniformly rather than by recent gain per second."""

LOADING_FACTOR = 4.0
"""A step may take this many times as long as loading one takes, however short ``step`` is."""

STEP_OVERHEAD = 0.035
"""What a step costs beyond its search, in deterministic time (loading and presolving the model)."""

RESIZE = 1.1
"""A neighbourhood kind grows by this factor after a step solved to optimality and shrinks by it
after a step that ran out of time."""

QUICK = 0.1
"""A step solved to optimality within this share of its time limit was too small to find much:
its kind grows by ``QUICK_RESIZE`` instead."""

QUICK_RESIZE = 1.5
"""The growth of a kind whose step was quick (see ``QUICK``): a kind that starts far too small for
the instance (three people of thirty) reaches a useful size within a few steps, not dozens."""

SMOOTHING = 0.2
"""The weight of the latest step in a kind's moving average of gain per second."""

START_CELLS = 4000
"""A kind's first size is a tenth of the people or days, or less on a model of more than ten times this
many cells: about this many cells freed. A step far too large times out at its full limit and its kind
shrinks by ``RESIZE`` only, while one too small is quick and grows by ``QUICK_RESIZE``: on Instance22 (364
days, 182 000 cells) the first steps at a tenth freed 18 000 cells and each ran out of its time."""


HEAVIEST_FIRST = 0.25
"""The share of the time the search spends on the heaviest penalties alone."""

COMPANION = True
"""With two workers or more, one of them runs CP-SAT on the whole model beside the neighbourhood search."""

COMPANION_PARAMETERS: Mapping[str, Any] = {"linearization_level": 2}
"""CP-SAT parameters of the companion: one worker with every constraint in its LP relaxation."""

POLL = 0.02
"""Seconds between two looks of the whole-model solve's watcher at a solve that has no schedule yet."""

PATIENCE = 0.25
"""The companion stops once it has gone this share of the time limit without improving its own best
schedule or the search's."""

LAG = 0.2
"""The companion also stops, once it has run ``patience`` seconds, when its best schedule costs more
than this share above the search's: far behind, it would only catch up with what the search has."""

FIRST_WAIT = 0.1
"""The companion stops when it has found no schedule at all within this share of the time limit."""

STEP_PARAMETERS: Mapping[str, Any] = {"linearization_level": 2}
"""CP-SAT parameters of a neighbourhood step: with every clause in the LP a step proves its
neighbourhood optimal several times sooner (the whole model gains nothing from it)."""


@dataclass(frozen=True)
class _Controls:
    """What the caller steers a search with beyond its budget (see :func:`neighbourhood_search`)."""

    origin: float
    stop: threading.Event | None = None
    on_progress: Callable[[Progress], None] | None = None
    relative_gap: float = 0.0
    whole: Mapping[str, Any] = field(default_factory=dict)

    def stopped(self) -> bool:
        return self.stop is not None and self.stop.is_set()

    def report(self, objective: float, bound: float | None) -> None:
        if self.on_progress is not None:
            known = None if bound is None or math.isinf(bound) else bound  # -inf: no bound known yet
            self.on_progress(Progress(time.monotonic() - self.origin, objective, known))


_QUIET = _Controls(0.0)


def neighbourhood_search(
    built: BuiltModel,
    *,
    time_limit: float,
    workers: int = 2,
    seed: int = 0,
    first: float = 0.1,
    step: float = 1.0,
    kinds: tuple[str, ...] = KINDS,
    parameters: Mapping[str, Any] | None = STEP_PARAMETERS,
    select: str = "bandit",
    heaviest_first: float = HEAVIEST_FIRST,
    companion: bool = COMPANION,
    patience: float = PATIENCE,
    log: bool = False,
    start: frozenset[Cell] | None = None,
    stop: threading.Event | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    hint: Iterable[Cell] | None = None,
    relative_gap: float = 0.0,
    whole_parameters: Mapping[str, Any] | None = None,
    stall: float | None = None,
) -> SolveResult:
    """CP-SAT on the whole model for a ``first`` share of the time, then large neighbourhood search.

    Each step frees one neighbourhood of the best schedule so far, fixes every other cell
    to it and solves that (hinted with the schedule, at most ``step`` seconds); an equal
    or better answer replaces the best. ``workers`` steps run side by side, one CP-SAT
    worker each. A neighbourhood's size grows while its steps finish (optimal) and shrinks
    while they time out. The model is never changed: each thread fixes cells by narrowing
    their domains in its own copy; the answer keeps the first solve's bound and is optimal
    only when it meets that bound.

    When the penalties weigh differently, the first ``heaviest_first`` share of the time
    searches on the heaviest ones alone (an uncovered shift, say, against a missed request):
    on that plateau the search moves freely between schedules the lighter terms would hold
    it to, and its answer is the hint the whole search starts from.

    With ``companion`` and two workers or more, and no ``start``, one worker runs CP-SAT on the whole model
    from the start, with every constraint in its LP relaxation (:class:`_Companion`). On small
    and middling models that search finds schedules the neighbourhoods miss, and it may prove
    one optimal, which ends the search. Its schedules join the search on the whole objective.
    It stops, and its worker steps neighbourhoods too, once it has gone ``patience`` ×
    ``time_limit`` seconds without improving its own best schedule or the search's, or when
    after that long its best is still more than ``LAG`` worse than the search's, or when it
    has found no schedule at all within ``FIRST_WAIT`` × ``time_limit`` seconds: on large
    models it finds little.

    With ``start`` (a schedule that keeps every hard rule, say one built person by person), the
    search begins from it instead of from a first CP-SAT solve: on models too large for CP-SAT to
    find any schedule in time. CP-SAT only completes it (every other variable follows from the
    cells); if it cannot, the search begins as without it. No companion runs then: on such models it
    finds no schedule either (none in seven traced runs of 60 to 600 s on Instance20 to 22), and its worker steps
    neighbourhoods from the start.

    As :func:`~rotaflow.constraints.solve.solve`: setting ``stop`` ends every solve within moments
    (status ``cancelled``, with the best schedule so far); ``on_progress`` hears of each better
    schedule on the whole objective (seconds since the start, objective, bound); ``hint`` (a
    schedule, say the published one) is the first whole solve's hint; the search ends once the
    best schedule is within ``relative_gap`` of the bound. ``whole_parameters`` are CP-SAT
    parameters of the solves on the whole model (the first one and the companion's), for example
    :data:`LIGHT_PRESOLVE` on models whose presolve would take most of the time.

    With ``stall`` (seconds), the first whole solve goes on past its ``first`` share for as long as it keeps
    finding better schedules, and gives way to the steps only once it has gone ``stall`` seconds without
    one: on models so large that loading a step takes seconds (a residency block of 300 people), the steps
    gain little while CP-SAT on the whole model still improves steadily.
    """
    started = time.monotonic()
    controls = _Controls(started, stop, on_progress, relative_gap, dict(whole_parameters or {}))
    if controls.stopped():
        return SolveResult("cancelled", None, None, 0.0, frozenset())
    if hint is not None:
        built = _hinted(built, frozenset(hint))  # a copy: the caller's model keeps its own hint
    side = (
        _Companion(built, started + time_limit, seed, patience * time_limit, FIRST_WAIT * time_limit)
        if companion and workers > 1 and start is None
        else None
    )
    if side is not None:
        side.controls = controls
        side.start()
    try:
        result = _phases(
            built,
            time_limit,
            heaviest_first,
            side,
            started,
            workers=workers,
            seed=seed,
            first=first,
            step=step,
            kinds=kinds,
            parameters=parameters,
            select=select,
            log=log,
            start=start,
            controls=controls,
            stall=stall,
        )
    finally:
        if side is not None:
            side.stop()
    best = side.best if side is not None else None
    if side is not None and best is not None and (result.objective is None or best.objective < result.objective):
        # the search ended before the companion's last schedule could join it
        run = _Run("optimal" if side.optimal else "feasible", best.objective, side.bound, 0.0, best.solution, [])
        late = Progress(time.monotonic() - started, best.objective, side.bound)
        result = _result(built, run, started, [*result.progress, late])
        controls.report(late.objective, late.bound)
    result.seconds = time.monotonic() - started
    if controls.stopped() and result.status != "optimal":
        result.status = "cancelled"  # as solve(): stopped without a proof, the schedule so far kept
    if log and side is not None:
        print(
            f"companion: {side.found} schedules, best {side.best.objective if side.best else None}, "
            f"{'optimal' if side.optimal else 'stopped' if side.stopped else 'ran to the end'}"
        )
    return result


def _phases(
    built: BuiltModel,
    time_limit: float,
    heaviest_first: float,
    side: _Companion | None,
    started: float,
    start: frozenset[Cell] | None = None,
    controls: _Controls = _QUIET,
    **options: Any,
) -> SolveResult:
    """The heaviest-first phase (when the penalties weigh differently), then the search on the whole objective.

    The heaviest-first phase honours ``controls``' stop and parameters but reports no progress (its
    objective is not the whole one)."""
    heavy = _heaviest(built) if heaviest_first > 0 else None
    if heavy is None:
        return _search_on(
            built, time_limit=time_limit, side=side, joins=True, start=start, controls=controls, **options
        )
    quiet = replace(controls, on_progress=None, relative_gap=0.0)
    ahead = _search_on(
        heavy, time_limit=heaviest_first * time_limit, side=side, joins=False, start=start, controls=quiet, **options
    )
    if ahead.status == "infeasible" or controls.stopped():
        return ahead  # the same hard rules; or stopped
    offset = time.monotonic() - started
    result = _search_on(
        _hinted(built, ahead.cells) if ahead.cells else built,
        time_limit=max(0.1, time_limit - offset),
        side=side,
        joins=True,
        start=ahead.cells if start is not None and ahead.cells else start,
        controls=controls,
        **options,
    )
    result.progress = [replace(p, seconds=p.seconds + offset) for p in result.progress]
    return result


def _heaviest(built: BuiltModel) -> BuiltModel | None:
    """The model with only its heaviest penalties in the objective; None when all weigh the same."""
    penalties = [p for p in built.penalties if p.terms]
    if not penalties:
        return None
    weight = max(p.weight for p in penalties)
    top = [p for p in penalties if p.weight == weight]
    if len(top) == len(penalties):
        return None
    model = built.model.clone()
    model.clear_objective()
    model.minimize(penalty_objective(top))
    return replace(built, model=model, penalties=top)


def _hinted(built: BuiltModel, cells: frozenset[Cell]) -> BuiltModel:
    """A copy of the model whose hint is the schedule of ``cells``."""
    model = built.model.clone()
    built.x.hint(model, cells)
    return replace(built, model=model)


def _search_on(
    built: BuiltModel,
    *,
    time_limit: float,
    workers: int,
    seed: int,
    first: float,
    step: float,
    kinds: tuple[str, ...],
    parameters: Mapping[str, Any] | None,
    select: str,
    log: bool,
    side: _Companion | None = None,
    joins: bool = False,
    start: frozenset[Cell] | None = None,
    controls: _Controls = _QUIET,
    stall: float | None = None,
) -> SolveResult:
    """:func:`neighbourhood_search` on the model's own objective.

    While the companion ``side`` runs it has one of the workers; with ``joins`` (the model's
    objective is the companion's) its schedules join the search, and once it stops its worker
    steps neighbourhoods for the rest of the time.
    """
    started = time.monotonic()
    deadline = started + time_limit
    first_run = _complete(built, start, time_limit, seed) if start is not None else None
    if first_run is None or first_run.solution is None:
        first_run = _solve_whole(
            built,
            max(0.1, deadline - time.monotonic()),
            workers,
            seed,
            switch=first * time_limit,
            controls=controls,
            stall=stall,
        )
    elif first_run.objective is not None:
        controls.report(first_run.objective, None)
    if (
        first_run.status != "feasible"
        or first_run.solution is None
        or deadline - time.monotonic() < 0.1
        or controls.stopped()
    ):
        return _result(built, first_run, started, [])
    search = _Search(built, first_run, kinds, seed, parameters, started, select)
    search.trace = log
    search.controls = controls

    def lane(n: int) -> threading.Thread:
        thread = threading.Thread(target=search.run, args=(n, deadline, step), name=f"lns-{n}", daemon=True)
        thread.start()
        return thread

    if side is not None and joins:
        side.join(search)  # its best so far and its bound, even when it has stopped (or proved optimality)
    beside = side is not None and side.running
    threads = [lane(n) for n in range(max(1, workers - 1 if beside else workers))]
    while side is not None and beside and any(thread.is_alive() for thread in threads):
        side.done.wait(0.1)
        now = time.monotonic()
        if side.running and side.idle(now, joins):
            side.stop()
        if not side.running:
            beside = False  # its worker steps neighbourhoods from now on
            if deadline - now > 0.1 and not search.closed():
                threads.append(lane(len(threads)))
    for thread in threads:
        thread.join()
    if side is not None:
        side.leave(search)
    if log:
        print(f"first solve {first_run.objective} in {first_run.seconds:.1f}s; {search.steps} steps")
        for kind, stat in search.stats.items():
            print(
                f"  {kind:<7} {stat.tries:4} steps {stat.better:3} better {stat.finished:4} optimal"
                f"  {stat.seconds:6.1f}s {stat.effort:6.2f}d  gain {stat.gain:7.0f}  size {search.size[kind]:.3f}"
            )
    best = search.best
    bound = search.bound if search.bound > float("-inf") else None
    outcome = _Run("feasible", best.objective, bound, time.monotonic() - started, best.solution, first_run.progress)
    return _result(built, outcome, started, search.progress)


class _Companion:
    """CP-SAT on the whole model in one worker beside the neighbourhood search (see :func:`neighbourhood_search`)."""

    def __init__(self, built: BuiltModel, deadline: float, seed: int, patience: float, wait: float) -> None:
        self.built = built
        self.deadline = deadline
        self.seed = seed
        self.patience = patience
        """Seconds it may go without improving the best schedule."""
        self.wait = wait
        """Seconds it may take to find a first schedule."""
        self.began = self.improved = self.gained = time.monotonic()
        """When it started; when it last improved its own best schedule; the search's (reset by ``start``)."""
        self.lock = threading.Lock()
        self.best: _Best | None = None
        self.bound: float | None = None
        self.found = 0
        self.optimal = False
        self.stopped = False
        self.search: _Search | None = None
        self.controls = _QUIET
        self.done = threading.Event()
        self.solver = cp_model.CpSolver()
        self.thread = threading.Thread(target=self._run, name="lns-companion", daemon=True)

    @property
    def running(self) -> bool:
        return self.thread.is_alive() and not self.done.is_set()

    def start(self) -> None:
        self.began = self.gained = self.improved = time.monotonic()
        self.thread.start()

    def stop(self) -> None:
        """Ends its search (within moments) and waits for it."""
        if self.running:
            self.stopped = True
            self.solver.stop_search()
        if self.thread.is_alive():
            self.thread.join()

    def idle(self, now: float, joined: bool) -> bool:
        """Whether it should stop: no schedule at all after ``wait`` seconds; or, when its schedules
        join the search, ``patience`` seconds without bettering either its own best or the search's,
        or (once it has run ``patience`` seconds) a best more than ``LAG`` worse than the search's."""
        best = self.best
        if best is None:
            return now - self.began > self.wait
        if not joined or self.search is None:
            return False
        if now - max(self.gained, self.improved) > self.patience:
            return True
        return now - self.began > self.patience and best.objective > (1 + LAG) * self.search.best.objective

    def join(self, search: _Search) -> None:
        """Hands its schedules to ``search`` from now on, the best so far at once."""
        with self.lock:
            self.search = search
            best, bound = self.best, self.bound
        if best is not None:
            self._hand(search, best.objective, best.solution, bound)

    def leave(self, search: _Search) -> None:
        with self.lock:
            if self.search is search:
                self.search = None

    def offer(self, objective: float, solution: list[int], bound: float) -> None:
        with self.lock:
            self.found += 1
            self.bound = bound
            if self.best is None or objective < self.best.objective:
                self.best = _Best(objective, solution, self.found)
                self.improved = time.monotonic()
            search = self.search
        if search is not None:
            self._hand(search, objective, solution, bound)

    def _hand(self, search: _Search, objective: float, solution: list[int], bound: float | None) -> None:
        if search.adopt(objective, solution, bound):
            self.gained = time.monotonic()

    def _run(self) -> None:
        params = self.solver.parameters
        params.max_time_in_seconds = max(0.0, self.deadline - time.monotonic())
        params.num_workers = 1
        params.random_seed = self.seed
        for name, value in {**COMPANION_PARAMETERS, **self.controls.whole}.items():
            setattr(params, name, value)
        try:
            with kill_switch(self.solver, self.controls.stop, "lns-companion-kill-switch"):
                code = self.solver.solve(self.built.model, _Offers(self))
            if code == cp_model.OPTIMAL and self.best is not None:
                self.optimal = True
                self.bound = self.best.objective
                search = self.search
                if search is not None:
                    self._hand(search, self.best.objective, self.best.solution, self.bound)
        finally:
            self.done.set()


class _Offers(cp_model.CpSolverSolutionCallback):
    """Hands each schedule the companion finds to it."""

    def __init__(self, side: _Companion) -> None:
        super().__init__()
        self.side = side

    def on_solution_callback(self) -> None:
        self.side.offer(self.objective_value, list(self.response_proto.solution), self.best_objective_bound)


@dataclass
class _Run:
    """One CP-SAT call on the whole model: status, objective, bound and every variable's value."""

    status: str
    objective: float | None
    bound: float | None
    seconds: float
    solution: list[int] | None
    progress: list[Progress]


class _FirstSolution(cp_model.CpSolverSolutionCallback):
    """Notes when a step's first solution (usually the hint, once loaded) arrives."""

    def __init__(self) -> None:
        super().__init__()
        self.started = time.monotonic()
        self.seconds: float | None = None

    def on_solution_callback(self) -> None:
        if self.seconds is None:
            self.seconds = time.monotonic() - self.started


class _ProgressCallback(cp_model.CpSolverSolutionCallback):
    """Records each improving solution; from ``switch_at`` on, the first one ends the search (unless
    ``stall`` is set: then the watcher of :func:`_solve_whole` ends it, see :func:`_stall_wait`)."""

    def __init__(
        self, started: float, switch_at: float, controls: _Controls = _QUIET, stall: float | None = None
    ) -> None:
        super().__init__()
        self.started = started
        self.switch_at = switch_at
        self.controls = controls
        self.stall = stall
        self.progress: list[Progress] = []

    def on_solution_callback(self) -> None:
        self.progress.append(Progress(time.monotonic() - self.started, self.objective_value, self.best_objective_bound))
        self.controls.report(self.objective_value, self.best_objective_bound)
        if self.stall is None and time.monotonic() >= self.switch_at:
            self.stop_search()


def _stall_wait(now: float, switch_at: float, last: float | None, stall: float) -> float:
    """Seconds the whole-model solve may still run under the stall rule (0: stop it now).

    It runs until ``switch_at``; after that, while it keeps improving: it stops once it has gone ``stall``
    seconds without a better schedule, at once when it had by ``switch_at`` (``last``: when it found its
    latest, None while it has none; a solve without any schedule runs on until its first).
    """
    if now < switch_at:
        return switch_at - now
    if last is None:
        return POLL
    return max(0.0, last + stall - now)


def _solve_whole(
    built: BuiltModel,
    time_limit: float,
    workers: int,
    seed: int,
    switch: float | None = None,
    controls: _Controls = _QUIET,
    stall: float | None = None,
) -> _Run:
    """CP-SAT on the whole model; with ``switch``, it stops after that many seconds once it has a schedule,
    or with ``stall`` too, after that once it has gone ``stall`` seconds without a better one (:func:`_stall_wait`)."""
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = float(time_limit)
    solver.parameters.num_workers = max(2, workers)  # one CP-SAT worker alone may find no schedule at all
    solver.parameters.random_seed = seed
    solver.parameters.relative_gap_limit = controls.relative_gap
    for name, value in controls.whole.items():
        setattr(solver.parameters, name, value)
    started = time.monotonic()
    callback = _ProgressCallback(started, started + (time_limit if switch is None else switch), controls, stall)
    finished = threading.Event()

    def watch() -> None:
        if stall is None:
            if finished.wait(callback.switch_at - time.monotonic()):
                return
        else:
            while (wait := _stall_wait(time.monotonic(), callback.switch_at, last(), stall)) > 0:
                if finished.wait(wait):
                    return
        while callback.progress == [] and not finished.wait(POLL):
            pass
        solver.stop_search()

    def last() -> float | None:
        progress = callback.progress
        return started + progress[-1].seconds if progress else None

    watcher = threading.Thread(target=watch, name="first-solve-switch", daemon=True)
    if switch is not None:
        watcher.start()
    try:
        with kill_switch(solver, controls.stop) as cancelled:
            code = solver.solve(built.model, callback)
    finally:
        finished.set()
    if switch is not None:
        watcher.join()
    seconds = time.monotonic() - started
    status = {
        cp_model.OPTIMAL: "optimal",
        cp_model.FEASIBLE: "feasible",
        cp_model.INFEASIBLE: "infeasible",
        cp_model.MODEL_INVALID: "invalid_model",
    }.get(code, "cancelled" if cancelled.is_set() else "timeout")
    found = code in (cp_model.OPTIMAL, cp_model.FEASIBLE)
    return _Run(
        status,
        solver.objective_value if found else None,
        solver.best_objective_bound if found or code == cp_model.UNKNOWN else None,
        seconds,
        list(solver.response_proto.solution) if found else None,
        callback.progress,
    )


def _complete(built: BuiltModel, cells: frozenset[Cell], time_limit: float, seed: int) -> _Run:
    """The whole model with every cell fixed as in ``cells``: the schedule's other variables and objective."""
    model = built.model.clone()
    proto = model.proto
    for cell, index in built.x.indices().items():
        domain = proto.variables[index].domain
        domain[0] = domain[1] = int(cell in cells)
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = float(time_limit)
    solver.parameters.num_workers = 1
    solver.parameters.random_seed = seed
    started = time.monotonic()
    code = solver.solve(model)
    found = code in (cp_model.OPTIMAL, cp_model.FEASIBLE)
    objective = solver.objective_value if found else None
    progress = [Progress(time.monotonic() - started, objective, None)] if objective is not None else []
    # the objective is exact for these cells, but no bound on the whole model
    return _Run(
        "feasible" if found else "timeout",
        objective,
        None,
        time.monotonic() - started,
        list(solver.response_proto.solution) if found else None,
        progress,
    )


def _result(built: BuiltModel, run: _Run, started: float, extra: list[Progress]) -> SolveResult:
    """A :class:`SolveResult` of the whole search from its best run."""
    solution = run.solution
    cells: frozenset[Cell] = frozenset()
    penalties: dict[str, int] = {}
    status = run.status
    if solution is not None:
        cells = built.x.extract(lambda v: _value(solution, v))
        penalties = penalty_totals(built, lambda v: _value(solution, v))
        if (
            status == "feasible"
            and run.bound is not None
            and run.objective is not None
            and run.objective <= math.ceil(run.bound - 1e-6)
        ):
            status = "optimal"
    return SolveResult(
        status,  # type: ignore[arg-type]
        run.objective,
        run.bound,
        time.monotonic() - started,
        cells,
        penalties,
        list(run.progress) + extra,
    )


def _value(solution: Sequence[int], var: Any) -> int:
    index = int(var.index)
    return int(solution[index]) if index >= 0 else 1 - int(solution[-index - 1])


@dataclass(frozen=True)
class _Best:
    """The best schedule so far: its objective, every variable's value and a version number."""

    objective: float
    solution: list[int]
    version: int


@dataclass
class _KindStats:
    tries: int = 0
    better: int = 0
    finished: int = 0
    seconds: float = 0.0
    effort: float = 0.0
    gain: float = 0.0


class _Search:
    """The shared state of the neighbourhood search threads."""

    def __init__(
        self,
        built: BuiltModel,
        start: _Run,
        kinds: tuple[str, ...],
        seed: int,
        parameters: Mapping[str, Any] | None,
        started: float,
        select: str = "bandit",
    ) -> None:
        assert start.solution is not None and start.objective is not None
        unknown = set(kinds) - set(ALL_KINDS)
        if unknown or not kinds:
            raise ValueError(f"unknown neighbourhood kinds: {sorted(unknown)}")
        self.built = built
        self.parameters = dict(parameters or {})
        self.instance = built.instance
        self.best = _Best(start.objective, start.solution, 0)
        self.started = started
        self.bound = start.bound if start.bound is not None else float("-inf")
        self.progress: list[Progress] = []
        self.kinds = kinds
        self.select = select
        self.rate = dict.fromkeys(kinds, math.inf)
        """Each kind's recent gain per second of solving (infinite until tried)."""
        self.seed = seed
        self.lock = threading.Lock()
        self.steps = 0
        self.stats = {kind: _KindStats() for kind in kinds}
        inst = self.instance
        self.people = list(inst.person_ids)
        self.person_at = {p: n for n, p in enumerate(self.people)}
        self.cells = list(inst.cells)
        indices = built.x.indices()
        self.var = [indices[cell] for cell in self.cells]
        """The model variable of each cell position."""
        self.size = dict.fromkeys(kinds, min(0.1, START_CELLS / max(1, len(self.var))))
        """Each kind's size: the share of the people or days its neighbourhoods free."""
        self.groups: list[list[list[int]]] = [[[] for _ in range(inst.days)] for _ in self.people]
        """Cell positions by person and day."""
        for position, (person, day, _) in enumerate(self.cells):
            self.groups[self.person_at[person]][day].append(position)
        self._costs: tuple[int, list[float], list[float], list[float]] | None = None
        self.changes: list[tuple[int, list[int]]] = []
        """The cell positions each recent version changed (a thread catches up with them)."""
        self.history = 64
        self.trace = False
        self.controls = _QUIET
        self.loading = 0.0
        """Seconds a step takes to load the model and reach its hint (a moving average)."""

    # ------------------------------------------------------------------ threads

    def closed(self) -> bool:
        """Whether the best schedule meets the bound (optimal, nothing left to search) or comes within the
        controls' relative gap of it, or the search was stopped."""
        if self.controls.stopped():
            return True
        objective, bound = self.best.objective, self.bound
        if bound == -math.inf:
            return False
        return objective <= math.ceil(bound - 1e-6) or objective - bound <= self.controls.relative_gap * abs(objective)

    def adopt(self, objective: float, solution: list[int], bound: float | None) -> bool:
        """Take a schedule found elsewhere (the companion) when it is better than the best; and its bound."""
        with self.lock:
            if bound is not None:
                self.bound = max(self.bound, bound)
            if objective >= self.best.objective:
                return False
            self._take(objective, solution, None)
            return True

    def _take(self, objective: float, solution: list[int], candidates: Sequence[int] | None) -> None:
        """Make ``solution`` the best (under the lock), noting the cell positions it changed among
        ``candidates`` (None: any), and its progress when it is better."""
        current, var = self.best, self.var
        old = current.solution
        changed = [
            p for p in (range(len(var)) if candidates is None else candidates) if solution[var[p]] != old[var[p]]
        ]
        if objective < current.objective:
            self.progress.append(
                Progress(time.monotonic() - self.started, objective, None if math.isinf(self.bound) else self.bound)
            )
            self.controls.report(objective, self.bound)
        self.best = _Best(objective, solution, current.version + 1)
        self.changes.append((self.best.version, changed))
        del self.changes[: -self.history]
        self._costs = None

    def choose(self, rng: random.Random) -> str:
        """A kind of neighbourhood: each in turn at first, then mostly by recent gain per second."""
        untried = [kind for kind in self.kinds if self.rate[kind] == math.inf]
        if untried:
            return untried[0]
        if self.select == "uniform" or rng.random() < EXPLORE:
            return rng.choice(self.kinds)
        weights = [max(0.0, self.rate[kind]) for kind in self.kinds]
        if not any(weights):
            return rng.choice(self.kinds)
        return rng.choices(self.kinds, weights=weights)[0]

    def run(self, thread: int, deadline: float, step: float, effort: float | None = None) -> None:
        """Steps until ``deadline``; with ``effort``, steps of at most ``step`` deterministic time
        until they add up to ``effort`` (each charged ``STEP_OVERHEAD`` more): reproducible."""
        rng = random.Random(self.seed * 7919 + thread)
        used = 0.0
        model = self.built.model.clone()
        domains = [model.proto.variables[index].domain for index in self.var]
        state = bytearray(b"\x02" * len(self.var))  # 2: free, else the value the cell is fixed to
        free_before: list[int] = []
        synced = -1
        while True:
            left = deadline - time.monotonic() if effort is None else math.inf
            if left < 0.05 or (effort is not None and used >= effort) or self.closed():
                return
            with self.lock:
                base = self.best
                kind = self.choose(rng)
                if self.rate[kind] == math.inf:
                    self.rate[kind] = -1.0  # being tried
                size = self.size[kind]
                self.steps += 1
                number = self.steps
                log = list(self.changes)
            free = self.neighbourhood(kind, size, base, rng)
            solution = base.solution
            var = self.var
            # fix the cells outside the neighbourhood: only those whose state may have changed
            touched: Sequence[int]
            if synced < 0 or (synced != base.version and (not log or log[0][0] > synced + 1)):
                touched = range(len(var))
            else:
                touched = [p for version, changed in log if version > synced for p in changed] + free_before
            freed = set(free)
            for position in itertools.chain(touched, free):
                want = 2 if position in freed else solution[var[position]]
                if state[position] != want:
                    domain = domains[position]
                    if want == 2:
                        domain[0], domain[1] = 0, 1
                    else:
                        domain[0] = domain[1] = want
                    state[position] = want
            free_before = free
            synced = base.version
            hint = model.proto.solution_hint  # the whole schedule, every variable: found at once
            hint.vars.clear()
            hint.vars.extend(range(len(solution)))
            hint.values.clear()
            hint.values.extend(solution)
            solver = cp_model.CpSolver()
            params = solver.parameters
            if effort is None:
                params.max_time_in_seconds = min(max(step, LOADING_FACTOR * self.loading), left)
            else:
                params.max_deterministic_time = min(step, effort - used)
            params.num_workers = 1
            params.random_seed = (self.seed + number) % (2**31)
            for name, value in self.parameters.items():
                setattr(params, name, value)
            began = time.monotonic()
            first = _FirstSolution()
            with kill_switch(solver, self.controls.stop, "lns-step-kill-switch"):
                code = solver.solve(model, first)
            spent = time.monotonic() - began
            if effort is not None:
                spent = solver.response_proto.deterministic_time + STEP_OVERHEAD
                used += spent
            found = code in (cp_model.OPTIMAL, cp_model.FEASIBLE)
            objective = solver.objective_value if found else None
            new_solution = (
                list(solver.response_proto.solution) if objective is not None and objective <= base.objective else None
            )
            if self.trace:
                print(
                    f"{time.monotonic() - self.started:6.1f} t{thread} {kind:<7} size {size:.3f} free {len(free):5} "
                    f"{solver.status_name(code):<9} {spent:5.2f}s {solver.response_proto.deterministic_time:5.2f}d "
                    f"{base.objective} -> {objective}",
                    flush=True,
                )
            with self.lock:
                stats = self.stats[kind]
                stats.tries += 1
                stats.seconds += spent
                stats.effort += solver.response_proto.deterministic_time
                stats.finished += code == cp_model.OPTIMAL
                gain = 0.0
                if new_solution is not None and objective is not None and objective <= self.best.objective:
                    gain = self.best.objective - objective
                    if gain > 0:
                        stats.better += 1
                        stats.gain += gain
                    self._take(objective, new_solution, free if self.best.version == base.version else None)
                if effort is None:  # how long loading a step takes: the time to its first solution
                    seen = first.seconds
                    self.loading = max(self.loading, spent) if seen is None else 0.8 * self.loading + 0.2 * seen
                rate = gain / max(spent, 1e-3)
                previous = self.rate[kind]
                self.rate[kind] = rate if previous < 0 else (1 - SMOOTHING) * previous + SMOOTHING * rate
                if code == cp_model.OPTIMAL:
                    if effort is None:
                        quick = spent < QUICK * params.max_time_in_seconds
                    else:
                        quick = solver.response_proto.deterministic_time < QUICK * params.max_deterministic_time
                    self.size[kind] = min(1.0, self.size[kind] * (QUICK_RESIZE if quick else RESIZE))
                elif code in (cp_model.FEASIBLE, cp_model.UNKNOWN):
                    self.size[kind] = max(0.01, self.size[kind] / RESIZE)

    # ------------------------------------------------------------------ neighbourhoods

    def costs(self, best: _Best) -> tuple[list[float], list[float], list[float]]:
        """What ``best`` costs on each day (all), on each day in coverage, and for each person (requests)."""
        with self.lock:
            cached = self._costs
        if cached is not None and cached[0] == best.version:
            return cached[1], cached[2], cached[3]
        inst = self.instance
        day_cost = [0.0] * inst.days
        cover_cost = [0.0] * inst.days
        person_cost = [0.0] * len(self.people)
        for penalty in self.built.penalties:
            value = penalty.weight * (sum(c * _value(best.solution, v) for c, v in penalty.terms) + penalty.constant)
            if not value:
                continue
            _, _, number = penalty.name.partition(":")
            if penalty.rule == "coverage_target" and number.isdigit():
                day = inst.demands[int(number)].day
                day_cost[day] += value
                cover_cost[day] += value
            elif penalty.rule == "shift_requests" and number.isdigit():
                request = inst.requests[int(number)]
                day_cost[request.day] += value
                person_cost[self.person_at[request.person]] += value
        with self.lock:
            if self.best.version == best.version:
                self._costs = (best.version, day_cost, cover_cost, person_cost)
        return day_cost, cover_cost, person_cost

    def _costly_day(self, weights: list[float], rng: random.Random) -> int | None:
        return rng.choices(range(len(weights)), weights=weights)[0] if any(weights) else None

    def _helpers(self, best: _Best, day: int | None, count: int, rng: random.Random) -> list[int]:
        """``count`` people, first those off on ``day`` (who could cover it), favouring those whose requests cost."""
        _, _, person_cost = self.costs(best)
        everyone = range(len(self.people))
        if day is None:
            pool = list(everyone)
        else:
            solution, var = best.solution, self.var
            pool = [n for n in everyone if not any(solution[var[p]] for p in self.groups[n][day])]
        chosen: list[int] = []
        weights = [1.0 + person_cost[n] for n in pool]
        while pool and len(chosen) < count:
            pick = rng.choices(range(len(pool)), weights=weights)[0]
            chosen.append(pool.pop(pick))
            weights.pop(pick)
        if len(chosen) < count:
            rest = [n for n in everyone if n not in chosen]
            chosen += rng.sample(rest, min(len(rest), count - len(chosen)))
        return chosen

    def neighbourhood(self, kind: str, size: float, best: _Best, rng: random.Random) -> list[int]:
        """The cell positions a step frees: about ``size`` × all cells, shaped by ``kind``."""
        days = self.instance.days
        count = len(self.people)
        groups = self.groups
        if kind in ("people", "helpers"):
            number = max(1, min(count, round(size * count)))
            if kind == "people":
                chosen = rng.sample(range(count), number)
            else:
                _, cover_cost, _ = self.costs(best)
                chosen = self._helpers(best, self._costly_day(cover_cost, rng), number, rng)
            return [p for n in chosen for group in groups[n] for p in group]
        if kind in ("days", "focus"):
            width = max(1, min(days, round(size * days)))
            centre = self._costly_day(self.costs(best)[0], rng) if kind == "focus" else None
            if centre is None:
                first = rng.randrange(days - width + 1)
            else:
                first = max(0, min(days - width, centre - rng.randrange(width)))
            return [p for n in range(count) for d in range(first, first + width) for p in groups[n][d]]
        if kind == "weekly":
            # every person on the same few weekdays of every week, anchored on a day that costs
            width = max(1, min(7, days, round(size * 7)))
            centre = self._costly_day(self.costs(best)[0], rng)
            start = (rng.randrange(days) if centre is None else centre) - rng.randrange(width)
            chosen_days = sorted({d for d in range(days) if (d - start) % 7 < width})
            return [p for n in range(count) for d in chosen_days for p in groups[n][d]]
        if kind == "rota":
            # a few people on the same few weekdays of every week, anchored on a day short of cover
            width = rng.randint(1, min(4, days))
            _, cover_cost, _ = self.costs(best)
            centre = self._costly_day(cover_cost, rng)
            start = (rng.randrange(days) if centre is None else centre) - rng.randrange(width)
            chosen_days = sorted({d for d in range(days) if (d - start) % 7 < width})
            number = max(2, min(count, round(size * count * days / len(chosen_days))))
            chosen = self._helpers(best, centre, number, rng)
            return [p for n in chosen for d in chosen_days for p in groups[n][d]]
        # block and patch: a share of the people over a stretch of days, about size × all cells
        if kind == "block":
            width = rng.randint(min(days, 4), days)
            number = max(2, min(count, round(size * count * days / width)))
            chosen = rng.sample(range(count), number)
            first = rng.randrange(days - width + 1)
        else:
            _, cover_cost, _ = self.costs(best)
            centre = self._costly_day(cover_cost, rng)
            width = rng.randint(min(days, 7), min(days, 14))
            number = max(2, min(count, round(size * count * days / width)))
            chosen = self._helpers(best, centre, number, rng)
            first = (
                rng.randrange(days - width + 1)
                if centre is None
                else max(0, min(days - width, centre - rng.randrange(width)))
            )
        return [p for n in chosen for d in range(first, first + width) for p in groups[n][d]]
