"""Flow ``generate_block``: ingest → preflight → solve → check → export → validate → publish + backup."""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path
from typing import Any, Literal, cast

from prefect import flow, get_run_logger
from prefect.events import emit_event
from prefect.states import Cancelled, Failed, State
from prefect.transactions import transaction

from rotaflow.configs.settings import get_settings
from rotaflow.constraints.registry import RULES
from rotaflow.db.repositories import IngestResult
from rotaflow.errors import InfeasibleError, StorageError
from rotaflow.flows.ingest import ingest_program
from rotaflow.flows.validate import validate_schedule
from rotaflow.services import generate as service
from rotaflow.services.planning import program_today
from rotaflow.tasks.generate import (
    build_instance,
    explain_infeasibility,
    export_outputs,
    load_for_generation,
    publish,
    run_preflight,
    solve_schedule,
    validate_schedule_rules,
    write_summary,
)

__all__ = ["NEXT_BLOCK", "generate_block", "next_block"]

NEXT_BLOCK = "next"
"""``block_id="next"``: the first block that starts after today in the program's timezone."""


def next_block(bundle: Any, today: dt.date | None = None) -> str | None:
    """The id of the first block of ``bundle`` starting after ``today`` (default: today in the program's timezone)."""
    found = _next_block(bundle, today)
    return None if found is None else found[0]


def _next_block(bundle: Any, today: dt.date | None = None) -> tuple[str, int] | None:
    """The first block starting after ``today`` and how many days away it starts."""
    day = today or program_today(bundle.program.timezone)
    blocks = bundle.frames["blocks"].sort_values("start_date")
    later = blocks[blocks["start_date"].dt.date > day]
    if later.empty:
        return None
    first = later.iloc[0]
    return str(first["block_id"]), (first["start_date"].date() - day).days


@flow(name="generate-block", log_prints=False)
def generate_block(
    program: str,
    block_id: str,
    out_dir: str | None = None,
    time_limit_seconds: float | None = None,
    contingency: Literal["none", "n1", "n2"] = "n1",
    backup: bool = True,
    next_within_days: int = 35,
) -> dict[str, Any] | State:
    """Generate, check, export, validate, then publish and back up the schedule of one block.

    After solving, the engine's checkers and then the independent validation (flow
    ``validate_schedule``: ACGME, coverage, program rules, burnout risk, ``contingency``) run
    over the exported assignments; any hard violation fails the run and nothing is published
    (the run is recorded). A valid schedule is published and secured by a quick-tier backup
    (flow ``backup``) that carries the run's outputs, in one transaction: when the backup fails,
    the publish is rolled back (the schedule it replaced is live again) and the run fails.

    Args:
        program: The program bundle: a folder (e.g. configs/programs/sample), a .zip, or an s3://bucket/prefix.
        block_id: The block to generate, as in the bundle's blocks.csv (e.g. 2027-B01), or "next": the first
            block that starts after today in the program's timezone (what the scheduled runs use).
        out_dir: Folder for assignments.csv, findings.csv, summary.json … (default: var/runs/<program>-<block>-<run>):
            new, empty, or made by an earlier run; a file, someone else's folder or rotaflow's own data is refused.
        time_limit_seconds: Seconds the solver may use (default: configs/solver.yaml).
        contingency: After validation, how many simultaneous losses of a person the schedule must survive:
            none, n1 (any one person) or n2 (any two).
        backup: Take a quick-tier backup once a valid schedule is published.
        next_within_days: With block_id "next", generate only when that block starts within this many days;
            otherwise the run ends Completed with nothing generated (a schedule that fires early does no harm).
    """
    started_at = dt.datetime.now(dt.UTC)
    run_id = str(uuid.uuid4())
    if out_dir is not None:  # before anything runs: a folder rotaflow must not write into is bad input
        service.check_out_dir(out_dir)
    ingested = ingest_program(program, return_state=True)
    if ingested.is_failed():  # the bundle broke its contract: fail with the ingest's own error
        key = Path(program.rstrip("/")).name.removesuffix(".zip") or "bundle"
        _emit_failed(key, block_id, "the bundle broke its contract")
        return Failed(message=ingested.message, data=ingested.result(raise_on_failure=False))
    stored = cast(IngestResult, ingested.result())
    bundle = load_for_generation(program)
    if block_id == NEXT_BLOCK:
        found = _next_block(bundle)
        if found is None:
            message = f"{bundle.program.key} has no block starting after today; add the next year's blocks.csv"
            _emit_failed(bundle.program.key, block_id, "no block starts after today")
            return Failed(message=message)
        block_id, days_away = found
        if days_away > next_within_days:
            message = (
                f"the next block, {block_id}, starts in {days_away} days, later than {next_within_days}: "
                "nothing generated yet"
            )
            get_run_logger().info("%s", message)
            return {"program": bundle.program.key, "block_id": block_id, "status": "not-yet", "message": message}
    instance, rules = build_instance(bundle, block_id)
    settings = service.load_solver_settings(time_limit_seconds=time_limit_seconds)
    out = out_dir or str(get_settings().var_dir / "runs" / f"{bundle.program.key}-{block_id}-{run_id[:8]}")
    service.claim_out_dir(out)  # marked as rotaflow's; an earlier run's files in it are replaced
    summary: dict[str, Any] = {
        "run_id": run_id,
        "program": bundle.program.key,
        "program_version": stored.version,
        "block_id": block_id,
        "status": "infeasible",
        "objective": None,
        "best_bound": None,
        "solve_seconds": 0.0,
        "hard_violations": 0,
        "warnings": 0,
        "rules": sorted({r.name for r in rules} & set(RULES)),
        "time_limit_seconds": settings.time_limit_seconds,
    }
    report = run_preflight(instance, rules)
    summary["preflight"] = [r.as_dict() for r in report.reasons]
    if not report.ok:
        summary["diagnosis"] = [r.as_dict() for r in report.errors]
        return _stop(out, instance, bundle, summary, "the preflight screens refused the block")
    result = solve_schedule(instance, rules, settings)
    summary.update(
        status=result.status,
        objective=result.objective,
        best_bound=result.best_bound,
        solve_seconds=round(result.seconds, 3),
        penalties=result.penalties,
    )
    if result.status == "infeasible":
        conflicts = explain_infeasibility(instance, rules, settings)
        summary["diagnosis"] = [c.as_dict() for c in conflicts]
        return _stop(out, instance, bundle, summary, "the hard rules conflict")
    if result.status == "cancelled":  # the kill switch: nothing is checked, published or exported
        return Cancelled(message=f"the run was cancelled after {result.seconds:.1f} s of solving")
    if not result.cells:
        return _stop(out, instance, bundle, summary, f"no schedule was found ({result.status})")
    findings = validate_schedule_rules(instance, rules, result)
    engine_violations = sum(1 for f in findings if f["severity"] == "violation")
    summary["hard_violations"] = engine_violations
    summary["warnings"] = sum(1 for f in findings if f["severity"] == "warning")
    summary["published"] = False
    export_outputs(out, instance, bundle, result, findings, summary)
    summary["out_dir"] = str(Path(out).resolve())
    checked = validate_schedule(
        program,
        str(Path(out) / "assignments.csv"),
        out_dir=out,
        block_id=block_id,
        contingency=contingency,
        history=instance.meta.get("database_history") or None,
        extra={k: summary[k] for k in ("run_id", "status", "objective", "best_bound", "solve_seconds")},
        return_state=True,
    )
    outcome = checked.result(raise_on_failure=False)
    validation = getattr(outcome, "summary", outcome if isinstance(outcome, dict) else None)
    if validation is None:  # the validation itself broke: the run cannot be trusted
        raise outcome if isinstance(outcome, BaseException) else RuntimeError(str(checked.message))
    service.record_run_files(Path(out), [p for p in (Path(out) / "validation.json",) if p.is_file()])
    summary["engine_check_violations"] = engine_violations
    summary["hard_violations"] = max(engine_violations, int(validation["hard_violations"]))
    summary["warnings"] = int(validation["warnings"])
    summary["validation"] = {k: v for k, v in validation.items() if k not in summary}
    if summary["hard_violations"]:  # recorded, never published
        publish(bundle.program.key, stored.version, instance, result, summary, started_at)
        write_summary(out, summary)
        error = InfeasibleError(f"{summary['hard_violations']} hard violation(s) found; see {out}/findings.csv")
        error.summary = summary  # type: ignore[attr-defined]
        _emit_failed(
            summary["program"],
            block_id,
            "hard violations",
            status=summary["status"],
            violations=summary["hard_violations"],
        )
        return Failed(message=str(error), data=error)
    if not backup:
        published = publish(bundle.program.key, stored.version, instance, result, summary, started_at)
        summary["published"] = published.inserted > 0
        write_summary(out, summary)
        return summary
    try:
        with transaction():  # publish + backup: a backup that fails withdraws the schedule again
            published = publish(bundle.program.key, stored.version, instance, result, summary, started_at)
            summary["published"] = published.inserted > 0
            summary["backup"] = _back_up(out)
    except BackupFailed as exc:
        summary["published"] = False
        summary["backup"] = {"error": str(exc)}
        write_summary(out, summary)
        message = f"the backup after publishing failed, so the schedule was withdrawn again: {exc}"
        _emit_failed(summary["program"], block_id, "backup failed; publish rolled back", status=summary["status"])
        failure = StorageError(message)
        failure.summary = summary  # type: ignore[attr-defined]
        return Failed(message=message, data=failure)
    write_summary(out, summary)
    return summary


class BackupFailed(RuntimeError):
    """The quick backup after publishing failed (the transaction withdraws the publish)."""


def _emit_failed(program_key: str, block_id: str, reason: str, **details: Any) -> None:
    """Event ``rotaflow.generation.failed`` on ``rotaflow.program.<key>`` (no personal data in it)."""
    emit_event(
        "rotaflow.generation.failed",
        resource={"prefect.resource.id": f"rotaflow.program.{program_key}", "prefect.resource.name": program_key},
        payload={"block_id": block_id, "reason": reason, **details},
    )


def _stop(out: str, instance: Any, bundle: Any, summary: dict[str, Any], why: str) -> State:
    from rotaflow.constraints.solve import SolveResult

    empty = SolveResult(summary["status"], None, None, summary.get("solve_seconds", 0.0), frozenset())
    export_outputs(out, instance, bundle, empty, [], summary)
    summary["out_dir"] = str(Path(out).resolve())
    error = InfeasibleError(f"{why}; see {Path(out).resolve() / 'summary.json'}")
    error.summary = summary  # type: ignore[attr-defined]
    _emit_failed(summary["program"], summary["block_id"], why, status=summary["status"])
    return Failed(message=str(error), data=error)


def _back_up(out: str) -> dict[str, Any]:
    """A quick backup after publishing, carrying the run's own output files (the list in the folder's
    marker: regular files, never a symlink, nothing else the folder holds); raises ``BackupFailed``."""
    import shutil
    import tempfile

    from rotaflow.files import private_dir
    from rotaflow.flows.backup import backup as backup_flow

    folder = Path(out)
    files = service.run_files(folder)
    staging = Path(tempfile.mkdtemp(prefix="run-", dir=private_dir(get_settings().var_dir / "tmp")))
    try:
        for path in files:
            target = staging / path.relative_to(folder)
            private_dir(target.parent)
            shutil.copyfile(path, target, follow_symlinks=False)
        state = backup_flow(tier="quick", extras={"run": str(staging)}, return_state=True)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    if not state.is_completed():
        raise BackupFailed(str(state.message))
    result = cast(dict[str, Any], state.result())
    return {k: result[k] for k in ("backup_id", "tier", "location", "verified")}
