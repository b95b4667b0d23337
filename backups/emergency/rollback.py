"""The way back when a switch was made and the restored database is refused.

``roll_back`` puts the previous database back live (``undo_swap``) or, when that is impossible,
restores the pre-snapshot into a new database and switches it in; when there was no live
database before, the refused restore is moved aside. It writes ``rolled-back`` (or
``rollback-failed``) to the run's journal.
"""

from __future__ import annotations

import shutil

from rotaflow.backups.config import BackupConfig, open_tier_store, work_dir
from rotaflow.backups.databases import (
    Swap,
    database_at,
    database_exists,
    drop_database,
    restore_dump,
    sibling_url,
    stamp,
    swap_databases,
)
from rotaflow.backups.emergency.chain import journal_restore_process
from rotaflow.backups.emergency.plan import Plan, name_of
from rotaflow.backups.journal import RestoreJournal
from rotaflow.backups.restore import undo_swap, verify_restored
from rotaflow.backups.sets import fetch_backup
from rotaflow.configs.settings import get_settings
from rotaflow.errors import GateRefused

__all__ = ["roll_back"]


def _set_aside(url: str, label: str, config: BackupConfig) -> str:
    """Move a database out of the live name (when there was none before the restore)."""
    target = sibling_url(url, f"{label}_{stamp()}")
    database_at(url, config.postgres).set_aside(target)
    return target


def _restore_snapshot(plan: Plan, snapshot_id: str, config: BackupConfig, journal: RestoreJournal) -> str:
    """Put the pre-snapshot back: into a new database, switched in by rename, verified."""
    settings = get_settings()
    store = open_tier_store("quick", config, settings)
    download = work_dir(config, settings) / f"rollback-{plan.run_id[:12]}"
    target = plan.rollback_url
    journal.record("rolling-back", method="pre-snapshot", snapshot=snapshot_id, staging=name_of(target))
    try:
        drop_database(target, config.postgres)
        fetched = fetch_backup(store, snapshot_id, download)
        restore_dump(
            fetched.dump_path,
            fetched.manifest.database.dialect,
            target,
            tools=config.postgres,
            encoding=fetched.manifest.database.encoding,
            dump_tool=fetched.manifest.database.dump_tool,
            on_start=journal_restore_process(journal, target),
        )
    finally:
        shutil.rmtree(download, ignore_errors=True)
    failed = sibling_url(plan.live_url, f"failed_{stamp()}")
    swap_databases(target, plan.live_url, keep_as=name_of(failed), tools=config.postgres)
    report = verify_restored(plan.live_url, fetched.manifest, contracts=False)
    report.raise_for_problems("the pre-snapshot put back")
    return f"the pre-snapshot {snapshot_id} was restored; the refused restore is kept as {name_of(failed)}"


def roll_back(plan: Plan, swap: Swap | None) -> str:
    """Undo a switch that was made: the previous database back live, else the pre-snapshot restored.

    Writes ``rolled-back`` (or ``rollback-failed``) to the journal and says what it did.
    """
    from rotaflow.db.session import dispose_engines

    config = plan.config()
    journal = plan.journal()
    dispose_engines()
    previous = swap.previous_url if swap else None
    if previous and database_exists(previous, config.postgres):
        journal.record("rolling-back", method="undo-swap", previous=name_of(previous), failed=name_of(plan.failed_url))
        try:
            undone = undo_swap(swap, config=config, now=plan.now)  # type: ignore[arg-type]
            dispose_engines()
            kept = name_of(undone.previous_url) if undone.previous_url else "nothing"
            message = f"the previous database was put back live; the refused restore is kept as {kept}"
            journal.record("rolled-back", method="undo-swap", message=message)
            return message
        except Exception as exc:
            journal.record("undo-swap-failed", error=f"{type(exc).__name__}: {exc}"[:500])
    snapshot = (journal.step("pre-snapshot") or {}).get("backup_id")
    try:
        if snapshot:
            message = _restore_snapshot(plan, str(snapshot), config, journal)
        elif not (journal.step("swapping") or {}).get("had_live", True):
            aside = _set_aside(plan.live_url, "failed", config)
            message = f"there was no live database before: the refused restore was moved aside to {name_of(aside)}"
        else:
            raise GateRefused("no set-aside database and no pre-snapshot to go back to")
    except Exception as exc:
        text_ = f"ROLLBACK FAILED ({type(exc).__name__}: {exc}); look at the journal {journal.path}"
        journal.record("rollback-failed", error=text_[:800])
        raise GateRefused(text_) from exc
    finally:
        dispose_engines()
    journal.record("rolled-back", method="pre-snapshot" if snapshot else "set-aside", message=message)
    return message
