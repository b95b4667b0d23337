"""Thin Prefect tasks of the emergency restore: each calls one step of ``rotaflow.backups.emergency``.

The two steps that change databases carry rollback hooks: when a later step of the
flow's transaction fails, Prefect runs them in reverse order, so the switch is undone
(the previous database put back, else the pre-snapshot restored) and the staging
database dropped. Each hook writes what it did to the run's journal, where the flow
reads it to say whether the rollback succeeded.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from prefect import get_client, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE
from prefect.states import Crashed
from prefect.transactions import Transaction, get_transaction

from rotaflow.backups import emergency as service
from rotaflow.backups.databases import Swap
from rotaflow.backups.disk import human_bytes
from rotaflow.backups.sets import CreatedBackup
from rotaflow.backups.verify import VerifyReport

__all__ = [
    "check_disk_space",
    "finish_restore",
    "plan_emergency_restore",
    "publish_restore_report",
    "restore_report",
    "recover_interrupted_restore",
    "restore_into_staging",
    "switch_restored_in",
    "take_pre_snapshot",
    "verify_backup_to_restore",
    "verify_live_database",
]


@task(name="plan-restore", cache_policy=NO_CACHE)
def plan_emergency_restore(source: str, backup_id: str, config_path: str | None, keep_previous: bool) -> service.Plan:
    """Find the backup (a sacred tag resolved to the backup it names); nothing is changed."""
    return service.plan_restore(source, backup_id, config_path=config_path, keep_previous=keep_previous)


@task(name="recover-interrupted-restore", cache_policy=NO_CACHE)
def recover_interrupted_restore(plan: service.Plan) -> service.Recovery | None:
    """Make the live database whole after a restore that was killed; an artifact says what was done."""
    recovery = service.recover_interrupted(plan.live_url, config_path=plan.config_path)
    if recovery is not None and recovery.flow_run_id:
        _mark_crashed(recovery.flow_run_id, recovery.message)
    if recovery is not None:
        create_markdown_artifact(
            key="emergency-restore-recovery",
            markdown="\n".join(
                [
                    "# An interrupted emergency restore was recovered",
                    "",
                    f"- interrupted after: `{recovery.interrupted_after}`",
                    f"- outcome: **{recovery.outcome}**",
                    f"- {recovery.message}",
                    f"- dropped: {', '.join(recovery.dropped) or 'nothing'}",
                    f"- kept for inspection: {', '.join(recovery.kept) or 'nothing'}",
                    f"- journal: `{recovery.journal_file}`",
                ]
            ),
            description="What the recovery of an interrupted restore found and did",
        )
    return recovery


def _mark_crashed(flow_run_id: str, message: str) -> None:
    """The killed run still shows Running in Prefect: mark it Crashed, saying how it was recovered."""
    try:
        with get_client(sync_client=True) as client:
            run = client.read_flow_run(UUID(flow_run_id))
            if run.state is None or not run.state.is_final():
                client.set_flow_run_state(
                    UUID(flow_run_id), Crashed(message=f"interrupted; recovered by a later run: {message}"), force=True
                )
    except Exception as exc:  # best effort: the journal already says what happened
        get_run_logger().warning("could not mark the interrupted flow run %s crashed: %s", flow_run_id, exc)


@task(name="disk-gate", cache_policy=NO_CACHE)
def check_disk_space(plan: service.Plan) -> service.DiskGate:
    """Gate 1: room for twice what the restore writes, plus the margin, on every volume."""
    return service.check_disk(plan)


@task(name="verify-backup-gate", cache_policy=NO_CACHE)
def verify_backup_to_restore(plan: service.Plan) -> VerifyReport:
    """Gate 2: checksums, manifest, Alembic compatibility, Object Lock for a baseline."""
    return service.verify_source(plan)


@task(name="pre-snapshot-gate", cache_policy=NO_CACHE)
def take_pre_snapshot(plan: service.Plan) -> CreatedBackup | None:
    """Gate 3: a verified quick backup of the live database."""
    return service.take_pre_snapshot(plan)


@task(name="restore-into-staging", cache_policy=NO_CACHE)
def restore_into_staging(plan: service.Plan) -> str:
    """Download the backup and restore it into a new database beside the live one."""
    txn = get_transaction()
    if txn is not None:
        txn.set("plan", plan)
    return service.stage_restore(plan)


@restore_into_staging.on_rollback
def _drop_staging(txn: Transaction) -> None:
    plan: service.Plan | None = txn.get("plan", None)
    if plan is not None:
        service.drop_staging(plan)


@task(name="switch-live", cache_policy=NO_CACHE)
def switch_restored_in(plan: service.Plan) -> Swap:
    """Make the restored database the live one by rename; the current one is set aside."""
    txn = get_transaction()
    swap = service.switch_live(plan)
    if txn is not None:
        txn.set("plan", plan)
        txn.set("swap", swap)
    return swap


@switch_restored_in.on_rollback
def _undo_switch(txn: Transaction) -> None:
    plan: service.Plan | None = txn.get("plan", None)
    swap: Swap | None = txn.get("swap", None)
    if plan is not None and swap is not None:
        service.roll_back(plan, swap)


@task(name="verify-live-gate", cache_policy=NO_CACHE)
def verify_live_database(plan: service.Plan) -> VerifyReport:
    """Gate 6: the live database equals the backup and passes the contracts."""
    return service.verify_live(plan)


@task(name="finish-restore", cache_policy=NO_CACHE)
def finish_restore(plan: service.Plan, swap: Swap) -> str:
    """Drop the set-aside previous database (unless kept) and close the journal."""
    return service.finish_success(plan, swap)


@task(name="publish-restore-report", cache_policy=NO_CACHE)
def restore_report(summary: dict[str, Any]) -> str:
    """The restore report (markdown): the outcome, who confirmed, how and when, each gate's outcome, the undo
    command, the pre-snapshot and the journal."""
    status = summary.get("status", "unknown")
    lines = [
        f"# Emergency restore: {status}",
        "",
        f"- backup: `{summary.get('backup_id')}` ({summary.get('source')}"
        + (f", tag {summary['tag']}" if summary.get("tag") else "")
        + ")",
        f"- live database: `{summary.get('live')}`",
        f"- pre-snapshot: `{summary.get('pre_snapshot') or 'none'}`",
        f"- journal: `{summary.get('journal')}`",
    ]
    if summary.get("disk"):
        lines.append(f"- disk: {summary['disk']}")
    if summary.get("message"):
        lines += ["", str(summary["message"])]
    if summary.get("rolled_back"):
        lines += ["", "**The chain rolled back**: " + str(summary.get("rollback") or "")]
    if summary.get("recovered"):
        lines += ["", f"Recovered an interrupted run first: {summary['recovered'].get('message')}"]
    if summary.get("size_bytes") is not None:
        lines.append(f"- restored set: {human_bytes(int(summary['size_bytes']))}")
    confirmation = summary.get("confirmation")
    lines += ["", "## Confirmation", ""]
    if confirmation:
        lines += [
            f"- by: {confirmation['by']}",
            f"- how: {confirmation['how']}",
            f"- when: {confirmation['at_utc']} ({confirmation['at_local']} local time)",
        ]
    else:
        lines.append("- none: the run stopped before the confirmation gate")
    gates = summary.get("gates") or []
    if gates:
        lines += ["", "## Gates", "", "| gate | outcome | detail |", "|---|---|---|"]
        for gate in gates:
            detail = str(gate["detail"]).replace("|", "\\|").replace("\n", " ")
            lines.append(f"| {gate['gate']} | {'passed' if gate['passed'] else '**failed**'} | {detail} |")
    lines += ["", "## Undo", ""]
    if summary.get("undo") and status in ("restored", "done", "rollback-failed"):
        lines.append(f"To go back to the database as it was before: `{summary['undo']}` (the pre-snapshot)")
    elif status in ("restored", "done"):
        lines.append("No undo: there was no live database before (no pre-snapshot).")
    else:
        lines.append("Nothing to undo: the live database was not replaced (or was put back).")
    return "\n".join(lines) + "\n"


def publish_restore_report(summary: dict[str, Any]) -> None:
    """The restore report as the run's ``emergency-restore`` markdown artifact."""
    status = summary.get("status", "unknown")
    create_markdown_artifact(
        key="emergency-restore",
        markdown=restore_report(summary),
        description=f"Emergency restore of {summary.get('backup_id')}: {status}",
    )
