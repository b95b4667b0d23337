"""Tier rules on a local folder: pruning quick dumps, sacred tags, staleness, promotion refusals."""

from __future__ import annotations

import datetime as dt
import json
import shutil

import pytest

from rotaflow.backups.config import BackupConfig, load_backup_config, open_tier_store
from rotaflow.backups.manifest import CHECKSUM_FILE
from rotaflow.backups.sets import create_backup
from rotaflow.backups.tiers import (
    find_backup,
    list_sacred,
    promote_immaculate,
    prune_quick,
    tag_sacred,
    tier_configured,
    tier_status,
)
from rotaflow.configs.settings import Settings
from rotaflow.db.migrate import head_revision
from rotaflow.errors import GateRefused, StorageError
from rotaflow.storage import LocalStore

NOW = dt.datetime(2026, 11, 26, 10, 15, tzinfo=dt.UTC)


@pytest.fixture
def config() -> BackupConfig:
    return load_backup_config(tiers={"quick": {"keep_last": 3, "max_age_days": 10, "stale_after_hours": 26}})


def _local(tier: str, config: BackupConfig, settings: Settings) -> LocalStore:
    store = open_tier_store(tier, config, settings)  # type: ignore[arg-type]
    assert isinstance(store, LocalStore)
    return store


def _stamp(when: dt.datetime) -> str:
    return when.strftime("%Y%m%dT%H%M%SZ")


def _copies(store: LocalStore, source: str, ages: dict[str, dt.timedelta], *, complete: bool = True) -> dict[str, str]:
    """Cheap copies of one real set under ids of other times (pruning reads only the ids)."""
    made = {}
    for label, age in ages.items():
        backup_id = f"{_stamp(NOW - age)}-quick-{label}"
        shutil.copytree(store.root / source, store.root / backup_id)
        if not complete:
            (store.root / backup_id / CHECKSUM_FILE).unlink()
        made[label] = backup_id
    return made


def test_prune_quick_keeps_by_count_and_age(filled_sqlite: str, config: BackupConfig, settings: Settings) -> None:
    real = create_backup(database_url=filled_sqlite, config=config, now=NOW - dt.timedelta(days=60))
    named = create_backup("named", name="keep me", database_url=filled_sqlite, config=config, now=NOW)
    store = _local("quick", config, settings)
    day = dt.timedelta(days=1)
    ids = _copies(store, real.backup_id, {"aa0000": 0 * day, "aa0001": day, "aa0002": 2 * day, "aa0003": 3 * day})
    ids |= _copies(store, real.backup_id, {"aa0020": 20 * day, "aa0040": 40 * day})
    ids |= _copies(store, real.backup_id, {"bb0002": 2 * day, "bb0000": dt.timedelta(hours=1)}, complete=False)
    tag_sacred(ids["aa0020"], "release-1.0", config=config)
    # a named backup put in the quick folder by mistake is not the quick tier's to prune
    shutil.copytree(_local("named", config, settings).root / named.backup_id, store.root / named.backup_id)

    planned = prune_quick(config=config, now=NOW, dry_run=True)
    assert planned.removed == sorted([ids["aa0003"], ids["aa0040"], ids["bb0002"], real.backup_id])
    assert planned.protected == [ids["aa0020"]]
    assert planned.kept == sorted([ids["aa0000"], ids["aa0001"], ids["aa0002"], ids["bb0000"]])
    assert len(store.list()) > 0 and (store.root / ids["aa0040"]).exists()  # a dry run deletes nothing

    done = prune_quick(config=config, now=NOW)
    assert done == planned
    left = sorted(p.name for p in store.root.iterdir())
    assert left == sorted(planned.kept + planned.protected + [named.backup_id])
    assert _local("named", config, settings).list(named.backup_id)  # other tiers untouched


def test_prune_always_keeps_the_newest_backup(filled_sqlite: str, config: BackupConfig, settings: Settings) -> None:
    old = create_backup(database_url=filled_sqlite, config=config, now=NOW - dt.timedelta(days=90))
    older = create_backup(database_url=filled_sqlite, config=config, now=NOW - dt.timedelta(days=91))
    result = prune_quick(config=config, now=NOW)
    assert result.kept == [old.backup_id] and result.removed == [older.backup_id]


# --------------------------------------------------------------------------- sacred


def test_a_sacred_tag_points_at_a_backup_with_code_version_and_revision(
    filled_sqlite: str, config: BackupConfig, settings: Settings
) -> None:
    created = create_backup("named", name="v1", database_url=filled_sqlite, config=config, now=NOW)
    tag = tag_sacred(created.backup_id, "release-2027.1", note="first go-live", config=config, now=NOW)
    assert (tag.name, tag.backup_id, tag.tier) == ("release-2027.1", created.backup_id, "named")
    assert tag.location == _local("named", config, settings).url
    assert tag.alembic_revision == head_revision()
    assert tag.code_version.startswith("0.") and tag.backup_code_version == created.manifest.code_version
    assert tag.tagged_at == NOW.isoformat() and tag.note == "first go-live"
    stored = json.loads((_local("sacred", config, settings).root / "release-2027.1.json").read_text())
    assert stored["backup_id"] == created.backup_id and stored["alembic_revision"] == head_revision()
    assert list_sacred(config=config) == [tag]
    assert find_backup(created.backup_id, config=config, settings=settings)[0] == "named"


def test_a_sacred_tag_is_never_moved(filled_sqlite: str, config: BackupConfig) -> None:
    first = create_backup(database_url=filled_sqlite, config=config, now=NOW)
    second = create_backup(database_url=filled_sqlite, config=config, now=NOW + dt.timedelta(minutes=1))
    tag_sacred(first.backup_id, "milestone", config=config)
    with pytest.raises(GateRefused, match="sacred tag milestone already exists: a milestone is never moved"):
        tag_sacred(second.backup_id, "milestone", config=config)
    assert list_sacred(config=config)[0].backup_id == first.backup_id


@pytest.mark.parametrize("name", ["", "Upper", "../x", "a b", "x" * 65])
def test_a_sacred_tag_name_must_be_plain(filled_sqlite: str, config: BackupConfig, name: str) -> None:
    created = create_backup(database_url=filled_sqlite, config=config, now=NOW)
    with pytest.raises(GateRefused, match="must be lowercase letters, digits"):
        tag_sacred(created.backup_id, name, config=config)


def test_a_sacred_tag_needs_a_complete_backup(filled_sqlite: str, config: BackupConfig, settings: Settings) -> None:
    with pytest.raises(
        GateRefused, match="no complete backup 20261126T101500Z-quick-000000 in the quick, named, immaculate"
    ):
        tag_sacred("20261126T101500Z-quick-000000", "x", config=config)
    created = create_backup(database_url=filled_sqlite, config=config, now=NOW)
    _local("quick", config, settings).delete(f"{created.backup_id}/{CHECKSUM_FILE}")
    with pytest.raises(GateRefused, match="in the quick tier"):
        tag_sacred(created.backup_id, "x", tier="quick", config=config)


def test_an_unreadable_sacred_tag_is_a_storage_error(config: BackupConfig, settings: Settings) -> None:
    store = _local("sacred", config, settings)
    store.put_bytes("broken.json", b"{not json")
    store.put_bytes("sub/ignored.json", b"{}")
    store.put_bytes("README.txt", b"ignored")
    with pytest.raises(StorageError, match="sacred tag broken.json in .* is unreadable"):
        list_sacred(config=config)


# --------------------------------------------------------------------------- staleness


def test_tier_status_reports_the_newest_backup_and_staleness(
    filled_sqlite: str, config: BackupConfig, settings: Settings
) -> None:
    empty = tier_status("quick", config=config, now=NOW)
    assert (empty.newest, empty.age, empty.stale, empty.count) == (None, None, True, 0)
    create_backup(database_url=filled_sqlite, config=config, now=NOW - dt.timedelta(hours=40))
    newest = create_backup(database_url=filled_sqlite, config=config, now=NOW - dt.timedelta(hours=30))
    broken = create_backup(database_url=filled_sqlite, config=config, now=NOW)
    _local("quick", config, settings).delete(f"{broken.backup_id}/{CHECKSUM_FILE}")
    status = tier_status("quick", config=config, now=NOW)
    assert (status.newest, status.age, status.stale) == (newest.backup_id, dt.timedelta(hours=30), True)
    assert (status.count, status.incomplete) == (2, 1)
    assert not tier_status("quick", config=config, now=NOW - dt.timedelta(hours=20)).stale
    assert not tier_status("named", config=config, now=NOW).stale  # no threshold: never stale

    assert tier_status("sacred", config=config, now=NOW).newest is None
    tag_sacred(newest.backup_id, "m1", config=config, now=NOW - dt.timedelta(days=2))
    tag_sacred(newest.backup_id, "m2", config=config, now=NOW - dt.timedelta(days=1))
    sacred = tier_status("sacred", config=config, now=NOW)
    assert (sacred.newest, sacred.age, sacred.stale, sacred.count) == ("m2", dt.timedelta(days=1), False, 2)
    strict = load_backup_config(tiers={"sacred": {"stale_after_hours": 12}})
    assert tier_status("sacred", config=strict, now=NOW).stale


def test_an_immaculate_tier_without_s3_is_not_configured_and_never_stale(config: BackupConfig) -> None:
    status = tier_status("immaculate", config=config, now=NOW)
    assert (status.configured, status.stale, status.newest, status.count) == (False, False, None, 0)
    assert tier_configured("quick", config) and tier_configured("named", config) and tier_configured("sacred", config)
    assert not tier_configured("immaculate", load_backup_config(tiers={"immaculate": {"location": "/srv/baselines"}}))


def test_a_configured_empty_immaculate_tier_is_stale(s3_bucket: str) -> None:
    config = load_backup_config(tiers={"immaculate": {"location": f"s3://{s3_bucket}/baselines"}})
    assert tier_configured("immaculate", config)
    status = tier_status("immaculate", config=config, now=NOW)
    assert (status.configured, status.stale, status.newest, status.count) == (True, True, None, 0)


def test_weekly_verify_reports_an_unconfigured_tier_as_such(filled_sqlite: str, config: BackupConfig) -> None:
    from rotaflow.backups.health import stale_messages, verify_all

    create_backup(database_url=filled_sqlite, config=config)
    summary = verify_all(config)
    assert summary["stale"] == [] and summary["not_configured"] == ["immaculate"]
    assert summary["tiers"]["immaculate"] | {"age_hours": None} == {
        "count": 0,
        "incomplete": 0,
        "newest": None,
        "age_hours": None,
        "stale_after_hours": 2160,
        "stale": False,
        "configured": False,
        "damaged": [],
    }
    assert stale_messages(summary) == []
    immaculate = next(t for t in summary["restore_tests"] if t["tier"] == "immaculate")
    assert immaculate["skipped"] == "the tier is not configured" and immaculate["ok"]


# --------------------------------------------------------------------------- promotion refusals


def test_promotion_needs_an_s3_bucket_with_object_lock(filled_sqlite: str, config: BackupConfig) -> None:
    created = create_backup(database_url=filled_sqlite, config=config, now=NOW)
    with pytest.raises(GateRefused, match="the immaculate tier must be an S3 bucket with Object Lock; .* local folder"):
        promote_immaculate(created.backup_id, config=config, now=NOW)


def test_promotion_refuses_a_backup_that_does_not_verify(
    filled_sqlite: str, config: BackupConfig, settings: Settings
) -> None:
    created = create_backup(database_url=filled_sqlite, config=config, now=NOW)
    path = _local("quick", config, settings).root / created.backup_id / "row_counts.json"
    path.write_text("{}")
    with pytest.raises(GateRefused) as caught:
        promote_immaculate(created.backup_id, config=config, now=NOW)
    assert str(caught.value).startswith(f"promotion of {created.backup_id} refused:\n")
    assert "row_counts.json does not match its checksum" in str(caught.value)
