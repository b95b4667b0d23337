"""The emergency restore chain's steps, each one journaled, and the recovery of an interrupted run.

The chain (``rotaflow.flows.restore.emergency_restore`` runs it as Prefect tasks)::

    find → 1 disk check → 2 verify the backup → 3 pre-snapshot → 4 confirmation
         → 5 restore into a new database, switch it in → 6 verify the live database

Each gate either passes or raises ``GateRefused`` with the live database untouched. Steps
5 and 6 can be undone: ``roll_back`` puts the previous database back (``undo_swap``) or,
when that is impossible, restores the pre-snapshot. Every step is written to the run's
journal (``rotaflow.backups.journal``) before its effect; ``recover_interrupted`` reads the journal
a killed run left behind, looks at which databases exist, and makes the live database
whole again: the original one when the switch had not happened, the restored one when it
had and it verifies, else the original one put back.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import shutil
import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from sqlalchemy.engine import make_url

from rotaflow.backups.config import BackupConfig, Tier, load_backup_config, open_tier_store, work_dir
from rotaflow.backups.databases import (
    Swap,
    database_exists,
    database_size,
    dialect_of,
    drop_database,
    ensure_connectable,
    restore_dump,
    sibling_url,
    stamp,
    stop_orphaned_restore,
    swap_databases,
)
from rotaflow.backups.disk import DiskCheck, DiskUsage, VolumeSpace, existing_ancestor, human_bytes
from rotaflow.backups.journal import RestoreJournal, checkpoint, journal_folder
from rotaflow.backups.manifest import Manifest
from rotaflow.backups.restore import restore_into, retire_previous, swap_in, undo_swap, verify_restored
from rotaflow.backups.sets import CreatedBackup, create_backup, fetch_backup, read_manifest, restore_command
from rotaflow.backups.tiers import list_sacred
from rotaflow.backups.verify import VerifyReport, verify_backup
from rotaflow.configs.settings import Settings, get_settings, mask_url
from rotaflow.errors import GateRefused, StorageError
from rotaflow.storage import BlobStore, LocalStore

__all__ = [
    "DISK_USAGE",
    "SOURCES",
    "DiskGate",
    "Plan",
    "Recovery",
    "Source",
    "check_disk",
    "confirmation_text",
    "find_source",
    "open_journal",
    "plan_restore",
    "preview_text",
    "recover_interrupted",
    "roll_back",
    "stage_restore",
    "switch_live",
    "take_pre_snapshot",
    "verify_live",
    "verify_source",
]

Source = Literal["quick", "named", "immaculate", "sacred"]
SOURCES: tuple[Source, ...] = ("quick", "named", "immaculate", "sacred")

DISK_USAGE: DiskUsage | None = None
"""The free-space reading of the disk gate (``shutil.disk_usage`` when None); tests replace it."""


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _refuse_storage(what: str, exc: StorageError) -> GateRefused:
    return GateRefused(f"{what}: {exc}; nothing was changed")


# --------------------------------------------------------------------------- the plan


@dataclass(frozen=True)
class Plan:
    """One emergency restore: which backup, from where, into which live database, and its names.

    Plain values only: the tasks of the flow pass it around and its rollback hooks read it.
    """

    run_id: str
    source: Source
    tier: Tier
    backup_id: str
    location: str
    live_url: str
    journal_folder: str
    started_at: str
    tag: str | None = None
    config_path: str | None = None
    keep_previous: bool = False

    @property
    def now(self) -> dt.datetime:
        return dt.datetime.fromisoformat(self.started_at)

    @property
    def stamp(self) -> str:
        return stamp(self.now)

    @property
    def staging_url(self) -> str:
        return sibling_url(self.live_url, f"restore_{self.stamp}")

    @property
    def previous_url(self) -> str:
        return sibling_url(self.live_url, f"pre_{self.stamp}")

    @property
    def failed_url(self) -> str:
        return sibling_url(self.live_url, f"failed_{self.stamp}")

    @property
    def rollback_url(self) -> str:
        return sibling_url(self.live_url, f"rollback_{self.stamp}")

    def config(self) -> BackupConfig:
        return load_backup_config(Path(self.config_path) if self.config_path else None)

    def store(self, config: BackupConfig | None = None) -> BlobStore:
        return open_tier_store(self.tier, config or self.config(), get_settings())

    def journal(self) -> RestoreJournal:
        journal = RestoreJournal.current(Path(self.journal_folder))
        if journal is None or journal.data.get("run_id") != self.run_id:
            raise GateRefused(f"the journal of restore run {self.run_id} is missing from {self.journal_folder}")
        return journal

    def describe_source(self) -> str:
        where = f"{self.tier} tier ({self.location})"
        return (
            f"sacred tag {self.tag} → {self.backup_id} in the {where}"
            if self.tag
            else f"{self.backup_id} in the {where}"
        )


def name_of(url: str) -> str:
    """A database's own name: the file name (SQLite) or the database name (PostgreSQL)."""
    database = make_url(url).database or ""
    return Path(database).name if dialect_of(url) == "sqlite" else database


@dataclass(frozen=True)
class Found:
    """Where a requested backup lives (a sacred tag resolved to the backup it names)."""

    tier: Tier
    backup_id: str
    location: str
    tag: str | None = None
    tag_revision: str | None = None


def find_source(
    source: str, backup_id: str, *, config: BackupConfig, settings: Settings | None = None
) -> tuple[Found, BlobStore]:
    """The backup ``backup_id`` in the ``source`` tier (for ``sacred``: a tag name, or the id a tag names)."""
    settings = settings or get_settings()
    if source not in SOURCES:
        raise GateRefused(f"unknown restore source {source!r}: expected one of {', '.join(SOURCES)}")
    backup_id = backup_id.strip()
    if not backup_id:
        raise GateRefused("name the backup to restore (its id, or a sacred tag)")
    tag_name: str | None = None
    tag_revision: str | None = None
    tier: Tier
    try:
        if source == "sacred":
            tags = [t for t in list_sacred(config=config, settings=settings) if backup_id in (t.name, t.backup_id)]
            if not tags:
                raise GateRefused(f"no sacred tag named {backup_id!r} or pointing at it")
            tag = tags[0]
            if tag.tier not in ("quick", "named", "immaculate"):
                raise GateRefused(f"sacred tag {tag.name} points at an unknown tier {tag.tier!r}")
            tier, backup_id, tag_name, tag_revision = tag.tier, tag.backup_id, tag.name, tag.alembic_revision  # type: ignore[assignment]
        else:
            tier = source
        store = open_tier_store(tier, config, settings)
        if not store.list(backup_id):
            raise GateRefused(f"no backup {backup_id} in the {tier} tier ({store.url})")
    except StorageError as exc:
        raise _refuse_storage(f"the {source} tier could not be read", exc) from exc
    return Found(tier, backup_id, store.url, tag_name, tag_revision), store


def plan_restore(
    source: str,
    backup_id: str,
    *,
    config_path: str | None = None,
    keep_previous: bool = False,
    settings: Settings | None = None,
    now: dt.datetime | None = None,
) -> Plan:
    """Find the backup and name everything the run will create; nothing is changed yet."""
    settings = settings or get_settings()
    config = load_backup_config(Path(config_path) if config_path else None)
    found, _ = find_source(source, backup_id, config=config, settings=settings)
    live = settings.resolved_database_url
    dialect_of(live)
    folder = journal_folder(work_dir(config, settings), live)
    return Plan(
        run_id=uuid.uuid4().hex,
        source=source,  # type: ignore[arg-type]
        tier=found.tier,
        backup_id=found.backup_id,
        location=found.location,
        live_url=live,
        journal_folder=str(folder),
        started_at=(now or _now()).astimezone(dt.UTC).isoformat(),
        tag=found.tag,
        config_path=config_path,
        keep_previous=keep_previous,
    )


def open_journal(plan: Plan, **facts: Any) -> RestoreJournal:
    """Start the run's journal: the plan and the names it will use."""
    return RestoreJournal.start(
        Path(plan.journal_folder),
        run_id=plan.run_id,
        source=plan.source,
        tier=plan.tier,
        backup_id=plan.backup_id,
        tag=plan.tag,
        location=plan.location,
        live=mask_url(plan.live_url),
        plan_time=plan.started_at,
        keep_previous=plan.keep_previous,
        names={
            "staging": name_of(plan.staging_url),
            "previous": name_of(plan.previous_url),
            "failed": name_of(plan.failed_url),
            "rollback": name_of(plan.rollback_url),
        },
        **facts,
    )


# --------------------------------------------------------------------------- gate 1: disk


@dataclass(frozen=True)
class DiskGate:
    """What the disk gate measured: bytes written per path, the check, and what it could not see."""

    check: DiskCheck
    writes: dict[str, int]
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return self.check.message + ("" if not self.notes else " (" + "; ".join(self.notes) + ")")


def _server_data_directory(url: str) -> Path | None:
    """The PostgreSQL server's data folder, when the server runs on this machine and says where."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.pool import NullPool

    host = make_url(url).host
    if host not in (None, "", "localhost", "127.0.0.1", "::1") and not str(host).startswith("/"):
        return None
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            folder = Path(str(conn.execute(text("SHOW data_directory")).scalar_one()))
    except Exception:
        return None
    finally:
        engine.dispose()
    return folder if existing_ancestor(folder) != Path(folder.anchor) else None


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
        raise _refuse_storage("the disk gate could not measure the backup", exc) from exc
    restored = manifest.database.size_bytes if manifest else download
    live = plan.live_url
    current = database_size(live) if database_exists(live, config.postgres) else 0
    notes: list[str] = []
    writes: dict[Path, int] = {}

    def add(path: Path, size: int) -> None:
        writes[path] = writes.get(path, 0) + size

    work = work_dir(config, settings)
    add(work, download + current)
    if dialect_of(live) == "sqlite":
        add(Path(make_url(live).database or ".").absolute().parent, restored)
    else:
        data = _server_data_directory(live)
        if data is None:
            notes.append(
                "the PostgreSQL server's data folder is not on this machine: its free space is not checked here"
            )
        else:
            add(data, restored)
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
        raise _refuse_storage("the pre-snapshot could not be written", exc) from exc
    except GateRefused as exc:
        raise GateRefused(f"the pre-snapshot gate refused: {exc}; nothing was changed") from exc
    if not report.ok:
        lines = "\n".join("  - " + p for p in report.problems)
        raise GateRefused(f"the pre-snapshot {created.backup_id} does not verify; nothing was changed:\n{lines}")
    journal.record("pre-snapshot", backup_id=created.backup_id, location=created.location)
    checkpoint("after-pre-snapshot")
    return created


# --------------------------------------------------------------------------- the operator's confirmation


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
    """The markdown the operator reads before confirming: what is restored, and the way back."""
    now = _now()
    lines = [
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
            plan.store(config), plan.backup_id, download, margin=config.disk.margin_bytes, disk_usage=DISK_USAGE
        )
        journal.record("restoring", staging=name_of(plan.staging_url))
        started = _journal_restore_process(journal, plan.staging_url)
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


def _journal_restore_process(journal: RestoreJournal, target_url: str) -> Callable[[int], None]:
    """Write down the ``pg_restore`` about to fill ``target_url``: a recovery stops it if this run dies."""

    def started(pid: int) -> None:
        journal.record("pg-restore-started", pid=pid, database=name_of(target_url), host=socket.gethostname())

    return started


def _stop_orphans(journal: RestoreJournal) -> list[int]:
    """Stop every ``pg_restore`` the interrupted run started on this machine and left running."""
    stopped = []
    for step in journal.data.get("steps", []):
        if step.get("step") != "pg-restore-started" or step.get("host") != socket.gethostname():
            continue
        with contextlib.suppress(Exception):  # a process that cannot be stopped ends with its database
            if stop_orphaned_restore(int(step["pid"]), str(step["database"])):
                stopped.append(int(step["pid"]))
    return stopped


def drop_staging(plan: Plan) -> None:
    """Rollback of the staging step: drop the half-made or refused staging database."""
    config = plan.config()
    _drop_sqlite_temporary(plan.staging_url)
    if database_exists(plan.staging_url, config.postgres):
        drop_database(plan.staging_url, config.postgres)
        _journal_note(plan, "staging-dropped", staging=name_of(plan.staging_url))


def _drop_sqlite_temporary(url: str) -> None:
    if dialect_of(url) == "sqlite":
        path = Path(make_url(url).database or "")
        path.with_name(f".{path.name}.restoring").unlink(missing_ok=True)


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


def _manifest_from_journal(journal: RestoreJournal) -> Manifest:
    raw = journal.data.get("manifest")
    if not raw:
        raise GateRefused("the journal holds no manifest of the restored backup")
    return Manifest.model_validate(raw)


def verify_live(plan: Plan, *, extra_checks: tuple[Callable[[str, Manifest], list[str]], ...] = ()) -> VerifyReport:
    """Gate 6: the live database equals the backup (rows, fingerprints, revision) and passes the contracts."""
    journal = plan.journal()
    manifest = _manifest_from_journal(journal)
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


# --------------------------------------------------------------------------- rollback


def _set_aside(url: str, label: str, config: BackupConfig) -> str:
    """Move a database out of the live name (when there was none before the restore)."""
    target = sibling_url(url, f"{label}_{stamp()}")
    if dialect_of(url) == "sqlite":
        os.replace(make_url(url).database or "", make_url(target).database or "")
        return target
    from sqlalchemy import create_engine, text
    from sqlalchemy.pool import NullPool

    admin = make_url(url).set(database=config.postgres.maintenance_database).render_as_string(hide_password=False)
    engine = create_engine(admin, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            live, new = name_of(url), name_of(target)
            conn.execute(text(f'ALTER DATABASE "{live}" WITH ALLOW_CONNECTIONS false'))
            conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"), {"n": live})
            conn.execute(text(f'ALTER DATABASE "{live}" RENAME TO "{new}"'))
            conn.execute(text(f'ALTER DATABASE "{new}" WITH ALLOW_CONNECTIONS true'))
    finally:
        engine.dispose()
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
            on_start=_journal_restore_process(journal, target),
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


# --------------------------------------------------------------------------- recovery of an interrupted run


@dataclass(frozen=True)
class Recovery:
    """What the recovery of an interrupted restore found and did."""

    outcome: Literal["untouched", "completed", "rolled-back"]
    message: str
    interrupted_after: str
    journal_file: str
    dropped: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    flow_run_id: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "flow_run_id": self.flow_run_id,
            "outcome": self.outcome,
            "message": self.message,
            "interrupted_after": self.interrupted_after,
            "journal_file": self.journal_file,
            "dropped": self.dropped,
            "kept": self.kept,
        }


def _exists(url: str, config: BackupConfig) -> bool:
    try:
        return database_exists(url, config.postgres)
    except Exception:
        return False


def _same_file(a: str, b: str) -> bool:
    try:
        return os.path.samefile(make_url(a).database or "", make_url(b).database or "")
    except OSError:
        return False


def recover_interrupted(
    live_url: str | None = None,
    *,
    config: BackupConfig | None = None,
    config_path: str | None = None,
    settings: Settings | None = None,
) -> Recovery | None:
    """Make the live database whole after a run that was killed; None when no run was interrupted.

    The caller holds the restore lock. A ``pg_restore`` the killed run left running (its
    process id is in the journal) is stopped first, with its workers, so that it does not go
    on writing into a database about to be dropped. Then decided from the journal and from
    which databases exist: before the switch, the live database is the original and is left
    alone (the staging database is dropped); after it, the restored database stays if it
    verifies against the backup's manifest, else the previous one is put back (or the
    pre-snapshot restored). The journal is then filed in ``history/`` with what was done.
    """
    from rotaflow.db.session import dispose_engines

    settings = settings or get_settings()
    config = config or load_backup_config(Path(config_path) if config_path else None)
    live = live_url or settings.resolved_database_url
    folder = journal_folder(work_dir(config, settings), live)
    journal = RestoreJournal.current(folder)
    if journal is None:
        return None
    steps = journal.steps
    last = steps[-1] if steps else "nothing"
    plan_time = journal.data.get("plan_time")
    if not plan_time:  # killed before the plan was written: nothing was done
        path = journal.finish("recovered", "interrupted before it started; nothing had been changed")
        return Recovery("untouched", "interrupted before it started; nothing had been changed", last, str(path))
    plan = Plan(
        run_id=str(journal.data.get("run_id")),
        source=journal.data.get("source", "quick"),
        tier=journal.data.get("tier", "quick"),
        backup_id=str(journal.data.get("backup_id")),
        location=str(journal.data.get("location")),
        live_url=live,
        journal_folder=str(folder),
        started_at=str(plan_time),
        tag=journal.data.get("tag"),
        config_path=config_path,
        keep_previous=bool(journal.data.get("keep_previous")),
    )
    dispose_engines()
    stopped = _stop_orphans(journal)  # a pg_restore still writing into a database about to be dropped
    if dialect_of(live) == "postgresql":  # a switch killed half-way may have left connections refused
        for url in (live, plan.staging_url, plan.previous_url, plan.failed_url, plan.rollback_url):
            if _exists(url, config):
                with contextlib.suppress(Exception):
                    ensure_connectable(url, config.postgres)
    journal.record("recovery-started", interrupted_after=last, stopped_processes=stopped)
    dropped: list[str] = []
    kept: list[str] = []

    def drop(url: str) -> None:
        _drop_sqlite_temporary(url)
        if _exists(url, config):
            drop_database(url, config.postgres)
            dropped.append(name_of(url))

    swapping = journal.step("swapping")
    had_live = bool((swapping or {}).get("had_live", True))
    staging_there = _exists(plan.staging_url, config)
    previous_there = _exists(plan.previous_url, config)
    swapped = "swapped" in steps or (
        swapping is not None and not staging_there and (previous_there or not had_live) and _exists(live, config)
    )
    outcome: Literal["untouched", "completed", "rolled-back"]
    if "rolled-back" in steps:
        outcome, message = "rolled-back", "the run had already rolled back before it was interrupted"
    elif not swapped:
        drop(plan.staging_url)
        if previous_there and dialect_of(live) == "sqlite" and _same_file(plan.previous_url, live):
            Path(make_url(plan.previous_url).database or "").unlink()  # a second name of the live file
        outcome = "untouched"
        message = f"the restore was interrupted before the switch (after '{last}'): the live database was never touched"
    else:
        needs_rollback = "rolling-back" in steps or "verify-failed" in steps
        if not needs_rollback and "verified-restored" not in steps:
            report = verify_restored(live, _manifest_from_journal(journal))
            journal.record("recovery-verify", ok=report.ok, problems=report.problems)
            needs_rollback = not report.ok
        if needs_rollback:
            stale = plan.failed_url  # a rollback killed half-way (SQLite) leaves it as a second name of the live file
            if previous_there and dialect_of(live) == "sqlite" and _same_file(stale, live):
                Path(make_url(stale).database or "").unlink()
            again = Plan(**{**plan.__dict__, "started_at": _now().isoformat()})  # new names for the new switch
            swap = Swap(live, plan.previous_url if previous_there else None, plan.staging_url)
            message = roll_back(again, swap)
            journal = RestoreJournal.current(folder) or journal  # roll_back wrote its steps to the file
            drop(plan.rollback_url)
            outcome = "rolled-back"
            message = f"the restored database was switched in but not verified; {message}"
            if _exists(again.failed_url, config):
                kept.append(name_of(again.failed_url))
        else:
            outcome = "completed"
            message = f"the restore had switched in {plan.backup_id} and it verifies: it stays live"
            if previous_there:
                if plan.keep_previous:
                    kept.append(name_of(plan.previous_url))
                else:
                    drop(plan.previous_url)
    shutil.rmtree(work_dir(config, settings) / f"restore-{plan.run_id[:12]}", ignore_errors=True)
    journal.data["recovery"] = {"outcome": outcome, "dropped": dropped, "kept": kept, "stopped_processes": stopped}
    path = journal.finish("recovered", message)
    return Recovery(outcome, message, last, str(path), dropped, kept, journal.data.get("flow_run_id"))
