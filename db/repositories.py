"""Repositories: the only code that builds queries against rotaflow's tables."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import pandas as pd
from sqlalchemy import and_, func, insert, or_, select, tuple_, update
from sqlalchemy.orm import Session, selectinload

from rotaflow.db.models import (
    Absence,
    Assignment,
    AuditEntry,
    Block,
    BlockVersion,
    CoverageRequirement,
    Person,
    Program,
    ProgramVersion,
    Request,
    Rotation,
    RotationAssignment,
    ScheduleRun,
    ShiftType,
    SwapRequest,
    YearPlan,
    utcnow,
)

__all__ = [
    "DATASET_TABLES",
    "AuditRepository",
    "IngestResult",
    "ProgramRepository",
    "ScheduleRepository",
    "SwapRequestRepository",
    "TableSpec",
    "VersionRepository",
    "YearPlanRepository",
    "store_bundle_frames",
]


@dataclass(frozen=True)
class TableSpec:
    """How one bundle dataset maps onto a table: its model and natural key."""

    model: type[Any]
    key: tuple[str, ...]
    columns: tuple[str, ...]
    defaults: dict[str, Any] = field(default_factory=dict)


DATASET_TABLES: dict[str, TableSpec] = {
    "people": TableSpec(
        Person,
        ("person_id",),
        ("person_id", "name", "email", "role", "pgy", "fte", "skills"),
        {"fte": 1.0},
    ),
    "blocks": TableSpec(Block, ("block_id",), ("block_id", "start_date", "end_date")),
    "shifts": TableSpec(
        ShiftType,
        ("shift_id",),
        (
            "shift_id",
            "name",
            "start",
            "end",
            "transition_minutes",
            "kind",
            "in_house_call",
            "counts_as_work",
            "home_call_hours",
        ),
        {"transition_minutes": 0, "counts_as_work": True},
    ),
    "rotations": TableSpec(Rotation, ("rotation_id",), ("rotation_id", "name", "setting", "eligible_shifts")),
    "rotation_assignments": TableSpec(
        RotationAssignment, ("person_id", "block_id"), ("person_id", "block_id", "rotation_id")
    ),
    "coverage": TableSpec(
        CoverageRequirement,
        ("shift_id", "applies_on", "rotation_id", "role", "min_pgy", "skill"),
        ("shift_id", "applies_on", "rotation_id", "role", "min_pgy", "skill", "min", "max", "target"),
    ),
    "absences": TableSpec(
        Absence,
        ("person_id", "start_date", "end_date", "type"),
        ("person_id", "start_date", "end_date", "type", "blocking"),
        {"blocking": True},
    ),
    "requests": TableSpec(
        Request,
        ("person_id", "date", "shift_id"),
        ("person_id", "date", "shift_id", "kind", "weight"),
        {"weight": 1},
    ),
    "history": TableSpec(
        Assignment,
        ("person_id", "date", "shift_id"),
        ("person_id", "date", "shift_id", "start", "end", "hours", "rotation_id", "source"),
        {"source": "history"},
    ),
}


def _py(value: Any) -> Any:
    """A pandas cell as a plain Python value (NA → None, Timestamp → date)."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) and value != value:
        return None
    if isinstance(value, pd.Timestamp):
        return value.date()
    if hasattr(value, "item"):
        return value.item()
    return value


def frame_records(name: str, frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows of a bundle frame as table records, defaults applied."""
    spec = DATASET_TABLES[name]
    records = []
    for row in frame.to_dict(orient="records"):
        record = {c: _py(row.get(c)) for c in spec.columns}
        for column, default in spec.defaults.items():
            if record[column] is None:
                record[column] = default
        if name == "history":
            record["start"] = _instant(record["start"])
            record["end"] = _instant(record["end"])
        records.append(record)
    return records


def _instant(value: str | None) -> dt.datetime | None:
    """An ISO instant, stored in UTC (SQLite keeps no offset, so every instant is UTC)."""
    return None if value is None else dt.datetime.fromisoformat(value).astimezone(dt.UTC)


def _comparable(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:  # read back from SQLite: stored in UTC
            return value
        return value.astimezone(dt.UTC).replace(tzinfo=None)
    if isinstance(value, float):
        return round(value, 9)
    return value


def _key(spec: TableSpec, record: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(_comparable(record[c]) for c in spec.key)


def _values(spec: TableSpec, record: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(_comparable(record[c]) for c in spec.columns)


@dataclass
class IngestResult:
    """What storing a bundle changed."""

    program_key: str
    version: int
    created_version: bool
    inserted: dict[str, int] = field(default_factory=dict)
    deleted: dict[str, int] = field(default_factory=dict)
    unchanged: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    """Added files and columns the bundle carried, accepted and not read (file and column names only)."""

    @property
    def changed(self) -> bool:
        return self.created_version


class AuditRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def record(
        self,
        *,
        actor: str,
        action: str,
        entity: str,
        entity_key: str,
        program_id: int | None = None,
        version: int | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        self.session.add(
            AuditEntry(
                actor=actor,
                action=action,
                entity=entity,
                entity_key=entity_key[:300],
                program_id=program_id,
                version=version,
                details=details or {},
            )
        )

    def entries(self, program_id: int | None = None) -> Sequence[AuditEntry]:
        stmt = select(AuditEntry).order_by(AuditEntry.id)
        if program_id is not None:
            stmt = stmt.where(AuditEntry.program_id == program_id)
        return self.session.scalars(stmt).all()


class ProgramRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, key: str, *, for_update: bool = False) -> Program | None:
        stmt = select(Program).where(Program.key == key)
        if for_update:
            stmt = stmt.with_for_update()  # PostgreSQL: one writer per program at a time
        return self.session.scalars(stmt).one_or_none()

    def all(self) -> Sequence[Program]:
        return self.session.scalars(select(Program).order_by(Program.key)).all()

    def version(self, program_id: int, number: int) -> ProgramVersion | None:
        """The program's version ``number`` (its content hash, source and settings), if stored."""
        return self.session.scalars(
            select(ProgramVersion).where(ProgramVersion.program_id == program_id, ProgramVersion.version == number)
        ).one_or_none()

    def latest_source(self, program_id: int) -> str | None:
        """The bundle source the program's latest version was ingested from (None: no version yet)."""
        return self.session.scalars(
            select(ProgramVersion.source)
            .where(ProgramVersion.program_id == program_id)
            .order_by(ProgramVersion.version.desc())
            .limit(1)
        ).first()

    def live_rows(self, name: str, program_id: int) -> list[Any]:
        model = DATASET_TABLES[name].model
        stmt = select(model).where(model.program_id == program_id)
        if model is Assignment:  # the bundle's history: rows no schedule run produced
            stmt = stmt.where(Assignment.run_id.is_(None))
        return list(self.session.scalars(stmt))

    def count_live(self, name: str, program_id: int) -> int:
        model = DATASET_TABLES[name].model
        stmt = select(func.count()).select_from(model).where(model.program_id == program_id)
        stmt = stmt.where(model.deleted_at.is_(None))
        if model is Assignment:
            stmt = stmt.where(Assignment.run_id.is_(None))
        return int(self.session.scalar(stmt) or 0)

    def people_with_assignments(self, program_id: int) -> Sequence[Person]:
        """People of a program with their rotations and assignments, in three statements."""
        stmt = (
            select(Person)
            .where(Person.program_id == program_id)
            .options(selectinload(Person.rotation_assignments), selectinload(Person.assignments))
            .order_by(Person.person_id)
        )
        return self.session.scalars(stmt).all()

    def soft_delete(self, rows: Iterable[Any], *, by: str) -> None:
        now = utcnow()
        for row in rows:
            row.deleted_at = now
            row.deleted_by = by

    def soft_delete_where(self, model: type[Any], *conditions: Any, by: str) -> int:
        result = self.session.execute(
            update(model)
            .where(*conditions, model.deleted_at.is_(None))
            .values(deleted_at=utcnow(), deleted_by=by)
            .execution_options(synchronize_session=False)
        )
        return int(getattr(result, "rowcount", 0) or 0)


class PublishedIdentity(NamedTuple):
    """A live published assignment's cell and its calendar identity."""

    person_id: str
    date: dt.date
    shift_id: str
    uid: str | None
    sequence: int


class ScheduleRepository:
    """Schedule runs and the assignments they publish: the queries of publishing and withdrawing a block."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def program(self, key: str) -> Program:
        """The program ``key`` (``NoResultFound`` when it was never ingested)."""
        return self.session.scalars(select(Program).where(Program.key == key)).one()

    def find_program(self, key: str) -> Program | None:
        return self.session.scalars(select(Program).where(Program.key == key)).one_or_none()

    def lock_block(self, program_id: int, block_id: str, *, write_lock: bool = False) -> Block:
        """The block's row, locked for this transaction (``SELECT … FOR UPDATE`` on PostgreSQL). SQLite has no
        row locks: with ``write_lock`` it takes the database's write lock now, through a no-op write."""
        block = self.session.scalars(
            select(Block).where(Block.program_id == program_id, Block.block_id == block_id).with_for_update()
        ).one()
        if write_lock and self.session.get_bind().dialect.name == "sqlite":
            self.session.execute(update(Block).where(Block.id == block.id).values(version=Block.version))
        return block

    def block(self, program_id: int, block_id: str, *, lock: bool = False) -> Block | None:
        """The block's row (``SELECT … FOR UPDATE`` with ``lock``), or None when the database has no such block."""
        stmt = select(Block).where(Block.program_id == program_id, Block.block_id == block_id)
        return self.session.scalars(stmt.with_for_update() if lock else stmt).one_or_none()

    def blocks_ended_before(self, program_id: int, day: dt.date) -> tuple[str, ...]:
        """The ids of the program's blocks that ended before ``day``, in id order."""
        return tuple(
            self.session.scalars(
                select(Block.block_id)
                .where(Block.program_id == program_id, Block.end_date < day)
                .order_by(Block.block_id)
            )
        )

    def published_after(self, program_id: int, block_id: str, after: dt.datetime) -> ScheduleRun | None:
        """A run that published the block after ``after`` (another run finished first), if any."""
        return self.session.scalars(
            select(ScheduleRun).where(
                ScheduleRun.program_id == program_id,
                ScheduleRun.block_id == block_id,
                ScheduleRun.status == "published",
                ScheduleRun.finished_at > after,
            )
        ).first()

    def history_changed_after(
        self, program_id: int, first: dt.date, before: dt.date, after: dt.datetime
    ) -> BlockVersion | None:
        """A version of another block holding days from ``first`` up to the day before ``before`` (a block's
        history window) published after ``after``, if any."""
        return self.session.scalars(
            select(BlockVersion)
            .join(Block, (Block.program_id == BlockVersion.program_id) & (Block.block_id == BlockVersion.block_id))
            .where(
                BlockVersion.program_id == program_id,
                BlockVersion.created_at > after,
                Block.start_date < before,
                Block.end_date >= first,
            )
            .order_by(BlockVersion.created_at)
            .limit(1)
        ).first()

    def run(self, run_id: str) -> ScheduleRun | None:
        return self.session.get(ScheduleRun, run_id)

    def published_between(self, program_id: int, first: dt.date, last: dt.date) -> Sequence[Assignment]:
        """Live assignments some run published on the days ``first`` to ``last`` (inclusive)."""
        return self.session.scalars(
            select(Assignment).where(
                Assignment.program_id == program_id,
                Assignment.run_id.is_not(None),
                Assignment.date >= first,
                Assignment.date <= last,
            )
        ).all()

    def _published_in(self, program_id: int, first: dt.date, last: dt.date) -> tuple[Any, ...]:
        return (
            Assignment.program_id == program_id,
            Assignment.run_id.is_not(None),
            Assignment.date >= first,
            Assignment.date <= last,
            Assignment.deleted_at.is_(None),
        )

    def published_identities(self, program_id: int, first: dt.date, last: dt.date) -> list[PublishedIdentity]:
        """(person, date, shift, calendar UID, sequence) of the live published assignments of the days ``first``
        to ``last``: what a publish replaces, read without loading the rows."""
        rows = self.session.execute(
            select(Assignment.person_id, Assignment.date, Assignment.shift_id, Assignment.uid, Assignment.sequence)
            .where(*self._published_in(program_id, first, last))
            .execution_options(include_deleted=True)  # the condition says which rows are live
        ).all()
        return [PublishedIdentity(r.person_id, r.date, r.shift_id, r.uid, r.sequence) for r in rows]

    def retire_published(self, program_id: int, first: dt.date, last: dt.date, *, at: dt.datetime, by: str) -> int:
        """Soft-delete the live published assignments of the days ``first`` to ``last`` in one statement."""
        result = self.session.execute(
            update(Assignment)
            .where(*self._published_in(program_id, first, last))
            .values(deleted_at=at, deleted_by=by)
            .execution_options(synchronize_session="fetch")  # rows loaded in this session see it too
        )
        return int(getattr(result, "rowcount", 0) or 0)

    def add_assignments(self, rows: list[dict[str, Any]]) -> None:
        """Insert assignment rows (column values) in one executemany: a block's thousands of rows without
        building an object for each."""
        if rows:
            self.session.execute(insert(Assignment), rows)

    def published_history(self, program_id: int, since: dt.date, before: dt.date) -> list[tuple[str, dt.date, str]]:
        """(person, date, shift) of the live published assignments from ``since`` up to the day before ``before``."""
        rows = self.session.execute(
            select(Assignment.person_id, Assignment.date, Assignment.shift_id).where(
                Assignment.program_id == program_id,
                Assignment.run_id.is_not(None),
                Assignment.date >= since,
                Assignment.date < before,
            )
        ).all()
        return [(r.person_id, r.date, r.shift_id) for r in rows]

    def published_cells(self, program_id: int, first: dt.date, last: dt.date) -> list[tuple[str, dt.date, str]]:
        """(person, date, shift) of the live published assignments of the days ``first`` to ``last`` (inclusive)."""
        rows = self.session.execute(
            select(Assignment.person_id, Assignment.date, Assignment.shift_id).where(
                Assignment.program_id == program_id,
                Assignment.run_id.is_not(None),
                Assignment.date >= first,
                Assignment.date <= last,
            )
        ).all()
        return [(r.person_id, r.date, r.shift_id) for r in rows]

    def published_with_blocks(
        self, program_id: int, *, people: Collection[str] | None = None, since: dt.date | None = None
    ) -> list[tuple[Assignment, str]]:
        """The live published assignments, each with the block its run published, by person, start and shift, in
        one query. ``people``: only these people's (None: everyone's); ``since``: only those of blocks ending on
        or after that day (a run's block the database no longer has is kept)."""
        stmt = (
            select(Assignment, ScheduleRun.block_id)
            .join(ScheduleRun, ScheduleRun.id == Assignment.run_id)
            .where(Assignment.program_id == program_id, Assignment.run_id.is_not(None))
            .order_by(Assignment.person_id, Assignment.start, Assignment.shift_id)
        )
        if people is not None:
            stmt = stmt.where(Assignment.person_id.in_(sorted(people)))
        if since is not None:
            stmt = stmt.outerjoin(
                Block, and_(Block.program_id == program_id, Block.block_id == ScheduleRun.block_id)
            ).where(or_(Block.id.is_(None), Block.end_date >= since))
        return [(a, block_id) for a, block_id in self.session.execute(stmt).all()]

    def lock_published_cells(self, program_id: int, run_id: str, cells: Iterable[tuple[str, dt.date, str]]) -> None:
        """``SELECT … FOR UPDATE`` of the run's assignment rows of ``cells`` (person, date, shift), in id order
        (PostgreSQL; SQLite ignores it)."""
        keys = sorted(cells)
        if not keys:
            return
        self.session.scalars(
            select(Assignment.id)
            .where(
                Assignment.program_id == program_id,
                Assignment.run_id == run_id,
                tuple_(Assignment.person_id, Assignment.date, Assignment.shift_id).in_(keys),
            )
            .order_by(Assignment.id)
            .with_for_update()
        ).all()

    def live_of_run(self, run_id: str) -> Sequence[Assignment]:
        """The run's assignments that are still live."""
        return self.session.scalars(
            select(Assignment).where(Assignment.run_id == run_id, Assignment.deleted_at.is_(None))
        ).all()

    def replaced_by_run(self, program_id: int, run_id: str, first: dt.date, last: dt.date) -> Sequence[Assignment]:
        """Assignments of the days ``first`` to ``last`` that the publish of ``run_id`` soft-deleted, whoever ran it
        (``deleted_by`` ends in ``(run <id>)``)."""
        return self.session.scalars(
            select(Assignment)
            .where(
                Assignment.program_id == program_id,
                Assignment.deleted_by.endswith(f"(run {run_id})"),
                Assignment.date >= first,
                Assignment.date <= last,
            )
            .execution_options(include_deleted=True)  # soft-deleted rows are hidden unless asked for
        ).all()


class VersionRepository:
    """The numbered versions of a block's published schedule and the rows each one published."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def latest(self, program_id: int, block_id: str) -> BlockVersion | None:
        """The block's current version: the highest one still published."""
        return self.session.scalars(
            select(BlockVersion)
            .where(
                BlockVersion.program_id == program_id,
                BlockVersion.block_id == block_id,
                BlockVersion.status == "published",
            )
            .order_by(BlockVersion.version.desc())
            .limit(1)
        ).first()

    def all(self, program_id: int, block_id: str) -> Sequence[BlockVersion]:
        return self.session.scalars(
            select(BlockVersion)
            .where(BlockVersion.program_id == program_id, BlockVersion.block_id == block_id)
            .order_by(BlockVersion.version)
        ).all()

    def get(self, program_id: int, block_id: str, version: int) -> BlockVersion | None:
        return self.session.scalars(
            select(BlockVersion).where(
                BlockVersion.program_id == program_id,
                BlockVersion.block_id == block_id,
                BlockVersion.version == version,
            )
        ).one_or_none()

    def of_run(self, run_id: str) -> BlockVersion | None:
        return self.session.scalars(select(BlockVersion).where(BlockVersion.run_id == run_id)).one_or_none()

    def next_number(self, program_id: int, block_id: str) -> int:
        """The number the block's next version gets (numbers are never reused, withdrawn ones included)."""
        highest = self.session.scalar(
            select(func.max(BlockVersion.version)).where(
                BlockVersion.program_id == program_id, BlockVersion.block_id == block_id
            )
        )
        return int(highest or 0) + 1

    def uids_between(self, program_id: int, first: dt.date, last: dt.date) -> set[str]:
        """Every calendar UID a published row of the days ``first`` to ``last`` has had (replaced rows included)."""
        found = self.session.scalars(
            select(Assignment.uid)
            .where(
                Assignment.program_id == program_id,
                Assignment.run_id.is_not(None),
                Assignment.uid.is_not(None),
                Assignment.date >= first,
                Assignment.date <= last,
            )
            .distinct()
            .execution_options(include_deleted=True)
        ).all()
        return {uid for uid in found if uid}

    def rows(self, run_id: str) -> Sequence[Assignment]:
        """Every assignment the run published, also those a later version replaced (soft-deleted)."""
        return self.session.scalars(
            select(Assignment)
            .where(Assignment.run_id == run_id)
            .order_by(Assignment.person_id, Assignment.date, Assignment.shift_id)
            .execution_options(include_deleted=True)
        ).all()


class SwapRequestRepository:
    """Shift swap requests: reading a program's, and locking one for the transaction that changes it."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def lock(self, swap_id: int) -> SwapRequest | None:
        """The request, locked for this transaction (``SELECT … FOR UPDATE``; SQLite ignores it) and read again
        from the database even when the session holds it already; None when there is no such request."""
        return self.session.scalars(
            select(SwapRequest)
            .where(SwapRequest.id == swap_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        ).one_or_none()

    def in_states(self, program_id: int, states: Collection[str]) -> Sequence[SwapRequest]:
        """The program's requests in one of ``states``."""
        return self.session.scalars(
            select(SwapRequest).where(SwapRequest.program_id == program_id, SwapRequest.state.in_(states))
        ).all()

    def of_program(self, program_id: int, *, state: str | None = None) -> Sequence[SwapRequest]:
        """The program's requests, oldest first (only those in ``state`` when given)."""
        stmt = select(SwapRequest).where(SwapRequest.program_id == program_id).order_by(SwapRequest.id)
        if state is not None:
            stmt = stmt.where(SwapRequest.state == state)
        return self.session.scalars(stmt).all()


class YearPlanRepository:
    """The published plans of a program's academic year, numbered per program."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def next_number(self, program_id: int) -> int:
        """The number the program's next year plan gets."""
        return (
            self.session.scalar(select(func.max(YearPlan.number)).where(YearPlan.program_id == program_id)) or 0
        ) + 1

    def supersede(self, program_id: int) -> None:
        """Mark the program's published year plan ``superseded``."""
        self.session.execute(
            update(YearPlan)
            .where(YearPlan.program_id == program_id, YearPlan.status == "published")
            .values(status="superseded")
        )

    def current(self, program_key: str) -> YearPlan | None:
        """The program's current year plan (the highest ``published``), or None when none was published."""
        return self.session.scalars(
            select(YearPlan)
            .join(Program, Program.id == YearPlan.program_id)
            .where(Program.key == program_key, YearPlan.status == "published")
            .order_by(YearPlan.number.desc())
            .limit(1)
        ).first()


def store_bundle_frames(
    session: Session,
    *,
    key: str,
    name: str,
    timezone: str,
    settings: dict[str, Any],
    frames: dict[str, pd.DataFrame],
    content_hash: str,
    source: str,
    actor: str,
) -> IngestResult:
    """Write a checked bundle as the program's next version, or change nothing if equal.

    Rows are compared by their natural key: an unchanged row stays, a changed or dropped
    row is soft-deleted and, if changed, a new row is inserted. Each change is audited.
    """
    programs = ProgramRepository(session)
    audit = AuditRepository(session)
    program = programs.get(key, for_update=True)
    if program is None:
        program = Program(key=key, name=name, timezone=timezone, current_version=0)
        session.add(program)
        session.flush()
        audit.record(actor=actor, action="create", entity="programs", entity_key=key, program_id=program.id)
    next_version = program.current_version + 1
    by = f"{actor} (version {next_version})"
    result = IngestResult(program_key=key, version=program.current_version, created_version=False)
    plan: list[tuple[str, list[Any], list[dict[str, Any]]]] = []
    latest = _latest_version(session, program.id)
    # A bundle whose hash differs from the current version's is a new version even when every stored row and
    # setting is equal (its rows reordered, say): what runs under it (a swap) is checked against that hash.
    settings_changed = (
        program.name != name
        or program.timezone != timezone
        or latest is None
        or latest.settings != settings
        or latest.content_hash != content_hash
    )
    for dataset, spec in DATASET_TABLES.items():
        new_records = frame_records(dataset, frames[dataset])
        existing = {_key(spec, _row_dict(spec, row)): row for row in programs.live_rows(dataset, program.id)}
        incoming = {_key(spec, r): r for r in new_records}
        to_delete = [
            row
            for k, row in existing.items()
            if k not in incoming or _values(spec, _row_dict(spec, row)) != _values(spec, incoming[k])
        ]
        to_insert = [
            r
            for k, r in incoming.items()
            if k not in existing or _values(spec, _row_dict(spec, existing[k])) != _values(spec, r)
        ]
        result.unchanged[dataset] = len(existing) - len(to_delete)
        plan.append((dataset, to_delete, to_insert))
    if not settings_changed and all(not d and not i for _, d, i in plan):
        return result

    program.current_version = next_version
    program.name = name
    program.timezone = timezone
    session.add(
        ProgramVersion(
            program_id=program.id,
            version=next_version,
            content_hash=content_hash,
            source=source[:500],
            settings=settings,
        )
    )
    audit.record(
        actor=actor,
        action="new_version",
        entity="programs",
        entity_key=key,
        program_id=program.id,
        version=next_version,
        details={"content_hash": content_hash},
    )
    audit_rows: list[dict[str, Any]] = []
    for dataset, to_delete, to_insert in plan:
        spec = DATASET_TABLES[dataset]
        table = spec.model.__tablename__
        programs.soft_delete(to_delete, by=by)
        audit_rows += [
            _audit_row(actor, "soft_delete", table, _key(spec, _row_dict(spec, row)), program.id, next_version)
            for row in to_delete
        ]
        if to_insert:
            created = utcnow()
            session.execute(
                insert(spec.model),
                [{**r, "program_id": program.id, "version": next_version, "created_at": created} for r in to_insert],
            )
        audit_rows += [_audit_row(actor, "insert", table, _key(spec, r), program.id, next_version) for r in to_insert]
        result.inserted[dataset] = len(to_insert)
        result.deleted[dataset] = len(to_delete)
    session.flush()
    if audit_rows:
        session.execute(insert(AuditEntry), audit_rows)
    session.flush()
    result.version = next_version
    result.created_version = True
    return result


def _audit_row(
    actor: str, action: str, entity: str, key: tuple[Any, ...], program_id: int, version: int
) -> dict[str, Any]:
    return {
        "at": utcnow(),
        "actor": actor,
        "action": action,
        "entity": entity,
        "entity_key": "/".join(str(v) for v in key)[:300],
        "program_id": program_id,
        "version": version,
        "details": {},
    }


def _row_dict(spec: TableSpec, row: Any) -> dict[str, Any]:
    return {c: getattr(row, c) for c in spec.columns}


def _latest_version(session: Session, program_id: int) -> ProgramVersion | None:
    stmt = select(ProgramVersion).where(ProgramVersion.program_id == program_id).order_by(ProgramVersion.version.desc())
    return session.scalars(stmt.limit(1)).first()
