"""Gate 4, the operator's confirmation: what the operator reads (the backup's facts, the way back), and the answer.

The run goes on only when the operator typed the backup id exactly and switched *confirm* on;
anything else, or no answer before the timeout, leaves everything as it is.
"""

from __future__ import annotations

import datetime as dt

from rotaflow.backups.disk import human_bytes
from rotaflow.backups.emergency.plan import Plan, name_of, now_utc, plan_restore
from rotaflow.backups.manifest import Manifest
from rotaflow.backups.sets import CreatedBackup, read_manifest, restore_command
from rotaflow.configs.settings import mask_url
from rotaflow.errors import GateRefused, StorageError

__all__ = ["confirmation_text", "preview_text", "record_confirmation", "record_refusal"]


def _age(then: dt.datetime, now: dt.datetime) -> str:
    seconds = max(0, int((now - then).total_seconds()))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        return f"{days} day(s) {hours} hour(s)"
    if hours:
        return f"{hours} hour(s) {minutes} minute(s)"
    return f"{minutes} minute(s)"


def _manifest_rows(manifest: Manifest, now: dt.datetime) -> list[str]:
    db = manifest.database
    taken = manifest.created_at.astimezone(dt.UTC)
    rows = sum(t.rows for t in manifest.tables.values())
    lines = [
        "| Backup facts | |",
        "|---|---|",
        f"| Backup | `{manifest.backup_id}` ({manifest.tier}{' — ' + manifest.name if manifest.name else ''}) |",
        f"| Taken | {taken:%Y-%m-%d %H:%M:%S} UTC, **{_age(taken, now)} ago** |",
        f"| Code version | {manifest.code_version} |",
        f"| Alembic revision | {manifest.alembic_revision or 'none'} |",
        f"| Database | {db.dialect}, {human_bytes(db.size_bytes)} when taken |",
        f"| Contents | {len(manifest.tables)} tables, {rows} rows |",
        f"| Set size | {human_bytes(manifest.total_bytes)} in {len(manifest.files)} file(s) |",
    ]
    if manifest.promoted_from:
        lines.append(f"| Promoted from | {manifest.promoted_from} |")
    if manifest.retain_until:
        lines.append(f"| Object Lock | COMPLIANCE until {manifest.retain_until.astimezone(dt.UTC):%Y-%m-%d} |")
    return lines


def confirmation_text(plan: Plan, manifest: Manifest, snapshot: CreatedBackup | None, *, planned: bool = False) -> str:
    """The markdown the operator reads before confirming: what is restored, and the way back.

    In the Prefect UI's Resume dialog (``planned`` false) the instruction comes first, in two short lines,
    so that it shows without scrolling; the facts follow. The terminal's preview (``planned``) ends with it.
    """
    now = now_utc()
    lines = []
    if not planned:
        lines += [
            f"**To restore, type `{plan.backup_id}` in *Backup id* and switch *Confirm* on, then Submit.**",
            "Anything else, or no answer before the timeout, leaves everything as it is.",
            "",
        ]
    lines += [
        "## Emergency restore: confirm",
        "",
        f"The live database **{mask_url(plan.live_url)}** will be replaced by backup **`{plan.backup_id}`** "
        f"({plan.describe_source()}).",
        "",
        *_manifest_rows(manifest, now),
        "",
    ]
    if planned:
        lines.append(
            "**Pre-snapshot:** a quick backup of the current database is taken and verified before anything "
            "changes; the automatic rollback uses it, and it stays in the quick tier."
        )
    elif snapshot is None:
        lines.append("**Pre-snapshot:** none — there is no live database now.")
    else:
        lines.append(
            f"**Pre-snapshot:** quick backup `{snapshot.backup_id}` of the current database, taken and verified "
            f"just now, in {snapshot.location}. To go back to it later: "
            f"`{restore_command('quick', snapshot.backup_id)}`."
        )
    lines += [
        "",
        f"**What happens next:** the backup is restored into the new database `{name_of(plan.staging_url)}`, "
        f"switched in by rename (the current one is set aside as `{name_of(plan.previous_url)}`), then checked "
        "(row counts, fingerprints, Alembic revision, contracts). If that fails, the current database is put back.",
    ]
    if planned:
        lines += [
            "",
            f"To go on, type the backup id **`{plan.backup_id}`** in *backup_id* and switch *confirm* on. "
            "Anything else, or no answer before the timeout, leaves everything as it is.",
        ]
    return "\n".join(lines) + "\n"


def preview_text(source: str, backup_id: str, *, config_path: str | None = None) -> tuple[Plan, str]:
    """The terminal's version of the confirmation, before anything runs (the CLI asks with it)."""
    plan = plan_restore(source, backup_id, config_path=config_path)
    try:
        manifest = read_manifest(plan.store(), plan.backup_id)
    except StorageError as exc:
        raise GateRefused(f"backup {plan.backup_id} cannot be described: {exc}; nothing was changed") from exc
    return plan, confirmation_text(plan, manifest, None, planned=True)


def record_confirmation(plan: Plan, typed: str | None, confirmed: bool, how: str) -> None:
    """Gate 4: the operator typed the backup id (exactly) and confirmed, or the run stops here untouched.

    The journal keeps what was typed or given, as it was, and ``how`` (the Prefect UI, the
    terminal, or ``--confirm-id`` on the command line).
    """
    journal = plan.journal()
    ok = bool(confirmed) and (typed or "") == plan.backup_id
    journal.record("confirmation", ok=ok, how=how, typed=(typed or "")[:200], confirm=bool(confirmed))
    if not ok:
        why = "confirm was not switched on" if not confirmed else f"the typed id {typed!r} is not {plan.backup_id}"
        raise GateRefused(f"the confirmation gate refused: {why}; nothing was restored (the pre-snapshot stays)")


def record_refusal(plan: Plan, message: str) -> None:
    plan.journal().record("confirmation", ok=False, how="timeout", note=message)
