"""The recovery of an interrupted emergency restore: the live database made whole again from the journal.

``recover_interrupted`` reads the journal a killed run left behind, looks at which databases
exist, and makes the live database whole again: the original one when the switch had not
happened, the restored one when it had and it verifies, else the original one put back.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from sqlalchemy.engine import make_url

from rotaflow.backups.config import BackupConfig, load_backup_config, work_dir
from rotaflow.backups.databases import (
    Swap,
    database_at,
    database_exists,
    drop_database,
    ensure_connectable,
    stop_orphaned_restore,
)
from rotaflow.backups.emergency.chain import manifest_from_journal
from rotaflow.backups.emergency.plan import Plan, name_of, now_utc
from rotaflow.backups.emergency.rollback import roll_back
from rotaflow.backups.journal import RestoreJournal, journal_folder
from rotaflow.backups.restore import verify_restored
from rotaflow.configs.settings import Settings, get_settings

__all__ = ["Recovery", "recover_interrupted"]


@dataclass(frozen=True)
class Recovery:
    """What the recovery of an interrupted restore found and did."""

    outcome: Literal["untouched", "completed", "rolled-back"]
    message: str
    interrupted_after: str
    journal_file: str
    dropped: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    flow_run_id: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "flow_run_id": self.flow_run_id,
            "outcome": self.outcome,
            "message": self.message,
            "interrupted_after": self.interrupted_after,
            "journal_file": self.journal_file,
            "dropped": self.dropped,
            "kept": self.kept,
        }


def _exists(url: str, config: BackupConfig) -> bool:
    try:
        return database_exists(url, config.postgres)
    except Exception:
        return False


def _stop_orphans(journal: RestoreJournal) -> list[int]:
    """Stop every ``pg_restore`` the interrupted run started on this machine and left running."""
    stopped = []
    for step in journal.data.get("steps", []):
        if step.get("step") != "pg-restore-started" or step.get("host") != socket.gethostname():
            continue
        with contextlib.suppress(Exception):  # a process that cannot be stopped ends with its database
            if stop_orphaned_restore(int(step["pid"]), str(step["database"])):
                stopped.append(int(step["pid"]))
    return stopped


def recover_interrupted(
    live_url: str | None = None,
    *,
    config: BackupConfig | None = None,
    config_path: str | None = None,
    settings: Settings | None = None,
) -> Recovery | None:
    """Make the live database whole after a run that was killed; None when no run was interrupted.

    The caller holds the restore lock. A ``pg_restore`` the killed run left running (its
    process id is in the journal) is stopped first, with its workers, so that it does not go
    on writing into a database about to be dropped. Then decided from the journal and from
    which databases exist: before the switch, the live database is the original and is left
    alone (the staging database is dropped); after it, the restored database stays if it
    verifies against the backup's manifest, else the previous one is put back (or the
    pre-snapshot restored). The journal is then filed in ``history/`` with what was done.
    """
    from rotaflow.db.session import dispose_engines

    settings = settings or get_settings()
    config = config or load_backup_config(Path(config_path) if config_path else None)
    live = live_url or settings.resolved_database_url
    folder = journal_folder(work_dir(config, settings), live)
    journal = RestoreJournal.current(folder)
    if journal is None:
        return None
    steps = journal.steps
    last = steps[-1] if steps else "nothing"
    plan_time = journal.data.get("plan_time")
    if not plan_time:  # killed before the plan was written: nothing was done
        path = journal.finish("recovered", "interrupted before it started; nothing had been changed")
        return Recovery("untouched", "interrupted before it started; nothing had been changed", last, str(path))
    plan = Plan(
        run_id=str(journal.data.get("run_id")),
        source=journal.data.get("source", "quick"),
        tier=journal.data.get("tier", "quick"),
        backup_id=str(journal.data.get("backup_id")),
        location=str(journal.data.get("location")),
        live_url=live,
        journal_folder=str(folder),
        started_at=str(plan_time),
        tag=journal.data.get("tag"),
        config_path=config_path,
        keep_previous=bool(journal.data.get("keep_previous")),
    )
    live_database = database_at(live, config.postgres)
    dispose_engines()
    stopped = _stop_orphans(journal)  # a pg_restore still writing into a database about to be dropped
    for url in (live, plan.staging_url, plan.previous_url, plan.failed_url, plan.rollback_url):
        if _exists(url, config):  # a switch killed half-way may have left connections refused (PostgreSQL)
            with contextlib.suppress(Exception):
                ensure_connectable(url, config.postgres)
    journal.record("recovery-started", interrupted_after=last, stopped_processes=stopped)
    dropped: list[str] = []
    kept: list[str] = []

    def drop(url: str) -> None:
        database_at(url, config.postgres).drop_leftovers()
        if _exists(url, config):
            drop_database(url, config.postgres)
            dropped.append(name_of(url))

    swapping = journal.step("swapping")
    had_live = bool((swapping or {}).get("had_live", True))
    staging_there = _exists(plan.staging_url, config)
    previous_there = _exists(plan.previous_url, config)
    swapped = "swapped" in steps or (
        swapping is not None and not staging_there and (previous_there or not had_live) and _exists(live, config)
    )
    outcome: Literal["untouched", "completed", "rolled-back"]
    if "rolled-back" in steps:
        outcome, message = "rolled-back", "the run had already rolled back before it was interrupted"
    elif not swapped:
        drop(plan.staging_url)
        if previous_there and live_database.is_same(plan.previous_url):
            Path(make_url(plan.previous_url).database or "").unlink()  # a second name of the live file
        outcome = "untouched"
        message = f"the restore was interrupted before the switch (after '{last}'): the live database was never touched"
    else:
        needs_rollback = "rolling-back" in steps or "verify-failed" in steps
        if not needs_rollback and "verified-restored" not in steps:
            report = verify_restored(live, manifest_from_journal(journal))
            journal.record("recovery-verify", ok=report.ok, problems=report.problems)
            needs_rollback = not report.ok
        if needs_rollback:
            stale = plan.failed_url  # a rollback killed half-way (SQLite) leaves it as a second name of the live file
            if previous_there and live_database.is_same(stale):
                Path(make_url(stale).database or "").unlink()
            again = Plan(**{**plan.__dict__, "started_at": now_utc().isoformat()})  # new names for the new switch
            swap = Swap(live, plan.previous_url if previous_there else None, plan.staging_url)
            message = roll_back(again, swap)
            journal = RestoreJournal.current(folder) or journal  # roll_back wrote its steps to the file
            drop(plan.rollback_url)
            outcome = "rolled-back"
            message = f"the restored database was switched in but not verified; {message}"
            if _exists(again.failed_url, config):
                kept.append(name_of(again.failed_url))
        else:
            outcome = "completed"
            message = f"the restore had switched in {plan.backup_id} and it verifies: it stays live"
            if previous_there:
                if plan.keep_previous:
                    kept.append(name_of(plan.previous_url))
                else:
                    drop(plan.previous_url)
    shutil.rmtree(work_dir(config, settings) / f"restore-{plan.run_id[:12]}", ignore_errors=True)
    journal.data["recovery"] = {"outcome": outcome, "dropped": dropped, "kept": kept, "stopped_processes": stopped}
    path = journal.finish("recovered", message)
    return Recovery(outcome, message, last, str(path), dropped, kept, journal.data.get("flow_run_id"))
