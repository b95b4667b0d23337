"""configs/backup.yaml: the four tiers, where each lives, and how dumps are made and moved."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from rotaflow.configs.settings import CONFIG_DIR, Settings, get_settings
from rotaflow.errors import ConfigError
from rotaflow.storage import MB, LocalStore, S3Store, TransferSettings, open_store
from rotaflow.validations.safe_yaml import YamlLimitError, load_yaml

__all__ = [
    "BACKUP_FILE",
    "TIERS",
    "BackupConfig",
    "Tier",
    "load_backup_config",
    "open_tier_store",
    "tier_location",
    "work_dir",
]

BACKUP_FILE = CONFIG_DIR / "backup.yaml"

Tier = Literal["quick", "named", "immaculate", "sacred"]
TIERS: tuple[Tier, ...] = ("quick", "named", "immaculate", "sacred")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class QuickTier(_Section):
    """Tier 1: automatic dumps, kept by count and age."""

    location: str | None = None
    keep_last: int = Field(default=14, ge=1)
    max_age_days: float = Field(default=30, gt=0)
    stale_after_hours: float | None = Field(default=26, gt=0)


class NamedTier(_Section):
    """Tier 2: taken by an operator before a risky operation."""

    location: str | None = None
    stale_after_hours: float | None = Field(default=None, gt=0)


class ImmaculateTier(_Section):
    """Tier 3: verified baselines in an S3 bucket under Object Lock (COMPLIANCE)."""

    location: str | None = None
    object_lock_mode: Literal["COMPLIANCE"] = "COMPLIANCE"
    retention_days: int = Field(default=365, ge=1, le=36500)
    stale_after_hours: float | None = Field(default=2160, gt=0)


class SacredTier(_Section):
    """Tier 4: milestone tags pointing at existing backups."""

    location: str | None = None
    stale_after_hours: float | None = Field(default=None, gt=0)


class Tiers(_Section):
    quick: QuickTier = Field(default_factory=QuickTier)
    named: NamedTier = Field(default_factory=NamedTier)
    immaculate: ImmaculateTier = Field(default_factory=ImmaculateTier)
    sacred: SacredTier = Field(default_factory=SacredTier)


class PostgresTools(_Section):
    pg_dump: str = "pg_dump"
    pg_restore: str = "pg_restore"
    maintenance_database: str = "postgres"
    restore_jobs: int = Field(default=2, ge=1, le=64)


class S3Transfer(_Section):
    multipart_threshold_mb: float = Field(default=64, ge=5)
    chunk_mb: float = Field(default=64, ge=5)
    max_concurrency: int = Field(default=4, ge=1, le=64)

    def settings(self) -> TransferSettings:
        return TransferSettings(
            multipart_threshold=int(self.multipart_threshold_mb * MB),
            chunk_bytes=int(self.chunk_mb * MB),
            max_concurrency=self.max_concurrency,
        )


class DiskSettings(_Section):
    margin_mb: float = Field(default=512, ge=0)

    @property
    def margin_bytes(self) -> int:
        return int(self.margin_mb * MB)


RestorableTier = Literal["quick", "named", "immaculate"]
_RESTORE_TEST_TIERS: tuple[RestorableTier, ...] = ("immaculate", "quick")


class RestoreTest(_Section):
    """``verify_backups``' restore test: the newest backup of these tiers goes into a scratch database."""

    tiers: list[RestorableTier] = Field(default_factory=lambda: list(_RESTORE_TEST_TIERS))


class BackupConfig(_Section):
    """The whole of configs/backup.yaml."""

    work_dir: Path | None = None
    tiers: Tiers = Field(default_factory=Tiers)
    postgres: PostgresTools = Field(default_factory=PostgresTools)
    s3_transfer: S3Transfer = Field(default_factory=S3Transfer)
    disk: DiskSettings = Field(default_factory=DiskSettings)
    restore_test: RestoreTest = Field(default_factory=RestoreTest)

    def tier(self, name: Tier) -> QuickTier | NamedTier | ImmaculateTier | SacredTier:
        if name not in TIERS:
            raise ConfigError(f"unknown backup tier {name!r}: expected one of {', '.join(TIERS)}")
        section: QuickTier | NamedTier | ImmaculateTier | SacredTier = getattr(self.tiers, name)
        return section


def load_backup_config(path: Path | None = None, **overrides: Any) -> BackupConfig:
    """Read configs/backup.yaml (or ``path``); a missing file means the defaults."""
    path = path or BACKUP_FILE
    data: Any = {}
    if path.exists():
        try:
            data = load_yaml(path.name, path.read_text(encoding="utf-8")) or {}
        except YamlLimitError as exc:  # an alias bomb, stopped while composing
            problem = exc.problem
            raise ConfigError(f"{path.name}: not valid YAML ({problem.got}; expected {problem.expected})") from exc
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path.name}: not valid YAML ({exc.__class__.__name__})") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path.name}: expected a mapping of settings")
    data.update(overrides)
    try:
        return BackupConfig.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise ConfigError(f"{path.name}: {where}: {first['msg']}") from exc


def _join(base: str, *parts: str) -> str:
    if base.startswith("s3://"):
        return "/".join([base.rstrip("/"), *parts])
    return str(Path(base).joinpath(*parts))


def tier_location(tier: Tier, config: BackupConfig, settings: Settings | None = None) -> str:
    """Where a tier's backups live: its configured location, else ``<object store>/backups/<tier>``."""
    configured = config.tier(tier).location
    if configured:
        return configured
    settings = settings or get_settings()
    return _join(settings.resolved_object_store, "backups", tier)


def open_tier_store(tier: Tier, config: BackupConfig, settings: Settings | None = None) -> LocalStore | S3Store:
    """The store of one tier; the immaculate tier reads the first (locked) version of every key."""
    settings = settings or get_settings()
    return open_store(
        tier_location(tier, config, settings),
        settings=settings,
        transfer=config.s3_transfer.settings(),
        pin_first_version=tier == "immaculate",
    )


def work_dir(config: BackupConfig, settings: Settings | None = None) -> Path:
    """The folder for temporary dumps and downloads (created when missing)."""
    settings = settings or get_settings()
    path = config.work_dir or settings.var_dir / "tmp" / "backups"
    path.mkdir(parents=True, exist_ok=True)
    return path
