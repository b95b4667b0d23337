"""Where a backup is restored to be tested: each dialect's adapter says (``Database.scratch_url``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from rotaflow.backups.databases import scratch_url
from rotaflow.backups.databases.postgres import PostgresDatabase
from rotaflow.backups.databases.sqlite import SQLiteDatabase
from rotaflow.errors import GateRefused


def _never() -> str:
    raise AssertionError("a SQLite backup's scratch database does not ask for the live database")


def test_a_sqlite_backup_is_tested_in_a_file_of_the_work_folder(tmp_path: Path) -> None:
    url = scratch_url("sqlite", tmp_path, "scratch_20261126t101500", _never)
    assert url == f"sqlite:///{(tmp_path / 'scratch.sqlite3').as_posix()}"
    assert SQLiteDatabase.scratch_url(tmp_path, "any", _never) == url


def test_a_postgres_backup_is_tested_beside_the_live_database(tmp_path: Path) -> None:
    live = "postgresql+psycopg://rota:secret@db.example:5432/rotaflow"
    url = scratch_url("postgresql", tmp_path, "scratch_20261126t101500", lambda: live)
    assert url == PostgresDatabase(live).sibling("scratch_20261126t101500")
    assert "rotaflow__scratch_20261126t101500" in url


def test_a_postgres_backup_needs_a_postgres_server(tmp_path: Path) -> None:
    with pytest.raises(GateRefused, match="needs a PostgreSQL server"):
        scratch_url("postgresql", tmp_path, "scratch_x", lambda: f"sqlite:///{tmp_path / 'live.db'}")
