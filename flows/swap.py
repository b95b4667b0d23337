"""Flow ``shift_swap`` (deployment ``shift-swap``): the Prefect form for a shift swap.

file the request (checked against every hard rule at once; an illegal one fails the run) or take an existing
one (``swap_id``) → when the partner accepts in the same form (``accepted_by``): with the program's
``swaps.approval`` "none" the acceptance executes the swap; with "coordinator" the request is posted as an
artifact (``swap-request``), the event ``rotaflow.swap.needs-approval`` goes out and the run pauses until a
coordinator approves (the swap executes: the rules are checked again on the schedule as it is then) or rejects
it in the Resume dialog. Without ``accepted_by`` the run ends with the request waiting for its partner.

A pause nobody answers within ``approval_timeout_hours`` rejects the swap. A request decided elsewhere while
the run waits (approved, rejected or cancelled from the command line, or expired) ends the run Completed with
the request as it is then, with no approved or rejected event. The bundle at ``program`` must be the one last
ingested (``require_ingested``): an edited copy fails the run. Events (``rotaflow.swap.<what>`` on
``rotaflow.program.<key>``, ids and rule names only): needs-approval, approved, executed, rejected, failed.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE
from prefect.context import FlowRunContext
from prefect.events import emit_event
from prefect.input import RunInput
from prefect.states import State
from pydantic import Field

from rotaflow.configs.settings import get_settings
from rotaflow.db.session import Engine
from rotaflow.errors import InputError, Problem
from rotaflow.flows import outcome
from rotaflow.flows.absence_repair import duration
from rotaflow.flows.decision import ask_decision
from rotaflow.services.ingest import database_engine, load_bundle, require_ingested
from rotaflow.services.swap_board import (
    SwapRefused,
    SwapView,
    accept_swap,
    approve_swap,
    get_swap,
    program_of,
    reject_swap,
    request_swap,
)
from rotaflow.services.swaps import SwapSpec
from rotaflow.validations.bundle import Bundle

__all__ = [
    "APPROVAL_POLL_SECONDS",
    "NO_REASON",
    "SwapDecision",
    "describe",
    "emit_swap_event",
    "rejection",
    "shift_swap",
]

APPROVAL_POLL_SECONDS = 10
"""How often the paused run checks for the coordinator's decision."""

NO_REASON = "rejected without a reason"


class SwapDecision(RunInput):
    """What the coordinator fills in on the paused run's Resume dialog."""

    approve: bool = Field(
        default=False, description="switch on to execute the swap (the rules are checked again on the schedule first)"
    )
    reason: str = Field(default="", description="why the swap is rejected (asked for when approve is off)")


@flow(name="shift-swap", log_prints=False, on_failure=[outcome.unreported_failure])
def shift_swap(
    program: str,
    person_id: str,
    date: dt.date,
    shift_id: str,
    with_person_id: str | None = None,
    take_date: dt.date | None = None,
    take_shift_id: str | None = None,
    note: str | None = None,
    accepted_by: str | None = None,
    swap_id: int | None = None,
    approval_timeout_hours: float = 72,
) -> dict[str, Any] | State:
    """File a shift swap (or act on one filed before), let its partner accept it, and have it approved.

    The request is checked against every hard rule of the program as if executed; an illegal one fails the run
    with the rules that forbid it. When the program wants a coordinator's approval, the run pauses once the swap
    is accepted: switch *approve* on to execute it, or leave it off and give a reason to reject it.

    Args:
        program: The program bundle: a folder, a .zip or an s3://bucket/prefix (ingested as it is now, with
            the block of ``date`` published).
        person_id: Who gives the shift away: a person_id of people.csv.
        date: The day of the shift given away.
        shift_id: The shift given away, as in shifts.csv.
        with_person_id: The partner who takes it (a give-away, or a trade with take_date and take_shift_id);
            empty for an open offer anyone the rules allow may take.
        take_date: For a trade: the day of the partner's shift taken back.
        take_shift_id: For a trade: the partner's shift taken back.
        note: A note kept with the request (shown to the people involved, never in events or artifacts).
        accepted_by: Who accepts the swap now: the partner, when both fill the form in together, or whoever
            takes an open offer; empty to leave the request waiting for its partner.
        swap_id: Act on a request filed before (its id in `rotaflow swap list`) instead of filing a new one;
            person_id, date and shift_id must be that request's.
        approval_timeout_hours: How long the run waits for the coordinator's decision; no decision by then
            rejects the swap.

    Returns:
        The request as `rotaflow swap list --json` prints it (its id, state, the version its execution made).
    """
    spec = SwapSpec(person_id, date, shift_id, with_person_id, take_date, take_shift_id)
    settings = get_settings()
    try:
        bundle = load_bundle(program, settings=settings)
    except InputError as exc:
        return outcome.failed(str(exc), data=exc)
    key = bundle.program.key
    engine = database_engine(settings)
    logger = get_run_logger()
    view: SwapView | None = None
    try:
        require_ingested(engine, bundle, program, file="form", column="program")
        if swap_id is None:
            view = file_request(engine, bundle, spec, note)
            logger.info("swap request %s filed (%s, block %s): %s", view.id, view.kind, view.block_id, view.state)
        else:
            view = existing_request(engine, bundle, swap_id, spec)
        if accepted_by is not None:
            view = accept(engine, bundle, view.id, accepted_by)
            logger.info("swap request %s accepted by %s: %s", view.id, accepted_by, view.state)
            if view.state == "executed":
                emit_swap_event("executed", key, **_ids(view))
        if view.state == "accepted" and bundle.program.swaps.approval == "coordinator":
            view = _decide(engine, bundle, view, approval_timeout_hours)
    except SwapRefused as exc:
        rules = sorted({str(f.get("rule")) for f in exc.findings if f.get("rule")})
        ids = _ids(view) if view is not None else {"person_id": person_id, "with_person_id": with_person_id}
        # the request acted on, or the one request_swap recorded as refused
        swap = view.id if view is not None else exc.swap_id
        emit_swap_event("failed", key, **{**ids, "swap_id": swap}, rules=rules)
        return outcome.failed(str(exc), data=exc)
    except InputError as exc:
        return outcome.failed(str(exc), data=exc)
    finally:
        engine.dispose()
    line = f"swap request {view.id} ({view.kind}, block {view.block_id}): {view.state}"
    if view.version is not None and view.state == "executed":
        line += f" as version {view.version}"
    if view.state in {"requested", "accepted"}:
        line += ", waiting"
    return outcome.completed(line, data=view.as_dict())


# --------------------------------------------------------------------------- the steps


@task(name="file-request", cache_policy=NO_CACHE)
def file_request(engine: Engine, bundle: Bundle, spec: SwapSpec, note: str | None) -> SwapView:
    """The request checked against the hard rules and recorded (``SwapRefused`` when illegal: recorded as
    refused)."""
    return request_swap(engine, bundle, spec, note=note)


@task(name="find-request", cache_policy=NO_CACHE)
def existing_request(engine: Engine, bundle: Bundle, swap_id: int, spec: SwapSpec) -> SwapView:
    """The request ``swap_id`` of this program, for the shift the form names (``InputError`` naming swap_id)."""
    view = get_swap(engine, swap_id)
    key, _source = program_of(engine, swap_id)
    if key != bundle.program.key:
        expected = f"a swap request of program {bundle.program.key}"
        raise InputError([Problem("form", None, "swap_id", expected, f"request {swap_id} is of program {key}")])
    given = (spec.person_id, spec.date, spec.shift_id)
    if (view.person_id, view.date, view.shift_id) != given:
        expected = "the request of the person_id, date and shift_id in the form"
        got = f"request {swap_id} gives {view.shift_id} on {view.date.isoformat()} of {view.person_id}"
        raise InputError([Problem("form", None, "swap_id", expected, got)])
    return view


@task(name="accept", cache_policy=NO_CACHE)
def accept(engine: Engine, bundle: Bundle, swap_id: int, by: str) -> SwapView:
    """The partner (or the taker of an open offer) accepts; with approval "none" this executes the swap."""
    return accept_swap(engine, bundle, swap_id, by)


def _decide(engine: Engine, bundle: Bundle, view: SwapView, timeout_hours: float) -> SwapView:
    """Post the request, announce it, pause for the coordinator; then execute or reject it."""
    key = bundle.program.key
    description = describe(view)
    create_markdown_artifact(
        key="swap-request", markdown=description, description=f"Swap request {view.id} ({view.kind})"
    )
    emit_swap_event("needs-approval", key, **_ids(view), flow_run_id=_flow_run_id())
    decision = ask(description + _DIALOG, key=f"approve-swap-{view.id}", timeout_hours=timeout_hours)
    logger = get_run_logger()
    # the request may have been decided elsewhere while the run waited (`rotaflow swap approve/reject/cancel`)
    handled = _handled_elsewhere(engine, view.id)
    if handled is not None:
        return handled
    reason: str | None
    if decision is None:
        reason = f"no decision within {duration(timeout_hours)}"
        logger.warning("swap request %s was not approved in time: %s", view.id, reason)
    else:
        reason = rejection(decision)
    try:
        done = reject_swap(engine, view.id, reason) if reason is not None else approve_swap(engine, bundle, view.id)
    except InputError:
        # decided meanwhile, or expired (its shift started, or its day passed): the board has said so
        handled = _handled_elsewhere(engine, view.id)
        if handled is None:
            raise
        return handled
    if reason is not None:
        emit_swap_event("rejected", key, **_ids(done), timed_out=decision is None)
        logger.info("swap request %s rejected", view.id)
    else:
        emit_swap_event("approved", key, **_ids(done))
        logger.info("swap request %s approved: version %s of block %s", view.id, done.version, done.block_id)
    return done


def _handled_elsewhere(engine: Engine, swap_id: int) -> SwapView | None:
    """The request as it is now when it no longer waits for this run's decision (cancelled, rejected, approved
    or executed from the command line, or expired), logged by id and state; None while it is still accepted."""
    now = get_swap(engine, swap_id)
    if now.state == "accepted":
        return None
    get_run_logger().info("swap request %s is %s: decided while this run waited; nothing done here", swap_id, now.state)
    return now


_DIALOG = (
    "\n**Approve**: switch *approve* on and Submit: the rules are checked again on the schedule as it is now and "
    "the swap is published as the block's next version.\n"
    "**Reject**: leave *approve* off, give a reason, Submit: nothing changes.\n"
)


def describe(view: SwapView) -> str:
    """The request in markdown: who gives what to whom, the kind, the block. Person ids only, never names, and
    never the free-text note."""
    gives = f"**{view.person_id}** gives **{view.shift_id}** on **{view.date.isoformat()}**"
    if view.kind == "trade":
        what = f"{gives} to **{view.with_person_id}** and takes **{view.take_shift_id}** on **{view.take_date}**"
    elif view.kind == "giveaway":
        what = f"{gives} to **{view.with_person_id}**"
    else:
        what = f"{gives} to whoever takes the open offer: **{view.accepted_by or 'nobody yet'}**"
    lines = [
        f"## Swap request {view.id}: {view.kind} in block {view.block_id}",
        "",
        f"- {what}",
        f"- state: **{view.state}**" + (f", accepted by **{view.accepted_by}**" if view.accepted_by else ""),
        f"- filed {view.created_at.isoformat(timespec='minutes')}",
    ]
    return "\n".join(lines) + "\n"


def rejection(decision: SwapDecision) -> str | None:
    """None when ``decision`` approves; else why it rejects (an empty reason becomes "rejected without a
    reason")."""
    if decision.approve:
        return None
    return decision.reason.strip() or NO_REASON


def ask(description: str, *, key: str, timeout_hours: float) -> SwapDecision | None:
    """Pause for the coordinator's decision; None when none came within the timeout."""
    return ask_decision(
        SwapDecision, description, key=key, timeout_hours=timeout_hours, poll_seconds=APPROVAL_POLL_SECONDS
    )


# --------------------------------------------------------------------------- events


def emit_swap_event(what: str, program_key: str, **details: Any) -> None:
    """Event ``rotaflow.swap.<what>`` (needs-approval, approved, executed, rejected, failed) on
    ``rotaflow.program.<key>``; ids and rule names only (never a note or a rejection's free text)."""
    if what == "failed":
        outcome.reported()
    emit_event(
        f"rotaflow.swap.{what}",
        resource={"prefect.resource.id": f"rotaflow.program.{program_key}", "prefect.resource.name": program_key},
        payload=details,
    )


def _ids(view: SwapView) -> dict[str, Any]:
    return {
        "swap_id": view.id,
        "kind": view.kind,
        "block_id": view.block_id,
        "person_id": view.person_id,
        "with_person_id": view.with_person_id or view.accepted_by,
        "version": view.version,
    }


def _flow_run_id() -> str | None:
    context = FlowRunContext.get()
    return str(context.flow_run.id) if context and context.flow_run else None
