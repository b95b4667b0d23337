"""Thin Prefect tasks of the backup flows: each calls one function of ``backups`` or of the backup service."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE

from rotaflow.backups import health
from rotaflow.backups.config import BackupConfig, Tier, load_backup_config
from rotaflow.backups.disk import human_bytes
from rotaflow.backups.sets import CreatedBackup
from rotaflow.backups.tiers import Promoted, PruneResult, TierStatus, promote_immaculate, prune_quick, tier_status
from rotaflow.backups.verify import VerifyReport
from rotaflow.services import backup as service

__all__ = [
    "check_backup",
    "check_sacred_tags",
    "check_tier",
    "load_config",
    "promote_to_immaculate",
    "prune_quick_backups",
    "publish_backup_report",
    "publish_promotion",
    "publish_verify_report",
    "restore_test_backup",
    "take_backup",
    "tier_freshness",
]


def load_config(config_path: str | None) -> BackupConfig:
    return load_backup_config(Path(config_path) if config_path else None)


@task(name="take-backup", cache_policy=NO_CACHE)
def take_backup(tier: Tier, name: str | None, config_path: str | None, extras: dict[str, str] | None) -> CreatedBackup:
    """Dump the live database into a new self-describing set in the tier's store."""
    return service.take_backup(tier, name, config=load_config(config_path), extras=extras)


@task(name="verify-backup", cache_policy=NO_CACHE)
def check_backup(tier: Tier, backup_id: str, config_path: str | None) -> VerifyReport:
    """Check one set where it is stored (refuses when it does not verify)."""
    return service.check_new_backup(tier, backup_id, config=load_config(config_path))


@task(name="prune-quick", cache_policy=NO_CACHE)
def prune_quick_backups(config_path: str | None) -> PruneResult:
    """Drop quick backups beyond the count or age the configuration keeps."""
    return prune_quick(config=load_config(config_path))


@task(name="check-tier", cache_policy=NO_CACHE)
def check_tier(tier: Tier, config_path: str | None) -> list[dict[str, Any]]:
    """Re-verify every backup of a tier: checksums, manifest, and Object Lock for baselines."""
    return health.check_tier(tier, load_config(config_path))


@task(name="check-sacred-tags", cache_policy=NO_CACHE)
def check_sacred_tags(config_path: str | None) -> list[dict[str, Any]]:
    """Every sacred tag must point at a complete backup that still exists."""
    return health.check_sacred_tags(load_config(config_path))


@task(name="tier-freshness", cache_policy=NO_CACHE)
def tier_freshness(tier: Tier, config_path: str | None) -> TierStatus:
    """The newest backup of a tier, its age, and whether that is older than the tier allows."""
    return tier_status(tier, config=load_config(config_path))


@task(name="restore-test", cache_policy=NO_CACHE, task_run_name="restore-test-{tier}")
def restore_test_backup(tier: Tier, backup_id: str, config_path: str | None) -> dict[str, Any]:
    """Restore a tier's newest backup into a scratch database, check it like a real restore, drop it."""
    return health.restore_test_newest(tier, backup_id, load_config(config_path))


@task(name="promote-immaculate", cache_policy=NO_CACHE)
def promote_to_immaculate(backup_id: str, name: str | None, config_path: str | None) -> Promoted:
    """Restore into a scratch database, check, and upload under Object Lock as a new baseline."""
    return promote_immaculate(backup_id, name=name, config=load_config(config_path))


# --------------------------------------------------------------------------- artifacts


@task(name="publish-backup-report", cache_policy=NO_CACHE)
def publish_backup_report(created: CreatedBackup, report: VerifyReport, pruned: PruneResult | None) -> None:
    manifest = created.manifest
    lines = [
        f"# Backup `{created.backup_id}`",
        "",
        f"- tier: **{created.tier}**" + (f" — {manifest.name}" if manifest.name else ""),
        f"- stored in: `{created.location}`",
        f"- database: {manifest.database.dialect}, {human_bytes(manifest.database.size_bytes)}, "
        f"Alembic revision {manifest.alembic_revision or 'none'}",
        f"- set: {len(manifest.files)} file(s), {human_bytes(manifest.total_bytes)}; {report.summary()}",
        f"- restore: `{manifest.restore_command}`",
    ]
    if pruned is not None:
        lines.append(
            f"- quick tier pruned: {len(pruned.removed)} removed, {len(pruned.kept)} kept"
            + (f", {len(pruned.protected)} protected by sacred tags" if pruned.protected else "")
        )
    create_markdown_artifact(key="backup", markdown="\n".join(lines) + "\n", description="The new backup set")


@task(name="publish-verify-report", cache_policy=NO_CACHE)
def publish_verify_report(summary: dict[str, Any]) -> None:
    rows = []
    for tier, facts in summary["tiers"].items():
        rows.append(
            {
                "tier": tier,
                "backups": facts["count"],
                "newest": facts["newest"] or "none",
                "age_hours": facts["age_hours"],
                "stale_after_hours": facts["stale_after_hours"],
                "stale": facts["stale"],
                "configured": facts.get("configured", True),
                "damaged": len(facts["damaged"]),
            }
        )
    create_table_artifact(key="backup-freshness", table=rows, description="Newest backup per tier and its age")
    lines = ["# Backup verification", ""]
    if summary["stale"]:
        lines.append("**Stale tiers:** " + ", ".join(summary["stale"]) + " — take or promote a new backup.")
    if summary.get("not_configured"):
        lines.append("**Not configured:** " + ", ".join(summary["not_configured"]) + " (not in use, never stale).")
    if summary["damaged"]:
        lines += ["", "**Damaged or incomplete backups:**", ""]
        lines += [f"- `{d['tier']}/{d['backup_id']}`: " + "; ".join(d["problems"]) for d in summary["damaged"]]
    tests = summary.get("restore_tests", [])
    if tests:
        lines += ["", "**Restore tests** (the newest backup of a tier into a scratch database):", ""]
        for test in tests:
            what = f"- `{test['tier']}/{test['backup_id'] or '-'}`: "
            if test.get("skipped"):
                lines.append(what + f"not run: {test['skipped']}")
            elif test["ok"]:
                lines.append(what + f"restored and checked ({test['tables_checked']} tables, {test['seconds']} s)")
            else:
                lines.append(what + "**failed**: " + "; ".join(test["problems"]))
    if not summary["stale"] and not summary["damaged"] and not summary.get("restore_failed"):
        lines.append("")
        lines.append("Every backup verifies, every restore test passed and every tier is fresh.")
    lines += ["", f"{summary['checked']} backup(s) and tag(s) checked."]
    create_markdown_artifact(key="backup-verification", markdown="\n".join(lines) + "\n", description="verify_backups")


@task(name="publish-promotion", cache_policy=NO_CACHE)
def publish_promotion(promoted: Promoted) -> None:
    lines = [
        f"# New immaculate baseline `{promoted.backup_id}`",
        "",
        f"- promoted from: `{promoted.promoted_from}`",
        f"- stored in: `{promoted.location}` under Object Lock (COMPLIANCE) until "
        f"{promoted.retain_until:%Y-%m-%d %H:%M} UTC",
        f"- restore: `{promoted.manifest.restore_command}`",
        *[f"- {note}" for note in promoted.notes],
    ]
    create_markdown_artifact(key="immaculate-baseline", markdown="\n".join(lines) + "\n", description="Promotion")
