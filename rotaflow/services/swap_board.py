"""The swap board: shift swap requests in the database, their execution and their undo.

A request is checked against every hard rule when it is filed (``rotaflow.services.swaps.check_swap``) and
again when it executes, against the block's version as it is then (others may have changed it). Execution is
one transaction: the block's row is locked (``SELECT … FOR UPDATE`` on PostgreSQL; SQLite's write lock), then
the request and the assignment rows the swap moves; the swap becomes the block's next version
(``rotaflow.services.generate.publish_cells``, reason ``swap``) and the audit log says so. After the commit,
changes.csv, changes.html and the calendars of the people the swap touches are written into
``<var>/runs/<program>-<block>-swap-<id>/``.

States (FORMATS, “Swaps”): ``requested`` → (``accepted``) → (``approved``) → ``executed`` → (``undone``), or
``refused`` / ``rejected`` / ``cancelled`` / ``expired``. Texts name people by ``person_id`` only.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import logging
import threading
import uuid
from collections import OrderedDict
from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rotaflow.configs.settings import get_settings
from rotaflow.constraints.instance import Instance
from rotaflow.db.models import (
    Block,
    BlockVersion,
    Program,
    ScheduleRun,
    SwapRequest,
    utcnow,
)
from rotaflow.db.repositories import (
    AuditRepository,
    ProgramRepository,
    ScheduleRepository,
    SwapRequestRepository,
    VersionRepository,
)
from rotaflow.db.session import Engine, Session, UnitOfWork
from rotaflow.errors import InfeasibleError, InputError, Problem, RotaflowError
from rotaflow.files import private_dir, write_private
from rotaflow.services.calendars import CalendarLabels, calendar_files, calendar_identities
from rotaflow.services.changes import change_rows, write_changes
from rotaflow.services.generate import (
    assignment_rows,
    claim_out_dir,
    publish_cells,
    record_run_files,
)
from rotaflow.services.planning import program_today
from rotaflow.services.swaps import (
    SwapContext,
    SwapSpec,
    block_of,
    check_swap,
    context_from,
    explain,
    following_blocks,
    swap_context,
    swapped,
)
from rotaflow.services.versions import PublishedVersion, Row, StoredRow, start_from
from rotaflow.validations.bundle import Bundle
from rotaflow.validations.instances import HISTORY_DAYS

__all__ = [
    "OPEN_STATES",
    "STATES",
    "SwapRefused",
    "SwapView",
    "accept_swap",
    "approve_swap",
    "cancel_swap",
    "get_swap",
    "list_swaps",
    "program_of",
    "reject_swap",
    "request_swap",
    "undo_swap",
]

STATES = ("requested", "accepted", "approved", "executed", "undone", "refused", "rejected", "cancelled", "expired")
"""Every state of a swap request (FORMATS)."""

OPEN_STATES = ("requested", "accepted", "approved")
"""States of a request that has not run yet: it expires once its date has passed."""


_log = logging.getLogger(__name__)

_CONTEXTS: OrderedDict[tuple[Hashable, ...], tuple[Bundle, SwapContext]] = OrderedDict()
_CONTEXTS_LOCK = threading.Lock()
_CONTEXTS_KEPT = 8


_Later = tuple[str, str, int, frozenset[Row], list[Row]]
"""A later published block whose history reaches back into the swap's: (block_id, the run of its current
version, that version's number, its cells, the published shifts of the days before it)."""


def _context(
    bundle: Bundle,
    block_id: str,
    run_id: str,
    number: int,
    cells: Iterable[Row],
    history: list[Row],
    following: Iterable[_Later] = (),
) -> SwapContext:
    """The swap context of the block's version ``number`` (made by run ``run_id``) with ``history`` and the
    ``following`` blocks, shared by the checks of this process while those versions are current: building one
    is most of a check's time, and the re-check of an execution runs under the block's lock. The bundle is kept
    with it, so its id stays its own."""
    later = tuple(following)
    key = (
        id(bundle),
        block_id,
        run_id,
        frozenset(history),
        tuple((b, r, frozenset(h)) for b, r, _, _, h in later),
    )
    with _CONTEXTS_LOCK:
        kept = _CONTEXTS.get(key)
        if kept is not None:
            _CONTEXTS.move_to_end(key)
            return kept[1]
    context = context_from(bundle, block_id, number, cells, history, [(b, n, c, h) for b, _, n, c, h in later])
    with _CONTEXTS_LOCK:
        _CONTEXTS[key] = (bundle, context)
        while len(_CONTEXTS) > _CONTEXTS_KEPT:
            _CONTEXTS.popitem(last=False)
    return context


class SwapRefused(InfeasibleError):
    """A swap the hard rules forbid (exit 3): ``findings`` are the findings.csv rows that forbid it (empty when
    the schedule no longer allows it at all, e.g. the shift was given to someone else meanwhile)."""

    def __init__(self, findings: list[dict[str, Any]], message: str | None = None, *, swap_id: int | None = None):
        self.findings = list(findings)
        self.swap_id = swap_id
        super().__init__(message if message is not None else explain(self.findings))


@dataclass(frozen=True)
class SwapView:
    """One request as ``rotaflow swap list --json`` prints it."""

    id: int
    kind: str
    state: str
    person_id: str
    date: dt.date
    shift_id: str
    with_person_id: str | None
    take_date: dt.date | None
    take_shift_id: str | None
    created_at: dt.datetime
    executed_at: dt.datetime | None
    version: int | None
    reason: str | None
    block_id: str
    accepted_by: str | None
    note: str | None
    undo_version: int | None
    out_dir: str | None

    @classmethod
    def of(cls, row: SwapRequest, program_key: str) -> SwapView:
        folder = None
        if row.state in ("executed", "undone"):
            folder = str(_out_dir(program_key, row.block_id, row.id, undo=row.state == "undone"))
        return cls(
            id=row.id,
            kind=row.kind,
            state=row.state,
            person_id=row.person_id,
            date=row.date,
            shift_id=row.shift_id,
            with_person_id=row.with_person_id,
            take_date=row.take_date,
            take_shift_id=row.take_shift_id,
            created_at=_aware(row.created_at),
            executed_at=_aware(row.executed_at) if row.executed_at else None,
            version=row.version,
            reason=row.reason,
            block_id=row.block_id,
            accepted_by=row.accepted_by,
            note=row.note,
            undo_version=row.undo_version,
            out_dir=folder,
        )

    def as_dict(self) -> dict[str, Any]:
        """FORMATS' keys first, in its order, then the board's own; dates and times as ISO strings."""
        return {
            "id": self.id,
            "kind": self.kind,
            "state": self.state,
            "person_id": self.person_id,
            "date": self.date.isoformat(),
            "shift_id": self.shift_id,
            "with_person_id": self.with_person_id,
            "take_date": self.take_date.isoformat() if self.take_date else None,
            "take_shift_id": self.take_shift_id,
            "created_at": self.created_at.isoformat(),
            "executed_at": self.executed_at.isoformat() if self.executed_at else None,
            "version": self.version,
            "reason": self.reason,
            "block_id": self.block_id,
            "accepted_by": self.accepted_by,
            "note": self.note,
            "undo_version": self.undo_version,
            "out_dir": self.out_dir,
        }


# --------------------------------------------------------------------------- small helpers


def _aware(value: dt.datetime) -> dt.datetime:
    """A time read back from SQLite (stored in UTC, no offset) made aware."""
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def _out_dir(program_key: str, block_id: str, swap_id: int, *, undo: bool = False) -> Path:
    name = f"{program_key}-{block_id}-swap-{swap_id}" + ("-undo" if undo else "")
    return Path(get_settings().var_dir) / "runs" / name


def _spec(row: SwapRequest) -> SwapSpec:
    return SwapSpec(
        person_id=row.person_id,
        date=row.date,
        shift_id=row.shift_id,
        with_person_id=row.with_person_id,
        take_date=row.take_date,
        take_shift_id=row.take_shift_id,
    )


def _unknown(swap_id: int) -> InputError:
    return InputError([Problem("command line", None, "ID", "the id of a swap request", str(swap_id))])


def _wrong_state(row: SwapRequest, action: str, allowed: Iterable[str]) -> InputError:
    expected = f"a swap request that can be {action} (state {' or '.join(allowed)})"
    return InputError([Problem("command line", None, "ID", expected, f"swap {row.id} is {row.state}")])


def _problems_text(error: InputError) -> str:
    """An InputError's problems in a line (they name options and ids, never personal data)."""
    return "; ".join(f"{p.expected}, got {p.got}" if p.got is not None else p.expected for p in error.problems)


def _lock_request(s: Session, swap_id: int) -> SwapRequest:
    row = SwapRequestRepository(s).lock(swap_id)
    if row is None:
        raise _unknown(swap_id)
    return row


def _has_passed(row: SwapRequest, timezone: str, now: dt.datetime) -> bool:
    """Whether the request's day (the earlier of its two, for a trade) is before today where the program is."""
    first = min(d for d in (row.date, row.take_date) if d is not None)
    return first < program_today(timezone, now=now)


def _started(instance: Instance, spec: SwapSpec, now: dt.datetime) -> tuple[str, dt.date, str, dt.datetime] | None:
    """The first shift the swap moves that has started by ``now`` (its slot's start at or before it), as (option,
    date, shift, start), or None: a shift that has begun is never moved, even on a day that is still today."""
    moved = [("--date", spec.date, spec.shift_id)]
    if spec.take_date is not None and spec.take_shift_id is not None:
        moved.append(("--take-date", spec.take_date, spec.take_shift_id))
    for option, date, shift in moved:
        if shift not in instance.shift:  # an unknown shift is refused by the checks, not here
            continue
        start = instance.slot(instance.day_index(date), shift).start
        if start <= now:
            return option, date, shift, start
    return None


def _started_text(found: tuple[str, dt.date, str, dt.datetime]) -> str:
    _, date, shift, start = found
    return f"{shift} on {date.isoformat()} started at {start.astimezone(dt.UTC):%Y-%m-%d %H:%M} UTC"


def _expire_started(uow: UnitOfWork, row: SwapRequest, instance: Instance, now: dt.datetime) -> InputError | None:
    """An open request one of whose shifts has started is marked expired (committed); the error naming ID that
    says so, or None when every shift it moves is still ahead."""
    found = _started(instance, _spec(row), now)
    if found is None:
        return None
    _close(uow.s, row, "expired", f"{_started_text(found)} before the swap ran", now, "rotaflow swap")
    uow.commit()
    expected = "a swap whose shifts have not started"
    return InputError(
        [Problem("command line", None, "ID", expected, f"swap {row.id} is expired: {_started_text(found)}")]
    )


def _audit(s: Session, row: SwapRequest, action: str, actor: str, version: int | None = None, **details: Any) -> None:
    """An audit entry of the request (ids and counts only)."""
    AuditRepository(s).record(
        actor=actor,
        action=action,
        entity="swap_requests",
        entity_key=str(row.id),
        program_id=row.program_id,
        version=version,
        details={"swap": row.id, "kind": row.kind, "block_id": row.block_id, "state": row.state, **details},
    )


def _close(s: Session, row: SwapRequest, state: str, reason: str | None, now: dt.datetime, actor: str) -> None:
    row.state, row.closed_at = state, now
    if reason is not None:
        row.reason = reason
    action = {"refused": "swap_refuse", "rejected": "swap_reject", "cancelled": "swap_cancel", "expired": "swap_expire"}
    _audit(s, row, action[state], actor)


def _expire_if_passed(s: Session, row: SwapRequest, timezone: str, now: dt.datetime) -> bool:
    """Mark an open request whose day has passed as expired (the caller commits)."""
    if row.state in OPEN_STATES and _has_passed(row, timezone, now):
        _close(s, row, "expired", None, now, "rotaflow swap")
        return True
    return False


def _program(s: Session, program_id: int) -> Program:
    program = s.get(Program, program_id)
    assert program is not None  # a foreign key
    return program


# --------------------------------------------------------------------------- reading


def get_swap(engine: Engine, swap_id: int) -> SwapView:
    """One request (``InputError`` naming the id when there is none)."""
    with UnitOfWork(engine) as uow:
        row = uow.s.get(SwapRequest, swap_id)
        if row is None:
            raise _unknown(swap_id)
        return SwapView.of(row, _program(uow.s, row.program_id).key)


def list_swaps(engine: Engine, program_key: str, *, state: str | None = None) -> list[SwapView]:
    """The program's requests, oldest first (only those in ``state`` when given); open requests whose day has
    passed are marked expired first."""
    if state is not None and state not in STATES:
        raise InputError([Problem("command line", None, "--status", f"one of {', '.join(STATES)}", state)])
    now = utcnow()
    with UnitOfWork(engine) as uow:
        s = uow.s
        program = ScheduleRepository(s).find_program(program_key)
        if program is None:
            return []
        requests = SwapRequestRepository(s)
        open_rows = requests.in_states(program.id, OPEN_STATES)
        if any(_has_passed(r, program.timezone, now) for r in open_rows):
            for row in open_rows:
                if _has_passed(row, program.timezone, now):
                    _expire_if_passed(s, _lock_request(s, row.id), program.timezone, now)
            uow.commit()
        return [SwapView.of(r, program.key) for r in requests.of_program(program.id, state=state)]


def program_of(engine: Engine, swap_id: int) -> tuple[str, str]:
    """The request's program key and the bundle source its program was last ingested from."""
    with UnitOfWork(engine) as uow:
        row = uow.s.get(SwapRequest, swap_id)
        if row is None:
            raise _unknown(swap_id)
        program = _program(uow.s, row.program_id)
        source = ProgramRepository(uow.s).latest_source(program.id)
        return program.key, source or ""


# --------------------------------------------------------------------------- filing


def request_swap(
    engine: Engine, bundle: Bundle, spec: SwapSpec, *, note: str | None = None, now: dt.datetime | None = None
) -> SwapView:
    """File a request, checked at once against every hard rule as if executed on the block's published version.

    A legal one is ``requested`` (a give-away or a trade waits for its named partner, an open offer for anyone);
    an illegal one is recorded as ``refused`` with the findings in words, and :class:`SwapRefused` is raised.
    Bad input (an unknown date, a shift the person does not work, …) raises ``InputError`` and records nothing.
    """
    now = now or utcnow()
    block_id = block_of(bundle, spec.date)
    today = program_today(bundle.program.timezone, now=now)
    for option, date in (("--date", spec.date), ("--take-date", spec.take_date)):
        if date is not None and date < today:
            got = f"{date.isoformat()} has passed"
            raise InputError([Problem("command line", None, option, "a day that has not passed", got)])
    with UnitOfWork(engine) as uow:
        program = ScheduleRepository(uow.s).find_program(bundle.program.key)
        block = None if program is None else _block_row(uow.s, program.id, block_id)
        found = None if program is None or block is None else _published(uow.s, program, block)
        if program is None or block is None or found is None:
            swap_context(engine, bundle, block_id)  # says that nothing of the block is published
            raise AssertionError("unreachable: swap_context refuses a block with no published version")
        context = _block_context(uow.s, bundle, program, block, found[1])
    findings: list[dict[str, Any]] = []
    if spec.kind == "offer":
        if (spec.person_id, spec.date, spec.shift_id) not in context.cells:
            day = spec.date.isoformat()
            got = f"{spec.person_id} does not work {spec.shift_id} on {day} in version {context.version}"
            raise InputError([Problem("command line", None, "--person/--date/--shift", "a published shift", got)])
    else:
        taker = str(spec.with_person_id)
        swapped(context.cells, spec, taker)  # InputError when the swap cannot be made at all
        findings = check_swap(context, spec, taker)
    started = _started(context.instance, spec, now)
    if started is not None:
        option = started[0]
        got = _started_text(started)
        raise InputError([Problem("command line", None, option, "a shift that has not started", got)])
    with UnitOfWork(engine) as uow:
        s = uow.s
        program = ScheduleRepository(s).program(bundle.program.key)
        row = SwapRequest(
            program_id=program.id,
            block_id=block_id,
            kind=spec.kind,
            state="requested",
            person_id=spec.person_id,
            date=spec.date,
            shift_id=spec.shift_id,
            with_person_id=spec.with_person_id,
            take_date=spec.take_date,
            take_shift_id=spec.take_shift_id,
            note=note,
            based_on=context.version,
            created_at=now,
        )
        s.add(row)
        s.flush()
        _audit(s, row, "swap_request", f"rotaflow swap ({spec.person_id})", findings=len(findings))
        if findings:
            _close(s, row, "refused", explain(findings), now, "rotaflow swap")
        uow.commit()
        view = SwapView.of(row, program.key)
    if findings:
        raise SwapRefused(findings, swap_id=view.id)
    return view


# --------------------------------------------------------------------------- execution


@dataclass
class _Checked:
    """A swap re-checked inside the block's lock: the version it starts from, its context and its cells."""

    latest: BlockVersion
    base: PublishedVersion
    context: SwapContext
    cells: frozenset[Row]


@dataclass
class _Refusal:
    """Why a swap cannot run: the findings that forbid it, or the problems that make it impossible."""

    findings: list[dict[str, Any]]
    reason: str
    error: InputError | None = None


@dataclass
class _Made:
    """A version a swap (or its undo) published, and what the files after the commit need."""

    program_key: str
    block_id: str
    base: PublishedVersion
    cells: frozenset[Row]
    number: int
    instance: Instance
    rows: list[dict[str, Any]]
    reference: str


def _open(s: Session, bundle: Bundle | None, swap_id: int) -> tuple[SwapRequest, Program, Block]:
    """The request, its program and its block, locked in that order (the block's row first, as every publish
    of the block does, then the request's), so that two transactions never wait on each other in a circle."""
    first = s.get(SwapRequest, swap_id)
    if first is None:
        raise _unknown(swap_id)
    program = _program(s, first.program_id)
    if bundle is not None and bundle.program.key != program.key:
        got = f"program {bundle.program.key}, and swap {swap_id} belongs to {program.key}"
        raise InputError([Problem("command line", None, "--program", "the bundle of the swap's program", got)])
    block = ScheduleRepository(s).lock_block(program.id, first.block_id, write_lock=True)
    return _lock_request(s, swap_id), program, block


def _published(s: Session, program: Program, block: Block) -> tuple[BlockVersion, PublishedVersion] | None:
    """The block's current version (read inside the block's lock), or None when nothing of it is published."""
    versions = VersionRepository(s)
    latest = versions.latest(program.id, block.block_id)
    if latest is None:
        return None
    stored = {
        (a.person_id, a.date, a.shift_id): StoredRow(a.source, a.uid, a.sequence)
        for a in versions.rows(latest.run_id)
        if a.deleted_at is None
    }
    used = versions.uids_between(program.id, block.start_date, block.end_date)
    return latest, PublishedVersion(latest.version, latest.run_id, latest.status, stored, frozenset(used))


def _lock_rows(s: Session, program_id: int, run_id: str, rows: Iterable[Row]) -> None:
    """``SELECT … FOR UPDATE`` of the published assignment rows the swap moves (PostgreSQL; SQLite ignores it)."""
    ScheduleRepository(s).lock_published_cells(program_id, run_id, rows)


def _moved(spec: SwapSpec, taker: str) -> set[Row]:
    """The published rows the swap takes away: P's shift, and for a trade the taker's shift P takes back."""
    rows = {(spec.person_id, spec.date, spec.shift_id)}
    if spec.take_date is not None and spec.take_shift_id is not None:
        rows.add((taker, spec.take_date, spec.take_shift_id))
    return rows


def _given(spec: SwapSpec, taker: str) -> set[Row]:
    """The rows the swap adds: the taker's new shift, and for a trade P's."""
    rows = {(taker, spec.date, spec.shift_id)}
    if spec.take_date is not None and spec.take_shift_id is not None:
        rows.add((spec.person_id, spec.take_date, spec.take_shift_id))
    return rows


def _block_row(s: Session, program_id: int, block_id: str, *, lock: bool = False) -> Block | None:
    """The block's row (``SELECT … FOR UPDATE`` with ``lock``), or None when the database has no such block."""
    return ScheduleRepository(s).block(program_id, block_id, lock=lock)


def _following(s: Session, bundle: Bundle, program: Program, block: Block, *, lock: bool) -> list[_Later]:
    """The later published blocks whose history reaches back into ``block`` (``following_blocks``), each with
    its current version and the published shifts before it. With ``lock`` their rows are locked too, after the
    block's own, in date order (as every execution takes them, so two never wait on each other in a circle): a
    swap in one of them, or in this block, waits for the other to end."""
    repository = ScheduleRepository(s)
    out: list[_Later] = []
    for later_id in following_blocks(bundle, block.block_id):
        later = _block_row(s, program.id, later_id, lock=lock)
        found = None if later is None else _published(s, program, later)
        if later is None or found is None:
            continue
        since = later.start_date - dt.timedelta(days=HISTORY_DAYS)
        history = repository.published_history(program.id, since, later.start_date)
        out.append((later_id, found[0].run_id, found[1].number, frozenset(found[1].cells), history))
    return out


def _block_context(
    s: Session, bundle: Bundle, program: Program, block: Block, base: PublishedVersion, *, lock: bool = False
) -> SwapContext:
    """The (shared) swap context of the block's version ``base``, with the published history before the block
    and the later published blocks whose windows reach back into it (locked with ``lock``)."""
    since = block.start_date - dt.timedelta(days=HISTORY_DAYS)
    history = ScheduleRepository(s).published_history(program.id, since, block.start_date)
    following = _following(s, bundle, program, block, lock=lock)
    return _context(bundle, block.block_id, base.run_id, base.number, base.cells, history, following)


def _check(
    s: Session, bundle: Bundle, program: Program, block: Block, spec: SwapSpec, taker: str
) -> _Checked | _Refusal:
    """Inside the block's lock: lock the rows the swap moves and check it against the block's current version
    (history included): the cells it makes, or why it cannot run."""
    found = _published(s, program, block)
    if found is None:
        return _Refusal([], f"block {block.block_id} has no published version")
    latest, base = found
    _lock_rows(s, program.id, latest.run_id, _moved(spec, taker))
    context = _block_context(s, bundle, program, block, base, lock=True)
    try:
        cells = swapped(context.cells, spec, taker)
    except InputError as error:
        return _Refusal([], f"no longer possible on version {base.number}: {_problems_text(error)}", error)
    findings = check_swap(context, spec, taker)
    if findings:
        return _Refusal(findings, explain(findings))
    return _Checked(latest, base, context, frozenset(cells))


def _publish(
    s: Session,
    program: Program,
    block: Block,
    checked: _Checked,
    *,
    actor: str,
    reference: str,
    kind: str,
    swap_id: int,
    restored: dict[Row, str] | None = None,
) -> _Made:
    """Inside the block's lock: a schedule run and the checked cells as the block's next version (reason swap).
    The rows it adds are ``manual`` (placed by hand), but those an undo puts back (``restored``) keep the source
    they had before the swap."""
    instance = copy.copy(checked.context.instance)  # the context may be shared: its instance stays as it is
    instance.meta = dict(instance.meta)
    number = VersionRepository(s).next_number(program.id, block.block_id)
    start_from(instance, checked.base, number)
    instance.meta.update(reason="swap", reference=reference)
    run_id = str(uuid.uuid4())
    summary = {"swap": swap_id, "kind": kind, "reference": reference}
    s.add(
        ScheduleRun(
            id=run_id,
            program_id=program.id,
            version=program.current_version,
            block_id=block.block_id,
            status="published",
            summary=summary,
            finished_at=utcnow(),
        )
    )
    s.flush()
    cells = [(p, (d - instance.start).days, sh) for p, d, sh in sorted(checked.cells)]
    before = checked.base.cells if checked.base is not None else set()
    back = {(p, (d - instance.start).days, sh): source for (p, d, sh), source in (restored or {}).items()}
    added = {(p, (d - instance.start).days, sh) for p, d, sh in set(checked.cells) - before}
    instance.meta["manual_cells"] = added - set(back)
    instance.meta["restored_sources"] = back
    _, _, number = publish_cells(
        s,
        program_key=program.key,
        program_id=program.id,
        block=block,
        instance=instance,
        cells=cells,
        run_id=run_id,
        program_version=program.current_version,
        actor=actor,
        reason="swap",
        note=None,
        reference=reference,
        current=checked.latest,
    )
    rows = assignment_rows(instance, cells)
    return _Made(program.key, block.block_id, checked.base, checked.cells, number, instance, rows, reference)


def _write_files(bundle: Bundle, made: _Made, folder: Path, touched: set[str], now: dt.datetime) -> None:
    """changes.csv, changes.html and the calendars of the people the swap touches, into ``folder``."""
    folder = claim_out_dir(folder)
    changes = change_rows(
        made.base.cells,
        made.cells,
        from_version=made.base.number,
        to_version=made.number,
        reason="swap",
        reference=made.reference,
    )
    files = write_changes(
        folder,
        changes,
        program=made.program_key,
        block_id=made.block_id,
        from_version=made.base.number,
        to_version=made.number,
        reason="swap",
        reference=made.reference,
    )
    # Identities are decided per person (calendars.calendar_identities): those of the touched people alone are
    # the ones publish_cells stored for them.
    old = {row: ident for row, ident in made.base.identities(made.program_key).items() if row[0] in touched}
    by_cell = {(r["person_id"], dt.date.fromisoformat(r["date"]), r["shift_id"]): r for r in made.rows}
    mine = {cell: row for cell, row in by_cell.items() if cell[0] in touched}
    identities, cancelled = calendar_identities(made.program_key, made.number, old, mine, retired=made.base.retired)
    events = [{**row, "uid": identities[cell][0], "sequence": identities[cell][1]} for cell, row in mine.items()]
    instance = made.instance
    gone = []
    for (person, date, shift), (uid, sequence) in cancelled.items():
        (row,) = assignment_rows(instance, [(person, (date - instance.start).days, shift)])
        gone.append({**row, "uid": uid, "sequence": sequence})
    people = bundle.frames["people"]
    names = dict(zip(people["person_id"], people["name"], strict=True))
    texts = calendar_files(
        events,
        gone,
        timezone=instance.timezone,
        block_id=made.block_id,
        names=names,
        dtstamp=now,
        labels=CalendarLabels.of_bundle(bundle),
    )
    calendars = private_dir(folder / "calendars")
    files += [write_private(calendars / f"{person}.ics", text) for person, text in sorted(texts.items())]
    record_run_files(folder, files)


def _refuse(uow: UnitOfWork, row: SwapRequest, refusal: _Refusal, now: dt.datetime) -> SwapRefused:
    """Record the request as refused with the reason (committed) and the error that says so."""
    _close(uow.s, row, "refused", refusal.reason, now, "rotaflow swap")
    uow.commit()
    return SwapRefused(refusal.findings, refusal.reason, swap_id=row.id)


def _execute(
    uow: UnitOfWork,
    bundle: Bundle,
    row: SwapRequest,
    program: Program,
    block: Block,
    now: dt.datetime,
    who: str,
    checked: _Checked | _Refusal | None = None,
) -> tuple[SwapView, _Made]:
    """Re-check (unless ``checked`` already is, in this transaction) and publish the request (its taker:
    ``accepted_by``), record it executed, commit. A re-check that fails: the request is refused (committed)."""
    s = uow.s
    if checked is None:
        checked = _check(s, bundle, program, block, _spec(row), str(row.accepted_by))
    if isinstance(checked, _Refusal):
        raise _refuse(uow, row, checked, now)
    expired = _expire_started(uow, row, checked.context.instance, now)
    if expired is not None:
        raise expired
    reference = f"swap {row.id}"
    actor = f"rotaflow swap ({who})"
    made = _publish(s, program, block, checked, actor=actor, reference=reference, kind=row.kind, swap_id=row.id)
    row.state, row.based_on, row.version, row.executed_at = "executed", made.base.number, made.number, now
    row.reason = None
    changed = len(made.base.cells ^ made.cells)
    _audit(s, row, "swap_execute", actor, made.number, from_version=made.base.number, changed=changed)
    uow.commit()
    return SwapView.of(row, program.key), made


def _after(bundle: Bundle, view: SwapView, made: _Made, now: dt.datetime, *, undo: bool = False) -> SwapView:
    """The files of a committed swap (or undo). The swap has run whatever happens here: a folder that cannot be
    written is logged (ids only) and the view says so with ``out_dir`` None, rather than failing the command."""
    touched = {view.person_id} | ({view.accepted_by} if view.accepted_by else set())
    try:
        _write_files(bundle, made, _out_dir(made.program_key, made.block_id, view.id, undo=undo), touched, now)
    except (OSError, RotaflowError) as error:
        what = "undo of swap" if undo else "swap"
        _log.warning(
            "%s %s of %s block %s is version %s, but its files were not written (%s)",
            what,
            view.id,
            made.program_key,
            made.block_id,
            made.number,
            type(error).__name__,
        )
        return dataclasses.replace(view, out_dir=None)
    return view


# --------------------------------------------------------------------------- the request's life


def accept_swap(engine: Engine, bundle: Bundle, swap_id: int, by: str, *, now: dt.datetime | None = None) -> SwapView:
    """``by`` accepts the request: the partner a give-away or a trade names, or for an open offer anyone the rules
    allow (checked for ``by``: :class:`SwapRefused` when illegal, and the offer stays open for others).

    With ``swaps.approval: none`` the swap executes at once; with ``coordinator`` it waits, ``accepted``, for
    :func:`approve_swap`. A named partner's swap the rules no longer allow is ``refused``.
    """
    now = now or utcnow()
    with UnitOfWork(engine) as uow:
        s = uow.s
        row, program, block = _open(s, bundle, swap_id)
        if _expire_if_passed(s, row, program.timezone, now):
            uow.commit()
        if row.state != "requested":
            raise _wrong_state(row, "accepted", ("requested",))
        people = set(bundle.frames["people"]["person_id"])
        if row.kind != "offer" and by != row.with_person_id:
            expected = f"the partner swap {row.id} names ({row.with_person_id})"
            raise InputError([Problem("command line", None, "--by", expected, by)])
        if by not in people or by == row.person_id:
            expected = "a person of the program other than the one who offers the shift"
            raise InputError([Problem("command line", None, "--by", expected, by)])
        row.accepted_by, row.accepted_at = by, now
        checked = _check(s, bundle, program, block, _spec(row), by)
        if isinstance(checked, _Refusal) and row.kind == "offer":
            # the offer stays open for someone else, unless the shift itself is no longer P's to give
            if checked.error is not None and any(p.column == "--by" for p in checked.error.problems):
                raise checked.error
            if checked.findings:
                raise SwapRefused(checked.findings, checked.reason, swap_id=row.id)
        if bundle.program.swaps.approval == "none":
            view, made = _execute(uow, bundle, row, program, block, now, by, checked)
        else:
            if isinstance(checked, _Refusal):
                raise _refuse(uow, row, checked, now)
            expired = _expire_started(uow, row, checked.context.instance, now)
            if expired is not None:
                raise expired
            row.state = "accepted"
            _audit(s, row, "swap_accept", f"rotaflow swap ({by})")
            uow.commit()
            return SwapView.of(row, program.key)
    return _after(bundle, view, made, now)


def approve_swap(engine: Engine, bundle: Bundle, swap_id: int, *, now: dt.datetime | None = None) -> SwapView:
    """The coordinator approves an accepted request: it executes (re-checked against the block as it is now;
    ``refused`` and :class:`SwapRefused` when the rules no longer allow it)."""
    now = now or utcnow()
    with UnitOfWork(engine) as uow:
        s = uow.s
        row, program, block = _open(s, bundle, swap_id)
        if _expire_if_passed(s, row, program.timezone, now):
            uow.commit()
        if row.state != "accepted":
            raise _wrong_state(row, "approved", ("accepted",))
        row.approved_at = now
        view, made = _execute(uow, bundle, row, program, block, now, "coordinator")
    return _after(bundle, view, made, now)


def _close_by_hand(engine: Engine, swap_id: int, state: str, reason: str | None, now: dt.datetime | None) -> SwapView:
    now = now or utcnow()
    action = {"rejected": "rejected", "cancelled": "cancelled"}[state]
    with UnitOfWork(engine) as uow:
        s = uow.s
        row = _lock_request(s, swap_id)
        program = _program(s, row.program_id)
        if _expire_if_passed(s, row, program.timezone, now):
            uow.commit()
        allowed = ("requested", "accepted")
        if row.state not in allowed:
            raise _wrong_state(row, action, allowed)
        _close(s, row, state, reason, now, "rotaflow swap")
        uow.commit()
        return SwapView.of(row, program.key)


def reject_swap(engine: Engine, swap_id: int, reason: str, *, now: dt.datetime | None = None) -> SwapView:
    """The coordinator rejects a request not yet executed; ``reason`` is kept with it."""
    return _close_by_hand(engine, swap_id, "rejected", reason, now)


def cancel_swap(engine: Engine, swap_id: int, *, now: dt.datetime | None = None) -> SwapView:
    """The request is withdrawn before it executed."""
    return _close_by_hand(engine, swap_id, "cancelled", None, now)


def _sources_before(s: Session, program: Program, block: Block, row: SwapRequest, rows: set[Row]) -> dict[Row, str]:
    """The sources ``rows`` had in the version the swap was made from (``based_on``): an undo puts them back as
    they were (``solver``, ``pinned``, ``manual``), not as placed by hand."""
    before = VersionRepository(s).get(program.id, block.block_id, row.based_on) if row.based_on else None
    if before is None:
        return {}
    stored = {(a.person_id, a.date, a.shift_id): a.source for a in VersionRepository(s).rows(before.run_id)}
    return {cell: stored[cell] for cell in rows if cell in stored}


def undo_swap(engine: Engine, bundle: Bundle, swap_id: int, *, now: dt.datetime | None = None) -> SwapView:
    """Publish the inverse of an executed swap as the block's next version (reference ``undo of swap <id>``).

    Only within ``swaps.undo_hours`` of its execution (``InputError`` otherwise), and only when no later
    version changed a row it touched (every row it added still there, every row it removed still absent) and
    the inverse passes the rules: :class:`SwapRefused` with the reason otherwise; the request stays executed.
    """
    now = now or utcnow()
    with UnitOfWork(engine) as uow:
        s = uow.s
        row, program, block = _open(s, bundle, swap_id)
        if row.state != "executed" or row.executed_at is None or row.accepted_by is None:
            raise _wrong_state(row, "undone", ("executed",))
        spec, taker = _spec(row), row.accepted_by
        today = program_today(bundle.program.timezone, now=now)
        first = min(d for d in (spec.date, spec.take_date) if d is not None)
        if first < today:  # a day already worked is never changed
            expected = "a swap whose shifts are all still ahead"
            got = f"swap {row.id} moved a shift on {first.isoformat()}, before today ({today.isoformat()})"
            raise InputError([Problem("command line", None, "ID", expected, got)])
        found = _published(s, program, block)
        if found is not None:  # the context the re-check below reads too (shared): its instance has the slots
            started = _started(_block_context(s, bundle, program, block, found[1]).instance, spec, now)
            if started is not None:
                expected = "a swap whose shifts have not started"
                got = f"swap {row.id} moved {_started_text(started)}"
                raise InputError([Problem("command line", None, "ID", expected, got)])
        hours = bundle.program.swaps.undo_hours
        executed = _aware(row.executed_at)
        if now - executed > dt.timedelta(hours=hours):
            expected = f"a swap executed within the last {hours:g} hour(s) (swaps.undo_hours)"
            got = f"swap {row.id} was executed at {executed.astimezone(dt.UTC):%Y-%m-%d %H:%M} UTC"
            raise InputError([Problem("command line", None, "ID", expected, got)])
        current = found[1].cells if found else set()
        changed = sorted((_given(spec, taker) - current) | (_moved(spec, taker) & current))
        if changed:
            at = found[1].number if found else "none"
            shown = ", ".join(f"{p} {d.isoformat()} {sh}" for p, d, sh in changed)
            raise SwapRefused(
                [],
                f"a later version ({at}) changed the rows swap {row.id} moved ({shown}); undo it by hand",
                swap_id=row.id,
            )
        inverse = SwapSpec(
            person_id=taker,
            date=spec.date,
            shift_id=spec.shift_id,
            with_person_id=spec.person_id,
            take_date=spec.take_date,
            take_shift_id=spec.take_shift_id,
        )
        checked = _check(s, bundle, program, block, inverse, spec.person_id)
        if isinstance(checked, _Refusal):
            raise SwapRefused(checked.findings, f"undo of swap {row.id} refused: {checked.reason}", swap_id=row.id)
        actor = "rotaflow swap (undo)"
        reference = f"undo of swap {row.id}"
        restored = _sources_before(s, program, block, row, _moved(spec, taker))
        made = _publish(
            s,
            program,
            block,
            checked,
            actor=actor,
            reference=reference,
            kind=row.kind,
            swap_id=row.id,
            restored=restored,
        )
        row.state, row.undo_version, row.undone_at = "undone", made.number, now
        _audit(s, row, "swap_undo", actor, made.number, from_version=made.base.number)
        uow.commit()
        view = SwapView.of(row, program.key)
    return _after(bundle, view, made, now, undo=True)
