"""Thin Prefect tasks of a repair: each calls one function of the service layer."""

from __future__ import annotations

import datetime as dt

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from rotaflow.configs.settings import get_settings
from rotaflow.constraints.instance import Instance
from rotaflow.constraints.repair import RepairResult, repair_solve
from rotaflow.constraints.ruleset import ConfiguredRule
from rotaflow.services import generate as service
from rotaflow.services import ingest as ingest_service
from rotaflow.services import repair as repairs
from rotaflow.services import versions
from rotaflow.services.year_report import prior_loads
from rotaflow.tasks.generate import watched_solve
from rotaflow.validations.bundle import Bundle
from rotaflow.validations.instances import rules_for

__all__ = ["build_repair_instance", "solve_repair"]


@task(name="build-repair-instance", cache_policy=NO_CACHE)
def build_repair_instance(
    bundle: Bundle, block_id: str, from_date: dt.date | None
) -> tuple[Instance, list[ConfiguredRule]]:
    """The block's published version, the repair date, and the instance with the days before it frozen."""
    settings = get_settings()
    engine = ingest_service.database_engine(settings)
    blocks = bundle.frames["blocks"].set_index("block_id")
    if block_id not in blocks.index:  # the same error as generation's for an unknown block
        from rotaflow.validations.instances import block_instance

        block_instance(bundle, block_id)
    start = blocks.at[block_id, "start_date"].date()
    base = versions.published_version(engine, bundle.program.key, block_id)
    chosen = repairs.repair_from(bundle, block_id, from_date)
    history = service.history_from_database(engine, bundle.program.key, start)
    instance = repairs.repair_instance(
        bundle,
        block_id,
        base=base,
        history=history,
        from_date=chosen,
        next_number=versions.next_version(engine, bundle.program.key, block_id),
    )
    instance.prior = prior_loads(engine, bundle, block_id)  # the year so far, for year-scope fairness
    # the validator must see the same past as the solver: keep the published history it was given
    instance.meta["database_history"] = [(p, d.isoformat(), s) for p, d, s in history]
    get_run_logger().info(
        "repairing %s from version %s: %d day(s) before %s kept as published",
        block_id,
        base.number if base else None,
        instance.frozen_days,
        chosen,
    )
    return instance, rules_for(bundle)


@task(name="solve", cache_policy=NO_CACHE)
def solve_repair(instance: Instance, rules: list[ConfiguredRule], settings: service.SolverSettings) -> RepairResult:
    """Fewest changes first, then the usual objective, within the time limit; stops when the run is cancelled."""
    return watched_solve(
        settings,
        lambda stop, on_progress: repair_solve(
            instance,
            rules,
            time_limit=settings.time_limit_seconds,
            workers=settings.workers,
            seed=settings.seed,
            stop=stop,
            on_progress=on_progress,
        ),
        lambda repaired: repaired.result,
    )
