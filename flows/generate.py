"""Flow ``generate_block``: ingest → preflight → solve → check → export → validate → publish + backup."""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path
from typing import Any, Literal, cast

from prefect import flow
from prefect.artifacts import create_markdown_artifact
from prefect.events import emit_event
from prefect.states import Cancelled, State
from prefect.transactions import transaction

from rotaflow.configs.settings import get_settings
from rotaflow.constraints.instance import Instance
from rotaflow.constraints.ruleset import ConfiguredRule
from rotaflow.constraints.solve import SolveResult
from rotaflow.db.repositories import IngestResult
from rotaflow.errors import InfeasibleError, RotaflowError, StorageError
from rotaflow.flows import outcome
from rotaflow.flows.ingest import ingest_program
from rotaflow.flows.validate import validate_schedule
from rotaflow.services import generate as service
from rotaflow.services import versions
from rotaflow.services.results import GenerateResult, NotYet, clocked, move_phase, phase
from rotaflow.tasks.arguments import as_is
from rotaflow.tasks.generate import (
    build_instance,
    explain_infeasibility,
    export_outputs,
    load_for_generation,
    post_outcome,
    publish,
    run_preflight,
    solve_schedule,
    validate_schedule_rules,
    write_summary,
)
from rotaflow.validations.bundle import Bundle

__all__ = ["NEXT_BLOCK", "generate_block"]

NEXT_BLOCK = "next"
"""``block_id="next"``: the first block that starts after today in the program's timezone."""


@flow(name="generate-block", log_prints=False, on_failure=[outcome.unreported_failure])
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

    Returns:
        The run's ``GenerateResult`` in its JSON form (summary.json); a failed run's error carries it as
        ``summary``. Before the lead window of block "next": ``NotYet``'s JSON form.
    """
    with clocked():  # each phase's wall time: summary.json's phases
        return _generate(program, block_id, out_dir, time_limit_seconds, contingency, backup, next_within_days)


def _generate(
    program: str,
    block_id: str,
    out_dir: str | None,
    time_limit_seconds: float | None,
    contingency: Literal["none", "n1", "n2"],
    backup: bool,
    next_within_days: int,
) -> dict[str, Any] | State:
    started_at = dt.datetime.now(dt.UTC)
    run_id = str(uuid.uuid4())
    if out_dir is not None:  # before anything runs: a folder rotaflow must not write into is bad input
        service.check_out_dir(out_dir)
    with phase("ingest"):  # its contract checks time themselves: phase "contracts"
        ingested = ingest_program(program, return_state=True)
    if ingested.is_failed():  # the bundle broke its contract: fail with the ingest's own error
        key = Path(program.rstrip("/")).name.removesuffix(".zip") or "bundle"
        _emit_failed(key, block_id, "the bundle broke its contract")
        return outcome.failed(str(ingested.message), data=ingested.result(raise_on_failure=False))
    stored = cast(IngestResult, ingested.result())
    with phase("ingest"):
        bundle = load_for_generation(program)
    if block_id == NEXT_BLOCK:
        found = service.next_block_and_days(bundle)
        if found is None:
            message = f"{bundle.program.key} has no block starting after today; add the next year's blocks.csv"
            _emit_failed(bundle.program.key, block_id, "no block starts after today")
            return outcome.failed(message)
        block_id, days_away = found
        if days_away > next_within_days:
            return _not_yet(bundle.program.key, block_id, days_away, next_within_days)
    with phase("build"):
        instance, rules = build_instance(as_is(bundle), block_id)
    settings = service.load_solver_settings(time_limit_seconds=time_limit_seconds)
    out = out_dir or str(get_settings().var_dir / "runs" / f"{bundle.program.key}-{block_id}-{run_id[:8]}")
    service.claim_out_dir(out)  # marked as rotaflow's; an earlier run's files in it are replaced
    summary = GenerateResult.start(
        run_id=run_id,
        program=bundle.program.key,
        program_version=stored.version,
        block_id=block_id,
        rules=[r.name for r in rules],
        time_limit_seconds=settings.time_limit_seconds,
    )
    base = versions.base_of(instance)
    if base is not None:  # the block is published already: the run starts from that version
        summary = summary.with_(based_on_version=base.number)
    with phase("preflight"):
        report = run_preflight(as_is(instance), as_is(rules))
    summary = summary.screened(report)
    if not report.ok:
        return _stop(out, instance, bundle, summary, "the preflight screens refused the block")
    with phase("build"):  # the model is built, then solved: the solver's own seconds are phase "solve"
        result = solve_schedule(as_is(instance), as_is(rules), settings)
    move_phase("build", "solve", result.seconds)
    summary = summary.solved(result)
    if result.status == "infeasible":
        with phase("solve"):  # the diagnosis solves too
            summary = summary.diagnosed(explain_infeasibility(as_is(instance), as_is(rules), settings))
        return _stop(out, instance, bundle, summary, "the hard rules conflict")
    if result.status == "cancelled":  # the kill switch: nothing is checked, published or exported
        return Cancelled(message=f"the run was cancelled after {result.seconds:.1f} s of solving")
    if not result.cells:
        return _stop(out, instance, bundle, summary, f"no schedule was found ({result.status})")
    summary = _check_export_validate(program, out, instance, bundle, rules, result, summary, contingency)
    if summary.hard_violations:  # recorded, never published
        with phase("publish"):
            publish(bundle.program.key, stored.version, as_is(instance), as_is(result), summary, started_at)
        summary = summary.timed()
        write_summary(out, summary)
        message = f"{violations_found(summary)}; nothing published; see {Path(out).resolve() / 'findings.csv'}"
        post_outcome(summary, f"**failed**: {summary.hard_violations} hard violation(s), not published")
        _emit_failed(
            summary.program, block_id, "hard violations", status=summary.status, violations=summary.hard_violations
        )
        return outcome.failed(message, data=InfeasibleError(message, summary=summary.as_dict()))
    if not backup:
        with phase("publish"):
            published = publish(bundle.program.key, stored.version, as_is(instance), as_is(result), summary, started_at)
        summary = summary.published_as(published.inserted > 0, published.block_version).backed_up(NO_BACKUP)
        summary = summary.timed()
        write_summary(out, summary)
        return _done(summary)
    try:
        with transaction():  # publish + backup: a backup that fails withdraws the schedule again
            with phase("publish"):
                key, version = bundle.program.key, stored.version
                published = publish(key, version, as_is(instance), as_is(result), summary, started_at)
            summary = summary.published_as(published.inserted > 0, published.block_version)
            with phase("backup"):
                summary = summary.backed_up(_back_up(out))
    except BackupFailed as exc:
        summary = summary.published_as(False).backed_up({"error": str(exc)})
        summary = summary.timed()
        write_summary(out, summary)
        message = f"the backup after publishing failed, so the schedule was withdrawn again: {exc}"
        post_outcome(summary, "**failed**: the backup failed, the schedule was withdrawn")
        _emit_failed(summary.program, block_id, "backup failed; publish rolled back", status=summary.status)
        return outcome.failed(message, data=StorageError(message, summary=summary.as_dict()))
    summary = summary.timed()
    write_summary(out, summary)
    return _done(summary)


def violations_found(summary: GenerateResult) -> str:
    """Where a run's hard violations came from: the solver's verdict, then what the checks found."""
    if not summary.validation:  # the engine's checkers only
        found = summary.hard_violations
        return f"the solver reported {summary.status}; the rules' own checkers found {found} hard violation(s)"
    return (
        f"the solver reported {summary.status}; the independent validation found {summary.hard_violations} hard "
        f"violation(s) (the rules' own checkers: {summary.engine_check_violations})"
    )


def _done(summary: GenerateResult) -> State:
    """Completed: what was published and the backup that secures it, in one line and in the artifact."""
    backup_id = (summary.backup or {}).get("backup_id")
    if summary.published:
        line = f"published version {summary.version}"
    else:
        line = "not published: the live schedule is the same"
    line += f", backup {backup_id}" if backup_id else f", {not_backed_up(summary)}"
    line += f"; {summary.warnings} warning(s)"
    post_outcome(summary, f"**{line}**")
    return outcome.completed(f"{summary.block_id}: {line}", data=summary.as_dict())


def not_backed_up(summary: GenerateResult) -> str:
    """The state message's words for a run with no backup id: told not to take one, or none taken."""
    skipped = (summary.backup or {}).get("skipped")
    return f"not backed up ({skipped})" if skipped else "no backup taken"


def _not_yet(program_key: str, block_id: str, days_away: int, within: int) -> State:
    """Block "next" is not due yet: Completed with nothing generated, said in the message, the log and an artifact."""
    message = f"nothing generated: {block_id} starts in {days_away} days (generation starts {within} days ahead)"
    create_markdown_artifact(
        key="generation-summary",
        markdown=(
            f"# `{program_key}`: nothing generated\n\n"
            f"The next block, **{block_id}**, starts in **{days_away} days**; this deployment generates a block "
            f"once it starts within **{within} days** (parameter `next_within_days`). Nothing was solved, "
            "published or backed up; a later scheduled run will generate it.\n"
        ),
        description="Block generation: nothing due yet",
    )
    said = f"the next block, {block_id}, starts in {days_away} days, later than {within}: nothing generated yet"
    return outcome.completed(message, data=NotYet.of(program_key, block_id, said).as_dict())


def _check_export_validate(
    program: str,
    out: str,
    instance: Instance,
    bundle: Bundle,
    rules: list[ConfiguredRule],
    result: SolveResult,
    summary: GenerateResult,
    contingency: Literal["none", "n1", "n2"],
) -> GenerateResult:
    """The steps after a solve that found a schedule (flows ``generate_block`` and ``repair_block``): the
    engine's checkers, the outputs exported to ``out``, then the independent validation (flow
    ``validate_schedule``) over the exported assignments, its validation.json recorded among the run's files.

    Returns:
        ``summary`` with the findings, the outputs folder and the validation; raises when the validation
        itself broke. Phases ``checks``, ``export``, ``validation`` and ``contingency`` (the analysis's own
        seconds) are timed on the run's clock, if any.
    """
    with phase("checks"):
        findings = validate_schedule_rules(as_is(instance), as_is(rules), as_is(result))
    summary = summary.checked(findings)
    with phase("export"):
        export_outputs(out, as_is(instance), as_is(bundle), as_is(result.cells), as_is(findings), summary)
    summary = summary.written_to(out)
    with phase("validation"):
        checked = validate_schedule(
            program,
            str(Path(out) / "assignments.csv"),
            out_dir=out,
            block_id=summary.block_id,
            contingency=contingency,
            history=instance.meta.get("database_history") or None,
            extra=summary.run_facts(),
            return_state=True,
        )
        validation = _validation(checked)
    analysed = validation.get("contingency")
    if analysed:  # the analysis's own seconds (validation.json's contingency.seconds) were part of it
        move_phase("validation", "contingency", float(analysed.get("seconds") or 0.0))
    summary = summary.validated(validation)
    service.record_run_files(Path(out), [p for p in (Path(out) / "validation.json",) if p.is_file()])
    return summary


def _validation(checked: State) -> dict[str, Any]:
    """The validation flow's result, also when it failed on hard violations; raises when the validation
    itself broke (the run cannot be trusted then)."""
    outcome = checked.result(raise_on_failure=False)
    if isinstance(outcome, dict):
        return outcome
    if isinstance(outcome, RotaflowError) and outcome.summary is not None:
        return outcome.summary
    raise outcome if isinstance(outcome, BaseException) else RuntimeError(str(checked.message))


NO_BACKUP = {"skipped": "--no-backup"}
"""summary.json's ``backup`` of a run told to publish without one (``--no-backup``, the form's ``backup`` off)."""


class BackupFailed(RuntimeError):
    """The quick backup after publishing failed (the transaction withdraws the publish)."""


def _emit_failed(program_key: str, block_id: str, reason: str, **details: Any) -> None:
    """Event ``rotaflow.generation.failed`` on ``rotaflow.program.<key>`` (no personal data in it)."""
    outcome.reported()
    emit_event(
        "rotaflow.generation.failed",
        resource={"prefect.resource.id": f"rotaflow.program.{program_key}", "prefect.resource.name": program_key},
        payload={"block_id": block_id, "reason": reason, **details},
    )


def _stop(out: str, instance: Any, bundle: Any, summary: GenerateResult, why: str, *, emit: bool = True) -> State:
    """A run that ends without a schedule: its summary (and empty outputs) written, the run failed (and
    ``rotaflow.generation.failed`` emitted, unless ``emit`` is false: the caller says it its own way)."""
    with phase("export"):
        export_outputs(out, as_is(instance), as_is(bundle), frozenset(), [], summary.timed())
    summary = summary.written_to(out).timed()  # the phases with the export's own seconds (a run with a clock)
    write_summary(out, summary)
    message = f"{why}; see {Path(out).resolve() / 'summary.json'}"
    if emit:
        _emit_failed(summary.program, summary.block_id, why, status=summary.status)
    return outcome.failed(message, data=InfeasibleError(message, summary=summary.as_dict()))


def _back_up(out: str) -> dict[str, Any]:
    """A quick backup after publishing, carrying the run's own output files; raises ``BackupFailed``."""
    from rotaflow.flows.backup import backup as backup_flow

    with service.staged_run_files(Path(out), get_settings().var_dir / "tmp") as staging:
        state = backup_flow(tier="quick", extras={"run": str(staging)}, return_state=True)
    if not state.is_completed():
        raise BackupFailed(str(state.message))
    result = cast(dict[str, Any], state.result())
    return {k: result[k] for k in ("backup_id", "tier", "location", "verified")}
