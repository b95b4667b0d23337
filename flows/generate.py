"""Flow ``generate_block``: ingest → preflight → solve → check → publish → export."""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path
from typing import Any, cast

from prefect import flow
from prefect.states import Cancelled, Failed, State

from configs.settings import get_settings
from constraints.registry import RULES
from db.repositories import IngestResult
from flows.ingest import ingest_program
from rotaflow import generate as service
from rotaflow.errors import InfeasibleError
from tasks.generate import (
    build_instance,
    explain_infeasibility,
    export_outputs,
    load_for_generation,
    publish,
    run_preflight,
    solve_schedule,
    validate_schedule_rules,
)

__all__ = ["generate_block"]


@flow(name="generate-block", log_prints=False)
def generate_block(
    program: str,
    block_id: str,
    out_dir: str | None = None,
    time_limit_seconds: float | None = None,
) -> dict[str, Any] | State:
    """Generate, check, publish and export the schedule of one block of a program."""
    started_at = dt.datetime.now(dt.UTC)
    run_id = str(uuid.uuid4())
    ingested = ingest_program(program, return_state=True)
    if ingested.is_failed():  # the bundle broke its contract: fail with the ingest's own error
        return Failed(message=ingested.message, data=ingested.result(raise_on_failure=False))
    stored = cast(IngestResult, ingested.result())
    bundle = load_for_generation(program)
    instance, rules = build_instance(bundle, block_id)
    settings = service.load_solver_settings(time_limit_seconds=time_limit_seconds)
    out = out_dir or str(get_settings().var_dir / "runs" / f"{bundle.program.key}-{block_id}-{run_id[:8]}")
    summary: dict[str, Any] = {
        "run_id": run_id,
        "program": bundle.program.key,
        "program_version": stored.version,
        "block_id": block_id,
        "status": "infeasible",
        "objective": None,
        "best_bound": None,
        "solve_seconds": 0.0,
        "hard_violations": 0,
        "warnings": 0,
        "rules": sorted({r.name for r in rules} & set(RULES)),
        "time_limit_seconds": settings.time_limit_seconds,
    }
    report = run_preflight(instance, rules)
    summary["preflight"] = [r.as_dict() for r in report.reasons]
    if not report.ok:
        summary["diagnosis"] = [r.as_dict() for r in report.errors]
        return _stop(out, instance, bundle, summary, "the preflight screens refused the block")
    result = solve_schedule(instance, rules, settings)
    summary.update(
        status=result.status,
        objective=result.objective,
        best_bound=result.best_bound,
        solve_seconds=round(result.seconds, 3),
        penalties=result.penalties,
    )
    if result.status == "infeasible":
        conflicts = explain_infeasibility(instance, rules, settings)
        summary["diagnosis"] = [c.as_dict() for c in conflicts]
        return _stop(out, instance, bundle, summary, "the hard rules conflict")
    if result.status == "cancelled":  # the kill switch: nothing is checked, published or exported
        return Cancelled(message=f"the run was cancelled after {result.seconds:.1f} s of solving")
    if not result.cells:
        return _stop(out, instance, bundle, summary, f"no schedule was found ({result.status})")
    findings = validate_schedule_rules(instance, rules, result)
    summary["hard_violations"] = sum(1 for f in findings if f["severity"] == "violation")
    summary["warnings"] = sum(1 for f in findings if f["severity"] == "warning")
    published = publish(bundle.program.key, stored.version, instance, result, summary, started_at)
    summary["published"] = published.inserted > 0
    export_outputs(out, instance, bundle, result, findings, summary)
    summary["out_dir"] = str(Path(out).resolve())
    if summary["hard_violations"]:
        error = InfeasibleError(f"{summary['hard_violations']} hard violation(s) found; see {out}/findings.csv")
        error.summary = summary  # type: ignore[attr-defined]
        return Failed(message=str(error), data=error)
    return summary


def _stop(out: str, instance: Any, bundle: Any, summary: dict[str, Any], why: str) -> State:
    from constraints.solve import SolveResult

    empty = SolveResult(summary["status"], None, None, summary.get("solve_seconds", 0.0), frozenset())
    export_outputs(out, instance, bundle, empty, [], summary)
    summary["out_dir"] = str(Path(out).resolve())
    error = InfeasibleError(f"{why}; see {Path(out).resolve() / 'summary.json'}")
    error.summary = summary  # type: ignore[attr-defined]
    return Failed(message=str(error), data=error)
