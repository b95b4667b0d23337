"""Restore on SQLite: into a new file, checked, swapped in by rename, undone, retired."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from rotaflow.backups.config import BackupConfig, load_backup_config, open_tier_store
from rotaflow.backups.databases import database_exists, ensure_connectable, related_databases, sibling_url, table_stats
from rotaflow.backups.restore import restore_into, retire_previous, staging_url, swap_in, undo_swap, verify_restored
from rotaflow.backups.sets import FetchedBackup, create_backup, fetch_backup
from rotaflow.backups.verify import verify_backup
from rotaflow.db.migrate import head_revision
from rotaflow.errors import GateRefused
from tests.backups_fixtures import content_hashes

NOW = dt.datetime(2026, 11, 26, 10, 15, tzinfo=dt.UTC)


@pytest.fixture
def config() -> BackupConfig:
    return load_backup_config()


def _path(url: str) -> Path:
    return Path(make_url(url).database or "")


def _execute(url: str, *statements: str) -> None:
    engine = create_engine(url, poolclass=NullPool)
    with engine.begin() as conn:
        for statement in statements:
            conn.execute(text(statement))
    engine.dispose()


def _fetched(url: str, config: BackupConfig, tmp_path: Path) -> FetchedBackup:
    created = create_backup(database_url=url, config=config, now=NOW)
    store = open_tier_store("quick", config)
    assert verify_backup(store, created.backup_id).ok
    return fetch_backup(store, created.backup_id, tmp_path / "download")


def test_create_verify_restore_round_trip(filled_sqlite: str, config: BackupConfig, tmp_path: Path) -> None:
    before = content_hashes(filled_sqlite)
    fetched = _fetched(filled_sqlite, config, tmp_path)
    # the live database moves on after the backup
    _execute(filled_sqlite, "DELETE FROM requests", "UPDATE people SET name = 'Changed' WHERE person_id = 'R1'")
    changed = content_hashes(filled_sqlite)
    assert changed != before

    staged = staging_url(filled_sqlite, NOW)
    assert _path(staged).name == "rotaflow.db.restore_20261126t101500"
    assert restore_into(fetched, staged, config=config) == staged
    report = verify_restored(staged, fetched.manifest)
    assert report.ok, report.problems
    assert report.tables_checked == len(before)
    assert report.summary().endswith(f"verified ({len(before)} tables)")
    assert content_hashes(staged) == before

    swap = swap_in(staged, filled_sqlite, config=config, now=NOW)
    assert swap.live_url == filled_sqlite
    assert swap.previous_url is not None and _path(swap.previous_url).name == "rotaflow.db.pre_20261126t101500"
    assert content_hashes(filled_sqlite) == before  # the live database equals the backup
    assert content_hashes(swap.previous_url) == changed  # the old one is kept, recoverable
    assert not _path(staged).exists()
    assert verify_restored(filled_sqlite, fetched.manifest).ok
    assert related_databases(filled_sqlite) == [swap.previous_url]  # what a later run finds beside it
    ensure_connectable(filled_sqlite)  # nothing to do for a file

    retire_previous(swap, config=config)
    assert not _path(swap.previous_url).exists()
    assert sorted(p.name for p in _path(filled_sqlite).parent.iterdir()) == ["rotaflow.db"]
    assert related_databases(filled_sqlite) == []
    assert related_databases(f"sqlite:///{tmp_path / 'no' / 'folder.db'}") == []


def test_undo_swap_puts_the_previous_database_back(filled_sqlite: str, config: BackupConfig, tmp_path: Path) -> None:
    fetched = _fetched(filled_sqlite, config, tmp_path)
    _execute(filled_sqlite, "DELETE FROM absences")
    changed = content_hashes(filled_sqlite)
    staged = staging_url(filled_sqlite, NOW)
    restore_into(fetched, staged, config=config)
    swap = swap_in(staged, filled_sqlite, config=config, now=NOW)
    undone = undo_swap(swap, config=config, now=NOW + dt.timedelta(seconds=1))
    assert content_hashes(filled_sqlite) == changed
    assert undone.previous_url is not None
    assert _path(undone.previous_url).name == "rotaflow.db.failed_20261126t101501"
    assert verify_restored(undone.previous_url, fetched.manifest).ok  # the refused restore, kept aside
    retire_previous(undone, config=config)
    assert not _path(undone.previous_url).exists()


def test_a_restore_never_goes_over_an_existing_database(
    filled_sqlite: str, config: BackupConfig, tmp_path: Path
) -> None:
    fetched = _fetched(filled_sqlite, config, tmp_path)
    before = content_hashes(filled_sqlite)
    with pytest.raises(GateRefused, match="already exists: a restore goes into a new database file"):
        restore_into(fetched, filled_sqlite, config=config)
    assert content_hashes(filled_sqlite) == before


def test_a_restore_goes_into_the_same_kind_of_database(
    filled_sqlite: str, config: BackupConfig, tmp_path: Path
) -> None:
    fetched = _fetched(filled_sqlite, config, tmp_path)
    with pytest.raises(
        GateRefused, match="the backup holds a sqlite database; postgresql://u:\\*\\*\\*@h/db is postgresql"
    ):
        restore_into(fetched, "postgresql://u:pw@h/db", config=config)
    with pytest.raises(GateRefused, match="backups support PostgreSQL and SQLite, not mysql"):
        restore_into(fetched, "mysql://h/db", config=config)


def test_a_damaged_dump_fails_the_restore_and_leaves_nothing(
    filled_sqlite: str, config: BackupConfig, tmp_path: Path
) -> None:
    fetched = _fetched(filled_sqlite, config, tmp_path)
    fetched.dump_path.write_bytes(b"SQLite format 3\x00" + b"\x00" * 200)
    target = f"sqlite:///{tmp_path / 'new.db'}"
    with pytest.raises(GateRefused, match="the SQLite dump could not be restored"):
        restore_into(fetched, target, config=config)
    assert not (tmp_path / "new.db").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".new.db")] == []


def test_swap_into_a_missing_live_database_and_from_another_folder(
    filled_sqlite: str, config: BackupConfig, tmp_path: Path
) -> None:
    fetched = _fetched(filled_sqlite, config, tmp_path)
    elsewhere = tmp_path / "other" / "restored.db"
    restore_into(fetched, f"sqlite:///{elsewhere}", config=config)
    live = tmp_path / "fresh" / "rotaflow.db"
    live.parent.mkdir()
    swap = swap_in(f"sqlite:///{elsewhere}", f"sqlite:///{live}", config=config, now=NOW)
    assert swap.previous_url is None
    assert not elsewhere.exists()
    assert verify_restored(f"sqlite:///{live}", fetched.manifest).ok
    with pytest.raises(GateRefused, match="there was no live database before this restore"):
        undo_swap(swap, config=config)
    retire_previous(swap, config=config)  # nothing to drop


def test_swap_refusals(filled_sqlite: str, config: BackupConfig, tmp_path: Path) -> None:
    with pytest.raises(GateRefused, match="no restored database at"):
        swap_in(f"sqlite:///{tmp_path / 'none.db'}", filled_sqlite, config=config)
    staged = tmp_path / "live" / "staged.db"
    shutil.copyfile(_path(filled_sqlite), staged)
    taken = _path(filled_sqlite).with_name("rotaflow.db.pre_20261126t101500")
    taken.write_bytes(b"")
    with pytest.raises(GateRefused, match="already exists: choose another name"):
        swap_in(f"sqlite:///{staged}", filled_sqlite, config=config, now=NOW)
    with pytest.raises(GateRefused, match="a restore swaps in a database of the same kind only"):
        swap_in("postgresql://h/x", filled_sqlite, config=config)
    with pytest.raises(GateRefused, match="is not a SQLite database file"):
        swap_in("sqlite://", filled_sqlite, config=config)


# --------------------------------------------------------------------------- verify_restored


def _restored(filled_sqlite: str, config: BackupConfig, tmp_path: Path) -> tuple[str, FetchedBackup]:
    fetched = _fetched(filled_sqlite, config, tmp_path)
    target = sibling_url(filled_sqlite, "check")
    restore_into(fetched, target, config=config)
    return target, fetched


def test_verify_restored_sees_changed_missing_and_extra_data(
    filled_sqlite: str, config: BackupConfig, tmp_path: Path
) -> None:
    target, fetched = _restored(filled_sqlite, config, tmp_path)
    _execute(
        target,
        "UPDATE blocks SET end_date = '2027-07-29' WHERE block_id = 'B1'",
        "DELETE FROM requests WHERE kind = 'off'",
        "CREATE TABLE stray (x INTEGER)",
        "DROP TABLE schedule_runs",
    )
    report = verify_restored(target, fetched.manifest)
    assert report.problems == [
        "table blocks has the right row count but different content",
        "table requests has 1 rows, the backup recorded 3",
        "table schedule_runs is missing",
        "table stray is not in the backup",
    ]
    with pytest.raises(GateRefused, match="verification of restored database sqlite:///.* refused"):
        report.raise_for_problems()


def test_verify_restored_checks_the_alembic_revision(filled_sqlite: str, config: BackupConfig, tmp_path: Path) -> None:
    target, fetched = _restored(filled_sqlite, config, tmp_path)
    _execute(target, "UPDATE alembic_version SET version_num = 'other'")
    report = verify_restored(target, fetched.manifest, contracts=False)
    assert report.problems[0] == f"Alembic revision is other, the backup recorded {head_revision()}"


def test_verify_restored_of_an_unreadable_database(config: BackupConfig, tmp_path: Path, filled_sqlite: str) -> None:
    _, fetched = _restored(filled_sqlite, config, tmp_path)
    report = verify_restored(f"sqlite:///{tmp_path / 'gone.db'}", fetched.manifest)
    assert report.problems == [
        f"the restored database could not be read: GateRefused: no SQLite database at {tmp_path / 'gone.db'}"
    ]


def test_a_drivers_error_text_stays_in_the_log_not_in_the_problems(
    config: BackupConfig, tmp_path: Path, filled_sqlite: str, caplog: pytest.LogCaptureFixture
) -> None:
    _, fetched = _restored(filled_sqlite, config, tmp_path)
    broken = tmp_path / "broken.db"
    broken.write_bytes(b"not a database: row value Jane Doe")  # sqlite3 refuses it with its own words
    with caplog.at_level("WARNING", logger="rotaflow.backups.restore"):
        report = verify_restored(f"sqlite:///{broken}", fetched.manifest)
    (problem,) = report.problems
    assert problem.startswith("the restored database could not be read: ") and problem.endswith(
        "(the details are in the log)"
    )
    assert "Jane" not in problem and "file is not a database" not in problem
    assert any(r.exc_info for r in caplog.records)  # the driver's own text is in the log


def test_the_contract_checks_run_on_the_restored_program_data(
    filled_sqlite: str, config: BackupConfig, tmp_path: Path
) -> None:
    # bad data that the row counts alone would never notice, already in the live database
    _execute(
        filled_sqlite,
        "UPDATE people SET role = 'janitor' WHERE person_id = 'R2'",
        "UPDATE rotation_assignments SET rotation_id = 'NOPE' WHERE person_id = 'R1' AND block_id = 'B1'",
    )
    target, fetched = _restored(filled_sqlite, config, tmp_path)
    report = verify_restored(target, fetched.manifest)
    assert report.problems == [
        "program tiny-internal-medicine-residency: people.csv, row 2, column role: expected resident or faculty, got 'janitor'",
        "program tiny-internal-medicine-residency: rotation_assignments.csv, row 1, column rotation_id: expected an id listed in rotations.csv, got 'NOPE'",
    ]


def test_extra_checks_add_their_problems(filled_sqlite: str, config: BackupConfig, tmp_path: Path) -> None:
    target, fetched = _restored(filled_sqlite, config, tmp_path)
    seen: list[str] = []

    def schedule_rules(url: str, manifest: object) -> list[str]:
        seen.append(url)
        return ["block B1: 2 ACGME violations"]

    report = verify_restored(target, fetched.manifest, extra_checks=[schedule_rules])
    assert seen == [target] and report.problems == ["block B1: 2 ACGME violations"]


def test_table_stats_and_existence(filled_sqlite: str) -> None:
    revision, tables = table_stats(filled_sqlite)
    assert revision == head_revision()
    assert tables["people"].rows == 4 and tables["people"].fingerprint.startswith("sqlite-sha256-60:")
    assert database_exists(filled_sqlite)
    assert not database_exists(filled_sqlite + ".nope")
    with pytest.raises(GateRefused, match="no SQLite database at"):
        table_stats(filled_sqlite + ".nope")


def test_a_filesystem_without_hard_links_still_restores_without_replacing(
    filled_sqlite: str, config: BackupConfig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import rotaflow.backups.databases.sqlite as sqlite_database

    fetched = _fetched(filled_sqlite, config, tmp_path)

    def no_links(src: object, dst: object) -> None:
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(sqlite_database.os, "link", no_links)
    target = tmp_path / "restored.db"
    restore_into(fetched, f"sqlite:///{target}", config=config)
    assert verify_restored(f"sqlite:///{target}", fetched.manifest).ok
    # a file that appeared meanwhile is never replaced
    (tmp_path / "new").write_text("new")
    (tmp_path / "there").write_text("already there")
    with pytest.raises(FileExistsError):
        sqlite_database._place_new(tmp_path / "new", tmp_path / "there")
    assert (tmp_path / "there").read_text() == "already there"


def test_odd_file_names_are_backed_up_and_restored(sqlite_template: Path, config: BackupConfig, tmp_path: Path) -> None:
    odd = tmp_path / "odd name #1 (é).db"
    shutil.copyfile(sqlite_template, odd)
    url = f"sqlite:///{odd}"
    fetched = _fetched(url, config, tmp_path)
    target = f"sqlite:///{tmp_path / 'restored #2 (ü).db'}"
    restore_into(fetched, target, config=config)
    assert verify_restored(target, fetched.manifest).ok
    assert content_hashes(target) == content_hashes(url)
