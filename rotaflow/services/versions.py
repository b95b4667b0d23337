"""Versions of a block's published schedule: reading them, listing them and comparing two.

Every publish of a block is a numbered version (``rotaflow.db.models.BlockVersion``) that says what
made it (``generate``, ``repair``, ``swap`` or ``manual``), who and why. Nothing here writes: publishing
is ``rotaflow.services.generate.publish_run``'s.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from rotaflow.constraints.instance import Instance
from rotaflow.db.models import Assignment, BlockVersion
from rotaflow.db.repositories import ScheduleRepository, VersionRepository
from rotaflow.db.session import Engine, UnitOfWork
from rotaflow.errors import InputError, Problem

__all__ = [
    "REASONS",
    "BlockVersions",
    "PublishedVersion",
    "Row",
    "StoredRow",
    "VersionInfo",
    "base_of",
    "block_versions",
    "next_version",
    "published_version",
    "start_from",
    "version_pair",
]

REASONS = ("generate", "repair", "swap", "manual")
"""What may make a new version of a block."""

Row = tuple[str, dt.date, str]
"""One assignment: (person_id, date, shift_id)."""


@dataclass(frozen=True)
class StoredRow:
    """What a version keeps of one assignment beyond its cell: where it came from, its calendar identity."""

    source: str
    uid: str | None
    sequence: int


@dataclass(frozen=True)
class VersionInfo:
    """One version of a block, as ``rotaflow history`` lists it (no personal data: ids and counts)."""

    block_id: str
    version: int
    status: str
    reason: str
    actor: str
    created_at: dt.datetime
    run_id: str
    based_on: int | None
    program_version: int
    added: int
    removed: int
    reference: str | None
    note: str | None

    @classmethod
    def of(cls, row: BlockVersion) -> VersionInfo:
        created = row.created_at if row.created_at.tzinfo else row.created_at.replace(tzinfo=dt.UTC)
        return cls(
            block_id=row.block_id,
            version=row.version,
            status=row.status,
            reason=row.reason,
            actor=row.actor,
            created_at=created,
            run_id=row.run_id,
            based_on=row.based_on,
            program_version=row.program_version,
            added=row.added,
            removed=row.removed,
            reference=row.reference,
            note=row.note,
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "block_id": self.block_id,
            "version": self.version,
            "status": self.status,
            "reason": self.reason,
            "actor": self.actor,
            "created_at": self.created_at.isoformat(),
            "run_id": self.run_id,
            "based_on": self.based_on,
            "program_version": self.program_version,
            "added": self.added,
            "removed": self.removed,
            "reference": self.reference,
            "note": self.note,
        }


@dataclass(frozen=True)
class PublishedVersion:
    """One version's schedule: its number, its run and its rows."""

    number: int
    run_id: str
    status: str
    rows: dict[Row, StoredRow] = field(default_factory=dict)
    retired: frozenset[str] = frozenset()
    """Every calendar UID the block's published rows have had (a fresh UID never repeats one)."""

    @property
    def cells(self) -> set[Row]:
        return set(self.rows)

    def identities(self, program_key: str) -> dict[Row, tuple[str, int]]:
        """Each row's calendar identity (UID, SEQUENCE); a row stored before identities were kept has the UID
        its calendar was given then."""
        from rotaflow.services.calendars import default_uid

        return {
            row: (stored.uid or default_uid(program_key, row), stored.sequence) for row, stored in self.rows.items()
        }


@dataclass(frozen=True)
class BlockVersions:
    """A block's versions, oldest first; ``program`` is the program's key."""

    program: str
    block_id: str
    versions: list[VersionInfo]

    @property
    def current(self) -> VersionInfo | None:
        published = [v for v in self.versions if v.status == "published"]
        return published[-1] if published else None


def _rows(assignments: list[Assignment]) -> dict[Row, StoredRow]:
    return {(a.person_id, a.date, a.shift_id): StoredRow(a.source, a.uid, a.sequence) for a in assignments}


def published_version(engine: Engine, program_key: str, block_id: str) -> PublishedVersion | None:
    """The block's current version with its rows, or None when nothing of it is published."""
    with UnitOfWork(engine) as uow:
        program = ScheduleRepository(uow.s).find_program(program_key)
        if program is None:
            return None
        versions = VersionRepository(uow.s)
        latest = versions.latest(program.id, block_id)
        if latest is None:
            return None
        rows = _rows(list(versions.rows(latest.run_id)))
        first, last = min((r[1] for r in rows), default=None), max((r[1] for r in rows), default=None)
        used = versions.uids_between(program.id, first, last) if first and last else set()
        return PublishedVersion(latest.version, latest.run_id, latest.status, rows, frozenset(used))


def next_version(engine: Engine, program_key: str, block_id: str) -> int:
    """The number the block's next version will get (1 for a block never published)."""
    with UnitOfWork(engine) as uow:
        program = ScheduleRepository(uow.s).find_program(program_key)
        return 1 if program is None else VersionRepository(uow.s).next_number(program.id, block_id)


def block_versions(engine: Engine, program_key: str, block_id: str) -> BlockVersions:
    """Every version of the block, oldest first (empty when the program or the block has none)."""
    with UnitOfWork(engine) as uow:
        program = ScheduleRepository(uow.s).find_program(program_key)
        if program is None:
            return BlockVersions(program_key, block_id, [])
        rows = VersionRepository(uow.s).all(program.id, block_id)
        return BlockVersions(program_key, block_id, [VersionInfo.of(r) for r in rows])


def version_pair(
    engine: Engine, program_key: str, block_id: str, first: int | None = None, second: int | None = None
) -> tuple[PublishedVersion, PublishedVersion]:
    """Two versions of the block to compare: by default the last two published; ``InputError`` (exit 2)
    naming the option when a version does not exist or the block has fewer than two."""
    with UnitOfWork(engine) as uow:
        program = ScheduleRepository(uow.s).find_program(program_key)
        versions = VersionRepository(uow.s)
        known = [] if program is None else list(versions.all(program.id, block_id))
        numbers = [v.version for v in known]
        published = [v.version for v in known if v.status == "published"]
        listed = ", ".join(map(str, numbers)) or "none"
        if second is None:
            second = published[-1] if published else None
        if first is None and second is not None:
            earlier = [n for n in published if n < second]
            first = earlier[-1] if earlier else None
        problems = []
        for option, number in (("--from-version", first), ("--to-version", second)):
            if number is None:
                got = f"block {block_id} has {len(published)} published version(s)"
                problems.append(Problem("command line", None, option, "a block with two published versions", got))
            elif number not in numbers:
                got = f"{number} (the block's versions: {listed})"
                problems.append(Problem("command line", None, option, "a version of the block", got))
        if problems:
            raise InputError(problems)
        by_number = {v.version: v for v in known}
        pair = []
        for number in (first, second):
            row = by_number[int(number)]  # type: ignore[arg-type]
            pair.append(PublishedVersion(row.version, row.run_id, row.status, _rows(list(versions.rows(row.run_id)))))
        return pair[0], pair[1]


def start_from(instance: Instance, base: PublishedVersion | None, next_number: int) -> None:
    """Note on ``instance`` the published version a new schedule of its block starts from (its calendar
    identities, its hand-made rows) and the number the new version will get."""
    instance.meta["next_version"] = next_number
    if base is None:
        return
    instance.meta["published_version"] = base
    instance.meta["previous_sources"] = {
        (person, (date - instance.start).days, shift): stored.source
        for (person, date, shift), stored in base.rows.items()
    }


def base_of(instance: Instance) -> PublishedVersion | None:
    """The published version ``instance`` starts from (``start_from``), if any."""
    base = instance.meta.get("published_version")
    return base if isinstance(base, PublishedVersion) else None
