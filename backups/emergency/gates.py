"""The gates before anything changes: 1 free disk space, 2 the backup verifies, 3 a pre-snapshot of the live database.

Each gate either passes (and writes what it saw to the run's journal) or raises ``GateRefused``
with the live database untouched.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from rotaflow.backups.config import open_tier_store, work_dir
from rotaflow.backups.databases import database_at, database_exists, database_size
from rotaflow.backups.disk import DiskCheck, DiskUsage, VolumeSpace, existing_ancestor
from rotaflow.backups.emergency.plan import Plan, refuse_storage
from rotaflow.backups.journal import checkpoint
from rotaflow.backups.manifest import Manifest
from rotaflow.backups.sets import CreatedBackup, create_backup, read_manifest
from rotaflow.backups.tiers import list_sacred
from rotaflow.backups.verify import VerifyReport, verify_backup
from rotaflow.configs.settings import get_settings
from rotaflow.errors import GateRefused, StorageError
from rotaflow.storage import LocalStore

__all__ = ["DISK_USAGE", "DiskGate", "check_disk", "take_pre_snapshot", "verify_source"]

DISK_USAGE: DiskUsage | None = None
"""The free-space reading of the disk gate (``shutil.disk_usage`` when None); tests replace it."""


# --------------------------------------------------------------------------- gate 1: disk


@dataclass(frozen=True)
class DiskGate:
    """What the disk gate measured: bytes written per path, the check, and what it could not see."""

    check: DiskCheck
    writes: dict[str, int]
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return self.check.message + ("" if not self.notes else " (" + "; ".join(self.notes) + ")")


def _volumes(writes: dict[Path, int], margin: int, usage: DiskUsage) -> DiskCheck:
    """Each volume needs twice what is written to it, plus the margin."""
    groups: dict[int, list[Path]] = {}
    anchors: dict[int, Path] = {}
    for path in writes:
        anchor = existing_ancestor(path)
        device = os.stat(anchor).st_dev
        groups.setdefault(device, []).append(path)
        anchors.setdefault(device, anchor)
    volumes = []
    for device, members in groups.items():
        free = int(usage(anchors[device]).free)
        volumes.append(VolumeSpace(tuple(members), free, 2 * sum(writes[p] for p in members) + margin))
    return DiskCheck(volumes)


def check_disk(plan: Plan, *, disk_usage: DiskUsage | None = None) -> DiskGate:
    """Gate 1: free space ≥ 2 × what the restore writes + the margin, on every volume it writes to.

    Written: the download of the backup and the pre-snapshot's dump (the work folder), the
    restored database (beside the live SQLite file, or the PostgreSQL server's data folder
    when it is on this machine), and the pre-snapshot (the quick tier, when a folder).
    """
    config = plan.config()
    settings = get_settings()
    journal = plan.journal()
    usage = disk_usage or DISK_USAGE or shutil.disk_usage
    store = plan.store(config)
    try:
        manifest: Manifest | None = read_manifest(store, plan.backup_id)
    except StorageError:
        manifest = None  # the verify gate says why
    try:
        download = manifest.total_bytes if manifest else sum(store.size(k) for k in store.list(plan.backup_id))
    except StorageError as exc:
        raise refuse_storage("the disk gate could not measure the backup", exc) from exc
    restored = manifest.database.size_bytes if manifest else download
    live = plan.live_url
    current = database_size(live) if database_exists(live, config.postgres) else 0
    notes: list[str] = []
    writes: dict[Path, int] = {}

    def add(path: Path, size: int) -> None:
        writes[path] = writes.get(path, 0) + size

    work = work_dir(config, settings)
    add(work, download + current)
    restored_in = database_at(live).restore_folder()  # beside a SQLite file, or the server's data folder
    if restored_in is None:
        notes.append("the PostgreSQL server's data folder is not on this machine: its free space is not checked here")
    else:
        add(restored_in, restored)
    quick = open_tier_store("quick", config, settings)
    if isinstance(quick, LocalStore):
        add(quick.root, current)
    else:
        notes.append(f"the pre-snapshot goes to {quick.url}")
    check = _volumes(writes, config.disk.margin_bytes, usage)
    gate = DiskGate(check, {str(p): n for p, n in writes.items()}, notes)
    journal.record("disk-check", ok=check.ok, message=gate.summary())
    if not check.ok:
        raise GateRefused(f"the disk gate refused: {check.message}; nothing was changed")
    return gate


# --------------------------------------------------------------------------- gate 2: verify the backup


def verify_source(plan: Plan, *, now: dt.datetime | None = None) -> VerifyReport:
    """Gate 2: checksums, manifest, Alembic compatibility, and Object Lock for a baseline."""
    journal = plan.journal()
    store = plan.store()
    report = verify_backup(store, plan.backup_id, now=now, require_lock=True if plan.tier == "immaculate" else None)
    if plan.tag and report.manifest is not None:
        tag = next((t for t in list_sacred(config=plan.config()) if t.name == plan.tag), None)
        if tag is not None and tag.alembic_revision != report.manifest.alembic_revision:
            report.problems.append(
                f"sacred tag {plan.tag} recorded Alembic revision {tag.alembic_revision}, "
                f"the backup says {report.manifest.alembic_revision}"
            )
    if report.manifest is not None and report.manifest.backup_id == plan.backup_id:
        journal.set(manifest=report.manifest.model_dump(mode="json"))
    journal.record("verify-backup", ok=report.ok, problems=report.problems, notes=report.notes)
    if not report.ok:
        lines = "\n".join("  - " + p for p in report.problems)
        raise GateRefused(f"the verify gate refused backup {plan.backup_id}; nothing was changed:\n{lines}")
    return report


# --------------------------------------------------------------------------- gate 3: pre-snapshot


def take_pre_snapshot(plan: Plan) -> CreatedBackup | None:
    """Gate 3: a quick backup of the live database, verified; None when there is no live database."""
    config = plan.config()
    settings = get_settings()
    journal = plan.journal()
    if not database_exists(plan.live_url, config.postgres):
        journal.record("pre-snapshot", backup_id=None, note="there is no live database to snapshot")
        return None
    journal.record("pre-snapshot-started")
    try:
        created = create_backup(
            "quick", database_url=plan.live_url, config=config, settings=settings, disk_usage=DISK_USAGE
        )
        report = verify_backup(open_tier_store("quick", config, settings), created.backup_id, check_alembic=False)
    except StorageError as exc:
        raise refuse_storage("the pre-snapshot could not be written", exc) from exc
    except GateRefused as exc:
        raise GateRefused(f"the pre-snapshot gate refused: {exc}; nothing was changed") from exc
    if not report.ok:
        lines = "\n".join("  - " + p for p in report.problems)
        raise GateRefused(f"the pre-snapshot {created.backup_id} does not verify; nothing was changed:\n{lines}")
    journal.record("pre-snapshot", backup_id=created.backup_id, location=created.location)
    checkpoint("after-pre-snapshot")
    return created
