"""Database adapters: dump, restore into a new database, fingerprint, swap by rename.

``database_at(url)`` gives the adapter of the URL's kind, once: ``SQLiteDatabase``
(``databases/sqlite.py``: the online backup API, fingerprints in Python, an atomic rename) or
``PostgresDatabase`` (``databases/postgres.py``: ``pg_dump`` on an exported snapshot,
``pg_restore``, renames in one transaction); both implement ``Database`` (``databases/base.py``).
The functions below are what the rest of rotaflow calls; none of them asks which kind it is.

A restore always goes into a new database; ``swap_databases`` then makes it the live one by
rename, keeping the previous one under a recoverable name.

A table's fingerprint is the row count and the sum of a 64-bit hash of each row's text
(``hashtextextended`` on the server for PostgreSQL, the first 60 bits of SHA-256 in
Python for SQLite): equal data gives equal fingerprints on the same kind of database,
whatever the row order. It detects a restore that went wrong, not a forger: the
checksums of the files guard against tampering.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from rotaflow.backups.config import PostgresTools
from rotaflow.backups.databases.base import (
    DUMP_FILES,
    Database,
    Dialect,
    DumpResult,
    RoomCheck,
    Swap,
    dialect_of,
    stamp,
    unpooled_engine,
)
from rotaflow.backups.databases.postgres import (
    PostgresDatabase,
    libpq_connection,
    pg_dump_command,
    pg_restore_command,
    stop_orphaned_restore,
    tool_version,
)
from rotaflow.backups.databases.sqlite import SQLiteDatabase
from rotaflow.backups.manifest import TableStat
from rotaflow.configs.settings import mask_url
from rotaflow.errors import GateRefused

__all__ = [
    "DUMP_FILES",
    "Database",
    "Dialect",
    "DumpResult",
    "RoomCheck",
    "Swap",
    "database_at",
    "database_exists",
    "database_size",
    "dialect_of",
    "drop_database",
    "dump_database",
    "ensure_connectable",
    "libpq_connection",
    "pg_dump_command",
    "pg_restore_command",
    "related_databases",
    "restore_dump",
    "scratch_url",
    "sibling_url",
    "stamp",
    "stop_orphaned_restore",
    "swap_databases",
    "table_stats",
    "tool_version",
    "unpooled_engine",
]

_ADAPTERS: dict[Dialect, type[Database]] = {"sqlite": SQLiteDatabase, "postgresql": PostgresDatabase}


def database_at(url: str, tools: PostgresTools | None = None) -> Database:
    """The adapter of the database at ``url``, chosen by its kind (PostgreSQL or SQLite; others are refused)."""
    return _ADAPTERS[dialect_of(url)](url, tools)


def sibling_url(url: str, label: str) -> str:
    """A new database next to ``url``: ``<name>__<label>`` (PostgreSQL) or ``<file>.<label>`` (SQLite)."""
    return database_at(url).sibling(label)


def scratch_url(dialect: Dialect, work: Path, label: str, live_url: Callable[[], str]) -> str:
    """Where a backup of ``dialect`` is restored to be tested (``Database.scratch_url`` of its adapter)."""
    return _ADAPTERS[dialect].scratch_url(work, label, live_url)


def table_stats(url: str) -> tuple[str | None, dict[str, TableStat]]:
    """The Alembic revision and every table's row count and fingerprint, read in one transaction."""
    return database_at(url).table_stats()


def database_exists(url: str, tools: PostgresTools | None = None) -> bool:
    return database_at(url, tools).exists()


def database_size(url: str) -> int:
    """Bytes the database occupies now (the basis of a restore's disk estimate)."""
    return database_at(url).size()


def drop_database(url: str, tools: PostgresTools | None = None) -> None:
    """Drop a database rotaflow made (a scratch copy, a set-aside previous database)."""
    database_at(url, tools).drop()


def ensure_connectable(url: str, tools: PostgresTools | None = None) -> None:
    """Let connections in again (a swap killed half-way may have left them refused)."""
    database_at(url, tools).ensure_connectable()


def related_databases(url: str, tools: PostgresTools | None = None) -> list[str]:
    """The URLs of the databases rotaflow made beside ``url`` (restores, scratch, set-aside), by name."""
    return database_at(url, tools).related()


def dump_database(
    url: str, folder: Path, tools: PostgresTools | None = None, *, room: RoomCheck | None = None
) -> DumpResult:
    """Dump the database at ``url`` into ``folder``, with its revision, row counts and fingerprints.

    ``room``, when given, is called with the database's size before anything is written
    (the disk check of the caller); it refuses by raising. ``folder`` is made then (mode 0700)
    when it does not exist.
    """
    return database_at(url, tools).dump(folder, room)


def restore_dump(
    dump: Path,
    dialect: Dialect,
    target_url: str,
    *,
    tools: PostgresTools | None = None,
    encoding: str | None = None,
    dump_tool: str | None = None,
    on_start: Callable[[int], None] | None = None,
) -> None:
    """Create the database at ``target_url`` from ``dump``; it must not exist yet.

    On failure the half-made database is dropped: nothing is left that looks restored.
    PostgreSQL: ``on_start`` is told the process id of ``pg_restore`` once it runs (it leads
    its own process group), so that a recovery can stop it if this process is killed.
    """
    target = database_at(target_url, tools)
    if target.dialect != dialect:
        raise GateRefused(f"the backup holds a {dialect} database; {mask_url(target_url)} is {target.dialect}")
    target.restore(dump, encoding=encoding, dump_tool=dump_tool, on_start=on_start)


def swap_databases(
    staged_url: str,
    live_url: str,
    *,
    keep_as: str,
    tools: PostgresTools | None = None,
    wait_seconds: float = 15.0,
) -> Swap:
    """Make the database at ``staged_url`` the live one; the old live one becomes ``keep_as``.

    PostgreSQL: new connections to both are refused, the open ones terminated, and both
    renames run in one transaction, so the live name always names a whole database.
    SQLite: the old file is kept under a hard link, then the new file is renamed over
    the live one (an atomic rename).
    """
    if dialect_of(staged_url) != dialect_of(live_url):
        raise GateRefused("a restore swaps in a database of the same kind only")
    return database_at(live_url, tools).swap_in(staged_url, keep_as, wait_seconds)
