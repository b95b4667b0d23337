"""The analysis driver: N-1 (and N-2) of a block's schedule, screened then repaired, assembled into the
scenario frame, the critical people, the fatal pairs and the backup pool."""

from __future__ import annotations

import datetime as dt
import time
from collections import Counter
from collections.abc import Callable, Iterable

import pandas as pd

from rotaflow.validations.bundle import Bundle
from rotaflow.validations.contingency.context import DEFAULT_DETERMINISTIC_TIME, ContingencyContext, prepare_context
from rotaflow.validations.contingency.repair import solve_serially
from rotaflow.validations.contingency.results import (
    RESULT_COLUMNS,
    ContingencyAnalysis,
    JeopardyPool,
    RepairJob,
    ScenarioResult,
)
from rotaflow.validations.contingency.scenarios import _scenarios, screen_scenarios

__all__ = ["Mapper", "analyse_contingency", "assemble"]

Mapper = Callable[["ContingencyContext", list[RepairJob]], list[ScenarioResult]]
"""Runs repair_scenario over the jobs (in order): serially, or as mapped Prefect tasks."""


# --------------------------------------------------------------------------- assembling


def assemble(
    context: ContingencyContext, results: Iterable[ScenarioResult], *, order: int, seconds: float = 0.0
) -> ContingencyAnalysis:
    """The scenario frame (N-1 rows, then N-2, each by people), critical people, fatal pairs, pool."""
    rows = sorted(results, key=lambda r: (r.order, r.people))
    frame = pd.DataFrame([r.row() for r in rows], columns=RESULT_COLUMNS)
    frame["order"] = frame["order"].astype("int64")
    for column in ("repair_size", "lower_bound"):
        frame[column] = frame[column].astype("Int64")
    frame["repair_minimal"] = frame["repair_minimal"].astype("boolean")
    singles = [r for r in rows if r.order == 1]
    critical = tuple(sorted(r.people[0] for r in singles if r.outcome == "uncovered"))
    pairs = [r for r in rows if r.order == 2 and r.outcome == "uncovered"]
    fatal = tuple(r.people for r in pairs if r.settled_by != "n-1")
    covered = [r for r in rows if r.outcome == "covered"]
    frequency = Counter(p for r in covered for p in r.stand_ins)
    largest = max((len(r.stand_ins) for r in singles if r.outcome == "covered"), default=0)
    members = tuple(sorted(frequency, key=lambda p: (-frequency[p], p))[:largest])
    shifts = tuple(
        sorted({r.first_uncovered_shift for r in singles if r.outcome == "uncovered" and r.first_uncovered_shift})
    )
    pool = JeopardyPool(
        size=len(members) + len(critical),
        members=members,
        cross_cover=len(critical),
        cross_cover_shifts=shifts,
        largest_repair_people=largest,
        largest_repair_size=max((r.repair_size or 0 for r in singles if r.outcome == "covered"), default=0),
    )
    return ContingencyAnalysis(
        program=context.program,
        block_id=context.block_id,
        order=order,
        from_date=context.from_date,
        scenarios=frame,
        critical=critical,
        fatal_pairs=tuple((a, b) for a, b in fatal),
        pairs_with_critical=sum(1 for r in pairs if r.settled_by == "n-1"),
        jeopardy=pool,
        seconds=seconds,
    )


def analyse_contingency(
    bundle: Bundle,
    block_id: str,
    cells: Iterable[tuple[str, int | dt.date, str]],
    *,
    order: int = 1,
    from_date: dt.date | str | None = None,
    solve: Mapper | None = None,
    deterministic_time: float = DEFAULT_DETERMINISTIC_TIME,
    seed: int = 0,
    history: Iterable[tuple[str, dt.date, str]] = (),
    on_progress: Callable[[int, int], None] | None = None,
) -> ContingencyAnalysis:
    """N-1 (``order=1``) or N-1 and N-2 (``order=2``) of a block's schedule, without Prefect.

    ``solve`` maps :func:`repair_scenario` over the scenarios the screens leave open (default:
    one after another here). ``on_progress(done, total)`` hears of the scenarios settled, over both
    orders: at the start, after each screening and after each mapping (the observers of
    ``rotaflow.events`` hear of each scenario).
    """
    if order not in (1, 2):
        raise ValueError("order is 1 (N-1) or 2 (N-2)")
    started = time.perf_counter()
    mapper = solve or solve_serially
    context = prepare_context(
        bundle, block_id, cells, from_date=from_date, deterministic_time=deterministic_time, seed=seed, history=history
    )
    total = sum(len(_scenarios(context, k)) for k in range(1, order + 1)) if on_progress is not None else 0
    done = 0

    def settled(results: list[ScenarioResult]) -> list[ScenarioResult]:
        nonlocal done
        done += len(results)
        if on_progress is not None:
            on_progress(done, total)
        return results

    settled([])
    first = screen_scenarios(context, 1)
    singles = settled(first.settled) + settled(list(mapper(context, first.jobs)))
    results = list(singles)
    if order == 2:
        second = screen_scenarios(context, 2, singles=singles)
        results += settled(second.settled) + settled(list(mapper(context, second.jobs)))
    return assemble(context, results, order=order, seconds=time.perf_counter() - started)
