"""Flow ``absence_repair`` (deployment ``absence-repair``): the Prefect form for a new absence.

record the absence in the bundle folder's absences.csv → repair the block from a date (flow body
``rotaflow.flows.repair.repair``) → the diff as artifacts (``repair-changes``, ``repair-summary``) and the
event ``rotaflow.repair.needs-approval`` → the run pauses until someone approves or rejects it in the
Resume dialog → publish as the block's next version (with its quick backup), or end with the reason.

A pause nobody answers within ``approval_timeout_hours`` counts as a rejection: nothing is published.
"""

from __future__ import annotations

import csv
import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.context import FlowRunContext
from prefect.input import RunInput
from prefect.states import State
from pydantic import Field

from rotaflow.errors import InputError
from rotaflow.flows import outcome
from rotaflow.flows.decision import PAUSE_GRACE_SECONDS, ask_decision
from rotaflow.flows.repair import emit_repair_event, repair
from rotaflow.services.absences import AbsenceAdded, record_absence
from rotaflow.services.results import GenerateResult

__all__ = [
    "ACTOR",
    "APPROVAL_POLL_SECONDS",
    "PAUSE_GRACE_SECONDS",
    "RepairApproval",
    "RepairDecision",
    "absence_repair",
    "duration",
    "post_diff",
    "rejection",
]

ACTOR = "rotaflow absence-repair"
"""Who the published version says made it."""

APPROVAL_POLL_SECONDS = 10
"""How often the paused run checks for the decision."""


NO_REASON = "rejected without a reason"
DESCRIPTION_ROWS = 20
"""Change rows shown in the Resume dialog (all of them are in the repair-changes artifact and changes.csv)."""


class RepairDecision(RunInput):
    """What the approver fills in on the paused run's Resume dialog."""

    approve: bool = Field(default=False, description="switch on to publish the repair as the block's next version")
    reason: str = Field(default="", description="why the repair is rejected (asked for when approve is off)")


@flow(name="absence-repair", log_prints=False, on_failure=[outcome.unreported_failure])
def absence_repair(
    program: str,
    block_id: str,
    person_id: str,
    start_date: dt.date,
    end_date: dt.date,
    absence_type: str = "sick",
    from_date: dt.date | None = None,
    allow_churn: bool = False,
    time_limit_seconds: float | None = None,
    approval_timeout_hours: float = 72,
) -> dict[str, Any] | State:
    """Record an absence, repair the block around it, and publish the repair once someone approves it.

    The run pauses before publishing: the changes are in the run's artifacts (repair-changes, repair-summary)
    and in the Resume dialog; switch *approve* on to publish, or leave it off and give a reason to reject.

    Args:
        program: The program bundle folder whose absences.csv gets the absence (not a .zip or s3:// copy).
        block_id: The published block to repair, as in blocks.csv.
        person_id: Who is absent: a person_id of people.csv.
        start_date: The absence's first day.
        end_date: The absence's last day (the same as start_date for one day).
        absence_type: The absence type, as in absences.csv: sick, vacation, conference, parental, bereavement,
            medical, deployment or other.
        from_date: The first day the repair may change (default: today when the absence has begun, else
            tomorrow, or the block's first day when later).
        allow_churn: Accept a repair that changes more than the churn guard allows (configs/solver.yaml, repair:).
        time_limit_seconds: Seconds the solver may use (default: configs/solver.yaml).
        approval_timeout_hours: How long the run waits for a decision; no decision by then rejects the repair.

    Returns:
        summary.json's JSON form: published with ``version``, or with ``repair.rejected`` (the reason).
    """
    try:
        from_date = check_the_block(program, block_id, start_date, from_date)
        added = record_the_absence(program, person_id, start_date, end_date, absence_type)
    except InputError as exc:
        return outcome.failed(str(exc), data=exc)
    logger = get_run_logger()
    logger.info(
        "absence of %s from %s to %s %s",
        person_id,
        start_date.isoformat(),
        end_date.isoformat(),
        "recorded" if added.written else "was recorded already",
    )
    return repair(
        program,
        block_id,
        from_date=from_date,
        publish=True,
        allow_churn=allow_churn,
        time_limit_seconds=time_limit_seconds,
        approve=RepairApproval(approval_timeout_hours),
        actor=ACTOR,
    )


@task(name="check-block")
def check_the_block(program: str, block_id: str, start_date: dt.date, from_date: dt.date | None) -> dt.date | None:
    """Before anything is recorded: the block exists and has a published version (``InputError`` naming
    ``block_id``). Returns the repair date: the one given, else today when the absence has begun (today's
    shifts may still change: someone called in sick this morning), else None (the repair's default)."""
    from rotaflow.configs.settings import get_settings
    from rotaflow.errors import Problem
    from rotaflow.services.ingest import database_engine, load_bundle
    from rotaflow.services.planning import program_today
    from rotaflow.services.versions import published_version

    bundle = load_bundle(program, settings=get_settings())
    known = list(bundle.frames["blocks"]["block_id"])
    if block_id not in known:
        expected = f"a block id of blocks.csv ({', '.join(map(str, known))})"
        raise InputError([Problem("form", None, "block_id", expected, block_id)])
    if published_version(database_engine(get_settings()), bundle.program.key, block_id) is None:
        expected = "a block with a published schedule (generate it first)"
        raise InputError([Problem("form", None, "block_id", expected, f"{block_id} has no published version")])
    today = program_today(bundle.program.timezone)
    if from_date is None and start_date <= today:
        return today
    return from_date


@task(name="record-absence")
def record_the_absence(
    program: str, person_id: str, start_date: dt.date, end_date: dt.date, absence_type: str
) -> AbsenceAdded:
    """The absence appended to the bundle folder's absences.csv, blocking (``InputError``: nothing written)."""
    return record_absence(
        program, person_id=person_id, start=start_date, end=end_date, type=absence_type, blocking=True
    )


@dataclass(frozen=True)
class RepairApproval:
    """The ``approve`` hook of :func:`rotaflow.flows.repair.repair`: post the diff, announce it, pause for the
    decision. Returns None to publish, or why the repair was rejected."""

    timeout_hours: float

    def __call__(self, summary: GenerateResult, out: Path) -> str | None:
        rows = _change_rows(out / "changes.csv")
        description = post_diff(summary, out, rows)
        emit_repair_event(
            "needs-approval", summary.program, summary.block_id, changes=len(rows), flow_run_id=_flow_run_id()
        )
        decision = self._ask(description, key=f"approve-{summary.run_id[:8]}")
        if decision is None:
            reason = f"no decision within {duration(self.timeout_hours)}"
            get_run_logger().warning("the repair was not approved in time: %s", reason)
            return reason
        return rejection(decision)

    def _ask(self, description: str, *, key: str) -> RepairDecision | None:
        """Pause for the decision; None when none came within the timeout."""
        return ask_decision(
            RepairDecision,
            description,
            key=key,
            timeout_hours=self.timeout_hours,
            poll_seconds=APPROVAL_POLL_SECONDS,
        )


def rejection(decision: RepairDecision) -> str | None:
    """None when ``decision`` approves; else why it rejects (an empty reason becomes "rejected without a
    reason")."""
    if decision.approve:
        return None
    return decision.reason.strip() or NO_REASON


def duration(hours: float) -> str:
    """``hours`` in words: "72 hours", "30 minutes", "2 seconds"."""
    if hours >= 1:
        return f"{hours:g} hour{'' if hours == 1 else 's'}"
    minutes = round(hours * 60, 1)
    if minutes >= 1:
        return f"{minutes:g} minute{'' if minutes == 1 else 's'}"
    seconds = max(1, round(hours * 3600))
    return f"{seconds} second{'' if seconds == 1 else 's'}"


def post_diff(summary: GenerateResult, out: Path, rows: list[dict[str, str]]) -> str:
    """The repair's diff as the run's artifacts (``repair-changes``: changes.csv's rows; ``repair-summary``:
    the facts); returns the short markdown the Resume dialog shows. Person ids only, never names."""
    facts = summary.repair or {}
    churn = facts.get("churn") or {}
    people = sorted({r["person_id"] for r in rows})
    minimum = facts.get("min_changes_bound")
    proved = " (proved minimal)" if facts.get("proved_minimal") else ""
    lines = [
        f"## Repair of block {summary.block_id} ({summary.program})",
        "",
        f"- based on version **{summary.based_on_version}**, repaired from **{facts.get('from')}**",
        f"- **{facts.get('changes')}** change(s) to the schedule; proved minimum **{minimum}**{proved}",
        f"- {len(rows)} row(s) in changes.csv: "
        f"{sum(r['change'] == 'removed' for r in rows)} removed, {sum(r['change'] == 'added' for r in rows)} added",
        f"- people affected ({len(people)}): {', '.join(people) or 'none'}",
    ]
    if churn:
        lines.append(
            f"- churn: {churn.get('changed')} of {churn.get('remaining')} remaining assignment(s) changed "
            f"({float(churn.get('share') or 0):.0%}, limit {float(churn.get('limit_share') or 0):.0%}), "
            f"{churn.get('forced')} forced by the absence, {churn.get('added')} added"
            + ("; **over the churn guard's limits, accepted with allow_churn**" if churn.get("refused") else "")
        )
        lines += [f"  - {reason}" for reason in churn.get("reasons") or []]
    lines.append(f"- hard violations: {summary.hard_violations}; warnings: {summary.warnings}")
    files = out.resolve()
    lines += ["", f"Files: `{files}` (changes.csv, changes.html, assignments.csv, calendars/, report.html)."]
    create_markdown_artifact(
        key="repair-summary", markdown="\n".join(lines) + "\n", description=f"Repair of block {summary.block_id}"
    )
    create_table_artifact(
        key="repair-changes",
        table=rows or [{"change": "", "person_id": "", "date": "", "shift_id": ""}],
        description=f"changes.csv of the repair of block {summary.block_id}",
    )
    shown = rows[:DESCRIPTION_ROWS]
    dialog = lines[:-2] + ["", "| change | person | date | shift |", "|---|---|---|---|"]
    dialog += [f"| {r['change']} | {r['person_id']} | {r['date']} | {r['shift_id']} |" for r in shown]
    if len(rows) > len(shown):
        dialog.append(f"\n… and {len(rows) - len(shown)} more in the repair-changes artifact.")
    dialog += [
        "",
        "**Approve**: switch *approve* on and Submit: the repair is published as the block's next version.",
        "**Reject**: leave *approve* off, give a reason, Submit: nothing is published.",
    ]
    return "\n".join(dialog) + "\n"


def _change_rows(path: Path) -> list[dict[str, str]]:
    if not path.is_file():
        return []
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _flow_run_id() -> str | None:
    context = FlowRunContext.get()
    return str(context.flow_run.id) if context and context.flow_run else None
