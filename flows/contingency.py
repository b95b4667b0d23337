"""Flow ``contingency_report``: can the block survive losing any one (N-1) or any two (N-2) people?

The screens settle most scenarios in one task; the rest fan out as mapped CP-SAT repair tasks
on the task runner the settings choose (``ROTAFLOW_CONTINGENCY_TASK_RUNNER``): a thread pool,
or Dask — the scheduler at ``ROTAFLOW_DASK_ADDRESS``, else a LocalCluster of
``ROTAFLOW_CONTINGENCY_WORKERS`` workers. Each solve is deterministic, so every runner gives
the same scenario frame. Dask workers on other processes or machines report their task runs to
the Prefect API, so they need one (``PREFECT_API_URL``: ``prefect server start``).
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

from prefect import flow, unmapped
from prefect.states import State
from prefect.task_runners import ThreadPoolTaskRunner

from rotaflow.configs.settings import Settings, get_settings
from rotaflow.errors import InputError, Problem
from rotaflow.flows import outcome
from rotaflow.services.planning import program_today
from rotaflow.tasks.arguments import as_is
from rotaflow.tasks.contingency import (
    assemble_analysis,
    block_history,
    load_contingency_program,
    prepare_analysis,
    publish_contingency,
    published_schedule,
    repair,
    screen,
)
from rotaflow.validations.contingency import ContingencyAnalysis, ContingencyContext, RepairJob, ScenarioResult

__all__ = ["contingency_analysis", "contingency_report", "contingency_task_runner", "current_block"]


def contingency_task_runner(settings: Settings | None = None, *, processes: bool = True) -> Any:
    """The task runner the settings name.

    A LocalCluster runs its workers as processes when Prefect has an API to report to
    (``PREFECT_API_URL``); without one each worker process would start a temporary API of its own,
    so the workers run as threads instead (CP-SAT releases the GIL: the solves still run in
    parallel). ``processes=False`` asks for threads always.
    """
    from prefect.settings import PREFECT_API_URL

    settings = settings or get_settings()
    if settings.contingency_task_runner == "threads":
        return ThreadPoolTaskRunner(max_workers=settings.contingency_workers)
    from prefect_dask import DaskTaskRunner

    if settings.dask_address:
        return DaskTaskRunner(address=settings.dask_address)
    return DaskTaskRunner(
        cluster_kwargs={
            "n_workers": settings.contingency_workers,
            "threads_per_worker": 1,
            "processes": processes and bool(PREFECT_API_URL.value()),
            "dashboard_address": ":0",  # any free port: never "8787 is already in use"
        }
    )


def _solve(context: ContingencyContext, jobs: list[RepairJob]) -> list[ScenarioResult]:
    """The scenarios the screens left open, as mapped repair tasks (in job order)."""
    if not jobs:
        return []
    return list(repair.map(unmapped(context), jobs).result())


def current_block(bundle: Any, today: dt.date | None = None) -> str:
    """The block that contains ``today`` (default: today in the program's timezone); ``InputError`` when none does."""
    zone = bundle.program.timezone
    day = today or program_today(zone)
    blocks = bundle.frames["blocks"]
    holding = blocks[(blocks["start_date"].dt.date <= day) & (blocks["end_date"].dt.date >= day)]
    if holding.empty:
        raise InputError(
            [
                Problem(
                    "blocks.csv",
                    None,
                    "block_id",
                    f"a block containing today ({day} in {zone}), or a block_id given",
                    f"no block of {bundle.program.key} contains {day}",
                )
            ]
        )
    return str(holding.iloc[0]["block_id"])


@flow(name="contingency-analysis", log_prints=False, on_failure=[outcome.unreported_failure])
def contingency_analysis(
    program: str,
    block_id: str | None = None,
    schedule: str | None = None,
    order: int = 2,
    from_date: dt.date | None = None,
    deterministic_time: float | None = None,
) -> ContingencyAnalysis:
    """Screens, then the mapped repairs, N-1 before N-2 (whose pairs with a critical member are settled by it).

    ``block_id`` None: the block containing today in the program's timezone.
    """
    if order not in (1, 2):
        raise ValueError("order is 1 (N-1) or 2 (N-2)")
    started = time.perf_counter()
    bundle = load_contingency_program(program)
    block_id = block_id or current_block(bundle)
    cells = published_schedule(as_is(bundle), block_id, schedule)
    history = block_history(as_is(bundle), block_id)
    context = prepare_analysis(as_is(bundle), block_id, as_is(cells), as_is(history), from_date, deterministic_time)
    first = screen(as_is(context), 1, [])
    singles = first.settled + _solve(context, first.jobs)
    results = list(singles)
    if order == 2:
        second = screen(as_is(context), 2, as_is(singles))
        results += second.settled + _solve(context, second.jobs)
    return assemble_analysis(as_is(context), as_is(results), order, time.perf_counter() - started)


@flow(name="contingency-report", log_prints=False, on_failure=[outcome.unreported_failure])
def contingency_report(
    program: str,
    block_id: str | None = None,
    schedule: str | None = None,
    order: int = 2,
    from_date: dt.date | None = None,
    deterministic_time: float | None = None,
) -> ContingencyAnalysis | State:
    """N-1 (``order=1``) or N-1 and N-2 (``order=2``) of a block's schedule, people removed from
    ``from_date`` on; publishes artifacts.

    Args:
        program: The program bundle: a folder, a .zip or an s3://bucket/prefix.
        block_id: The block, as in blocks.csv (e.g. 2027-B01); empty: the block containing today in the
            program's timezone.
        schedule: An assignments.csv to analyse; empty: the block's published schedule (a block with
            nothing published is refused, nothing is solved in its place).
        order: 1 (lose any one person) or 2 (also any two).
        from_date: People are removed from this day on (default: the whole block).
        deterministic_time: The CP-SAT deterministic time limit of each repair (default: the service's).
    """
    runner = contingency_task_runner(get_settings())
    analysis = contingency_analysis.with_options(task_runner=runner)(
        program, block_id, schedule, order, from_date, deterministic_time
    )
    publish_contingency(analysis)
    line = f"contingency of {analysis.block_id} (N-{analysis.order}): {len(analysis.scenarios)} scenario(s); "
    line += f"{len(analysis.critical)} critical person(s), {len(analysis.fatal_pairs)} fatal pair(s)"
    return outcome.completed(line, data=analysis)
