"""Backup sets: take one, list them, read one's manifest, fetch one to a local folder.

A set is written file by file with ``CHECKSUM.sha256`` last, so a set that was
interrupted (the endpoint went down, the process was killed) has no checksum file and
is reported as incomplete instead of looking usable.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import re
import secrets
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from rotaflow import events
from rotaflow.backups.config import BackupConfig, Tier, load_backup_config, open_tier_store, work_dir
from rotaflow.backups.databases import DumpResult, dump_database
from rotaflow.backups.disk import DiskUsage, free_space_ok
from rotaflow.backups.manifest import (
    CHECKSUM_FILE,
    MANIFEST_JSON,
    MANIFEST_MD,
    ROW_COUNTS,
    DatabaseInfo,
    FileEntry,
    Manifest,
    backup_time,
    code_version,
    new_backup_id,
    render_checksums,
    render_manifest_md,
    sha256_file,
)
from rotaflow.configs.settings import Settings, get_settings, mask_url
from rotaflow.errors import GateRefused, StorageError
from rotaflow.storage import BlobStore, LocalStore, ObjectLock

__all__ = [
    "BackupInfo",
    "CreatedBackup",
    "FetchedBackup",
    "create_backup",
    "fetch_backup",
    "list_backups",
    "read_manifest",
    "restore_command",
    "upload_set",
    "write_descriptive_files",
]

_EXTRA_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,120}$")


@dataclass(frozen=True)
class CreatedBackup:
    """A complete backup set, written to its tier's store."""

    backup_id: str
    tier: Tier
    location: str
    manifest: Manifest


@dataclass(frozen=True)
class BackupInfo:
    """One backup in a store, as a listing sees it."""

    backup_id: str
    taken_at: dt.datetime | None
    complete: bool
    manifest: Manifest | None = None

    @property
    def tier(self) -> str:
        return self.backup_id.split("-")[1] if self.backup_id.count("-") >= 2 else ""


@dataclass(frozen=True)
class FetchedBackup:
    """A backup copied into a local folder, checked against its checksums."""

    folder: Path
    manifest: Manifest
    source: str

    @property
    def dump_path(self) -> Path:
        return self.folder / self.manifest.database.dump_file


def restore_command(tier: str, backup_id: str) -> str:
    """The command that restores a backup; it asks the operator to type the id (no confirmation in it)."""
    return f"rotaflow restore emergency --source {tier} --backup-id {backup_id}"


# --------------------------------------------------------------------------- create


def create_backup(
    tier: Tier = "quick",
    *,
    name: str | None = None,
    database_url: str | None = None,
    extras: Mapping[str, Path] | None = None,
    config: BackupConfig | None = None,
    settings: Settings | None = None,
    store: BlobStore | None = None,
    now: dt.datetime | None = None,
    disk_usage: DiskUsage | None = None,
    on_bytes: Callable[[int, int], None] | None = None,
) -> CreatedBackup:
    """Take a backup of the database into the tier's store (``quick`` or ``named``).

    ``extras`` are files or folders the backup refers to (program bundles, reports),
    stored under ``extras/<name>``. Refuses (``GateRefused``) when the work folder has
    no room for the dump, when ``pg_dump`` is older than the server, or when the dump fails.
    ``on_bytes(done, total)`` follows the upload of the set (see :func:`upload_set`).
    """
    if tier not in ("quick", "named"):
        raise GateRefused(
            f"a backup is taken into the quick or named tier, not {tier!r} "
            "(immaculate baselines are promoted, sacred tags point at backups)"
        )
    if tier == "named" and not (name and name.strip()):
        raise GateRefused("a named backup needs a name (what risky operation it comes before)")
    config = config or load_backup_config()
    settings = settings or get_settings()
    url = database_url or settings.resolved_database_url
    store = store or open_tier_store(tier, config, settings)
    now = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    extras = dict(extras or {})
    for label, path in extras.items():
        if not _EXTRA_NAME.match(label):
            raise GateRefused(f"extra file name {label!r} must be letters, digits, '.', '_' or '-'")
        if not Path(path).exists():
            raise GateRefused(f"extra file {label!r} does not exist: {path}")

    work = work_dir(config, settings)
    extra_bytes = sum(_size(Path(p)) for p in extras.values())
    targets = [work] + ([store.root] if isinstance(store, LocalStore) else [])

    def check_room(database_bytes: int) -> None:  # asked by the dump before it writes anything
        room = free_space_ok(targets, database_bytes + extra_bytes, config.disk.margin_bytes, disk_usage=disk_usage)
        if not room:
            raise GateRefused(f"backup refused, {room.message}")

    backup_id = new_backup_id(tier, now, name if tier == "named" else None)
    folder = work / f".{backup_id}-{secrets.token_hex(4)}"  # made by the dump, once there is room
    try:
        dump = dump_database(url, folder, config.postgres, room=check_room)
        manifest = _describe(folder, dump, backup_id, tier, name, now, url, extras)
        upload_set(store, backup_id, folder, manifest, on_bytes=on_bytes)
    except BaseException:
        _forget_partial(store, backup_id)
        raise
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return CreatedBackup(backup_id, tier, store.url, manifest)


def _size(path: Path) -> int:
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return path.stat().st_size


def _describe(
    folder: Path,
    dump: DumpResult,
    backup_id: str,
    tier: Tier,
    name: str | None,
    now: dt.datetime,
    url: str,
    extras: Mapping[str, Path],
) -> Manifest:
    (folder / ROW_COUNTS).write_text(
        json.dumps({t: s.rows for t, s in dump.tables.items()}, indent=2, sort_keys=True) + "\n", encoding="utf-8"
    )
    entries = [_entry(folder, dump.path.name, "database"), _entry(folder, ROW_COUNTS, "row_counts")]
    for label, source in sorted(extras.items()):
        target = folder / "extras" / label
        target.parent.mkdir(parents=True, exist_ok=True)
        if Path(source).is_dir():
            shutil.copytree(source, target)
            files = sorted(p for p in target.rglob("*") if p.is_file())
        else:
            shutil.copyfile(source, target)
            files = [target]
        entries += [_entry(folder, p.relative_to(folder).as_posix(), "extra") for p in files]
    manifest = Manifest(
        backup_id=backup_id,
        tier=tier,  # type: ignore[arg-type]
        name=name.strip() if name else None,
        created_at=now,
        code_version=code_version(),
        alembic_revision=dump.alembic_revision,
        database=DatabaseInfo(
            dialect=dump.dialect,
            source=mask_url(url),
            dump_file=dump.path.name,
            dump_format=dump.dump_format,
            dump_tool=dump.dump_tool,
            server_version=dump.server_version,
            encoding=dump.encoding,
            size_bytes=dump.size_bytes,
        ),
        tables=dump.tables,
        files=entries,
        restore_command=restore_command(tier, backup_id),
    )
    write_descriptive_files(folder, manifest)
    return manifest


def _entry(folder: Path, relative: str, role: str) -> FileEntry:
    path = folder / relative
    return FileEntry(path=relative, bytes=path.stat().st_size, sha256=sha256_file(path), role=role)  # type: ignore[arg-type]


def write_descriptive_files(folder: Path, manifest: Manifest) -> None:
    """manifest.json, MANIFEST.md, then CHECKSUM.sha256 over every file in the folder."""
    (folder / MANIFEST_JSON).write_text(manifest.to_json(), encoding="utf-8")
    (folder / MANIFEST_MD).write_text(render_manifest_md(manifest), encoding="utf-8")
    sums = [(f.path, f.sha256) for f in manifest.files]
    sums += [(n, sha256_file(folder / n)) for n in (MANIFEST_JSON, MANIFEST_MD)]
    (folder / CHECKSUM_FILE).write_text(render_checksums(sums), encoding="utf-8")


def upload_set(
    store: BlobStore,
    backup_id: str,
    folder: Path,
    manifest: Manifest,
    lock: ObjectLock | None = None,
    *,
    on_bytes: Callable[[int, int], None] | None = None,
) -> None:
    """Upload the set's files (streamed), the descriptive ones after the data, the checksum last.

    ``on_bytes(done, total)`` and the observers of ``rotaflow.events`` follow the bytes sent.
    """
    order = [f.path for f in manifest.files] + [MANIFEST_JSON, MANIFEST_MD, CHECKSUM_FILE]
    transfer = events.Transfer.start("upload", on_bytes, lambda: sum((folder / r).stat().st_size for r in order))
    for relative in order:
        if transfer is None:
            store.put_file(f"{backup_id}/{relative}", folder / relative, lock=lock)
        else:
            store.put_file(f"{backup_id}/{relative}", folder / relative, lock=lock, on_chunk=transfer.add)
    if transfer is not None:
        transfer.finish()


def _forget_partial(store: BlobStore, backup_id: str) -> None:
    """Remove what an interrupted backup wrote, when the store still answers (best effort)."""
    with contextlib.suppress(Exception):  # else the set stays incomplete (no checksum); pruned later
        store.delete_prefix(backup_id)


# --------------------------------------------------------------------------- list and read


def list_backups(store: BlobStore, *, read_manifests: bool = True) -> list[BackupInfo]:
    """Every backup in a store, oldest first; a set without CHECKSUM.sha256 is incomplete."""
    groups: dict[str, set[str]] = {}
    for key in store.list():
        head, _, rest = key.partition("/")
        if rest and backup_time(head) is not None:
            groups.setdefault(head, set()).add(rest)
    found = []
    for backup_id in sorted(groups):
        complete = CHECKSUM_FILE in groups[backup_id]
        manifest = None
        if read_manifests and MANIFEST_JSON in groups[backup_id]:
            try:
                manifest = read_manifest(store, backup_id)
            except StorageError:
                manifest = None
        found.append(BackupInfo(backup_id, backup_time(backup_id), complete, manifest))
    return found


def read_manifest(store: BlobStore, backup_id: str) -> Manifest:
    raw = store.get_bytes(f"{backup_id}/{MANIFEST_JSON}")
    try:
        return Manifest.model_validate_json(raw)
    except ValidationError as exc:
        raise StorageError(f"{backup_id}/{MANIFEST_JSON} is not a rotaflow backup manifest") from exc


# --------------------------------------------------------------------------- fetch


def fetch_backup(
    store: BlobStore,
    backup_id: str,
    destination: Path,
    *,
    margin: int = 0,
    disk_usage: DiskUsage | None = None,
    on_bytes: Callable[[int, int], None] | None = None,
) -> FetchedBackup:
    """Download a backup into ``destination/<id>/`` and check it there before anyone restores it.

    Refuses when the destination's volume has no room for the set, and when the local
    copy does not verify (a file changed between the check and the download).
    ``on_bytes(done, total)`` and the observers of ``rotaflow.events`` follow the bytes received.
    """
    from rotaflow.backups.verify import verify_backup

    manifest = read_manifest(store, backup_id)
    room = free_space_ok([destination], manifest.total_bytes, margin, disk_usage=disk_usage)
    if not room:
        raise GateRefused(f"download of {backup_id} refused, {room.message}")
    folder = destination / backup_id
    if folder.exists():
        shutil.rmtree(folder)
    names = [f.path for f in manifest.files] + [MANIFEST_JSON, MANIFEST_MD, CHECKSUM_FILE]
    transfer = events.Transfer.start("download", on_bytes, lambda: sum(store.size(f"{backup_id}/{r}") for r in names))
    for relative in names:
        if transfer is None:
            store.get_file(f"{backup_id}/{relative}", folder / relative)
        else:
            store.get_file(f"{backup_id}/{relative}", folder / relative, on_chunk=transfer.add)
    if transfer is not None:
        transfer.finish()
    report = verify_backup(LocalStore(destination), backup_id, require_lock=False, check_alembic=False)
    if not report.ok:
        raise GateRefused(f"the downloaded copy of {backup_id} does not verify: " + "; ".join(report.problems))
    return FetchedBackup(folder, read_manifest(LocalStore(destination), backup_id), store.url)
