"""SQLAlchemy 2 typed models of rotaflow's data.

Program data rows belong to a program, name the version that introduced them and are
soft-deleted (``deleted_at``/``deleted_by``) when a later version replaces or drops
them; ordinary queries never see deleted rows (see ``rotaflow.db.session``). Rows refer to each
other by the program's own stable ids (``person_id``, ``block_id`` …), so a replaced
row keeps its links.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    and_,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, foreign, mapped_column, relationship

__all__ = [
    "Absence",
    "Assignment",
    "AuditEntry",
    "Base",
    "Block",
    "BlockVersion",
    "CoverageRequirement",
    "Person",
    "Program",
    "ProgramVersion",
    "Request",
    "Rotation",
    "RotationAssignment",
    "ScheduleRun",
    "ShiftType",
    "SoftDeleteMixin",
    "SwapRequest",
    "YearPlan",
    "YearPlanRow",
    "utcnow",
]

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {
        dt.datetime: DateTime(timezone=True),
        dict[str, Any]: JSON,
    }


class SoftDeleteMixin:
    """A row is never deleted, only marked; default queries exclude marked rows."""

    deleted_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    deleted_by: Mapped[str | None] = mapped_column(String(120), default=None)


class _ProgramData(SoftDeleteMixin):
    """Columns every program data row carries."""

    id: Mapped[int] = mapped_column(primary_key=True)
    program_id: Mapped[int] = mapped_column(ForeignKey("programs.id"), index=True)
    version: Mapped[int] = mapped_column(Integer, comment="program version that introduced the row")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


def _live_unique(table: str, *columns: str) -> Index:
    """Unique among live rows only (soft-deleted rows may repeat a key)."""
    from sqlalchemy import text

    cond = text("deleted_at IS NULL")
    return Index(
        f"uq_{table}_live",
        "program_id",
        *columns,
        unique=True,
        sqlite_where=cond,
        postgresql_where=cond,
    )


class Program(Base):
    __tablename__ = "programs"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64))
    current_version: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    versions: Mapped[list[ProgramVersion]] = relationship(back_populates="program", order_by="ProgramVersion.version")


class ProgramVersion(Base):
    __tablename__ = "program_versions"
    __table_args__ = (UniqueConstraint("program_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    program_id: Mapped[int] = mapped_column(ForeignKey("programs.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    content_hash: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(500))
    settings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    program: Mapped[Program] = relationship(back_populates="versions")


class Person(_ProgramData, Base):
    __tablename__ = "people"
    __table_args__ = (_live_unique("people", "person_id"),)

    person_id: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(320))
    role: Mapped[str] = mapped_column(String(16))
    pgy: Mapped[int | None] = mapped_column(Integer)
    fte: Mapped[float] = mapped_column(Float, default=1.0)
    skills: Mapped[str | None] = mapped_column(String(500))

    rotation_assignments: Mapped[list[RotationAssignment]] = relationship(
        primaryjoin=lambda: and_(
            Person.program_id == foreign(RotationAssignment.program_id),
            Person.person_id == foreign(RotationAssignment.person_id),
            RotationAssignment.deleted_at.is_(None),
        ),
        viewonly=True,
        order_by=lambda: RotationAssignment.block_id,
    )
    assignments: Mapped[list[Assignment]] = relationship(
        primaryjoin=lambda: and_(
            Person.program_id == foreign(Assignment.program_id),
            Person.person_id == foreign(Assignment.person_id),
            Assignment.deleted_at.is_(None),
        ),
        viewonly=True,
        order_by=lambda: (Assignment.date, Assignment.shift_id),
    )


class Block(_ProgramData, Base):
    __tablename__ = "blocks"
    __table_args__ = (_live_unique("blocks", "block_id"),)

    block_id: Mapped[str] = mapped_column(String(64))
    start_date: Mapped[dt.date] = mapped_column(Date)
    end_date: Mapped[dt.date] = mapped_column(Date)


class ShiftType(_ProgramData, Base):
    __tablename__ = "shift_types"
    __table_args__ = (_live_unique("shift_types", "shift_id"),)

    shift_id: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    start: Mapped[str] = mapped_column(String(5))
    end: Mapped[str] = mapped_column(String(5))
    transition_minutes: Mapped[int] = mapped_column(Integer, default=0)
    kind: Mapped[str] = mapped_column(String(16))
    in_house_call: Mapped[bool] = mapped_column(Boolean, default=False)
    counts_as_work: Mapped[bool] = mapped_column(Boolean, default=True)
    home_call_hours: Mapped[float | None] = mapped_column(Float)


class Rotation(_ProgramData, Base):
    __tablename__ = "rotations"
    __table_args__ = (_live_unique("rotations", "rotation_id"),)

    rotation_id: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    setting: Mapped[str] = mapped_column(String(16))
    eligible_shifts: Mapped[str | None] = mapped_column(Text)


class RotationAssignment(_ProgramData, Base):
    __tablename__ = "rotation_assignments"
    __table_args__ = (_live_unique("rotation_assignments", "person_id", "block_id"),)

    person_id: Mapped[str] = mapped_column(String(64))
    block_id: Mapped[str] = mapped_column(String(64))
    rotation_id: Mapped[str] = mapped_column(String(64))


class CoverageRequirement(_ProgramData, Base):
    __tablename__ = "coverage_requirements"

    shift_id: Mapped[str] = mapped_column(String(64))
    applies_on: Mapped[str] = mapped_column(String(64))
    rotation_id: Mapped[str | None] = mapped_column(String(64))
    role: Mapped[str | None] = mapped_column(String(16))
    min_pgy: Mapped[int | None] = mapped_column(Integer)
    skill: Mapped[str | None] = mapped_column(String(64))
    min: Mapped[int] = mapped_column(Integer)
    max: Mapped[int | None] = mapped_column(Integer)
    target: Mapped[int | None] = mapped_column(Integer)


class Absence(_ProgramData, Base):
    __tablename__ = "absences"

    person_id: Mapped[str] = mapped_column(String(64), index=True)
    start_date: Mapped[dt.date] = mapped_column(Date)
    end_date: Mapped[dt.date] = mapped_column(Date)
    type: Mapped[str] = mapped_column(String(16))
    blocking: Mapped[bool] = mapped_column(Boolean, default=True)


class Request(_ProgramData, Base):
    __tablename__ = "requests"

    person_id: Mapped[str] = mapped_column(String(64), index=True)
    date: Mapped[dt.date] = mapped_column(Date)
    shift_id: Mapped[str | None] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(8))
    weight: Mapped[int] = mapped_column(Integer, default=1)


class ScheduleRun(Base):
    __tablename__ = "schedule_runs"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    program_id: Mapped[int] = mapped_column(ForeignKey("programs.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    block_id: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    objective: Mapped[float | None] = mapped_column(Float)
    best_bound: Mapped[float | None] = mapped_column(Float)
    solve_seconds: Mapped[float | None] = mapped_column(Float)
    summary: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column(default=None)


class Assignment(_ProgramData, Base):
    """One shift of one person: scheduled by a run, pinned, entered by hand or history."""

    __tablename__ = "assignments"
    __table_args__ = (Index("ix_assignments_person_date", "program_id", "person_id", "date"),)

    run_id: Mapped[str | None] = mapped_column(ForeignKey("schedule_runs.id"), index=True)
    person_id: Mapped[str] = mapped_column(String(64))
    date: Mapped[dt.date] = mapped_column(Date)
    shift_id: Mapped[str] = mapped_column(String(64))
    start: Mapped[dt.datetime | None] = mapped_column(default=None)
    end: Mapped[dt.datetime | None] = mapped_column(default=None)
    hours: Mapped[float | None] = mapped_column(Float)
    rotation_id: Mapped[str | None] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(16))
    uid: Mapped[str | None] = mapped_column(String(300), default=None, comment="iCalendar UID of the shift's event")
    sequence: Mapped[int] = mapped_column(
        Integer, default=0, server_default="0", comment="iCalendar SEQUENCE: raised each time the event changes"
    )


class BlockVersion(Base):
    """One published version of a block's schedule: what made it (generate, repair, swap, manual), who, and why.

    Version numbers count up per block and are never reused; the version's assignments are the rows
    its run published (``Assignment.run_id``), kept (soft-deleted) after a later version replaced them,
    so any two versions can be compared. A version whose publish was rolled back is ``withdrawn``.
    """

    __tablename__ = "block_versions"
    __table_args__ = (UniqueConstraint("program_id", "block_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    program_id: Mapped[int] = mapped_column(ForeignKey("programs.id"), index=True)
    block_id: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer)
    run_id: Mapped[str] = mapped_column(ForeignKey("schedule_runs.id"), index=True)
    reason: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str] = mapped_column(String(120))
    note: Mapped[str | None] = mapped_column(Text, default=None)
    reference: Mapped[str | None] = mapped_column(String(300), default=None)
    based_on: Mapped[int | None] = mapped_column(Integer, default=None, comment="the version it was made from")
    program_version: Mapped[int] = mapped_column(Integer)
    added: Mapped[int] = mapped_column(Integer, default=0)
    removed: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(16), default="published")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class SwapRequest(Base):
    """A shift swap: a trade, a give-away or an open offer, and where it is in its life.

    ``requested`` → (``accepted``) → (``approved``) → ``executed`` → (``undone``), or ``refused`` /
    ``rejected`` / ``cancelled`` / ``expired``. Executing publishes a new version of the block
    (``version``); undoing publishes another (``undo_version``).
    """

    __tablename__ = "swap_requests"
    __table_args__ = (Index("ix_swap_requests_program_state", "program_id", "state"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    program_id: Mapped[int] = mapped_column(ForeignKey("programs.id"))
    block_id: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16), comment="trade | giveaway | offer")
    state: Mapped[str] = mapped_column(String(16))
    person_id: Mapped[str] = mapped_column(String(64))
    date: Mapped[dt.date] = mapped_column(Date)
    shift_id: Mapped[str] = mapped_column(String(64))
    with_person_id: Mapped[str | None] = mapped_column(String(64), default=None)
    take_date: Mapped[dt.date | None] = mapped_column(Date, default=None)
    take_shift_id: Mapped[str | None] = mapped_column(String(64), default=None)
    note: Mapped[str | None] = mapped_column(Text, default=None)
    reason: Mapped[str | None] = mapped_column(Text, default=None, comment="why it was refused, rejected or failed")
    based_on: Mapped[int | None] = mapped_column(Integer, default=None, comment="the block version it was checked on")
    version: Mapped[int | None] = mapped_column(Integer, default=None, comment="the block version its execution made")
    undo_version: Mapped[int | None] = mapped_column(Integer, default=None)
    accepted_by: Mapped[str | None] = mapped_column(String(64), default=None)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    accepted_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    approved_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    executed_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    closed_at: Mapped[dt.datetime | None] = mapped_column(default=None, comment="refused, rejected, cancelled, …")
    undone_at: Mapped[dt.datetime | None] = mapped_column(default=None)


class YearPlan(Base):
    """A published plan of the academic year's rotations (``rotaflow plan-year --publish``), numbered per program.

    Generation reads the current one (the highest ``published``) for a block the bundle's
    rotation_assignments.csv has no row for; a later publish supersedes it.
    """

    __tablename__ = "year_plans"
    __table_args__ = (UniqueConstraint("program_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    program_id: Mapped[int] = mapped_column(ForeignKey("programs.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    program_version: Mapped[int] = mapped_column(Integer, comment="the program version it was planned from")
    status: Mapped[str] = mapped_column(String(16), comment="published | superseded")
    solve_status: Mapped[str] = mapped_column(String(16), comment="optimal | feasible")
    objective: Mapped[float | None] = mapped_column(Float, default=None)
    best_bound: Mapped[float | None] = mapped_column(Float, default=None)
    actor: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    rows: Mapped[list[YearPlanRow]] = relationship(back_populates="plan", order_by="YearPlanRow.id")


class YearPlanRow(Base):
    """One resident's (or faculty member's) rotation in one block of a published year plan."""

    __tablename__ = "year_plan_rows"

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("year_plans.id"), index=True)
    person_id: Mapped[str] = mapped_column(String(64))
    block_id: Mapped[str] = mapped_column(String(64))
    rotation_id: Mapped[str] = mapped_column(String(64))
    locked: Mapped[bool] = mapped_column(Boolean, default=False)
    source: Mapped[str] = mapped_column(String(16), comment="planned | locked | manual")

    plan: Mapped[YearPlan] = relationship(back_populates="rows")


class AuditEntry(Base):
    """Who changed what and when; never soft-deleted, never updated."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    actor: Mapped[str] = mapped_column(String(120))
    action: Mapped[str] = mapped_column(String(32))
    entity: Mapped[str] = mapped_column(String(64))
    entity_key: Mapped[str] = mapped_column(String(300))
    program_id: Mapped[int | None] = mapped_column(ForeignKey("programs.id"), index=True)
    version: Mapped[int | None] = mapped_column(Integer)
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
