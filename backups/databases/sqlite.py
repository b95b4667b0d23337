"""SQLite: copied with the online backup API, fingerprinted in Python, swapped by an atomic rename.

A table's fingerprint is the row count and the sum of the first 60 bits of the SHA-256 of each
row's text: equal data gives equal fingerprints, whatever the row order.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path

from sqlalchemy.engine import make_url

from rotaflow.backups.databases.base import DUMP_FILES, Database, DumpResult, RoomCheck, Swap, make_room
from rotaflow.backups.journal import checkpoint
from rotaflow.backups.manifest import TableStat
from rotaflow.errors import GateRefused
from rotaflow.files import private_dir, private_file

__all__ = ["SQLiteDatabase"]


class SQLiteDatabase(Database):
    """A SQLite database file."""

    dialect = "sqlite"

    @property
    def path(self) -> Path:
        database = make_url(self.url).database
        if not database or database == ":memory:":
            raise GateRefused(f"{self.url} is not a SQLite database file")
        return Path(database)

    @property
    def name(self) -> str:
        return Path(make_url(self.url).database or "").name

    def sibling(self, label: str) -> str:
        """``<file>.<label>`` in the same folder."""
        path = self.path
        return str(make_url(self.url).set(database=str(path.with_name(f"{path.name}.{label}"))).render_as_string(False))

    @classmethod
    def scratch_url(cls, work: Path, label: str, live_url: Callable[[], str]) -> str:
        """``scratch.sqlite3`` in ``work`` (the live database is not asked)."""
        return f"sqlite:///{(work / 'scratch.sqlite3').as_posix()}"

    def exists(self) -> bool:
        return self.path.exists()

    def size(self) -> int:
        path = self.path
        return path.stat().st_size if path.exists() else 0

    def drop(self) -> None:
        path = self.path
        for suffix in ("", "-journal", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)

    def ensure_connectable(self) -> None:
        return

    def related(self) -> list[str]:
        parsed = make_url(self.url)
        path = self.path
        if not path.parent.is_dir():
            return []
        found = sorted(p for p in path.parent.iterdir() if p.name.startswith(f"{path.name}.") and p.is_file())
        return [parsed.set(database=str(p)).render_as_string(hide_password=False) for p in found]

    def table_stats(self) -> tuple[str | None, dict[str, TableStat]]:
        path = self.path
        if not path.is_file():
            raise GateRefused(f"no SQLite database at {path}")
        db = _read_only(path)
        try:
            return _revision(db), _table_stats(db)
        finally:
            db.close()

    def dump(self, folder: Path, room: RoomCheck | None = None) -> DumpResult:
        source = self.path
        if not source.is_file():
            raise GateRefused(f"no SQLite database at {source}: nothing to back up")
        make_room(folder, room, source.stat().st_size)
        target = folder / DUMP_FILES["sqlite"]
        live = _read_only(source)
        copy = sqlite3.connect(target)
        try:
            live.backup(copy)  # the online backup API: a consistent copy while others write
            revision = _revision(copy)
            tables = _table_stats(copy)
        finally:
            copy.close()
            live.close()
        return DumpResult(
            path=target,
            dialect="sqlite",
            dump_format="sqlite3 database file (online backup API)",
            dump_tool=f"sqlite3 {sqlite3.sqlite_version}",
            server_version=sqlite3.sqlite_version,
            encoding="UTF-8",
            size_bytes=source.stat().st_size,
            alembic_revision=revision,
            tables=tables,
        )

    def restore(
        self,
        dump: Path,
        *,
        encoding: str | None = None,
        dump_tool: str | None = None,
        on_start: Callable[[int], None] | None = None,
    ) -> None:
        """Copy the dump into a temporary file, check it, and give it this name (never replacing a file)."""
        target = self.path
        if target.exists():
            raise GateRefused(f"{target} already exists: a restore goes into a new database file")
        private_dir(target.parent)
        temporary = target.with_name(f".{target.name}.restoring")
        temporary.unlink(missing_ok=True)
        try:
            source = _read_only(dump)
            copy = sqlite3.connect(private_file(temporary))  # the live database to be: the owner's alone, like any
            try:
                source.backup(copy)
                verdict = copy.execute("PRAGMA integrity_check").fetchone()
            finally:
                copy.close()
                source.close()
            if not verdict or verdict[0] != "ok":
                raise GateRefused(f"the restored SQLite copy failed its integrity check: {verdict and verdict[0]}")
            checkpoint("mid-restore")
            _place_new(temporary, target)
        except sqlite3.DatabaseError as exc:
            raise GateRefused(f"the SQLite dump could not be restored: {exc}") from exc
        except FileExistsError as exc:
            raise GateRefused(f"{target} already exists: a restore goes into a new database file") from exc
        finally:
            temporary.unlink(missing_ok=True)

    def swap_in(self, staged_url: str, keep_as: str, wait_seconds: float) -> Swap:
        """The old file is kept under a hard link, then the new file is renamed over the live one."""
        staged = SQLiteDatabase(staged_url).path
        live = self.path
        if not staged.is_file():
            raise GateRefused(f"no restored database at {staged}")
        previous = live.with_name(keep_as)
        if previous.exists():
            raise GateRefused(f"{previous} already exists: choose another name for the previous database")
        if staged.parent.resolve() != live.parent.resolve():
            moved = live.with_name(f".{live.name}.incoming")
            shutil.copyfile(staged, moved)  # a rename is atomic only within one folder
            staged.unlink()
            staged = moved
        kept: Path | None = None
        if live.exists():
            _settle(live)
            try:
                os.link(live, previous)
            except OSError:
                shutil.copy2(live, previous)
            kept = previous
            for suffix in ("-shm", "-wal"):
                Path(f"{live}{suffix}").unlink(missing_ok=True)
        checkpoint("mid-swap")
        os.replace(staged, live)
        live_str = make_url(self.url).set(database=str(live)).render_as_string(hide_password=False)
        previous_url = (
            make_url(self.url).set(database=str(kept)).render_as_string(hide_password=False)
            if kept is not None
            else None
        )
        return Swap(live_url=live_str, previous_url=previous_url, restored_from_url=staged_url)

    def restore_folder(self) -> Path | None:
        """The folder of the database file: a restore is written beside it."""
        return Path(make_url(self.url).database or ".").absolute().parent

    def set_aside(self, target_url: str) -> None:
        os.replace(make_url(self.url).database or "", make_url(target_url).database or "")

    def drop_leftovers(self) -> None:
        """The temporary file of a restore (``.<name>.restoring``)."""
        path = Path(make_url(self.url).database or "")
        path.with_name(f".{path.name}.restoring").unlink(missing_ok=True)

    def is_same(self, other_url: str) -> bool:
        try:
            return os.path.samefile(make_url(self.url).database or "", make_url(other_url).database or "")
        except OSError:
            return False


def _read_only(path: Path) -> sqlite3.Connection:
    """Open a SQLite file for reading only (a URI, so any file name works)."""
    return sqlite3.connect(path.resolve().as_uri() + "?mode=ro", uri=True)


def _revision(db: sqlite3.Connection) -> str | None:
    try:
        row = db.execute("SELECT version_num FROM alembic_version").fetchone()
    except sqlite3.DatabaseError:
        return None
    return str(row[0]) if row else None


def _table_stats(db: sqlite3.Connection) -> dict[str, TableStat]:
    names = [
        row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
    ]
    stats: dict[str, TableStat] = {}
    for table in sorted(names):
        quoted = '"' + table.replace('"', '""') + '"'
        count = 0
        total = 0
        for row in db.execute(f"SELECT * FROM {quoted}"):  # noqa: S608 - a name read from sqlite_master
            count += 1
            total += int(hashlib.sha256(repr(tuple(row)).encode()).hexdigest()[:15], 16)
        stats[table] = TableStat(rows=count, fingerprint=f"sqlite-sha256-60:{total}")
    return stats


def _place_new(source: Path, target: Path) -> None:
    """Give ``source`` the name ``target``, never replacing a file that appeared meanwhile."""
    try:
        os.link(source, target)
    except FileExistsError:
        raise
    except OSError:  # a filesystem without hard links: check, then rename
        if target.exists():
            raise FileExistsError(target) from None
        os.replace(source, target)


def _settle(path: Path) -> None:
    """Finish any transaction left in a journal or WAL, so the file alone holds the database."""
    db = sqlite3.connect(path)
    try:
        db.execute("SELECT count(*) FROM sqlite_master").fetchone()
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    finally:
        db.close()
    for suffix in ("-journal", "-wal"):
        side = Path(f"{path}{suffix}")
        if side.exists() and side.stat().st_size > 0:
            raise GateRefused(f"{side} is in use: another process is writing to {path.name}; stop it and retry")
