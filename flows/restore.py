"""Flow ``emergency_restore``: bring the live database back to a backup without ever making things worse.

Gates, in order; each passes or the run ends Failed with a ``GateRefused`` and the live
database untouched::

    1 disk check → 2 verify the backup → 3 pre-snapshot → 4 operator confirmation
      → 5 restore into a new database, switch it in → 6 verify the live database

Steps 5 and 6 run inside a Prefect transaction: when 6 (or the switch) fails, the tasks'
rollback hooks put the previous database back (else restore the pre-snapshot) and drop
the staging database, and the run says so. Every step is journaled; a run that was
killed is detected and recovered by the next one before it does anything else.
"""

from __future__ import annotations

import contextvars
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from prefect import flow, get_run_logger, pause_flow_run
from prefect.context import FlowRunContext
from prefect.events import emit_event
from prefect.exceptions import FlowPauseTimeout
from prefect.flow_runs import resume_flow_run
from prefect.input import RunInput
from prefect.states import State
from prefect.transactions import transaction
from pydantic import Field

from rotaflow.backups import emergency as service
from rotaflow.backups.emergency.result import RestoreResult
from rotaflow.backups.journal import RestoreJournal, restore_lock
from rotaflow.backups.sets import restore_command
from rotaflow.configs.settings import mask_url
from rotaflow.errors import GateRefused, RotaflowError
from rotaflow.flows import outcome
from rotaflow.tasks.restore import (
    check_disk_space,
    finish_restore,
    plan_emergency_restore,
    publish_restore_report,
    recover_interrupted_restore,
    restore_into_staging,
    switch_restored_in,
    take_pre_snapshot,
    verify_backup_to_restore,
    verify_live_database,
)

__all__ = [
    "PAUSE_GRACE_SECONDS",
    "OperatorConfirmation",
    "RestoreConfirmation",
    "confirmed_by",
    "emergency_restore",
    "emergency_restore_confirmed",
    "os_account",
]

PAUSE_GRACE_SECONDS = 60
"""How long past the confirmation timeout the server keeps the pause open (the run ends it first)."""


class RestoreConfirmation(RunInput):
    """Confirm the emergency restore."""

    # required (no default): the Resume dialog labels neither field "(Optional)"
    backup_id: str = Field(..., title="Backup id", description="the id of the backup to restore, exactly as above")
    confirm: bool = Field(..., title="Confirm", description="switch on to replace the live database")


CONFIRMED_BY = {"prefect ui": "prefect-ui", "typed": "terminal", "command-line": "command-line"}
"""How the operator confirmed, as the ``rotaflow.restore.completed`` event says it."""


def _flow_run_id() -> str | None:
    context = FlowRunContext.get()
    return str(context.flow_run.id) if context and context.flow_run else None


def os_account() -> str:
    """The operating-system account of this process (``unknown`` when the system cannot tell)."""
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


@dataclass(frozen=True)
class OperatorConfirmation:
    """The confirmation the command line already took from the operator, before the run started.

    ``given`` is exactly what was typed at the terminal, or passed as ``--confirm-id``; ``how``
    says which. Gate 4 still compares it with the backup id and journals both. ``account`` is the
    operating-system account of the command that took it (by default, of the process that makes it).
    """

    given: str
    how: Literal["typed", "command-line"]
    account: str = field(default_factory=os_account)

    @property
    def journal_how(self) -> str:
        return "typed at the terminal" if self.how == "typed" else "given on the command line (--confirm-id)"


def confirmed_by(confirmation: OperatorConfirmation | None) -> str:
    """Who confirmed, as far as rotaflow can tell, never a password: at a terminal (typed, or
    ``--confirm-id``), the operating-system account of that command; in the Prefect UI (``None``), only
    that it was someone signed in to the UI, whose one credential everybody shares: its user is named as
    such, not as the person."""
    if confirmation is not None:
        return f"OS account {confirmation.account}"
    user = os.environ.get("PREFECT_API_AUTH_STRING", "").partition(":")[0]
    if user:
        return f"an operator in the Prefect UI (shared API account {user}: the UI does not tell who)"
    return "an operator in the Prefect UI (no sign-in: the UI does not tell who)"


@flow(name="emergency-restore", log_prints=False, on_failure=[outcome.unreported_failure])
def emergency_restore(
    source: Literal["quick", "named", "immaculate", "sacred"],
    backup_id: str,
    confirm_timeout_seconds: int = 3600,
    confirm_poll_seconds: int = 5,
    keep_previous: bool = False,
    config_path: str | None = None,
) -> dict[str, Any] | State:
    """Restore the live database from a backup of ``source`` (``backup_id``; for sacred, a tag name).

    Before switching anything the run always pauses for the operator (Prefect UI: type the
    backup id, switch *confirm* on); no parameter skips the pause. ``keep_previous`` keeps the
    replaced database (``…__pre_<time>``) instead of dropping it once the restore verifies;
    ``config_path`` replaces configs/backup.yaml.

    Args:
        source: The tier to restore from: quick, named, immaculate (Object Lock baselines) or sacred (milestone tags).
        backup_id: The backup's id (see `rotaflow backup list`); for sacred, the tag name.
        confirm_timeout_seconds: How long the run waits for your confirmation before refusing (nothing restored).
        confirm_poll_seconds: How often the paused run checks for your answer.
        keep_previous: Keep the replaced database (`…__pre_<time>`) instead of dropping it after a verified restore.
        config_path: A backup configuration instead of configs/backup.yaml.
    """
    return _run(source, backup_id, None, confirm_timeout_seconds, confirm_poll_seconds, keep_previous, config_path)


@flow(name="emergency-restore-terminal", log_prints=False, on_failure=[outcome.unreported_failure])
def emergency_restore_confirmed(
    source: Literal["quick", "named", "immaculate", "sacred"],
    backup_id: str,
    confirmation: OperatorConfirmation,
    keep_previous: bool = False,
    config_path: str | None = None,
) -> dict[str, Any] | State:
    """The command line's emergency restore: the same gates, with the confirmation the operator
    already gave at the terminal (typed, or ``--confirm-id``) in place of the pause.

    Never deployed (prefect.yaml deploys ``emergency_restore`` only): ``rotaflow restore
    emergency`` calls it in its own process, after it asked.
    """
    return _run(source, backup_id, confirmation, 0, 0, keep_previous, config_path)


def _run(
    source: str,
    backup_id: str,
    confirmation: OperatorConfirmation | None,
    timeout: int,
    poll: int,
    keep_previous: bool,
    config_path: str | None,
) -> dict[str, Any] | State:
    logger = get_run_logger()
    result = RestoreResult(status="refused", source=source, backup_id=backup_id, rolled_back=False)
    try:
        plan = plan_emergency_restore(source, backup_id, config_path, keep_previous)
    except GateRefused as exc:
        return _refused(result, exc)
    result.give(backup_id=plan.backup_id, tier=plan.tier, tag=plan.tag, live=mask_url(plan.live_url))
    try:
        with restore_lock(Path(plan.journal_folder)):
            recovered = recover_interrupted_restore(plan)
            if recovered is not None:
                result.give(recovered=recovered.as_dict())
                logger.warning("recovered an interrupted restore: %s", recovered.message)
            journal = service.open_journal(plan, flow_run_id=_flow_run_id())
            result.give(journal=str(journal.path))
            return _chain(plan, result, confirmation, timeout, poll)
    except GateRefused as exc:
        return _refused(result, exc)


def _chain(
    plan: service.Plan,
    result: RestoreResult,
    confirmation: OperatorConfirmation | None,
    timeout: int,
    poll: int,
) -> dict[str, Any] | State:
    logger = get_run_logger()
    swapped = False
    at = 0
    try:
        disk = check_disk_space(plan)
        result.give(disk=disk.summary())
        result.gate(0, True, str(result.disk))
        at = 1
        report = verify_backup_to_restore(plan)
        assert report.manifest is not None
        result.give(size_bytes=report.manifest.total_bytes)
        result.gate(1, True, f"{len(report.manifest.files)} file(s) verified")
        at = 2
        snapshot = take_pre_snapshot(plan)
        result.give(pre_snapshot=snapshot.backup_id if snapshot else None)
        result.give(undo=restore_command("quick", snapshot.backup_id) if snapshot else None)
        result.gate(2, True, f"quick backup {snapshot.backup_id}" if snapshot else "none: no live database")
        at = 3
        _confirm(plan, report, snapshot, confirmation, timeout, poll, result)
        assert result.confirmation is not None
        result.gate(3, True, f"the backup id {result.confirmation['how']}")
        at = 4
        with transaction():
            restore_into_staging(plan)
            swap = switch_restored_in(plan)
            swapped = True
            result.gate(4, True, "restored into a new database and switched in")
            at = 5
            verified = verify_live_database(plan)
        result.give(tables=verified.tables_checked)
        result.gate(5, True, f"{verified.tables_checked} table(s) checked")
        result.give(message=finish_restore(plan, swap))
        result.give(status="restored")
        result.give(journal=_last_journal(plan))
        logger.info("%s", result.message)
        publish_restore_report(result.as_dict())
        _emit_completed(result)
        line = f"restored {plan.backup_id} ({plan.tier}); {verified.tables_checked} table(s) verified"
        line += f"; undo: {result.undo}" if result.undo else ""
        return outcome.completed(line, data=result.as_dict())
    except Exception as exc:
        error = exc if isinstance(exc, GateRefused) else GateRefused(f"{type(exc).__name__}: {exc}")
        if not isinstance(exc, RotaflowError):  # its text (a database error's DETAIL …) stays in the report
            result.give(unexpected=type(exc).__name__)
        result.gate(at, False, " ".join(str(error).split())[:300])
        return _after_failure(plan, result, error, exc, swapped)


def _confirm(
    plan: service.Plan,
    report: Any,
    snapshot: Any,
    confirmation: OperatorConfirmation | None,
    timeout: int,
    poll: int,
    result: RestoreResult,
) -> None:
    """Gate 4: the operator types the backup id and confirms (in the UI, or already at the terminal)."""
    if confirmation is not None:
        result.confirmed(confirmation.journal_how, CONFIRMED_BY[confirmation.how], confirmed_by(confirmation))
        service.record_confirmation(plan, confirmation.given, True, how=confirmation.journal_how)
        return
    description = service.confirmation_text(plan, report.manifest, snapshot)
    plan.journal().record("awaiting-confirmation", timeout_seconds=timeout)
    answer = _ask_in_the_ui(plan, description, timeout, poll)
    if answer is None:
        message = f"the confirmation gate refused: no answer within {timeout} s; nothing was restored"
        service.record_refusal(plan, message)
        raise GateRefused(message)
    result.confirmed("typed in the Prefect UI (Resume dialog)", CONFIRMED_BY["prefect ui"], confirmed_by(None))
    service.record_confirmation(plan, answer.backup_id, answer.confirm, how="prefect ui")


def _ask_in_the_ui(plan: service.Plan, description: str, timeout: int, poll: int) -> RestoreConfirmation | None:
    """Pause for the operator's answer; None when none came within ``timeout`` seconds.

    The server would fail a run whose pause expired (and drop the run's own refusal), so
    the pause is given a grace period and, at ``timeout``, a timer resumes the run with
    "no answer": the run then ends with its own ``GateRefused``.
    """
    context = FlowRunContext.get()
    assert context is not None and context.flow_run is not None
    flow_run_id = context.flow_run.id
    expired = threading.Event()
    settings = contextvars.copy_context()

    def expire() -> None:
        expired.set()
        try:
            settings.run(resume_flow_run, flow_run_id, run_input={"backup_id": "", "confirm": False})
        except Exception:  # the operator answered first: theirs counts
            expired.clear()

    timer = threading.Timer(timeout, expire)
    timer.daemon = True
    timer.start()
    try:
        answer = pause_flow_run(
            wait_for_input=RestoreConfirmation.with_initial_data(description=description),
            timeout=timeout + PAUSE_GRACE_SECONDS,
            poll_interval=max(1, poll),
            key=f"confirm-{plan.run_id[:8]}",
        )
    except FlowPauseTimeout:
        return None
    finally:
        timer.cancel()
        timer.join(30)
    return None if expired.is_set() else answer


def _last_journal(plan: service.Plan) -> str:
    from rotaflow.backups.journal import history

    found = [h for h in history(Path(plan.journal_folder)) if h.get("run_id") == plan.run_id]
    return str(found[-1]["journal_file"]) if found else str(Path(plan.journal_folder) / "history")


def _after_failure(
    plan: service.Plan, result: RestoreResult, error: GateRefused, cause: BaseException, swapped: bool
) -> State:
    """Close the journal with what the failure left: untouched, rolled back, or a failed rollback."""
    journal = RestoreJournal.current(Path(plan.journal_folder))
    message = str(error)
    status = "refused"
    if journal is not None and journal.data.get("run_id") == plan.run_id:
        if journal.has("rollback-failed"):
            status = "rollback-failed"
            failed = journal.step("rollback-failed") or {}
            message = f"{error}\n\nTHE AUTOMATIC ROLLBACK FAILED: {failed.get('error')}"
        elif journal.has("rolled-back"):
            status = "rolled-back"
            done = journal.step("rolled-back") or {}
            result.give(rollback=done.get("message"))
            message = f"{error}\n\nRolled back automatically: {done.get('message')}"
        elif journal.has("verified-restored"):
            status = "done"
            message = f"the restore is live and verified, but the clean-up afterwards failed: {error}"
        elif journal.has("swapped") or swapped:
            status = "rollback-failed"
            message = f"{error}\n\nTHE SWITCH WAS MADE BUT NOT ROLLED BACK: look at the journal {journal.path}"
        elif journal.has("fetching"):
            message = (
                f"{error}\n\nNothing was switched: the live database was not touched (no staging database is left)."
            )
        if status == "rollback-failed":  # unresolved: the next run, or `rotaflow restore recover`, takes it up
            journal.record("left-for-recovery", message=message[:2000])
            message += f"\nThe journal stays at {journal.path}: `rotaflow restore recover` tries again."
            result.give(journal=str(journal.path))
        else:
            result.give(journal=str(journal.finish(status, message)))
    result.give(status=status, rolled_back=status == "rolled-back", message=message)
    final = GateRefused(message, summary=result.as_dict())
    final.__cause__ = cause
    publish_restore_report(result.as_dict())
    _emit_refused(result)
    return outcome.failed(message, data=final)


def _refused(result: RestoreResult, error: GateRefused) -> State:
    result.give(status="refused", message=str(error))
    error.carrying(result.as_dict())
    publish_restore_report(result.as_dict())
    _emit_refused(result)
    return outcome.failed(str(error), data=error)


def _emit_completed(result: RestoreResult) -> None:
    """Event ``rotaflow.restore.completed`` on ``rotaflow.backup.<tier>``: the backup, how it was confirmed
    (prefect-ui, terminal, command-line), the pre-snapshot; ids only (no URL, no account). Not a failure
    event: the run is not marked :func:`outcome.reported` (it ends with :func:`outcome.completed`, which
    leaves nothing behind)."""
    confirmation = result.confirmation
    emit_event(
        "rotaflow.restore.completed",
        resource={"prefect.resource.id": f"rotaflow.backup.{result.tier}"},
        payload={
            "backup_id": result.backup_id,
            "tier": result.tier,
            "confirmed_via": confirmation["via"] if confirmation else None,
            "confirmed_at": confirmation["at_utc"] if confirmation else None,
            "pre_snapshot": result.pre_snapshot,
            "tables_checked": result.tables,
        },
    )


def _emit_refused(result: RestoreResult) -> None:
    """Event ``rotaflow.restore.gate-refused`` on ``rotaflow.backup.<tier>`` (ids and status, no URLs). After an
    unexpected exception its message names the exception's type only: its text may carry row values, and
    the event may reach an external webhook (the restore report in the UI has it whole)."""
    outcome.reported()
    tier = result.tier or result.source
    message = str(result.message or "")[:500]
    if result.unexpected:
        message = f"unexpected error: {result.unexpected} (the details are in the restore report and the run's log)"
    emit_event(
        "rotaflow.restore.gate-refused",
        resource={"prefect.resource.id": f"rotaflow.backup.{tier}"},
        payload={
            "backup_id": result.backup_id,
            "status": result.status,
            "rolled_back": bool(result.rolled_back),
            "message": message,
        },
    )
