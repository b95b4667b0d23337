"""Thin Prefect tasks of the N-1/N-2 contingency analysis: each calls one service function."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from prefect import get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE

from rotaflow.configs.settings import get_settings
from rotaflow.errors import InputError, Problem
from rotaflow.services import generate as generate_service
from rotaflow.services import ingest as ingest_service
from rotaflow.validations import contingency as service
from rotaflow.validations.bundle import Bundle

__all__ = [
    "assemble_analysis",
    "block_history",
    "load_contingency_program",
    "prepare_analysis",
    "publish_contingency",
    "published_schedule",
    "repair",
    "screen",
]

Cells = list[tuple[str, dt.date, str]]


@task(name="load-program", cache_policy=NO_CACHE, retries=1, retry_delay_seconds=2)
def load_contingency_program(program: str) -> Bundle:
    """Read and check the bundle under its contract."""
    return ingest_service.load_bundle(program, settings=get_settings())


@task(name="block-history", cache_policy=NO_CACHE, retries=1, retry_delay_seconds=2)
def block_history(bundle: Bundle, block_id: str) -> Cells:
    """Published shifts of the 40 days before the block: the rolling windows reach back into them."""
    blocks = bundle.frames["blocks"].set_index("block_id")
    if block_id not in blocks.index:
        return []  # the service names the unknown block
    engine = ingest_service.database_engine(get_settings())
    first = blocks.at[block_id, "start_date"].date()
    return generate_service.history_from_database(engine, bundle.program.key, first)


@task(name="published-schedule", cache_policy=NO_CACHE)
def published_schedule(bundle: Bundle, block_id: str, schedule: str | None) -> Cells:
    """The schedule to analyse: an assignments.csv, else the block's published one.

    A block with nothing published is refused (``InputError``): the report is about the schedule
    the program runs on, so it never solves a new one in its place.
    """
    if schedule is not None:
        from rotaflow.validations.schedule import load_schedule, read_schedule_file

        path = Path(schedule)
        frame = load_schedule(bundle, read_schedule_file(path), file=path.name)
        return list(zip(frame["person_id"], frame["date"].dt.date, frame["shift_id"], strict=True))
    blocks = bundle.frames["blocks"].set_index("block_id")
    if block_id not in blocks.index:
        known = ", ".join(blocks.index)
        raise InputError([Problem("command line", None, "--block", f"a block id from blocks.csv ({known})", block_id)])
    first = blocks.at[block_id, "start_date"].date()
    last = blocks.at[block_id, "end_date"].date()
    engine = ingest_service.database_engine(get_settings())
    days = (last - first).days + 1
    cells = generate_service.history_from_database(engine, bundle.program.key, last + dt.timedelta(days=1), days)
    published = [c for c in cells if first <= c[1] <= last]
    if not published:
        raise InputError(
            [
                Problem(
                    "database",
                    None,
                    "block_id",
                    f"a block with a published schedule (publish one first: rotaflow generate --block {block_id}, "
                    "or pass an assignments.csv as schedule)",
                    f"block {block_id} of {bundle.program.key} has nothing published",
                )
            ]
        )
    return published


@task(name="prepare-contingency", cache_policy=NO_CACHE)
def prepare_analysis(
    bundle: Bundle,
    block_id: str,
    cells: Cells,
    history: Cells,
    from_date: dt.date | str | None,
    deterministic_time: float | None,
) -> service.ContingencyContext:
    """Instance (with the history), hard rules and the schedule (which must meet them)."""
    return service.prepare_context(
        bundle,
        block_id,
        cells,
        from_date=from_date,
        deterministic_time=deterministic_time or service.DEFAULT_DETERMINISTIC_TIME,
        history=history,
    )


@task(name="screen-scenarios", cache_policy=NO_CACHE)
def screen(context: service.ContingencyContext, order: int, singles: list[service.ScenarioResult]) -> service.Screened:
    """Trivial, supply screen and greedy repair: everything that needs no solve."""
    screened = service.screen_scenarios(context, order, singles=singles)
    get_run_logger().info(
        "N-%d: %d scenario(s) settled by the screens, %d left for the solver",
        order,
        len(screened.settled),
        len(screened.jobs),
    )
    return screened


@task(name="repair-scenario", cache_policy=NO_CACHE)
def repair(context: service.ContingencyContext, job: service.RepairJob) -> service.ScenarioResult:
    """CP-SAT: the fewest changes that cover the block without the job's people (or: none can)."""
    return service.repair_scenario(context, job)


@task(name="assemble-contingency", cache_policy=NO_CACHE)
def assemble_analysis(
    context: service.ContingencyContext, results: list[service.ScenarioResult], order: int, seconds: float
) -> service.ContingencyAnalysis:
    """The scenario frame, critical people, fatal pairs and the jeopardy pool."""
    return service.assemble(context, results, order=order, seconds=seconds)


@task(name="publish-contingency", cache_policy=NO_CACHE)
def publish_contingency(analysis: service.ContingencyAnalysis) -> None:
    """A markdown summary and the scenario table as artifacts (ids only, no names)."""
    facts = analysis.summary()
    lines = [
        f"# Contingency of block {analysis.block_id} of `{analysis.program}` (N-{analysis.order})",
        "",
        f"- people removed from {facts['from_date']} on; {facts['scenarios']} scenario(s) in "
        f"{facts['seconds']:.1f} s, {facts['settled_without_solve']:.0%} settled without a solve",
    ]
    for order in (1, 2):
        part = facts.get(f"n{order}")
        if part:
            how = ", ".join(f"{k} {v}" for k, v in part["settled_by"].items())
            lines.append(f"- N-{order}: {part['scenarios']} scenario(s), {part['uncovered']} uncovered ({how})")
    lines.append(f"- critical people (N-1 uncovered): {', '.join(analysis.critical) or 'none'}")
    if analysis.order == 2:
        fatal = ", ".join(f"{a}+{b}" for a, b in analysis.fatal_pairs[:50]) or "none"
        lines.append(f"- fatal pairs without a critical member: {fatal}")
        lines.append(f"- pairs with a critical member (uncovered by N-1): {analysis.pairs_with_critical}")
    pool = analysis.jeopardy
    lines.append(
        f"- jeopardy pool of {pool.size}: stand-ins {', '.join(pool.members) or 'none'}"
        + (
            f"; {pool.cross_cover} cross-cover backup(s) for {', '.join(pool.cross_cover_shifts)}"
            if pool.cross_cover
            else ""
        )
    )
    create_markdown_artifact(key="contingency-summary", markdown="\n".join(lines), description="N-1/N-2 contingency")
    create_table_artifact(
        key="contingency-scenarios", table=_table(analysis)[:500], description="Contingency scenarios"
    )


def _table(analysis: service.ContingencyAnalysis) -> list[dict[str, Any]]:
    """Uncovered scenarios first, then by repair size: JSON-ready rows."""
    frame = analysis.scenarios.copy()
    frame["_rank"] = frame["outcome"].map({"uncovered": 0, "unknown": 1}).fillna(2)
    frame["_size"] = frame["repair_size"].fillna(-1).astype(int)
    frame = frame.sort_values(["_rank", "_size", "order", "people"], ascending=[True, False, True, True])
    rows = []
    for row in frame.to_dict("records"):
        rows.append(
            {
                "people": ";".join(row["people"]),
                "order": int(row["order"]),
                "outcome": row["outcome"],
                "settled_by": row["settled_by"],
                "first_uncovered": " ".join(
                    str(v) for v in (row["first_uncovered_date"], row["first_uncovered_shift"]) if _given(v)
                ),
                "repair_size": None if not _given(row["repair_size"]) else int(row["repair_size"]),
                "repair_minimal": None if not _given(row["repair_minimal"]) else bool(row["repair_minimal"]),
                "stand_ins": ";".join(row["stand_ins"]),
            }
        )
    return rows


def _given(value: Any) -> bool:
    import pandas as pd

    return value is not None and not (not isinstance(value, str | tuple) and pd.isna(value))
