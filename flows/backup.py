"""Flows ``backup``, ``verify_backups`` and ``promote_immaculate_flow``."""

from __future__ import annotations

from typing import Any, Literal

from prefect import flow, get_run_logger
from prefect.events import emit_event
from prefect.states import State

from rotaflow.backups.health import VerifySteps, stale_messages, verify
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
    steps = VerifySteps(
        check_tier=lambda tier: check_tier(tier, config_path),
        check_sacred_tags=lambda: check_sacred_tags(config_path),
        tier_status=lambda tier: tier_freshness(tier, config_path),
        config=lambda: load_config(config_path),
        restore_test=lambda tier, backup_id: restore_test_backup(tier, backup_id, config_path),
        not_run=lambda tier, why: logger.info("restore test of the %s tier not run: %s", tier, why),
    )
    result = verify(steps, restore=restore_test)
    summary = result.as_dict()
    for line in stale_messages(summary):
        logger.warning("%s", line)
    for tier in result.stale:  # an event too: the operator sees it in the UI, not only in a log
        facts = result.tiers[tier]
        emit_event(
            "rotaflow.backup.stale",
            resource={"prefect.resource.id": f"rotaflow.backup.{tier}"},
            payload={k: facts.get(k) for k in ("newest", "age_hours", "stale_after_hours")},
        )
    for item in result.damaged:
        logger.error("backup %s/%s: %s", item["tier"], item["backup_id"], "; ".join(item["problems"]))
    for test in result.restore_failed:
        logger.error("restore test of %s/%s failed: %s", test["tier"], test["backup_id"], "; ".join(test["problems"]))
        emit_event(
            "rotaflow.backup.restore-test-failed",
            resource={"prefect.resource.id": f"rotaflow.backup.{test['tier']}"},
            payload={"backup_id": test["backup_id"], "problems": test["problems"][:5]},
        )
    publish_verify_report(summary)
    error = verify_failure(summary)
    if error is not None:
        if result.restore_failed:
            outcome.reported()  # rotaflow.backup.restore-test-failed says it
        return outcome.failed(str(error), data=error)
    passed = sum(1 for t in result.restore_tests if t.get("ok"))
    line = f"verified: {result.checked} backup(s) intact; restore tests passed: {passed} of {len(result.restore_tests)}"
    line += f"; stale: {', '.join(result.stale)}" if result.stale else "; no tier is stale"
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
