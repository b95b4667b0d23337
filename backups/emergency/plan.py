"""The plan of an emergency restore: which backup, from where, into which live database, under which names.

``plan_restore`` finds the backup (a sacred tag resolved to the backup it names) and names
everything the run will create; ``open_journal`` starts the run's journal with those names.
Nothing is changed yet.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from rotaflow.backups.config import BackupConfig, Tier, load_backup_config, open_tier_store, work_dir
from rotaflow.backups.databases import database_at, dialect_of, sibling_url, stamp
from rotaflow.backups.journal import RestoreJournal, journal_folder
from rotaflow.backups.tiers import list_sacred
from rotaflow.configs.settings import Settings, get_settings, mask_url
from rotaflow.errors import GateRefused, StorageError
from rotaflow.storage import BlobStore

__all__ = [
    "SOURCES",
    "Found",
    "Plan",
    "Source",
    "find_source",
    "name_of",
    "now_utc",
    "open_journal",
    "plan_restore",
    "refuse_storage",
]

Source = Literal["quick", "named", "immaculate", "sacred"]
SOURCES: tuple[Source, ...] = ("quick", "named", "immaculate", "sacred")


def now_utc() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def refuse_storage(what: str, exc: StorageError) -> GateRefused:
    return GateRefused(f"{what}: {exc}; nothing was changed")


@dataclass(frozen=True)
class Plan:
    """One emergency restore: which backup, from where, into which live database, and its names.

    Plain values only: the tasks of the flow pass it around and its rollback hooks read it.
    """

    run_id: str
    source: Source
    tier: Tier
    backup_id: str
    location: str
    live_url: str
    journal_folder: str
    started_at: str
    tag: str | None = None
    config_path: str | None = None
    keep_previous: bool = False

    @property
    def now(self) -> dt.datetime:
        return dt.datetime.fromisoformat(self.started_at)

    @property
    def stamp(self) -> str:
        return stamp(self.now)

    @property
    def staging_url(self) -> str:
        return sibling_url(self.live_url, f"restore_{self.stamp}")

    @property
    def previous_url(self) -> str:
        return sibling_url(self.live_url, f"pre_{self.stamp}")

    @property
    def failed_url(self) -> str:
        return sibling_url(self.live_url, f"failed_{self.stamp}")

    @property
    def rollback_url(self) -> str:
        return sibling_url(self.live_url, f"rollback_{self.stamp}")

    def config(self) -> BackupConfig:
        return load_backup_config(Path(self.config_path) if self.config_path else None)

    def store(self, config: BackupConfig | None = None) -> BlobStore:
        return open_tier_store(self.tier, config or self.config(), get_settings())

    def journal(self) -> RestoreJournal:
        journal = RestoreJournal.current(Path(self.journal_folder))
        if journal is None or journal.data.get("run_id") != self.run_id:
            raise GateRefused(f"the journal of restore run {self.run_id} is missing from {self.journal_folder}")
        return journal

    def describe_source(self) -> str:
        where = f"{self.tier} tier ({self.location})"
        return (
            f"sacred tag {self.tag} → {self.backup_id} in the {where}"
            if self.tag
            else f"{self.backup_id} in the {where}"
        )


def name_of(url: str) -> str:
    """A database's own name: the file name (SQLite) or the database name (PostgreSQL)."""
    return database_at(url).name


@dataclass(frozen=True)
class Found:
    """Where a requested backup lives (a sacred tag resolved to the backup it names)."""

    tier: Tier
    backup_id: str
    location: str
    tag: str | None = None
    tag_revision: str | None = None


def find_source(
    source: str, backup_id: str, *, config: BackupConfig, settings: Settings | None = None
) -> tuple[Found, BlobStore]:
    """The backup ``backup_id`` in the ``source`` tier (for ``sacred``: a tag name, or the id a tag names)."""
    settings = settings or get_settings()
    if source not in SOURCES:
        raise GateRefused(f"unknown restore source {source!r}: expected one of {', '.join(SOURCES)}")
    backup_id = backup_id.strip()
    if not backup_id:
        raise GateRefused("name the backup to restore (its id, or a sacred tag)")
    tag_name: str | None = None
    tag_revision: str | None = None
    tier: Tier
    try:
        if source == "sacred":
            tags = [t for t in list_sacred(config=config, settings=settings) if backup_id in (t.name, t.backup_id)]
            if not tags:
                raise GateRefused(f"no sacred tag named {backup_id!r} or pointing at it")
            tag = tags[0]
            if tag.tier not in ("quick", "named", "immaculate"):
                raise GateRefused(f"sacred tag {tag.name} points at an unknown tier {tag.tier!r}")
            tier, backup_id, tag_name, tag_revision = tag.tier, tag.backup_id, tag.name, tag.alembic_revision  # type: ignore[assignment]
        else:
            tier = source
        store = open_tier_store(tier, config, settings)
        if not store.list(backup_id):
            raise GateRefused(f"no backup {backup_id} in the {tier} tier ({store.url})")
    except StorageError as exc:
        raise refuse_storage(f"the {source} tier could not be read", exc) from exc
    return Found(tier, backup_id, store.url, tag_name, tag_revision), store


def plan_restore(
    source: str,
    backup_id: str,
    *,
    config_path: str | None = None,
    keep_previous: bool = False,
    settings: Settings | None = None,
    now: dt.datetime | None = None,
) -> Plan:
    """Find the backup and name everything the run will create; nothing is changed yet."""
    settings = settings or get_settings()
    config = load_backup_config(Path(config_path) if config_path else None)
    found, _ = find_source(source, backup_id, config=config, settings=settings)
    live = settings.resolved_database_url
    dialect_of(live)
    folder = journal_folder(work_dir(config, settings), live)
    return Plan(
        run_id=uuid.uuid4().hex,
        source=source,  # type: ignore[arg-type]
        tier=found.tier,
        backup_id=found.backup_id,
        location=found.location,
        live_url=live,
        journal_folder=str(folder),
        started_at=(now or now_utc()).astimezone(dt.UTC).isoformat(),
        tag=found.tag,
        config_path=config_path,
        keep_previous=keep_previous,
    )


def open_journal(plan: Plan, **facts: Any) -> RestoreJournal:
    """Start the run's journal: the plan and the names it will use."""
    return RestoreJournal.start(
        Path(plan.journal_folder),
        run_id=plan.run_id,
        source=plan.source,
        tier=plan.tier,
        backup_id=plan.backup_id,
        tag=plan.tag,
        location=plan.location,
        live=mask_url(plan.live_url),
        plan_time=plan.started_at,
        keep_previous=plan.keep_previous,
        names={
            "staging": name_of(plan.staging_url),
            "previous": name_of(plan.previous_url),
            "failed": name_of(plan.failed_url),
            "rollback": name_of(plan.rollback_url),
        },
        **facts,
    )
