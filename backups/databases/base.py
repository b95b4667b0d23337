"""What a backup needs of a database, whatever its kind: the ``Database`` adapter and its results.

One adapter per dialect (``sqlite.SQLiteDatabase``, ``postgres.PostgresDatabase``), bound to one
database URL and chosen once from it (``rotaflow.backups.databases.database_at``).
"""

from __future__ import annotations

import datetime as dt
import functools
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal

from sqlalchemy import Engine, create_engine
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from rotaflow.backups.config import PostgresTools
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
    "dialect_of",
    "stamp",
    "unpooled_engine",
]

Dialect = Literal["postgresql", "sqlite"]

DUMP_FILES: dict[str, str] = {"postgresql": "database.dump", "sqlite": "database.sqlite3"}
RoomCheck = Callable[[int], None]
"""Called with the database's size before anything is written; raises to refuse the dump."""


@dataclass(frozen=True)
class DumpResult:
    """A dump on disk and what it holds."""

    path: Path
    dialect: Dialect
    dump_format: str
    dump_tool: str
    server_version: str | None
    encoding: str | None
    size_bytes: int
    alembic_revision: str | None
    tables: dict[str, TableStat]


@dataclass(frozen=True)
class Swap:
    """A completed switch: ``live_url`` now holds the restore; the old one waits at ``previous_url``."""

    live_url: str
    previous_url: str | None
    restored_from_url: str


def dialect_of(url: str) -> Dialect:
    backend = make_url(url).get_backend_name()
    if backend == "postgresql":
        return "postgresql"
    if backend == "sqlite":
        return "sqlite"
    raise GateRefused(f"backups support PostgreSQL and SQLite, not {backend} ({mask_url(url)})")


def stamp(now: dt.datetime | None = None) -> str:
    """A compact UTC time for database names: ``20261126t101500``."""
    return (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC).strftime("%Y%m%dt%H%M%S")


@functools.lru_cache(maxsize=64)
def unpooled_engine(url: str, isolation_level: str | None = None) -> Engine:
    """An engine that keeps no connection open (each ``connect`` opens one, closing it closes it).

    Shared per URL within the process: a new engine per call would introduce itself to the
    server and compile every statement again. Holding no connection, it never stands in the
    way of dropping or renaming its database.
    """
    kwargs: dict[str, Any] = {"isolation_level": isolation_level} if isolation_level else {}
    return create_engine(url, poolclass=NullPool, **kwargs)


def make_room(folder: Path, room: RoomCheck | None, size: int) -> None:
    """Ask ``room`` whether ``size`` bytes fit, then make the dump's folder (mode 0700)."""
    if room is not None:
        room(size)
    folder.mkdir(mode=0o700, exist_ok=True)


class Database(ABC):
    """One database rotaflow backs up, restores into, or switches: the dialect's way of doing each."""

    dialect: ClassVar[Dialect]

    def __init__(self, url: str, tools: PostgresTools | None = None) -> None:
        self.url = url
        self.tools = tools or PostgresTools()

    @property
    @abstractmethod
    def name(self) -> str:
        """The database's own name: the file name (SQLite) or the database name (PostgreSQL)."""

    @abstractmethod
    def sibling(self, label: str) -> str:
        """The URL of a new database next to this one, named after it and ``label``."""

    @abstractmethod
    def exists(self) -> bool: ...

    @abstractmethod
    def size(self) -> int:
        """Bytes the database occupies now (the basis of a restore's disk estimate)."""

    @abstractmethod
    def drop(self) -> None:
        """Drop a database rotaflow made (a scratch copy, a set-aside previous database)."""

    @abstractmethod
    def ensure_connectable(self) -> None:
        """Let connections in again (a swap killed half-way may have left them refused)."""

    @abstractmethod
    def related(self) -> list[str]:
        """The URLs of the databases rotaflow made beside this one (restores, scratch, set-aside)."""

    @abstractmethod
    def table_stats(self) -> tuple[str | None, dict[str, TableStat]]:
        """The Alembic revision and every table's row count and fingerprint, read in one transaction."""

    @abstractmethod
    def dump(self, folder: Path, room: RoomCheck | None = None) -> DumpResult:
        """Dump the database into ``folder``, with its revision, row counts and fingerprints."""

    @abstractmethod
    def restore(
        self,
        dump: Path,
        *,
        encoding: str | None = None,
        dump_tool: str | None = None,
        on_start: Callable[[int], None] | None = None,
    ) -> None:
        """Create this database from ``dump``; it must not exist yet."""

    @abstractmethod
    def swap_in(self, staged_url: str, keep_as: str, wait_seconds: float) -> Swap:
        """Make the database at ``staged_url`` this (live) one; the old one becomes ``keep_as``."""

    @abstractmethod
    def restore_folder(self) -> Path | None:
        """Where a restore beside this database writes, when that is on this machine."""

    @abstractmethod
    def set_aside(self, target_url: str) -> None:
        """Move this database to the name of ``target_url`` (no database may be there)."""

    @abstractmethod
    def drop_leftovers(self) -> None:
        """Remove what a restore into this database, killed half-way, left beside it."""

    @classmethod
    @abstractmethod
    def scratch_url(cls, work: Path, label: str, live_url: Callable[[], str]) -> str:
        """Where a backup of this dialect is restored to be tested (a restore test, a promotion's check),
        never a database that is there: a file in ``work`` (SQLite), or the database ``label`` beside the
        live one ``live_url()`` gives (PostgreSQL, which refuses a live database of another kind)."""

    @abstractmethod
    def is_same(self, other_url: str) -> bool:
        """Whether ``other_url`` is a second name of this very database (a hard link of its file)."""
