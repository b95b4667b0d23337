"""Flow ``repair_block``: re-solve a published block from a date with the past frozen and as few changes as possible.

ingest → the block's published version → preflight → solve (fewest changes, then the usual objective)
→ check → churn guard → export (with changes.csv and changes.html) → validate → (approval) → publish
as the block's next version + quick backup, in one transaction.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal, cast

from prefect import flow
from prefect.events import emit_event
from prefect.states import Cancelled, State
from prefect.transactions import transaction

from rotaflow.configs.settings import get_settings
from rotaflow.db.repositories import IngestResult
from rotaflow.errors import InfeasibleError, RotaflowError, StorageError
from rotaflow.flows import outcome
from rotaflow.flows.generate import NO_BACKUP, BackupFailed, _back_up, _check_export_validate, _stop, not_backed_up
from rotaflow.flows.ingest import ingest_program
from rotaflow.services import generate as service
from rotaflow.services import repair as repairs
from rotaflow.services.generate import PublishConflict
from rotaflow.services.results import GenerateResult
from rotaflow.tasks.arguments import as_is
from rotaflow.tasks.generate import (
    explain_infeasibility,
    load_for_generation,
    publish,
    run_preflight,
    write_summary,
)
from rotaflow.tasks.repair import build_repair_instance, solve_repair

__all__ = ["Approval", "repair", "repair_block"]

Approval = Callable[[GenerateResult, Path], str | None]
"""Asked before a repair is published: None to publish, or the reason it was rejected."""


@flow(name="repair-block", log_prints=False, on_failure=[outcome.unreported_failure])
def repair_block(
    program: str,
    block_id: str,
    out_dir: str | None = None,
    from_date: dt.date | None = None,
    publish: bool = False,
    allow_churn: bool = False,
    time_limit_seconds: float | None = None,
    contingency: Literal["none", "n1", "n2"] = "n1",
    backup: bool = True,
) -> dict[str, Any] | State:
    """Repair a published block: the days before ``from_date`` stay as published, the rest changes as little as
    the hard rules allow (the bundle's absences.csv is how a new absence arrives).

    Args:
        program: The program bundle: a folder, a .zip, or an s3://bucket/prefix.
        block_id: The block to repair, as in blocks.csv; it must have a published version.
        out_dir: Folder for everything generate writes plus changes.csv and changes.html (default:
            var/runs/<program>-<block>-repair-<run>).
        from_date: The first day that may change (default: tomorrow in the program's timezone, or the block's
            first day when that is later).
        publish: Publish the repaired schedule as the block's next version (with a quick backup); otherwise
            it is a preview.
        allow_churn: Accept a repair the churn guard refuses (configs/solver.yaml, repair:).
        time_limit_seconds: Seconds the solver may use (default: configs/solver.yaml).
        contingency: After validation: none, n1 or n2.
        backup: Take a quick-tier backup once the repair is published.

    Returns:
        summary.json's JSON form, with ``repair`` (from, changes, min_changes_bound, proved_minimal, churn);
        a failed run's error carries it as ``summary``.
    """
    return repair(
        program,
        block_id,
        out_dir=out_dir,
        from_date=from_date,
        publish=publish,
        allow_churn=allow_churn,
        time_limit_seconds=time_limit_seconds,
        contingency=contingency,
        backup=backup,
    )


def repair(
    program: str,
    block_id: str,
    *,
    out_dir: str | None = None,
    from_date: dt.date | None = None,
    publish: bool = False,
    allow_churn: bool = False,
    time_limit_seconds: float | None = None,
    contingency: Literal["none", "n1", "n2"] = "n1",
    backup: bool = True,
    approve: Approval | None = None,
    actor: str | None = None,
) -> dict[str, Any] | State:
    """The body of a repair flow (``repair_block``, ``absence_repair``): ``approve``, when given, is asked
    before publishing."""
    started_at = dt.datetime.now(dt.UTC)
    run_id = str(uuid.uuid4())
    if out_dir is not None:
        service.check_out_dir(out_dir)
    ingested = ingest_program(program, return_state=True)
    if ingested.is_failed():
        key = Path(program.rstrip("/")).name.removesuffix(".zip") or "bundle"
        emit_repair_event("failed", key, block_id, reason="the bundle broke its contract")
        return outcome.failed(str(ingested.message), data=ingested.result(raise_on_failure=False))
    stored = cast(IngestResult, ingested.result())
    bundle = load_for_generation(program)
    try:
        instance, rules = build_repair_instance(bundle, block_id, from_date)
    except RotaflowError as exc:  # no published version, a --from outside the days that may change …
        emit_repair_event("failed", bundle.program.key, block_id, reason=type(exc).__name__)
        return outcome.failed(str(exc), data=exc)
    if actor:
        instance.meta["actor"] = actor
    settings = service.load_solver_settings(time_limit_seconds=time_limit_seconds)
    out = out_dir or str(get_settings().var_dir / "runs" / f"{bundle.program.key}-{block_id}-repair-{run_id[:8]}")
    service.claim_out_dir(out)
    base = instance.meta["published_version"]
    summary = GenerateResult.start(
        run_id=run_id,
        program=bundle.program.key,
        program_version=stored.version,
        block_id=block_id,
        rules=[r.name for r in rules],
        time_limit_seconds=settings.time_limit_seconds,
    ).with_(based_on_version=getattr(base, "number", None))
    report = run_preflight(as_is(instance), as_is(rules))
    summary = summary.screened(report)
    if not report.ok:
        emit_repair_event("failed", summary.program, block_id, reason="the preflight screens refused the block")
        return _stop(out, instance, bundle, summary, "the preflight screens refused the block", emit=False)
    repaired = solve_repair(instance, rules, settings)
    result = repaired.result
    summary = summary.solved(result).with_(repair=repairs.repair_facts(instance, repaired, None))
    if result.status == "infeasible":
        summary = summary.diagnosed(explain_infeasibility(as_is(instance), as_is(rules), settings))
        emit_repair_event("failed", summary.program, block_id, reason="the repair is impossible")
        return _stop(out, instance, bundle, summary, "no repair keeps every hard rule", emit=False)
    if result.status == "cancelled":
        return Cancelled(message=f"the repair was cancelled after {result.seconds:.1f} s of solving")
    if not result.cells:
        emit_repair_event("failed", summary.program, block_id, reason=f"no schedule was found ({result.status})")
        return _stop(out, instance, bundle, summary, f"no repaired schedule was found ({result.status})", emit=False)
    limits = repairs.ChurnLimits(settings.repair.churn_total_share, settings.repair.churn_person_share)
    guard = repairs.churn(instance, result.cells, limits)
    summary = summary.with_(repair=repairs.repair_facts(instance, repaired, guard))
    summary = _check_export_validate(program, out, instance, bundle, rules, result, summary, contingency)
    if summary.hard_violations:
        write_summary(out, summary)
        message = f"{summary.hard_violations} hard violation(s) found; see {out}/findings.csv"
        emit_repair_event("failed", summary.program, block_id, reason="hard violations")
        return outcome.failed(message, data=InfeasibleError(message, summary=summary.as_dict()))
    if guard.refused and not allow_churn:
        write_summary(out, summary)
        message = (
            "the churn guard refused the repair: "
            + "; ".join(guard.reasons())
            + f"; see {Path(out).resolve() / 'changes.html'} (run again with --allow-churn to accept it)"
        )
        emit_repair_event("refused", summary.program, block_id, reason="; ".join(guard.reasons()))
        return outcome.failed(message, data=InfeasibleError(message, summary=summary.as_dict()))
    if approve is not None:
        write_summary(out, summary)
        rejected = approve(summary, Path(out))
        if rejected is not None:
            summary = summary.with_(repair={**summary.repair, "rejected": rejected})
            write_summary(out, summary)
            return outcome.completed(f"the repair was rejected: {rejected}", data=summary.as_dict())
        late = repairs.started_too_late(instance)
        if late is not None:  # approved after its first re-solved day had passed: those days were worked
            emit_repair_event("failed", summary.program, block_id, reason="approved too late")
            error = PublishConflict(f"{late}; nothing was published")
            return outcome.failed(str(error), data=error)
    elif not publish:
        write_summary(out, summary)
        return outcome.completed(
            f"{_changes(summary)}; not published (publish to make it live)", data=summary.as_dict()
        )
    try:
        return _publish(out, bundle.program.key, stored.version, instance, result, summary, started_at, backup=backup)
    except RotaflowError as exc:  # another version was published meanwhile (PublishConflict), …
        emit_repair_event("failed", summary.program, block_id, reason=type(exc).__name__)
        return outcome.failed(str(exc), data=exc)


def _publish(
    out: str,
    program_key: str,
    version: int,
    instance: Any,
    result: Any,
    summary: GenerateResult,
    started_at: dt.datetime,
    *,
    backup: bool,
) -> dict[str, Any] | State:
    """Publish the repaired schedule as the block's next version, with its quick backup in one transaction."""
    if not backup:
        published = publish(program_key, version, as_is(instance), as_is(result), summary, started_at)
        summary = summary.published_as(published.inserted > 0, published.block_version).backed_up(NO_BACKUP)
        write_summary(out, summary)
        return _published(summary)
    try:
        with transaction():
            published = publish(program_key, version, as_is(instance), as_is(result), summary, started_at)
            summary = summary.published_as(published.inserted > 0, published.block_version)
            summary = summary.backed_up(_back_up(out))
    except BackupFailed as exc:
        summary = summary.published_as(False).backed_up({"error": str(exc)})
        write_summary(out, summary)
        message = f"the backup after publishing failed, so the repair was withdrawn again: {exc}"
        emit_repair_event("failed", summary.program, summary.block_id, reason="backup failed; publish rolled back")
        return outcome.failed(message, data=StorageError(message, summary=summary.as_dict()))
    write_summary(out, summary)
    return _published(summary)


def _changes(summary: GenerateResult) -> str:
    changed = summary.repair.get("changes")
    return f"repaired {summary.block_id}" + (f": {changed} change(s)" if changed is not None else "")


def _published(summary: GenerateResult) -> State:
    backup_id = (summary.backup or {}).get("backup_id")
    line = f"{_changes(summary)}; published version {summary.version}" if summary.published else _changes(summary)
    line += f", backup {backup_id}" if backup_id else f", {not_backed_up(summary)}"
    return outcome.completed(line, data=summary.as_dict())


def emit_repair_event(what: str, program_key: str, block_id: str, **details: Any) -> None:
    """Event ``rotaflow.repair.<what>`` (needs-approval, refused, failed) on ``rotaflow.program.<key>``; ids only."""
    if what in ("refused", "failed"):
        outcome.reported()
    emit_event(
        f"rotaflow.repair.{what}",
        resource={"prefect.resource.id": f"rotaflow.program.{program_key}", "prefect.resource.name": program_key},
        payload={"block_id": block_id, **details},
    )
