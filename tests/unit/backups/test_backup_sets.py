"""Backup sets on SQLite and a local folder: create, list, verify, fetch, and every damage refused."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from types import SimpleNamespace

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from rotaflow.backups.config import BackupConfig, load_backup_config, open_tier_store
from rotaflow.backups.manifest import CHECKSUM_FILE, Manifest, render_checksums, render_manifest_md, sha256_file
from rotaflow.backups.sets import create_backup, fetch_backup, list_backups, read_manifest
from rotaflow.backups.verify import alembic_problems, verify_backup
from rotaflow.configs.settings import Settings
from rotaflow.db.migrate import head_revision
from rotaflow.errors import GateRefused, StorageError
from rotaflow.storage import LocalStore
from tests.backups_fixtures import content_hashes
from tests.conftest import TINY

NOW = dt.datetime(2026, 11, 26, 10, 15, tzinfo=dt.UTC)


@pytest.fixture
def config() -> BackupConfig:
    return load_backup_config()


def _store(config: BackupConfig, settings: Settings, tier: str = "quick") -> LocalStore:
    store = open_tier_store(tier, config, settings)  # type: ignore[arg-type]
    assert isinstance(store, LocalStore)
    return store


def _backup(url: str, config: BackupConfig, **kwargs: object) -> tuple[LocalStore, str]:
    created = create_backup("quick", database_url=url, config=config, now=NOW, **kwargs)  # type: ignore[arg-type]
    store = open_tier_store("quick", config)
    assert isinstance(store, LocalStore)
    return store, created.backup_id


# --------------------------------------------------------------------------- create


def test_a_backup_is_a_self_describing_set(filled_sqlite: str, config: BackupConfig, settings: Settings) -> None:
    created = create_backup(
        "quick",
        database_url=filled_sqlite,
        config=config,
        now=NOW,
        extras={"bundle": TINY, "note.txt": TINY / "people.csv"},
    )
    store = _store(config, settings)
    assert created.location == store.url and created.tier == "quick"
    assert created.backup_id.startswith("20261126T101500Z-quick-")
    folder = store.root / created.backup_id
    names = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    bundle = sorted(f"extras/bundle/{p.name}" for p in TINY.iterdir())
    assert names == sorted(
        ["CHECKSUM.sha256", "MANIFEST.md", "database.sqlite3", "manifest.json", "row_counts.json", "extras/note.txt"]
        + bundle
    )

    manifest = Manifest.model_validate_json((folder / "manifest.json").read_text())
    assert manifest == created.manifest
    assert manifest.alembic_revision == head_revision()
    assert manifest.database.dialect == "sqlite" and manifest.database.dump_file == "database.sqlite3"
    assert manifest.restore_command == f"rotaflow restore emergency --source quick --backup-id {created.backup_id}"
    expected = {t: n for t, (n, _) in content_hashes(filled_sqlite).items()}
    assert manifest.row_counts == expected
    assert json.loads((folder / "row_counts.json").read_text()) == expected
    assert expected["people"] == 4 and expected["alembic_version"] == 1
    assert (folder / "MANIFEST.md").read_text() == render_manifest_md(manifest)
    assert (folder / "extras" / "note.txt").read_bytes() == (TINY / "people.csv").read_bytes()

    # CHECKSUM.sha256 covers every other file, in sha256sum format
    lines = (folder / CHECKSUM_FILE).read_text().splitlines()
    assert sorted(line.split("  ", 1)[1] for line in lines) == sorted(n for n in names if n != CHECKSUM_FILE)
    for line in lines:
        digest, name = line.split("  ", 1)
        assert sha256_file(folder / name) == digest

    # nothing left behind in the work folder
    assert [p for p in (settings.var_dir / "tmp" / "backups").iterdir()] == []


def test_a_named_backup_needs_a_name_and_carries_it(filled_sqlite: str, config: BackupConfig) -> None:
    with pytest.raises(GateRefused, match="a named backup needs a name"):
        create_backup("named", database_url=filled_sqlite, config=config)
    created = create_backup("named", name="Before rota swap", database_url=filled_sqlite, config=config, now=NOW)
    assert created.backup_id.startswith("20261126T101500Z-named-before-rota-swap-")
    assert created.manifest.name == "Before rota swap"
    assert created.manifest.tier == "named"


@pytest.mark.parametrize("tier", ["immaculate", "sacred", "daily"])
def test_only_quick_and_named_backups_are_taken(filled_sqlite: str, config: BackupConfig, tier: str) -> None:
    with pytest.raises(GateRefused, match="a backup is taken into the quick or named tier"):
        create_backup(tier, database_url=filled_sqlite, config=config)  # type: ignore[arg-type]


def test_bad_extras_are_refused(filled_sqlite: str, config: BackupConfig, tmp_path: Path) -> None:
    with pytest.raises(GateRefused, match="extra file name '../x' must be"):
        create_backup(database_url=filled_sqlite, config=config, extras={"../x": TINY})
    with pytest.raises(GateRefused, match="extra file 'gone' does not exist"):
        create_backup(database_url=filled_sqlite, config=config, extras={"gone": tmp_path / "gone"})


def test_a_missing_database_is_refused(config: BackupConfig, tmp_path: Path) -> None:
    with pytest.raises(GateRefused, match="no SQLite database at"):
        create_backup(database_url=f"sqlite:///{tmp_path / 'none.db'}", config=config)


def test_a_full_disk_refuses_the_backup_before_writing(
    filled_sqlite: str, config: BackupConfig, settings: Settings
) -> None:
    with pytest.raises(GateRefused) as caught:
        create_backup(database_url=filled_sqlite, config=config, disk_usage=lambda p: SimpleNamespace(free=1024))
    assert str(caught.value).startswith("backup refused, not enough free space: ")
    assert list_backups(_store(config, settings)) == []


def test_a_failed_upload_leaves_no_set(
    filled_sqlite: str, config: BackupConfig, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = _store(config, settings)
    real = LocalStore.put_file
    calls: list[str] = []

    def failing(self: LocalStore, key: str, path: Path, **kwargs: object) -> None:
        calls.append(key)
        if key.endswith("MANIFEST.md"):
            raise StorageError("the endpoint went away")
        real(self, key, path, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(LocalStore, "put_file", failing)
    with pytest.raises(StorageError, match="the endpoint went away"):
        create_backup(database_url=filled_sqlite, config=config, store=store)
    assert len(calls) == 4  # dump, row counts, manifest.json, then MANIFEST.md failed
    assert store.list() == []


# --------------------------------------------------------------------------- list and read


def test_list_backups_oldest_first_and_flags_incomplete_sets(
    filled_sqlite: str, config: BackupConfig, settings: Settings
) -> None:
    first = create_backup(database_url=filled_sqlite, config=config, now=NOW)
    second = create_backup(database_url=filled_sqlite, config=config, now=NOW + dt.timedelta(hours=1))
    store = _store(config, settings)
    store.delete(f"{second.backup_id}/{CHECKSUM_FILE}")  # as if interrupted before the last file
    store.put_bytes("notes/readme.txt", b"not a backup")
    listing = list_backups(store)
    assert [(b.backup_id, b.complete, b.tier) for b in listing] == [
        (first.backup_id, True, "quick"),
        (second.backup_id, False, "quick"),
    ]
    assert listing[0].manifest == first.manifest and listing[0].taken_at == NOW
    assert list_backups(store, read_manifests=False)[0].manifest is None
    store.put_bytes(f"{first.backup_id}/manifest.json", b"{}")
    assert list_backups(store)[0].manifest is None
    with pytest.raises(StorageError, match="is not a rotaflow backup manifest"):
        read_manifest(store, first.backup_id)


# --------------------------------------------------------------------------- verify


def test_an_intact_backup_verifies(filled_sqlite: str, config: BackupConfig) -> None:
    store, backup_id = _backup(filled_sqlite, config)
    report = verify_backup(store, backup_id)
    assert report.ok, report.problems
    assert report.files_checked == 4 and report.notes == []  # every file but the checksum file itself
    folder = store.root / backup_id
    assert report.bytes_checked == sum(p.stat().st_size for p in folder.iterdir() if p.name != CHECKSUM_FILE)
    assert report.summary().endswith(f"verified (4 files, {report.bytes_checked} bytes)")
    report.raise_for_problems()  # no problem, no error


def _refused(store: LocalStore, backup_id: str) -> list[str]:
    report = verify_backup(store, backup_id)
    assert not report.ok
    with pytest.raises(GateRefused) as caught:
        report.raise_for_problems("restore")
    assert str(caught.value).startswith(f"restore of {backup_id} refused:\n  - ")
    return report.problems


def test_a_flipped_byte_in_the_dump_is_refused(filled_sqlite: str, config: BackupConfig, tmp_path: Path) -> None:
    store, backup_id = _backup(filled_sqlite, config)
    dump = store.root / backup_id / "database.sqlite3"
    data = bytearray(dump.read_bytes())
    data[len(data) // 2] ^= 0x01
    dump.write_bytes(bytes(data))
    assert _refused(store, backup_id) == [
        "database.sqlite3 does not match its checksum: it changed or was damaged after the backup"
    ]
    with pytest.raises(GateRefused, match="the downloaded copy of .* does not verify: database.sqlite3 does not match"):
        fetch_backup(store, backup_id, tmp_path / "download")


def test_a_missing_file_is_refused(filled_sqlite: str, config: BackupConfig, tmp_path: Path) -> None:
    store, backup_id = _backup(filled_sqlite, config)
    store.delete(f"{backup_id}/row_counts.json")
    assert _refused(store, backup_id) == [
        "row_counts.json is listed in CHECKSUM.sha256 but missing from the backup",
        "row_counts.json is listed in manifest.json but missing from the backup",
    ]
    with pytest.raises(StorageError, match="no object"):
        fetch_backup(store, backup_id, tmp_path / "download")


def test_a_missing_checksum_file_means_an_incomplete_backup(filled_sqlite: str, config: BackupConfig) -> None:
    store, backup_id = _backup(filled_sqlite, config)
    store.delete(f"{backup_id}/{CHECKSUM_FILE}")
    assert _refused(store, backup_id) == [
        "CHECKSUM.sha256 is missing: the backup is incomplete (interrupted) or damaged"
    ]


def test_a_manifest_edited_after_checksumming_is_refused(filled_sqlite: str, config: BackupConfig) -> None:
    store, backup_id = _backup(filled_sqlite, config)
    path = store.root / backup_id / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest["tables"]["people"]["rows"] = 3  # someone "fixes" a count by hand
    path.write_text(json.dumps(manifest, indent=2) + "\n")
    assert _refused(store, backup_id) == [
        "MANIFEST.md does not match manifest.json",
        "row_counts.json does not match the row counts in manifest.json",
        "manifest.json does not match its checksum: it changed or was damaged after the backup",
    ]


def test_a_manifest_edited_with_its_checksum_recomputed_is_still_caught(
    filled_sqlite: str, config: BackupConfig
) -> None:
    store, backup_id = _backup(filled_sqlite, config)
    folder = store.root / backup_id
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["alembic_revision"] = "0000"
    (folder / "manifest.json").write_text(json.dumps(manifest))
    sums = dict(line.split("  ")[::-1] for line in (folder / CHECKSUM_FILE).read_text().splitlines())
    sums["manifest.json"] = sha256_file(folder / "manifest.json")
    (folder / CHECKSUM_FILE).write_text(render_checksums(sums.items()))
    problems = _refused(store, backup_id)
    assert "MANIFEST.md does not match manifest.json" in problems
    assert any("Alembic revision 0000, which this code does not know" in p for p in problems)


def test_an_unlisted_file_and_a_wrong_size_are_refused(filled_sqlite: str, config: BackupConfig) -> None:
    store, backup_id = _backup(filled_sqlite, config)
    store.put_bytes(f"{backup_id}/smuggled.sql", b"DROP TABLE people;")
    folder = store.root / backup_id
    manifest = Manifest.model_validate_json((folder / "manifest.json").read_text())
    entry = manifest.files[1]
    wrong = manifest.model_copy(
        update={"files": [manifest.files[0], entry.model_copy(update={"bytes": entry.bytes + 1, "sha256": "0" * 64})]}
    )
    (folder / "manifest.json").write_text(wrong.to_json())
    problems = _refused(store, backup_id)
    assert problems[:4] == [
        "smuggled.sql is in the backup but not covered by CHECKSUM.sha256",
        "smuggled.sql is in the backup but not listed in manifest.json",
        "row_counts.json: manifest.json and CHECKSUM.sha256 record different digests",
        f"row_counts.json is {entry.bytes} bytes, manifest.json says {entry.bytes + 1}",
    ]


def test_a_manifest_that_is_not_one_is_refused(filled_sqlite: str, config: BackupConfig) -> None:
    store, backup_id = _backup(filled_sqlite, config)
    (store.root / backup_id / "manifest.json").write_text('{"backup_id": 3}')
    problems = _refused(store, backup_id)
    assert problems[0].startswith("manifest.json is not a valid rotaflow manifest (backup_id: ")
    store.delete(f"{backup_id}/manifest.json")
    assert "manifest.json is missing" in _refused(store, backup_id)


def test_a_manifest_of_another_backup_and_a_broken_checksum_line_are_refused(
    filled_sqlite: str, config: BackupConfig
) -> None:
    store, backup_id = _backup(filled_sqlite, config)
    folder = store.root / backup_id
    manifest = Manifest.model_validate_json((folder / "manifest.json").read_text())
    (folder / "manifest.json").write_text(manifest.model_copy(update={"backup_id": "other"}).to_json())
    with (folder / CHECKSUM_FILE).open("a") as handle:
        handle.write("garbage\n")
    problems = _refused(store, backup_id)
    assert "CHECKSUM.sha256 line 5 is not '<sha256>  <file>'" in problems
    assert f"manifest.json describes backup other, not {backup_id}" in problems


def test_an_alembic_revision_newer_than_the_code_is_refused(filled_sqlite: str, config: BackupConfig) -> None:
    engine = create_engine(filled_sqlite, poolclass=NullPool)
    with engine.begin() as conn:  # as if a newer rotaflow had migrated this database
        conn.execute(text("UPDATE alembic_version SET version_num = '0099_from_the_future'"))
    engine.dispose()
    store, backup_id = _backup(filled_sqlite, config)
    assert _refused(store, backup_id) == [
        f"the backup is at Alembic revision 0099_from_the_future, which this code does not know (its head is "
        f"{head_revision()}): it was made by a newer rotaflow; restore it with that version"
    ]


def test_alembic_compatibility_rules() -> None:
    assert alembic_problems(head_revision()) == ([], [])
    assert alembic_problems(None) == (["the backup records no Alembic revision: it is not a rotaflow database"], [])


def test_an_older_revision_is_accepted_with_a_note(monkeypatch: pytest.MonkeyPatch) -> None:
    from alembic.script import ScriptDirectory

    monkeypatch.setattr(ScriptDirectory, "get_current_head", lambda self: "0002_later")
    problems, notes = alembic_problems("0001")
    assert problems == []
    assert notes == ["the backup is at revision 0001, older than the code's 0002_later: upgrade after restoring"]


def test_verifying_a_backup_that_is_not_there(config: BackupConfig, settings: Settings) -> None:
    report = verify_backup(_store(config, settings), "20261126T101500Z-quick-000000")
    assert report.problems == [f"no backup 20261126T101500Z-quick-000000 in {_store(config, settings).url}"]


def test_a_local_folder_cannot_pass_as_a_locked_baseline(filled_sqlite: str, config: BackupConfig) -> None:
    store, backup_id = _backup(filled_sqlite, config)
    report = verify_backup(store, backup_id, require_lock=True)
    assert report.problems == [f"an immaculate baseline must be held under S3 Object Lock; {store.url} cannot hold one"]


# --------------------------------------------------------------------------- fetch


def test_fetch_copies_and_checks_the_set(filled_sqlite: str, config: BackupConfig, tmp_path: Path) -> None:
    store, backup_id = _backup(filled_sqlite, config, extras={"bundle": TINY})
    (tmp_path / "download" / backup_id).mkdir(parents=True)
    (tmp_path / "download" / backup_id / "stale").write_text("from an earlier attempt")
    fetched = fetch_backup(store, backup_id, tmp_path / "download")
    assert fetched.folder == tmp_path / "download" / backup_id
    assert fetched.dump_path.read_bytes() == (store.root / backup_id / "database.sqlite3").read_bytes()
    assert not (fetched.folder / "stale").exists()
    assert fetched.manifest.backup_id == backup_id and fetched.source == store.url


def test_fetch_refuses_when_the_download_folder_is_full(
    filled_sqlite: str, config: BackupConfig, tmp_path: Path
) -> None:
    store, backup_id = _backup(filled_sqlite, config)
    with pytest.raises(GateRefused, match=f"download of {backup_id} refused, not enough free space"):
        fetch_backup(store, backup_id, tmp_path / "dl", disk_usage=lambda p: SimpleNamespace(free=10))
    assert not (tmp_path / "dl").exists()
