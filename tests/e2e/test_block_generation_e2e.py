"""End to end through the API: the ``block-generation`` deployment solves, validates, publishes and backs up a block.

The run is created through the Prefect API (``POST /deployments/{id}/create_flow_run``) with the
parameters overridden for the tiny program (relaxed to be solvable), picked up by the real worker
and run as its own process. Then the API must show it Completed with its subflows and artifacts,
and the outputs, the database and the quick backup must all agree on the published schedule.
"""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from tests.conftest import TINY
from tests.e2e.conftest import Stack
from tests.schedules import make_solvable

pytestmark = pytest.mark.flow

PROGRAM = "tiny-internal-medicine-residency"
RUN_TIMEOUT = 240.0  # typically 40-60 s here: process start, imports, GX suites, solve, N-1, backup


def _published(url: str, run_id: str) -> tuple[dict[str, object] | None, set[tuple[str, str, str]]]:
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            run = (
                conn.execute(
                    text("SELECT id, block_id, status, objective FROM schedule_runs WHERE id = :r"), {"r": run_id}
                )
                .mappings()
                .first()
            )
            rows = conn.execute(
                text("SELECT person_id, date, shift_id FROM assignments WHERE run_id = :r AND deleted_at IS NULL"),
                {"r": run_id},
            ).all()
    finally:
        engine.dispose()
    return (dict(run) if run else None), {(p, str(d), s) for p, d, s in rows}


def test_the_block_generation_deployment_publishes_a_block_through_the_api(stack: Stack, tmp_path: Path) -> None:
    bundle = make_solvable(Path(shutil.copytree(TINY, tmp_path / "tiny")))
    out = tmp_path / "out"
    deployment = stack.deployment("generate-block", "block-generation")
    assert deployment["entrypoint"] == "rotaflow.flows.generate:generate_block"
    assert deployment["work_pool_name"] == "rotaflow-process"
    parameters = {"program": str(bundle), "block_id": "B1", "out_dir": str(out), "time_limit_seconds": 20}

    created = stack.create_flow_run(deployment["id"], parameters)
    run_id = created["id"]
    assert created["state_type"] == "SCHEDULED"
    assert created["parameters"] == parameters
    run = stack.wait_for_state(run_id, ["COMPLETED"], RUN_TIMEOUT)
    why = stack.diagnosis(run_id)

    # run by the worker, as the deployment's run
    assert run["deployment_id"] == deployment["id"]
    assert run["work_pool_name"] == "rotaflow-process", why
    assert run["infrastructure_pid"], why

    # the pipeline's tasks and subflows all ran and completed
    tasks = {t["name"].rsplit("-", 1)[0]: t["state_type"] for t in stack.task_runs(run_id)}
    for name in ("load-program", "build-instance", "preflight", "solve", "check-rules", "publish", "export"):
        assert tasks.get(name) == "COMPLETED", (name, tasks, why)
    children = {c["flow_name"]: c for c in stack.child_runs(run_id)}
    assert set(children) == {"ingest-program", "validate-schedule", "backup"}, why
    assert {c["state_type"] for c in children.values()} == {"COMPLETED"}, why

    # its artifacts, and those of its subflows
    # the generation-summary comes in two versions (the run's progress, then its outcome): the newest wins
    artifacts = {a["key"]: a for a in sorted(stack.artifacts([run_id]), key=lambda a: a["created"])}
    assert {"generation-summary", "generation-findings", "solve-progress"} <= set(artifacts), sorted(artifacts)
    summary_md = artifacts["generation-summary"]["data"]
    assert f"# Block B1 of `{PROGRAM}`" in summary_md and str(out) in summary_md
    assert "| hard violations | 0 " in summary_md and "| published | yes, version 1 |" in summary_md
    assert float(artifacts["solve-progress"]["data"]) == pytest.approx(100.0)
    findings = json.loads(artifacts["generation-findings"]["data"])
    assert findings and {f["severity"] for f in findings} <= {"warning", "info"}
    sub = {a["key"]: a for a in stack.artifacts(c["id"] for c in children.values())}
    assert {"ingest-summary", "validation-summary", "backup"} <= set(sub), sorted(sub)
    assert "block B1: **passed**" in sub["validation-summary"]["data"]
    # out/ is not under var/runs, so the reports server cannot serve it: the report is named, not linked
    assert f"report: `{out.resolve() / 'report.html'}`" in sub["validation-summary"]["data"]
    assert "validation-report" not in sub and "file://" not in json.dumps(sub)

    # the outputs on disk
    summary = json.loads((out / "summary.json").read_text())
    assert summary["program"] == PROGRAM and summary["block_id"] == "B1"
    assert summary["status"] in {"optimal", "feasible"}
    assert summary["status"] in summary_md
    assert summary["hard_violations"] == 0 and summary["engine_check_violations"] == 0
    assert summary["published"] is True
    assert summary["validation"]["verdict"] == "passed"
    with (out / "assignments.csv").open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert rows, "the schedule is empty"
    assert all("2027-07-01" <= r["date"] <= "2027-07-28" for r in rows)
    assert {r["person_id"] for r in rows} <= {"R1", "R2", "R3", "F1"}
    with (out / "findings.csv").open(newline="", encoding="utf-8") as handle:
        checked = list(csv.DictReader(handle))  # the independent validation's findings
    assert {f["severity"] for f in checked} <= {"warning", "info"}
    assert sum(f["severity"] == "warning" for f in checked) == summary["warnings"]
    assert (out / "report.html").stat().st_size > 10_000

    # the database holds the published run and exactly the exported assignments
    stored, cells = _published(stack.live_url, summary["run_id"])
    assert stored is not None, f"schedule run {summary['run_id']} is not in the database"
    assert stored["status"] == "published" and stored["block_id"] == "B1"
    assert stored["objective"] == pytest.approx(summary["objective"])
    assert cells == {(r["person_id"], r["date"], r["shift_id"]) for r in rows}

    # and a verified quick backup secures it, with the run's outputs in it
    backup = summary["backup"]
    assert backup["tier"] == "quick" and backup["verified"] is True, backup
    assert backup["backup_id"] in sub["backup"]["data"]
    folder = Path(backup["location"]) / backup["backup_id"]
    assert folder.is_dir() and folder.is_relative_to(stack.var_dir), folder
    assert (folder / "extras" / "run" / "assignments.csv").read_bytes() == (out / "assignments.csv").read_bytes()
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["database"]["dialect"] == ("postgresql" if stack.postgres else "sqlite")
    assert manifest["tables"]["assignments"]["rows"] >= len(rows)
