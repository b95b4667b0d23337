"""Immaculate baselines under S3 Object Lock, on SeaweedFS (which enforces it like real S3).

The server itself refuses to delete a locked version, to shorten its retention or to
change its mode; a write to the same key only adds a version above it, and rotaflow
keeps reading, checking and restoring the original locked version.
"""

from __future__ import annotations

import datetime as dt
import os
import uuid
from pathlib import Path

import pytest
from botocore.exceptions import ClientError
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from rotaflow.backups.config import BackupConfig, load_backup_config, open_tier_store
from rotaflow.backups.restore import restore_into, verify_restored
from rotaflow.backups.sets import create_backup, fetch_backup, list_backups, upload_set, write_descriptive_files
from rotaflow.backups.tiers import promote_immaculate
from rotaflow.backups.verify import verify_backup
from rotaflow.configs.settings import get_settings
from rotaflow.errors import GateRefused
from rotaflow.storage import S3Store
from tests.backups_fixtures import content_hashes, seaweed_client

pytestmark = pytest.mark.s3


@pytest.fixture
def config(locked_bucket: str) -> BackupConfig:
    return load_backup_config(
        tiers={"immaculate": {"location": f"s3://{locked_bucket}/baselines", "retention_days": 1}}
    )


def _immaculate(config: BackupConfig) -> S3Store:
    store = open_tier_store("immaculate", config)
    assert isinstance(store, S3Store) and store.pin_first_version
    return store


def _refused(call: object) -> str:
    with pytest.raises(ClientError) as caught:
        call()  # type: ignore[operator]
    return str(caught.value.response["Error"]["Code"])


def test_a_promoted_baseline_is_locked_and_the_server_refuses_to_change_it(
    filled_sqlite: str, config: BackupConfig, locked_bucket: str, seaweedfs: str, tmp_path: Path
) -> None:
    before = content_hashes(filled_sqlite)
    quick = create_backup(database_url=filled_sqlite, config=config)
    started = dt.datetime.now(dt.UTC)
    promoted = promote_immaculate(quick.backup_id, config=config)
    store = _immaculate(config)

    assert promoted.backup_id.startswith(started.strftime("%Y%m%d")) and "-immaculate-" in promoted.backup_id
    assert promoted.promoted_from == f"quick/{quick.backup_id}"
    assert promoted.location == f"s3://{locked_bucket}/baselines"
    assert dt.timedelta(hours=23) < promoted.retain_until - started < dt.timedelta(hours=25)
    assert promoted.manifest.tier == "immaculate" and promoted.manifest.tables == quick.manifest.tables
    assert any(n.startswith("locked in COMPLIANCE mode until") for n in promoted.notes)
    assert (
        "rotaflow restore emergency --source immaculate --backup-id " + promoted.backup_id
        in store.get_bytes(f"{promoted.backup_id}/MANIFEST.md").decode()
    )

    client = seaweed_client(seaweedfs)
    key = f"baselines/{promoted.backup_id}/database.sqlite3"
    head = client.head_object(Bucket=locked_bucket, Key=key)
    assert head["ObjectLockMode"] == "COMPLIANCE"
    version = head["VersionId"]
    original = client.get_object(Bucket=locked_bucket, Key=key)["Body"].read()
    for name in store.list(promoted.backup_id):
        assert store.retention(name).mode == "COMPLIANCE"  # type: ignore[union-attr]

    # the server refuses to delete the locked version, even with the governance bypass
    assert _refused(lambda: client.delete_object(Bucket=locked_bucket, Key=key, VersionId=version)) == "AccessDenied"
    assert (
        _refused(
            lambda: client.delete_object(
                Bucket=locked_bucket, Key=key, VersionId=version, BypassGovernanceRetention=True
            )
        )
        == "AccessDenied"
    )
    # ... to shorten its retention, or to loosen its mode
    sooner = {"Mode": "COMPLIANCE", "RetainUntilDate": started + dt.timedelta(minutes=1)}
    assert (
        _refused(
            lambda: client.put_object_retention(Bucket=locked_bucket, Key=key, VersionId=version, Retention=sooner)
        )
        == "AccessDenied"
    )
    looser = {"Mode": "GOVERNANCE", "RetainUntilDate": promoted.retain_until}
    assert (
        _refused(
            lambda: client.put_object_retention(Bucket=locked_bucket, Key=key, VersionId=version, Retention=looser)
        )
        == "AccessDenied"
    )
    # ... and to switch versioning off under it
    assert _refused(
        lambda: client.put_bucket_versioning(Bucket=locked_bucket, VersioningConfiguration={"Status": "Suspended"})
    ) in ("InvalidBucketState", "AccessDenied")

    # an overwrite does not replace the locked version: it only stacks a new one on top
    client.put_object(Bucket=locked_bucket, Key=key, Body=b"tampered")
    client.delete_object(Bucket=locked_bucket, Key=f"baselines/{promoted.backup_id}/manifest.json")  # a delete marker
    assert client.get_object(Bucket=locked_bucket, Key=key, VersionId=version)["Body"].read() == original
    assert client.head_object(Bucket=locked_bucket, Key=key, VersionId=version)["ObjectLockMode"] == "COMPLIANCE"

    # rotaflow reads the original locked versions: the baseline still verifies and restores
    report = verify_backup(_immaculate(config), promoted.backup_id)
    assert report.ok, report.problems
    assert (
        "database.sqlite3 was written to again after it was locked (2 versions); "
        "the original locked version is the one checked and restored"
    ) in report.notes
    fetched = fetch_backup(_immaculate(config), promoted.backup_id, tmp_path / "download")
    assert fetched.dump_path.read_bytes() == original
    target = f"sqlite:///{tmp_path / 'restored.db'}"
    restore_into(fetched, target, config=config)
    assert verify_restored(target, fetched.manifest).ok
    assert content_hashes(target) == before

    # the lock is checked against time: once it has run out, the baseline is refused
    later = verify_backup(_immaculate(config), promoted.backup_id, now=promoted.retain_until + dt.timedelta(seconds=1))
    assert "database.sqlite3: its Object Lock retention has expired" in later.problems

    # a new baseline is added beside the first, never over it
    again = promote_immaculate(quick.backup_id, config=config, name="second")
    listed = [b.backup_id for b in list_backups(_immaculate(config), read_manifests=False)]
    assert sorted(listed) == sorted([promoted.backup_id, again.backup_id])
    assert again.manifest.name == "second"


def test_an_unlocked_set_in_the_immaculate_bucket_is_refused(
    filled_sqlite: str, config: BackupConfig, tmp_path: Path
) -> None:
    quick = create_backup(database_url=filled_sqlite, config=config)
    fetched = fetch_backup(open_tier_store("quick", config), quick.backup_id, tmp_path / "dl")
    forged_id = quick.backup_id.replace("-quick-", "-immaculate-")
    forged = fetched.manifest.model_copy(update={"backup_id": forged_id, "tier": "immaculate"})
    write_descriptive_files(fetched.folder, forged)
    store = _immaculate(config)
    upload_set(store, forged_id, fetched.folder, forged)  # no lock
    report = verify_backup(_immaculate(config), forged_id)
    assert report.problems == [
        f"{name} is not under Object Lock in COMPLIANCE mode (no lock)"
        for name in sorted(["CHECKSUM.sha256", "MANIFEST.md", "database.sqlite3", "manifest.json", "row_counts.json"])
    ]
    with pytest.raises(GateRefused, match=f"{forged_id} is already an immaculate baseline"):
        promote_immaculate(forged_id, config=config)


def test_promotion_refuses_a_bucket_without_object_lock(filled_sqlite: str, locked_bucket: str, seaweedfs: str) -> None:
    plain = f"rotaflow-plain-{uuid.uuid4().hex[:8]}"
    seaweed_client(seaweedfs).create_bucket(Bucket=plain)
    config = load_backup_config(tiers={"immaculate": {"location": f"s3://{plain}/baselines"}})
    quick = create_backup(database_url=filled_sqlite, config=config)
    with pytest.raises(GateRefused, match=f"the bucket of s3://{plain}/baselines does not have Object Lock enabled"):
        promote_immaculate(quick.backup_id, config=config)
    assert seaweed_client(seaweedfs).list_objects_v2(Bucket=plain).get("Contents", []) == []


def test_promotion_refuses_a_backup_whose_restore_fails_its_checks(
    filled_sqlite: str, config: BackupConfig, locked_bucket: str, seaweedfs: str
) -> None:
    engine = create_engine(filled_sqlite, poolclass=NullPool)
    with engine.begin() as conn:
        conn.execute(text("UPDATE people SET fte = 3 WHERE person_id = 'R1'"))  # breaks the people contract
    engine.dispose()
    quick = create_backup(database_url=filled_sqlite, config=config)
    with pytest.raises(GateRefused) as caught:
        promote_immaculate(quick.backup_id, config=config)
    assert "promotion (scratch restore) of restored database" in str(caught.value)
    assert "people.csv, row 1, column fte: expected a number above 0 and at most 1, got '3.0'" in str(caught.value)
    assert seaweed_client(seaweedfs).list_objects_v2(Bucket=locked_bucket).get("Contents", []) == []
    assert [p for p in (get_settings().var_dir / "tmp" / "backups").iterdir()] == []  # scratch and download gone


@pytest.mark.postgres
def test_a_postgres_backup_is_promoted_through_a_scratch_database(
    filled_postgres: str, config: BackupConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ROTAFLOW_DATABASE_URL", filled_postgres)
    get_settings.cache_clear()
    quick = create_backup(config=config)
    promoted = promote_immaculate(quick.backup_id, config=config)
    assert promoted.manifest.database.dialect == "postgresql"
    assert verify_backup(_immaculate(config), promoted.backup_id).ok
    # the scratch database it was checked in is gone
    name = make_url(filled_postgres).database
    engine = create_engine(os.environ["ROTAFLOW_TEST_POSTGRES_URL"], poolclass=NullPool)
    with engine.connect() as conn:
        left = conn.execute(text("SELECT datname FROM pg_database WHERE datname LIKE :p"), {"p": f"{name}__%"}).all()
    engine.dispose()
    assert left == []
