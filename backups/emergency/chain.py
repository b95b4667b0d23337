"""Steps 5 and 6 of the chain: restore into a new database and switch it in, then verify the live database.

``stage_restore`` only ever creates a new database (dropped again by ``drop_staging`` when the
restore fails); ``switch_live`` makes it the live one by rename, the old one set aside;
``verify_live`` checks the result, and ``finish_success`` retires the old one. Each step is
written to the run's journal before its effect.
"""

from __future__ import annotations

import shutil
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rotaflow.backups.config import work_dir
from rotaflow.backups.databases import Swap, database_at, database_exists, drop_database
from rotaflow.backups.emergency import gates
from rotaflow.backups.emergency.plan import Plan, name_of
from rotaflow.backups.journal import RestoreJournal, checkpoint
from rotaflow.backups.manifest import Manifest
from rotaflow.backups.restore import restore_into, retire_previous, swap_in, verify_restored
from rotaflow.backups.sets import fetch_backup
from rotaflow.backups.verify import VerifyReport
from rotaflow.configs.settings import get_settings, mask_url
from rotaflow.errors import GateRefused, StorageError

__all__ = [
    "drop_staging",
    "finish_success",
    "journal_restore_process",
    "manifest_from_journal",
    "stage_restore",
    "switch_live",
    "verify_live",
]


# --------------------------------------------------------------------------- step 5: restore, switch


def stage_restore(plan: Plan) -> str:
    """Download the backup, check the copy, restore it into the new staging database; its URL."""
    config = plan.config()
    settings = get_settings()
    journal = plan.journal()
    download = work_dir(config, settings) / f"restore-{plan.run_id[:12]}"
    journal.record("fetching", into=str(download))
    try:
        fetched = fetch_backup(
            plan.store(config), plan.backup_id, download, margin=config.disk.margin_bytes, disk_usage=gates.DISK_USAGE
        )
        journal.record("restoring", staging=name_of(plan.staging_url))
        started = journal_restore_process(journal, plan.staging_url)
        restore_into(fetched, plan.staging_url, config=config, on_start=started)
    except BaseException as exc:
        drop_staging(plan)  # whatever the restore left is not a database anyone should use
        if isinstance(exc, StorageError):
            raise GateRefused(f"the restore gate stopped: the backup could not be downloaded ({exc})") from exc
        raise
    finally:
        shutil.rmtree(download, ignore_errors=True)
    journal.record("restored", staging=name_of(plan.staging_url))
    checkpoint("before-swap")
    return plan.staging_url


def journal_restore_process(journal: RestoreJournal, target_url: str) -> Callable[[int], None]:
    """Write down the ``pg_restore`` about to fill ``target_url``: a recovery stops it if this run dies."""

    def started(pid: int) -> None:
        journal.record("pg-restore-started", pid=pid, database=name_of(target_url), host=socket.gethostname())

    return started


def drop_staging(plan: Plan) -> None:
    """Rollback of the staging step: drop the half-made or refused staging database."""
    config = plan.config()
    database_at(plan.staging_url, config.postgres).drop_leftovers()
    if database_exists(plan.staging_url, config.postgres):
        drop_database(plan.staging_url, config.postgres)
        _journal_note(plan, "staging-dropped", staging=name_of(plan.staging_url))


def _journal_note(plan: Plan, step: str, **details: Any) -> None:
    journal = RestoreJournal.current(Path(plan.journal_folder))
    if journal is not None and journal.data.get("run_id") == plan.run_id:
        journal.record(step, **details)


def switch_live(plan: Plan) -> Swap:
    """Make the staging database the live one by rename; the old one is set aside."""
    from rotaflow.db.session import dispose_engines

    config = plan.config()
    journal = plan.journal()
    had_live = database_exists(plan.live_url, config.postgres)
    journal.record(
        "swapping", staging=name_of(plan.staging_url), previous=name_of(plan.previous_url), had_live=had_live
    )
    dispose_engines()  # pooled connections would go on reading the old database
    swap = swap_in(plan.staging_url, plan.live_url, config=config, now=plan.now)
    dispose_engines()
    journal.record("swapped", previous=name_of(swap.previous_url) if swap.previous_url else None)
    checkpoint("after-swap")
    return swap


# --------------------------------------------------------------------------- gate 6: verify the live database


def manifest_from_journal(journal: RestoreJournal) -> Manifest:
    raw = journal.data.get("manifest")
    if not raw:
        raise GateRefused("the journal holds no manifest of the restored backup")
    return Manifest.model_validate(raw)


def verify_live(plan: Plan, *, extra_checks: tuple[Callable[[str, Manifest], list[str]], ...] = ()) -> VerifyReport:
    """Gate 6: the live database equals the backup (rows, fingerprints, revision) and passes the contracts."""
    journal = plan.journal()
    manifest = manifest_from_journal(journal)
    journal.record("verifying")
    report = verify_restored(plan.live_url, manifest, extra_checks=extra_checks)
    if not report.ok:
        journal.record("verify-failed", problems=report.problems)
        lines = "\n".join("  - " + p for p in report.problems)
        raise GateRefused(f"the restored database failed its verification:\n{lines}")
    journal.record("verified-restored", tables=report.tables_checked)
    return report


def finish_success(plan: Plan, swap: Swap) -> str:
    """Drop the set-aside previous database (unless kept) and close the journal."""
    config = plan.config()
    journal = plan.journal()
    message = f"restored {plan.backup_id} into {mask_url(plan.live_url)} and verified it"
    if swap.previous_url and not plan.keep_previous:
        retire_previous(swap, config=config)
        journal.record("previous-dropped", previous=name_of(swap.previous_url))
    elif swap.previous_url:
        message += f"; the previous database is kept as {name_of(swap.previous_url)}"
    journal.finish("done", message)
    return message
