"""Backups of a real PostgreSQL database: pg_dump/pg_restore, a new database, swap by rename."""

from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from rotaflow.backups.config import BackupConfig, load_backup_config, open_tier_store
from rotaflow.backups.databases import (
    database_exists,
    database_size,
    drop_database,
    ensure_connectable,
    related_databases,
    sibling_url,
    swap_databases,
    tool_version,
)
from rotaflow.backups.restore import restore_into, retire_previous, staging_url, swap_in, undo_swap, verify_restored
from rotaflow.backups.sets import FetchedBackup, create_backup, fetch_backup
from rotaflow.backups.verify import verify_backup
from rotaflow.db.migrate import head_revision
from rotaflow.errors import GateRefused
from rotaflow.storage import LocalStore
from tests.backups_fixtures import content_hashes

pytestmark = pytest.mark.postgres

NOW = dt.datetime(2026, 11, 26, 10, 15, tzinfo=dt.UTC)


@pytest.fixture
def config() -> BackupConfig:
    return load_backup_config()


def _execute(url: str, *statements: str) -> None:
    engine = create_engine(url, poolclass=NullPool)
    with engine.begin() as conn:
        for statement in statements:
            conn.execute(text(statement))
    engine.dispose()


def _fetch(url: str, config: BackupConfig, tmp_path: Path, **kwargs: object) -> FetchedBackup:
    created = create_backup(database_url=url, config=config, now=NOW, **kwargs)  # type: ignore[arg-type]
    store = open_tier_store("quick", config)
    report = verify_backup(store, created.backup_id)
    assert report.ok, report.problems
    return fetch_backup(store, created.backup_id, tmp_path / "download")


def test_postgres_create_verify_restore_round_trip(filled_postgres: str, config: BackupConfig, tmp_path: Path) -> None:
    before = content_hashes(filled_postgres)
    fetched = _fetch(filled_postgres, config, tmp_path)
    manifest = fetched.manifest
    assert manifest.database.dialect == "postgresql" and manifest.database.dump_file == "database.dump"
    assert manifest.database.dump_format == "pg_dump custom format"
    assert manifest.database.dump_tool.startswith("pg_dump (PostgreSQL) ")
    assert manifest.database.encoding == "UTF8" and manifest.database.size_bytes == database_size(filled_postgres)
    assert manifest.alembic_revision == head_revision()
    assert manifest.row_counts == {t: n for t, (n, _) in before.items()}
    assert fetched.dump_path.read_bytes()[:5] == b"PGDMP"  # custom format
    assert "password" not in manifest.database.source

    _execute(filled_postgres, "DELETE FROM requests", "UPDATE people SET name = 'Changed' WHERE person_id = 'R1'")
    changed = content_hashes(filled_postgres)

    staged = staging_url(filled_postgres, NOW)
    restore_into(fetched, staged, config=config)
    report = verify_restored(staged, manifest)
    assert report.ok, report.problems
    assert content_hashes(staged) == before

    # an application connection is open on the live database: the swap ends it
    app = create_engine(filled_postgres, poolclass=NullPool)
    held = app.connect()
    held.execute(text("SELECT 1"))
    swap = swap_in(staged, filled_postgres, config=config, now=NOW)
    held.invalidate()
    app.dispose()
    live_name = make_url(filled_postgres).database
    assert swap.previous_url is not None
    assert make_url(swap.previous_url).database == f"{live_name}__pre_20261126t101500"
    assert content_hashes(filled_postgres) == before  # the live database equals the backup
    assert content_hashes(swap.previous_url) == changed  # and the previous one is kept as it was
    assert not database_exists(staged)
    assert verify_restored(filled_postgres, manifest).ok
    assert related_databases(filled_postgres) == [swap.previous_url]  # what a later run finds beside it

    retire_previous(swap, config=config)
    assert not database_exists(swap.previous_url)
    assert related_databases(filled_postgres) == []


def test_a_database_left_closed_by_a_killed_swap_is_opened_again(filled_postgres: str) -> None:
    name = make_url(filled_postgres).database
    _execute_admin(filled_postgres, f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS false')
    engine = create_engine(filled_postgres, poolclass=NullPool)
    with pytest.raises(Exception, match="is not currently accepting connections"):
        engine.connect()
    ensure_connectable(filled_postgres)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT 1")).scalar() == 1
    engine.dispose()


def test_postgres_undo_swap_puts_the_previous_database_back(
    filled_postgres: str, config: BackupConfig, tmp_path: Path
) -> None:
    fetched = _fetch(filled_postgres, config, tmp_path)
    _execute(filled_postgres, "DELETE FROM absences")
    changed = content_hashes(filled_postgres)
    staged = staging_url(filled_postgres, NOW)
    restore_into(fetched, staged, config=config)
    swap = swap_in(staged, filled_postgres, config=config, now=NOW)
    undone = undo_swap(swap, config=config, now=NOW + dt.timedelta(seconds=1))
    assert content_hashes(filled_postgres) == changed
    assert undone.previous_url is not None and undone.previous_url.endswith("__failed_20261126t101501")
    assert verify_restored(undone.previous_url, fetched.manifest).ok


def test_the_counts_describe_the_dump_even_while_others_write(
    filled_postgres: str, config: BackupConfig, tmp_path: Path
) -> None:
    stop = threading.Event()
    written: list[int] = []

    def writer() -> None:
        engine = create_engine(filled_postgres, poolclass=NullPool)
        while not stop.is_set():
            with engine.begin() as conn:
                conn.execute(
                    text(
                        "INSERT INTO audit_log (at, actor, action, entity, entity_key, details) "
                        "VALUES (now(), 'writer', 'note', 'load', :k, '{}')"
                    ),
                    {"k": str(len(written))},
                )
            written.append(1)
        engine.dispose()

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        while len(written) < 20:
            stop.wait(0.01)
        at_start = len(written)
        fetched = _fetch(filled_postgres, config, tmp_path)
        during = len(written) - at_start
    finally:
        stop.set()
        thread.join()
    assert during > 0  # the database changed while it was being backed up
    staged = staging_url(filled_postgres, NOW)
    restore_into(fetched, staged, config=config)
    report = verify_restored(staged, fetched.manifest)
    assert report.ok, report.problems  # row counts and fingerprints match what pg_dump saw
    assert content_hashes(staged)["audit_log"][0] == fetched.manifest.tables["audit_log"].rows


def _fake_tool(tmp_path: Path, name: str, version_line: str) -> str:
    path = tmp_path / name
    path.write_text(f"#!/bin/sh\necho '{version_line}'\n")
    path.chmod(0o755)
    return str(path)


def test_a_pg_dump_older_than_the_server_is_refused(filled_postgres: str, tmp_path: Path) -> None:
    old = _fake_tool(tmp_path, "pg_dump", "pg_dump (PostgreSQL) 9.6.24")
    config = load_backup_config(postgres={"pg_dump": old})
    with pytest.raises(GateRefused) as caught:
        create_backup(database_url=filled_postgres, config=config)
    server_major = tool_version("pg_dump")[0]
    assert str(caught.value).startswith(f"pg_dump 9 is older than the PostgreSQL {server_major} server at ")
    assert f"Install the version {server_major} client tools (postgresql-client-{server_major})" in str(caught.value)
    store = open_tier_store("quick", config)
    assert store.list() == []


@pytest.mark.parametrize(
    ("binary", "message"),
    [
        ("/nonexistent/pg_dump", "pg_dump was not found ('/nonexistent/pg_dump'): install the PostgreSQL client tools"),
        ("FAKE", "pg_dump ('FAKE') did not report a PostgreSQL version"),
    ],
)
def test_a_missing_or_strange_pg_dump_is_refused(
    filled_postgres: str, tmp_path: Path, binary: str, message: str
) -> None:
    if binary == "FAKE":
        binary = _fake_tool(tmp_path, "pg_dump", "something else 3.0")
        message = message.replace("FAKE", binary)
    config = load_backup_config(postgres={"pg_dump": binary})
    with pytest.raises(GateRefused) as caught:
        create_backup(database_url=filled_postgres, config=config)
    assert str(caught.value).startswith(message)


def test_a_failing_pg_dump_is_refused_with_its_message(filled_postgres: str, tmp_path: Path) -> None:
    script = tmp_path / "pg_dump"
    script.write_text(
        '#!/bin/sh\nif [ "$1" = "--version" ]; then echo "pg_dump (PostgreSQL) 99.0"; exit 0; fi\n'
        'echo "pg_dump: error: out of disk" >&2\nexit 1\n'
    )
    script.chmod(0o755)
    config = load_backup_config(postgres={"pg_dump": str(script)})
    with pytest.raises(GateRefused, match=r"pg_dump of .* failed \(exit 1\): pg_dump: error: out of disk"):
        create_backup(database_url=filled_postgres, config=config)
    assert open_tier_store("quick", config).list() == []


def test_a_damaged_dump_fails_pg_restore_and_the_new_database_is_dropped(
    filled_postgres: str, config: BackupConfig, tmp_path: Path
) -> None:
    fetched = _fetch(filled_postgres, config, tmp_path)
    data = bytearray(fetched.dump_path.read_bytes())
    data[len(data) // 2 : len(data) // 2 + 64] = b"\xff" * 64
    fetched.dump_path.write_bytes(bytes(data))
    staged = staging_url(filled_postgres, NOW)
    # pg_restore exits 1 on most damage, and dies of a signal (exit -11) on some: refused either way
    with pytest.raises(
        GateRefused, match=r"pg_restore into .* failed \(exit -?[1-9]\d*\); the new database was dropped: "
    ):
        restore_into(fetched, staged, config=config)
    assert not database_exists(staged)


def test_pg_restore_older_than_the_dump_is_refused(filled_postgres: str, config: BackupConfig, tmp_path: Path) -> None:
    fetched = _fetch(filled_postgres, config, tmp_path)
    old = _fake_tool(tmp_path, "pg_restore", "pg_restore (PostgreSQL) 99.1")  # newer than the server: passes
    newer_dump = fetched.manifest.database.model_copy(update={"dump_tool": "pg_dump (PostgreSQL) 120.0"})
    newer = FetchedBackup(fetched.folder, fetched.manifest.model_copy(update={"database": newer_dump}), fetched.source)
    with pytest.raises(GateRefused, match="pg_restore 99 cannot read a dump made by pg_dump 120"):
        restore_into(newer, staging_url(filled_postgres, NOW), config=load_backup_config(postgres={"pg_restore": old}))
    assert not database_exists(staging_url(filled_postgres, NOW))


def test_a_restore_never_goes_over_an_existing_database(
    filled_postgres: str, config: BackupConfig, tmp_path: Path
) -> None:
    fetched = _fetch(filled_postgres, config, tmp_path)
    before = content_hashes(filled_postgres)
    with pytest.raises(GateRefused, match="already exists: a restore goes into a new database"):
        restore_into(fetched, filled_postgres, config=config)
    assert content_hashes(filled_postgres) == before


def test_a_flipped_byte_in_a_postgres_dump_is_refused(filled_postgres: str, config: BackupConfig) -> None:
    created = create_backup(database_url=filled_postgres, config=config, now=NOW)
    store = open_tier_store("quick", config)
    assert isinstance(store, LocalStore)
    dump = store.root / created.backup_id / "database.dump"
    data = bytearray(dump.read_bytes())
    data[-100] ^= 0x80
    dump.write_bytes(bytes(data))
    report = verify_backup(store, created.backup_id)
    assert report.problems == ["database.dump does not match its checksum: it changed or was damaged after the backup"]


def test_swap_refusals_on_postgres(filled_postgres: str, config: BackupConfig) -> None:
    with pytest.raises(GateRefused, match="no restored database .*__nothing to swap in"):
        swap_databases(sibling_url(filled_postgres, "nothing"), filled_postgres, keep_as="x_pre", tools=config.postgres)
    taken = sibling_url(filled_postgres, "taken")
    _execute_admin(filled_postgres, f'CREATE DATABASE "{make_url(taken).database}"')
    with pytest.raises(GateRefused, match="already exists: choose another name for the previous database"):
        swap_databases(taken, filled_postgres, keep_as=make_url(taken).database or "", tools=config.postgres)
    maintenance = make_url(filled_postgres).set(database="postgres").render_as_string(hide_password=False)
    with pytest.raises(GateRefused, match="the maintenance database postgres cannot be swapped"):
        swap_databases(taken, maintenance, keep_as="x_pre", tools=config.postgres)
    with pytest.raises(GateRefused, match="is not a database name rotaflow will create"):
        swap_databases(taken, filled_postgres, keep_as='bad"name', tools=config.postgres)
    drop_database(taken)
    assert not database_exists(taken)


def test_a_swap_into_a_new_live_name(filled_postgres: str, config: BackupConfig, tmp_path: Path) -> None:
    fetched = _fetch(filled_postgres, config, tmp_path)
    staged = sibling_url(filled_postgres, "incoming")
    restore_into(fetched, staged, config=config)
    fresh = sibling_url(filled_postgres, "fresh")
    swap = swap_in(staged, fresh, config=config, now=NOW)
    assert swap.previous_url is None and database_exists(fresh)
    assert verify_restored(fresh, fetched.manifest).ok


def _execute_admin(url: str, statement: str) -> None:
    admin = make_url(url).set(database="postgres").render_as_string(hide_password=False)
    engine = create_engine(admin, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with engine.connect() as conn:
        conn.execute(text(statement))
    engine.dispose()


def test_the_restore_test_uses_a_scratch_database_beside_the_live_one_and_drops_it(
    filled_postgres: str, config: BackupConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rotaflow.backups.tiers import restore_test
    from rotaflow.configs.settings import get_settings

    monkeypatch.setenv("ROTAFLOW_DATABASE_URL", filled_postgres)
    monkeypatch.setenv("ROTAFLOW_SECRET_KEY", "k3y-Fx9q-a8Lm-Zt27-Wp4r-Hs6n-Jd1v-Qc5e")
    get_settings.cache_clear()
    before = content_hashes(filled_postgres)
    around = related_databases(filled_postgres)
    created = create_backup(database_url=filled_postgres, config=config, now=NOW)
    report = restore_test("quick", created.backup_id, config=config, now=NOW)
    assert report.ok, report.problems
    assert report.tables_checked == len(created.manifest.tables)
    assert "scratch" in report.subject
    assert related_databases(filled_postgres) == around  # the scratch database is gone
    assert content_hashes(filled_postgres) == before

    _execute(filled_postgres, "DELETE FROM audit_log")  # the live database changes; the backup still restores
    again = restore_test("quick", created.backup_id, config=config, now=NOW + dt.timedelta(minutes=1))
    assert again.ok, again.problems
