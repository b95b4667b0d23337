"""Flows ``backup``, ``verify_backups`` and ``promote_immaculate_flow``."""

from __future__ import annotations

from typing import Any, Literal

from prefect import flow, get_run_logger
from prefect.events import emit_event
from prefect.states import State

from rotaflow.backups.config import TIERS
from rotaflow.backups.health import restore_test_plan, restore_test_skipped, stale_messages, summarize
from rotaflow.backups.tiers import TierStatus
from rotaflow.flows import outcome
from rotaflow.services.backup import backup_result, promotion_result, verify_failure
from rotaflow.tasks.backup import (
    check_backup,
    check_sacred_tags,
    check_tier,
    load_config,
    promote_to_immaculate,
    prune_quick_backups,
    publish_backup_report,
    publish_promotion,
    publish_verify_report,
    restore_test_backup,
    take_backup,
    tier_freshness,
)

__all__ = ["backup", "promote_immaculate_flow", "verify_backups"]


@flow(name="backup", log_prints=False, on_failure=[outcome.unreported_failure])
def backup(
    tier: Literal["quick", "named"] = "quick",
    name: str | None = None,
    extras: dict[str, str] | None = None,
    config_path: str | None = None,
) -> dict[str, Any] | State:
    """Take a backup into ``tier`` (named: under ``name``), verify it where it is stored, prune quick.

    ``extras`` are files or folders the backup refers to (program bundles, reports), by label.

    Args:
        tier: quick (automatic dumps, pruned to the newest few) or named (kept until deleted; give a name).
        name: The named backup's name, e.g. "before the 2027 rules change" (named tier only).
        extras: Files or folders to include, by label (e.g. {"run": "var/runs/sample-2027-B01"}).
        config_path: A backup configuration instead of configs/backup.yaml.
    """
    created = take_backup(tier, name, config_path, extras)
    report = check_backup(tier, created.backup_id, config_path)
    pruned = prune_quick_backups(config_path) if tier == "quick" else None
    publish_backup_report(created, report, pruned)
    emit_event(  # a proactive automation warns when none arrives for a day (configs/automations.yaml)
        "rotaflow.backup.created",
        resource={"prefect.resource.id": f"rotaflow.backup.{created.tier}"},
        payload={"backup_id": created.backup_id, "bytes": created.manifest.total_bytes},
    )
    result = backup_result(created, report, pruned)
    checked = "verified" if result["verified"] else "NOT verified"
    line = f"backup {created.backup_id} ({created.tier}, {result['bytes']} bytes) taken and {checked}"
    if result["pruned"]:
        line += f"; {len(result['pruned'])} older quick backup(s) pruned"
    return outcome.completed(line, data=result)


@flow(name="verify-backups", log_prints=False, on_failure=[outcome.unreported_failure])
def verify_backups(config_path: str | None = None, restore_test: bool = True) -> dict[str, Any] | State:
    """Re-verify every backup of every tier, prove the newest ones restore, report how fresh each tier is.

    A stale tier (its newest backup older than its ``stale_after_hours``) is a warning: a
    WARNING log, a ``rotaflow.backup.stale`` event and the artifacts. A damaged or incomplete backup
    fails the run, and so does a failed restore test (the newest backup of each tier of
    ``restore_test.tiers`` in configs/backup.yaml, restored into a scratch database that is dropped
    afterwards; the live database is never touched): a ``rotaflow.backup.restore-test-failed`` event.

    Args:
        config_path: A backup configuration instead of configs/backup.yaml.
        restore_test: Restore the newest backup of each configured tier into a scratch database and check it.
    """
    logger = get_run_logger()
    results: dict[str, list[dict[str, Any]]] = {}
    statuses: dict[str, TierStatus] = {}
    for tier in TIERS:
        results[tier] = check_sacred_tags(config_path) if tier == "sacred" else check_tier(tier, config_path)
        statuses[tier] = tier_freshness(tier, config_path)
    config = load_config(config_path)
    tests: list[dict[str, Any]] = []
    if restore_test:
        for tier, backup_id, skipped in restore_test_plan(statuses, results, config):
            if skipped is None and backup_id is not None:
                tests.append(restore_test_backup(tier, backup_id, config_path))
            else:
                logger.info("restore test of the %s tier not run: %s", tier, skipped)
                tests.append(restore_test_skipped(tier, backup_id, skipped))
    summary = summarize(results, statuses, config, tests)
    for line in stale_messages(summary):
        logger.warning("%s", line)
    for tier in summary["stale"]:  # an event too: the operator sees it in the UI, not only in a log
        facts = summary["tiers"][tier]
        emit_event(
            "rotaflow.backup.stale",
            resource={"prefect.resource.id": f"rotaflow.backup.{tier}"},
            payload={k: facts.get(k) for k in ("newest", "age_hours", "stale_after_hours")},
        )
    damaged = summary["damaged"]
    for item in damaged:
        logger.error("backup %s/%s: %s", item["tier"], item["backup_id"], "; ".join(item["problems"]))
    for test in summary["restore_failed"]:
        logger.error("restore test of %s/%s failed: %s", test["tier"], test["backup_id"], "; ".join(test["problems"]))
        emit_event(
            "rotaflow.backup.restore-test-failed",
            resource={"prefect.resource.id": f"rotaflow.backup.{test['tier']}"},
            payload={"backup_id": test["backup_id"], "problems": test["problems"][:5]},
        )
    publish_verify_report(summary)
    error = verify_failure(summary)
    if error is not None:
        error.summary = summary
        if summary["restore_failed"]:
            outcome.reported()  # rotaflow.backup.restore-test-failed says it
        return outcome.failed(str(error), data=error)
    tests = summary["restore_tests"]
    passed = sum(1 for t in tests if t.get("ok"))
    line = f"verified: {summary['checked']} backup(s) intact; restore tests passed: {passed} of {len(tests)}"
    line += f"; stale: {', '.join(summary['stale'])}" if summary["stale"] else "; no tier is stale"
    return outcome.completed(line, data=summary)


@flow(name="promote-immaculate", log_prints=False, on_failure=[outcome.unreported_failure])
def promote_immaculate_flow(
    backup_id: str, name: str | None = None, config_path: str | None = None
) -> dict[str, Any] | State:
    """Make a quick or named backup a new immaculate baseline (scratch restore, checks, Object Lock)."""
    promoted = promote_to_immaculate(backup_id, name, config_path)
    publish_promotion(promoted)
    result = promotion_result(promoted)
    line = f"immaculate baseline {promoted.backup_id} made from {promoted.promoted_from}"
    line += f", locked until {result['retain_until']}"
    return outcome.completed(line, data=result)
