"""configs/backup.yaml: the tiers, where they live, and the refusals of a bad file."""

from __future__ import annotations

from pathlib import Path

import pytest

from rotaflow.backups.config import (
    BACKUP_FILE,
    BackupConfig,
    load_backup_config,
    open_tier_store,
    tier_location,
    work_dir,
)
from rotaflow.configs.settings import Settings, get_settings
from rotaflow.errors import ConfigError
from rotaflow.storage import MB, LocalStore, S3Store


def test_the_shipped_file_declares_the_four_tiers() -> None:
    config = load_backup_config()
    assert BACKUP_FILE.name == "backup.yaml" and BACKUP_FILE.exists()
    quick = config.tiers.quick
    assert (quick.keep_last, quick.max_age_days, quick.stale_after_hours) == (14, 30, 26)
    assert config.tiers.named.stale_after_hours is None
    immaculate = config.tiers.immaculate
    assert (immaculate.object_lock_mode, immaculate.retention_days) == ("COMPLIANCE", 365)
    assert config.tiers.sacred.location is None
    assert config.postgres.pg_dump == "pg_dump" and config.postgres.maintenance_database == "postgres"
    transfer = config.s3_transfer.settings()
    assert (transfer.multipart_threshold, transfer.chunk_bytes, transfer.max_concurrency) == (64 * MB, 64 * MB, 4)
    assert config.disk.margin_bytes == 512 * MB


def test_a_missing_file_means_the_defaults(tmp_path: Path) -> None:
    assert load_backup_config(tmp_path / "none.yaml") == BackupConfig()


def test_overrides_win_over_the_file() -> None:
    config = load_backup_config(work_dir="/elsewhere")
    assert config.work_dir == Path("/elsewhere")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("tiers: [", "backup.yaml: not valid YAML"),
        ("- a list", "backup.yaml: expected a mapping of settings"),
        ("tiers:\n  quick:\n    keep_last: 0\n", "backup.yaml: tiers.quick.keep_last: Input should be greater than"),
        ("tiers:\n  immaculate:\n    object_lock_mode: GOVERNANCE\n", "tiers.immaculate.object_lock_mode"),
        ("tiers:\n  quick:\n    keep: 3\n", "tiers.quick.keep: Extra inputs are not permitted"),
    ],
)
def test_a_bad_file_stops_with_the_place_of_the_mistake(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "backup.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_backup_config(path)
    assert message in str(caught.value)


def test_tiers_default_under_the_local_object_store(settings: Settings) -> None:
    config = BackupConfig()
    root = Path(settings.resolved_object_store)
    for tier in ("quick", "named", "immaculate", "sacred"):
        assert tier_location(tier, config, settings) == str(root / "backups" / tier)  # type: ignore[arg-type]
    store = open_tier_store("quick", config, settings)
    assert isinstance(store, LocalStore) and store.root == root / "backups" / "quick"


def test_tiers_default_under_an_s3_object_store(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROTAFLOW_OBJECT_STORE", "s3://bucket/rotaflow/")
    get_settings.cache_clear()
    settings = get_settings()
    config = load_backup_config()
    assert tier_location("named", config, settings) == "s3://bucket/rotaflow/backups/named"
    quick = open_tier_store("quick", config, settings)
    immaculate = open_tier_store("immaculate", config, settings)
    assert isinstance(quick, S3Store) and isinstance(immaculate, S3Store)
    assert (quick.bucket, quick.prefix, quick.pin_first_version) == ("bucket", "rotaflow/backups/quick", False)
    assert immaculate.pin_first_version  # baselines are read from their first, locked version
    assert quick.transfer == config.s3_transfer.settings()


def test_a_configured_location_is_used_as_it_is(settings: Settings) -> None:
    config = load_backup_config(tiers={"immaculate": {"location": "s3://locked/baselines"}})
    assert tier_location("immaculate", config, settings) == "s3://locked/baselines"


def test_an_unknown_tier_is_refused() -> None:
    with pytest.raises(ConfigError, match="unknown backup tier 'daily'"):
        BackupConfig().tier("daily")  # type: ignore[arg-type]


def test_the_work_folder_defaults_under_var_and_is_created(settings: Settings, tmp_path: Path) -> None:
    path = work_dir(BackupConfig(), settings)
    assert path == settings.var_dir / "tmp" / "backups" and path.is_dir()
    chosen = work_dir(BackupConfig(work_dir=tmp_path / "w"), settings)
    assert chosen == tmp_path / "w" and chosen.is_dir()
