"""Backups as a service: take one and check it where it is stored, promote one, judge a verification.

The Prefect tasks of the backup flows (tasks/backup.py) call these functions step by step; the
command line's ``--no-flow`` runs call the chains (:func:`take_verified_backup`, :func:`promote`),
which do what the flows ``backup`` and ``promote_immaculate_flow`` do without their artifacts and
events. Both give the same result, built by :func:`backup_result` and :func:`promotion_result`. A
verification of every tier is one function, ``rotaflow.backups.health.verify``: the flow ``verify_backups``
runs it over its tasks, ``backup verify --no-flow`` over the plain functions; :func:`verify_failure` judges it.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from rotaflow.backups.config import BackupConfig, Tier, open_tier_store
from rotaflow.backups.sets import CreatedBackup, create_backup
from rotaflow.backups.tiers import Promoted, PruneResult, promote_immaculate, prune_quick
from rotaflow.backups.verify import VerifyReport, verify_backup
from rotaflow.errors import StorageError

__all__ = [
    "backup_result",
    "check_new_backup",
    "promote",
    "promotion_result",
    "take_backup",
    "take_verified_backup",
    "verify_failure",
]


def take_backup(
    tier: Tier, name: str | None, *, config: BackupConfig, extras: Mapping[str, str] | None = None
) -> CreatedBackup:
    """Dump the live database into a new self-describing set in the tier's store.

    ``extras`` are files or folders the backup refers to (program bundles, reports), by label.
    """
    return create_backup(
        tier, name=name, config=config, extras={label: Path(path) for label, path in (extras or {}).items()}
    )


def check_new_backup(tier: Tier, backup_id: str, *, config: BackupConfig) -> VerifyReport:
    """Check a new set where it is stored; refuses (``GateRefused``) when it does not verify."""
    report = verify_backup(open_tier_store(tier, config), backup_id)
    report.raise_for_problems("the check of the new backup")
    return report


def backup_result(created: CreatedBackup, report: VerifyReport, pruned: PruneResult | None) -> dict[str, Any]:
    """What a backup run returns (the command line's ``backup create --json``)."""
    return {
        "backup_id": created.backup_id,
        "tier": created.tier,
        "name": created.manifest.name,
        "location": created.location,
        "alembic_revision": created.manifest.alembic_revision,
        "bytes": created.manifest.total_bytes,
        "files": len(created.manifest.files),
        "verified": report.ok,
        "pruned": pruned.removed if pruned else [],
        "restore_command": created.manifest.restore_command,
    }


def take_verified_backup(
    tier: Tier, name: str | None, *, config: BackupConfig, extras: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """Take a backup, check it where it is stored, prune the quick tier (after a quick backup)."""
    created = take_backup(tier, name, config=config, extras=extras)
    report = check_new_backup(tier, created.backup_id, config=config)
    pruned = prune_quick(config=config) if tier == "quick" else None
    return backup_result(created, report, pruned)


def promotion_result(promoted: Promoted) -> dict[str, Any]:
    """What a promotion returns (the command line's ``backup promote-immaculate --json``)."""
    return {
        "backup_id": promoted.backup_id,
        "promoted_from": promoted.promoted_from,
        "location": promoted.location,
        "retain_until": promoted.retain_until.isoformat(),
        "notes": promoted.notes,
    }


def promote(backup_id: str, name: str | None, *, config: BackupConfig) -> dict[str, Any]:
    """Make a quick or named backup a new immaculate baseline (scratch restore, checks, Object Lock)."""
    return promotion_result(promote_immaculate(backup_id, name=name, config=config))


def verify_failure(summary: dict[str, Any]) -> StorageError | None:
    """The error a verification ends with: every damaged or incomplete backup and failed restore test; it
    carries the verification's summary (``summary``)."""
    problems = [f"{d['tier']}/{d['backup_id']}" for d in summary["damaged"]]
    problems += [f"{t['tier']}/{t['backup_id']} (restore test)" for t in summary["restore_failed"]]
    if not problems:
        return None
    message = f"{len(problems)} backup(s) damaged, incomplete or not restorable: " + ", ".join(problems)
    return StorageError(message, summary=summary)
