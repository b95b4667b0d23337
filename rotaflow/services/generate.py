"""Block generation service: rule set, history, solving, publishing and the output files.

The Prefect flow ``generate_block`` calls these one task at a time; nothing here imports
Prefect. The run's result is a ``GenerateResult`` (``rotaflow.services.results``), written as
summary.json under its contract. Publishing locks the block's row (``SELECT … FOR UPDATE`` on
PostgreSQL) so two runs for one block cannot both publish; the queries are
``rotaflow.db.repositories.ScheduleRepository``'s.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pandas as pd
import yaml
from pydantic import BaseModel, ConfigDict, Field

from rotaflow import events
from rotaflow.configs.settings import CONFIG_DIR
from rotaflow.constraints.instance import Cell, Instance, Schedule
from rotaflow.constraints.model import BuiltModel, build_model, check_schedule
from rotaflow.constraints.registry import RULES, Violation
from rotaflow.constraints.ruleset import ConfiguredRule
from rotaflow.constraints.search import STEP_PARAMETERS, neighbourhood_search
from rotaflow.constraints.solve import LIGHT_PRESOLVE, Progress, SolveResult, solve_from_first
from rotaflow.db.models import Assignment, Block, BlockVersion, ScheduleRun, utcnow
from rotaflow.db.repositories import AuditRepository, ScheduleRepository, VersionRepository
from rotaflow.db.session import Engine, Session, UnitOfWork
from rotaflow.errors import RotaflowError
from rotaflow.files import private_dir, write_private
from rotaflow.services.calendars import CalendarLabels, calendar_files, calendar_identities, default_uid
from rotaflow.services.changes import change_rows, write_changes
from rotaflow.services.feed import changed_people, refresh_after_commit
from rotaflow.services.planning import program_today
from rotaflow.services.results import GenerateResult, check_csv, summary_json
from rotaflow.services.versions import PublishedVersion
from rotaflow.validations.bundle import Bundle
from rotaflow.validations.contracts import ASSIGNMENT_COLUMNS, FINDING_COLUMNS, LOCAL_TIME_FORMAT
from rotaflow.validations.findings import finding_kind
from rotaflow.validations.instances import HISTORY_DAYS

__all__ = [
    "PublishConflict",
    "RepairSettings",
    "SolverSettings",
    "assignment_rows",
    "findings_rows",
    "RUN_MARKER",
    "check_out_dir",
    "claim_out_dir",
    "history_from_database",
    "load_solver_settings",
    "next_block",
    "next_block_and_days",
    "record_run_files",
    "publish_cells",
    "publish_run",
    "run_files",
    "search_for",
    "solve_block",
    "solve_built",
    "staged_run_files",
    "write_outputs",
    "write_summary",
]

SOLVER_FILE = CONFIG_DIR / "solver.yaml"


class PublishConflict(RotaflowError):
    """Another run published the same block while this one was working."""

    exit_code = 3


class RepairSettings(BaseModel):
    """configs/solver.yaml ``repair:``: the churn guard's limits (``rotaflow repair`` refuses a repair that
    changes more of the remaining schedule than this, unless ``--allow-churn``)."""

    model_config = ConfigDict(extra="forbid")

    churn_total_share: float = Field(default=0.2, gt=0, le=1)
    """Of the remaining published assignments (those the absence does not take away)."""
    churn_person_share: float = Field(default=0.5, gt=0, le=1)
    """Of one person's remaining shifts."""


class SolverSettings(BaseModel):
    """configs/solver.yaml: every solve has a time limit."""

    model_config = ConfigDict(extra="forbid")

    time_limit_seconds: float = Field(default=60.0, gt=0, le=24 * 3600)
    workers: int = Field(default=2, ge=1, le=64)
    seed: int = 0
    relative_gap: float = Field(default=0.0, ge=0, lt=1)
    diagnosis_time_limit_seconds: float = Field(default=30.0, gt=0, le=3600)
    search: Literal["auto", "cpsat", "lns"] = "auto"
    """Block generation's search: ``cpsat`` (CP-SAT on the whole model), ``lns`` (the neighbourhood
    search: a first schedule from CP-SAT, then parts of it solved again), ``auto`` (``lns`` from
    ``lns_min_cells`` cells on)."""
    lns_min_cells: int = Field(default=50_000, ge=0)
    """The size (people × days × shifts) from which ``auto`` picks the neighbourhood search."""
    repair: RepairSettings = RepairSettings()


def load_solver_settings(path: Path = SOLVER_FILE, **overrides: Any) -> SolverSettings:
    data = yaml.safe_load(path.read_text(encoding="utf-8")) if path.exists() else {}
    data.update({k: v for k, v in overrides.items() if v is not None})
    return SolverSettings.model_validate(data)


def next_block_and_days(bundle: Bundle, today: dt.date | None = None) -> tuple[str, int] | None:
    """The first block of ``bundle`` starting after ``today`` (default: today in the program's timezone) and
    how many days away it starts."""
    day = today or program_today(bundle.program.timezone)
    blocks = bundle.frames["blocks"].sort_values("start_date")
    later = blocks[blocks["start_date"].dt.date > day]
    if later.empty:
        return None
    first = later.iloc[0]
    return str(first["block_id"]), (first["start_date"].date() - day).days


def next_block(bundle: Bundle, today: dt.date | None = None) -> str | None:
    """The id of the first block of ``bundle`` starting after ``today`` (default: today in the program's timezone)."""
    found = next_block_and_days(bundle, today)
    return None if found is None else found[0]


def history_from_database(
    engine: Engine, program_key: str, before: dt.date, days: int = 40
) -> list[tuple[str, dt.date, str]]:
    """Published assignments of the days before a block (rolling windows reach back into them)."""
    since = before - dt.timedelta(days=days)
    with UnitOfWork(engine) as uow:
        repository = ScheduleRepository(uow.s)
        program = repository.find_program(program_key)
        if program is None:
            return []
        return repository.published_history(program.id, since, before)


LNS_FIRST_SHARE = 0.6
"""The share of the time CP-SAT on the whole model (with its own neighbourhoods) keeps improving the first
schedule of a large block before the neighbourhood search's steps may take over."""

LARGE_BLOCK_WHOLE: Mapping[str, Any] = {**LIGHT_PRESOLVE, "linearization_level": 0}
"""CP-SAT parameters of the neighbourhood search's solve on the whole model: the light presolve, and no LP
relaxation (CP-SAT's default, level 1, solves one over the linear constraints). On a block this large that
LP is slow, and with two workers it holds one of them; without it the schedules come much sooner, and the
bound was the same. Measured with CP-SAT on the whole model, 60 s, 2 workers (a script outside the
repository), on `rotaflow synth --residents 300`: seed 1, objective 56 against 639 (bound 35 both); seed 2,
58 against 588. A 144-resident block (seed 7, search ``cpsat``) gained nothing from it (42 against 40), so
block generation's ``cpsat`` keeps CP-SAT's default."""

LNS_STALL_SHARE = 0.1
"""After ``LNS_FIRST_SHARE``, CP-SAT on the whole model goes on while it improves, and gives way to the
neighbourhood search's steps once it has gone this share of the time limit without a better schedule. On a
300-resident block (`rotaflow synth --residents 300 --seed 1`, 67,200 cells) a step loads the whole model:
each took 0.5 to 14 s and none improved the schedule, while CP-SAT on the whole model still found a better one
every few seconds at the end (objective 253 at 60 s and 46 at 100 s, against 3932 and 1808 when the steps
took over at 60 % of the time)."""


def search_for(settings: SolverSettings, cells: int) -> Literal["cpsat", "lns"]:
    """The search a block of ``cells`` cells gets: the configured one, or for ``auto`` the neighbourhood
    search from ``lns_min_cells`` on. Measured on a 150-resident block (33 600 cells, bench/generate.py,
    120 s): CP-SAT ends far lower (36 against 1558) once its presolve is through, but on a loaded
    machine it found no schedule at all where the neighbourhood search's light presolve did."""
    if settings.search != "auto":
        return settings.search
    return "lns" if cells >= settings.lns_min_cells else "cpsat"


def solve_block(
    instance: Instance,
    rules: list[ConfiguredRule],
    settings: SolverSettings,
    *,
    hint: Iterable[Cell] | None = None,
    stop: threading.Event | None = None,
    on_progress: Callable[[Progress], None] | None = None,
) -> SolveResult:
    """Build and solve the block's model with the search ``search_for`` picks; ``on_progress`` and the
    observers of ``rotaflow.events`` hear of each improving solution.

    CP-SAT (``cpsat``) takes a first schedule with a light presolve, then searches the whole model with its
    full presolve from it (``solve_from_first``): a schedule is in hand within seconds even where the full
    presolve takes most of the time limit. The neighbourhood search starts from CP-SAT on the whole model
    (with a light presolve and no LP relaxation, ``LARGE_BLOCK_WHOLE``, for ``LNS_FIRST_SHARE`` of the time,
    and on while it improves: ``LNS_STALL_SHARE``) and then solves parts of the best schedule again, every
    other cell fixed: each schedule it keeps satisfies every hard rule of the model. Its bound is the whole
    model's (the first solve's), so the gap is honest."""
    return solve_built(build_model(instance, rules), settings, hint=hint, stop=stop, on_progress=on_progress)


def solve_built(
    built: BuiltModel,
    settings: SolverSettings,
    *,
    hint: Iterable[Cell] | None = None,
    stop: threading.Event | None = None,
    on_progress: Callable[[Progress], None] | None = None,
) -> SolveResult:
    """:func:`solve_block` on a model already built."""
    instance = built.instance
    observed = events.active()

    def report(point: Progress) -> None:
        if on_progress is not None:
            on_progress(point)
        events.solution(point)

    if observed:
        events.solve_started(settings.time_limit_seconds)
    common: dict[str, Any] = {
        "time_limit": settings.time_limit_seconds,
        "workers": settings.workers,
        "seed": settings.seed,
        "relative_gap": settings.relative_gap,
        "hint": hint if hint is not None else (instance.previous or None),
        "stop": stop,
        "on_progress": report if observed else on_progress,
    }
    if search_for(settings, len(instance.cells)) == "lns":
        result = neighbourhood_search(
            built,
            # measured on a 150-resident block (bench/generate.py): the heaviest-first phase and the companion
            # cost CPU and gained nothing; CP-SAT on the whole model improves the first schedule for a while
            heaviest_first=0.0,
            companion=False,
            first=LNS_FIRST_SHARE,
            whole_parameters=LARGE_BLOCK_WHOLE,
            parameters={**STEP_PARAMETERS, **LIGHT_PRESOLVE},
            stall=LNS_STALL_SHARE * settings.time_limit_seconds,
            **common,
        )
    else:
        result = solve_from_first(built, **common)
    if observed:
        events.solve_finished(result.status, result.seconds, result.objective, result.best_bound)
    return result


# --------------------------------------------------------------------------- rows


def assignment_rows(instance: Instance, cells: Iterable[Cell]) -> list[dict[str, Any]]:
    """assignments.csv rows (docs/formats.md): localised instants with offsets, the same as local wall times a
    spreadsheet reads as dates (``start_local``, ``end_local``), hours, rotation, source."""
    kept = instance.meta.get("previous_sources") or {}
    worked_before = int(str(instance.meta.get("worked_before_day", 0)))
    rows = []
    for person, day, shift in sorted(cells, key=lambda c: (c[0], c[1], instance.slot(c[1], c[2]).start)):
        slot = instance.slot(day, shift)
        source = _source(instance, (person, day, shift), kept, worked_before)
        start, end = slot.start.astimezone(instance.zone), slot.end_with_transition.astimezone(instance.zone)
        rows.append(
            {
                "person_id": person,
                "date": instance.date(day).isoformat(),
                "shift_id": shift,
                "start": start.isoformat(),
                "end": end.isoformat(),
                "start_local": start.strftime(LOCAL_TIME_FORMAT),
                "end_local": end.strftime(LOCAL_TIME_FORMAT),
                "hours": round(slot.work_minutes / 60, 2),
                "rotation_id": instance.rotation.get((person, day)) or "",
                "source": source,
            }
        )
    return rows


def _source(instance: Instance, cell: Cell, kept: Any, worked_before: int) -> str:
    """``history`` for a day already worked and kept as published, ``pinned`` for a pinned cell or a frozen day
    still ahead, the source it had before for a row an undo puts back (``meta["restored_sources"]``), ``manual``
    for an assignment placed by hand (``meta["manual_cells"]``: a swap's) or one the schedule keeps from such a
    placement, else ``solver``."""
    day = cell[1]
    if day < instance.frozen_days:
        return "history" if day < worked_before else "pinned"
    restored = instance.meta.get("restored_sources") or {}
    if cell in restored:  # type: ignore[operator]
        return str(restored[cell])  # type: ignore[index]  # put back by an undo, as it was before
    if instance.pins.get(cell):
        return "pinned"
    if cell in instance.meta.get("manual_cells", ()):  # type: ignore[operator]
        return "manual"  # placed by hand (a swap)
    if cell in instance.previous and kept.get(cell) == "manual":
        return "manual"
    return "solver"


def findings_rows(
    instance: Instance, violations: list[Violation], kinds: Mapping[str, str] | None = None
) -> list[dict[str, Any]]:
    """findings.csv rows (docs/formats.md); a soft rule's findings are warnings. ``kinds``: the configured
    rules' kinds (``rule_kinds``), else ``finding_kind`` falls back on the severity and the rule's default."""
    return [
        {
            "rule": v.rule,
            "severity": v.severity,
            "person_id": v.person or "",
            "window_start": instance.date(v.first_day).isoformat(),
            "window_end": instance.date(v.last_day).isoformat(),
            "value": v.value,
            "limit": v.limit,
            "unit": v.unit,
            "message": v.message,
            "kind": finding_kind(v.rule, v.severity, kinds),
            "date": instance.date(v.first_day).isoformat() if v.shift is not None else None,
            "shift_id": v.shift,
        }
        for v in sorted(violations, key=lambda v: (v.severity != "violation", v.rule, v.person or "", v.first_day))
    ]


def check(instance: Instance, rules: list[ConfiguredRule], cells: Iterable[Cell]) -> list[Violation]:
    return check_schedule(Schedule.of(instance, cells), rules)


# --------------------------------------------------------------------------- publishing


@dataclass
class Published:
    run_id: str
    replaced: int
    inserted: int
    block_version: int | None = None
    """The block's new version number (None when nothing was published)."""


_SINCE_START = object()
"""``publish_run(based_on=…)`` default: refuse when another run published the block after this run started."""


def publish_run(
    engine: Engine,
    *,
    program_key: str,
    version: int,
    instance: Instance,
    result: SolveResult,
    summary: GenerateResult,
    started_at: dt.datetime,
    actor: str = "rotaflow generate",
    reason: str = "generate",
    note: str | None = None,
    reference: str | None = None,
    based_on: int | None | object = _SINCE_START,
) -> Published:
    """Record the run and, if it has a schedule, make it the block's published schedule: its next version.

    The block's row is locked first. ``based_on`` is the version the schedule was made from (a repair's or a
    swap's): when the block's current version is another one by then, nothing is written and
    :class:`PublishConflict` says which. By default (a generation) the same happens when another run
    published the block after this one started. Each published row carries its calendar identity, carried
    on from the version it replaces (``rotaflow.services.calendars.calendar_identities``).
    """
    block_id = str(instance.meta["block_id"])
    run_id = summary.run_id
    with UnitOfWork(engine) as uow:
        s = uow.s
        runs = ScheduleRepository(s)
        versions = VersionRepository(s)
        program = runs.program(program_key)
        block = runs.lock_block(program.id, block_id, write_lock=True)
        publishes = bool(result.cells) and summary.hard_violations == 0
        current = versions.latest(program.id, block_id)
        if publishes and based_on is _SINCE_START:
            newer = runs.published_after(program.id, block_id, started_at)
            if newer is not None:
                raise PublishConflict(
                    f"block {block_id} was published by run {newer.id} at {newer.finished_at:%Y-%m-%d %H:%M:%S} "
                    "while this run was solving; this run's schedule was not published (run it again to "
                    "replace that schedule)"
                )
        elif publishes and (current.version if current else None) != based_on:
            now_at = f"version {current.version}" if current else "no published version"
            raise PublishConflict(
                f"block {block_id} is at {now_at} now, and this schedule was made from version {based_on}: "
                f"nothing was published; run it again on the block's current version"
            )
        if publishes:  # the published days before the block, which its rules read as history, as solved
            since = block.start_date - dt.timedelta(days=HISTORY_DAYS)
            moved = runs.history_changed_after(program.id, since, block.start_date, started_at)
            if moved is not None:
                raise PublishConflict(
                    f"block {moved.block_id}, whose days this block's rules read as history, got version "
                    f"{moved.version} while this schedule was made; nothing was published (run it again)"
                )
        run = ScheduleRun(
            id=run_id,
            program_id=program.id,
            version=version,
            block_id=block_id,
            status="published" if publishes else summary.status,
            objective=result.objective,
            best_bound=result.best_bound,
            solve_seconds=result.seconds,
            summary=json.loads(json.dumps(summary.as_dict(), default=str)),
            created_at=started_at,
            finished_at=utcnow(),
        )
        s.add(run)
        s.flush()
        replaced = inserted = 0
        number = None
        if publishes:
            replaced, inserted, number = publish_cells(
                s,
                program_key=program_key,
                program_id=program.id,
                block=block,
                instance=instance,
                cells=result.cells,
                run_id=run_id,
                program_version=version,
                actor=actor,
                reason=reason,
                note=note,
                reference=reference,
                current=current,
            )
        AuditRepository(s).record(
            actor=actor,
            action="publish" if publishes else "record_run",
            entity="schedule_runs",
            entity_key=run_id,
            program_id=program.id,
            version=version,
            details={
                "block_id": block_id,
                "replaced": replaced,
                "inserted": inserted,
                "status": run.status,
                "block_version": number,
                "reason": reason,
            },
        )
        uow.commit()
    return Published(run_id, replaced, inserted, number)


def publish_cells(
    s: Session,
    *,
    program_key: str,
    program_id: int,
    block: Block,
    instance: Instance,
    cells: Iterable[Cell],
    run_id: str,
    program_version: int,
    actor: str,
    reason: str,
    note: str | None,
    reference: str | None,
    current: BlockVersion | None,
) -> tuple[int, int, int]:
    """Inside a transaction that holds the block's lock: ``cells`` become the block's next version, made by
    the run ``run_id`` (recorded already). The rows they replace are soft-deleted; each new row carries its
    calendar identity, carried on from the rows it replaces. Returns (rows replaced, rows inserted, version)."""
    runs = ScheduleRepository(s)
    versions = VersionRepository(s)
    block_id = block.block_id
    old = runs.published_identities(program_id, block.start_date, block.end_date)
    previous = {}  # a row published before identities were kept has the UID its calendar was given then
    for a in old:
        cell = (a.person_id, a.date, a.shift_id)
        previous[cell] = (a.uid or default_uid(program_key, cell), a.sequence)
    now = utcnow()
    retired = runs.retire_published(program_id, block.start_date, block.end_date, at=now, by=f"{actor} (run {run_id})")
    if retired != len(old):  # the block's lock is held: nothing else may change its rows meanwhile
        raise PublishConflict(
            f"block {block.block_id}'s published rows changed while this version was published "
            f"({len(old)} read, {retired} replaced); nothing was published (run it again)"
        )
    number = versions.next_number(program_id, block_id)
    expected = instance.meta.get("next_version")
    if expected is not None and number != expected:  # its calendars name the number it expected
        raise PublishConflict(
            f"block {block_id} had a version published and withdrawn while this schedule was made: "
            f"it would be version {number}, not {expected}; nothing was published (run it again)"
        )
    rows = assignment_rows(instance, cells)
    new_cells = {(r["person_id"], dt.date.fromisoformat(r["date"]), r["shift_id"]) for r in rows}
    used = versions.uids_between(program_id, block.start_date, block.end_date)
    identities, _ = calendar_identities(program_key, number, previous, new_cells, retired=used)
    inserted = []
    for item in rows:
        cell = (item["person_id"], dt.date.fromisoformat(item["date"]), item["shift_id"])
        uid, sequence = identities[cell]
        inserted.append(
            {
                "program_id": program_id,
                "version": program_version,
                "run_id": run_id,
                "person_id": item["person_id"],
                "date": cell[1],
                "shift_id": item["shift_id"],
                "start": dt.datetime.fromisoformat(item["start"]).astimezone(dt.UTC),
                "end": dt.datetime.fromisoformat(item["end"]).astimezone(dt.UTC),
                "hours": item["hours"],
                "rotation_id": item["rotation_id"] or None,
                "source": item["source"],
                "uid": uid,
                "sequence": sequence,
                "created_at": now,
            }
        )
    runs.add_assignments(inserted)
    old_cells = {(a.person_id, a.date, a.shift_id) for a in old}
    s.add(
        BlockVersion(
            program_id=program_id,
            block_id=block_id,
            version=number,
            run_id=run_id,
            reason=reason,
            actor=actor[:120],
            note=note,
            reference=(reference or None) and reference[:300],
            based_on=current.version if current else None,
            program_version=program_version,
            added=len(new_cells - old_cells),
            removed=len(old_cells - new_cells),
            status="published",
        )
    )
    s.flush()
    before = {(*cell, uid, sequence) for cell, (uid, sequence) in previous.items()}
    after = {(r["person_id"], r["date"], r["shift_id"], r["uid"], r["sequence"]) for r in inserted}
    touched = changed_people(before, after)
    if current is not None and current.program_version != program_version:  # times, rotations may differ
        touched |= {str(c[0]) for c in before | after}
    refresh_after_commit(s, program_key, touched)  # their subscription feeds, once this version is committed
    return len(old), len(rows), number


def _shown(row: Assignment) -> tuple[Any, ...]:
    """What a calendar event shows of a published row, its person first."""
    return (
        row.person_id,
        row.date,
        row.shift_id,
        row.start,
        row.end,
        row.hours,
        row.rotation_id,
        row.uid,
        row.sequence,
    )


def unpublish_run(engine: Engine, *, run_id: str, reason: str, actor: str = "rotaflow generate") -> int:
    """Undo ``publish_run`` of ``run_id``: its assignments are soft-deleted, the ones it replaced are
    live again, the run is marked ``rolled_back`` and the audit log says why. Returns the rows put back."""
    with UnitOfWork(engine) as uow:
        s = uow.s
        runs = ScheduleRepository(s)
        run = runs.run(run_id)
        if run is None or run.status != "published":
            return 0
        block = runs.lock_block(run.program_id, run.block_id)
        now = utcnow()
        withdrawn = runs.live_of_run(run_id)
        for row in withdrawn:
            row.deleted_at, row.deleted_by = now, f"{actor} (rollback of run {run_id})"
        restored = runs.replaced_by_run(run.program_id, run_id, block.start_date, block.end_date)
        for row in restored:
            row.deleted_at, row.deleted_by = None, None
        run.status = "rolled_back"
        withdrawn_version = VersionRepository(s).of_run(run_id)
        if withdrawn_version is not None:
            withdrawn_version.status = "withdrawn"
        touched = changed_people(map(_shown, withdrawn), map(_shown, restored))
        refresh_after_commit(s, run.program_id, touched)  # their feeds say what is published again
        AuditRepository(s).record(
            actor=actor,
            action="unpublish",
            entity="schedule_runs",
            entity_key=run_id,
            program_id=run.program_id,
            version=run.version,
            details={
                "block_id": run.block_id,
                "withdrawn": len(withdrawn),
                "restored": len(restored),
                "reason": reason,
            },
        )
        uow.commit()
    return len(restored)


# --------------------------------------------------------------------------- files


@dataclass
class Outputs:
    folder: Path
    files: list[Path] = field(default_factory=list)


def _csv(rows: list[dict[str, Any]], columns: list[str]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


RUN_MARKER = ".rotaflow-run.json"
"""The file that marks an output folder rotaflow made, and lists the files its run wrote there."""

OUT_EXPECTED = (
    "a new or empty folder, or one rotaflow made for an earlier run, outside rotaflow's var folder "
    "(var/runs/ excepted) and outside the object store"
)


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def _stores(settings: Any) -> list[Path]:
    """Where a run's outputs must never go, wherever they are: the object store, the backup tiers' folders."""
    from rotaflow.backups.config import TIERS, load_backup_config, tier_location

    config = load_backup_config()
    places: list[str | Path] = [settings.resolved_object_store]
    places += [tier_location(t, config, settings) for t in TIERS]  # type: ignore[arg-type]
    places += [config.work_dir] if config.work_dir else []
    return [Path(p).resolve() for p in places if not str(p).startswith("s3://")]


def check_out_dir(path: str | Path, settings: Any = None, *, any_folder: bool = False) -> Path:
    """The output folder, resolved (symlinks followed), or ``InputError`` (exit 2) when rotaflow must not
    write there: a file; a folder inside the var folder (its ``runs/`` excepted: rotaflow's own run
    area), the object store or a backup tier; a non-empty folder without rotaflow's marker (unless
    ``any_folder``: ``validate`` writes its few files into a folder of the user's choice, ``var/validations/``
    included, where its flow puts them by default). Nothing is written."""
    from rotaflow.configs.settings import get_settings
    from rotaflow.errors import InputError, Problem

    settings = settings or get_settings()
    folder = Path(path).expanduser().resolve()
    var = Path(settings.var_dir).resolve()
    areas = [var / "runs"] + ([var / "validations"] if any_folder else [])  # rotaflow's own output areas
    in_var = _inside(folder, var) and not any(area in folder.parents for area in areas)
    got: str | None = None
    if folder.exists() and not folder.is_dir():
        got = f"{folder} is a file"
    elif in_var or any(_inside(folder, p) for p in _stores(settings)):
        got = f"{folder} is inside rotaflow's own data (var folder, object store or backups)"
    elif not any_folder and folder.is_dir() and any(folder.iterdir()) and not (folder / RUN_MARKER).is_file():
        got = f"{folder} is a non-empty folder rotaflow did not create"
    if got is not None:
        raise InputError([Problem("command line", None, "--out", OUT_EXPECTED, got)])
    return folder


def _listed(folder: Path) -> list[str]:
    marker = folder / RUN_MARKER
    if not marker.is_file() or marker.is_symlink():
        return []
    try:
        files = json.loads(marker.read_text(encoding="utf-8")).get("files", [])
    except (ValueError, AttributeError):
        return []
    return [str(f) for f in files if isinstance(f, str)]


def _own(folder: Path, relative: str) -> Path | None:
    """``folder / relative`` when it stays inside ``folder``: no ``..``, no absolute path, and no folder
    on the way that is a symlink (the file itself may be one: it is then never followed)."""
    parts = Path(relative).parts
    if not parts or Path(relative).is_absolute() or ".." in parts:
        return None
    current = folder
    for part in parts[:-1]:
        current = current / part
        if current.is_symlink():
            return None
    return current / parts[-1]


def claim_out_dir(path: str | Path, settings: Any = None) -> Path:
    """Check the output folder (``check_out_dir``), make it (0700) and mark it as rotaflow's; a folder
    an earlier run made loses that run's files first, so that its outputs are replaced, not mixed."""
    folder = check_out_dir(path, settings)
    private_dir(folder)
    for relative in _listed(folder):
        own = _own(folder, relative)
        if own is not None and (own.is_symlink() or own.is_file()):
            own.unlink()
    write_private(folder / RUN_MARKER, json.dumps({"written_by": "rotaflow", "files": []}, indent=2) + "\n")
    return folder


def record_run_files(folder: Path, files: Iterable[Path]) -> None:
    """Add ``files`` (inside ``folder``) to the list of the run's own files in the folder's marker."""
    listed = _listed(folder)
    for path in files:
        relative = Path(path).absolute().relative_to(folder.absolute()).as_posix()
        if relative not in listed:
            listed.append(relative)
    write_private(folder / RUN_MARKER, json.dumps({"written_by": "rotaflow", "files": listed}, indent=2) + "\n")


@contextmanager
def staged_run_files(folder: Path, tmp_dir: Path) -> Iterator[Path]:
    """A private copy of the run's own output files (the list in the folder's marker: regular files, never a
    symlink, nothing else the folder holds) in a new folder under ``tmp_dir``, removed afterwards."""
    files = run_files(folder)
    staging = Path(tempfile.mkdtemp(prefix="run-", dir=private_dir(tmp_dir)))
    try:
        for path in files:
            target = staging / path.relative_to(folder)
            private_dir(target.parent)
            shutil.copyfile(path, target, follow_symlinks=False)
        yield staging
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def run_files(folder: Path) -> list[Path]:
    """The files the run wrote into ``folder`` (from its marker): regular files only, never a symlink."""
    found = []
    for relative in _listed(folder):
        own = _own(folder, relative)
        if own is not None and own.is_file() and not own.is_symlink():
            found.append(own)
    return found


def write_summary(folder: Path, summary: GenerateResult) -> Path:
    """summary.json again, once the run has gone further (validated, published, backed up); report.html's
    publication part and run table are redrawn from it (the report was written before publishing)."""
    from rotaflow.validations.report.glance import refresh_publication

    path = write_private(folder / "summary.json", summary_json(summary))
    refresh_publication(folder / "report.html", summary.as_dict())
    return path


def write_outputs(
    folder: Path,
    *,
    instance: Instance,
    cells: Iterable[Cell],
    findings: list[dict[str, Any]],
    summary: GenerateResult,
    names: dict[str, str] | None = None,
    base: PublishedVersion | None = None,
    dtstamp: dt.datetime | None = None,
    labels: CalendarLabels | None = None,
) -> Outputs:
    """assignments.csv, findings.csv, summary.json, report.html and one .ics per person (0600, folders 0700);
    the CSV and JSON files are held to their contracts before anything is written (``BrokenOutput``).

    With ``base``, the block's published version the schedule replaces, the calendars follow it (an event
    keeps its UID and gets a higher SEQUENCE when it changes, a removed one is written as cancelled, and
    a person left with no shifts still gets a file) and changes.csv / changes.html say what changed.
    ``labels`` (``CalendarLabels.of_bundle``): the calendars' shift and rotation names and locations; every
    person of the block gets a calendar, one without shifts an empty one.
    """
    cells = sorted(cells)
    if not cells:  # no schedule (infeasible, refused, out of time): nothing replaces the published version
        base = None
    out = Outputs(folder)
    rows = assignment_rows(instance, cells)
    assignments, found = _csv(rows, ASSIGNMENT_COLUMNS), _csv(findings, FINDING_COLUMNS)
    check_csv("assignments", assignments)
    check_csv("findings", found)
    facts = summary_json(summary)
    to_version = int(str(instance.meta.get("next_version") or (base.number + 1 if base else 1)))
    new_rows = {(r["person_id"], dt.date.fromisoformat(r["date"]), r["shift_id"]) for r in rows}
    changes: list[dict[str, Any]] = []
    if base is not None:
        changes = change_rows(
            base.cells,
            new_rows,
            from_version=base.number,
            to_version=None,
            reason=str(instance.meta.get("reason", "generate")),
            reference=str(instance.meta.get("reference") or ""),
        )
    private_dir(folder)
    for name, text in (
        ("assignments.csv", assignments),
        ("findings.csv", found),
        ("summary.json", facts),
        ("report.html", _report_html(rows, findings, summary.as_dict())),
    ):
        path = write_private(folder / name, text)
        out.files.append(path)
    if base is not None:
        out.files += write_changes(folder, changes, **_change_facts(instance, base.number, None))
    out.files += _write_calendars(folder, instance, rows, base, to_version, names, dtstamp or utcnow(), labels)
    record_run_files(folder, out.files)
    return out


def _change_facts(instance: Instance, from_version: int, to_version: int | None) -> dict[str, Any]:
    return {
        "program": str(instance.meta.get("program", "")),
        "block_id": str(instance.meta.get("block_id", "")),
        "from_version": from_version,
        "to_version": to_version,
        "reason": str(instance.meta.get("reason", "generate")),
        "reference": str(instance.meta.get("reference") or ""),
    }


def rewrite_changes(folder: Path, instance: Instance, base: PublishedVersion, to_version: int | None) -> list[Path]:
    """changes.csv and changes.html again once the schedule is published as version ``to_version`` (None: the
    publish was withdrawn, a preview again)."""
    rows = _read_rows(folder / "assignments.csv")
    changes = change_rows(
        base.cells,
        rows,
        from_version=base.number,
        to_version=to_version,
        reason=str(instance.meta.get("reason", "generate")),
        reference=str(instance.meta.get("reference") or ""),
    )
    return write_changes(folder, changes, **_change_facts(instance, base.number, to_version))


def _read_rows(path: Path) -> set[tuple[str, dt.date, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return {(r["person_id"], dt.date.fromisoformat(r["date"]), r["shift_id"]) for r in csv.DictReader(handle)}


def _write_calendars(
    folder: Path,
    instance: Instance,
    rows: list[dict[str, Any]],
    base: PublishedVersion | None,
    to_version: int,
    names: dict[str, str] | None,
    dtstamp: dt.datetime,
    labels: CalendarLabels | None = None,
) -> list[Path]:
    """One .ics per person of the block (one without shifts gets a calendar without events) and per person whose
    shifts ``base`` had and this schedule drops; events titled by ``labels`` (shift and rotation names)."""
    program = str(instance.meta.get("program", "rotaflow"))
    old = base.identities(program) if base is not None else {}
    by_cell = {(r["person_id"], dt.date.fromisoformat(r["date"]), r["shift_id"]): r for r in rows}
    retired = base.retired if base is not None else frozenset()
    identities, cancelled = calendar_identities(program, to_version, old, by_cell, retired=retired)
    events = [{**row, "uid": identities[cell][0], "sequence": identities[cell][1]} for cell, row in by_cell.items()]
    gone = []
    for (person, date, shift), (uid, sequence) in cancelled.items():
        day = (date - instance.start).days
        if 0 <= day < instance.days and shift in instance.shift:
            (row,) = assignment_rows(instance, [(person, day, shift)])
            gone.append({**row, "uid": uid, "sequence": sequence})
    files = calendar_files(
        events,
        gone,
        timezone=instance.timezone,
        block_id=str(instance.meta.get("block_id", "")),
        names=names,
        dtstamp=dtstamp,
        labels=labels,
        people=instance.person_ids if rows else (),  # no schedule (infeasible, refused): no calendars
    )
    calendars = private_dir(folder / "calendars")
    return [write_private(calendars / f"{person}.ics", text) for person, text in sorted(files.items())]


def _report_html(rows: list[dict[str, Any]], findings: list[dict[str, Any]], summary: dict[str, Any]) -> str:
    """The run's report before validation (the validation flow replaces it with the full one)."""
    from rotaflow.validations.report import ReportData, render_report

    assignments = pd.DataFrame(rows, columns=ASSIGNMENT_COLUMNS)
    data = ReportData(
        summary=summary,
        findings=pd.DataFrame(findings, columns=FINDING_COLUMNS),
        assignments=assignments,
        rules=[(k, RULES[k].summary) for k in sorted(RULES) if k in summary.get("rules", [])],
        links={"summary.json": "summary.json", "assignments.csv": "assignments.csv", "findings.csv": "findings.csv"},
    )
    return render_report(data)
