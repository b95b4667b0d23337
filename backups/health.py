"""Re-verify every backup of every tier, and how fresh each tier is (``verify_backups``)."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from typing import Any

from rotaflow.backups.config import TIERS, BackupConfig, Tier, load_backup_config, open_tier_store
from rotaflow.backups.sets import list_backups
from rotaflow.backups.tiers import TierStatus, find_backup, list_sacred, restore_test, tier_status
from rotaflow.backups.verify import verify_backup
from rotaflow.configs.settings import Settings, get_settings
from rotaflow.errors import StorageError

__all__ = [
    "VerifySteps",
    "VerifySummary",
    "check_sacred_tags",
    "check_tier",
    "direct_steps",
    "hours",
    "restore_test_newest",
    "restore_test_plan",
    "restore_test_skipped",
    "stale_messages",
    "summarize",
    "verify",
    "verify_all",
]


def hours(age: dt.timedelta | None) -> float | None:
    return None if age is None else round(age.total_seconds() / 3600, 2)


def check_tier(tier: Tier, config: BackupConfig, settings: Settings | None = None) -> list[dict[str, Any]]:
    """Every backup of a tier re-verified: checksums, manifest, and Object Lock for baselines.

    The Alembic revision is not held against a backup here (it matters when restoring).
    """
    store = open_tier_store(tier, config, settings or get_settings())
    try:
        listing = list_backups(store, read_manifests=False)
    except StorageError as exc:
        return [{"tier": tier, "backup_id": "(the tier)", "complete": False, "ok": False, "problems": [str(exc)]}]
    results: list[dict[str, Any]] = []
    for info in listing:
        report = verify_backup(store, info.backup_id, check_alembic=False)
        results.append(
            {
                "tier": tier,
                "backup_id": info.backup_id,
                "complete": info.complete,
                "ok": report.ok,
                "problems": report.problems,
                "notes": report.notes,
                "bytes": report.bytes_checked,
            }
        )
    return results


def check_sacred_tags(config: BackupConfig, settings: Settings | None = None) -> list[dict[str, Any]]:
    """Every sacred tag must point at a complete backup that still exists."""
    settings = settings or get_settings()
    results: list[dict[str, Any]] = []
    try:
        tags = list_sacred(config=config, settings=settings)
    except StorageError as exc:
        return [{"tier": "sacred", "backup_id": "(the tier)", "complete": False, "ok": False, "problems": [str(exc)]}]
    for tag in tags:
        problems: list[str] = []
        try:
            find_backup(tag.backup_id, config=config, settings=settings, tier=tag.tier)  # type: ignore[arg-type]
        except Exception as exc:
            problems.append(f"sacred tag {tag.name} points at {tag.backup_id} in the {tag.tier} tier: {exc}")
        results.append(
            {
                "tier": "sacred",
                "backup_id": tag.name,
                "complete": not problems,
                "ok": not problems,
                "problems": problems,
            }
        )
    return results


def restore_test_plan(
    statuses: dict[str, TierStatus], results: dict[str, list[dict[str, Any]]], config: BackupConfig
) -> list[tuple[Tier, str | None, str | None]]:
    """(tier, backup id, why not) for each tier of ``restore_test.tiers``: its newest complete backup,
    unless there is none or it already failed verification (then the reason, and no restore)."""
    plan: list[tuple[Tier, str | None, str | None]] = []
    for tier in config.restore_test.tiers:
        newest = statuses[tier].newest
        damaged = {r["backup_id"] for r in results.get(tier, []) if not r["ok"]}
        if not statuses[tier].configured:
            plan.append((tier, None, "the tier is not configured"))
        elif newest is None:
            plan.append((tier, None, "the tier holds no complete backup"))
        elif newest in damaged:
            plan.append((tier, newest, "it does not verify (see the damaged backups)"))
        else:
            plan.append((tier, newest, None))
    return plan


def restore_test_newest(
    tier: Tier, backup_id: str, config: BackupConfig, settings: Settings | None = None
) -> dict[str, Any]:
    """Restore ``tier/backup_id`` into a scratch database and check it; never raises, reports."""
    started = time.monotonic()
    try:
        report = restore_test(tier, backup_id, config=config, settings=settings or get_settings())
        problems, tables = report.problems, report.tables_checked
    except Exception as exc:  # a set that cannot be fetched or restored is this check's finding
        problems, tables = [f"{type(exc).__name__}: {exc}"], 0
    return {
        "tier": tier,
        "backup_id": backup_id,
        "ok": not problems,
        "problems": problems,
        "tables_checked": tables,
        "seconds": round(time.monotonic() - started, 2),
    }


@dataclass(frozen=True)
class VerifySummary:
    """What a verification of every tier found (``verify_backups``' result, ``backup verify --json``)."""

    checked: int
    """Backups and sacred tags checked."""
    tiers: dict[str, dict[str, Any]]
    """Per tier: count, incomplete, newest, age_hours, stale_after_hours, stale, configured, damaged."""
    stale: list[str]
    not_configured: list[str]
    """Tiers not in use (never stale)."""
    damaged: list[dict[str, Any]]
    """Every backup that does not verify (``check_tier``'s item)."""
    restore_tests: list[dict[str, Any]]
    restore_failed: list[dict[str, Any]]
    ok: bool
    """Nothing damaged and no restore test failed (staleness is a warning)."""

    def as_dict(self) -> dict[str, Any]:
        """The JSON form: the fields in order."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


def summarize(
    results: dict[str, list[dict[str, Any]]],
    statuses: dict[str, TierStatus],
    config: BackupConfig,
    restore_tests: list[dict[str, Any]] | None = None,
) -> VerifySummary:
    """One summary: per tier its count, newest backup, age, staleness, whether it is configured and its
    damage; the stale tiers, the tiers not configured (never stale); the restore tests and which failed."""
    tiers: dict[str, Any] = {}
    for tier in TIERS:
        status = statuses[tier]
        tiers[tier] = {
            "count": status.count,
            "incomplete": status.incomplete,
            "newest": status.newest,
            "age_hours": hours(status.age),
            "stale_after_hours": config.tier(tier).stale_after_hours,
            "stale": status.stale,
            "configured": status.configured,
            "damaged": [r["backup_id"] for r in results[tier] if not r["ok"]],
        }
    damaged = [r for tier in TIERS for r in results[tier] if not r["ok"]]
    tests = list(restore_tests or [])
    failed = [t for t in tests if not t["ok"]]
    return VerifySummary(
        checked=sum(len(found) for found in results.values()),
        tiers=tiers,
        stale=[t for t, facts in tiers.items() if facts["stale"]],
        not_configured=[t for t, facts in tiers.items() if not facts["configured"]],
        damaged=damaged,
        restore_tests=tests,
        restore_failed=failed,
        ok=not damaged and not failed,
    )


def stale_messages(summary: Mapping[str, Any]) -> list[str]:
    """One warning line per stale tier."""
    lines = []
    for tier in summary["stale"]:
        facts = summary["tiers"][tier]
        if facts["newest"] is None:
            lines.append(f"backup tier {tier} is stale: it holds no backup")
        else:
            lines.append(
                f"backup tier {tier} is stale: its newest backup {facts['newest']} is {facts['age_hours']:.1f} "
                f"hours old (limit {facts['stale_after_hours']})"
            )
    return lines


def _not_told(tier: Tier, why: str | None) -> None:
    """A restore test not run, told to no one."""


@dataclass(frozen=True)
class VerifySteps:
    """The steps of a verification (``verify``): the flow ``verify_backups`` gives its tasks, the command line's
    ``--no-flow`` run the functions of this module (``direct_steps``)."""

    check_tier: Callable[[Tier], list[dict[str, Any]]]
    """Every backup of a tier re-verified (``check_tier``)."""
    check_sacred_tags: Callable[[], list[dict[str, Any]]]
    tier_status: Callable[[Tier], TierStatus]
    config: Callable[[], BackupConfig]
    """The backup configuration (read once the tiers are checked)."""
    restore_test: Callable[[Tier, str], dict[str, Any]]
    """The newest backup of a tier restored into a scratch database and checked (``restore_test_newest``)."""
    not_run: Callable[[Tier, str | None], None] = _not_told
    """Told of a restore test not run, and why."""


def direct_steps(config: BackupConfig, settings: Settings) -> VerifySteps:
    """The steps as plain calls on ``config`` and ``settings``."""
    return VerifySteps(
        check_tier=lambda tier: check_tier(tier, config, settings),
        check_sacred_tags=lambda: check_sacred_tags(config, settings),
        tier_status=lambda tier: tier_status(tier, config=config, settings=settings),
        config=lambda: config,
        restore_test=lambda tier, backup_id: restore_test_newest(tier, backup_id, config, settings),
    )


def verify(steps: VerifySteps, *, restore: bool = True) -> VerifySummary:
    """Every tier checked and its freshness read, tier by tier; then (``restore``) the restore tests of
    ``restore_test_plan``, those it rules out reported as not run; one summary."""
    results: dict[str, list[dict[str, Any]]] = {}
    statuses: dict[str, TierStatus] = {}
    for tier in TIERS:
        results[tier] = steps.check_sacred_tags() if tier == "sacred" else steps.check_tier(tier)
        statuses[tier] = steps.tier_status(tier)
    config = steps.config()
    tests: list[dict[str, Any]] = []
    if restore:
        for tier, backup_id, skipped in restore_test_plan(statuses, results, config):
            if skipped is None and backup_id is not None:
                tests.append(steps.restore_test(tier, backup_id))
            else:
                steps.not_run(tier, skipped)
                tests.append(restore_test_skipped(tier, backup_id, skipped))
    return summarize(results, statuses, config, tests)


def verify_all(
    config: BackupConfig | None = None, settings: Settings | None = None, *, restore: bool = True
) -> dict[str, Any]:
    """Everything ``verify_backups`` checks, without Prefect (``restore``: with the restore tests); the
    summary's JSON form."""
    config = config or load_backup_config()
    settings = settings or get_settings()
    return verify(direct_steps(config, settings), restore=restore).as_dict()


def restore_test_skipped(tier: str, backup_id: str | None, why: str | None) -> dict[str, Any]:
    """A restore test not run; it is not a failure of its own (the damage or staleness is reported)."""
    return {"tier": tier, "backup_id": backup_id, "ok": True, "skipped": why, "problems": [], "tables_checked": 0}
