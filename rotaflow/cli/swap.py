"""``rotaflow swap …``: shift swaps between people of a published block (docs/coordinators.md, “Shift swaps”).

A request is checked at once against every hard rule as if executed; an illegal one is recorded as
refused and the command exits 3 with the findings in words on standard error. ``accept``, ``approve`` and
``undo`` re-check the rules against the schedule as it is then and publish a new version of the block. The
bundle they read must be the one the program was last ingested from, unchanged since (exit 2 otherwise).
Output names people by their person_id only, never by name or email.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator
from typing import TYPE_CHECKING, Annotated

import typer
from rich import box
from rich.markup import escape
from rich.table import Table

from rotaflow.cli import app, examples, json_help, option_problem, out, print_json, refuse_credentials
from rotaflow.configs.settings import get_settings
from rotaflow.errors import InputError

if TYPE_CHECKING:
    from rotaflow.db.session import Engine
    from rotaflow.services.swap_board import SwapView
    from rotaflow.services.swaps import Candidates
    from rotaflow.validations.bundle import Bundle

swap_app = typer.Typer(
    help="Shift swaps: request, find partners, accept, approve, undo.",
    epilog=examples(
        "rotaflow swap request -p bundle/ --person R1 --date 2027-07-09 --shift NIGHT",
        "rotaflow swap list --status requested",
    ),
    no_args_is_help=True,
)
app.add_typer(swap_app, name="swap")

VIEW_SHAPE = (
    "{id, kind, state, person_id, date, shift_id, with_person_id, take_date, take_shift_id, created_at, "
    "executed_at, version, reason, block_id, accepted_by, note, undo_version, out_dir}"
)
"""The JSON object of one request (``SwapView.as_dict``)."""

STATE_NAMES = ("requested", "accepted", "approved", "executed", "undone", "refused", "rejected", "cancelled", "expired")
"""The states ``swap list --status`` takes (``rotaflow.services.swap_board.STATES``, not imported here: the
command line starts without the services)."""

ProgramOption = Annotated[str, typer.Option("--program", "-p", help="bundle folder, .zip or s3://bucket/prefix")]
LastProgramOption = Annotated[
    str | None,
    typer.Option(
        "--program", "-p", help="bundle folder, .zip or s3://… (default: the one the program was last ingested from)"
    ),
]
PersonOption = Annotated[
    str, typer.Option("--person", "--person-id", help="person_id (people.csv) of who gives the shift")
]
DateOption = Annotated[str, typer.Option("--date", help="the day the shift starts, YYYY-MM-DD")]
ShiftOption = Annotated[str, typer.Option("--shift", "--shift-id", help="shift_id from shifts.csv")]
IdArgument = Annotated[int, typer.Argument(help="the swap request's id", show_default=False)]
ViewJson = Annotated[bool, typer.Option("--json", help=json_help(f"the request afterwards: {VIEW_SHAPE}"))]


def _date(option: str, value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value.strip())
    except ValueError:
        raise InputError([option_problem(option, "a date (YYYY-MM-DD)", value)]) from None


def _bundle(program: str) -> Bundle:
    from rotaflow.services.ingest import load_bundle

    refuse_credentials(program)
    return load_bundle(program, settings=get_settings())


def _engine() -> Engine:
    from rotaflow.services.ingest import database_engine

    return database_engine(get_settings())


def _ingested(engine: Engine, bundle: Bundle, program: str) -> None:
    """``InputError`` naming ``--program`` when the bundle at ``program`` differs from the program's current
    ingested version: a swap runs under the rules (and swaps policy) the published schedule was made under."""
    from rotaflow.services.ingest import require_ingested

    require_ingested(engine, bundle, program)


def _person(bundle: Bundle, option: str, value: str) -> str:
    """``value`` stripped, or ``InputError`` naming ``option`` when it is no person_id of people.csv."""
    value = value.strip()
    if value not in {str(p) for p in bundle.frames["people"]["person_id"]}:
        raise InputError([option_problem(option, "a person_id of people.csv", value)])
    return value


def _shift(bundle: Bundle, option: str, value: str) -> str:
    known = [str(s) for s in bundle.frames["shifts"]["shift_id"]]
    value = value.strip()
    if value not in known:
        raise InputError([option_problem(option, "a shift_id of shifts.csv: " + ", ".join(known), value)])
    return value


def _swap_bundle(engine: Engine, swap_id: int, program: str | None) -> Bundle:
    """The bundle to check request ``swap_id`` against: ``program``, or the source its program was last
    ingested from; ``InputError`` naming ``--program`` when that bundle is another program's."""
    from rotaflow.services.swap_board import program_of

    key, source = program_of(engine, swap_id)
    if program is None:
        bundle = _bundle(source)
    else:
        bundle = _bundle(program)
        if bundle.program.key != key:
            raise InputError([option_problem("--program", f"the bundle of program {key} (swap {swap_id})", program)])
    _ingested(engine, bundle, source if program is None else program)
    return bundle


def _said(view: SwapView) -> str:
    """One line on where request ``view`` stands now."""
    head = f"swap {view.id} ({view.kind}, block {escape(view.block_id)})"
    if view.state == "requested":
        waiting = view.with_person_id or "anyone"
        return f"swap {view.id} filed ({view.kind}, waiting for {escape(waiting)})"
    if view.state == "accepted":
        who = f" by {escape(view.accepted_by)}" if view.accepted_by else ""
        return f"{head} accepted{who}, waiting for the coordinator: rotaflow swap approve {view.id}"
    if view.state == "approved":
        return f"{head} approved"
    if view.state == "executed":
        return f"{head} executed: published as version {view.version}"
    if view.state == "undone":
        return f"{head} undone: version {view.undo_version} restores the shifts of before version {view.version}"
    reason = f": {escape(view.reason)}" if view.reason else ""
    return f"{head} {view.state}{reason}"


@contextlib.contextmanager
def _refusal_shown(engine: Engine, *, as_json: bool) -> Iterator[None]:
    """A refused swap (exit 3): with ``--json`` the request as it stands now on standard output, and the
    findings in words on standard error, headed by the request's id."""
    from rotaflow.services.swap_board import SwapRefused, get_swap

    try:
        yield
    except SwapRefused as exc:
        if exc.swap_id is None:
            raise
        if as_json:
            print_json(get_swap(engine, exc.swap_id).as_dict())
        message = str(exc)
        if f"swap {exc.swap_id}" not in message:
            message = f"swap {exc.swap_id} refused:\n{message}" if message else f"swap {exc.swap_id} refused"
        raise SwapRefused(exc.findings, message, swap_id=exc.swap_id) from None


def _show(view: SwapView, as_json: bool) -> None:
    if as_json:
        print_json(view.as_dict())
        return
    out.print(_said(view), highlight=False, soft_wrap=True)
    if view.out_dir and view.state in ("executed", "undone"):
        out.print(f"changes and calendars: {escape(view.out_dir)}", highlight=False, soft_wrap=True)


@swap_app.command(
    "request",
    epilog=examples(
        "rotaflow swap request -p bundle/ --person R1 --date 2027-07-09 --shift NIGHT",
        "rotaflow swap request -p bundle/ --person R1 --date 2027-07-09 \\",
        "  --shift NIGHT --with R2 --take-date 2027-07-16 --take-shift NIGHT",
    ),
)
def swap_request(
    program: ProgramOption,
    person: PersonOption,
    date: DateOption,
    shift: ShiftOption,
    with_person: Annotated[
        str | None,
        typer.Option(
            "--with", "--with-person-id", help="person_id of the partner: a give-away to them, or a trade with --take-*"
        ),
    ] = None,
    take_date: Annotated[
        str | None, typer.Option("--take-date", help="a trade: the day of the partner's shift taken back, YYYY-MM-DD")
    ] = None,
    take_shift: Annotated[
        str | None,
        typer.Option("--take-shift", "--take-shift-id", help="a trade: the shift_id of the partner's shift taken back"),
    ] = None,
    note: Annotated[str | None, typer.Option("--note", help="a note kept with the request")] = None,
    as_json: ViewJson = False,
) -> None:
    """File a swap request after checking it against every hard rule: a trade (--with Q --take-date D2
    --take-shift S2), a give-away (--with Q) or an open offer (no --with); prints its id."""
    from rotaflow.services.swap_board import request_swap
    from rotaflow.services.swaps import SwapSpec, block_of

    day = _date("--date", date)
    if (take_date is None) != (take_shift is None):
        given, missing = ("--take-date", "--take-shift") if take_shift is None else ("--take-shift", "--take-date")
        raise InputError([option_problem(missing, f"a value (a trade takes both {given} and {missing})", "none")])
    if take_date is not None and with_person is None:
        raise InputError([option_problem("--with", "the partner whose shift --take-date/--take-shift take", "none")])
    back = None if take_date is None else _date("--take-date", take_date)
    bundle = _bundle(program)
    block_of(bundle, day, "--date")  # a date in no block is refused before the database is opened
    spec = SwapSpec(
        person_id=_person(bundle, "--person", person),
        date=day,
        shift_id=_shift(bundle, "--shift", shift),
        with_person_id=None if with_person is None else _person(bundle, "--with", with_person),
        take_date=back,
        take_shift_id=None if take_shift is None else _shift(bundle, "--take-shift", take_shift),
    )
    engine = _engine()
    try:
        _ingested(engine, bundle, program)
        with _refusal_shown(engine, as_json=as_json):
            view = request_swap(engine, bundle, spec, note=note)
    finally:
        engine.dispose()
    _show(view, as_json)


CANDIDATES_SHAPE = (
    "{takers: [{person_id, rank, giveaway, calls, nights, weekends, request, trade_backs: [{date, shift_id}]}], "
    "excluded: [{person_id, rule, message}]}"
)


@swap_app.command(
    "candidates",
    epilog=examples(
        "rotaflow swap candidates -p bundle/ --person R1 --date 2027-07-09 \\",
        "  --shift NIGHT --json",
    ),
)
def swap_candidates(
    program: ProgramOption,
    person: PersonOption,
    date: DateOption,
    shift: ShiftOption,
    as_json: Annotated[bool, typer.Option("--json", help=json_help(CANDIDATES_SHAPE))] = False,
) -> None:
    """List who could legally take a shift, ranked by fairness (calls, nights, weekends so far) and requests,
    with the shifts of theirs the giver could take back (someone busy that day may take it in a trade only);
    and why the others cannot (their first rule)."""
    from rotaflow.services.swaps import block_of, candidates, swap_context

    day = _date("--date", date)
    bundle = _bundle(program)
    giver, shift_id = _person(bundle, "--person", person), _shift(bundle, "--shift", shift)
    block_id = block_of(bundle, day, "--date")
    engine = _engine()
    try:
        _ingested(engine, bundle, program)
        context = swap_context(engine, bundle, block_id)
    finally:
        engine.dispose()
    found = candidates(context, giver, day, shift_id)
    if as_json:
        print_json(found.as_dict())
        return
    title = f"{bundle.program.key} block {block_id} v{context.version}: {giver}'s {shift_id} on {day.isoformat()}"
    _print_candidates(title, found)


def _print_candidates(title: str, found: Candidates) -> None:
    if not found.takers:
        out.print(f"{escape(title)}: nobody can take it legally", highlight=False, soft_wrap=True)
    else:
        table = Table(title=escape(title), box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)
        for name in ("rank", "person", "give-away", "calls", "nights", "weekends", "request"):
            table.add_column(name, no_wrap=True)
        table.add_column("trade-backs", overflow="fold")
        for taker in found.takers:
            backs = ", ".join(f"{d.isoformat()} {s}" for d, s in taker.trade_backs)
            table.add_row(
                str(taker.rank),
                escape(taker.person_id),
                "yes" if taker.giveaway else "trade only",
                str(taker.calls),
                str(taker.nights),
                str(taker.weekends),
                escape(taker.request or ""),
                escape(backs),
            )
        out.print(table, highlight=False)
    if found.excluded:
        excluded = Table(title="cannot take it", box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)
        excluded.add_column("person", no_wrap=True)
        excluded.add_column("first rule", no_wrap=True)
        excluded.add_column("why", overflow="fold")
        for person in found.excluded:
            excluded.add_row(escape(person.person_id), escape(person.rule), escape(person.message))
        out.print(excluded, highlight=False)


@swap_app.command(
    "accept", epilog=examples("rotaflow swap accept 12 --by R2", "rotaflow swap accept 12 --by R2 -p bundle/ --json")
)
def swap_accept(
    swap_id: IdArgument,
    by: Annotated[str, typer.Option("--by", "--accepted-by", help="person_id of who takes the shift")],
    program: LastProgramOption = None,
    as_json: ViewJson = False,
) -> None:
    """Accept a request as its partner (or, for an open offer, as anyone the rules allow); executes it at once
    unless the program requires the coordinator's approval (program.yaml swaps.approval)."""
    from rotaflow.services.swap_board import accept_swap

    engine = _engine()
    try:
        bundle = _swap_bundle(engine, swap_id, program)
        taker = _person(bundle, "--by", by)
        with _refusal_shown(engine, as_json=as_json):
            view = accept_swap(engine, bundle, swap_id, taker)
    finally:
        engine.dispose()
    _show(view, as_json)


@swap_app.command("approve", epilog=examples("rotaflow swap approve 12", "rotaflow swap approve 12 -p bundle/ --json"))
def swap_approve(swap_id: IdArgument, program: LastProgramOption = None, as_json: ViewJson = False) -> None:
    """Approve an accepted request (the coordinator): re-checks the rules and publishes a new version."""
    from rotaflow.services.swap_board import approve_swap

    engine = _engine()
    try:
        bundle = _swap_bundle(engine, swap_id, program)
        with _refusal_shown(engine, as_json=as_json):
            view = approve_swap(engine, bundle, swap_id)
    finally:
        engine.dispose()
    _show(view, as_json)


@swap_app.command("reject", epilog=examples('rotaflow swap reject 12 --reason "leaves the night uncovered"'))
def swap_reject(
    swap_id: IdArgument,
    reason: Annotated[str, typer.Option("--reason", help="why (kept with the request; no personal data)")],
    as_json: ViewJson = False,
) -> None:
    """Reject a request that waits for approval (the coordinator)."""
    from rotaflow.services.swap_board import reject_swap

    if not reason.strip():
        raise InputError([option_problem("--reason", "a reason", repr(reason))])
    engine = _engine()
    try:
        view = reject_swap(engine, swap_id, reason.strip())
    finally:
        engine.dispose()
    _show(view, as_json)


@swap_app.command("cancel", epilog=examples("rotaflow swap cancel 12", "rotaflow swap cancel 12 --json"))
def swap_cancel(swap_id: IdArgument, as_json: ViewJson = False) -> None:
    """Cancel a request that was not executed yet."""
    from rotaflow.services.swap_board import cancel_swap

    engine = _engine()
    try:
        view = cancel_swap(engine, swap_id)
    finally:
        engine.dispose()
    _show(view, as_json)


@swap_app.command("undo", epilog=examples("rotaflow swap undo 12", "rotaflow swap undo 12 -p bundle/ --json"))
def swap_undo(swap_id: IdArgument, program: LastProgramOption = None, as_json: ViewJson = False) -> None:
    """Undo an executed swap within program.yaml's swaps.undo_hours: publishes the shifts as they were before
    it as a new version; refused when a later version changed them or the re-check fails."""
    from rotaflow.services.swap_board import undo_swap

    engine = _engine()
    try:
        bundle = _swap_bundle(engine, swap_id, program)
        with _refusal_shown(engine, as_json=as_json):
            view = undo_swap(engine, bundle, swap_id)
    finally:
        engine.dispose()
    _show(view, as_json)


@swap_app.command(
    "list", epilog=examples("rotaflow swap list", "rotaflow swap list -p bundle/ --status approved --json")
)
def swap_list(
    program: Annotated[
        str | None, typer.Option("--program", "-p", help="bundle folder, .zip or s3://… (default: every program)")
    ] = None,
    status: Annotated[
        str | None, typer.Option("--status", help="only the requests in this state: " + ", ".join(STATE_NAMES))
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help=json_help(f"a list of requests, oldest first: {VIEW_SHAPE}"))
    ] = False,
) -> None:
    """List swap requests: their kind, state, shifts, and for refused or rejected ones why."""
    from rotaflow.db.repositories import ProgramRepository
    from rotaflow.db.session import UnitOfWork
    from rotaflow.services.swap_board import STATES, list_swaps

    if status is not None and status.strip() not in STATES:
        raise InputError([option_problem("--status", "one of " + ", ".join(STATES), status)])
    state = None if status is None else status.strip()
    keys = None if program is None else [_bundle(program).program.key]
    engine = _engine()
    try:
        if keys is None:
            with UnitOfWork(engine) as uow:
                keys = sorted(p.key for p in ProgramRepository(uow.s).all())
        views = [view for key in keys for view in list_swaps(engine, key, state=state)]
    finally:
        engine.dispose()
    if as_json:
        print_json([view.as_dict() for view in views])
        return
    if not views:
        out.print("no swap request" + ("" if state is None else f" {state}"), highlight=False)
        return
    out.print(_list_table(views, wide=out.width >= WIDE), highlight=False)


WIDE = 120
"""From this console width on, the list shows each request's block and when it was filed."""


def _what(view: SwapView) -> str:
    """The swap in a line: ``R1 2027-07-05 DAY → R2``, or ``… ⇄ R2 2027-07-09 NIGHT`` for a trade."""
    given = f"{view.person_id} {view.date.isoformat()} {view.shift_id}"
    if view.kind == "trade":
        return f"{given} ⇄ {view.with_person_id} {view.take_date} {view.take_shift_id}"
    return f"{given} → {view.with_person_id or view.accepted_by or 'anyone'}"


def _list_table(views: list[SwapView], *, wide: bool) -> Table:
    """The requests as a table that keeps ids, states and kinds whole on 80 columns (the swap and the reason
    fold); from ``WIDE`` columns on, the block and the time filed have a column each."""
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)
    for name in ("id", "state", "kind", *(("block",) if wide else ())):
        table.add_column(name, no_wrap=True)
    table.add_column("swap", overflow="fold", min_width=24)
    table.add_column("version", no_wrap=True)
    if wide:
        table.add_column("filed (UTC)", no_wrap=True)
    table.add_column("reason", overflow="fold")
    for v in views:
        made = "" if v.version is None else str(v.version)
        if v.undo_version is not None:
            made += f", undone in {v.undo_version}"
        table.add_row(
            str(v.id),
            v.state,
            v.kind,
            *((escape(v.block_id),) if wide else ()),
            escape(_what(v)),
            made,
            *((v.created_at.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M"),) if wide else ()),
            escape(v.reason or ""),
        )
    return table
