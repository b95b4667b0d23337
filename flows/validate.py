"""Flow ``validate_schedule``: read the program and a schedule → the independent validators,
program rules, burnout risk and (optionally) N-1/N-2 contingency → report.html, findings.csv,
Data Docs and Prefect artifacts."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any, Literal

import pandas as pd
from prefect import flow
from prefect.events import emit_event
from prefect.states import State

from rotaflow.configs.settings import get_settings
from rotaflow.errors import InfeasibleError
from rotaflow.flows import outcome
from rotaflow.services.generate import check_out_dir
from rotaflow.services.validate import check_run_facts, validation_facts, validation_result
from rotaflow.tasks.arguments import as_is
from rotaflow.tasks.validate import load_program, publish_validation, read_schedule, run_validation, write_report

__all__ = ["validate_schedule"]


@flow(name="validate-schedule", log_prints=False, on_failure=[outcome.unreported_failure])
def validate_schedule(
    program: str,
    schedule: str,
    out_dir: str | None = None,
    block_id: str | None = None,
    contingency: Literal["none", "n1", "n2"] = "none",
    history: list[tuple[str, str, str]] | None = None,
    data_docs: bool = True,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any] | State:
    """Validate a schedule (assignments.csv of any origin) against a program's rules.

    ``history`` lists (person id, ISO date, shift id) worked before the schedule, beyond the
    bundle's history.csv. ``extra``: the generation run's facts (``GenerateResult.run_facts``). Returns the
    ``ValidateResult`` in its JSON form; the run ends Failed with it (the error's ``summary``) when a hard
    violation is found.
    """
    if out_dir is not None:  # a file or rotaflow's own data (object store, backups, var/) is bad input
        check_out_dir(out_dir, any_folder=True)
    check_run_facts(extra)  # a key that is not a generation run's fact is bad input
    loaded = load_program(program, return_state=True)
    if loaded.is_failed():
        return outcome.failed(str(loaded.message), data=loaded.result(raise_on_failure=False))
    bundle = loaded.result()
    read = read_schedule(as_is(bundle), schedule, return_state=True)
    if read.is_failed():
        return outcome.failed(str(read.message), data=read.result(raise_on_failure=False))
    frame = read.result()
    past = None
    if history:
        from rotaflow.validations.schedule import load_schedule

        rows = pd.DataFrame(history, columns=["person_id", "date", "shift_id"])
        past = load_schedule(bundle, rows, file="history")
    validation = run_validation(as_is(bundle), as_is(frame), as_is(past), block_id, None)
    if contingency != "none" and block_id is not None and not validation.hard_violations:
        # contingency asks whether a legal schedule survives losing people: it needs a legal schedule
        from rotaflow.flows.contingency import contingency_report

        validation.contingency = contingency_report(
            program, block_id, schedule=schedule, order=2 if contingency == "n2" else 1
        )
    out = out_dir or str(
        get_settings().var_dir / "validations" / f"{bundle.program.key}-{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%S}"
    )
    facts = validation_facts(bundle.program.key, Path(schedule).name, block_id, extra)
    written = write_report(out, as_is(validation), as_is(bundle), as_is(facts), data_docs)
    title = f"`{bundle.program.key}`" + (f" block {block_id}" if block_id else "")
    publish_validation(as_is(validation), written, title)
    result = validation_result(validation, facts, out)
    if validation.hard_violations:
        message = f"{validation.hard_violations} hard violation(s) found; see {out}/findings.csv"
        if extra is not None:  # a generation's or repair's own check: that run reports the failure, once
            return outcome.failed(message, data=InfeasibleError(message, summary=result.as_dict()))
        outcome.reported()
        emit_event(  # what the operator sees in the Prefect UI's event feed (counts only, no personal data)
            "rotaflow.validation.violations",
            resource={"prefect.resource.id": f"rotaflow.program.{bundle.program.key}"},
            payload={
                "block_id": block_id,
                "hard_violations": int(validation.hard_violations),
                "out_dir": str(Path(out).resolve()),
            },
        )
        return outcome.failed(message, data=InfeasibleError(message, summary=result.as_dict()))
    line = f"validated: 0 hard violations, {validation.warnings} warning(s)"
    return outcome.completed(line, data=result.as_dict())
