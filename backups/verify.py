"""Verify a backup set where it is stored: checksums, manifest, Alembic, Object Lock."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass, field

from pydantic import ValidationError

from rotaflow.backups.manifest import (
    CHECKSUM_FILE,
    DESCRIPTIVE,
    MANIFEST_JSON,
    MANIFEST_MD,
    ROW_COUNTS,
    Manifest,
    parse_checksums,
    render_manifest_md,
)
from rotaflow.errors import GateRefused, StorageError
from rotaflow.storage import BlobStore, S3Store

__all__ = ["VerifyReport", "alembic_problems", "verify_backup"]

LOCK_WARNING_DAYS = 30


@dataclass
class VerifyReport:
    """What a verification found: ``problems`` refuse, ``notes`` only inform."""

    subject: str
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    files_checked: int = 0
    bytes_checked: int = 0
    tables_checked: int = 0
    manifest: Manifest | None = None

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        if self.ok:
            if self.tables_checked:
                return f"{self.subject}: verified ({self.tables_checked} tables)"
            return f"{self.subject}: verified ({self.files_checked} files, {self.bytes_checked} bytes)"
        return f"{self.subject}: {len(self.problems)} problem(s): " + "; ".join(self.problems)

    def raise_for_problems(self, what: str = "verification") -> None:
        """Stop with ``GateRefused`` naming every problem, when there is one."""
        if self.problems:
            lines = "\n".join("  - " + p for p in self.problems)
            raise GateRefused(f"{what} of {self.subject} refused:\n{lines}")


def alembic_problems(revision: str | None) -> tuple[list[str], list[str]]:
    """Problems and notes about restoring a database at ``revision`` with this code."""
    from alembic.script import ScriptDirectory

    from rotaflow.db.migrate import alembic_config

    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    head = script.get_current_head()
    if revision is None:
        return ["the backup records no Alembic revision: it is not a rotaflow database"], []
    known = {r.revision for r in script.walk_revisions()}
    if revision not in known:
        return [
            f"the backup is at Alembic revision {revision}, which this code does not know (its head is {head}): "
            "it was made by a newer rotaflow; restore it with that version"
        ], []
    if revision != head:
        return [], [f"the backup is at revision {revision}, older than the code's {head}: upgrade after restoring"]
    return [], []


def verify_backup(
    store: BlobStore,
    backup_id: str,
    *,
    now: dt.datetime | None = None,
    require_lock: bool | None = None,
    check_alembic: bool = True,
) -> VerifyReport:
    """Check one backup set in its store and report every problem found.

    Checks that every file matches ``CHECKSUM.sha256``; that the files listed are the
    files present, with the sizes and digests the manifest records; that MANIFEST.md and
    row_counts.json agree with manifest.json; that the Alembic revision is one this code
    knows (not newer than its head); and, for an immaculate baseline (or when
    ``require_lock``), that every file is under Object Lock in COMPLIANCE mode with a
    retain-until date in the future.
    """
    now = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    report = VerifyReport(subject=backup_id)
    try:
        present = {key[len(backup_id) + 1 :] for key in store.list(backup_id)}
    except StorageError as exc:
        report.problems.append(str(exc))
        return report
    if not present:
        report.problems.append(f"no backup {backup_id} in {store.url}")
        return report

    checksums: dict[str, str] = {}
    if CHECKSUM_FILE not in present:
        report.problems.append(f"{CHECKSUM_FILE} is missing: the backup is incomplete (interrupted) or damaged")
    else:
        raw = store.get_bytes(f"{backup_id}/{CHECKSUM_FILE}").decode("utf-8", "replace")
        checksums, bad_lines = parse_checksums(raw)
        report.problems += bad_lines
        for name in sorted(set(checksums) - present):
            report.problems.append(f"{name} is listed in {CHECKSUM_FILE} but missing from the backup")
        for name in sorted(present - set(checksums) - {CHECKSUM_FILE}):
            report.problems.append(f"{name} is in the backup but not covered by {CHECKSUM_FILE}")

    manifest = _manifest(store, backup_id, present, report)
    if manifest is not None:
        report.manifest = manifest
        _check_manifest(store, backup_id, manifest, present, checksums, report)
        if check_alembic:
            problems, notes = alembic_problems(manifest.alembic_revision)
            report.problems += problems
            report.notes += notes

    _check_digests(store, backup_id, present, checksums, report)

    lock_needed = require_lock if require_lock is not None else (manifest is not None and manifest.tier == "immaculate")
    if lock_needed:
        _check_locks(store, backup_id, sorted(present), now, report)
    return report


def _manifest(store: BlobStore, backup_id: str, present: set[str], report: VerifyReport) -> Manifest | None:
    if MANIFEST_JSON not in present:
        report.problems.append(f"{MANIFEST_JSON} is missing")
        return None
    try:
        return Manifest.model_validate_json(store.get_bytes(f"{backup_id}/{MANIFEST_JSON}"))
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "the file"
        report.problems.append(f"{MANIFEST_JSON} is not a valid rotaflow manifest ({where}: {first['msg']})")
        return None


def _check_manifest(
    store: BlobStore,
    backup_id: str,
    manifest: Manifest,
    present: set[str],
    checksums: dict[str, str],
    report: VerifyReport,
) -> None:
    if manifest.backup_id != backup_id:
        report.problems.append(f"{MANIFEST_JSON} describes backup {manifest.backup_id}, not {backup_id}")
    listed = {f.path for f in manifest.files}
    for name in sorted(listed - present):
        report.problems.append(f"{name} is listed in {MANIFEST_JSON} but missing from the backup")
    for name in sorted(present - listed - set(DESCRIPTIVE)):
        report.problems.append(f"{name} is in the backup but not listed in {MANIFEST_JSON}")
    for entry in manifest.files:
        if entry.path not in present:
            continue
        if entry.path in checksums and checksums[entry.path] != entry.sha256:
            report.problems.append(f"{entry.path}: {MANIFEST_JSON} and {CHECKSUM_FILE} record different digests")
        size = store.size(f"{backup_id}/{entry.path}")
        if size != entry.bytes:
            report.problems.append(f"{entry.path} is {size} bytes, {MANIFEST_JSON} says {entry.bytes}")
    if manifest.database.dump_file not in listed:
        report.problems.append(f"the dump {manifest.database.dump_file} is not listed in {MANIFEST_JSON}")
    if MANIFEST_MD in present and store.get_bytes(f"{backup_id}/{MANIFEST_MD}").decode(
        "utf-8", "replace"
    ) != render_manifest_md(manifest):
        report.problems.append(f"{MANIFEST_MD} does not match {MANIFEST_JSON}")
    if ROW_COUNTS in present:
        try:
            counts = json.loads(store.get_bytes(f"{backup_id}/{ROW_COUNTS}"))
        except ValueError:
            counts = None
        if counts != manifest.row_counts:
            report.problems.append(f"{ROW_COUNTS} does not match the row counts in {MANIFEST_JSON}")


def _check_digests(
    store: BlobStore, backup_id: str, present: set[str], checksums: dict[str, str], report: VerifyReport
) -> None:
    for name in sorted(set(checksums) & present):
        digest = hashlib.sha256()
        size = 0
        try:
            for chunk in store.iter_chunks(f"{backup_id}/{name}"):
                digest.update(chunk)
                size += len(chunk)
        except StorageError as exc:
            report.problems.append(f"{name} could not be read: {exc}")
            continue
        report.files_checked += 1
        report.bytes_checked += size
        if digest.hexdigest() != checksums[name]:
            report.problems.append(f"{name} does not match its checksum: it changed or was damaged after the backup")


def _check_locks(store: BlobStore, backup_id: str, names: list[str], now: dt.datetime, report: VerifyReport) -> None:
    if not isinstance(store, S3Store):
        report.problems.append(f"an immaculate baseline must be held under S3 Object Lock; {store.url} cannot hold one")
        return
    soonest: dt.datetime | None = None
    for name in names:
        key = f"{backup_id}/{name}"
        try:
            retention = store.retention(key)
            versions = store.versions(key)
        except StorageError as exc:
            report.problems.append(f"{name}: the Object Lock retention could not be read ({exc})")
            continue
        if retention is None or retention.mode != "COMPLIANCE":
            mode = retention.mode if retention and retention.mode else "no lock"
            report.problems.append(f"{name} is not under Object Lock in COMPLIANCE mode ({mode})")
            continue
        if retention.retain_until is None or retention.retain_until <= now:
            report.problems.append(f"{name}: its Object Lock retention has expired")
            continue
        soonest = retention.retain_until if soonest is None else min(soonest, retention.retain_until)
        if len(versions) > 1:
            report.notes.append(
                f"{name} was written to again after it was locked ({len(versions)} versions); "
                "the original locked version is the one checked and restored"
            )
    if soonest is not None:
        left = soonest - now
        report.notes.append(f"locked in COMPLIANCE mode until {soonest:%Y-%m-%d %H:%M} UTC")
        if left < dt.timedelta(days=LOCK_WARNING_DAYS):
            report.notes.append(f"the Object Lock ends in {left.days} day(s): promote a new baseline")
