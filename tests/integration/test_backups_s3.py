"""Backup sets on a real S3 endpoint (moto's server): streamed, multipart, verified, restored."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest

from rotaflow.backups.config import BackupConfig, load_backup_config, open_tier_store
from rotaflow.backups.restore import restore_into, verify_restored
from rotaflow.backups.sets import create_backup, fetch_backup, list_backups
from rotaflow.backups.tiers import prune_quick
from rotaflow.backups.verify import verify_backup
from rotaflow.errors import StorageError
from rotaflow.storage import MB, S3Store, TransferSettings, s3_client
from tests.backups_fixtures import content_hashes

pytestmark = pytest.mark.s3

NOW = dt.datetime(2026, 11, 26, 10, 15, tzinfo=dt.UTC)


@pytest.fixture
def client(s3_server: str) -> object:
    return s3_client(endpoint_url=s3_server, access_key_id="testing", secret_access_key="testing")


@pytest.fixture
def config(s3_bucket: str) -> BackupConfig:
    """Every tier in the moto bucket; files above 5 MB go in 5 MB parts."""
    return load_backup_config(
        tiers={t: {"location": f"s3://{s3_bucket}/backups/{t}"} for t in ("quick", "named", "sacred")},
        s3_transfer={"multipart_threshold_mb": 5, "chunk_mb": 5, "max_concurrency": 2},
    )


def test_s3_round_trip_with_multipart_files(
    filled_sqlite: str, config: BackupConfig, s3_bucket: str, client: object, tmp_path: Path
) -> None:
    large = tmp_path / "report.bin"
    large.write_bytes(os.urandom(12 * MB + 123))  # three parts of 5 MB
    before = content_hashes(filled_sqlite)
    created = create_backup(database_url=filled_sqlite, config=config, now=NOW, extras={"report.bin": large})
    assert created.location == f"s3://{s3_bucket}/backups/quick"

    head = client.head_object(Bucket=s3_bucket, Key=f"backups/quick/{created.backup_id}/extras/report.bin")  # type: ignore[attr-defined]
    assert head["ContentLength"] == large.stat().st_size
    assert head["ETag"].strip('"').endswith("-3")  # uploaded in three parts
    small = client.head_object(Bucket=s3_bucket, Key=f"backups/quick/{created.backup_id}/manifest.json")  # type: ignore[attr-defined]
    assert "-" not in small["ETag"]

    store = open_tier_store("quick", config)
    assert isinstance(store, S3Store) and store.transfer.multipart_threshold == 5 * MB
    report = verify_backup(store, created.backup_id)
    assert report.ok, report.problems
    assert report.bytes_checked > 12 * MB
    [listed] = list_backups(store)
    assert listed.backup_id == created.backup_id and listed.complete and listed.manifest == created.manifest

    fetched = fetch_backup(store, created.backup_id, tmp_path / "download")
    assert (fetched.folder / "extras" / "report.bin").read_bytes() == large.read_bytes()
    target = f"sqlite:///{tmp_path / 'restored.db'}"
    restore_into(fetched, target, config=config)
    assert verify_restored(target, fetched.manifest).ok
    assert content_hashes(target) == before


def test_damage_on_s3_is_refused(filled_sqlite: str, config: BackupConfig, s3_bucket: str, client: object) -> None:
    created = create_backup(database_url=filled_sqlite, config=config, now=NOW)
    prefix = f"backups/quick/{created.backup_id}"
    body = client.get_object(Bucket=s3_bucket, Key=f"{prefix}/database.sqlite3")["Body"].read()  # type: ignore[attr-defined]
    flipped = bytearray(body)
    flipped[4096] ^= 0x04
    client.put_object(Bucket=s3_bucket, Key=f"{prefix}/database.sqlite3", Body=bytes(flipped))  # type: ignore[attr-defined]
    client.delete_object(Bucket=s3_bucket, Key=f"{prefix}/row_counts.json")  # type: ignore[attr-defined]
    report = verify_backup(open_tier_store("quick", config), created.backup_id)
    assert report.problems == [
        "row_counts.json is listed in CHECKSUM.sha256 but missing from the backup",
        "row_counts.json is listed in manifest.json but missing from the backup",
        "database.sqlite3 does not match its checksum: it changed or was damaged after the backup",
    ]


def test_prune_quick_on_s3(filled_sqlite: str, config: BackupConfig, s3_bucket: str, client: object) -> None:
    ids = [
        create_backup(database_url=filled_sqlite, config=config, now=NOW - dt.timedelta(days=d)).backup_id
        for d in (0, 40, 50)
    ]
    named = create_backup("named", name="x", database_url=filled_sqlite, config=config, now=NOW)
    result = prune_quick(config=config, now=NOW)
    assert result.kept == [ids[0]] and result.removed == sorted(ids[1:])
    keys = [o["Key"] for o in client.list_objects_v2(Bucket=s3_bucket)["Contents"]]  # type: ignore[attr-defined]
    assert {k.split("/")[2] for k in keys if k.startswith("backups/quick/")} == {ids[0]}
    assert any(named.backup_id in k for k in keys)


def test_s3_store_file_operations(s3_bucket: str, client: object, tmp_path: Path) -> None:
    store = S3Store(s3_bucket, "files", client, TransferSettings(5 * MB, 5 * MB, 1))
    source = tmp_path / "f.bin"
    source.write_bytes(os.urandom(6 * MB))  # multipart without threads
    store.put_file("a/f.bin", source)
    assert store.size("a/f.bin") == 6 * MB
    assert b"".join(store.iter_chunks("a/f.bin", 1 * MB)) == source.read_bytes()
    store.get_file("a/f.bin", tmp_path / "back.bin")
    assert (tmp_path / "back.bin").read_bytes() == source.read_bytes()
    retention = store.retention("a/f.bin")
    assert retention is not None and (retention.mode, retention.retain_until) == (None, None)
    [version] = store.versions("a/f.bin")
    assert version.is_latest and not version.delete_marker
    assert not store.object_lock_enabled()

    for call, message in [
        (lambda: store.size("missing"), "no object 'missing' in "),
        (lambda: store.get_file("missing", tmp_path / "m"), "could not read 'missing' from .*: 404"),
        (lambda: list(store.iter_chunks("missing")), "could not read 'missing' from .*: NoSuchKey"),
        (lambda: store.put_file("x", tmp_path / "absent"), "could not write 'x' to .*: No such file"),
    ]:
        with pytest.raises(StorageError, match=message):
            call()
    assert not (tmp_path / "m").exists()

    store.put_bytes("a/g", b"1")
    store.delete("a/g")
    assert store.list() == ["a/f.bin"]
    assert store.delete_prefix("a") == 1 and store.list() == []


def test_s3_errors_name_the_bucket_not_the_credentials(s3_server: str, tmp_path: Path) -> None:
    client = s3_client(endpoint_url=s3_server, access_key_id="AKIAHIDDEN", secret_access_key="very-secret")
    store = S3Store("no-such-bucket-here", "p", client)
    (tmp_path / "f").write_bytes(b"x")
    calls = [
        lambda: store.put_file("k", tmp_path / "f"),
        lambda: store.delete("k"),
        lambda: store.versions("k"),
        lambda: store.object_lock_enabled(),
        lambda: store.size("k"),
    ]
    for call in calls:
        with pytest.raises(StorageError) as caught:
            call()
        assert "no-such-bucket-here" in str(caught.value)
        assert "AKIAHIDDEN" not in str(caught.value) and "very-secret" not in str(caught.value)
