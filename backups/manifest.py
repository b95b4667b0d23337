"""What a backup set says about itself: manifest.json, MANIFEST.md and CHECKSUM.sha256.

A set is a folder ``<backup id>/`` holding the database dump, ``row_counts.json``, any
extra files under ``extras/``, ``manifest.json`` (the machine-readable description),
``MANIFEST.md`` (the same for a person, with the exact restore command) and, written
last, ``CHECKSUM.sha256`` over every other file in ``sha256sum`` format. A set without
its checksum file is incomplete.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
import subprocess
from collections.abc import Iterable
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Final, Literal

from pydantic import BaseModel, ConfigDict, Field

from rotaflow.backups.disk import human_bytes
from rotaflow.configs.settings import PROJECT_ROOT

__all__ = [
    "CHECKSUM_FILE",
    "FORMAT",
    "MANIFEST_JSON",
    "MANIFEST_MD",
    "ROW_COUNTS",
    "DatabaseInfo",
    "FileEntry",
    "Manifest",
    "TableStat",
    "backup_time",
    "code_version",
    "new_backup_id",
    "parse_checksums",
    "render_checksums",
    "render_manifest_md",
    "sha256_file",
    "slug",
]

FORMAT: Final = "rotaflow-backup/1"
MANIFEST_JSON = "manifest.json"
MANIFEST_MD = "MANIFEST.md"
CHECKSUM_FILE = "CHECKSUM.sha256"
ROW_COUNTS = "row_counts.json"
DESCRIPTIVE = (MANIFEST_JSON, MANIFEST_MD, CHECKSUM_FILE)

_ID = re.compile(r"^(\d{8}T\d{6}Z)-(quick|named|immaculate)-([a-z0-9][a-z0-9-]{0,80})$")
_SLUG_BAD = re.compile(r"[^a-z0-9]+")


class TableStat(BaseModel):
    """A table's size and content fingerprint at backup time."""

    model_config = ConfigDict(extra="forbid")

    rows: int = Field(ge=0)
    fingerprint: str


class FileEntry(BaseModel):
    """One file of the set (the descriptive files are not listed)."""

    model_config = ConfigDict(extra="forbid")

    path: str
    bytes: int = Field(ge=0)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    role: Literal["database", "row_counts", "extra"]


class DatabaseInfo(BaseModel):
    """Which database was dumped, how, and how large it was."""

    model_config = ConfigDict(extra="forbid")

    dialect: Literal["postgresql", "sqlite"]
    source: str  # the URL with its password hidden
    dump_file: str
    dump_format: str
    dump_tool: str
    server_version: str | None = None
    encoding: str | None = None
    size_bytes: int = Field(ge=0, description="the live database's size: the basis of the disk estimate")


class Manifest(BaseModel):
    """manifest.json: everything needed to check and restore the set."""

    model_config = ConfigDict(extra="forbid")

    format: Literal["rotaflow-backup/1"] = FORMAT
    backup_id: str
    tier: Literal["quick", "named", "immaculate"]
    name: str | None = None
    created_at: dt.datetime
    code_version: str
    alembic_revision: str | None
    database: DatabaseInfo
    tables: dict[str, TableStat]
    files: list[FileEntry]
    restore_command: str
    promoted_from: str | None = None
    retain_until: dt.datetime | None = None

    def file(self, path: str) -> FileEntry | None:
        return next((f for f in self.files if f.path == path), None)

    @property
    def total_bytes(self) -> int:
        return sum(f.bytes for f in self.files)

    @property
    def row_counts(self) -> dict[str, int]:
        return {name: stat.rows for name, stat in self.tables.items()}

    def to_json(self) -> str:
        return self.model_dump_json(indent=2) + "\n"


def new_backup_id(tier: str, now: dt.datetime, name: str | None = None) -> str:
    """A unique id that sorts by time: ``20261126T101500Z-quick-3fa2c1``."""
    stamp = now.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    suffix = secrets.token_hex(3)
    label = f"{slug(name)[:40]}-{suffix}" if name else suffix
    return f"{stamp}-{tier}-{label}"


def backup_time(backup_id: str) -> dt.datetime | None:
    """When a backup was taken, read from its id (None for a name that is not a backup id)."""
    match = _ID.match(backup_id)
    if not match:
        return None
    return dt.datetime.strptime(match.group(1), "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.UTC)


def slug(text: str) -> str:
    """Lowercase letters, digits and single dashes: safe in an id and a file name."""
    return _SLUG_BAD.sub("-", text.lower()).strip("-")


def sha256_file(path: Path, chunk: int = 1024 * 1024) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def render_checksums(entries: Iterable[tuple[str, str]]) -> str:
    """``sha256sum`` format: ``<hex>  <path>`` per line, sorted by path."""
    return "".join(f"{digest}  {path}\n" for path, digest in sorted(entries))


def parse_checksums(text: str) -> tuple[dict[str, str], list[str]]:
    """The path → digest map of a CHECKSUM.sha256, and a problem per unreadable line."""
    found: dict[str, str] = {}
    problems: list[str] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        match = re.fullmatch(r"([0-9a-f]{64}) [ *](.+)", line)
        if not match:
            problems.append(f"{CHECKSUM_FILE} line {number} is not '<sha256>  <file>'")
            continue
        digest, path = match.groups()
        if path in found:
            problems.append(f"{CHECKSUM_FILE} lists {path} twice")
        found[path] = digest
    return found, problems


@cache
def code_version() -> str:
    """The package version, with ``git describe`` when running from a checkout."""
    try:
        version = metadata.version("rotaflow")
    except metadata.PackageNotFoundError:  # pragma: no cover - always installed (editable)
        version = "unknown"
    if PROJECT_ROOT is None:  # an installed wheel: no checkout to describe
        return version
    try:
        described = subprocess.run(
            ["git", "-C", str(PROJECT_ROOT), "describe", "--tags", "--always", "--dirty"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):  # pragma: no cover - git missing
        return version
    text = described.stdout.strip()
    return f"{version} (git {text})" if described.returncode == 0 and text else version


def _manual_restore(dialect: str, dump_file: str) -> list[str]:
    if dialect == "postgresql":
        return [
            "createdb --template=template0 NEW_DATABASE",
            f"pg_restore --no-owner --no-privileges --exit-on-error --dbname=NEW_DATABASE {dump_file}",
        ]
    return [f"cp {dump_file} /path/to/new-rotaflow.db"]


def render_manifest_md(manifest: Manifest) -> str:
    """MANIFEST.md: what, when, code version, revision, contents, and how to restore."""
    db = manifest.database
    lines = [
        f"# Backup {manifest.backup_id}",
        "",
        f"- **Tier:** {manifest.tier}" + (f" — {manifest.name}" if manifest.name else ""),
        f"- **Taken:** {manifest.created_at.astimezone(dt.UTC).strftime('%Y-%m-%d %H:%M:%S UTC')}",
        f"- **Code version:** {manifest.code_version}",
        f"- **Alembic revision:** {manifest.alembic_revision or 'none'}",
        f"- **Database:** {db.dialect} {db.server_version or ''}".rstrip() + f" at {db.source}",
        f"- **Dump:** `{db.dump_file}` ({db.dump_format}, made by {db.dump_tool})",
        f"- **Database size when taken:** {human_bytes(db.size_bytes)}",
    ]
    if manifest.promoted_from:
        lines.append(f"- **Promoted from:** {manifest.promoted_from}")
    if manifest.retain_until:
        until = manifest.retain_until.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        lines.append(f"- **Object Lock:** COMPLIANCE until {until}")
    lines += [
        "",
        "## Restore command",
        "",
        "```",
        manifest.restore_command,
        "```",
        "",
        "Check the files first with `sha256sum -c CHECKSUM.sha256` inside this folder.",
        "",
        "Without rotaflow, restore into a new database and point `ROTAFLOW_DATABASE_URL` at it:",
        "",
        "```",
        *_manual_restore(db.dialect, db.dump_file),
        "```",
        "",
        "## Contents",
        "",
        "| file | size | sha256 |",
        "|---|---:|---|",
    ]
    lines += [f"| `{f.path}` | {f.bytes} B | `{f.sha256[:16]}…` |" for f in manifest.files]
    lines += [
        "",
        f"Also here: `{MANIFEST_JSON}` (this description, machine-readable) and `{CHECKSUM_FILE}`.",
        "",
        "## Rows per table",
        "",
        "| table | rows |",
        "|---|---:|",
    ]
    lines += [f"| {name} | {stat.rows} |" for name, stat in sorted(manifest.tables.items())]
    return "\n".join(lines) + "\n"
