"""The tiers' own rules: promote to immaculate, tag sacred milestones, prune quick dumps.

- **immaculate**: only a backup that verifies, restores cleanly into a scratch database
  and passes ``verify_restored`` becomes a baseline; it is copied, under a new id, into
  an S3 bucket with Object Lock (COMPLIANCE, a retention period). rotaflow never deletes
  or overwrites a baseline there: a new baseline is added instead.
- **sacred**: a tag names an existing backup and records the code version and the
  Alembic revision; a tag is never moved or replaced.
- **quick**: kept by count and by age; pruning looks at nothing else.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rotaflow.backups.config import (
    TIERS,
    BackupConfig,
    ImmaculateTier,
    QuickTier,
    Tier,
    load_backup_config,
    open_tier_store,
    tier_location,
)
from rotaflow.backups.config import work_dir as backup_work_dir
from rotaflow.backups.databases import drop_database, scratch_url, stamp
from rotaflow.backups.disk import DiskUsage
from rotaflow.backups.manifest import CHECKSUM_FILE, Manifest, code_version, new_backup_id
from rotaflow.backups.restore import restore_into, verify_restored
from rotaflow.backups.sets import (
    BackupInfo,
    FetchedBackup,
    fetch_backup,
    list_backups,
    read_manifest,
    restore_command,
    upload_set,
    write_descriptive_files,
)
from rotaflow.backups.verify import VerifyReport, verify_backup
from rotaflow.configs.settings import Settings, get_settings
from rotaflow.errors import GateRefused, StorageError
from rotaflow.storage import BlobStore, ObjectLock, S3Store

__all__ = [
    "Promoted",
    "PruneResult",
    "SacredTag",
    "TierStatus",
    "find_backup",
    "list_sacred",
    "promote_immaculate",
    "prune_quick",
    "restore_test",
    "tag_sacred",
    "tier_configured",
    "tier_status",
]

_TAG = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
INCOMPLETE_GRACE = dt.timedelta(hours=24)


def _now(now: dt.datetime | None) -> dt.datetime:
    return (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)


# --------------------------------------------------------------------------- find


def find_backup(
    backup_id: str, *, config: BackupConfig, settings: Settings, tier: Tier | None = None
) -> tuple[Tier, BlobStore]:
    """The tier and store holding the complete backup ``backup_id``."""
    tiers: Sequence[Tier] = [tier] if tier else [t for t in TIERS if t != "sacred"]
    for candidate in tiers:
        store = open_tier_store(candidate, config, settings)
        if store.exists(f"{backup_id}/{CHECKSUM_FILE}"):
            return candidate, store
    raise GateRefused(f"no complete backup {backup_id} in the {', '.join(tiers)} tier(s)")


# --------------------------------------------------------------------------- immaculate


@dataclass(frozen=True)
class Promoted:
    """A new immaculate baseline."""

    backup_id: str
    location: str
    promoted_from: str
    retain_until: dt.datetime
    manifest: Manifest
    notes: list[str] = field(default_factory=list)


def promote_immaculate(
    backup_id: str,
    *,
    tier: Tier | None = None,
    name: str | None = None,
    scratch_url: str | None = None,
    config: BackupConfig | None = None,
    settings: Settings | None = None,
    target: S3Store | None = None,
    now: dt.datetime | None = None,
    extra_checks: Sequence[Any] = (),
    disk_usage: DiskUsage | None = None,
) -> Promoted:
    """Make ``backup_id`` a new immaculate baseline, or refuse (``GateRefused``) saying why.

    Gates, in order: the backup verifies where it is; the immaculate store is an S3
    bucket with Object Lock; the backup downloads, restores into a scratch database and
    passes ``verify_restored`` (plus ``extra_checks``); then it is uploaded under a new
    id with every file locked in COMPLIANCE mode, and the uploaded baseline verifies.
    """
    config = config or load_backup_config()
    settings = settings or get_settings()
    now = _now(now)
    source_tier, source = find_backup(backup_id, config=config, settings=settings, tier=tier)
    if source_tier == "immaculate":
        raise GateRefused(f"{backup_id} is already an immaculate baseline")
    verify_backup(source, backup_id, now=now).raise_for_problems("promotion")

    store = target or open_tier_store("immaculate", config, settings)
    if not isinstance(store, S3Store):
        raise GateRefused(
            f"the immaculate tier must be an S3 bucket with Object Lock; {store.url} is a local folder: "
            "set tiers.immaculate.location to s3://bucket/prefix in configs/backup.yaml"
        )
    if not store.object_lock_enabled():
        raise GateRefused(f"the bucket of {store.url} does not have Object Lock enabled: create it with Object Lock")

    section = config.tier("immaculate")
    assert isinstance(section, ImmaculateTier)
    work = Path(tempfile.mkdtemp(dir=backup_work_dir(config, settings), prefix=f".promote-{backup_id}-"))
    try:
        fetched = fetch_backup(source, backup_id, work, margin=config.disk.margin_bytes, disk_usage=disk_usage)
        manifest = fetched.manifest
        scratch = scratch_url or _scratch_url(manifest, settings, work, now)
        restored = _restore_in_scratch(fetched, scratch, config, extra_checks)
        restored.raise_for_problems("promotion (scratch restore)")

        new_id = new_backup_id("immaculate", now, name or manifest.name)
        retain_until = now + dt.timedelta(days=section.retention_days)
        baseline = manifest.model_copy(
            update={
                "backup_id": new_id,
                "tier": "immaculate",
                "name": name or manifest.name,
                "promoted_from": f"{source_tier}/{backup_id}",
                "retain_until": retain_until,
                "restore_command": restore_command("immaculate", new_id),
            }
        )
        write_descriptive_files(fetched.folder, baseline)
        if store.list(new_id):
            raise GateRefused(f"{new_id} already exists in {store.url}: a baseline is never overwritten")
        upload_set(store, new_id, fetched.folder, baseline, lock=ObjectLock(retain_until, section.object_lock_mode))
    finally:
        shutil.rmtree(work, ignore_errors=True)

    fresh = open_tier_store("immaculate", config, settings) if target is None else _fresh(target)
    check = verify_backup(fresh, new_id, now=now, require_lock=True)
    check.raise_for_problems("the new baseline's check")
    return Promoted(new_id, store.url, f"{source_tier}/{backup_id}", retain_until, baseline, check.notes)


def _restore_in_scratch(
    fetched: FetchedBackup, scratch: str, config: BackupConfig, extra_checks: Sequence[Any] = ()
) -> VerifyReport:
    """Restore a downloaded set into ``scratch``, check it like a real restore, always drop ``scratch``."""
    try:
        restore_into(fetched, scratch, config=config)
        return verify_restored(scratch, fetched.manifest, extra_checks=extra_checks)
    finally:
        drop_database(scratch, config.postgres)


def restore_test(
    tier: Tier,
    backup_id: str,
    *,
    config: BackupConfig | None = None,
    settings: Settings | None = None,
    scratch_url: str | None = None,
    now: dt.datetime | None = None,
    disk_usage: DiskUsage | None = None,
) -> VerifyReport:
    """Prove ``backup_id`` restores: download it, restore it into a scratch database, check, drop.

    Nothing live is touched. The report's problems say what would go wrong in a real restore
    (a set that does not download or verify refuses with ``GateRefused``).
    """
    config = config or load_backup_config()
    settings = settings or get_settings()
    now = _now(now)
    store = open_tier_store(tier, config, settings)
    work = Path(tempfile.mkdtemp(dir=backup_work_dir(config, settings), prefix=f".restore-test-{backup_id}-"))
    try:
        fetched = fetch_backup(store, backup_id, work, margin=config.disk.margin_bytes, disk_usage=disk_usage)
        scratch = scratch_url or _scratch_url(fetched.manifest, settings, work, now)
        report = _restore_in_scratch(fetched, scratch, config)
        report.subject = f"restore test of {tier}/{backup_id} into a scratch database"
        return report
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _fresh(store: S3Store) -> S3Store:
    """The same bucket and prefix, with nothing remembered from before the upload."""
    return S3Store(store.bucket, store.prefix, store.client, store.transfer, pin_first_version=True)


def _scratch_url(manifest: Manifest, settings: Settings, work: Path, now: dt.datetime) -> str:
    return scratch_url(manifest.database.dialect, work, f"scratch_{stamp(now)}", lambda: settings.resolved_database_url)


# --------------------------------------------------------------------------- sacred


@dataclass(frozen=True)
class SacredTag:
    """A milestone: a name pointing at a backup, with the code version and Alembic revision."""

    name: str
    backup_id: str
    tier: str
    location: str
    tagged_at: str
    code_version: str
    alembic_revision: str | None
    backup_code_version: str
    note: str | None = None


def tag_sacred(
    backup_id: str,
    name: str,
    *,
    tier: Tier | None = None,
    note: str | None = None,
    config: BackupConfig | None = None,
    settings: Settings | None = None,
    now: dt.datetime | None = None,
) -> SacredTag:
    """Tag an existing complete backup as the milestone ``name``; a tag is never moved."""
    config = config or load_backup_config()
    settings = settings or get_settings()
    if not _TAG.match(name):
        raise GateRefused(f"sacred tag {name!r} must be lowercase letters, digits, '.', '_' or '-' (at most 64)")
    found_tier, store = find_backup(backup_id, config=config, settings=settings, tier=tier)
    manifest = read_manifest(store, backup_id)
    sacred = open_tier_store("sacred", config, settings)
    key = f"{name}.json"
    if sacred.exists(key):
        raise GateRefused(f"sacred tag {name} already exists: a milestone is never moved; choose another name")
    tag = SacredTag(
        name=name,
        backup_id=backup_id,
        tier=found_tier,
        location=store.url,
        tagged_at=_now(now).isoformat(),
        code_version=code_version(),
        alembic_revision=manifest.alembic_revision,
        backup_code_version=manifest.code_version,
        note=note,
    )
    sacred.put_bytes(key, (json.dumps(asdict(tag), indent=2) + "\n").encode())
    return tag


def list_sacred(*, config: BackupConfig | None = None, settings: Settings | None = None) -> list[SacredTag]:
    config = config or load_backup_config()
    store = open_tier_store("sacred", config, settings or get_settings())
    tags = []
    for key in store.list():
        if "/" in key or not key.endswith(".json"):
            continue
        try:
            tags.append(SacredTag(**json.loads(store.get_bytes(key))))
        except (TypeError, ValueError) as exc:
            raise StorageError(f"sacred tag {key} in {store.url} is unreadable") from exc
    return sorted(tags, key=lambda t: t.name)


# --------------------------------------------------------------------------- quick


@dataclass(frozen=True)
class PruneResult:
    kept: list[str]
    removed: list[str]
    protected: list[str]


def prune_quick(
    *,
    config: BackupConfig | None = None,
    settings: Settings | None = None,
    now: dt.datetime | None = None,
    dry_run: bool = False,
) -> PruneResult:
    """Remove quick backups beyond ``keep_last`` or older than ``max_age_days``.

    The newest complete backup always stays, as does any backup a sacred tag points at;
    an incomplete set is removed once it is a day old. Other tiers are never looked at.
    """
    config = config or load_backup_config()
    settings = settings or get_settings()
    now = _now(now)
    section = config.tier("quick")
    assert isinstance(section, QuickTier)
    store = open_tier_store("quick", config, settings)
    tagged = {t.backup_id for t in list_sacred(config=config, settings=settings) if t.tier == "quick"}
    listing = [b for b in list_backups(store, read_manifests=False) if b.tier == "quick"]
    complete = sorted((b for b in listing if b.complete), key=lambda b: b.backup_id, reverse=True)
    too_old = dt.timedelta(days=section.max_age_days)

    kept: list[str] = []
    removed: list[str] = []
    protected: list[str] = []

    def age(info: BackupInfo) -> dt.timedelta:
        return now - (info.taken_at or now)

    for position, info in enumerate(complete):
        expired = position >= section.keep_last or age(info) > too_old
        if position == 0 or not expired:
            kept.append(info.backup_id)
        elif info.backup_id in tagged:
            protected.append(info.backup_id)
        else:
            removed.append(info.backup_id)
    for info in listing:
        if info.complete:
            continue
        if age(info) > INCOMPLETE_GRACE and info.backup_id not in tagged:
            removed.append(info.backup_id)
        else:
            kept.append(info.backup_id)
    if not dry_run:
        for backup_id in removed:
            store.delete_prefix(backup_id)
    return PruneResult(sorted(kept), sorted(removed), sorted(protected))


# --------------------------------------------------------------------------- staleness


@dataclass(frozen=True)
class TierStatus:
    """The newest complete backup of a tier, its age, and whether that is too old."""

    tier: str
    newest: str | None
    age: dt.timedelta | None
    stale: bool
    count: int
    incomplete: int
    configured: bool = True


def tier_configured(tier: Tier, config: BackupConfig, settings: Settings | None = None) -> bool:
    """Whether a tier can hold backups as set up: the immaculate tier only in an ``s3://`` bucket (a
    baseline needs Object Lock; without S3 settings the tier is simply not in use), every other tier always.
    """
    if tier != "immaculate":
        return True
    return tier_location(tier, config, settings or get_settings()).startswith("s3://")


def tier_status(
    tier: Tier,
    *,
    config: BackupConfig | None = None,
    settings: Settings | None = None,
    now: dt.datetime | None = None,
) -> TierStatus:
    """How fresh a tier is, against its ``stale_after_hours`` (sacred: the newest tag).

    A tier that is not configured (``tier_configured``) is never stale: it is reported as such.
    """
    config = config or load_backup_config()
    settings = settings or get_settings()
    now = _now(now)
    limit = config.tier(tier).stale_after_hours
    if tier == "sacred":
        tags = list_sacred(config=config, settings=settings)
        times = sorted((dt.datetime.fromisoformat(t.tagged_at), t.name) for t in tags)
        newest = times[-1] if times else None
        age = now - newest[0] if newest else None
        stale = limit is not None and (age is None or age > dt.timedelta(hours=limit))
        return TierStatus(tier, newest[1] if newest else None, age, stale, len(tags), 0)
    configured = tier_configured(tier, config, settings)
    listing = list_backups(open_tier_store(tier, config, settings), read_manifests=False)
    complete = [b for b in listing if b.complete]
    last = complete[-1] if complete else None
    age = now - last.taken_at if last and last.taken_at else None
    stale = configured and limit is not None and (age is None or age > dt.timedelta(hours=limit))
    return TierStatus(
        tier, last.backup_id if last else None, age, stale, len(complete), len(listing) - len(complete), configured
    )
